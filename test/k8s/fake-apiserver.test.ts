/**
 * The API-server fake, exercised only through @kubernetes/client-node over HTTP, so that what
 * the operator sees from it is what it would see from a real API server.
 */
import test from 'ava';
import {
  CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, V1MicroTime, Watch,
  makeInformer, setHeaderOptions, type V1Pod,
} from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, kubeStatus } from '../../src/runners/k8s/api-errors.js';
import { FakeCluster, waitFor } from '../support/k8s/cluster.js';

const WF = { group: 'torc.dev', version: 'v1alpha1', plural: 'workflows' };
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function pod(name: string, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    metadata: { name, labels: { app: 'demo' } },
    spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36', command: ['/bin/sh', '-c', 'true'] }], ...extra },
  };
}

/** A Workflow body valid for any CRD schema we might load: no spec fields assumed. */
function workflow(name: string): Record<string, unknown> {
  return { apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', metadata: { name } };
}

async function withCluster(t: { teardown: (fn: () => Promise<void>) => void }, opts: Parameters<typeof FakeCluster.start>[0] = {}) {
  const cluster = await FakeCluster.start({ crd: false, ...opts });
  t.teardown(() => cluster.close());
  return cluster;
}

test('discovery, create, get and list follow the wire format (kind XList, resourceVersion)', async (t) => {
  const cluster = await withCluster(t);
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const created = await core.createNamespacedPod({ namespace: 'default', body: pod('p1') });
  t.truthy(created.metadata?.uid);
  t.is(created.status?.phase, 'Pending');
  t.is(created.spec?.schedulerName, 'default-scheduler', 'defaults applied');
  const list = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=demo' });
  t.is(list.kind, 'PodList');
  t.regex(list.metadata?.resourceVersion ?? '', /^\d+$/);
  t.deepEqual(list.items.map((p) => p.metadata?.name), ['p1']);
  t.is((await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app!=demo' })).items.length, 0);
  // KubernetesObjectApi resolves paths through discovery (/api/v1 APIResourceList).
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const read = await objects.read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'default' } });
  t.is(read.metadata?.uid, created.metadata?.uid);
  t.true(cluster.server.calls({ path: '/api/v1', verb: 'get' }).length >= 1);

  const dup = await t.throwsAsync(core.createNamespacedPod({ namespace: 'default', body: pod('p1') }));
  t.true(isAlreadyExists(dup));
  const missing = await t.throwsAsync(core.readNamespacedPod({ namespace: 'default', name: 'nope' }));
  t.is(kubeStatus(missing)?.code, 404);
  const badNs = await t.throwsAsync(core.createNamespacedPod({ namespace: 'nowhere', body: pod('p2') }));
  t.is(kubeStatus(badNs)?.code, 404);
});

test('invalid manifests are refused as the real server would (422, fields named)', async (t) => {
  const cluster = await withCluster(t);
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const bad: V1Pod = pod('Bad_Name');
  const e1 = await t.throwsAsync(core.createNamespacedPod({ namespace: 'default', body: bad }));
  t.is(kubeStatus(e1)?.code, 422);
  t.regex(kubeStatus(e1)!.message, /metadata\.name/);
  const gpuMismatch = pod('gpu', {});
  gpuMismatch.spec!.containers[0]!.resources = { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '2' } };
  const e2 = await t.throwsAsync(core.createNamespacedPod({ namespace: 'default', body: gpuMismatch }));
  t.regex(kubeStatus(e2)!.message, /nvidia\.com\/gpu/);
  const badLabel = pod('lbl');
  badLabel.metadata!.labels = { 'torc.dev/job': 'has spaces' };
  t.is(kubeStatus(await t.throwsAsync(core.createNamespacedPod({ namespace: 'default', body: badLabel })))?.code, 422);
});

