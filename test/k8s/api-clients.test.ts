/** API clients reuse their connections (client-node alone opens one per request). */
import test from 'ava';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { closeApiConnections, makeApiClient } from '../../src/runners/k8s/api-clients.js';
import { FakeCluster } from '../support/k8s/cluster.js';

test('requests share kept-alive connections; per-call options (a merge patch) still apply', async (t) => {
  const cluster = await FakeCluster.start({ nodes: [{ name: 'n1', cpu: 1, memory: '1Gi' }] });
  t.teardown(() => cluster.close());
  const kc = cluster.kubeConfig('default', 'reuser');
  t.teardown(() => closeApiConnections(kc));

  // The library's own client: a connection per request (what this module works around).
  const plain = kc.makeApiClient(CoreV1Api);
  let before = cluster.server.connections;
  for (let i = 0; i < 10; i++) await plain.listNode();
  t.is(cluster.server.connections - before, 10);

  const core = makeApiClient(kc, CoreV1Api);
  const custom = makeApiClient(kc, CustomObjectsApi);
  before = cluster.server.connections;
  for (let i = 0; i < 30; i++) await core.listNode();
  const pod = { metadata: { name: 'p', labels: { a: '1' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: ['true'] }] } };
  await core.createNamespacedPod({ namespace: 'default', body: pod });
  await core.patchNamespacedPod({ namespace: 'default', name: 'p', body: { metadata: { labels: { b: '2' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await custom.listNamespacedCustomObject({ group: 'torc.dev', version: 'v1alpha1', plural: 'workflows', namespace: 'default' });
  t.is(cluster.server.connections - before, 1, 'one connection for 33 sequential requests of two clients');
  t.deepEqual((await core.readNamespacedPod({ namespace: 'default', name: 'p' })).metadata?.labels, { a: '1', b: '2' });
  await Promise.all(Array.from({ length: 8 }, () => core.listNode()));
  t.true(cluster.server.connections - before <= 8, 'parallel requests open at most one connection each');
  t.true(cluster.server.requests.filter((r) => r.user === 'reuser').length >= 44, 'authenticated as the kubeconfig user');
});
