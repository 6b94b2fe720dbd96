/**
 * Slurm's own view of a workflow's allocations (state, exit code, reason, nodes, times): from
 * accounting (sacct) when it is on, since it keeps finished jobs, else from scontrol for the jobs
 * slurmctld still remembers (MinJobAge). Read by `torc slurm allocations` and `torc reports`.
 */
import { SlurmCommandError, SlurmCommands } from './commands.js';

export interface SlurmAllocationView {
  state: string;
  /** "code:signal" */
  exit_code: string;
  reason: string;
  nodes: string;
  start: string | null;
  end: string | null;
  /** sacct (accounting on) or scontrol (Slurm still remembers the job). */
  source: 'sacct' | 'scontrol';
}

/**
 * Final Slurm states of an allocation that did not end by itself: its batch script failed, it
 * ran out of time or memory, a node failed, it was preempted or canceled (by a user, or by
 * torc when a reconcile stopped early).
 */
export const FAILED_ALLOCATION_STATES: ReadonlySet<string> = new Set(['FAILED', 'NODE_FAIL', 'TIMEOUT', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED', 'CANCELLED']);

/** Whether a Slurm state ("FAILED", "CANCELLED by 0", "CANCELLED+") is one of FAILED_ALLOCATION_STATES. */
export function isFailedAllocationState(state: string): boolean {
  return FAILED_ALLOCATION_STATES.has(state.trim().split(/[\s+]/)[0]!.toUpperCase());
}

/** Slurm's view of each job id it still knows; ids it does not (or no Slurm here) are left out. */
export async function slurmAllocationViews(jobIds: readonly string[], commands: SlurmCommands = new SlurmCommands({ timeoutSeconds: 30 })): Promise<Map<string, SlurmAllocationView>> {
  const ids = jobIds.filter((id) => /^\d+$/.test(id));
  const out = new Map<string, SlurmAllocationView>();
  if (ids.length === 0) return out;
  for (const [id, r] of (await commands.accounting(ids)) ?? []) {
    out.set(id, { state: r.state, exit_code: r.exitCode, reason: r.reason, nodes: r.nodeList, start: r.start || null, end: r.end || null, source: 'sacct' });
  }
  for (const id of ids.filter((i) => !out.has(i))) {
    let job;
    try {
      job = await commands.showJob(id);
    } catch (err) {
      // No scontrol on this machine: none of the others can be asked either.
      if (err instanceof SlurmCommandError && err.exitCode === null) break;
      continue;
    }
    if (!job) continue;
    out.set(id, {
      state: job.state,
      exit_code: job.exitCode === null ? '' : `${job.exitCode}:${job.exitSignal ?? 0}`,
      reason: job.reason,
      nodes: job.nodeList ?? '',
      start: job.startTime?.toISOString() ?? null,
      end: job.endTime?.toISOString() ?? null,
      source: 'scontrol',
    });
  }
  return out;
}