test('watch streams ADDED / MODIFIED / DELETED and BOOKMARK from a resourceVersion', async (t) => {
  const cluster = await withCluster(t);
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const list = await core.listNamespacedPod({ namespace: 'default' });
  const seen: string[] = [];
  const watch = new Watch(kc);
  const req = await watch.watch('/api/v1/namespaces/default/pods', { resourceVersion: list.metadata!.resourceVersion, allowWatchBookmarks: true },
    (type, obj) => seen.push(`${type}:${obj.metadata?.name ?? ''}`), () => {});
  t.teardown(() => req.abort());
  await core.createNamespacedPod({ namespace: 'default', body: pod('w1') });
  await core.patchNamespacedPod({ namespace: 'default', name: 'w1', body: { metadata: { labels: { x: 'y' } } } }, mergePatch);
  await core.deleteNamespacedPod({ namespace: 'default', name: 'w1' });
  await waitFor(() => seen.length >= 3, 'three events');
  cluster.server.sendBookmarks();
  await waitFor(() => seen.some((s) => s.startsWith('BOOKMARK')), 'a bookmark');
  t.deepEqual(seen.slice(0, 3), ['ADDED:w1', 'MODIFIED:w1', 'DELETED:w1']);
  t.is(cluster.server.calls({ verb: 'watch', resource: 'pods' }).length, 1);
});

test('a too-old resourceVersion gets ERROR 410; expireWatches ends open watches with it', async (t) => {
  const cluster = await withCluster(t);
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const rv = (await core.listNamespacedPod({ namespace: 'default' })).metadata!.resourceVersion!;
  const events: { type: string; code?: number }[] = [];
  let ended = false;
  const req = await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion: rv },
    (type, obj) => events.push({ type, code: obj.code }), () => { ended = true; });
  t.teardown(() => req.abort());
  await waitFor(() => cluster.server.openWatches('pods') === 1, 'the watch to open');
  cluster.server.expireWatches();
  await waitFor(() => ended, 'the stream to end');
  t.deepEqual(events, [{ type: 'ERROR', code: 410 }]);
  // Reconnecting from the old resourceVersion is refused the same way.
  const again: { type: string; code?: number }[] = [];
  let ended2 = false;
  await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion: rv },
    (type, obj) => again.push({ type, code: obj.code }), () => { ended2 = true; });
  await waitFor(() => ended2, 'the second stream to end');
  t.deepEqual(again, [{ type: 'ERROR', code: 410 }]);
});

test('an informer (ListWatch) relists after 410 and keeps one copy of each object', async (t) => {
  const cluster = await withCluster(t);
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
  const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default' }));
  let connects = 0;
  informer.on('connect', () => connects++);
  await informer.start();
  t.teardown(() => informer.stop());
  await waitFor(() => informer.list('default').length === 1, 'the initial list');
  cluster.server.expireWatches('pods');
  await core.createNamespacedPod({ namespace: 'default', body: pod('b') });
  await waitFor(() => connects >= 2 && informer.list('default').length === 2, 'a relist with both pods');
  t.deepEqual(informer.list('default').map((p) => p.metadata?.name).sort(), ['a', 'b']);
  t.true(cluster.server.calls({ verb: 'list', resource: 'pods' }).length >= 2, 'relisted');
});

