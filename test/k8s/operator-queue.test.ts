/**
 * The operator as a controller (issue 17): a work queue keyed by workflow, backoff for a
 * workflow whose reconcile fails, requeue-after for timed work (schedule ticks, runtime limits),
 * pod events mapped to their workflow (no pod polling), turns at the free room, changes made
 * over REST acted on at once. Against the API-server fake and its kubelet.
 */
import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import { startServer } from '../../src/api/app.js';
import type { OperatorClient, OperatorConnection } from '../../src/contract/client.js';
import type { Operator } from '../../src/runners/k8s/operator.js';
import { connectStore } from '../../src/store/runner-client.js';
import { Store } from '../../src/store/index.js';
import { waitFor } from '../support/k8s/cluster.js';
import { WorkflowClient, startOperator, tempDb } from '../support/k8s/operator-harness.js';
import { OPERATOR_USER, openCluster } from '../support/k8s/target.js';

const sleeper = (name: string, jobs: number, seconds: number, extra: Record<string, unknown> = {}) => ({
  name,
  resource_requirements: [{ name: 'one', num_cpus: 1, memory: '64m', runtime: 'PT5M' }],
  jobs: Array.from({ length: jobs }, (_, i) => ({ name: `j${i}`, command: `sleep ${seconds}`, resource_requirements: 'one' })),
  ...extra,
});

/** The store connection with one workflow's operations failing, as a broken database row or a bug would. */
async function connectFailingFor(db: string, brokenName: string): Promise<OperatorConnection> {
  const conn = await connectStore(db);
  const client: OperatorClient = Object.create(conn.client);
  client.applyWorkflow = async (plan, resource) => {
    if (resource.name === brokenName) throw new Error(`the store cannot hold workflow ${brokenName}`);
    return conn.client.applyWorkflow(plan, resource);
  };
  return { client, close: () => conn.close() };
}

