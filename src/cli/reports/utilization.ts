/**
 * `torc reports check-resource-utilization`: torc's report (its `violations` JSON shape: jobs
 * whose peak memory, peak CPU or run time went over what they asked for; with --include-failed
 * the failed jobs with their diagnosis), plus ours: the resource classes whose jobs use under
 * half of what they ask (`under_utilization`), and with --suggest new requirements per class
 * from the measured peaks (the allocator's right-sizing policy).
 */
import { suggestRequirements, underUse, type ClassUsage, type Suggestion, type UnderUse } from '../../allocator/right-size.js';
import type { JobRecord } from '../../contract/client.js';
import type { JobStatusName } from '../../contract/status.js';
import { formatDuration, formatMemory } from '../../spec/units.js';
import type { ResourceRequirementsModel, ResultModel } from '../../api/client.js';
import { declaredClass, formatMemoryBytes, formatSeconds, latestResults } from './data.js';

export interface UtilizationInput {
  workflow_id: number;
  run_id: number | null;
  jobs: JobRecord[];
  results: ResultModel[];
  requirements: ResourceRequirementsModel[];
  /** Rows for jobs within their requirements too (torc's --all). */
  all?: boolean;
  includeFailed?: boolean;
  suggest?: boolean;
}

/** torc's ResourceViolation. */
export interface Violation {
  job_id: number;
  job_name: string;
  resource_type: 'Memory' | 'CPU' | 'Runtime';
  specified: string;
  peak_used: string;
  over_utilization: string;
}

/** torc's FailedJobInfo (optional fields left out when unknown, as torc does). */
export interface FailedJobInfo {
  job_id: number;
  job_name: string;
  return_code: number;
  exec_time_minutes: number;
  configured_memory: string;
  configured_runtime: string;
  configured_cpus: number;
  peak_memory_bytes?: number;
  peak_memory_formatted?: string;
  likely_oom?: boolean;
  oom_reason?: string;
  memory_over_utilization?: string;
  likely_timeout?: boolean;
  timeout_reason?: string;
  runtime_utilization?: string;
  /** Ours: the stored diagnosis as it is, and where the attempt's output went. */
  failure_diagnosis?: string;
  job_stdout?: string;
  job_stderr?: string;
}

export interface UnderUseRow {
  resource_class: string;
  resource_type: UnderUse['resource_type'];
  jobs: number;
  specified: string;
  peak_used: string;
  utilization: string;
}

export interface SuggestionRow {
  resource_class: string;
  jobs: number;
  current: { num_cpus: number; memory: string; runtime: string };
  suggested: { num_cpus: number; memory: string; runtime: string };
  changed: Suggestion['changed'];
  basis: { peak_memory: string | null; peak_cpu_percent: number | null; exec_time: string | null };
}

export interface UtilizationReport {
  workflow_id: number;
  run_id?: number;
  total_results: number;
  over_utilization_count: number;
  violations: Violation[];
  failed_jobs_count?: number;
  failed_jobs?: FailedJobInfo[];
  under_utilization_count: number;
  under_utilization: UnderUseRow[];
  suggestions?: SuggestionRow[];
}

const pct = (v: number) => `${v >= 0 ? '+' : '-'}${Math.abs(v).toFixed(1)}%`;

export function utilizationReport(input: UtilizationInput): UtilizationReport {
  const jobsById = new Map(input.jobs.map((j) => [j.id, j]));
  const rrById = new Map(input.requirements.map((r) => [r.id, r]));
  const statuses: JobStatusName[] = input.includeFailed ? ['completed', 'failed', 'terminated'] : ['completed'];
  const results = latestResults(input.results, input.run_id).filter((r) => statuses.includes(r.status));
  const violations: Violation[] = [];
  const failed: FailedJobInfo[] = [];
  for (const r of results) {
    const job = jobsById.get(r.job_id);
    const rr = job?.resource_requirements_id != null ? rrById.get(job.resource_requirements_id) : undefined;
    if (!job || !rr) continue;
    if (r.status !== 'completed') failed.push(failedJobInfo(job, rr, r));
    const row = (resource_type: Violation['resource_type'], specified: string, used: string, ratio: number) => {
      const over = ratio > 1;
      if (over || input.all) violations.push({ job_id: job.id, job_name: job.name, resource_type, specified, peak_used: used, over_utilization: pct(over ? (ratio - 1) * 100 : -(1 - ratio) * 100) });
    };
    if (r.peak_memory_bytes != null && rr.memory_bytes > 0) {
      row('Memory', formatMemoryBytes(rr.memory_bytes), formatMemoryBytes(r.peak_memory_bytes), r.peak_memory_bytes / rr.memory_bytes);
    }
    if (r.peak_cpu_percent != null && rr.num_cpus > 0) {
      const specified = 100 * rr.num_cpus;
      row('CPU', `${specified.toFixed(0)}% (${rr.num_cpus} cores)`, `${r.peak_cpu_percent.toFixed(1)}%`, r.peak_cpu_percent / specified);
    }
    if (rr.runtime_seconds > 0) {
      const secs = r.exec_time_minutes * 60;
      row('Runtime', formatSeconds(rr.runtime_seconds), formatSeconds(secs), secs / rr.runtime_seconds);
    }
  }
  const usages = classUsages(input.jobs, input.requirements, latestResults(input.results, input.run_id));
  const under = usages.flatMap((u) => underUse(u)).map(underUseRow);
  const report: UtilizationReport = {
    workflow_id: input.workflow_id,
    ...(input.run_id !== null ? { run_id: input.run_id } : {}),
    total_results: results.length,
    over_utilization_count: violations.filter((v) => v.over_utilization.startsWith('+')).length,
    violations,
    ...(failed.length > 0 ? { failed_jobs_count: failed.length, failed_jobs: failed } : {}),
    under_utilization_count: under.length,
    under_utilization: under,
  };
  if (input.suggest) {
    report.suggestions = usages.flatMap((u) => {
      const s = suggestRequirements(u);
      return s ? [suggestionRow(u, s)] : [];
    });
  }
  return report;
}

