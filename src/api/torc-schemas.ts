/**
 * Schemas of torc's records that the API creates and updates one at a time (torc's
 * create_* / update_* bodies, and the answers of the routes added for them): what clients of
 * torc's API send — every optional field may be left out or null, unknown fields are tolerated
 * (torc's clients send the whole model back, id and all) — and what we answer, fields that are
 * not set left out. Merged into the API's components (schemas.ts).
 */
import { MAX_ID } from './params.js';
import type { JsonSchema } from './validate.js';

const int = (min = 0, max = MAX_ID): JsonSchema => ({ type: 'integer', minimum: min, maximum: max });
const str = (maxLength = 4096): JsonSchema => ({ type: 'string', maxLength });
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const bool: JsonSchema = { type: 'boolean' };
const obj = (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties)): JsonSchema => ({ type: 'object', properties, required });
const ids: JsonSchema = { type: 'array', maxItems: 100_000, items: int() };

/** A request body of a torc model: the required fields, and every other one optional or null. */
function input(properties: Record<string, JsonSchema>, required: string[]): JsonSchema {
  const props = Object.fromEntries(
    Object.entries(properties).map(([k, s]) => {
      if (required.includes(k)) return [k, s];
      if (typeof s.type === 'string') return [k, { ...s, type: [s.type, 'null'] }];
      return [k, { anyOf: [s, { type: 'null' }] }];
    }),
  );
  return obj(props, required);
}

function page(item: string): JsonSchema {
  return obj({
    items: { type: 'array', items: ref(item) },
    offset: int(),
    limit: int(),
    total_count: int(),
    has_more: bool,
    count: int(),
    max_limit: int(),
  });
}

const jobInputProps: Record<string, JsonSchema> = {
  id: int(),
  workflow_id: int(),
  name: str(1024),
  command: str(1 << 20),
  invocation_script: str(1 << 20),
  status: ref('job_status'),
  cancel_on_blocking_job_failure: bool,
  supports_termination: bool,
  depends_on_job_ids: ids,
  input_file_ids: ids,
  output_file_ids: ids,
  input_user_data_ids: ids,
  output_user_data_ids: ids,
  resource_requirements_id: int(),
  scheduler_id: int(),
  failure_handler_id: int(),
  attempt_id: int(),
  image: str(1024),
  env: { type: 'object', additionalProperties: str(1 << 16) },
};

const relationship = (what: 'file' | 'user_data'): JsonSchema =>
  obj(
    {
      [`${what}_id`]: int(),
      [`${what}_name`]: { type: 'string' },
      ...(what === 'file' ? { file_path: { type: 'string' } } : {}),
      producer_job_id: int(),
      producer_job_name: { type: 'string' },
      consumer_job_id: int(),
      consumer_job_name: { type: 'string' },
      workflow_id: int(),
    },
    [`${what}_id`, `${what}_name`, ...(what === 'file' ? ['file_path'] : []), 'workflow_id'],
  );

