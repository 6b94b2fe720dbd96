/**
 * Operator scenarios (issue 8 "Done when"; resource monitoring of job pods, issue 22), through @kubernetes/client-node over HTTP against
 * the API-server fake with its simulated kubelet, or a real cluster (TORC_K8S_REAL=1).
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import { OPERATOR_API_CALLS } from '../../src/runners/k8s/api-calls.js';
import { REPO_ROOT, waitFor } from '../support/k8s/cluster.js';
import { WF, WorkflowClient, diamondSpec, startOperator, tempDb } from '../support/k8s/operator-harness.js';
import { allowed, grantsFor, loadManifests } from '../support/k8s/rbac.js';
import { Store } from '../../src/store/index.js';
import { LABEL_JOB_ID } from '../../src/runners/k8s/pods.js';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { PodMetricsHook } from '../../src/runners/k8s/pod-metrics.js';
import { OPERATOR_USER, REAL, openCluster, type TestCluster } from '../support/k8s/target.js';

/** Scenarios that need the fake's hooks (known nodes, OOM kill, forced 410, request log) are skipped on a real cluster. */
const fakeOnly = REAL ? test.serial.skip : test.serial;

/** Every (group, resource, verb) the operator was seen calling, over all scenarios. */
const seenCalls = new Set<string>();
const callKey = (c: { group: string; resource: string; verb: string }) => `${c.verb} ${c.resource}.${c.group}`;

function recordCalls(c: TestCluster): void {
  for (const r of c.fake?.server.requests ?? []) if (r.user?.startsWith(OPERATOR_USER) && r.resource && r.code < 400) seenCalls.add(callKey(r));
}

/** openCluster, remembering the operator's calls for the final RBAC check. */
async function cluster(t: Parameters<typeof openCluster>[0], opts: Parameters<typeof openCluster>[1]): Promise<TestCluster> {
  const c = await openCluster(t, opts);
  t.teardown(() => recordCalls(c));
  return c;
}

const NODES = [
  { name: 'cpu-1', cpu: 4, memory: '8Gi' },
  { name: 'cpu-2', cpu: '3500m', memory: '8Gi' },
];

test.serial('the diamond runs to Succeeded with right counts and conditions; RBAC covers every call made', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  const db = tempDb(t);
  const op = await startOperator(t, c, db);
  const wf = new WorkflowClient(c.kc, c.namespace);
  const created = await wf.apply('diamond', diamondSpec());
  const done = await wf.waitForPhase('diamond', ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Succeeded');
  t.like(done.status, { total: 4, done: 4, observedGeneration: created.metadata.generation });
  t.is(done.status?.counts?.completed, 4);
  const cond = Object.fromEntries((done.status?.conditions ?? []).map((x) => [x.type, x.status]));
  t.like(cond, { Initialized: 'True', Complete: 'True', Failed: 'False', Progressing: 'False' });
  t.truthy(done.status?.completionTime);
  t.true((done.metadata.finalizers ?? []).includes('torc.dev/cleanup'));
  const pods = await wf.pods();
  t.is(pods.length, 4);
  t.true(pods.every((p) => p.status?.phase === 'Succeeded'));
  const events = await wf.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=diamond' });
  t.true(events.items.some((e) => e.reason === 'WorkflowSucceeded'));

  if (c.fake) {
    // Idle now: more reconciles (resyncs), no more status writes (patched only when it changed).
    const statusPatches = () => c.fake!.server.calls({ resource: 'workflows/status', verb: 'patch' }).length;
    const before = statusPatches();
    const reconciles = () => op.loop!.reconcileCount(`${c.namespace}/diamond`);
    const seen = reconciles();
    await waitFor(() => reconciles() >= seen + 2, 'two more reconciles', 60_000);
    t.is(statusPatches(), before);
    t.deepEqual(c.fake.kubelet.rejections, [], 'no pod was ever rejected for lack of room');
    // Every call the operator made is declared, and the deploy/ RBAC allows it.
    const grants = grantsFor(loadManifests().map((m) => m.doc), { name: 'torc-operator', namespace: 'torc-system' });
    const calls = c.fake.server.requests.filter((r) => r.user?.startsWith(OPERATOR_USER) && r.resource && r.code < 500);
    t.true(calls.length > 10);
    for (const r of calls) {
      const declared = OPERATOR_API_CALLS.some((d) => d.group === r.group && d.resource === r.resource && d.verb === r.verb);
      t.true(declared, `undeclared call ${r.verb} ${r.resource} (${r.path})`);
      t.true(allowed(grants, { ...r, namespace: r.namespace }), `not allowed by RBAC: ${r.verb} ${r.resource}`);
    }
  }
});

