/**
 * Runs the operator in-process against a test cluster (the fake, or KUBECONFIG's with
 * TORC_K8S_REAL=1), with its SQLite store in a temp dir, and gives tests helpers to apply
 * Workflow CRs and wait for their status.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { Operator, type OperatorOptions, type WorkflowCr } from '../../../src/runners/k8s/operator.js';
import { WORKFLOW_GROUP, WORKFLOW_PLURAL, WORKFLOW_VERSION } from '../../../src/runners/k8s/status.js';
import { connectStore } from '../../../src/store/runner-client.js';
import { waitFor } from './cluster.js';
import type { TestCluster } from './target.js';

export const WF = { group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL };

interface Teardown {
  teardown: (fn: () => Promise<void> | void) => void;
}

export function tempDb(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'torc-operator-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'torc.db');
}

export async function startOperator(t: Teardown, c: TestCluster, dbPath: string, extra: Partial<OperatorOptions> = {}): Promise<Operator> {
  const op = new Operator({
    kubeConfig: c.operatorKc(extra.identity), namespace: c.namespace, connect: () => connectStore(dbPath),
    resyncSeconds: 2, computeNodeLeaseSeconds: 300,
    log: process.env.TORC_TEST_LOG ? (m) => process.stderr.write(`[operator] ${m}\n`) : undefined,
    ...extra,
  });
  await op.start();
  t.teardown(() => op.stop());
  return op;
}

export class WorkflowClient {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;

  constructor(kc: KubeConfig, readonly namespace: string) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  apply(name: string, spec: Record<string, unknown>): Promise<WorkflowCr> {
    return this.custom.createNamespacedCustomObject({
      ...WF, namespace: this.namespace, body: { apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', metadata: { name }, spec },
    });
  }

  get(name: string): Promise<WorkflowCr> {
    return this.custom.getNamespacedCustomObject({ ...WF, namespace: this.namespace, name });
  }

  delete(name: string): Promise<unknown> {
    return this.custom.deleteNamespacedCustomObject({ ...WF, namespace: this.namespace, name });
  }

  async pods(): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace: this.namespace })).items;
  }

  /** Waits until the Workflow's status reports `phase` for its current generation. */
  waitForPhase(name: string, phase: string | string[], timeoutMs = 90_000): Promise<WorkflowCr> {
    const phases = Array.isArray(phase) ? phase : [phase];
    return waitFor(async () => {
      const wf = await this.get(name);
      return wf.status?.phase && phases.includes(wf.status.phase) && wf.status.observedGeneration === wf.metadata.generation ? wf : null;
    }, `workflow ${name} to reach ${phases.join('/')}`, timeoutMs, 100);
  }
}

/** The diamond with explicit dependencies (no shared files, so it also runs on a real cluster). */
export function diamondSpec(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'diamond',
    default_image: 'busybox:1.36',
    resource_requirements: [{ name: 'small', num_cpus: 1, memory: '64m', runtime: 'PT5M' }],
    jobs: [
      { name: 'preprocess', command: 'echo pre', resource_requirements: 'small' },
      { name: 'work1', command: 'echo one', resource_requirements: 'small', depends_on: ['preprocess'] },
      { name: 'work2', command: 'echo two', resource_requirements: 'small', depends_on: ['preprocess'] },
      { name: 'postprocess', command: 'echo post', resource_requirements: 'small', depends_on: ['work1', 'work2'] },
    ],
    ...extra,
  };
}