const BODIES: Record<string, JsonSchema> = {
  // ---- bodies -------------------------------------------------------------------------------
  workflow_input: input(
    {
      id: int(),
      name: { type: 'string', minLength: 1, maxLength: 1024 },
      user: str(),
      description: str(65536),
      timestamp: str(64),
      compute_node_expiration_buffer_seconds: int(0, 86400 * 365),
      compute_node_wait_for_new_jobs_seconds: int(0, 86400 * 365),
      compute_node_ignore_workflow_completion: bool,
      compute_node_wait_for_healthy_database_minutes: int(0, 60 * 24 * 365),
      compute_node_min_time_for_new_jobs_seconds: int(0, 86400 * 365),
      jobs_sort_method: ref('jobs_sort_method'),
      resource_monitor_config: str(65536),
      slurm_defaults: str(65536),
      use_pending_failed: bool,
      status_id: int(),
    },
    ['name'],
  ),
  workflow_status_input: input({ id: int(), run_id: int(), is_canceled: bool, is_archived: bool, has_detected_need_to_run_completion_script: bool }, []),
  job_input: input(jobInputProps, ['workflow_id', 'name', 'command']),
  /** update_job: torc's clients send the whole model back; every field may be left out. */
  job_update: input(jobInputProps, []),
  jobs_input: obj({ jobs: { type: 'array', maxItems: 10_000, items: ref('job_input') } }),
  file_input: input({ id: int(), workflow_id: int(), name: str(1024), path: str(), st_mtime: { type: 'number', minimum: 0, maximum: 1e12 } }, ['workflow_id', 'name', 'path']),
  user_data_input: input({ id: int(), workflow_id: int(), name: str(1024), is_ephemeral: bool, data: {} }, ['workflow_id', 'name']),
  resource_requirements_input: input(
    {
      id: int(),
      workflow_id: int(),
      name: str(1024),
      num_cpus: int(0, 1_000_000),
      num_gpus: int(0, 1_000_000),
      num_nodes: int(1, 100_000),
      memory: str(64),
      runtime: str(64),
    },
    ['workflow_id', 'name'],
  ),
  slurm_scheduler_input: input(
    {
      id: int(),
      workflow_id: int(),
      name: str(1024),
      account: str(256),
      gres: str(256),
      mem: str(64),
      nodes: int(1, 100_000),
      ntasks_per_node: int(1, 1_000_000),
      partition: str(256),
      qos: str(256),
      tmp: str(64),
      walltime: str(64),
      extra: str(4096),
    },
    ['workflow_id', 'account', 'nodes', 'walltime'],
  ),
  local_scheduler_input: input({ id: int(), workflow_id: int(), name: str(1024), memory: str(64), num_cpus: int(0, 1_000_000) }, ['workflow_id']),
  failure_handler_input: input(
    { id: int(), workflow_id: int(), name: str(1024), rules: { description: 'The rules: a JSON string (torc) or the array itself' } },
    ['workflow_id', 'name', 'rules'],
  ),
  result_input: input(
    {
      id: int(),
      job_id: int(),
      workflow_id: int(),
      run_id: int(),
      attempt_id: int(1),
      compute_node_id: int(),
      return_code: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
      exec_time_minutes: { type: 'number', minimum: 0, maximum: 1e9 },
      completion_time: { type: 'string', minLength: 1, maxLength: 64 },
      status: ref('job_status'),
      peak_memory_bytes: int(),
      avg_memory_bytes: int(),
      peak_cpu_percent: { type: 'number' },
      avg_cpu_percent: { type: 'number' },
    },
    ['job_id', 'workflow_id', 'run_id', 'return_code', 'exec_time_minutes', 'completion_time', 'status'],
  ),
  event_input: input(
    {
      id: int(),
      workflow_id: int(),
      timestamp: { type: 'integer', minimum: 0, maximum: 1e15, description: 'Milliseconds since the epoch (default: now)' },
      category: { type: 'string', minLength: 1, maxLength: 256 },
      data: { description: 'Any JSON value' },
    },
    ['workflow_id'],
  ),
  compute_node_update: input(
    {
      id: int(),
      workflow_id: int(),
      hostname: str(1024),
      pid: int(0, 2 ** 31),
      start_time: str(64),
      duration_seconds: { type: 'number', minimum: 0 },
      is_active: bool,
      num_cpus: int(0, 1_000_000),
      memory_gb: { type: 'number', minimum: 0, maximum: 1e9 },
      num_gpus: int(0, 1_000_000),
      num_nodes: int(1, 100_000),
      time_limit: str(64),
      scheduler_config_id: int(),
      compute_node_type: str(64),
      scheduler: { type: 'object' },
    },
    [],
  ),
  scheduled_compute_node_input: input(
    {
      id: int(),
      workflow_id: int(),
      scheduler_id: { anyOf: [int(), { type: 'string', pattern: '^[0-9]{1,20}$' }], description: 'The Slurm job id of the allocation' },
      scheduler_config_id: int(),
      scheduler_type: { type: 'string', enum: ['slurm'] },
      status: { type: 'string', enum: ['pending', 'active', 'complete'] },
      state: { type: 'string', minLength: 1, maxLength: 32, description: 'Slurm state as last seen (ours; default from status)' },
    },
    ['workflow_id', 'scheduler_id', 'scheduler_config_id'],
  ),
  workflow_action_input: input(
    {
      id: int(),
      workflow_id: int(),
      trigger_type: { type: 'string', enum: ['on_workflow_start', 'on_workflow_complete', 'on_jobs_ready', 'on_jobs_complete'] },
      action_type: { type: 'string', enum: ['run_commands', 'schedule_nodes'] },
      action_config: { type: 'object' },
      job_ids: ids,
      persistent: bool,
    },
    ['workflow_id', 'trigger_type', 'action_type', 'action_config'],
  ),
  access_group_input: input({ id: int(), name: { type: 'string', minLength: 1, maxLength: 256 }, description: str(4096), created_at: str(64) }, ['name']),
  user_group_membership_input: input(
    { id: int(), user_name: { type: 'string', minLength: 1, maxLength: 256 }, group_id: int(), role: str(64), created_at: str(64) },
    ['user_name', 'group_id'],
  ),
  workflow_access_group_input: input({ workflow_id: int(), group_id: int(), created_at: str(64) }, ['workflow_id', 'group_id']),
  remote_workers_input: { type: 'array', maxItems: 10_000, items: { type: 'string', minLength: 1, maxLength: 1024 }, description: 'Worker addresses (user@host:port)' },
  any_object: { type: 'object' },
};

