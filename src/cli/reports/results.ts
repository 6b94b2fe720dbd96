/**
 * `torc reports results` (torc's ResultsReport: each job's result with where its output went)
 * and `torc reports summary` (torc's workflow summary), plus our failed-job digest that
 * `torc reconcile` prints at its end: each unsuccessful job with its diagnosis, its stdout and
 * stderr paths and the last lines of its stderr.
 */
import type { ComputeNodeModel, ResultModel, ScheduledComputeNodeModel, WorkflowModel } from '../../api/client.js';
import type { JobRecord } from '../../contract/client.js';
import { JOB_STATUS_NAMES, type JobStatusName } from '../../contract/status.js';
import { formatSeconds, latestResults, tailLines } from './data.js';
import { stdioPaths } from '../../runners/local/process.js';
import { isFailedAllocationState, type SlurmAllocationView } from '../../runners/slurm/views.js';

/** torc's JobResultRecord, plus the attempt, the resource summary and the diagnosis. */
export interface JobResultRecord {
  job_id: number;
  job_name: string;
  status: string;
  run_id: number;
  attempt_id: number;
  return_code: number;
  completion_time: string;
  exec_time_minutes: number;
  compute_node_id: number | null;
  job_stdout?: string;
  job_stderr?: string;
  compute_node_type?: string;
  slurm_job_id?: string;
  peak_memory_bytes: number | null;
  avg_memory_bytes: number | null;
  /** The same in GiB, as torc's documentation names them. */
  peak_memory_gb: number | null;
  avg_memory_gb: number | null;
  peak_cpu_percent: number | null;
  avg_cpu_percent: number | null;
  failure_diagnosis: string | null;
  diagnosis_reason: string | null;
}

/** Bytes as GiB with 4 decimals (0.0001 GiB ≈ 107 kB), null kept. */
export function toGb(bytes: number | null): number | null {
  return bytes === null ? null : Math.round((bytes / 1024 ** 3) * 1e4) / 1e4;
}

export interface ResultsReport {
  workflow_id: number;
  workflow_name: string;
  workflow_user: string;
  all_runs: boolean;
  total_results: number;
  results: JobResultRecord[];
  /** Slurm allocations that failed (ours; torc's report has no such field). */
  failed_allocations: FailedAllocation[];
}

export function resultsReport(
  workflow: WorkflowModel,
  jobs: JobRecord[],
  results: ResultModel[],
  nodes: ComputeNodeModel[],
  options: { allRuns?: boolean; jobIds?: number[]; outputDir?: string; allocations?: ScheduledComputeNodeModel[]; slurm?: ReadonlyMap<string, SlurmAllocationView> } = {},
): ResultsReport {
  const names = new Map(jobs.map((j) => [j.id, j.name]));
  const nodesById = new Map(nodes.map((n) => [n.id, n]));
  const picked = (options.allRuns ? [...results].sort((a, b) => a.id - b.id) : latestResults(results)).filter(
    (r) => !options.jobIds?.length || options.jobIds.includes(r.job_id),
  );
  const records = picked.map((r): JobResultRecord => {
    const node = r.compute_node_id !== null ? nodesById.get(r.compute_node_id) : undefined;
    // Paths as the runner reported them; else where our runners put them under --output-dir.
    const fallback = !r.job_stdout && options.outputDir ? stdioPaths(options.outputDir, r.job_id, r.attempt_id) : null;
    return {
      job_id: r.job_id,
      job_name: names.get(r.job_id) ?? '',
      status: r.status,
      run_id: r.run_id,
      attempt_id: r.attempt_id,
      return_code: r.return_code,
      completion_time: r.completion_time,
      exec_time_minutes: r.exec_time_minutes,
      compute_node_id: r.compute_node_id,
      ...(r.job_stdout ? { job_stdout: r.job_stdout } : fallback ? { job_stdout: fallback.stdout } : {}),
      ...(r.job_stderr ? { job_stderr: r.job_stderr } : fallback ? { job_stderr: fallback.stderr } : {}),
      ...(node ? { compute_node_type: node.compute_node_type } : {}),
      ...(node?.scheduler_job_id ? { slurm_job_id: node.scheduler_job_id } : {}),
      peak_memory_bytes: r.peak_memory_bytes,
      avg_memory_bytes: r.avg_memory_bytes,
      peak_memory_gb: toGb(r.peak_memory_bytes),
      avg_memory_gb: toGb(r.avg_memory_bytes),
      peak_cpu_percent: r.peak_cpu_percent,
      avg_cpu_percent: r.avg_cpu_percent,
      failure_diagnosis: r.failure_diagnosis,
      diagnosis_reason: r.diagnosis_reason,
    };
  });
  return {
    workflow_id: workflow.id,
    workflow_name: workflow.name,
    workflow_user: workflow.user ?? '',
    all_runs: options.allRuns === true,
    total_results: records.length,
    results: records,
    failed_allocations: failedAllocations(options.allocations ?? [], options.slurm),
  };
}

