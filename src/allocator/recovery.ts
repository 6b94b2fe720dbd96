/**
 * Recovery policy (`torc recover`, `torc reconcile --recover`): what a failed job gets before it
 * runs again, from its diagnosis. Pure, like the failure-handler rules it reuses (raisedNeed):
 *  - likely_oom: memory × memory_multiplier (default 1.5);
 *  - likely_timeout: runtime × runtime_multiplier (default 1.5);
 *  - unknown: run again unchanged with retry_unknown, otherwise left alone (likely a bug that
 *    more resources would not fix, as torc decides).
 * A raise is held at what the runners offer (RaiseCaps); a job already there is left alone, since
 * it would only fail the same way again.
 */
import type { FailureDiagnosis } from './diagnosis.js';
import { raisedNeed, type RaisableNeed, type RaiseCaps, type RaisedNeed } from './failure-policy.js';

export interface RecoveryOptions {
  memory_multiplier: number;
  runtime_multiplier: number;
  retry_unknown: boolean;
}

export const DEFAULT_RECOVERY: Readonly<RecoveryOptions> = Object.freeze({ memory_multiplier: 1.5, runtime_multiplier: 1.5, retry_unknown: false });

export interface FailedJob {
  job_id: number;
  name: string;
  /** The diagnosis of its last attempt; null when none was recorded (treated as unknown). */
  diagnosis: FailureDiagnosis | null;
  /** Its requirements now (per node). */
  need: RaisableNeed;
}

export type RecoveryStep =
  | { job_id: number; name: string; diagnosis: FailureDiagnosis; action: 'raise'; from: RaisableNeed; to: RaisedNeed }
  | { job_id: number; name: string; diagnosis: FailureDiagnosis; action: 'retry' }
  | { job_id: number; name: string; diagnosis: FailureDiagnosis; action: 'skip'; reason: 'unknown_cause' | 'at_limit' };

/** Checks multipliers given by a user (flags): each must be a number > 1. */
export function recoveryOptionIssues(o: Partial<RecoveryOptions>): { field: 'memory_multiplier' | 'runtime_multiplier'; message: string }[] {
  const issues: { field: 'memory_multiplier' | 'runtime_multiplier'; message: string }[] = [];
  for (const field of ['memory_multiplier', 'runtime_multiplier'] as const) {
    const v = o[field];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 1 && v <= 1000)) {
      issues.push({ field, message: `expected a number greater than 1 (at most 1000), got ${String(v)}` });
    }
  }
  return issues;
}

export function planRecovery(jobs: readonly FailedJob[], options: RecoveryOptions, caps: RaiseCaps): RecoveryStep[] {
  return jobs.map((job): RecoveryStep => {
    const diagnosis = job.diagnosis ?? 'unknown';
    const base = { job_id: job.job_id, name: job.name, diagnosis };
    if (diagnosis === 'unknown') return options.retry_unknown ? { ...base, action: 'retry' } : { ...base, action: 'skip', reason: 'unknown_cause' };
    const rule =
      diagnosis === 'likely_oom'
        ? { memory_multiplier: options.memory_multiplier, runtime_multiplier: null }
        : { memory_multiplier: null, runtime_multiplier: options.runtime_multiplier };
    const to = raisedNeed(job.need, rule, caps);
    if (to === null) return { ...base, action: 'skip', reason: 'at_limit' };
    return { ...base, action: 'raise', from: { memory_bytes: job.need.memory_bytes, runtime_seconds: job.need.runtime_seconds }, to };
  });
}