/**
 * An update of a record (PUT …/{id}): the same fields, none required — torc's clients send the
 * whole model back, others only what changes.
 */
const UPDATES: Record<string, JsonSchema> = Object.fromEntries(
  ['workflow', 'file', 'user_data', 'resource_requirements', 'slurm_scheduler', 'local_scheduler', 'result', 'event', 'scheduled_compute_node'].map((kind) => [
    `${kind}_update`,
    { ...BODIES[`${kind}_input`]!, required: [] },
  ]),
);

export const TORC_COMPONENTS: Record<string, JsonSchema> = {
  ...BODIES,
  ...UPDATES,

  // ---- answers ------------------------------------------------------------------------------
  user_data_model: obj({ id: int(), workflow_id: int(), name: { type: 'string' }, is_ephemeral: bool, data: {} }, ['id', 'workflow_id', 'name', 'is_ephemeral']),
  local_scheduler_model: obj(
    { id: int(), workflow_id: int(), name: { type: 'string' }, memory: { type: 'string' }, num_cpus: int() },
    ['id', 'workflow_id', 'name'],
  ),
  create_jobs_response: obj({ jobs: { type: 'array', items: ref('job_model') } }),
  list_user_data_response: page('user_data_model'),
  list_local_schedulers_response: page('local_scheduler_model'),
  list_job_ids_response: obj({ job_ids: { type: 'array', items: int() }, count: int() }),
  job_dependency_model: obj({ job_id: int(), job_name: { type: 'string' }, depends_on_job_id: int(), depends_on_job_name: { type: 'string' }, workflow_id: int() }),
  list_job_dependencies_response: page('job_dependency_model'),
  job_file_relationship_model: relationship('file'),
  list_job_file_relationships_response: page('job_file_relationship_model'),
  job_user_data_relationship_model: relationship('user_data'),
  list_job_user_data_relationships_response: page('job_user_data_relationship_model'),
  list_required_existing_files_response: obj({ files: { type: 'array', items: { type: 'string' }, description: 'File ids (as strings, as torc describes them)' } }),
  list_missing_user_data_response: obj({ user_data: { type: 'array', items: int() } }),
  get_ready_job_requirements_response: obj({
    num_jobs: int(),
    num_cpus: int(),
    num_gpus: int(),
    memory_gb: { type: 'number' },
    max_num_nodes: int(),
    max_runtime: { type: 'string', description: 'ISO 8601 duration' },
  }),
  is_uninitialized_response: obj({ is_uninitialized: bool }),
  latest_event_timestamp_response: obj({ timestamp: int() }, []),
  deleted_count_response: obj({ count: int() }),
  access_group_model: obj({ id: int(), name: { type: 'string' }, description: { type: 'string' }, created_at: { type: 'string' } }, ['id', 'name', 'created_at']),
  list_access_groups_response: page('access_group_model'),
  user_group_membership_model: obj({ id: int(), user_name: { type: 'string' }, group_id: int(), role: { type: 'string' }, created_at: { type: 'string' } }),
  list_user_group_memberships_response: page('user_group_membership_model'),
  workflow_access_group_model: obj({ workflow_id: int(), group_id: int(), created_at: { type: 'string' } }),
  access_check_response: obj({ has_access: bool, user_name: { type: 'string' }, workflow_id: int() }),
  remote_worker_model: obj({ worker: { type: 'string' }, workflow_id: int() }),
  list_remote_workers_response: { type: 'array', items: ref('remote_worker_model') },
};
