/**
 * The cluster a test/k8s test runs against: the fake by default; with TORC_K8S_REAL=1 the
 * cluster of KUBECONFIG (a fresh namespace per test, deleted afterwards). Tests that need the
 * fake's hooks (fault injection, forced 410, kubelet OOM) take `fake` and skip without it.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig, loadYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { FakeCluster, WORKFLOW_CRD, waitFor, type FakeClusterOptions } from './cluster.js';

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

let crdReady: Promise<void> | null = null;

/** Installs crds/workflow.yaml into the real cluster when it is missing, and waits until it is served. */
function ensureCrd(kc: KubeConfig): Promise<void> {
  crdReady ??= (async () => {
    const api = kc.makeApiClient(ApiextensionsV1Api);
    // loadYaml, not a plain YAML parse: the typed API serializer maps field names
    // (x_kubernetes_preserve_unknown_fields ↔ x-kubernetes-preserve-unknown-fields) and would
    // silently drop them from a plain object.
    const crd = loadYaml<V1CustomResourceDefinition>(readFileSync(WORKFLOW_CRD, 'utf8'));
    try {
      await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
    } catch {
      await api.createCustomResourceDefinition({ body: crd });
    }
    await waitFor(async () => {
      const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    }, 'the Workflow CRD to be established', 60_000, 500);
  })();
  return crdReady;
}

export async function openCluster(t: Teardown, opts: FakeClusterOptions = {}): Promise<TestCluster> {
  const namespace = `torc-test-${randomBytes(3).toString('hex')}`;
  if (REAL) {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    await ensureCrd(kc);
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