test('workflows: status subresource does not bump generation, spec changes do, main endpoint ignores status', async (t) => {
  const cluster = await withCluster(t);
  const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const created = await api.createNamespacedCustomObject({ ...WF, namespace: 'default', body: { ...workflow('wf1'), status: { phase: 'Bogus' } } });
  t.is(created.metadata.generation, 1);
  t.is(created.status, undefined, 'status is not set through the main endpoint');
  const st = await api.patchNamespacedCustomObjectStatus({ ...WF, namespace: 'default', name: 'wf1', body: { status: { phase: 'Running' } } }, mergePatch);
  t.is(st.status.phase, 'Running');
  t.is(st.metadata.generation, 1);
  const rvAfterStatus = st.metadata.resourceVersion;
  // The same status again is a no-op: no new resourceVersion.
  const same = await api.patchNamespacedCustomObjectStatus({ ...WF, namespace: 'default', name: 'wf1', body: { status: { phase: 'Running' } } }, mergePatch);
  t.is(same.metadata.resourceVersion, rvAfterStatus);
  const spec = await api.patchNamespacedCustomObject({ ...WF, namespace: 'default', name: 'wf1', body: { spec: { x: 1 }, status: { phase: 'Ignored' } } }, mergePatch);
  t.is(spec.metadata.generation, 2);
  t.is(spec.status.phase, 'Running');
  // client-node's default patch type is JSON patch (RFC 6902).
  const jp = await api.patchNamespacedCustomObjectStatus({ ...WF, namespace: 'default', name: 'wf1', body: [{ op: 'replace', path: '/status/phase', value: 'Succeeded' }] });
  t.is(jp.status.phase, 'Succeeded');
  const bad = await t.throwsAsync(api.patchNamespacedCustomObject({ ...WF, namespace: 'default', name: 'wf1', body: { metadata: { labels: { a: 'b' } } } }));
  t.is(kubeStatus(bad)?.code, 400, 'an object body sent as JSON patch is refused');
  t.deepEqual(cluster.server.calls({ resource: 'workflows/status', verb: 'patch' }).map((c) => c.code), [200, 200, 200]);
});

test('finalizers hold a deleted workflow; its owned pods are garbage-collected after it goes', async (t) => {
  const cluster = await withCluster(t, { nodes: [{ name: 'n1', cpu: 2, memory: '1Gi' }] });
  const kc = cluster.kubeConfig();
  const api = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const wf = await api.createNamespacedCustomObject({ ...WF, namespace: 'default', body: { ...workflow('wf2'), metadata: { name: 'wf2', finalizers: ['torc.dev/cleanup'] } } });
  const owned = pod('wf2-job-1', { nodeName: 'n1' });
  owned.spec!.containers[0]!.command = ['/bin/sh', '-c', 'sleep 60'];
  owned.metadata!.ownerReferences = [{ apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', name: 'wf2', uid: wf.metadata.uid, controller: true, blockOwnerDeletion: true }];
  await core.createNamespacedPod({ namespace: 'default', body: owned });
  await waitFor(() => cluster.kubelet.runningPods().includes('default/wf2-job-1'), 'the pod to run');

  const deleting = await api.deleteNamespacedCustomObject({ ...WF, namespace: 'default', name: 'wf2' });
  t.truthy(deleting.metadata.deletionTimestamp);
  const held = await api.getNamespacedCustomObject({ ...WF, namespace: 'default', name: 'wf2' });
  t.truthy(held.metadata.deletionTimestamp, 'still there while the finalizer is set');
  t.is((await core.listNamespacedPod({ namespace: 'default' })).items.length, 1);
  const addFinalizer = await t.throwsAsync(api.patchNamespacedCustomObject({ ...WF, namespace: 'default', name: 'wf2', body: { metadata: { finalizers: ['torc.dev/cleanup', 'other/x'] } } }, mergePatch));
  t.is(kubeStatus(addFinalizer)?.code, 422);

  await api.patchNamespacedCustomObject({ ...WF, namespace: 'default', name: 'wf2', body: { metadata: { finalizers: null } } }, mergePatch);
  t.is(kubeStatus(await t.throwsAsync(api.getNamespacedCustomObject({ ...WF, namespace: 'default', name: 'wf2' })))?.code, 404);
  await waitFor(async () => (await core.listNamespacedPod({ namespace: 'default' })).items.length === 0, 'the owned pod to be collected');
  t.deepEqual(cluster.kubelet.runningPods(), [], 'its process was killed');
});

test('leases: stale resourceVersion → 409 Conflict; MicroTime must have microseconds', async (t) => {
  const cluster = await withCluster(t);
  const leases = cluster.kubeConfig().makeApiClient(CoordinationV1Api);
  const now = new V1MicroTime();
  const created = await leases.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'torc-operator' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: now, renewTime: now } } });
  const first = await leases.replaceNamespacedLease({ namespace: 'default', name: 'torc-operator', body: { ...created, spec: { ...created.spec, holderIdentity: 'b', renewTime: new V1MicroTime() } } });
  t.is(first.spec?.holderIdentity, 'b');
  const stale = await t.throwsAsync(leases.replaceNamespacedLease({ namespace: 'default', name: 'torc-operator', body: { ...created, spec: { ...created.spec, holderIdentity: 'c' } } }));
  t.true(isConflict(stale));
  const millis = await t.throwsAsync(leases.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'bad' }, spec: { renewTime: new Date() as V1MicroTime } } }));
  t.is(kubeStatus(millis)?.code, 400);
});

