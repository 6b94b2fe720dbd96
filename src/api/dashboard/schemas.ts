/**
 * JSON schemas of the dashboard routes' answers (published in the OpenAPI document's
 * components beside the API's own; the OpenAPI walk test checks every answer against them).
 */
import type { JsonSchema } from '../validate.js';

const int: JsonSchema = { type: 'integer' };
const num: JsonSchema = { type: 'number' };
const str: JsonSchema = { type: 'string' };
const bool: JsonSchema = { type: 'boolean' };
const nullable = (s: JsonSchema): JsonSchema => ({ anyOf: [s, { type: 'null' }] });
const obj = (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties)): JsonSchema => ({ type: 'object', properties, required });
const arr = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
const statusName: JsonSchema = { $ref: '#/components/schemas/job_status_name' };
const countsSchema: JsonSchema = { type: 'object', additionalProperties: { type: 'integer' }, description: 'Jobs by status name' };
const page = (item: JsonSchema) => obj({ items: arr(item), offset: int, limit: int, total_count: int, has_more: bool });

const workflowSummary: Record<string, JsonSchema> = {
  id: int,
  name: str,
  user: nullable(str),
  description: nullable(str),
  created_ms: nullable(int),
  run_id: int,
  is_canceled: bool,
  k8s_namespace: nullable(str),
  k8s_name: nullable(str),
  phase: { type: 'string', enum: ['Pending', 'Running', 'Succeeded', 'Failed', 'Canceled'] },
  total: int,
  done: int,
  counts: countsSchema,
  conditions: arr(obj({ type: str, status: str, reason: str, message: str, lastTransitionTime: str })),
  started_ms: nullable(int),
  ended_ms: nullable(int),
  elapsed_ms: nullable(int),
  compute_nodes: int,
  active_compute_nodes: int,
};
/** A result's resource summary (torc's ResultModel fields) and diagnosis; null when not measured / not failed. */
const usageSummary: Record<string, JsonSchema> = {
  peak_memory_bytes: nullable(int), avg_memory_bytes: nullable(int), peak_cpu_percent: nullable(num), avg_cpu_percent: nullable(num), failure_diagnosis: nullable(str),
};
const eventSchema = obj({ id: int, workflow_id: int, timestamp_ms: nullable(int), category: str, data: {} });