/** Per declared resource class: what its completed jobs used (their latest completed attempt each). */
export function classUsages(jobs: JobRecord[], requirements: ResourceRequirementsModel[], latest: ResultModel[]): ClassUsage[] {
  const rrById = new Map(requirements.map((r) => [r.id, r]));
  const declared = new Map(requirements.filter((r) => r.job_id == null).map((r) => [r.name, r]));
  const resultOf = new Map(latest.filter((r) => r.status === 'completed').map((r) => [r.job_id, r]));
  const byClass = new Map<string, ClassUsage>();
  for (const job of jobs) {
    const r = resultOf.get(job.id);
    const rr = job.resource_requirements_id != null ? rrById.get(job.resource_requirements_id) : undefined;
    if (!r || !rr) continue;
    const name = declaredClass(rr);
    const base = declared.get(name) ?? rr;
    let u = byClass.get(name);
    if (!u) {
      u = { name, requested: { num_cpus: base.num_cpus, memory_bytes: base.memory_bytes, runtime_seconds: base.runtime_seconds }, peak_memory_bytes: [], peak_cpu_percent: [], exec_seconds: [] };
      byClass.set(name, u);
    }
    if (r.peak_memory_bytes != null) u.peak_memory_bytes.push(r.peak_memory_bytes);
    if (r.peak_cpu_percent != null) u.peak_cpu_percent.push(r.peak_cpu_percent);
    u.exec_seconds.push(r.exec_time_minutes * 60);
  }
  return [...byClass.values()];
}

function failedJobInfo(job: JobRecord, rr: ResourceRequirementsModel, r: ResultModel): FailedJobInfo {
  const info: FailedJobInfo = {
    job_id: job.id,
    job_name: job.name,
    return_code: r.return_code,
    exec_time_minutes: r.exec_time_minutes,
    configured_memory: rr.memory,
    configured_runtime: rr.runtime,
    configured_cpus: rr.num_cpus,
  };
  if (r.peak_memory_bytes != null) {
    info.peak_memory_bytes = r.peak_memory_bytes;
    info.peak_memory_formatted = formatMemoryBytes(r.peak_memory_bytes);
    if (rr.memory_bytes > 0 && r.peak_memory_bytes > rr.memory_bytes) info.memory_over_utilization = pct((r.peak_memory_bytes / rr.memory_bytes - 1) * 100);
  }
  if (r.failure_diagnosis === 'likely_oom') {
    info.likely_oom = true;
    if (r.diagnosis_reason) info.oom_reason = r.diagnosis_reason;
  }
  if (r.failure_diagnosis === 'likely_timeout') {
    info.likely_timeout = true;
    if (r.diagnosis_reason) info.timeout_reason = r.diagnosis_reason;
  }
  if (rr.runtime_seconds > 0) info.runtime_utilization = `${(((r.exec_time_minutes * 60) / rr.runtime_seconds) * 100).toFixed(1)}%`;
  if (r.failure_diagnosis) info.failure_diagnosis = r.failure_diagnosis;
  if (r.job_stdout) info.job_stdout = r.job_stdout;
  if (r.job_stderr) info.job_stderr = r.job_stderr;
  return info;
}

function underUseRow(u: UnderUse): UnderUseRow {
  const show = (v: number) => (u.resource_type === 'Memory' ? formatMemoryBytes(v) : u.resource_type === 'CPU' ? `${v.toFixed(1)}%` : formatSeconds(v));
  return { resource_class: u.name, resource_type: u.resource_type, jobs: u.jobs, specified: show(u.specified), peak_used: show(u.used), utilization: `${(u.share * 100).toFixed(1)}%` };
}

function suggestionRow(u: ClassUsage, s: Suggestion): SuggestionRow {
  const r = u.requested;
  return {
    resource_class: u.name,
    jobs: s.jobs,
    current: { num_cpus: r.num_cpus, memory: formatMemory(r.memory_bytes), runtime: formatDuration(r.runtime_seconds) },
    suggested: { num_cpus: s.num_cpus, memory: formatMemory(s.memory_bytes), runtime: formatDuration(s.runtime_seconds) },
    changed: s.changed,
    basis: {
      peak_memory: s.basis.peak_memory_bytes === null ? null : formatMemoryBytes(s.basis.peak_memory_bytes),
      peak_cpu_percent: s.basis.peak_cpu_percent,
      exec_time: s.basis.exec_seconds === null ? null : formatSeconds(s.basis.exec_seconds),
    },
  };
}

