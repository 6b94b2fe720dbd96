/**
 * What the store returns: plain records with torc's snake_case field names, and the mappers
 * from SQLite rows (integers for booleans, JSON text) to them.
 */
import type { PlanFailureRule, PlanSettings, ResourceNeed } from '../spec/plan.js';
import type { ComputeNodeRegistration, JobRecord } from '../contract/client.js';
import { statusName, type JobStatusName } from '../contract/status.js';
import type { DiagnosisReason, FailureDiagnosis } from '../contract/resources.js';

export type { JobRecord };

export interface Page<T> {
  items: T[];
  /** All matching rows, not only this page. */
  total: number;
}

export interface PageOptions {
  offset?: number;
  limit?: number;
}

export type WorkflowState = 'active' | 'canceled';

export interface WorkflowRecord {
  id: number;
  name: string;
  user: string | null;
  description: string | null;
  k8s_namespace: string | null;
  k8s_name: string | null;
  k8s_uid: string | null;
  spec_hash: string | null;
  /** Incremented by resetStatus; start/complete calls must carry the current one. */
  run_id: number;
  status: WorkflowState;
  settings: PlanSettings;
  created_at: string;
}

/** Where a workflow came from, when a Kubernetes custom resource declared it. */
export interface WorkflowMeta {
  k8s_namespace?: string | null;
  k8s_name?: string | null;
  k8s_uid?: string | null;
}

export interface ResourceRequirementsRecord extends ResourceNeed {
  id: number;
  workflow_id: number;
  name: string;
  /** The job whose own (raised) requirements these are, or null for a declared entry. */
  job_id: number | null;
}

export interface SlurmSchedulerRecord {
  id: number;
  workflow_id: number;
  name: string;
  account: string | null;
  partition: string | null;
  nodes: number;
  walltime: string;
  mem: string | null;
  gres: string | null;
  qos: string | null;
  ntasks_per_node: number | null;
  tmp: string | null;
  extra: string | null;
}

export interface FailureHandlerRecord {
  id: number;
  workflow_id: number;
  name: string;
  rules: PlanFailureRule[];
}

export interface FileRecord {
  id: number;
  workflow_id: number;
  name: string;
  path: string;
  /** Seconds since the epoch when a job produced it, else null. */
  st_mtime: number | null;
}

export interface UserDataRecord {
  id: number;
  workflow_id: number;
  name: string;
  data: unknown;
  is_ephemeral: boolean;
}

/** A registered compute node: what it registered with (scheduler_job_id null outside an allocation), and its lease. */
export interface ComputeNodeRecord extends Required<ComputeNodeRegistration> {
  id: number;
  workflow_id: number;
  last_heartbeat_ms: number;
  lease_expires_ms: number;
  is_active: boolean;
  created_at: string;
}

export interface ResultRecord {
  id: number;
  workflow_id: number;
  job_id: number;
  run_id: number;
  attempt_id: number;
  compute_node_id: number | null;
  return_code: number;
  exec_time_minutes: number;
  completion_time: string;
  status: JobStatusName;
  peak_memory_bytes: number | null;
  avg_memory_bytes: number | null;
  peak_cpu_percent: number | null;
  avg_cpu_percent: number | null;
  failure_diagnosis: FailureDiagnosis | null;
  diagnosis_reason: DiagnosisReason | null;
  job_stdout: string | null;
  job_stderr: string | null;
}

export interface EventRecord {
  id: number;
  workflow_id: number;
  /** Milliseconds since the epoch (torc's event timestamp). */
  timestamp: number;
  category: string;
  data: unknown;
}

export interface ActionRecord {
  id: number;
  workflow_id: number;
  trigger_type: string;
  action_type: string;
  job_ids: number[];
  commands: string[];
  scheduler_id: number | null;
  scheduler_type: string | null;
  num_allocations: number;
  start_one_worker_per_node: boolean;
  max_parallel_jobs: number | null;
  persistent: boolean;
  /** Claimed in the current run (for a persistent action: by someone). */
  executed: boolean;
  claimed_by_compute_node_id: number | null;
  /** The run in which its trigger fired, or null when it has not fired in the current run. */
  triggered_run_id: number | null;
  triggered_at: string | null;
  executed_at: string | null;
  /** Who claimed it last (a compute node or a reconciler). */
  executed_by: string | null;
}

type R = Record<string, unknown>;

const bool = (v: unknown) => v === 1 || v === true;
const json = (v: unknown) => (v === null || v === undefined ? null : JSON.parse(String(v)));

export const JOB_COLUMNS = `id, workflow_id, name, command, invocation_script, status, attempt,
  resource_requirements_id, scheduler_id, failure_handler_id, cancel_on_blocking_job_failure,
  supports_termination, image, env, return_code, compute_node_id`;

