import test from 'ava';
import fc from 'fast-check';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { InputError } from '../../src/errors.js';
import type { ClaimedJobRecord } from '../../src/contract/client.js';
import { DNS1123_LABEL, LABEL_VALUE, podName, toLabelValue } from '../../src/runners/k8s/names.js';
import { buildJobPod, podJob, podOutcome, slimPod, OOM_EXIT_CODE, type PodOptions } from '../../src/runners/k8s/pods.js';
import { podRequests } from '../../src/runners/k8s/capacity.js';
import { waitFor } from '../support/k8s/cluster.js';
import { JobStatus } from '../../src/contract/status.js';
import { FakeCluster } from '../support/k8s/cluster.js';

function job(over: Partial<ClaimedJobRecord> = {}): ClaimedJobRecord {
  return {
    id: 42, workflow_id: 7, name: 'train_{lr}_001', command: 'python train.py --lr 0.1', invocation_script: null,
    status: 'pending', attempt_id: 2, resource_requirements_id: 1, scheduler_id: null, failure_handler_id: null,
    cancel_on_blocking_job_failure: true, supports_termination: false, image: 'pytorch/pytorch:2.3', env: { SEED: '1' },
    return_code: null, compute_node_id: null,
    resources: { num_cpus: 2, memory_bytes: 4 * 1024 ** 3, num_gpus: 1, num_nodes: 1, runtime_seconds: 1800 },
    assigned_nodes: ['gpu-node-1'],
    ...over,
  };
}

const opts: PodOptions = {
  workflow: { name: 'sweep', namespace: 'ml', uid: '1111-2222' },
  workflowId: 7, runId: 3, defaultImage: 'busybox:1.36', apiUrl: 'http://torc-api.ml:8080/torc-service/v1',
};

