/**
 * JSON schemas of the API's bodies and answers: published under `components.schemas` of the
 * OpenAPI document, used by ajv to validate request bodies, and by the OpenAPI walk test to
 * check every answer. Field names follow torc's models (snake_case).
 */
import { JOB_STATUS_NAMES, JobStatus } from '../contract/status.js';
import { DASHBOARD_SCHEMAS } from './dashboard/schemas.js';
import { MAX_ID } from './params.js';
import type { JsonSchema } from './validate.js';
import { TORC_COMPONENTS } from './torc-schemas.js';

const int = (min = 0, max = MAX_ID): JsonSchema => ({ type: 'integer', minimum: min, maximum: max });
const nullable = (s: JsonSchema): JsonSchema => ({ ...s, type: [s.type as string, 'null'] });
const str = (maxLength = 4096): JsonSchema => ({ type: 'string', maxLength });
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const obj = (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties), extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  properties,
  required,
  ...extra,
});

/** torc's paging shape, plus torc's own `count` and `max_limit`. */
export function pageOf(item: string): JsonSchema {
  return obj({
    items: { type: 'array', items: ref(item) },
    offset: int(),
    limit: int(),
    total_count: int(),
    has_more: { type: 'boolean' },
    count: int(),
    max_limit: int(),
  });
}

const COUNT = int(0, 1_000_000);
const MEMORY_GB = { type: 'number', minimum: 0, maximum: 1e9 };

const ids = (description: string): JsonSchema => ({ type: 'array', items: int(), description });

/** torc's job_model; fields that are not set are left out (as torc's server does). */
const jobProperties: Record<string, JsonSchema> = {
  id: int(),
  workflow_id: int(),
  name: { type: 'string' },
  command: { type: 'string' },
  invocation_script: { type: 'string' },
  status: ref('job_status'),
  attempt_id: int(1),
  resource_requirements_id: int(),
  scheduler_id: int(),
  failure_handler_id: int(),
  cancel_on_blocking_job_failure: { type: 'boolean' },
  supports_termination: { type: 'boolean' },
  depends_on_job_ids: ids('Jobs this job waits for (get_job, list_jobs with include_relationships)'),
  input_file_ids: ids('Files the job reads'),
  output_file_ids: ids('Files the job writes'),
  input_user_data_ids: ids('User data the job reads'),
  output_user_data_ids: ids('User data the job writes'),
  image: { type: 'string', description: 'Container image (Kubernetes runner)' },
  env: { type: 'object', additionalProperties: { type: 'string' } },
  return_code: { type: 'integer', description: 'Of the last finished attempt' },
  compute_node_id: { ...int(), description: 'The compute node that claimed / runs it' },
};
const JOB_REQUIRED = ['id', 'workflow_id', 'name', 'command', 'status', 'attempt_id', 'cancel_on_blocking_job_failure', 'supports_termination'];


/** The resource summary and diagnosis a runner may send with a result (issue 22). */
const resultMonitoringProperties: Record<string, JsonSchema> = {
  peak_memory_bytes: nullable({ type: 'integer', minimum: 0, maximum: 1e18, description: 'Peak memory of the attempt (bytes)' }),
  avg_memory_bytes: nullable({ type: 'integer', minimum: 0, maximum: 1e18, description: 'Average memory of the attempt (bytes)' }),
  peak_cpu_percent: nullable({ type: 'number', minimum: 0, maximum: 1e9, description: 'Peak CPU use, percent of one core' }),
  avg_cpu_percent: nullable({ type: 'number', minimum: 0, maximum: 1e9, description: 'CPU time / wall time, percent of one core' }),
  failure_diagnosis: nullable({ type: 'string', enum: ['likely_oom', 'likely_timeout', 'unknown', null], description: 'Why an unsuccessful attempt failed (diagnosed by the server when absent)' }),
  diagnosis_reason: nullable({ type: 'string', maxLength: 64, description: 'The evidence: oom_kill, sigkill_peak_at_limit, memory_exceeded, runtime_limit, sigxcpu, near_runtime, canceled, stopped, exit_code' }),
  job_stdout: nullable({ type: 'string', maxLength: 4096, description: "Path of the attempt's stdout" }),
  job_stderr: nullable({ type: 'string', maxLength: 4096, description: "Path of the attempt's stderr" }),
};

