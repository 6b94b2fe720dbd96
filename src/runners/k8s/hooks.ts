/**
 * Per-workflow work that plugs into the operator's reconcile (e.g. sampling the metrics of a
 * workflow's pods) without the operator knowing about it: after the operator's own steps, each
 * hook is called with the workflow's context and may ask to be called again after a delay.
 * The key's queue guarantees one call per workflow at a time; a hook that throws counts as a
 * failed reconcile (logged, retried with backoff).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { CompleteJobResult, OperatorClient } from '../../contract/client.js';

export interface WorkflowHookContext {
  /** The work-queue key: namespace/name. */
  key: string;
  namespace: string;
  name: string;
  uid: string;
  /** The workflow's id in the store and its current run. */
  workflowId: number;
  runId: number;
  /** The workflow's pods that have not finished, from the informer cache (slimmed: see slimPod in pods.ts). */
  activePods: V1Pod[];
  client: OperatorClient;
}

/** A job's pod that finished, about to be reported as the job's result. */
export interface FinishedPod {
  key: string;
  workflowId: number;
  runId: number;
  pod: V1Pod;
  jobId: number;
  attempt: number;
  /** When its container started and ended (ms since the epoch; started NaN when unknown). */
  startedAtMs: number;
  finishedAtMs: number;
}

/** What a hook may add to a finished job's result (e.g. the resources it used). */
export type ResultExtras = Partial<Pick<CompleteJobResult, 'peak_cpu_percent' | 'avg_cpu_percent' | 'peak_memory_bytes' | 'avg_memory_bytes'>>;

export interface WorkflowHook {
  /** Named in logs. */
  name: string;
  /** Called at the end of every reconcile of a workflow held in the store; may return when to be called again. */
  reconcile(ctx: WorkflowHookContext): Promise<{ requeueAfterMs?: number } | void>;
  /**
   * A job's pod finished (called in the reconcile that reports it, before the result is stored):
   * what the hook adds to the job's result. The operator diagnoses a failure after, with these.
   */
  finishedPod?(pod: FinishedPod): ResultExtras | void;
  /** The workflow is gone (deleted), or this replica stopped leading: drop what is kept for `key`. */
  forget?(key: string): void;
}