const sleepJobs = (prefix: string, n: number, seconds: number, rr: string) =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, command: `sleep ${seconds}`, resource_requirements: rr }));

/** Pod creations the operator(s) made that the API server accepted. */
const podCreates = (c: TestCluster) =>
  c.fake!.server.requests.filter((r) => r.user?.startsWith(OPERATOR_USER) && r.resource === 'pods' && r.verb === 'create' && r.code === 201);

fakeOnly('GPU jobs land only where nvidia.com/gpu is free; no node is ever over-committed', async (t) => {
  const c = await cluster(t, {
    nodes: [
      { name: 'gpu-1', cpu: 4, memory: '16Gi', gpus: 2 },
      { name: 'cpu-1', cpu: 4, memory: '8Gi' },
      { name: 'cpu-2', cpu: '1500m', memory: '4Gi' },
    ],
  });
  const fake = c.fake!;
  const wf = new WorkflowClient(c.kc, c.namespace);
  // Someone else's pod already holds one of gpu-1's two GPUs and a core.
  await wf.core.createNamespacedPod({
    namespace: c.namespace,
    body: {
      metadata: { name: 'foreign-gpu-user' },
      spec: {
        restartPolicy: 'Never', nodeName: 'gpu-1',
        containers: [{ name: 'c', image: 'cuda:12', command: ['/bin/sh', '-c', 'sleep 120'], resources: { limits: { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '1' } } }],
      },
    },
  });
  await startOperator(t, c, tempDb(t));
  await wf.apply('mixed', {
    name: 'mixed',
    resource_requirements: [
      { name: 'gpu', num_cpus: 1, num_gpus: 1, memory: '2g', runtime: 'PT5M' },
      { name: 'cpu', num_cpus: 1, memory: '1g', runtime: 'PT5M' },
    ],
    jobs: [...sleepJobs('train', 4, 0.3, 'gpu'), ...sleepJobs('prep', 10, 0.3, 'cpu')],
  });
  const done = await wf.waitForPhase('mixed', ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Succeeded');
  const pods = (await wf.pods()).filter((p) => p.metadata?.name !== 'foreign-gpu-user');
  t.is(pods.length, 14);
  for (const p of pods) {
    const gpus = p.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu'];
    if (p.metadata?.name?.includes('train')) {
      t.is(gpus, '1');
      t.is(p.spec?.nodeName, 'gpu-1', `${p.metadata?.name} on a GPU node`);
    } else t.is(gpus, undefined);
  }
  t.deepEqual(fake.kubelet.rejections, []);
  const gib = 1024 ** 3;
  const limits: Record<string, { cpu: number; memory: number; gpu: number }> = {
    'gpu-1': { cpu: 4, memory: 16 * gib, gpu: 2 }, 'cpu-1': { cpu: 4, memory: 8 * gib, gpu: 0 }, 'cpu-2': { cpu: 1.5, memory: 4 * gib, gpu: 0 },
  };
  for (const [node, peak] of fake.kubelet.peak) {
    const max = limits[node]!;
    t.true(peak.cpu <= max.cpu && peak.memory <= max.memory && peak.gpu <= max.gpu, `${node}: peak ${JSON.stringify(peak)}`);
  }
  t.is(fake.kubelet.peak.get('gpu-1')?.gpu, 2, 'the one free GPU was used, never a second');
});

fakeOnly('failures: exit code and OOMKilled (→ 137) reach the store; the workflow ends Failed', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  const fake = c.fake!;
  const db = tempDb(t);
  await startOperator(t, c, db);
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('fails', {
    name: 'fails',
    jobs: [{ name: 'exit3', command: 'exit 3' }, { name: 'hog', command: 'sleep 60' }, { name: 'fine', command: 'true' }],
  });
  const hog = await waitFor(async () => (await wf.pods()).find((p) => p.metadata?.name?.includes('hog') && p.status?.phase === 'Running'), 'the hog to run');
  t.true(fake.kubelet.oomKill(c.namespace, hog.metadata!.name!));
  const done = await wf.waitForPhase('fails', ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Failed');
  t.like(done.status?.counts, { completed: 1, failed: 2 });
  const store = await Store.open(db);
  t.teardown(() => store.close());
  const [rec] = await store.findWorkflowsByK8sName(c.namespace, 'fails');
  const results = (await store.listResults(rec!.id)).items;
  const jobs = new Map((await store.listJobs(rec!.id)).items.map((j) => [j.id, j.name]));
  const rc = Object.fromEntries(results.map((r) => [jobs.get(r.job_id), r.return_code]));
  t.deepEqual(rc, { exit3: 3, hog: 137, fine: 0 });
  const events = await wf.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=fails' });
  t.true(events.items.some((e) => e.reason === 'JobOOMKilled'));
});

test.serial('deleting the Workflow stops its pods and cleans the store', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  const db = tempDb(t);
  await startOperator(t, c, db);
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('doomed', { name: 'doomed', jobs: sleepJobs('long', 3, 120, 'default').map(({ resource_requirements: _r, ...j }) => j) });
  await waitFor(async () => (await wf.pods()).filter((p) => p.status?.phase === 'Running').length === 3, 'three running pods');
  const store = await Store.open(db);
  t.teardown(() => store.close());
  t.is((await store.findWorkflowsByK8sName(c.namespace, 'doomed')).length, 1);
  await wf.delete('doomed');
  await waitFor(async () => {
    try {
      await wf.get('doomed');
      return false;
    } catch {
      return true;
    }
  }, 'the Workflow to be gone', 90_000);
  // A real kubelet gives each pod its termination grace period.
  await waitFor(async () => (await wf.pods()).length === 0, 'its pods to be gone', 90_000);
  t.deepEqual(await store.findWorkflowsByK8sName(c.namespace, 'doomed'), []);
  if (c.fake) t.deepEqual(c.fake.kubelet.runningPods(), []);
});

