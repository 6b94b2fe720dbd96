/**
 * Result rows: one per finished attempt, written by complete_job (job-runs.ts) and retry
 * (retry.ts) through insertResults. Every unsuccessful attempt leaves with a diagnosis — the
 * runner's, or, when the runner sent none (a torc runner, an older one), the allocator's rule
 * applied here to the result and the job's requirements — and a `job_failed` event that carries
 * it, with where its output went.
 */
import { InputError, type InputIssue } from '../errors.js';
import { diagnoseFailure, type Diagnosis } from '../allocator/diagnosis.js';
import type { CompleteJobResult } from '../contract/client.js';
import { FAILURE_DIAGNOSES } from '../contract/resources.js';
import { JobStatus, statusName } from '../contract/status.js';
import type { WriteTx } from './db.js';

const S = JobStatus;

/** Attempts that get a diagnosis and a job_failed event. */
const UNSUCCESSFUL_ATTEMPTS: readonly number[] = [S.failed, S.terminated, S.pending_failed];

const DIAGNOSIS_REASONS = new Set([
  'oom_kill', 'sigkill_peak_at_limit', 'memory_exceeded', 'runtime_limit', 'sigxcpu', 'near_runtime', 'canceled', 'stopped', 'exit_code',
]);

export interface ResultRow {
  workflow_id: number;
  job_id: number;
  name: string;
  run_id: number;
  attempt: number;
  compute_node_id: number | null;
  status: number;
  result: CompleteJobResult;
  /** The job's requirements when the attempt ran (for a diagnosis made here). */
  memory_bytes: number | null;
  runtime_seconds: number | null;
}

/** The diagnosis of an attempt: the runner's when it sent one, else the rule applied to what the result shows. */
export function diagnosisOf(row: ResultRow): Diagnosis | null {
  if (!UNSUCCESSFUL_ATTEMPTS.includes(row.status)) return null;
  const r = row.result;
  if (r.failure_diagnosis) return { failure_diagnosis: r.failure_diagnosis, diagnosis_reason: r.diagnosis_reason ?? 'exit_code' };
  return (
    diagnoseFailure({
      return_code: r.return_code,
      peak_memory_bytes: r.peak_memory_bytes ?? null,
      memory_limit_bytes: row.memory_bytes,
      exec_time_seconds: r.exec_time_minutes * 60,
      runtime_seconds: row.runtime_seconds,
    }) ?? { failure_diagnosis: 'unknown', diagnosis_reason: 'exit_code' }
  );
}

/** Inserts the rows (one statement) and a job_failed event per unsuccessful attempt. Inside the caller's transaction. */
export async function insertResults(tx: WriteTx, rows: ResultRow[], now: string): Promise<void> {
  if (rows.length === 0) return;
  const diagnoses = rows.map(diagnosisOf);
  await tx.run(
    `INSERT INTO results (workflow_id, job_id, run_id, attempt, compute_node_id, return_code, exec_time_minutes, completion_time, status,
       peak_memory_bytes, avg_memory_bytes, peak_cpu_percent, avg_cpu_percent, failure_diagnosis, diagnosis_reason, job_stdout, job_stderr)
     SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8,
       value->>9, value->>10, value->>11, value->>12, value->>13, value->>14, value->>15, value->>16 FROM json_each(?)`,
    [
      JSON.stringify(
        rows.map((row, i) => {
          const r = row.result;
          const d = diagnoses[i];
          return [
            row.workflow_id, row.job_id, row.run_id, row.attempt, row.compute_node_id, r.return_code, r.exec_time_minutes, r.completion_time, row.status,
            intOrNull(r.peak_memory_bytes), intOrNull(r.avg_memory_bytes), r.peak_cpu_percent ?? null, r.avg_cpu_percent ?? null,
            d?.failure_diagnosis ?? null, d?.diagnosis_reason ?? null, r.job_stdout ?? null, r.job_stderr ?? null,
          ];
        }),
      ),
    ],
  );
  const events = rows.flatMap((row, i) => {
    const d = diagnoses[i];
    if (!d) return [];
    const r = row.result;
    return [
      [
        row.workflow_id,
        JSON.stringify({
          job_id: row.job_id,
          name: row.name,
          run_id: row.run_id,
          attempt_id: row.attempt,
          status: statusName(row.status),
          return_code: r.return_code,
          ...d,
          peak_memory_bytes: intOrNull(r.peak_memory_bytes),
          memory_bytes: row.memory_bytes,
          exec_time_minutes: r.exec_time_minutes,
          job_stdout: r.job_stdout ?? null,
          job_stderr: r.job_stderr ?? null,
        }),
      ],
    ];
  });
  if (events.length > 0) {
    await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) SELECT value->>0, ?, 'job_failed', value->>1 FROM json_each(?)`, [
      now,
      JSON.stringify(events),
    ]);
  }
}

function intOrNull(v: number | null | undefined): number | null {
  return v === null || v === undefined ? null : Math.round(v);
}

/** Issues with the optional monitoring fields of a result (the required ones are checked by the caller). */
export function resultMonitoringIssues(result: CompleteJobResult, prefix = ''): InputIssue[] {
  const issues: InputIssue[] = [];
  const path = (f: string) => `${prefix}${f}`;
  for (const f of ['peak_memory_bytes', 'avg_memory_bytes', 'peak_cpu_percent', 'avg_cpu_percent'] as const) {
    const v = result[f];
    if (v !== undefined && v !== null && !(typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1e18)) {
      issues.push({ path: path(f), message: 'expected a number ≥ 0, or null' });
    }
  }
  const d = result.failure_diagnosis;
  if (d !== undefined && d !== null && !FAILURE_DIAGNOSES.includes(d)) {
    issues.push({ path: path('failure_diagnosis'), message: `expected one of ${FAILURE_DIAGNOSES.join(', ')}, or null` });
  }
  const reason = result.diagnosis_reason;
  if (reason !== undefined && reason !== null && !DIAGNOSIS_REASONS.has(reason)) {
    issues.push({ path: path('diagnosis_reason'), message: `expected one of ${[...DIAGNOSIS_REASONS].join(', ')}, or null` });
  }
  for (const f of ['job_stdout', 'job_stderr'] as const) {
    const v = result[f];
    if (v !== undefined && v !== null && !(typeof v === 'string' && v.length <= 4096)) issues.push({ path: path(f), message: 'expected a path (at most 4096 characters), or null' });
  }
  return issues;
}

/** Throws the monitoring issues of a result, if any. */
export function checkResultMonitoring(result: CompleteJobResult): void {
  const issues = resultMonitoringIssues(result);
  if (issues.length > 0) throw new InputError(issues);
}
