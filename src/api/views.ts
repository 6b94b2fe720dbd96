/**
 * Store records → the API's JSON models: torc's models (its field names, string job statuses,
 * `attempt_id`, epoch-ms event times, memory and runtime as torc writes them) with our fields
 * beside. As torc's server does, a field that is not set (null) is left out rather than sent
 * as null; the HTTP client (api/client.ts) restores the nulls the contract's types promise.
 */
import type { ClaimResponse, ClaimedJobRecord, JobRecord, WorkflowProgress } from '../contract/client.js';
import { computeStatus, type WorkflowStatusView } from '../contract/workflow-status.js';
import { formatDuration, formatMemory } from '../spec/units.js';
import { waitForHealthyDatabaseMinutes } from '../spec/plan.js';
import type {
  ActionRecord,
  ComputeNodeRecord,
  EventRecord,
  FailureHandlerRecord,
  FileRecord,
  LocalSchedulerRecord,
  Page,
  ResourceRequirementsRecord,
  ResultRecord,
  SlurmSchedulerRecord,
  UserDataRecord,
  WorkflowRecord,
} from '../store/index.js';
import { MAX_PAGE_LIMIT } from '../store/index.js';

export interface PageView<T> {
  items: T[];
  offset: number;
  limit: number;
  total_count: number;
  has_more: boolean;
  /** torc's names for the page size and the largest allowed limit. */
  count: number;
  max_limit: number;
}

export function pageView<R, T>(page: Page<R>, offset: number, limit: number, map: (r: R) => T): PageView<T> {
  return {
    items: page.items.map(map),
    offset,
    limit,
    total_count: page.total,
    has_more: offset + page.items.length < page.total,
    count: page.items.length,
    max_limit: MAX_PAGE_LIMIT,
  };
}

/** Pages an already complete list (definitions are few per workflow). */
export function pageOfList<T>(all: T[], offset: number, limit: number): Page<T> {
  return { items: all.slice(offset, offset + limit), total: all.length };
}

type Compacted<T> = { [K in keyof T]: Exclude<T[K], null> | (null extends T[K] ? undefined : never) };

/** Leaves out null and undefined fields, as torc's server does with unset optional fields. */
export function omitNulls<T extends object>(o: T): Compacted<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Compacted<T>;
}

export function workflowView(w: WorkflowRecord) {
  const s = w.settings;
  return omitNulls({
    id: w.id,
    name: w.name,
    // torc requires a user; a workflow stored without one shows ''.
    user: w.user ?? '',
    description: w.description,
    timestamp: w.created_at,
    compute_node_expiration_buffer_seconds: s.compute_node_expiration_buffer_seconds,
    compute_node_wait_for_new_jobs_seconds: s.compute_node_wait_for_new_jobs_seconds,
    compute_node_ignore_workflow_completion: s.compute_node_ignore_workflow_completion,
    compute_node_wait_for_healthy_database_minutes: waitForHealthyDatabaseMinutes(s),
    compute_node_min_time_for_new_jobs_seconds: s.compute_node_min_time_for_new_jobs_seconds ?? 300,
    jobs_sort_method: s.jobs_sort_method,
    resource_monitor_config: s.resource_monitor === null || s.resource_monitor === undefined ? null : JSON.stringify(s.resource_monitor),
    slurm_defaults: s.slurm_defaults === null || s.slurm_defaults === undefined ? null : JSON.stringify(s.slurm_defaults),
    use_pending_failed: s.use_pending_failed,
    // torc's workflow_status row is one per workflow: its id is the workflow's.
    status_id: w.id,
    // Ours:
    run_id: w.run_id,
    is_canceled: w.status === 'canceled',
    schedule: s.schedule ?? null,
    default_image: s.default_image ?? null,
    working_dir: s.working_dir ?? null,
    spec_hash: w.spec_hash,
    k8s_namespace: w.k8s_namespace,
    k8s_name: w.k8s_name,
    k8s_uid: w.k8s_uid,
  });
}

export type WorkflowStatusModel = WorkflowStatusView & {
  id: number;
  run_id: number;
  is_canceled: boolean;
  is_archived: boolean;
  is_complete: boolean;
  has_detected_need_to_run_completion_script: boolean;
  /** Running jobs a user asked to cancel (their runners terminate them); only when there are some. */
  cancel_requested_job_ids?: number[];
};