test.serial('an edited spec is applied (new generation): changed jobs run again, status follows', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  await startOperator(t, c, tempDb(t));
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('edited', diamondSpec({ name: 'edited' }));
  const first = await wf.waitForPhase('edited', 'Succeeded');
  t.is(first.metadata.generation, 1);
  const spec = diamondSpec({ name: 'edited' });
  (spec.jobs as { name: string; command: string }[])[3]!.command = 'echo post again';
  await wf.custom.patchNamespacedCustomObject({ ...WF, namespace: c.namespace, name: 'edited', body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  const second = await wf.waitForPhase('edited', 'Succeeded');
  t.is(second.metadata.generation, 2);
  t.is(second.status?.observedGeneration, 2);
  t.is(second.status?.counts?.completed, 4);
  const post = (await wf.pods()).filter((p) => p.metadata?.annotations?.['torc.dev/job-name'] === 'postprocess');
  t.is(post.length, 1, 'the previous run\'s pod was cleared away for the new one');
  t.is(post[0]?.spec?.containers[0]?.command?.[2], 'echo post again');
  if (c.fake) {
    const starts = (job: string) => c.fake!.kubelet.started.filter((k) => k.endsWith(`/edited-${job}-1`)).length;
    t.is(starts('postprocess'), 2, 'the changed job ran again');
    t.is(starts('preprocess'), 1, 'unchanged completed jobs were kept, not re-run');
  }
});

test.serial('a canceled workflow stops its running pods and ends Canceled', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  const db = tempDb(t);
  await startOperator(t, c, db);
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('cancel-me', { name: 'cancel-me', jobs: [{ name: 'long', command: 'sleep 120' }, { name: 'after', command: 'true', depends_on: ['long'] }] });
  const store = await Store.open(db);
  t.teardown(() => store.close());
  const rec = await waitFor(async () => (await store.findWorkflowsByK8sName(c.namespace, 'cancel-me'))[0], 'the workflow in the store');
  // Running in the store (not only the pod): a pending job would simply be canceled.
  await waitFor(async () => (await store.listJobs(rec.id, { name: 'long' })).items[0]?.status === 'running', 'the long job to run');
  await store.cancelWorkflow(rec.id);
  const done = await wf.waitForPhase('cancel-me', 'Canceled');
  t.is(done.status?.counts?.running, 0);
  await waitFor(async () => (await wf.pods()).every((p) => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded' || p.metadata?.deletionTimestamp) || (await wf.pods()).length === 0, 'the pod to stop', 90_000);
  const long = (await store.listJobs(rec.id, { name: 'long' })).items[0]!;
  t.is(long.status, 'terminated', 'the running job ended terminated');
});

test.serial('a spec the schema accepts but the planner refuses: status Failed with SpecValid=False and a Warning event', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  await startOperator(t, c, tempDb(t));
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('broken', { name: 'broken', jobs: [{ name: 'a', command: 'true', depends_on: ['ghost'] }] });
  const done = await wf.waitForPhase('broken', 'Failed');
  const cond = done.status?.conditions?.find((x) => x.type === 'SpecValid');
  t.is(cond?.status, 'False');
  t.regex(cond?.message ?? '', /ghost/);
  const events = await wf.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=broken' });
  t.true(events.items.some((e) => e.reason === 'InvalidSpec' && e.type === 'Warning'));
  t.deepEqual(await wf.pods(), []);
});

test.serial('jobs exchanging files with no shared volume: refused up front (Failed, SharedStorage=False, a NoSharedStorage event), nothing run or stored', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  const db = tempDb(t);
  await startOperator(t, c, db);
  const doc = YAML.parse(readFileSync(join(REPO_ROOT, 'examples/diamond.yaml'), 'utf8'));
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.custom.createNamespacedCustomObject({ ...WF, namespace: c.namespace, body: doc });
  const done = await wf.waitForPhase('diamond', 'Failed');
  const cond = done.status?.conditions?.find((x) => x.type === 'SharedStorage');
  t.like(cond, { status: 'False', reason: 'NoSharedStorage' });
  t.regex(cond?.message ?? '', /work1 reads f2 \(output\/diamond\/f2\.txt\) written by preprocess/);
  t.regex(cond?.message ?? '', /--work-pvc/);
  const events = await wf.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=diamond' });
  t.true(events.items.some((e) => e.reason === 'NoSharedStorage' && e.type === 'Warning' && /jobs exchange files/.test(e.message ?? '')));
  t.deepEqual(await wf.pods(), [], 'no job ran');
  const store = await Store.open(db);
  t.teardown(() => store.close());
  t.deepEqual(await store.findWorkflowsByK8sName(c.namespace, 'diamond'), [], 'nothing stored');
});

