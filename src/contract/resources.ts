/**
 * Resource monitoring on the wire: the summary a runner reports with an attempt's result
 * (torc's ResultModel fields), the diagnosis of a failed attempt (our addition), and the
 * time-series samples (torc's `job_resource_samples` columns, plus the run and attempt they
 * belong to).
 */
import type { DiagnosisReason, FailureDiagnosis } from '../allocator/diagnosis.js';

export type { DiagnosisReason, FailureDiagnosis };

/** torc's ResultModel resource fields; null (or absent) when the attempt was not monitored. */
export interface ResourceSummary {
  /** Highest CPU use seen, percent of one core (200 = two cores busy). */
  peak_cpu_percent: number | null;
  /** CPU time over wall time of the whole attempt, percent of one core. */
  avg_cpu_percent: number | null;
  peak_memory_bytes: number | null;
  avg_memory_bytes: number | null;
}

/** One sample of one job attempt's whole process tree. */
export interface ResourceSample {
  job_id: number;
  run_id: number;
  attempt_id: number;
  /** Seconds since the epoch. */
  timestamp: number;
  cpu_percent: number;
  memory_bytes: number;
  num_processes: number;
}

export const FAILURE_DIAGNOSES: readonly FailureDiagnosis[] = ['likely_oom', 'likely_timeout', 'unknown'];
