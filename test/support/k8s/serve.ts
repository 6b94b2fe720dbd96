/**
 * The fake cluster as a standalone process, for trying `kubectl` and `torc operator` without a
 * real cluster, or `npm run test:k8s-real` against it:
 *   node --import tsx test/support/k8s/serve.ts --kubeconfig /tmp/fake-kubeconfig &
 *   export KUBECONFIG=/tmp/fake-kubeconfig
 *   kubectl apply -f crds/workflow.yaml && npx torc operator --db /tmp/torc.db
 * The Workflow CRD is NOT preinstalled (install it through the API, as on a real cluster). Pods
 * run as local processes (test/support/k8s/kubelet.ts) under --work-dir.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_NODES, kubeconfigFor, startUserCluster } from './cluster.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string', default: 'fake-kubeconfig' },
    namespace: { type: 'string', default: 'default' },
    'bookmark-ms': { type: 'string', default: '5000' },
  },
});

const cluster = await startUserCluster(DEFAULT_NODES, Number(values['bookmark-ms']));
if (values.namespace !== 'default') cluster.createNamespace(values.namespace!);
writeFileSync(values.kubeconfig!, kubeconfigFor(cluster.url, values.namespace!));
process.stdout.write(`fake Kubernetes API on ${cluster.url}; kubeconfig written to ${values.kubeconfig}; pods run in ${cluster.workDir}\n`);
await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
await cluster.close();