test.serial('a workflow whose reconcile always fails is retried with growing delays; the others run to Succeeded meanwhile', async (t) => {
  const c = await openCluster(t, { nodes: [{ name: 'n1', cpu: 4, memory: '8Gi' }] });
  const db = tempDb(t);
  const op = await startOperator(t, c, db, {
    connect: () => connectFailingFor(db, 'broken'),
    backoff: { baseDelayMs: 20, maxDelayMs: 320 },
    maxConcurrentReconciles: 2,
  });
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('broken', sleeper('broken', 2, 0.1));
  for (const name of ['alpha', 'beta', 'gamma']) await wf.apply(name, sleeper(name, 3, 0.2));
  for (const name of ['alpha', 'beta', 'gamma']) {
    t.is((await wf.waitForPhase(name, ['Succeeded', 'Failed'])).status?.phase, 'Succeeded', name);
  }
  const key = `${c.namespace}/broken`;
  const retries = () => op.loop!.queue.requeueHistory(key).filter((r) => r.reason === 'rate-limited');
  await waitFor(() => retries().length >= 7, 'seven retries of the broken workflow');
  t.deepEqual(retries().slice(0, 7).map((r) => r.delayMs), [20, 40, 80, 160, 320, 320, 320], 'doubling up to the cap');
  for (const name of ['alpha', 'beta', 'gamma']) {
    t.deepEqual(op.loop!.queue.requeueHistory(`${c.namespace}/${name}`).filter((r) => r.reason === 'rate-limited'), [], `${name} never backed off`);
  }
  t.deepEqual((await wf.pods()).filter((p) => p.metadata?.name?.startsWith('broken')), [], 'nothing of the broken one ran');
  t.regex(await op.metrics.render(), /^torc_workqueue_retries_total ([7-9]|\d\d+)$/m);
  const events = await waitFor(async () => {
    const items = (await wf.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=broken' })).items;
    const failed = items.find((e) => e.reason === 'ReconcileFailed');
    return failed && (failed.count ?? 0) >= 2 ? failed : null;
  }, 'the ReconcileFailed event to count repeats');
  t.is(events.type, 'Warning');
  t.regex(events.message ?? '', /the store cannot hold workflow broken/);
});

test.serial('pod events reach their workflow through the watch: no pod is ever read or listed one by one', async (t) => {
  const c = await openCluster(t, { nodes: [{ name: 'n1', cpu: 2, memory: '4Gi' }] });
  await startOperator(t, c, tempDb(t));
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('waves', sleeper('waves', 12, 0.1));
  t.is((await wf.waitForPhase('waves', ['Succeeded', 'Failed'])).status?.phase, 'Succeeded');
  const podReads = c.fake!.server.requests.filter((r) => r.user?.startsWith(OPERATOR_USER) && r.resource === 'pods' && r.verb !== 'create' && r.verb !== 'watch');
  t.deepEqual(podReads.map((r) => `${r.verb} ${r.path}`), ['list /api/v1/pods'], 'one list to fill the cache, then only the watch');
});

test.serial('workflows waiting for room take turns: the one whose pod just finished does not take the room again', async (t) => {
  const c = await openCluster(t, { nodes: [{ name: 'solo', cpu: 1, memory: '1Gi' }] });
  const wf = new WorkflowClient(c.kc, c.namespace);
  // Both exist before the operator starts: each wants the one-job room three times.
  await wf.apply('left', sleeper('left', 3, 0.1));
  await wf.apply('right', sleeper('right', 3, 0.1));
  await startOperator(t, c, tempDb(t));
  for (const name of ['left', 'right']) t.is((await wf.waitForPhase(name, ['Succeeded', 'Failed'])).status?.phase, 'Succeeded');
  const order = c.fake!.kubelet.started.map((k) => (k.split('/')[1]!.startsWith('left') ? 'L' : 'R')).join('');
  t.true(order === 'LRLRLR' || order === 'RLRLRL', `pods started in turns: ${order}`);
  t.deepEqual(c.fake!.kubelet.rejections, []);
});

test.serial('a schedule: a new run at each tick once the last one finished, ticks skipped while one runs, the next tick in status', async (t) => {
  const c = await openCluster(t, { nodes: [{ name: 'n1', cpu: 2, memory: '4Gi' }] });
  const op = await startOperator(t, c, tempDb(t));
  const wf = new WorkflowClient(c.kc, c.namespace);
  // Every second; each run takes longer than a second, so some ticks find it still going.
  await wf.apply('cron', { ...sleeper('cron', 1, 1.3), schedule: '* * * * * *' });
  const third = await waitFor(async () => {
    const cr = await wf.get('cron');
    return (cr.status?.runId ?? 0) >= 3 && cr.status?.phase === 'Succeeded' ? cr : null;
  }, 'a third run to finish', 90_000, 100);
  t.truthy(third.status?.lastScheduleTime);
  t.true(Date.parse(third.status!.nextScheduleTime!) > Date.parse(third.status!.lastScheduleTime!));
  const events = (await wf.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=cron' })).items;
  t.true(events.some((e) => e.reason === 'ScheduledRun'), 'runs started by ticks');
  t.true(events.some((e) => e.reason === 'ScheduleTickSkipped'), 'a tick came while a run was going');
  const runs = c.fake!.kubelet.started.filter((k) => k.endsWith('/cron-j0-1'));
  t.true(runs.length >= 3, `the job ran once per run (${runs.length})`);
  // Between ticks the workflow waits on a requeue-after shorter than a tick, not on a poll.
  const after = op.loop!.queue.requeueHistory(`${c.namespace}/cron`).filter((r) => r.reason === 'after');
  t.true(after.some((r) => r.delayMs > 0 && r.delayMs <= 1000), JSON.stringify(after.slice(-5)));
});

test.serial('a bad cron expression is refused like any invalid spec: Failed, SpecValid=False naming spec.schedule', async (t) => {
  const c = await openCluster(t, { nodes: [{ name: 'n1', cpu: 2, memory: '4Gi' }] });
  await startOperator(t, c, tempDb(t));
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('badcron', { ...sleeper('badcron', 1, 0.1), schedule: 'every tuesday' });
  const done = await wf.waitForPhase('badcron', 'Failed');
  const cond = done.status?.conditions?.find((x) => x.type === 'SpecValid');
  t.is(cond?.status, 'False');
  t.regex(cond?.message ?? '', /spec\.schedule/);
  t.deepEqual(await wf.pods(), []);
});

test.serial('a pod still running well past its runtime limit (its node stopped reporting) is stopped at the requeue-after, the job terminated', async (t) => {
  // The kubelet serves no node: the pod stays as the test sets it, as on a node gone silent.
  const c = await openCluster(t, { nodes: [{ name: 'silent', cpu: 2, memory: '4Gi' }], kubeletNodes: [] });
  const db = tempDb(t);
  const op = await startOperator(t, c, db, { runtimeGraceSeconds: 1 });
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('stuck', {
    name: 'stuck',
    resource_requirements: [{ name: 'short', num_cpus: 1, memory: '64m', runtime: 'PT2S' }],
    jobs: [{ name: 'hang', command: 'sleep 600', resource_requirements: 'short' }],
  });
  const pod = await waitFor(async () => (await wf.pods())[0], 'the pod');
  const fake = c.fake!;
  const started = new Date().toISOString();
  fake.store.mutate(fake.type('pods'), c.namespace, pod.metadata!.name!, (o) => {
    o.status = { phase: 'Running', startTime: started, containerStatuses: [{ name: 'job', image: 'busybox:1.36', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: started } } }] };
  });
  const store = await Store.open(db);
  t.teardown(() => store.close());
  const [rec] = await waitFor(() => store.findWorkflowsByK8sName(c.namespace, 'stuck'), 'the workflow in the store');
  await waitFor(async () => (await store.listJobs(rec!.id)).items[0]?.status === 'terminated', 'the job to end terminated', 60_000);
  const events = (await wf.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=stuck' })).items;
  t.true(events.some((e) => e.reason === 'JobRuntimeExceeded'));
  t.deepEqual((await wf.pods()).filter((p: V1Pod) => !p.metadata?.deletionTimestamp), [], 'its pod was deleted');
  // It was woken by the runtime deadline (about 2 s + 1 s of grace after it started), not by a resync.
  const after = op.loop!.queue.requeueHistory(`${c.namespace}/stuck`).filter((r) => r.reason === 'after' && r.delayMs > 0 && r.delayMs <= 3000);
  t.true(after.length > 0);
});

test.serial('a cancel over the REST API the operator serves is acted on at once, not at the next resync', async (t) => {
  const c = await openCluster(t, { nodes: [{ name: 'n1', cpu: 2, memory: '4Gi' }] });
  const db = tempDb(t);
  let apiUrl = '';
  let op: Operator | null = null;
  // Resync and heartbeat an hour away: only the REST hook can bring the cancel in. (As `torc operator` serves it.)
  op = await startOperator(t, c, db, {
    resyncSeconds: 3600, computeNodeLeaseSeconds: 36_000,
    serve: async (conn) => {
      const { store } = conn as OperatorConnection & { store: Store };
      const server = await startServer({ store, port: 0, onMutation: (path) => op?.storeChanged(path) });
      apiUrl = server.baseUrl;
      return server;
    },
  });
  const wf = new WorkflowClient(c.kc, c.namespace);
  await wf.apply('long', sleeper('long', 2, 120));
  await waitFor(async () => (await wf.get('long')).status?.counts?.running === 2, 'both jobs to run');
  const id = (await wf.get('long')).status!.workflowId;
  const res = await fetch(`${apiUrl}/workflows/${id}/cancel`, { method: 'PUT' });
  t.is(res.status, 200, await res.text());
  const done = await wf.waitForPhase('long', 'Canceled');
  t.is(done.status?.counts?.running, 0);
});
