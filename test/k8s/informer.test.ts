/** The operator's informer against the fake: list+watch, 410 relist, clean close, failures. */
import test from 'ava';
import { CoreV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import { Informer, type InformerEvent } from '../../src/runners/k8s/informer.js';
import { FakeCluster, waitFor } from '../support/k8s/cluster.js';

const pod = (name: string): V1Pod => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });

/** Pods filed by their "team" label, the way the operator files pods by owning workflow. */
const byTeam = { team: (p: V1Pod) => (p.metadata?.labels?.team ? [p.metadata.labels.team] : []) };

async function setup(t: { teardown: (fn: () => Promise<void> | void) => void }) {
  const cluster = await FakeCluster.start({ crd: false, bookmarkIntervalMs: 50 });
  t.teardown(() => cluster.close());
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const events: string[] = [];
  const errors: unknown[] = [];
  const informer = new Informer<V1Pod>({
    path: '/api/v1/namespaces/default/pods', watch: new Watch(kc), maxBackoffMs: 200,
    list: () => core.listNamespacedPod({ namespace: 'default' }),
    onEvent: (ev: InformerEvent, p) => events.push(`${ev}:${p.metadata?.name}`),
    onError: (e) => errors.push(e),
    indexers: byTeam,
  });
  t.teardown(() => informer.stop());
  return { cluster, core, informer, events, errors };
}

test('caches a list, then follows the watch (add, update, delete)', async (t) => {
  const { core, informer, events } = await setup(t);
  await core.createNamespacedPod({ namespace: 'default', body: pod('before') });
  await informer.start();
  t.deepEqual(informer.list().map((p) => p.metadata?.name), ['before']);
  await core.createNamespacedPod({ namespace: 'default', body: pod('after') });
  await core.deleteNamespacedPod({ namespace: 'default', name: 'before' });
  await waitFor(() => informer.list().length === 1 && informer.get('default', 'after'), 'the cache to follow');
  t.deepEqual(events, ['add:before', 'add:after', 'delete:before']);
  t.is(informer.lists, 1);
});

test('indexers follow adds, relabels and deletes; byIndex finds without scanning', async (t) => {
  const { core, informer } = await setup(t);
  const labeled = (name: string, team: string): V1Pod => ({ ...pod(name), metadata: { name, labels: { team } } });
  await core.createNamespacedPod({ namespace: 'default', body: labeled('a1', 'a') });
  await informer.start();
  await core.createNamespacedPod({ namespace: 'default', body: labeled('a2', 'a') });
  await core.createNamespacedPod({ namespace: 'default', body: labeled('b1', 'b') });
  const names = (team: string) => informer.byIndex('team', team).map((p) => p.metadata?.name).sort();
  await waitFor(() => names('a').length === 2 && names('b').length === 1, 'the index to follow the watch');
  await core.patchNamespacedPod({ namespace: 'default', name: 'a2', body: [{ op: 'replace', path: '/metadata/labels/team', value: 'b' }] });
  await core.deleteNamespacedPod({ namespace: 'default', name: 'b1' });
  await waitFor(() => names('b').join() === 'a2', 'the relabel and the delete');
  t.deepEqual(names('a'), ['a1']);
  t.deepEqual(names('nobody'), []);
  t.throws(() => informer.byIndex('unknown', 'x'), { message: /no indexer named unknown/ });
});

test('a transform slims what is listed and what is watched, before the cache and the handlers see it', async (t) => {
  const cluster = await FakeCluster.start({ crd: false });
  t.teardown(() => cluster.close());
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: 'default', body: pod('listed') });
  const seen: V1Pod[] = [];
  const informer = new Informer<V1Pod>({
    path: '/api/v1/namespaces/default/pods', watch: new Watch(kc), list: () => core.listNamespacedPod({ namespace: 'default' }),
    transform: (p) => ({ metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, resourceVersion: p.metadata?.resourceVersion } }),
    onEvent: (_ev, p) => seen.push(p),
  });
  t.teardown(() => informer.stop());
  await informer.start();
  await core.createNamespacedPod({ namespace: 'default', body: pod('watched') });
  await waitFor(() => informer.get('default', 'watched'), 'the watch');
  for (const p of [...informer.list(), ...seen]) t.is(p.spec, undefined, p.metadata?.name);
  t.deepEqual(seen.map((p) => p.metadata?.name), ['listed', 'watched']);
});

test('410 Gone: relists; what vanished meanwhile is reported deleted, nothing twice', async (t) => {
  const { cluster, core, informer, events } = await setup(t);
  await core.createNamespacedPod({ namespace: 'default', body: pod('a') });
  await core.createNamespacedPod({ namespace: 'default', body: pod('b') });
  await informer.start();
  await waitFor(() => cluster.server.openWatches('pods') === 1, 'the watch');
  // While the watch is down, b goes away and c appears; then the server says 410.
  cluster.server.closeWatches();
  cluster.server.injectFault({ match: (r) => r.verb === 'watch', code: 500, times: 2 });
  cluster.store.delete(cluster.type('pods'), 'default', 'b');
  cluster.store.create(cluster.type('pods'), 'default', pod('c'));
  cluster.server.expireWatches();
  await waitFor(() => informer.lists >= 2 && informer.get('default', 'c') && !informer.get('default', 'b'), 'a relist');
  t.deepEqual(informer.list().map((p) => p.metadata?.name).sort(), ['a', 'c']);
  t.is(events.filter((e) => e === 'add:a').length, 1, 'a was not added twice');
  t.true(events.includes('delete:b'));
  t.true(events.includes('add:c'));
});

test('keeps retrying through failures and recovers', async (t) => {
  const { cluster, core, informer, errors } = await setup(t);
  await informer.start();
  await waitFor(() => cluster.server.openWatches('pods') === 1, 'the watch');
  cluster.server.injectFault({ match: (r) => r.resource === 'pods' && (r.verb === 'watch' || r.verb === 'list'), code: 500, times: 4 });
  cluster.server.expireWatches();
  await core.createNamespacedPod({ namespace: 'default', body: pod('late') });
  await waitFor(() => informer.get('default', 'late'), 'the informer to recover', 30_000);
  t.true(errors.length >= 1, 'failures were reported');
});
