/**
 * Workflow status as a Kubernetes-style object: phase, counts and conditions, computed purely
 * from job counts. The CLI summary, the REST status route and the operator's status
 * subresource all show this same object.
 */
import { JOB_STATUS_NAMES, type JobStatusName } from './status.js';

export type WorkflowPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface WorkflowStatusView {
  phase: WorkflowPhase;
  total: number;
  counts: Record<JobStatusName, number>;
  /** Jobs in a terminal state. */
  done: number;
  conditions: Condition[];
}

export interface StatusInput {
  counts: Partial<Record<string, number>>;
  canceled: boolean;
  /** Whether any job has ever started in this run (pending/running/terminal). */
  now?: Date;
  /** Previous conditions: a condition keeps its lastTransitionTime while its status is unchanged. */
  previous?: Condition[];
}

export function fullCounts(counts: Partial<Record<string, number>>): Record<JobStatusName, number> {
  const out = {} as Record<JobStatusName, number>;
  for (const name of JOB_STATUS_NAMES) out[name] = counts[name] ?? 0;
  return out;
}

export function computePhase(c: Record<JobStatusName, number>, canceled: boolean): WorkflowPhase {
  const active = c.uninitialized + c.blocked + c.ready + c.pending + c.running;
  // Canceled once the cancellation is through: jobs still being terminated keep it Running.
  if (canceled) return c.pending + c.running > 0 ? 'Running' : 'Canceled';
  if (active > 0) {
    const started = c.pending + c.running + c.completed + c.failed + c.terminated + c.canceled + c.pending_failed;
    return started > 0 ? 'Running' : 'Pending';
  }
  const unsuccessful = c.failed + c.terminated + c.canceled + c.pending_failed;
  return unsuccessful > 0 ? 'Failed' : 'Succeeded';
}

export function computeStatus(input: StatusInput): WorkflowStatusView {
  const counts = fullCounts(input.counts);
  const total = JOB_STATUS_NAMES.reduce((sum, n) => sum + counts[n], 0);
  const active = counts.uninitialized + counts.blocked + counts.ready + counts.pending + counts.running;
  const phase = computePhase(counts, input.canceled);
  const now = (input.now ?? new Date()).toISOString();
  const prev = new Map((input.previous ?? []).map((c) => [c.type, c]));
  const cond = (type: string, ok: boolean, reason: string, message: string): Condition => {
    const status = ok ? 'True' : 'False';
    const before = prev.get(type);
    const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : now;
    return { type, status, reason, message, lastTransitionTime };
  };
  const unsuccessful = counts.failed + counts.terminated + counts.canceled + counts.pending_failed;
  const conditions = [
    cond('Initialized', counts.uninitialized === 0, counts.uninitialized === 0 ? 'JobsInitialized' : 'Uninitialized',
      `${counts.uninitialized} of ${total} jobs uninitialized`),
    cond('Progressing', phase === 'Running' || phase === 'Pending', input.canceled && phase === 'Running' ? 'Canceling' : phase === 'Running' ? 'JobsRunning' : phase === 'Pending' ? 'JobsWaiting' : 'Finished',
      `${counts.running} running, ${counts.pending} pending, ${counts.ready} ready, ${counts.blocked} blocked`),
    cond('Complete', active === 0, active === 0 ? (input.canceled ? 'Canceled' : 'AllJobsFinished') : 'JobsRemaining',
      `${total - active} of ${total} jobs finished`),
    cond('Failed', unsuccessful > 0, unsuccessful > 0 ? 'JobsFailed' : 'NoFailures',
      `${counts.failed} failed, ${counts.terminated} terminated, ${counts.canceled} canceled`),
  ];
  return { phase, total, counts, done: total - active, conditions };
}