test('pod names are deterministic DNS-1123 labels, hashed when the raw name is lossy or long', (t) => {
  t.is(podName('diamond', 'preprocess', 1), 'diamond-preprocess-1');
  t.is(podName('diamond', 'preprocess', 1), podName('diamond', 'preprocess', 1));
  const lossy = podName('sweep', 'train_{lr}_001', 2);
  t.regex(lossy, /^sweep-train-lr-001-2-[0-9a-f]{8}$/);
  t.not(podName('sweep', 'a_b', 1), podName('sweep', 'a-b', 1), 'different jobs never share a name');
  const long = podName('w'.repeat(50), 'j'.repeat(50), 12);
  t.true(long.length <= 63);
  t.regex(long, DNS1123_LABEL);
  fc.assert(fc.property(fc.string({ maxLength: 80 }), fc.string({ minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 1000 }), (w, j, a) => {
    const n = podName(w, j, a);
    return n.length <= 63 && DNS1123_LABEL.test(n);
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.string({ maxLength: 100 }), (s) => {
    const v = toLabelValue(s);
    return v.length <= 63 && LABEL_VALUE.test(v);
  }), { numRuns: 300 });
});

test('the pod of a claimed job: placement, resources, owner, labels, command, env', (t) => {
  const pod = buildJobPod(job(), opts);
  t.is(pod.metadata?.name, podName('sweep', 'train_{lr}_001', 2));
  t.is(pod.metadata?.namespace, 'ml');
  t.is(pod.spec?.restartPolicy, 'Never');
  t.is(pod.spec?.nodeName, 'gpu-node-1');
  t.is(pod.spec?.activeDeadlineSeconds, 1800);
  const c = pod.spec!.containers[0]!;
  t.is(c.image, 'pytorch/pytorch:2.3');
  t.deepEqual(c.command, ['/bin/sh', '-c', 'python train.py --lr 0.1']);
  t.deepEqual(c.resources?.requests, { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '1' });
  t.deepEqual(c.resources?.limits, c.resources?.requests);
  t.deepEqual(pod.metadata?.ownerReferences, [{ apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', name: 'sweep', uid: '1111-2222', controller: true, blockOwnerDeletion: true }]);
  t.is(pod.metadata?.labels?.['torc.dev/workflow'], 'sweep');
  t.regex(pod.metadata?.labels?.['torc.dev/job'] ?? '', LABEL_VALUE);
  t.is(pod.metadata?.annotations?.['torc.dev/job-name'], 'train_{lr}_001');
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
  t.like(env, { TORC_WORKFLOW_ID: '7', TORC_JOB_ID: '42', TORC_ATTEMPT: '2', TORC_RUN_ID: '3', TORC_API_URL: opts.apiUrl!, SEED: '1' });
  t.deepEqual(podJob(pod), { jobId: 42, attempt: 2 });
  t.is(podJob({ metadata: { labels: {} } }), null);
});

test('no GPU key without GPUs; fractional cpu as millicores; default image', (t) => {
  const pod = buildJobPod(job({ image: null, resources: { num_cpus: 0.5, memory_bytes: 1024 ** 2, num_gpus: 0, num_nodes: 1, runtime_seconds: 0 } }), opts);
  const c = pod.spec!.containers[0]!;
  t.is(c.image, 'busybox:1.36');
  t.deepEqual(c.resources?.limits, { cpu: '500m', memory: '1Mi' });
  t.is(pod.spec?.activeDeadlineSeconds, undefined);
});

test('a work volume becomes the working directory of every job pod', (t) => {
  const pod = buildJobPod(job(), { ...opts, workVolume: { claimName: 'shared', mountPath: '/work' } });
  t.deepEqual(pod.spec?.volumes, [{ name: 'work', persistentVolumeClaim: { claimName: 'shared' } }]);
  t.is(pod.spec?.containers[0]?.workingDir, '/work');
  t.deepEqual(pod.spec?.containers[0]?.volumeMounts, [{ name: 'work', mountPath: '/work' }]);
  t.is(buildJobPod(job(), opts).spec?.volumes, undefined);
});

test('jobs that cannot become one pod are refused with the field named', (t) => {
  const multi = t.throws(() => buildJobPod(job({ resources: { ...job().resources, num_nodes: 2 } }), opts), { instanceOf: InputError });
  t.is(multi.issues[0]!.path, 'jobs[train_{lr}_001].resource_requirements.num_nodes');
  const unplaced = t.throws(() => buildJobPod(job({ assigned_nodes: [] }), opts), { instanceOf: InputError });
  t.is(unplaced.issues[0]!.path, 'jobs[train_{lr}_001].assigned_nodes');
});

test('the manifest is accepted by the API-server fake (names, labels, GPU requests = limits)', async (t) => {
  const cluster = await FakeCluster.start({ crd: false });
  t.teardown(() => cluster.close());
  cluster.createNamespace('ml');
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const created = await core.createNamespacedPod({ namespace: 'ml', body: buildJobPod(job({ name: 'x'.repeat(200) }), opts) });
  t.is(created.status?.qosClass, 'Guaranteed');
});

const terminated = (exitCode: number, reason: string, phase: string, extra: Partial<NonNullable<V1Pod['status']>> = {}): V1Pod => ({
  metadata: { name: 'p' },
  spec: { nodeName: 'n', containers: [{ name: 'job', image: 'x' }] },
  status: { phase, containerStatuses: [{ name: 'job', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason } } }], ...extra },
});

test('pod status → job outcome', (t) => {
  t.like(podOutcome({ metadata: {}, status: { phase: 'Pending' } }), { state: 'pending' });
  t.like(podOutcome({ metadata: {}, spec: { nodeName: 'n', containers: [] }, status: { phase: 'Running', startTime: new Date('2024-01-01T00:00:00Z') } }),
    { state: 'running', node: 'n', startedAt: '2024-01-01T00:00:00.000Z' });
  t.like(podOutcome(terminated(0, 'Completed', 'Succeeded')), { state: 'finished', status: 'completed', returnCode: 0 });
  t.like(podOutcome(terminated(3, 'Error', 'Failed')), { state: 'finished', status: 'failed', returnCode: 3 });
  t.like(podOutcome(terminated(137, 'OOMKilled', 'Failed')), { state: 'finished', status: 'failed', returnCode: OOM_EXIT_CODE, reason: 'OOMKilled' });
  t.like(podOutcome(terminated(143, 'Error', 'Failed', { reason: 'DeadlineExceeded' })), { status: 'terminated', reason: 'DeadlineExceeded', returnCode: 143 });
  t.like(podOutcome(terminated(137, 'Error', 'Failed', { reason: 'Evicted' })), { status: 'terminated', reason: 'Evicted' });
  t.like(podOutcome({ metadata: {}, status: { phase: 'Failed', reason: 'OutOfcpu' } }), { status: 'terminated', reason: 'OutOfcpu', returnCode: 143 });
  // Deleted while running (the watch's DELETED event), or marked for deletion.
  t.like(podOutcome({ metadata: {}, status: { phase: 'Running' } }, true), { status: 'terminated', reason: 'Deleted' });
  t.like(podOutcome({ metadata: { deletionTimestamp: new Date() }, status: { phase: 'Running' } }), { status: 'terminated' });
  // A job that finished before its pod was deleted keeps its result.
  t.like(podOutcome(terminated(0, 'Completed', 'Succeeded'), true), { status: 'completed' });
  t.like(podOutcome({
    metadata: {}, status: { phase: 'Pending', containerStatuses: [{ name: 'job', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'InvalidImageName' } } }] },
  }), { state: 'finished', status: 'failed', reason: 'InvalidImageName' });
  t.like(podOutcome({
    metadata: {}, status: { phase: 'Pending', containerStatuses: [{ name: 'job', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff' } } }] },
  }), { state: 'pending', reason: 'ImagePullBackOff' });
});

test('the cached (slimmed) pod answers every question the operator asks as the full one does, in a fraction of the size', async (t) => {
  const cluster = await FakeCluster.start({
    crd: false, nodes: [{ name: 'n1', cpu: 4, memory: '8Gi' }],
    simulate: (argv) => (argv[2] === 'echo hi' ? { exitCode: 0, afterMs: 10, output: 'hi\n' } : null),
  });
  t.teardown(() => cluster.close());
  cluster.createNamespace('ml');
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const body = buildJobPod(job({ assigned_nodes: ['n1'], command: 'echo hi', env: { A: 'x'.repeat(500) }, resources: { num_cpus: 1, memory_bytes: 2 ** 30, num_gpus: 0, num_nodes: 1, runtime_seconds: 60 } }), { ...opts, workflow: { ...opts.workflow, namespace: 'ml' } });
  const created = await core.createNamespacedPod({ namespace: 'ml', body });
  const done = await waitFor(async () => {
    const p = await core.readNamespacedPod({ namespace: 'ml', name: created.metadata!.name! });
    return p.status?.phase === 'Succeeded' ? p : null;
  }, 'the pod to finish');
  const fixtures: V1Pod[] = [
    created, done, { ...done, metadata: { ...done.metadata, deletionTimestamp: new Date() } },
    terminated(137, 'OOMKilled', 'Failed'), terminated(143, 'Error', 'Failed', { reason: 'DeadlineExceeded' }),
    { metadata: {}, status: { phase: 'Pending', containerStatuses: [{ name: 'job', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'InvalidImageName' } } }] } },
  ];
  for (const p of fixtures) {
    const slim = slimPod(p);
    t.deepEqual(podOutcome(slim), podOutcome(p));
    t.deepEqual(podOutcome(slim, true), podOutcome(p, true));
    t.deepEqual(podJob(slim), podJob(p));
    if (p.spec) t.deepEqual(podRequests(slim), podRequests(p));
    t.deepEqual(slim.metadata?.ownerReferences?.map((r) => r.uid), p.metadata?.ownerReferences?.map((r) => r.uid));
    t.deepEqual(slim.metadata?.annotations, p.metadata?.annotations);
  }
  t.true(JSON.stringify(slimPod(done)).length * 3 < JSON.stringify(done).length, `${JSON.stringify(slimPod(done)).length} vs ${JSON.stringify(done).length} bytes`);
});