/** A Slurm allocation of the workflow that ended unsuccessfully, as Slurm saw it (or, without Slurm, as torc recorded it). */
export interface FailedAllocation {
  id: number;
  slurm_job_id: string;
  scheduler_config_id: number;
  /** Slurm's final state: FAILED, TIMEOUT, NODE_FAIL, CANCELLED, OUT_OF_MEMORY, … */
  state: string;
  /** "code:signal" of the batch script; null when only torc's record was read. */
  exit_code: string | null;
  reason: string | null;
  nodes: string | null;
  start: string | null;
  end: string | null;
  /** sacct, scontrol, or torc (the state the server recorded last; Slurm not asked or forgot the job). */
  source: 'sacct' | 'scontrol' | 'torc';
}

/**
 * The allocations whose Slurm state is a failure (see FAILED_ALLOCATION_STATES): Slurm's view
 * where given (`slurm`, by Slurm job id), else the state the server recorded when it saw the
 * allocation end.
 */
export function failedAllocations(allocations: readonly ScheduledComputeNodeModel[], slurm?: ReadonlyMap<string, SlurmAllocationView>): FailedAllocation[] {
  const out: FailedAllocation[] = [];
  for (const a of allocations) {
    const id = String(a.scheduler_id);
    const v = slurm?.get(id);
    const state = v?.state ?? a.state;
    if (!isFailedAllocationState(state)) continue;
    const orNull = (s: string | null | undefined) => (s === undefined || s === null || s === '' || s === 'None' ? null : s);
    out.push({
      id: a.id,
      slurm_job_id: id,
      scheduler_config_id: a.scheduler_config_id,
      state: state.trim().split(/\s/)[0]!,
      exit_code: orNull(v?.exit_code),
      reason: orNull(v?.reason),
      nodes: orNull(v?.nodes),
      start: orNull(v?.start),
      end: orNull(v?.end),
      source: v?.source ?? 'torc',
    });
  }
  return out;
}

/** The failed allocations as text: a line each. */
export function renderFailedAllocations(failed: readonly FailedAllocation[]): string {
  return failed
    .map((f) => {
      const details = [f.exit_code !== null ? `exit ${f.exit_code}` : null, f.reason !== null ? `reason ${f.reason}` : null, f.nodes !== null ? `on ${f.nodes}` : null].filter(Boolean);
      return `✗ Slurm allocation ${f.slurm_job_id} (id ${f.id}, scheduler ${f.scheduler_config_id}) ${f.state}${details.length > 0 ? `: ${details.join(', ')}` : ''}${f.source === 'torc' ? ' (as torc recorded it)' : ''}`;
    })
    .join('\n');
}

/** One unsuccessful job: why, where its output is, how its stderr ends. */
export interface FailedJobDigest {
  job_id: number;
  job_name: string;
  status: string;
  attempt_id: number;
  return_code: number;
  failure_diagnosis: string | null;
  diagnosis_reason: string | null;
  peak_memory_bytes: number | null;
  job_stdout: string | null;
  job_stderr: string | null;
  stderr_tail: string[];
}

const UNSUCCESSFUL: readonly JobStatusName[] = ['failed', 'terminated', 'pending_failed'];

/** The jobs that ended unsuccessfully (their current status), each with its latest result. */
export function failedJobs(jobs: JobRecord[], results: ResultModel[], tail = 5): FailedJobDigest[] {
  const latest = new Map(latestResults(results).map((r) => [r.job_id, r]));
  return jobs
    .filter((j) => UNSUCCESSFUL.includes(j.status))
    .map((j) => {
      const r = latest.get(j.id);
      return {
        job_id: j.id,
        job_name: j.name,
        status: j.status,
        attempt_id: r?.attempt_id ?? j.attempt_id,
        return_code: r?.return_code ?? j.return_code ?? 0,
        failure_diagnosis: r?.failure_diagnosis ?? null,
        diagnosis_reason: r?.diagnosis_reason ?? null,
        peak_memory_bytes: r?.peak_memory_bytes ?? null,
        job_stdout: r?.job_stdout ?? null,
        job_stderr: r?.job_stderr ?? null,
        stderr_tail: r?.job_stderr ? tailLines(r.job_stderr, tail) : [],
      };
    });
}

/** The digest as text: a block per job. */
export function renderFailedJobs(failed: FailedJobDigest[]): string {
  const out: string[] = [];
  for (const f of failed) {
    const why = f.failure_diagnosis ? `${f.failure_diagnosis}${f.diagnosis_reason ? ` (${f.diagnosis_reason.replaceAll('_', ' ')})` : ''}` : 'not diagnosed';
    out.push(`✗ job ${f.job_name} (id ${f.job_id}, attempt ${f.attempt_id}) ${f.status}, return code ${f.return_code}: ${why}`);
    if (f.job_stdout) out.push(`    stdout: ${f.job_stdout}`);
    if (f.job_stderr) out.push(`    stderr: ${f.job_stderr}`);
    if (f.stderr_tail.length > 0) {
      out.push(`    last ${f.stderr_tail.length === 1 ? 'line' : `${f.stderr_tail.length} lines`} of stderr:`);
      for (const line of f.stderr_tail) out.push(`      | ${line}`);
    }
  }
  return out.join('\n');
}

