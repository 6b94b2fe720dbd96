/**
 * The cluster a test/k8s test runs against: the fake by default; with TORC_K8S_REAL=1 the
 * cluster of KUBECONFIG (a fresh namespace per test, deleted afterwards). Tests that need the
 * fake's hooks (fault injection, forced 410, kubelet OOM) take `fake` and skip without it.
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { FakeCluster, type FakeClusterOptions } from './cluster.js';

export const REAL = process.env.TORC_K8S_REAL === '1';

/** The user (bearer token) the operator's requests carry on the fake. */
export const OPERATOR_USER = 'system:serviceaccount:torc-system:torc-operator';

export interface TestCluster {
  /** For the test's own calls. */
  kc: KubeConfig;
  /** For operators under test (a distinct user on the fake, so their calls can be told apart). */
  operatorKc: (identity?: string) => KubeConfig;
  namespace: string;
  /** Present only on the fake. */
  fake: FakeCluster | null;
}

interface Teardown {
  teardown: (fn: () => Promise<void> | void) => void;
}

export async function openCluster(t: Teardown, opts: FakeClusterOptions = {}): Promise<TestCluster> {
  const namespace = `torc-test-${randomBytes(3).toString('hex')}`;
  if (REAL) {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'torc.dev/test': 'true' } } } });
    t.teardown(async () => {
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    });
    return { kc, operatorKc: () => kc, namespace, fake: null };
  }
  const fake = await FakeCluster.start(opts);
  t.teardown(() => fake.close());
  fake.createNamespace(namespace);
  return { kc: fake.kubeConfig(namespace), operatorKc: (id = '') => fake.kubeConfig(namespace, OPERATOR_USER + (id ? `#${id}` : '')), namespace, fake };
}