test('events, nodes and request recording', async (t) => {
  const cluster = await withCluster(t, { nodes: [{ name: 'n1', cpu: '3500m', memory: '16Gi', gpus: 2 }] });
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const nodes = await core.listNode();
  t.is(nodes.kind, 'NodeList');
  t.is(nodes.items[0]?.status?.allocatable?.['nvidia.com/gpu'], '2');
  await core.createNamespacedEvent({
    namespace: 'default',
    body: { metadata: { generateName: 'wf.' }, involvedObject: { kind: 'Workflow', name: 'wf', namespace: 'default' }, reason: 'Created', message: 'hi', type: 'Normal' },
  });
  const evs = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=wf' });
  t.is(evs.items.length, 1);
  const wrongNs = await t.throwsAsync(core.createNamespacedEvent({
    namespace: 'default', body: { metadata: { name: 'x' }, involvedObject: { kind: 'Pod', name: 'p', namespace: 'other' } },
  }));
  t.is(kubeStatus(wrongNs)?.code, 422);
  const calls = cluster.server.calls({ group: '' }).map((c) => `${c.verb} ${c.resource}`);
  t.true(calls.includes('list nodes'));
  t.true(calls.includes('create events'));
  t.true(calls.includes('list events'));
});

test('with crds/workflow.yaml loaded, workflows are validated and unknown fields pruned', async (t) => {
  const cluster = await withCluster(t, { crd: undefined });
  const api = cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  const body = { apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', metadata: { name: 'd' }, spec: { name: 'd', jobs: [{ name: 'a', command: 'true' }] } };
  const noSpec = await t.throwsAsync(api.createNamespacedCustomObject({ ...WF, namespace: 'default', body: workflow('x') }));
  t.is(kubeStatus(noSpec)?.code, 422);
  await api.createNamespacedCustomObject({ ...WF, namespace: 'default', body });
  const st = await api.patchNamespacedCustomObjectStatus({ ...WF, namespace: 'default', name: 'd', body: { status: { phase: 'Running', notInSchema: 1 } } }, mergePatch);
  t.deepEqual(st.status, { phase: 'Running' }, 'unknown status fields are pruned');
  const badPhase = await t.throwsAsync(api.patchNamespacedCustomObjectStatus({ ...WF, namespace: 'default', name: 'd', body: { status: { phase: 'Exploded' } } }, mergePatch));
  t.is(kubeStatus(badPhase)?.code, 422);
});

test('watch events arrive in resourceVersion order even when the kubelet reacts to an ADDED at once', async (t) => {
  const cluster = await withCluster(t, { nodes: [{ name: 'n1', cpu: 2, memory: '1Gi' }] });
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const rv = (await core.listNamespacedPod({ namespace: 'default' })).metadata!.resourceVersion!;
  const seen: { type: string; rv: number; phase?: string }[] = [];
  const req = await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion: rv },
    (type, obj) => seen.push({ type, rv: Number(obj.metadata?.resourceVersion), phase: obj.status?.phase }), () => {});
  t.teardown(() => req.abort());
  await core.createNamespacedPod({ namespace: 'default', body: pod('ordered', { nodeName: 'n1' }) });
  await waitFor(() => seen.some((e) => e.phase === 'Succeeded'), 'the pod to finish');
  t.is(seen[0]!.type, 'ADDED');
  t.is(seen[0]!.phase, 'Pending');
  t.deepEqual(seen.map((e) => e.rv), [...seen.map((e) => e.rv)].sort((a, b) => a - b));
});
