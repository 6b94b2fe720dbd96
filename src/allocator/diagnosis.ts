/**
 * Why a failed attempt failed, as far as the evidence says: the diagnosis torc's recovery works
 * from (`likely_oom`, `likely_timeout`), for every unsuccessful attempt. Pure: the local runner
 * decides with it when a job ends (it has the cgroup's OOM count and the termination reason),
 * the operator with a pod's termination reason, and the store for a completion that arrives
 * without one (a runner that does not diagnose), from the result and the job's requirements.
 */

export type FailureDiagnosis = 'likely_oom' | 'likely_timeout' | 'unknown';

/**
 * What the diagnosis rests on:
 *  - oom_kill: the job's cgroup (or the kubelet) counted an OOM kill;
 *  - sigkill_peak_at_limit: killed by SIGKILL (137) with its peak memory at or over its memory;
 *  - memory_exceeded: failed otherwise with its peak memory over its memory (torc's rule);
 *  - runtime_limit: the runner terminated it at its runtime;
 *  - sigxcpu: ended by SIGXCPU (152), a CPU time limit;
 *  - near_runtime: killed or terminated after more than 90% of its runtime, no reason reported;
 *  - canceled / stopped: ended by a cancel or a stopped runner (unknown);
 *  - exit_code: nothing points at resources (unknown).
 */
export type DiagnosisReason =
  | 'oom_kill'
  | 'sigkill_peak_at_limit'
  | 'memory_exceeded'
  | 'runtime_limit'
  | 'sigxcpu'
  | 'near_runtime'
  | 'canceled'
  | 'stopped'
  | 'exit_code';

export interface Diagnosis {
  failure_diagnosis: FailureDiagnosis;
  diagnosis_reason: DiagnosisReason;
}

export interface AttemptEvidence {
  return_code: number;
  /** The runner's reason for ending the job itself, when it did (runtime_limit, canceled, stopped, …). */
  termination_reason?: string | null;
  /** OOM kills the job's cgroup (or the kubelet) counted; null when unknown. */
  oom_kills?: number | null;
  peak_memory_bytes?: number | null;
  /** The job's memory requirement (bytes per node), or the limit enforced on it. */
  memory_limit_bytes?: number | null;
  exec_time_seconds?: number | null;
  runtime_seconds?: number | null;
}

export const SIGKILL_RETURN_CODE = 137;
export const SIGTERM_RETURN_CODE = 143;
export const SIGXCPU_RETURN_CODE = 152;
/** An attempt killed after this share of its runtime, with no reason given, counts as a timeout (torc's 90%). */
export const NEAR_RUNTIME_SHARE = 0.9;

/** The diagnosis of an unsuccessful attempt (return code 0 is not a failure: null). */
export function diagnoseFailure(e: AttemptEvidence): Diagnosis | null {
  if (e.return_code === 0 && !e.termination_reason) return null;
  const peak = e.peak_memory_bytes ?? null;
  const limit = e.memory_limit_bytes != null && e.memory_limit_bytes > 0 ? e.memory_limit_bytes : null;
  const oom = (reason: DiagnosisReason): Diagnosis => ({ failure_diagnosis: 'likely_oom', diagnosis_reason: reason });
  const timeout = (reason: DiagnosisReason): Diagnosis => ({ failure_diagnosis: 'likely_timeout', diagnosis_reason: reason });
  const unknown = (reason: DiagnosisReason): Diagnosis => ({ failure_diagnosis: 'unknown', diagnosis_reason: reason });

  if ((e.oom_kills ?? 0) > 0) return oom('oom_kill');
  if (e.termination_reason === 'runtime_limit') return timeout('runtime_limit');
  if (e.termination_reason === 'canceled') return unknown('canceled');
  if (e.termination_reason && e.termination_reason !== 'requested') return unknown('stopped');
  if (e.return_code === SIGKILL_RETURN_CODE && peak !== null && limit !== null && peak >= limit) return oom('sigkill_peak_at_limit');
  if (e.return_code === SIGXCPU_RETURN_CODE) return timeout('sigxcpu');
  const killed = e.return_code === SIGKILL_RETURN_CODE || e.return_code === SIGTERM_RETURN_CODE;
  if (
    killed &&
    e.termination_reason == null &&
    e.exec_time_seconds != null &&
    e.runtime_seconds != null &&
    e.runtime_seconds > 0 &&
    e.exec_time_seconds >= NEAR_RUNTIME_SHARE * e.runtime_seconds
  ) {
    return timeout('near_runtime');
  }
  if (peak !== null && limit !== null && peak > limit) return oom('memory_exceeded');
  return unknown('exit_code');
}