export function toJob(r: R): JobRecord {
  return {
    id: r.id as number,
    workflow_id: r.workflow_id as number,
    name: r.name as string,
    command: r.command as string,
    invocation_script: (r.invocation_script as string | null) ?? null,
    status: statusName(r.status as number),
    attempt_id: r.attempt as number,
    resource_requirements_id: (r.resource_requirements_id as number | null) ?? null,
    scheduler_id: (r.scheduler_id as number | null) ?? null,
    failure_handler_id: (r.failure_handler_id as number | null) ?? null,
    cancel_on_blocking_job_failure: bool(r.cancel_on_blocking_job_failure),
    supports_termination: bool(r.supports_termination),
    image: (r.image as string | null) ?? null,
    env: json(r.env) as Record<string, string> | null,
    return_code: (r.return_code as number | null) ?? null,
    compute_node_id: (r.compute_node_id as number | null) ?? null,
  };
}

export function toWorkflow(r: R): WorkflowRecord {
  return {
    id: r.id as number,
    name: r.name as string,
    user: (r.user as string | null) ?? null,
    description: (r.description as string | null) ?? null,
    k8s_namespace: (r.k8s_namespace as string | null) ?? null,
    k8s_name: (r.k8s_name as string | null) ?? null,
    k8s_uid: (r.k8s_uid as string | null) ?? null,
    spec_hash: (r.spec_hash as string | null) ?? null,
    run_id: r.run_id as number,
    status: r.status as WorkflowState,
    settings: json(r.settings) as PlanSettings,
    created_at: r.created_at as string,
  };
}

export function toFailureHandler(r: R): FailureHandlerRecord {
  return { id: r.id as number, workflow_id: r.workflow_id as number, name: r.name as string, rules: json(r.rules) };
}

export function toUserData(r: R): UserDataRecord {
  return {
    id: r.id as number,
    workflow_id: r.workflow_id as number,
    name: r.name as string,
    data: json(r.data),
    is_ephemeral: bool(r.is_ephemeral),
  };
}

export function toComputeNode(r: R): ComputeNodeRecord {
  const { active, ...rest } = r;
  return { ...(rest as Omit<ComputeNodeRecord, 'is_active'>), is_active: bool(active) };
}

export function toResult(r: R): ResultRecord {
  return {
    id: r.id as number,
    workflow_id: r.workflow_id as number,
    job_id: r.job_id as number,
    run_id: r.run_id as number,
    attempt_id: r.attempt as number,
    compute_node_id: (r.compute_node_id as number | null) ?? null,
    return_code: r.return_code as number,
    exec_time_minutes: r.exec_time_minutes as number,
    completion_time: r.completion_time as string,
    status: statusName(r.status as number),
    peak_memory_bytes: (r.peak_memory_bytes as number | null) ?? null,
    avg_memory_bytes: (r.avg_memory_bytes as number | null) ?? null,
    peak_cpu_percent: (r.peak_cpu_percent as number | null) ?? null,
    avg_cpu_percent: (r.avg_cpu_percent as number | null) ?? null,
    failure_diagnosis: (r.failure_diagnosis as FailureDiagnosis | null) ?? null,
    diagnosis_reason: (r.diagnosis_reason as DiagnosisReason | null) ?? null,
    job_stdout: (r.job_stdout as string | null) ?? null,
    job_stderr: (r.job_stderr as string | null) ?? null,
  };
}

/** Event times are stored as ISO 8601 text (sortable, readable in the file) and shown as epoch ms. */
export function toEvent(r: R): EventRecord {
  return {
    id: r.id as number,
    workflow_id: r.workflow_id as number,
    timestamp: Date.parse(r.timestamp as string),
    category: r.category as string,
    data: json(r.data),
  };
}

export function toAction(r: R): ActionRecord {
  return {
    id: r.id as number,
    workflow_id: r.workflow_id as number,
    trigger_type: r.trigger_type as string,
    action_type: r.action_type as string,
    job_ids: json(r.job_ids) as number[],
    commands: json(r.commands) as string[],
    scheduler_id: (r.scheduler_id as number | null) ?? null,
    scheduler_type: (r.scheduler_type as string | null) ?? null,
    num_allocations: r.num_allocations as number,
    start_one_worker_per_node: bool(r.start_one_worker_per_node),
    max_parallel_jobs: (r.max_parallel_jobs as number | null) ?? null,
    persistent: bool(r.persistent),
    executed: bool(r.executed),
    claimed_by_compute_node_id: (r.claimed_by_compute_node_id as number | null) ?? null,
    triggered_run_id: (r.triggered_run_id as number | null) ?? null,
    triggered_at: (r.triggered_at as string | null) ?? null,
    executed_at: (r.executed_at as string | null) ?? null,
    executed_by: (r.executed_by as string | null) ?? null,
  };
}
