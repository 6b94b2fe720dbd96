import os from 'node:os';

/**
 * Job states: torc's names (its job_status enum: what the API, the contract and every runner
 * use) and torc's integer codes (what the store keeps in its status column; `statusName` and
 * `parseStatus` convert at the store's edge).
 * uninitialized → ready/blocked → pending (claimed) → running → completed/failed/terminated/…
 */
export const JobStatus = {
  uninitialized: 0,
  blocked: 1,
  ready: 2,
  pending: 3,
  running: 4,
  completed: 5,
  failed: 6,
  canceled: 7,
  terminated: 8,
  disabled: 9,
  pending_failed: 10,
} as const;

export type JobStatusName = keyof typeof JobStatus;
export type JobStatusCode = (typeof JobStatus)[JobStatusName];

export const JOB_STATUS_NAMES: readonly JobStatusName[] = Object.keys(JobStatus) as JobStatusName[];

const byCode = new Map<number, JobStatusName>(JOB_STATUS_NAMES.map((n) => [JobStatus[n], n]));

export function statusName(code: number): JobStatusName {
  const name = byCode.get(code);
  if (name === undefined) throw new RangeError(`unknown job status code ${code}`);
  return name;
}

/** Accepts a name (`completed`) or a code (`5`, "5"); undefined when neither. */
export function parseStatus(value: string | number): JobStatusCode | undefined {
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    const code = Number(value);
    return byCode.has(code) ? (code as JobStatusCode) : undefined;
  }
  return Object.hasOwn(JobStatus, value) ? (JobStatus as Record<string, JobStatusCode>)[value] : undefined;
}

/** A workflow is complete when no job is in uninitialized..running. */
export function isTerminal(code: number): boolean {
  return code >= JobStatus.completed;
}

/** States a job may be completed into (`complete_job/{status}`), by name. */
export const COMPLETION_STATUS_NAMES = ['completed', 'failed', 'canceled', 'terminated', 'pending_failed'] as const;
export type CompletionStatusName = (typeof COMPLETION_STATUS_NAMES)[number];

/** The same states by code (the store's column). */
export const COMPLETION_STATUSES: readonly JobStatusCode[] = COMPLETION_STATUS_NAMES.map((n) => JobStatus[n]);

/** The return_code reported for a process ended by a signal: 128 + its number, as a shell says. */
export function signalReturnCode(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 0);
}