/** torc's `reports summary` JSON, plus the failed jobs with their diagnosis. */
export interface WorkflowSummary {
  workflow_id: number;
  workflow_name: string;
  workflow_user: string;
  total_jobs: number;
  jobs_by_status: Record<string, number>;
  total_exec_time_minutes: number;
  total_exec_time_formatted: string;
  active_compute_nodes: number;
  pending_scheduled_nodes: number;
  active_scheduled_nodes: number;
  is_complete: boolean;
  is_canceled: boolean;
  walltime_seconds?: number;
  walltime_formatted?: string;
  failed_jobs: FailedJobDigest[];
  /** Slurm allocations that failed (FAILED, TIMEOUT, NODE_FAIL, CANCELLED, …). */
  failed_allocations: FailedAllocation[];
}

export function workflowSummary(
  workflow: WorkflowModel,
  jobs: JobRecord[],
  results: ResultModel[],
  nodes: ComputeNodeModel[],
  allocations: ScheduledComputeNodeModel[],
  status: { is_complete: boolean; is_canceled: boolean },
  slurm?: ReadonlyMap<string, SlurmAllocationView>,
): WorkflowSummary {
  const byStatus: Record<string, number> = Object.fromEntries(JOB_STATUS_NAMES.map((n) => [n, 0]));
  for (const j of jobs) byStatus[j.status]!++;
  const totalMinutes = results.reduce((a, r) => a + r.exec_time_minutes, 0);
  let first = Infinity;
  let last = -Infinity;
  for (const r of results) {
    const end = Date.parse(r.completion_time);
    if (!Number.isFinite(end)) continue;
    first = Math.min(first, end - r.exec_time_minutes * 60_000);
    last = Math.max(last, end);
  }
  const walltime = Number.isFinite(first) ? (last - first) / 1000 : null;
  return {
    workflow_id: workflow.id,
    workflow_name: workflow.name,
    workflow_user: workflow.user ?? '',
    total_jobs: jobs.length,
    jobs_by_status: byStatus,
    total_exec_time_minutes: totalMinutes,
    total_exec_time_formatted: formatSeconds(totalMinutes * 60),
    active_compute_nodes: nodes.filter((n) => n.is_active).length,
    pending_scheduled_nodes: allocations.filter((a) => a.status === 'pending').length,
    active_scheduled_nodes: allocations.filter((a) => a.status === 'active').length,
    is_complete: status.is_complete,
    is_canceled: status.is_canceled,
    ...(walltime !== null ? { walltime_seconds: walltime, walltime_formatted: formatSeconds(walltime) } : {}),
    failed_jobs: failedJobs(jobs, results),
    failed_allocations: failedAllocations(allocations, slurm),
  };
}

export function renderSummary(s: WorkflowSummary): string {
  const lines = ['Workflow Summary', '================', '', `Workflow ID: ${s.workflow_id}`, `Name: ${s.workflow_name}`, `User: ${s.workflow_user}`, ''];
  lines.push(`Job Status (total: ${s.total_jobs}):`);
  const mark: Record<string, string> = { completed: ' ✓', failed: ' ✗', terminated: ' ✗', pending_failed: ' ⏳' };
  for (const [name, n] of Object.entries(s.jobs_by_status)) if (n > 0) lines.push(`  ${`${name}:`.padEnd(16)}${n}${mark[name] ?? ''}`);
  lines.push('', `Total Execution Time: ${s.total_exec_time_formatted}`);
  if (s.walltime_formatted) lines.push(`Walltime:             ${s.walltime_formatted}`);
  if (s.active_compute_nodes + s.active_scheduled_nodes + s.pending_scheduled_nodes > 0) {
    lines.push('', 'Compute Resources:');
    if (s.active_compute_nodes > 0) lines.push(`  Active workers:            ${s.active_compute_nodes}`);
    if (s.active_scheduled_nodes > 0) lines.push(`  Active Slurm allocations:  ${s.active_scheduled_nodes}`);
    if (s.pending_scheduled_nodes > 0) lines.push(`  Pending Slurm allocations: ${s.pending_scheduled_nodes}`);
  }
  lines.push('');
  const bad = s.jobs_by_status.failed! + s.jobs_by_status.terminated! + s.jobs_by_status.canceled!;
  if (s.is_complete) {
    lines.push(
      bad > 0
        ? `✗ Workflow complete with failures (${s.jobs_by_status.failed} failed, ${s.jobs_by_status.terminated} terminated, ${s.jobs_by_status.canceled} canceled)`
        : '✓ Workflow complete - all jobs finished successfully!',
    );
  } else if (s.is_canceled) lines.push('⊘ Workflow was canceled');
  else lines.push('◷ Workflow in progress...');
  if (s.failed_jobs.length > 0) lines.push('', renderFailedJobs(s.failed_jobs));
  if (s.failed_allocations.length > 0) lines.push('', `Failed Slurm allocations (${s.failed_allocations.length}):`, renderFailedAllocations(s.failed_allocations));
  return lines.join('\n');
}
