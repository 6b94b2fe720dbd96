/**
 * torc's job_resource_samples: time-series samples of each job attempt's process tree, stored
 * as runners report them (granularity time_series). Bounded in size:
 *  - per attempt at most MAX_SAMPLES_PER_ATTEMPT rows: when a batch pushes an attempt past it,
 *    its rows are merged pairwise (mean CPU, highest memory and process count), halving them,
 *    so a long job keeps its whole timeline at a coarser step (like an RRD);
 *  - samples of runs older than the last KEEP_SAMPLE_RUNS go when the workflow is reset
 *    (dropOldSampleRuns), so re-running a workflow does not grow the table without end.
 * A row is ~60 bytes with its index entry: an attempt takes at most ~60 kB.
 */
import { InputError, NotFoundError, type InputIssue } from '../errors.js';
import type { ResourceSample } from '../contract/resources.js';
import type { Queryable, WriteTx } from './db.js';

export const MAX_SAMPLES_PER_ATTEMPT = 1000;
export const KEEP_SAMPLE_RUNS = 3;
export const MAX_SAMPLES_PER_CALL = 10_000;

export function sampleIssues(samples: unknown): InputIssue[] {
  if (!Array.isArray(samples)) return [{ path: 'samples', message: 'expected a list of samples' }];
  if (samples.length > MAX_SAMPLES_PER_CALL) return [{ path: 'samples', message: `at most ${MAX_SAMPLES_PER_CALL} samples per call, got ${samples.length}` }];
  const issues: InputIssue[] = [];
  const wholeAtLeast = (v: unknown, min: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
  const finiteAtLeast = (v: unknown, min: number) => typeof v === 'number' && Number.isFinite(v) && v >= min;
  samples.forEach((s: Partial<ResourceSample>, i) => {
    const at = (f: string) => `samples[${i}].${f}`;
    if (s === null || typeof s !== 'object') return issues.push({ path: `samples[${i}]`, message: 'expected a sample object' });
    if (!wholeAtLeast(s.job_id, 1)) issues.push({ path: at('job_id'), message: 'expected a job id' });
    if (!wholeAtLeast(s.run_id, 1)) issues.push({ path: at('run_id'), message: 'expected a run id ≥ 1' });
    if (!wholeAtLeast(s.attempt_id, 1)) issues.push({ path: at('attempt_id'), message: 'expected an attempt ≥ 1' });
    if (!finiteAtLeast(s.timestamp, 0)) issues.push({ path: at('timestamp'), message: 'expected seconds since the epoch' });
    if (!finiteAtLeast(s.cpu_percent, 0)) issues.push({ path: at('cpu_percent'), message: 'expected a number ≥ 0' });
    if (!wholeAtLeast(s.memory_bytes, 0)) issues.push({ path: at('memory_bytes'), message: 'expected a whole number of bytes ≥ 0' });
    if (!wholeAtLeast(s.num_processes, 0)) issues.push({ path: at('num_processes'), message: 'expected a whole number ≥ 0' });
    return undefined;
  });
  return issues.slice(0, 20);
}

/** Stores the samples (all of the workflow's jobs, else nothing) and thins attempts past the bound. */
export async function insertSamplesInTx(tx: WriteTx, workflowId: number, samples: ResourceSample[]): Promise<{ stored: number }> {
  const issues = sampleIssues(samples);
  if (issues.length > 0) throw new InputError(issues);
  if (samples.length === 0) return { stored: 0 };
  const jobIds = [...new Set(samples.map((s) => s.job_id))];
  const own = await tx.all<{ id: number }>('SELECT id FROM jobs WHERE workflow_id = ? AND id IN (SELECT value FROM json_each(?))', [workflowId, JSON.stringify(jobIds)]);
  if (own.length !== jobIds.length) {
    const mine = new Set(own.map((r) => r.id));
    const i = samples.findIndex((s) => !mine.has(s.job_id));
    throw new NotFoundError(`job ${samples[i]!.job_id} of workflow ${workflowId} (samples[${i}].job_id)`);
  }
  await tx.run(
    `INSERT INTO job_resource_samples (workflow_id, job_id, run_id, attempt_id, timestamp, cpu_percent, memory_bytes, num_processes)
     SELECT ?1, value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(?2)`,
    [workflowId, JSON.stringify(samples.map((s) => [s.job_id, s.run_id, s.attempt_id, s.timestamp, s.cpu_percent, s.memory_bytes, s.num_processes]))],
  );
  const keys = [...new Map(samples.map((s) => [`${s.job_id}/${s.run_id}/${s.attempt_id}`, [s.job_id, s.run_id, s.attempt_id]])).values()];
  const over = await tx.all<{ job_id: number; run_id: number; attempt_id: number }>(
    `SELECT job_id, run_id, attempt_id FROM job_resource_samples
     WHERE workflow_id = ?1 AND (job_id, run_id, attempt_id) IN (SELECT value->>0, value->>1, value->>2 FROM json_each(?2))
     GROUP BY job_id, run_id, attempt_id HAVING COUNT(*) > ?3`,
    [workflowId, JSON.stringify(keys), MAX_SAMPLES_PER_ATTEMPT],
  );
  for (const k of over) await thinAttempt(tx, workflowId, k.job_id, k.run_id, k.attempt_id);
  return { stored: samples.length };
}

type SampleRow = Omit<ResourceSample, 'job_id' | 'run_id' | 'attempt_id'>;

/** Merges the attempt's samples pairwise in time order: half as many rows, the same timeline. */
async function thinAttempt(tx: WriteTx, workflowId: number, jobId: number, runId: number, attempt: number): Promise<void> {
  const where = 'workflow_id = ? AND job_id = ? AND run_id = ? AND attempt_id = ?';
  const key = [workflowId, jobId, runId, attempt];
  const rows = await tx.all<SampleRow>(`SELECT timestamp, cpu_percent, memory_bytes, num_processes FROM job_resource_samples WHERE ${where} ORDER BY timestamp, id`, key);
  const merged = mergePairs(rows);
  await tx.run(`DELETE FROM job_resource_samples WHERE ${where}`, key);
  await tx.run(
    `INSERT INTO job_resource_samples (workflow_id, job_id, run_id, attempt_id, timestamp, cpu_percent, memory_bytes, num_processes)
     SELECT ?, ?, ?, ?, value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`,
    [...key, JSON.stringify(merged.map((s) => [s.timestamp, s.cpu_percent, s.memory_bytes, s.num_processes]))],
  );
}

/** Adjacent pairs become one sample: the first's time, mean CPU, highest memory and process count. */
export function mergePairs<T extends SampleRow>(rows: readonly T[]): SampleRow[] {
  const out: SampleRow[] = [];
  for (let i = 0; i < rows.length; i += 2) {
    const a = rows[i]!;
    const b = rows[i + 1];
    out.push(
      b
        ? {
            timestamp: a.timestamp,
            cpu_percent: (a.cpu_percent + b.cpu_percent) / 2,
            memory_bytes: Math.max(a.memory_bytes, b.memory_bytes),
            num_processes: Math.max(a.num_processes, b.num_processes),
          }
        : { timestamp: a.timestamp, cpu_percent: a.cpu_percent, memory_bytes: a.memory_bytes, num_processes: a.num_processes },
    );
  }
  return out;
}

/** Drops the samples of runs before the last KEEP_SAMPLE_RUNS (call when the run id moves on). */
export async function dropOldSampleRuns(tx: WriteTx, workflowId: number, currentRunId: number): Promise<void> {
  await tx.run('DELETE FROM job_resource_samples WHERE workflow_id = ? AND run_id <= ?', [workflowId, currentRunId - KEEP_SAMPLE_RUNS]);
}

export interface SampleFilter {
  job_id?: number;
  run_id?: number;
  attempt_id?: number;
}

export async function listSamples(
  q: Queryable,
  workflowId: number,
  filter: SampleFilter,
  offset: number,
  limit: number,
): Promise<{ items: ResourceSample[]; total: number }> {
  const where = ['workflow_id = ?'];
  const params: number[] = [workflowId];
  for (const f of ['job_id', 'run_id', 'attempt_id'] as const) {
    if (filter[f] !== undefined) {
      where.push(`${f} = ?`);
      params.push(filter[f]!);
    }
  }
  const cond = where.join(' AND ');
  const items = await q.all<ResourceSample>(
    `SELECT job_id, run_id, attempt_id, timestamp, cpu_percent, memory_bytes, num_processes FROM job_resource_samples
     WHERE ${cond} ORDER BY job_id, run_id, attempt_id, timestamp, id LIMIT ? OFFSET ?`,
    [...params, limit, offset],
  );
  const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM job_resource_samples WHERE ${cond}`, params);
  return { items, total: total!.n };
}