function assertNoDuplicatePods(t: { is: (a: unknown, b: unknown, m?: string) => void; deepEqual: (a: unknown, b: unknown, m?: string) => void }, pods: V1Pod[], jobs: number) {
  t.is(pods.length, jobs, 'one pod per job');
  const ids = pods.map((p) => p.metadata?.labels?.[LABEL_JOB_ID]);
  t.is(new Set(ids).size, jobs, 'no job has two pods');
}

fakeOnly('watch 410 Gone → relist, without duplicate pods', async (t) => {
  const c = await cluster(t, { nodes: [{ name: 'small', cpu: 2, memory: '4Gi' }] });
  const fake = c.fake!;
  await startOperator(t, c, tempDb(t));
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('waves', { name: 'waves', jobs: Array.from({ length: 8 }, (_, i) => ({ name: `j${i}`, command: 'sleep 0.4' })) });
  const lists = () => c.fake!.server.requests.filter((r) => r.user?.startsWith(OPERATOR_USER) && r.verb === 'list').length;
  const before = lists();
  for (let i = 0; i < 3; i++) {
    await waitFor(async () => (await wf.pods()).length > i * 2, `wave ${i}`);
    fake.server.expireWatches();
  }
  const done = await wf.waitForPhase('waves', ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Succeeded');
  t.true(lists() >= before + 3, 'the informers relisted');
  assertNoDuplicatePods(t, await wf.pods(), 8);
  t.is(podCreates(c).length, 8);
  t.deepEqual(fake.kubelet.rejections, []);
});

test.serial('operator restart mid-run: the new process adopts running pods, no duplicates', async (t) => {
  const c = await cluster(t, { nodes: [{ name: 'small', cpu: 2, memory: '4Gi' }] });
  const db = tempDb(t);
  const first = await startOperator(t, c, db, { identity: 'first' });
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('restart', { name: 'restart', jobs: Array.from({ length: 6 }, (_, i) => ({ name: `j${i}`, command: 'sleep 1' })) });
  await waitFor(async () => (await wf.pods()).some((p) => p.status?.phase === 'Running'), 'the first pods to run');
  // A crash: no lease release, no store cleanup; its pods keep running.
  await first.stop({ release: false });
  await startOperator(t, c, db, { identity: 'second' });
  const done = await wf.waitForPhase('restart', ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Succeeded');
  t.is(done.status?.counts?.completed, 6);
  assertNoDuplicatePods(t, await wf.pods(), 6);
  if (c.fake) {
    t.is(new Set(c.fake.kubelet.started).size, c.fake.kubelet.started.length, 'no pod started twice');
    t.is(c.fake.kubelet.started.length, 6);
  }
});

test.serial('two operators with leader election: only the leader creates pods; the other takes over', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  const db = tempDb(t);
  // A lease far longer than any stall of a busy machine, so op-a never loses it mid-run by
  // accident; the takeover below does not wait for it to expire: a.stop() releases it.
  const le = { namespace: c.namespace, leaseDurationSeconds: 60, renewDeadlineSeconds: 45, retryPeriodSeconds: 0.2 };
  const a = await startOperator(t, c, db, { identity: 'op-a', leaderElection: le });
  await waitFor(() => a.isLeader, 'op-a to lead');
  const b = await startOperator(t, c, db, { identity: 'op-b', leaderElection: le });
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('first', diamondSpec({ name: 'first' }));
  t.is((await wf.waitForPhase('first', ['Succeeded', 'Failed'])).status?.phase, 'Succeeded');
  t.false(b.isLeader);
  if (c.fake) {
    const writers = new Set(c.fake.server.requests.filter((r) => r.user?.startsWith(OPERATOR_USER) && r.resource !== 'leases' && r.verb !== 'get')
      .map((r) => r.user));
    t.deepEqual([...writers], [`${OPERATOR_USER}#op-a`], 'the follower made no calls besides the lease');
  }
  await a.stop();
  await waitFor(() => b.isLeader, 'op-b to take over');
  await wf.apply('second', diamondSpec({ name: 'second' }));
  t.is((await wf.waitForPhase('second', ['Succeeded', 'Failed'])).status?.phase, 'Succeeded');
  if (c.fake) t.true(podCreates(c).filter((r) => r.user === `${OPERATOR_USER}#op-b`).length === 4);
});

fakeOnly('examples/diamond.yaml as is: jobs share files through the work volume', async (t) => {
  const c = await cluster(t, { nodes: NODES });
  const fake = c.fake!;
  await startOperator(t, c, tempDb(t), { workVolume: { claimName: 'torc-work', mountPath: '/work' } });
  // The claim the operator mounts, as deploy/jobs/work-pvc.yaml creates it (pods wait for it).
  const pvc = YAML.parse(readFileSync(join(REPO_ROOT, 'deploy/jobs/work-pvc.yaml'), 'utf8'));
  await c.fake!.server.store.create(c.fake!.type('persistentvolumeclaims'), c.namespace, pvc);
  const doc = YAML.parse(readFileSync(join(REPO_ROOT, 'examples/diamond.yaml'), 'utf8'));
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.custom.createNamespacedCustomObject({ ...WF, namespace: c.namespace, body: doc });
  const done = await wf.waitForPhase(doc.metadata.name, ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Succeeded');
  t.is(done.status?.counts?.completed, done.status?.total);
  const out = join(fake.kubelet.volumeDir(c.namespace, 'torc-work'), 'output/diamond/f6.txt');
  t.true(existsSync(out), 'the last job wrote its output where the first ones wrote theirs');
  const pods = await wf.pods();
  t.true(pods.every((p) => p.spec?.containers[0]?.workingDir === '/work'));
});

// Resource monitoring (issue 22): the operator hook in src/runners/k8s/pod-metrics.ts.
const HOG = fileURLToPath(new URL('../fixtures/monitor/hog.mjs', import.meta.url));
const MIB = 1024 ** 2;

fakeOnly('job pods are measured from the kubelet stats summary: summary with the result, time series in the store; an OOM kill is likely_oom', async (t) => {
  t.timeout(180_000);
  const c = await cluster(t, { nodes: [{ name: 'node-1', cpu: 4, memory: '8Gi' }] });
  const fake = c.fake!;
  const db = tempDb(t);
  const hook = new PodMetricsHook(c.operatorKc().makeApiClient(CoreV1Api));
  await startOperator(t, c, db, { hooks: [hook] });
  const dir = mkdtempSync(join(tmpdir(), 'torc-k8s-monitor-'));
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('measured', {
    name: 'measured',
    resource_monitor: { granularity: 'time_series', sample_interval_seconds: 1 },
    resource_requirements: [{ name: 'mem', num_cpus: 1, memory: '512m', runtime: 'PT10M' }],
    jobs: [
      { name: 'hog', command: `node ${HOG} --mb 150 --ready-file ${dir}/ready --wait-file ${dir}/go --report ${dir}/hog.json`, resource_requirements: 'mem' },
      { name: 'victim', command: 'exec sleep 600', resource_requirements: 'mem' },
    ],
  });
  const store = await Store.open(db);
  t.teardown(() => store.close());
  const [rec] = await waitFor(async () => {
    const found = await store.findWorkflowsByK8sName(c.namespace, 'measured');
    return found.length > 0 ? found : null;
  }, 'the workflow in the store');
  const jobId = async (name: string) => (await store.listJobs(rec!.id, { name })).items[0]!.id;
  // Seen by the operator's sampler with its memory held, then it may finish.
  await waitFor(() => existsSync(`${dir}/ready`), 'the hog allocated', 60_000);
  const hogId = await jobId('hog');
  await waitFor(async () => (await store.listResourceSamples(rec!.id, { job_id: hogId, limit: 1000 })).items.some((s) => s.memory_bytes >= 150 * MIB), 'a sample of the hog holding its memory', 60_000);
  writeFileSync(`${dir}/go`, '');
  const victim = await waitFor(async () => (await wf.pods()).find((p) => p.metadata?.name?.includes('victim') && p.status?.phase === 'Running'), 'the victim to run');
  const victimId = await jobId('victim');
  await waitFor(async () => (await store.listResourceSamples(rec!.id, { job_id: victimId })).total > 0, 'a sample of the victim', 60_000);
  t.true(fake.kubelet.oomKill(c.namespace, victim.metadata!.name!));
  const done = await wf.waitForPhase('measured', ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Failed');

  const results = new Map((await store.listResults(rec!.id)).items.map((r) => [r.job_id, r]));
  const hog = results.get(hogId)!;
  const truth = (JSON.parse(readFileSync(`${dir}/hog.json`, 'utf8')) as { rss_anon_bytes: number }).rss_anon_bytes;
  t.true(Math.abs(hog.peak_memory_bytes! - truth) <= 0.1 * truth, `peak ${(hog.peak_memory_bytes! / MIB).toFixed(1)} MiB vs ${(truth / MIB).toFixed(1)} MiB held`);
  t.true(hog.avg_memory_bytes! > 0 && hog.peak_cpu_percent! >= 0);
  t.like(results.get(victimId), { return_code: 137, failure_diagnosis: 'likely_oom', diagnosis_reason: 'oom_kill' });
  t.true(fake.server.calls({ resource: 'nodes/proxy', verb: 'get' }).length > 0, 'through the node proxy');
  t.log(`pod hog: peak ${(hog.peak_memory_bytes! / MIB).toFixed(1)} MiB (held ${(truth / MIB).toFixed(1)} MiB), avg CPU ${hog.avg_cpu_percent}%`);
});

fakeOnly('every API call declared for RBAC was made in some scenario (no stale grants)', (t) => {
  for (const call of OPERATOR_API_CALLS) {
    if (call.note) continue;
    t.true(seenCalls.has(callKey(call)), `declared but never made: ${callKey(call)} (${call.why})`);
  }
});
