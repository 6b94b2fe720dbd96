/**
 * Store records → the API's JSON models (torc's field names where torc has them; ours beside).
 */
import { computeStatus, type WorkflowStatusView } from '../contract/workflow-status.js';
import type { WorkflowProgress } from '../contract/client.js';
import { formatDuration, formatMemory } from '../spec/units.js';
import { waitForHealthyDatabaseMinutes } from '../spec/plan.js';
import type {
  ActionRecord,
  ComputeNodeRecord,
  Page,
  ResourceRequirementsRecord,
  ResultRecord,
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

export function workflowView(w: WorkflowRecord) {
  const s = w.settings;
  return {
    id: w.id,
    name: w.name,
    user: w.user,
    description: w.description,
    timestamp: w.created_at,
    run_id: w.run_id,
    is_canceled: w.status === 'canceled',
    jobs_sort_method: s.jobs_sort_method,
    use_pending_failed: s.use_pending_failed,
    compute_node_expiration_buffer_seconds: s.compute_node_expiration_buffer_seconds,
    compute_node_wait_for_new_jobs_seconds: s.compute_node_wait_for_new_jobs_seconds,
    compute_node_ignore_workflow_completion: s.compute_node_ignore_workflow_completion,
    compute_node_wait_for_healthy_database_minutes: waitForHealthyDatabaseMinutes(s),
    schedule: s.schedule ?? null,
    default_image: s.default_image ?? null,
    resource_monitor_config: s.resource_monitor === null || s.resource_monitor === undefined ? null : JSON.stringify(s.resource_monitor),
    spec_hash: w.spec_hash,
    k8s_namespace: w.k8s_namespace,
    k8s_name: w.k8s_name,
    k8s_uid: w.k8s_uid,
  };
}

export type WorkflowStatusModel = WorkflowStatusView & {
  id: number;
  run_id: number;
  is_canceled: boolean;
  is_archived: boolean;
  is_complete: boolean;
  /** Running jobs a user asked to cancel (their runners terminate them); only when there are some. */
  cancel_requested_job_ids?: number[];
};

/** torc's workflow_status_model plus the phase, counts and conditions every other view shows. */
export function workflowStatusView(p: WorkflowProgress): WorkflowStatusModel {
  const view = computeStatus({ counts: p.counts, canceled: p.is_canceled });
  const model: WorkflowStatusModel = { id: p.workflow_id, run_id: p.run_id, is_canceled: p.is_canceled, is_archived: false, is_complete: p.is_complete, ...view };
  if (p.cancel_requested_job_ids?.length) model.cancel_requested_job_ids = p.cancel_requested_job_ids;
  return model;
}

export function computeNodeView(n: ComputeNodeRecord) {
  return { ...n, start_time: n.created_at };
}

export function resultView(r: ResultRecord) {
  return { ...r, attempt_id: r.attempt };
}

export function resourceRequirementsView(r: ResourceRequirementsRecord) {
  return { ...r, memory: formatMemory(r.memory_bytes), runtime: formatDuration(r.runtime_seconds) };
}

/** torc's workflow_action_model (its settings under action_config), with our trigger state. */
export function actionView(a: ActionRecord, runId: number) {
  return {
    id: a.id,
    workflow_id: a.workflow_id,
    trigger_type: a.trigger_type,
    action_type: a.action_type,
    action_config: {
      commands: a.commands,
      scheduler_id: a.scheduler_id,
      scheduler_type: a.scheduler_type,
      num_allocations: a.num_allocations,
      start_one_worker_per_node: a.start_one_worker_per_node,
      max_parallel_jobs: a.max_parallel_jobs,
    },
    job_ids: a.job_ids,
    persistent: a.persistent,
    triggered: a.triggered_run_id === runId,
    triggered_at: a.triggered_run_id === runId ? a.triggered_at : null,
    executed: a.executed,
    executed_at: a.executed_at,
    executed_by: a.executed_by,
  };
}

export type WorkflowActionModel = ReturnType<typeof actionView>;