/** torc's workflow_status_model plus the phase, counts and conditions every other view shows. */
export function workflowStatusView(p: WorkflowProgress): WorkflowStatusModel {
  const view = computeStatus({ counts: p.counts, canceled: p.is_canceled });
  const model: WorkflowStatusModel = {
    id: p.workflow_id,
    run_id: p.run_id,
    is_canceled: p.is_canceled,
    is_archived: p.is_archived ?? false,
    has_detected_need_to_run_completion_script: false,
    is_complete: p.is_complete,
    ...view,
  };
  if (p.cancel_requested_job_ids?.length) model.cancel_requested_job_ids = p.cancel_requested_job_ids;
  return model;
}

/** torc's job_model (with its id lists when the caller read them) plus our fields. */
export function jobView(j: JobRecord) {
  return omitNulls(j);
}

export function claimResponseView(r: ClaimResponse) {
  return omitNulls({ jobs: r.jobs.map((j: ClaimedJobRecord) => omitNulls(j)), reason: r.reason });
}

export function computeNodeView(n: ComputeNodeRecord) {
  return omitNulls({ ...n, start_time: n.created_at });
}

/** torc's result_model requires a compute node: a result without one (its node deleted) shows 0, which names none (ids start at 1). */
export function resultView(r: ResultRecord) {
  return omitNulls({ ...r, compute_node_id: r.compute_node_id ?? 0 });
}

/**
 * torc's event_model: `data` is an object (any other value is wrapped as {value}) that also
 * carries the category, since torc's clients read nothing else; the category is beside it too.
 */
export function eventView(e: EventRecord) {
  const given = e.data !== null && typeof e.data === 'object' && !Array.isArray(e.data) ? (e.data as Record<string, unknown>) : e.data === null ? {} : { value: e.data };
  return { id: e.id, workflow_id: e.workflow_id, timestamp: e.timestamp, category: e.category, data: { category: e.category, ...given } };
}

export function resourceRequirementsView(r: ResourceRequirementsRecord) {
  return omitNulls({ ...r, memory: formatMemory(r.memory_bytes), runtime: formatDuration(r.runtime_seconds) });
}

/** torc requires an account; one declared without shows ''. */
export function slurmSchedulerView(s: SlurmSchedulerRecord) {
  return omitNulls({ ...s, account: s.account ?? '' });
}

export function localSchedulerView(l: LocalSchedulerRecord) {
  return omitNulls(l);
}

export function fileView(f: FileRecord) {
  return omitNulls(f);
}

export function userDataView(u: UserDataRecord) {
  return omitNulls(u);
}

/** torc's failure_handler_model: the rules as a JSON string (runners parse it, as torc's do). */
export function failureHandlerView(h: FailureHandlerRecord) {
  return { id: h.id, workflow_id: h.workflow_id, name: h.name, rules: JSON.stringify(h.rules) };
}

/** torc's workflow_action_model (its settings under action_config), with our trigger state. */
export function actionView(a: ActionRecord, runId: number) {
  return omitNulls({
    id: a.id,
    workflow_id: a.workflow_id,
    trigger_type: a.trigger_type,
    action_type: a.action_type,
    action_config: omitNulls({
      commands: a.commands,
      scheduler_id: a.scheduler_id,
      scheduler_type: a.scheduler_type,
      num_allocations: a.num_allocations,
      start_one_worker_per_node: a.start_one_worker_per_node,
      max_parallel_jobs: a.max_parallel_jobs,
    }),
    job_ids: a.job_ids,
    persistent: a.persistent,
    executed: a.executed,
    executed_at: a.executed_at,
    // torc's executed_by is the claiming compute node; `claimed_by` names any claimer.
    executed_by: a.claimed_by_compute_node_id,
    claimed_by: a.executed_by,
    triggered: a.triggered_run_id === runId,
    triggered_at: a.triggered_run_id === runId ? a.triggered_at : null,
  });
}

export type WorkflowActionModel = ReturnType<typeof actionView>;