export const DASHBOARD_SCHEMAS: Record<string, JsonSchema> = {
  job_status_name: {
    type: 'string',
    enum: ['uninitialized', 'blocked', 'ready', 'pending', 'running', 'completed', 'failed', 'canceled', 'terminated', 'disabled', 'pending_failed'],
  },
  dashboard_config: obj({ version: str, auth_required: bool, users: bool, public_read: bool, resource_monitoring: bool, api_base: str }),
  dashboard_workflow_summary: obj(workflowSummary),
  dashboard_workflow_page: page({ $ref: '#/components/schemas/dashboard_workflow_summary' }),
  dashboard_workflow: obj({
    ...workflowSummary,
    settings: obj({ jobs_sort_method: str, use_pending_failed: bool, schedule: nullable(str), resource_monitor: {} }),
    compute_node_list: arr(
      obj({ id: int, hostname: str, compute_node_type: str, num_cpus: int, memory_gb: num, num_gpus: int, is_active: bool, started_ms: nullable(int), scheduler_job_id: nullable(str) }),
    ),
    recent_events: arr(eventSchema),
    recent_failures: arr(obj({ result_id: int, job_id: int, name: str, attempt_id: int, status: statusName, return_code: int, completion_ms: nullable(int) })),
    cancel_requested_job_ids: arr(int),
  }),
  dashboard_event: eventSchema,
  dashboard_job_row: obj({
    id: int,
    name: str,
    status: statusName,
    attempt_id: int,
    return_code: nullable(int),
    started_ms: nullable(int),
    completed_ms: nullable(int),
    duration_ms: nullable(int),
    compute_node_id: nullable(int),
    hostname: nullable(str),
    resource_requirements: nullable(str),
  }),
  dashboard_job_page: page({ $ref: '#/components/schemas/dashboard_job_row' }),
  dashboard_dag: obj({
    workflow_id: int,
    dag_key: str,
    seq: nullable(int),
    grouping: { type: 'string', enum: ['name_pattern', 'level'] },
    total_jobs: int,
    total_dependencies: int,
    group_count: int,
    groups: arr(obj({ index: int, label: str, size: int })),
    nodes: arr(
      obj({
        key: str,
        kind: { type: 'string', enum: ['group', 'job', 'more'] },
        group: int,
        label: str,
        size: int,
        job_id: nullable(int),
        status: nullable(statusName),
        counts: nullable(countsSchema),
        expanded: nullable(bool),
        internal_edges: nullable(int),
        example: nullable(str),
      }),
    ),
    edges: arr(obj({ from: str, to: str, count: int })),
  }),
  dashboard_timeline: obj({
    workflow_id: int,
    now_ms: int,
    omitted: int,
    nodes: arr(obj({ id: int, hostname: str, compute_node_type: str, num_cpus: int, num_gpus: int, is_active: bool, started_ms: nullable(int) })),
    bars: arr(
      obj({ job_id: int, name: str, attempt: int, compute_node_id: nullable(int), start_ms: int, end_ms: nullable(int), status: statusName, return_code: nullable(int) }),
    ),
  }),
  dashboard_resources: obj({
    workflow_id: int,
    jobs_with_results: int,
    measured: int,
    jobs: arr(obj({
      job_id: int, name: str, status: statusName, run_id: int, attempt_id: int, ...usageSummary,
      memory_bytes: nullable(int), num_cpus: nullable(int),
    })),
  }),
  dashboard_throughput: obj({ workflow_id: int, start_ms: int, bucket_ms: int, series: arr(obj({ status: statusName, counts: arr(int) })) }),
  dashboard_job: obj({
    job: obj({
      id: int,
      workflow_id: int,
      name: str,
      command: str,
      invocation_script: nullable(str),
      status: statusName,
      attempt_id: int,
      return_code: nullable(int),
      compute_node_id: nullable(int),
      hostname: nullable(str),
      stdio_recorded: bool,
      image: nullable(str),
      env: nullable({ type: 'object', additionalProperties: str }),
      cancel_on_blocking_job_failure: bool,
      supports_termination: bool,
      claimed_ms: nullable(int),
      started_ms: nullable(int),
      completed_ms: nullable(int),
      cancel_requested: bool,
    }),
    workflow: obj({ id: int, name: str, run_id: int, is_canceled: bool }),
    requirements: nullable(
      obj({ name: str, num_cpus: int, num_gpus: int, num_nodes: int, memory: str, memory_bytes: int, runtime: str, runtime_seconds: int, raised_for_this_job: bool }),
    ),
    attempts: arr(
      obj({
        attempt_id: int, run_id: int, status: statusName, return_code: int, exec_time_minutes: num, start_ms: nullable(int), completion_ms: nullable(int),
        compute_node_id: nullable(int), hostname: nullable(str), stdio_recorded: bool,
        ...usageSummary, diagnosis_reason: nullable(str),
      }),
    ),
    blockers: arr(obj({ id: int, name: str, status: statusName })),
    blocker_count: int,
    dependents: arr(obj({ id: int, name: str, status: statusName })),
    dependent_count: int,
    input_files: arr(obj({ id: int, name: str, path: str })),
    output_files: arr(obj({ id: int, name: str, path: str })),
  }),
  dashboard_stdio: obj({
    job_id: int,
    stream: { type: 'string', enum: ['stdout', 'stderr'] },
    available: bool,
    reason: nullable(str),
    attempt_id: int,
    hostname: nullable(str),
    running: bool,
    size: int,
    offset: int,
    next_offset: int,
    text: str,
  }),
  cancel_job_response: obj({
    job_id: int,
    outcome: { type: 'string', enum: ['canceled', 'cancel_requested'] },
    canceled_dependents: arr(int),
  }),
};

