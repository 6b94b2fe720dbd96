/**
 * The fake cluster as a standalone process, for trying `torc operator` or `npm run test:k8s-real`
 * without a real cluster:
 *   node --import tsx test/support/k8s/serve.ts --kubeconfig /tmp/fake-kubeconfig &
 *   KUBECONFIG=/tmp/fake-kubeconfig npm run test:k8s-real
 * The Workflow CRD is NOT preinstalled (install it through the API, as on a real cluster).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { FakeCluster } from './cluster.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string', default: 'fake-kubeconfig' },
    'bookmark-ms': { type: 'string', default: '5000' },
  },
});

const cluster = await FakeCluster.start({
  crd: false,
  bookmarkIntervalMs: Number(values['bookmark-ms']),
  nodes: [
    { name: 'node-a', cpu: 4, memory: '8Gi' },
    { name: 'node-b', cpu: '3500m', memory: '8Gi' },
    { name: 'gpu-a', cpu: 8, memory: '32Gi', gpus: 2 },
  ],
});
// Until the CRD is installed through the API, workflows are not served.
cluster.store.types.splice(cluster.store.types.findIndex((t) => t.group === 'torc.dev'), 1);
writeFileSync(values.kubeconfig!, YAML.stringify({
  apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
  clusters: [{ name: 'fake', cluster: { server: cluster.url, 'insecure-skip-tls-verify': true } }],
  users: [{ name: 'admin', user: { token: 'admin' } }],
  contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'admin', namespace: 'default' } }],
}));
process.stdout.write(`fake Kubernetes API on ${cluster.url}; kubeconfig written to ${values.kubeconfig}\n`);
await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
await cluster.close();