/** The same fields in a result as the API shows it: a null one is left out (torc's server omits unset fields). */
const resultMonitoringResponse: Record<string, JsonSchema> = Object.fromEntries(
  Object.entries(resultMonitoringProperties).map(([k, v]) => [k, { ...v, type: (v.type as string[])[0], ...(v.enum ? { enum: (v.enum as unknown[]).filter((e) => e !== null) } : {}) }]),
);

const sampleProperties: Record<string, JsonSchema> = {
  job_id: int(1),
  run_id: int(1),
  attempt_id: int(1),
  timestamp: { type: 'number', minimum: 0, description: 'Seconds since the epoch' },
  cpu_percent: { type: 'number', minimum: 0, description: 'Percent of one core' },
  memory_bytes: { type: 'integer', minimum: 0 },
  num_processes: { type: 'integer', minimum: 0 },
};

export const COMPONENTS: Record<string, JsonSchema> = {
  error_response: obj(
    {
      message: { type: 'string' },
      field: { type: 'string', description: 'The offending field, as a path such as body.nodes[0].num_cpus' },
      issues: { type: 'array', items: obj({ path: { type: 'string' }, message: { type: 'string' } }) },
      error: obj({ message: { type: 'string' }, field: { type: 'string' } }, ['message']),
      code: { type: 'integer', description: 'The HTTP status (torc\'s error_response)' },
    },
    ['message', 'error', 'code'],
  ),
  job_status: { type: 'string', enum: [...JOB_STATUS_NAMES], description: "torc's job status" },
  job_status_param: {
    description: `A job status by name, or by torc's integer code: ${JOB_STATUS_NAMES.map((n) => `${n}=${JobStatus[n]}`).join(', ')}`,
    enum: [...JOB_STATUS_NAMES, ...JOB_STATUS_NAMES.map((n) => String(JobStatus[n]))],
  },
  jobs_sort_method: { type: 'string', enum: ['gpus_runtime_memory', 'gpus_memory_runtime', 'none'] },
  ping_response: obj({ status: { type: 'string', const: 'ok' } }),
  version_response: obj({ version: { type: 'string' }, api_version: { type: 'string' } }),

  workflow_model: obj(
    {
      id: int(),
      name: { type: 'string' },
      user: { type: 'string' },
      description: { type: 'string' },
      timestamp: { type: 'string', description: 'Creation time (ISO 8601)' },
      compute_node_expiration_buffer_seconds: { type: 'integer' },
      compute_node_wait_for_new_jobs_seconds: { type: 'integer' },
      compute_node_ignore_workflow_completion: { type: 'boolean' },
      compute_node_wait_for_healthy_database_minutes: { type: 'integer' },
      compute_node_min_time_for_new_jobs_seconds: { type: 'integer' },
      jobs_sort_method: ref('jobs_sort_method'),
      resource_monitor_config: { type: 'string' },
      slurm_defaults: { type: 'string', description: 'JSON object' },
      use_pending_failed: { type: 'boolean' },
      status_id: int(),
      run_id: int(1),
      is_canceled: { type: 'boolean' },
      schedule: { type: 'string' },
      default_image: { type: 'string' },
      working_dir: { type: 'string', description: "The spec's working_dir: where the jobs run (absolute when the spec came from a file)" },
      spec_hash: { type: 'string' },
      k8s_namespace: { type: 'string' },
      k8s_name: { type: 'string' },
      k8s_uid: { type: 'string' },
    },
    ['id', 'name', 'user', 'timestamp', 'run_id', 'is_canceled', 'jobs_sort_method'],
  ),
  workflow_spec_created: obj({ workflow_id: int() }),
  workflow_status_model: obj(
    {
      id: int(),
      run_id: int(1),
      is_canceled: { type: 'boolean' },
      is_archived: { type: 'boolean' },
      has_detected_need_to_run_completion_script: { type: 'boolean' },
      is_complete: { type: 'boolean' },
      phase: { type: 'string', enum: ['Pending', 'Running', 'Succeeded', 'Failed', 'Canceled'] },
      total: int(),
      done: int(),
      counts: { type: 'object', additionalProperties: int(), description: 'Jobs by status name' },
      cancel_requested_job_ids: { type: 'array', items: int(), description: 'Running jobs a user asked to cancel (POST /jobs/{id}/cancel); their runners terminate them. Absent when none' },
      conditions: {
        type: 'array',
        items: obj({
          type: { type: 'string' },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
          reason: { type: 'string' },
          message: { type: 'string' },
          lastTransitionTime: { type: 'string' },
        }),
      },
    },
    ['id', 'run_id', 'is_canceled', 'is_archived', 'is_complete', 'phase', 'total', 'done', 'counts', 'conditions'],
  ),
  is_complete_response: obj({
    is_complete: { type: 'boolean' },
    is_canceled: { type: 'boolean' },
    needs_to_run_completion_script: { type: 'boolean' },
  }),
  initialize_jobs_response: obj({ workflow_id: int(), ready: int(), blocked: int(), canceled: int() }),
  cancel_workflow_response: obj({ workflow_id: int(), canceled: int(), running_job_ids: { type: 'array', items: int() } }),
  reset_status_response: obj({
    workflow_id: int(),
    run_id: int(1),
    updated_count: int(),
    status: { type: 'string' },
    reset_type: { type: 'string', enum: ['all', 'failed_only'] },
  }),
  deleted_response: obj({ id: int(), deleted: { type: 'boolean', const: true } }),

  job_model: obj(jobProperties, JOB_REQUIRED),
  claimed_job_model: obj({
    ...jobProperties,
    resources: obj({
      num_cpus: int(),
      memory_bytes: int(),
      num_gpus: int(),
      num_nodes: int(1),
      runtime_seconds: { type: 'number', minimum: 0 },
    }),
    assigned_nodes: { type: 'array', items: { type: 'string' }, description: 'Nodes the job was placed on (per-node claims)' },
    files: {
      type: 'array',
      items: obj({ id: int(), path: { type: 'string' }, kind: { type: 'string', enum: ['input', 'output'] } }),
      description: 'The files the job reads and writes; report their times on completion',
    },
  }, [...JOB_REQUIRED, 'resources', 'assigned_nodes']),
  claim_jobs_response: obj(
    {
      jobs: { type: 'array', items: ref('claimed_job_model') },
      reason: { type: 'string', description: 'Why nothing (more) was claimed; absent when not said' },
    },
    ['jobs'],
  ),

  start_jobs_request: obj(
    {
      job_ids: { type: 'array', minItems: 1, maxItems: 10_000, items: int(1), description: 'Pending jobs claimed by this compute node' },
      attempt_ids: {
        type: 'array',
        maxItems: 10_000,
        items: int(1),
        description: 'The attempt started, per job (same order): another is refused as stale; a start sent again is acknowledged with duplicate: true',
      },
    },
    ['job_ids'],
  ),
  sync_jobs_request: obj({
    jobs: {
      type: 'array',
      maxItems: 10_000,
      items: obj({ job_id: int(1), attempt_id: int(1) }),
      description: 'Every job the runner holds: claimed, running, or ended with its report not delivered',
    },
  }),
  sync_jobs_response: obj({
    released: { type: 'array', items: int(), description: "The node's jobs the runner did not hold, sent back to ready (canceled in a canceled workflow)" },
    revoked: { type: 'array', items: int(), description: "Held jobs that are not the node's any more at that attempt: kill them, report nothing" },
  }),
  complete_jobs_request: obj({
    jobs: {
      type: 'array',
      minItems: 1,
      maxItems: 10_000,
      items: obj(
        {
          job_id: int(1),
          status: { type: ['integer', 'string'], description: 'Final status: completed, failed, canceled, terminated or pending_failed (name or code)' },
          return_code: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
          exec_time_minutes: { type: 'number', minimum: 0, maximum: 1e9 },
          completion_time: { type: 'string', minLength: 1, maxLength: 64 },
          files: ref('file_observations'),
          ...resultMonitoringProperties,
          attempt_id: { ...int(1), description: 'The attempt this result is of (default: the current one): a report sent again is acknowledged, one of an older attempt refused (409)' },
          compute_node_id: nullable({ ...int(1), description: 'The node that ran it: a report from another node than the one the job runs on is refused (409)' }),
        },
        ['job_id', 'status', 'return_code', 'exec_time_minutes', 'completion_time'],
      ),
    },
  }),
  bulk_jobs_response: obj({
    items: {
      type: 'array',
      items: obj(
        {
          job_id: int(),
          ok: { type: 'boolean' },
          duplicate: { type: 'boolean', description: 'The same report had been applied before (its answer was lost): acknowledged, nothing changed' },
          status: { type: 'integer', description: 'Why this item was refused, as the single call would answer: 400, 404 or 409' },
          message: { type: 'string' },
        },
        ['job_id', 'ok'],
      ),
      description: 'One result per job, in request order; refused items changed nothing',
    },
  }),

  /** torc's ComputeNodesResources: num_nodes identical nodes, values per node. */
  compute_nodes_resources: obj(
    {
      num_cpus: COUNT,
      memory_gb: MEMORY_GB,
      num_gpus: COUNT,
      num_nodes: int(1, 100_000),
      time_limit: nullable({ type: 'string', maxLength: 64, description: 'ISO 8601 duration left to run jobs; null = unlimited' }),
      scheduler_config_id: nullable(int()),
      compute_node_id: nullable({ ...int(), description: 'The claiming compute node: its lease covers the claimed jobs' }),
      id: nullable({ type: 'integer', description: 'Ignored (torc clients send it)' }),
    },
    ['num_cpus', 'memory_gb'],
  ),
  /** Our per-node form: a single-node job must fit on one node; a multi-node job takes whole idle nodes. */
  compute_nodes_per_node: obj(
    {
      nodes: {
        type: 'array',
        minItems: 1,
        maxItems: 100_000,
        items: obj(
          {
            name: { type: 'string', minLength: 1, maxLength: 256 },
            num_cpus: COUNT,
            memory_gb: MEMORY_GB,
            num_gpus: COUNT,
            busy: { type: 'boolean', description: 'Jobs already run on the node (multi-node jobs avoid it)' },
          },
          ['name', 'num_cpus', 'memory_gb'],
        ),
      },
      time_limit: nullable({ type: 'string', maxLength: 64 }),
      scheduler_config_id: nullable(int()),
      compute_node_id: nullable(int()),
    },
    ['nodes'],
  ),
  claim_resources_request: {
    description: "The runner's capacity: torc's pooled form or our per-node form (with `nodes`)",
    oneOf: [ref('compute_nodes_resources'), ref('compute_nodes_per_node')],
  },

  complete_job_request: obj(
    {
      return_code: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
      exec_time_minutes: { type: 'number', minimum: 0, maximum: 1e9 },
      completion_time: { type: 'string', minLength: 1, maxLength: 64 },
      files: ref('file_observations'),
      ...resultMonitoringProperties,
      attempt_id: { ...int(1), description: 'The attempt this result is of (default: the current one): a report sent again is acknowledged, one of an older attempt refused (409)' },
      compute_node_id: nullable({
        ...int(),
        description: "The node that ran it: a report from another node than the one the job runs on is refused (409); recorded when the job was started without a compute node (torc's manage_status_change)",
      }),
    },
    ['return_code', 'exec_time_minutes', 'completion_time'],
  ),
  file_observations: {
    type: 'array',
    maxItems: 100_000,
    description: "Files' modification times as a runner saw them (seconds since the epoch; null: missing)",
    items: obj({ id: int(1), st_mtime: nullable({ type: 'number', minimum: 0, maximum: 1e12 }) }),
  },
  retry_job_request: obj(
    {
      return_code: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
      exec_time_minutes: { type: 'number', minimum: 0, maximum: 1e9 },
      completion_time: { type: 'string', minLength: 1, maxLength: 64 },
      status: { type: 'string', enum: ['failed', 'terminated'], description: 'How the attempt ended (default failed)' },
      ...resultMonitoringProperties,
      attempt_id: { ...int(1), description: 'The attempt this result is of (default: the current one): a report sent again is acknowledged, one of an older attempt refused (409)' },
      compute_node_id: nullable({ ...int(1), description: 'The node that ran it: a report from another node than the one the job runs on is refused (409)' }),
    },
    [],
    { description: "The failed attempt's result (all three of return_code, exec_time_minutes, completion_time, or none)" },
  ),
  failure_rule: obj({
    exit_codes: { type: 'array', items: { type: 'integer' } },
    match_all_exit_codes: { type: 'boolean' },
    recovery_script: nullable({ type: 'string' }),
    max_retries: int(),
    memory_multiplier: nullable({ type: 'number' }),
    runtime_multiplier: nullable({ type: 'number' }),
  }),
  failure_handler_model: obj({
    id: int(),
    workflow_id: int(),
    name: { type: 'string' },
    rules: { type: 'string', description: 'The rules (failure_rule objects) as a JSON array, as torc keeps them' },
  }),
  file_model: obj(
    {
      id: int(),
      workflow_id: int(),
      name: { type: 'string' },
      path: { type: 'string' },
      st_mtime: { type: 'number', description: 'When a job last reported it (seconds since the epoch); absent before' },
    },
    ['id', 'workflow_id', 'name', 'path'],
  ),
  process_changed_job_inputs_request: obj(
    { files: ref('file_observations') },
    [],
  ),
  process_changed_job_inputs_response: obj({
    workflow_id: int(),
    dry_run: { type: 'boolean' },
    run_id: int(1),
    reinitialized_jobs: { type: 'array', items: { type: 'string' }, description: "torc's field: names of the jobs reset" },
    jobs: {
      type: 'array',
      items: obj({ id: int(), name: { type: 'string' }, reasons: { type: 'array', items: { type: 'string' } } }),
    },
    initialized: { type: ['object', 'null'] },
  }),
  workflow_action_model: obj(
    {
      id: int(),
      workflow_id: int(),
      trigger_type: { type: 'string' },
      action_type: { type: 'string' },
      action_config: { type: 'object', description: 'commands, scheduler_id, scheduler_type, num_allocations, start_one_worker_per_node, max_parallel_jobs' },
      job_ids: { type: 'array', items: int() },
      persistent: { type: 'boolean' },
      triggered: { type: 'boolean', description: 'Its trigger fired in the current run' },
      triggered_at: { type: 'string' },
      executed: { type: 'boolean', description: 'Claimed in the current run' },
      executed_at: { type: 'string' },
      executed_by: { ...int(), description: 'The compute node that claimed it (torc)' },
      claimed_by: { type: 'string', description: 'Who claimed it: a compute node or a named claimer' },
    },
    ['id', 'workflow_id', 'trigger_type', 'action_type', 'action_config', 'job_ids', 'persistent', 'triggered', 'executed'],
  ),
  list_actions_response: { type: 'array', items: ref('workflow_action_model') },
  claim_action_request: obj(
    {
      compute_node_id: nullable(int()),
      claimer: { type: 'string', minLength: 1, maxLength: 256, description: 'Who claims, when not a compute node' },
    },
    [],
  ),
  claim_action_response: obj({
    action_id: int(),
    success: { type: 'boolean', const: true },
    claimer: { type: 'string' },
    action: ref('workflow_action_model'),
  }),
  compute_node_registration: obj(
    {
      workflow_id: int(),
      hostname: { type: 'string', minLength: 1, maxLength: 1024 },
      pid: int(0, 2 ** 31),
      num_cpus: COUNT,
      memory_gb: MEMORY_GB,
      num_gpus: COUNT,
      num_nodes: int(1, 100_000),
      scheduler_config_id: nullable(int()),
      compute_node_type: { type: 'string', minLength: 1, maxLength: 64 },
      lease_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400 * 30 },
      scheduler_job_id: nullable({ type: 'string', maxLength: 64, description: 'SLURM_JOB_ID of the allocation the runner runs in' }),
      output_dir: nullable({
        type: 'string',
        maxLength: 4096,
        pattern: '^/',
        description: 'Absolute directory under which the runner writes job stdout/stderr (job_stdio/job_<id>_<attempt>.o|e); the dashboard shows those files',
      }),
    },
    ['workflow_id', 'hostname', 'num_cpus', 'memory_gb'],
  ),
  compute_node_model: obj({
    id: int(),
    workflow_id: int(),
    hostname: { type: 'string' },
    pid: { type: 'integer' },
    num_cpus: int(),
    memory_gb: { type: 'number' },
    num_gpus: int(),
    num_nodes: int(),
    scheduler_config_id: int(),
    scheduler_job_id: { type: 'string' },
    output_dir: { type: 'string', description: "Where the runner writes its jobs' output (dashboard log viewer)" },
    compute_node_type: { type: 'string' },
    lease_seconds: { type: 'number' },
    last_heartbeat_ms: { type: 'integer' },
    lease_expires_ms: { type: 'integer' },
    is_active: { type: 'boolean' },
    start_time: { type: 'string' },
  }, ['id', 'workflow_id', 'hostname', 'pid', 'num_cpus', 'memory_gb', 'num_gpus', 'num_nodes', 'compute_node_type', 'lease_seconds', 'last_heartbeat_ms', 'lease_expires_ms', 'is_active', 'start_time']),
  ok_response: obj({ ok: { type: 'boolean', const: true } }),

  result_model: obj(
    {
      id: int(),
      workflow_id: int(),
      job_id: int(),
      run_id: int(),
      attempt_id: int(1),
      compute_node_id: int(),
      return_code: { type: 'integer' },
      exec_time_minutes: { type: 'number' },
      completion_time: { type: 'string' },
      status: ref('job_status'),
      // Ours on top of torc's (its four resource fields included): left out when not measured.
      ...resultMonitoringResponse,
    },
    ['id', 'workflow_id', 'job_id', 'run_id', 'attempt_id', 'return_code', 'exec_time_minutes', 'completion_time', 'status'],
  ),
  job_resource_sample_model: obj(sampleProperties),
  list_job_resource_samples_response: pageOf('job_resource_sample_model'),
  job_resource_samples_request: obj({
    samples: { type: 'array', maxItems: 10_000, items: obj(sampleProperties) },
  }),
  job_resource_samples_response: obj({ stored: int(0, 10_000) }),
  recover_request: obj(
    {
      memory_multiplier: { type: 'number', exclusiveMinimum: 1, maximum: 1000, description: 'Memory × this for likely_oom (default 1.5)' },
      runtime_multiplier: { type: 'number', exclusiveMinimum: 1, maximum: 1000, description: 'Runtime × this for likely_timeout (default 1.5)' },
      retry_unknown: { type: 'boolean', description: 'Also run again, unchanged, the jobs whose failure is unknown (default false)' },
    },
    [],
  ),
  recover_response: obj({
    workflow_id: int(),
    run_id: int(),
    dry_run: { type: 'boolean' },
    reset: int(),
    steps: {
      type: 'array',
      items: obj(
        {
          job_id: int(),
          name: { type: 'string' },
          diagnosis: { type: 'string', enum: ['likely_oom', 'likely_timeout', 'unknown'] },
          action: { type: 'string', enum: ['raise', 'retry', 'skip'] },
          reason: { type: 'string', enum: ['unknown_cause', 'at_limit'] },
          from: obj({ memory_bytes: int(), runtime_seconds: { type: 'number' } }),
          to: obj({ memory_bytes: int(), runtime_seconds: { type: 'number' }, capped: { type: 'array', items: { type: 'string' } } }),
        },
        ['job_id', 'name', 'diagnosis', 'action'],
      ),
    },
  }),
  event_model: obj({
    id: int(),
    workflow_id: int(),
    timestamp: { type: 'integer', description: 'Milliseconds since the epoch' },
    category: { type: 'string' },
    data: { type: 'object', description: 'The event (a non-object value is given as {value})' },
  }),
  resource_requirements_model: obj({
    id: int(),
    workflow_id: int(),
    name: { type: 'string' },
    num_cpus: int(),
    num_gpus: int(),
    num_nodes: int(),
    memory: { type: 'string', description: 'torc form, e.g. "4g"' },
    runtime: { type: 'string', description: 'ISO 8601 duration' },
    memory_bytes: int(),
    runtime_seconds: { type: 'number' },
    job_id: { ...int(), description: 'The job whose own requirements these are (raised by a failure rule or torc recover); left out for a declared entry' },
  }, ['id', 'workflow_id', 'name', 'num_cpus', 'num_gpus', 'num_nodes', 'memory', 'runtime', 'memory_bytes', 'runtime_seconds']),
  slurm_scheduler_model: obj(
    {
      id: int(),
      workflow_id: int(),
      name: { type: 'string' },
      account: { type: 'string' },
      partition: { type: 'string' },
      nodes: int(),
      walltime: { type: 'string' },
      mem: { type: 'string' },
      gres: { type: 'string' },
      qos: { type: 'string' },
      ntasks_per_node: int(),
      tmp: { type: 'string' },
      extra: { type: 'string' },
    },
    ['id', 'workflow_id', 'name', 'account', 'nodes', 'walltime'],
  ),
  list_workflows_response: pageOf('workflow_model'),
  list_jobs_response: pageOf('job_model'),
  list_compute_nodes_response: pageOf('compute_node_model'),
  list_results_response: pageOf('result_model'),
  list_events_response: pageOf('event_model'),
  list_resource_requirements_response: pageOf('resource_requirements_model'),
  list_slurm_schedulers_response: pageOf('slurm_scheduler_model'),
  list_failure_handlers_response: pageOf('failure_handler_model'),
  list_files_response: pageOf('file_model'),
  scheduled_compute_node_model: obj({
    id: int(),
    workflow_id: int(),
    scheduler_config_id: int(),
    scheduler_id: { ...int(), description: 'The Slurm job id' },
    scheduler_type: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'active', 'complete'], description: "torc's status: queued, running, ended" },
    state: { type: 'string', description: 'Slurm state as last seen' },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  }),
  list_scheduled_compute_nodes_response: pageOf('scheduled_compute_node_model'),
  openapi_document: obj({ openapi: { type: 'string' }, info: { type: 'object' }, paths: { type: 'object' }, components: { type: 'object' } }),
  ...DASHBOARD_SCHEMAS,
  ...TORC_COMPONENTS,
};
