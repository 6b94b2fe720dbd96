/** The simulated kubelet: admission by node allocatable, real processes, phases and exit codes. */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { FakeCluster, waitFor } from '../support/k8s/cluster.js';

function pod(name: string, script: string, opts: { node?: string; cpu?: string; memory?: string; gpus?: number; deadline?: number } = {}): V1Pod {
  const res: Record<string, string> = { cpu: opts.cpu ?? '1', memory: opts.memory ?? '64Mi' };
  if (opts.gpus) res['nvidia.com/gpu'] = String(opts.gpus);
  return {
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      nodeName: opts.node ?? 'n1',
      ...(opts.deadline ? { activeDeadlineSeconds: opts.deadline } : {}),
      containers: [{
        name: 'job', image: 'busybox:1.36', command: ['/bin/sh', '-c', script],
        env: [{ name: 'GREETING', value: 'hello' }, { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        resources: { requests: res, limits: res },
      }],
    },
  };
}

async function setup(t: { teardown: (fn: () => Promise<void>) => void }) {
  const cluster = await FakeCluster.start({
    crd: false, maxGraceMs: 500,
    nodes: [{ name: 'n1', cpu: 2, memory: '1Gi', gpus: 1 }, { name: 'down', cpu: 2, memory: '1Gi', ready: false }],
  });
  t.teardown(() => cluster.close());
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const phase = async (name: string) => (await core.readNamespacedPod({ namespace: 'default', name })).status?.phase;
  const settled = (name: string) => waitFor(async () => {
    const p = await core.readNamespacedPod({ namespace: 'default', name });
    return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : null;
  }, `${name} to finish`);
  return { cluster, core, phase, settled };
}

test('runs the command with the pod env; exit codes become Succeeded / Failed', async (t) => {
  const { cluster, core, settled } = await setup(t);
  await core.createNamespacedPod({ namespace: 'default', body: pod('ok', 'echo "$GREETING from $POD"') });
  await core.createNamespacedPod({ namespace: 'default', body: pod('bad', 'echo oops >&2; exit 3') });
  const ok = await settled('ok');
  t.is(ok.status?.phase, 'Succeeded');
  t.is(ok.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  t.is(ok.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
  t.is(await core.readNamespacedPodLog({ namespace: 'default', name: 'ok' }), 'hello from ok\n');
  const bad = await settled('bad');
  t.is(bad.status?.phase, 'Failed');
  t.is(bad.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
  t.is(bad.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Error');
  t.deepEqual(cluster.kubelet.rejections, []);
});

test('admission rejects a pod that does not fit the node (OutOfcpu, OutOfnvidia.com/gpu)', async (t) => {
  const { cluster, core, settled } = await setup(t);
  await core.createNamespacedPod({ namespace: 'default', body: pod('big', 'sleep 30', { cpu: '1500m', gpus: 1 }) });
  await waitFor(() => cluster.kubelet.runningPods().includes('default/big'), 'big to run');
  await core.createNamespacedPod({ namespace: 'default', body: pod('cpu', 'true', { cpu: '600m' }) });
  await core.createNamespacedPod({ namespace: 'default', body: pod('gpu', 'true', { cpu: '100m', gpus: 1 }) });
  const cpu = await settled('cpu');
  t.is(cpu.status?.reason, 'OutOfcpu');
  t.is((await settled('gpu')).status?.reason, 'OutOfnvidia.com/gpu');
  t.deepEqual(cluster.kubelet.rejections.map((r) => r.reason).sort(), ['OutOfcpu', 'OutOfnvidia.com/gpu']);
  t.deepEqual(cluster.kubelet.peak.get('n1'), { cpu: 1.5, memory: 64 * 1024 ** 2, gpu: 1 });
});

test('pods on a NotReady node wait; they start once it is Ready', async (t) => {
  const { cluster, core, phase, settled } = await setup(t);
  await core.createNamespacedPod({ namespace: 'default', body: pod('waiting', 'true', { node: 'down' }) });
  t.is(await phase('waiting'), 'Pending');
  cluster.setNodeReady('down', true);
  t.is((await settled('waiting')).status?.phase, 'Succeeded');
});

test('OOM kill → exit 137 reason OOMKilled; eviction → Failed/Evicted; deadline → DeadlineExceeded', async (t) => {
  const { cluster, core, settled } = await setup(t);
  await core.createNamespacedPod({ namespace: 'default', body: pod('oom', 'sleep 30', { cpu: '100m' }) });
  await core.createNamespacedPod({ namespace: 'default', body: pod('evict', 'sleep 30', { cpu: '100m' }) });
  await core.createNamespacedPod({ namespace: 'default', body: pod('late', 'sleep 30', { cpu: '100m', deadline: 1 }) });
  // Not "three running": on a busy machine `late` may reach its 1 s deadline before the others start.
  await waitFor(() => ['default/oom', 'default/evict'].every((p) => cluster.kubelet.runningPods().includes(p)), 'oom and evict running');
  t.true(cluster.kubelet.oomKill('default', 'oom'));
  t.true(cluster.kubelet.evict('default', 'evict'));
  const oom = await settled('oom');
  t.is(oom.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'OOMKilled');
  t.is(oom.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 137);
  const ev = await settled('evict');
  t.is(ev.status?.phase, 'Failed');
  t.is(ev.status?.reason, 'Evicted');
  const late = await settled('late');
  t.is(late.status?.reason, 'DeadlineExceeded');
});

test('deleting a running pod stops its process group, then the pod goes away', async (t) => {
  const { cluster, core } = await setup(t);
  // The child writes its pid; the trap proves SIGTERM reached the process group.
  await core.createNamespacedPod({ namespace: 'default', body: pod('victim', 'trap "echo term > got-term; exit 143" TERM; sleep 30 & echo $! > child.pid; wait') });
  const dir = join(cluster.workDir, 'default_victim');
  await waitFor(() => existsSync(join(dir, 'child.pid')), 'the pod to start its child');
  const childPid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  const deleting = await core.deleteNamespacedPod({ namespace: 'default', name: 'victim' });
  t.truthy(deleting.metadata?.deletionTimestamp, 'graceful deletion first marks the pod');
  await waitFor(async () => (await core.listNamespacedPod({ namespace: 'default' })).items.length === 0, 'the pod to be removed');
  t.true(existsSync(join(dir, 'got-term')));
  await waitFor(() => {
    try { process.kill(childPid, 0); return false; } catch { return true; }
  }, 'the background child to be gone');
});

test('simulated containers: no process, the same phases, exit codes, deadlines, deletion and admission', async (t) => {
  // `sleep N` and `exit N` as timers; anything else runs for real.
  const simulate = (argv: string[]) => {
    const m = /^(sleep|exit) (\d+(?:\.\d+)?)$/.exec(argv[2] ?? '');
    if (!m) return null;
    return m[1] === 'sleep' ? { exitCode: 0, afterMs: Number(m[2]) * 1000, output: 'slept\n' } : { exitCode: Number(m[2]), afterMs: 0 };
  };
  const cluster = await FakeCluster.start({ crd: false, maxGraceMs: 500, simulate, nodes: [{ name: 'n1', cpu: 2, memory: '1Gi' }] });
  t.teardown(() => cluster.close());
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const settled = (name: string) => waitFor(async () => {
    const p = await core.readNamespacedPod({ namespace: 'default', name });
    return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : null;
  }, `${name} to finish`);
  await core.createNamespacedPod({ namespace: 'default', body: pod('nap', 'sleep 0.2') });
  await core.createNamespacedPod({ namespace: 'default', body: pod('bad', 'exit 3') });
  t.is((await settled('nap')).status?.phase, 'Succeeded');
  t.is(cluster.kubelet.logs('default', 'nap'), 'slept\n');
  const bad = await settled('bad');
  t.is(bad.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
  // Two cores: a third one-core pod waits for room, as with real processes.
  await core.createNamespacedPod({ namespace: 'default', body: pod('long1', 'sleep 600') });
  await core.createNamespacedPod({ namespace: 'default', body: pod('long2', 'sleep 600') });
  await waitFor(() => cluster.kubelet.runningPods().length === 2, 'two running');
  await core.createNamespacedPod({ namespace: 'default', body: pod('over', 'sleep 1') });
  const over = await settled('over');
  t.is(over.status?.reason, 'OutOfcpu', 'admission counts simulated pods');
  for (const name of ['long1', 'long2']) await core.deleteNamespacedPod({ namespace: 'default', name });
  await waitFor(async () => !(await core.listNamespacedPod({ namespace: 'default' })).items.some((p) => p.metadata?.name?.startsWith('long')), 'the long pods gone');
  t.deepEqual(cluster.kubelet.runningPods(), []);
  await core.createNamespacedPod({ namespace: 'default', body: pod('limited', 'sleep 600', { deadline: 1 }) });
  t.is((await settled('limited')).status?.reason, 'DeadlineExceeded');
});
