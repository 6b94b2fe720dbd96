/**
 * The Workflow CR's status subresource: the shared status view (contract/workflow-status.ts) plus what
 * a controller reports (observedGeneration, store ids, start / completion times). Written with a
 * merge patch on /status only when it changed, so an idle operator makes no writes.
 */
import { isDeepStrictEqual } from 'node:util';
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from '@kubernetes/client-node';
import { computeStatus, type Condition, type WorkflowPhase } from '../../contract/workflow-status.js';
import type { JobStatusName } from '../../contract/status.js';

export const WORKFLOW_GROUP = 'torc.dev';
export const WORKFLOW_VERSION = 'v1alpha1';
export const WORKFLOW_PLURAL = 'workflows';

/** Matches `status` in crds/workflow.yaml (fields outside it would be pruned by the API server). */
export interface WorkflowCrStatus {
  phase: WorkflowPhase;
  observedGeneration: number;
  workflowId: number;
  runId: number;
  total: number;
  done: number;
  counts: Record<JobStatusName, number>;
  conditions: Condition[];
  startTime?: string;
  completionTime?: string;
  lastScheduleTime?: string;
  nextScheduleTime?: string;
}

export interface StatusInput {
  generation: number;
  workflowId: number;
  runId: number;
  counts: Partial<Record<string, number>>;
  canceled: boolean;
  /** The status currently on the CR (keeps transition and start times stable). */
  previous?: Partial<WorkflowCrStatus> | null;
  now?: Date;
  /** For a workflow with a schedule: the last tick acted on and the next one. */
  schedule?: { last: Date | null; next: Date | null } | null;
}

const TERMINAL: WorkflowPhase[] = ['Succeeded', 'Failed', 'Canceled'];

export function workflowCrStatus(input: StatusInput): WorkflowCrStatus {
  const now = input.now ?? new Date();
  const prev = input.previous ?? {};
  const view = computeStatus({ counts: input.counts, canceled: input.canceled, now, previous: prev.conditions });
  const status: WorkflowCrStatus = {
    phase: view.phase,
    observedGeneration: input.generation,
    workflowId: input.workflowId,
    runId: input.runId,
    total: view.total,
    done: view.done,
    counts: view.counts,
    conditions: view.conditions,
  };
  // A new run (reset, changed spec) starts the clock again.
  const sameRun = prev.runId === input.runId && prev.workflowId === input.workflowId;
  const startTime = sameRun && prev.startTime ? prev.startTime : view.phase !== 'Pending' ? now.toISOString() : undefined;
  if (startTime) status.startTime = startTime;
  if (TERMINAL.includes(view.phase)) {
    status.completionTime = sameRun && prev.completionTime && TERMINAL.includes(prev.phase as WorkflowPhase) ? prev.completionTime : now.toISOString();
  }
  if (input.schedule?.last) status.lastScheduleTime = input.schedule.last.toISOString();
  if (input.schedule?.next) status.nextScheduleTime = input.schedule.next.toISOString();
  return status;
}

/** Whether the CR's current status differs from `next` (JSON view; key order ignored). */
export function statusChanged(current: unknown, next: WorkflowCrStatus): boolean {
  const plain = (v: unknown) => (v === undefined || v === null ? null : JSON.parse(JSON.stringify(v)));
  return !isDeepStrictEqual(plain(current), plain(next));
}

/** The merge patch that turns `current` into `next`: absent optional fields are nulled out. */
export function statusPatch(next: WorkflowCrStatus): { status: Record<string, unknown> } {
  return {
    status: {
      ...next,
      startTime: next.startTime ?? null,
      completionTime: next.completionTime ?? null,
      lastScheduleTime: next.lastScheduleTime ?? null,
      nextScheduleTime: next.nextScheduleTime ?? null,
    },
  };
}

export interface WorkflowRef {
  namespace: string;
  name: string;
}

/**
 * Patches the status subresource when it changed; returns the updated object, or null when
 * nothing needed writing.
 */
export async function patchWorkflowStatus(
  api: CustomObjectsApi, ref: WorkflowRef, current: unknown, next: WorkflowCrStatus,
): Promise<Record<string, any> | null> {
  if (!statusChanged(current, next)) return null;
  return api.patchNamespacedCustomObjectStatus(
    { group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL, namespace: ref.namespace, name: ref.name, body: statusPatch(next) },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}
