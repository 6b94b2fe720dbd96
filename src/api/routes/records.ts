/**
 * torc's plain records, each with torc's six operations (create, list with torc's filters,
 * get, update, delete one, delete all of a workflow) built from one description per kind:
 * files, user data, resource requirements, Slurm and local schedulers, results, events; failure
 * handlers have torc's four. Bodies are torc's models (fields not set may be left out or null);
 * answers are torc's models (see views.ts).
 */
import { InputError } from '../../errors.js';
import { parseStatus } from '../../contract/status.js';
import { parseDuration, parseMemory } from '../../spec/units.js';
import type { PlanFailureRule } from '../../spec/plan.js';
import type { TableName } from '../../store/index.js';
import { p, type ParamSpec, type Params } from '../params.js';
import {
  eventView,
  failureHandlerView,
  fileView,
  localSchedulerView,
  pageOfList,
  pageView,
  resourceRequirementsView,
  resultView,
  slurmSchedulerView,
  userDataView,
} from '../views.js';
import { LIST_SORT, PAGING, WORKFLOW_FILTER, paging, type ApiDeps, type ApiRoute } from './common.js';

type Body = Record<string, unknown>;

interface RecordKindApi {
  kind: TableName;
  /** Collection path, e.g. `/files`. */
  path: string;
  /** Singular for summaries. */
  what: string;
  ops: { create: string; deleteAll: string; list: string; deleteOne: string; get: string; update: string };
  /** Response component of one record, and of a page. */
  model: string;
  listModel: string;
  /** Body component of create/update. */
  input: string;
  example: Body;
  /** torc's list filters (query parameters); values go to the store's filters by the same name unless `filterValues` maps them. */
  filters: ParamSpec[];
  filterValues?(params: Params): Record<string, string | number | boolean | undefined>;
  /** Body → columns. `partial`: an update, where a field left out (or null) keeps its value. */
  toColumns(body: Body, partial: boolean): Record<string, unknown>;
  view(record: never): unknown;
  /** Extra parameters of create (user data: the job it is an input / output of). */
  createParams?: ParamSpec[];
  create?(deps: ApiDeps, columns: Record<string, unknown>, params: Params): Promise<unknown>;
}

/** Copies the named body fields that are set (not undefined; null only when `keepNull`). */
function pick(body: Body, fields: readonly string[], partial: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = body[f];
    if (v === undefined || (v === null && partial)) continue;
    out[f] = v;
  }
  return out;
}

const filterInt = (name: string, description: string) => p.queryInt(name, description);
const filterString = (name: string, description: string) => p.queryString(name, description, { maxLength: 1024 });

/** Rules of a failure handler: torc's JSON string or the array itself; each rule checked, naming its field. */
export function parseFailureRules(value: unknown, path = 'rules'): PlanFailureRule[] {
  let rules: unknown = value;
  if (typeof value === 'string') {
    try {
      rules = JSON.parse(value);
    } catch (e) {
      throw new InputError(`expected a JSON array of rules: ${(e as Error).message}`, path);
    }
  }
  if (!Array.isArray(rules)) throw new InputError('expected an array of rules', path);
  const issues: { path: string; message: string }[] = [];
  const out = rules.map((r: unknown, i): PlanFailureRule => {
    const at = `${path}[${i}]`;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) {
      issues.push({ path: at, message: 'expected an object' });
      return null as never;
    }
    const o = r as Record<string, unknown>;
    const known = ['exit_codes', 'match_all_exit_codes', 'recovery_script', 'max_retries', 'memory_multiplier', 'runtime_multiplier'];
    for (const k of Object.keys(o)) if (!known.includes(k)) issues.push({ path: `${at}.${k}`, message: `unknown field (one of ${known.join(', ')})` });
    const codes = o.exit_codes ?? [];
    if (!Array.isArray(codes) || !codes.every((c) => Number.isInteger(c))) issues.push({ path: `${at}.exit_codes`, message: 'expected a list of integers' });
    if (o.match_all_exit_codes !== undefined && typeof o.match_all_exit_codes !== 'boolean') issues.push({ path: `${at}.match_all_exit_codes`, message: 'expected true or false' });
    if (o.recovery_script !== undefined && o.recovery_script !== null && typeof o.recovery_script !== 'string') issues.push({ path: `${at}.recovery_script`, message: 'expected a string' });
    const max = o.max_retries ?? 3;
    if (!Number.isInteger(max) || (max as number) < 0) issues.push({ path: `${at}.max_retries`, message: 'expected a whole number ≥ 0' });
    for (const m of ['memory_multiplier', 'runtime_multiplier'] as const) {
      if (o[m] !== undefined && o[m] !== null && !(typeof o[m] === 'number' && (o[m] as number) >= 1)) issues.push({ path: `${at}.${m}`, message: 'expected a number ≥ 1' });
    }
    return {
      exit_codes: Array.isArray(codes) ? (codes as number[]) : [],
      match_all_exit_codes: o.match_all_exit_codes === true,
      recovery_script: typeof o.recovery_script === 'string' ? o.recovery_script : null,
      max_retries: max as number,
      memory_multiplier: typeof o.memory_multiplier === 'number' ? o.memory_multiplier : null,
      runtime_multiplier: typeof o.runtime_multiplier === 'number' ? o.runtime_multiplier : null,
    };
  });
  if (issues.length > 0) throw new InputError(issues.slice(0, 20));
  return out;
}

/** Epoch ms (torc) → the ISO text events are stored with. */
const isoOfMs = (ms: number) => new Date(ms).toISOString();

const statusCode = (name: unknown, path: string): number => {
  const code = parseStatus(name as string);
  if (code === undefined) throw new InputError(`unknown job status ${JSON.stringify(name)}`, path);
  return code;
};

export const KINDS: RecordKindApi[] = [
  {
    kind: 'files',
    path: '/files',
    what: 'file',
    ops: { create: 'create_file', deleteAll: 'delete_files', list: 'list_files', deleteOne: 'delete_file', get: 'get_file', update: 'update_file' },
    model: 'file_model',
    listModel: 'list_files_response',
    input: 'file_input',
    example: { workflow_id: 1, name: 'raw', path: 'data/raw.csv' },
    filters: [
      filterInt('produced_by_job_id', 'Only files this job writes'),
      filterString('name', 'Only files with this name'),
      filterString('path', 'Only files with this path'),
      p.queryBool('is_output', 'true: only files some job writes; false: only files no job writes'),
    ],
    toColumns: (b, partial) => pick(b, ['workflow_id', 'name', 'path', 'st_mtime'], partial),
    view: fileView,
  },
  {
    kind: 'user_data',
    path: '/user_data',
    what: 'user data',
    ops: { create: 'create_user_data', deleteAll: 'delete_all_user_data', list: 'list_user_data', deleteOne: 'delete_user_data', get: 'get_user_data', update: 'update_user_data' },
    model: 'user_data_model',
    listModel: 'list_user_data_response',
    input: 'user_data_input',
    example: { workflow_id: 1, name: 'config', data: { lr: 0.01 } },
    filters: [
      filterInt('consumer_job_id', 'Only user data this job reads'),
      filterInt('producer_job_id', 'Only user data this job writes'),
      filterString('name', 'Only user data with this name'),
      p.queryBool('is_ephemeral', 'Only ephemeral (or only persistent) user data'),
    ],
    toColumns: (b, partial) => pick(b, ['workflow_id', 'name', 'data', 'is_ephemeral'], partial),
    view: userDataView,
    createParams: [filterInt('consumer_job_id', 'Make it an input of this job'), filterInt('producer_job_id', 'Make it an output of this job')],
    create: async (deps, columns, params) =>
      userDataView(
        await deps.store.createUserData(columns, {
          consumer_job_id: params.consumer_job_id as number | undefined,
          producer_job_id: params.producer_job_id as number | undefined,
        }),
      ),
  },
  {
    kind: 'resource_requirements',
    path: '/resource_requirements',
    what: 'resource requirements',
    ops: {
      create: 'create_resource_requirements',
      deleteAll: 'delete_resource_requirements',
      list: 'list_resource_requirements',
      deleteOne: 'delete_resource_requirement',
      get: 'get_resource_requirements',
      update: 'update_resource_requirements',
    },
    model: 'resource_requirements_model',
    listModel: 'list_resource_requirements_response',
    input: 'resource_requirements_input',
    example: { workflow_id: 1, name: 'small', num_cpus: 2, memory: '4g', runtime: 'PT30M' },
    filters: [
      filterInt('job_id', "Only this job's requirements"),
      filterString('name', 'Only requirements with this name'),
      filterString('memory', 'Only this much memory (e.g. 4g)'),
      filterInt('num_cpus', 'Only this many CPUs'),
      filterInt('num_gpus', 'Only this many GPUs'),
      filterInt('num_nodes', 'Only this many nodes'),
      filterInt('runtime', 'Only this runtime (seconds)'),
    ],
    filterValues: (params) => ({
      job_id: params.job_id as number | undefined,
      name: params.name as string | undefined,
      memory: params.memory === undefined ? undefined : parseMemory(params.memory as string, 'memory'),
      num_cpus: params.num_cpus as number | undefined,
      num_gpus: params.num_gpus as number | undefined,
      num_nodes: params.num_nodes as number | undefined,
      runtime: params.runtime as number | undefined,
    }),
    toColumns: (b, partial) => {
      const out = pick(b, ['workflow_id', 'name', 'num_cpus', 'num_gpus', 'num_nodes'], partial);
      // torc's model defaults, for fields a create leaves out.
      if (!partial) Object.assign(out, { num_cpus: b.num_cpus ?? 1, num_gpus: b.num_gpus ?? 0, num_nodes: b.num_nodes ?? 1 });
      const memory = b.memory ?? (partial ? undefined : '1m');
      const runtime = b.runtime ?? (partial ? undefined : 'P0DT1M');
      if (memory !== undefined && memory !== null) out.memory_bytes = parseMemory(memory as string, 'memory');
      if (runtime !== undefined && runtime !== null) out.runtime_seconds = parseDuration(runtime as string, 'runtime');
      return out;
    },
    view: resourceRequirementsView,
  },
  {
    kind: 'slurm_schedulers',
    path: '/slurm_schedulers',
    what: 'Slurm scheduler',
    ops: {
      create: 'create_slurm_scheduler',
      deleteAll: 'delete_slurm_schedulers',
      list: 'list_slurm_schedulers',
      deleteOne: 'delete_slurm_scheduler',
      get: 'get_slurm_scheduler',
      update: 'update_slurm_scheduler',
    },
    model: 'slurm_scheduler_model',
    listModel: 'list_slurm_schedulers_response',
    input: 'slurm_scheduler_input',
    example: { workflow_id: 1, name: 'gpu', account: 'myproject', partition: 'gpu', nodes: 1, walltime: '04:00:00', gres: 'gpu:2' },
    filters: [
      ...['name', 'account', 'gres', 'mem', 'partition', 'qos', 'tmp', 'walltime'].map((f) => filterString(f, `Only schedulers with this ${f}`)),
      filterInt('nodes', 'Only schedulers with this many nodes'),
    ],
    toColumns: (b, partial) => {
      const out = pick(b, ['workflow_id', 'name', 'account', 'partition', 'nodes', 'walltime', 'mem', 'gres', 'qos', 'ntasks_per_node', 'tmp', 'extra'], partial);
      if (!partial && out.name === undefined) out.name = `slurm_${String(b.account ?? 'scheduler')}`;
      return out;
    },
    view: slurmSchedulerView,
  },
  {
    kind: 'local_schedulers',
    path: '/local_schedulers',
    what: 'local scheduler',
    ops: {
      create: 'create_local_scheduler',
      deleteAll: 'delete_local_schedulers',
      list: 'list_local_schedulers',
      deleteOne: 'delete_local_scheduler',
      get: 'get_local_scheduler',
      update: 'update_local_scheduler',
    },
    model: 'local_scheduler_model',
    listModel: 'list_local_schedulers_response',
    input: 'local_scheduler_input',
    example: { workflow_id: 1, name: 'default', num_cpus: 8, memory: '32g' },
    filters: [filterString('memory', 'Only schedulers with this memory'), filterInt('num_cpus', 'Only schedulers with this many CPUs')],
    toColumns: (b, partial) => {
      const out = pick(b, ['workflow_id', 'name', 'memory', 'num_cpus'], partial);
      if (!partial) out.name ??= 'default';
      if (typeof out.memory === 'string') parseMemory(out.memory, 'memory');
      return out;
    },
    view: localSchedulerView,
  },
  {
    kind: 'results',
    path: '/results',
    what: 'result',
    ops: { create: 'create_result', deleteAll: 'delete_results', list: 'list_results', deleteOne: 'delete_result', get: 'get_result', update: 'update_result' },
    model: 'result_model',
    listModel: 'list_results_response',
    input: 'result_input',
    example: { workflow_id: 1, job_id: 1, run_id: 1, attempt_id: 1, compute_node_id: 1, return_code: 0, exec_time_minutes: 1.5, completion_time: '2026-01-01T12:00:00Z', status: 'completed' },
    filters: [
      filterInt('job_id', 'Only results of this job'),
      filterInt('run_id', 'Only results of this run'),
      p.queryInt('return_code', 'Only results with this return code', { minimum: -2147483648, maximum: 2147483647 }),
      { name: 'status', in: 'query', kind: 'job_status', description: 'Only results with this status' },
      p.queryBool('all_runs', "Every result; by default (torc's) only the latest result of each job", false),
      filterInt('compute_node_id', 'Only results of jobs that ran on this compute node'),
    ],
    filterValues: (params) => ({
      job_id: params.job_id as number | undefined,
      run_id: params.run_id as number | undefined,
      return_code: params.return_code as number | undefined,
      status: params.status as number | undefined,
      compute_node_id: params.compute_node_id as number | undefined,
      latest_only: params.all_runs ? undefined : true,
    }),
    toColumns: (b, partial) => {
      const out = pick(b, ['workflow_id', 'job_id', 'run_id', 'compute_node_id', 'return_code', 'exec_time_minutes', 'completion_time'], partial);
      if (b.attempt_id !== undefined && b.attempt_id !== null) out.attempt = b.attempt_id;
      else if (!partial) out.attempt = 1;
      if (b.status !== undefined && b.status !== null) out.status = statusCode(b.status, 'status');
      return out;
    },
    view: resultView,
    create: async (deps, columns) => {
      // The job must be of the result's workflow.
      const job = await deps.store.getJob(columns.job_id as number);
      if (job.workflow_id !== columns.workflow_id) throw new InputError(`job ${job.id} belongs to workflow ${job.workflow_id}`, 'job_id');
      return resultView(await deps.store.createRecord('results', columns));
    },
  },
  {
    kind: 'events',
    path: '/events',
    what: 'event',
    ops: { create: 'create_event', deleteAll: 'delete_events', list: 'list_events', deleteOne: 'delete_event', get: 'get_event', update: 'update_event' },
    model: 'event_model',
    listModel: 'list_events_response',
    input: 'event_input',
    example: { workflow_id: 1, timestamp: 1767268800000, data: { category: 'note', message: 'checkpoint written' } },
    filters: [
      filterString('category', 'Only events of this category'),
      p.queryInt('after_timestamp', 'Only events after this time (epoch ms)'),
      p.queryInt('after_id', 'Only events with a larger id (for polling)'),
    ],
    filterValues: (params) => ({
      category: params.category as string | undefined,
      after_timestamp: params.after_timestamp === undefined ? undefined : isoOfMs(params.after_timestamp as number),
      after_id: params.after_id as number | undefined,
    }),
    toColumns: (b, partial) => {
      const out = pick(b, ['workflow_id', 'data'], partial);
      if (b.timestamp !== undefined && b.timestamp !== null) out.timestamp = isoOfMs(b.timestamp as number);
      else if (!partial) out.timestamp = new Date().toISOString();
      const fromData = b.data && typeof b.data === 'object' ? (b.data as Body).category : undefined;
      const category = b.category ?? (typeof fromData === 'string' ? fromData : undefined);
      if (category !== undefined && category !== null) out.category = category;
      else if (!partial) out.category = 'user';
      return out;
    },
    view: eventView,
  },
];

function listParams(api: RecordKindApi): ParamSpec[] {
  return [WORKFLOW_FILTER, ...api.filters, ...PAGING, ...LIST_SORT];
}

function filterValues(api: RecordKindApi, params: Params): Record<string, string | number | boolean | undefined> {
  if (api.filterValues) return api.filterValues(params);
  return Object.fromEntries(api.filters.map((f) => [f.name, params[f.name] as string | number | boolean | undefined]));
}

const ID = (what: string) => p.id('id', `${what} id`);

export function recordKindRoutes(api: RecordKindApi): ApiRoute[] {
  const view = api.view as (r: unknown) => unknown;
  return [
    {
      operationId: api.ops.create,
      method: 'POST',
      path: api.path,
      summary: `Create a ${api.what} of a workflow`,
      mutating: true,
      params: api.createParams,
      body: { kind: 'json', schema: api.input, required: true, description: `torc's ${api.model}`, example: api.example },
      inputErrorStatus: 422,
      errors: [404, 409],
      response: { status: 200, schema: api.model, description: `The stored ${api.what}` },
      handler: async ({ deps, body, params }) => {
        const columns = api.toColumns(body as Body, false);
        if (api.create) return api.create(deps, columns, params);
        return view(await deps.store.createRecord(api.kind, columns));
      },
    },
    {
      operationId: api.ops.list,
      method: 'GET',
      path: api.path,
      summary: `The ${api.what} records of a workflow, filtered and sorted as torc's list_* are`,
      mutating: false,
      params: listParams(api),
      errors: [404],
      response: { status: 200, schema: api.listModel, description: `A page of ${api.what} records` },
      handler: async ({ deps, params }) => {
        const { offset, limit } = paging(params);
        const page = await deps.store.listRecords(api.kind, params.workflow_id as number, {
          offset,
          limit,
          where: filterValues(api, params),
          sort_by: params.sort_by as string | undefined,
          reverse_sort: params.reverse_sort as boolean,
        });
        return pageView(page, offset, limit, view);
      },
    },
    {
      operationId: api.ops.get,
      method: 'GET',
      path: `${api.path}/{id}`,
      summary: `Get a ${api.what}`,
      mutating: false,
      params: [ID(api.what)],
      errors: [404],
      response: { status: 200, schema: api.model, description: `The ${api.what}` },
      handler: async ({ deps, params }) => view(await deps.store.getRecord(api.kind, params.id as number)),
    },
    {
      operationId: api.ops.update,
      method: 'PUT',
      path: `${api.path}/{id}`,
      summary: `Update a ${api.what}: the fields given (a field left out or null keeps its value)`,
      mutating: true,
      params: [ID(api.what)],
      body: { kind: 'json', schema: api.input.replace(/_input$/, '_update'), required: true, description: `torc's ${api.model} (the fields that change, or all of them)`, example: api.example },
      inputErrorStatus: 422,
      errors: [404],
      response: { status: 200, schema: api.model, description: `The ${api.what} as stored now` },
      handler: async ({ deps, params, body }) => view(await deps.store.updateRecord(api.kind, params.id as number, api.toColumns(body as Body, true))),
    },
    {
      operationId: api.ops.deleteOne,
      method: 'DELETE',
      path: `${api.path}/{id}`,
      summary: `Delete a ${api.what}; 409 while jobs still use it`,
      mutating: true,
      params: [ID(api.what)],
      errors: [404, 409],
      response: { status: 200, schema: api.model, description: `The deleted ${api.what}` },
      handler: async ({ deps, params }) => view(await deps.store.deleteRecord(api.kind, params.id as number)),
    },
    {
      operationId: api.ops.deleteAll,
      method: 'DELETE',
      path: api.path,
      summary: `Delete every ${api.what} of a workflow; 409 while jobs still use them`,
      mutating: true,
      params: [WORKFLOW_FILTER],
      errors: [404, 409],
      response: { status: 200, schema: 'deleted_count_response', description: 'How many were deleted' },
      handler: async ({ deps, params }) => ({ count: await deps.store.deleteRecords(api.kind, params.workflow_id as number) }),
    },
  ];
}

const FH_ID = p.id('id', 'Failure handler id');

/** torc's four failure-handler operations, and our list by query. */
export const failureHandlerRoutes: ApiRoute[] = [
  {
    operationId: 'create_failure_handler',
    method: 'POST',
    path: '/failure_handlers',
    summary: 'Create a failure handler of a workflow (rules as torc\'s JSON string, or the array)',
    mutating: true,
    body: {
      kind: 'json',
      schema: 'failure_handler_input',
      required: true,
      description: "torc's failure_handler_model",
      example: { workflow_id: 1, name: 'retry_oom', rules: '[{"exit_codes": [137], "max_retries": 2, "memory_multiplier": 1.5}]' },
    },
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'failure_handler_model', description: 'The stored failure handler' },
    handler: async ({ deps, body }) => {
      const b = body as Body;
      const rules = parseFailureRules(b.rules);
      return failureHandlerView(await deps.store.createRecord('failure_handlers', { workflow_id: b.workflow_id, name: b.name, rules }));
    },
  },
  {
    operationId: 'get_failure_handler',
    method: 'GET',
    path: '/failure_handlers/{id}',
    summary: 'A failure handler with its rules (runners read it when a job with this handler fails)',
    mutating: false,
    params: [FH_ID],
    errors: [404],
    response: { status: 200, schema: 'failure_handler_model', description: 'The failure handler' },
    handler: async ({ deps, params }) => failureHandlerView(await deps.store.getFailureHandler(params.id as number)),
  },
  {
    operationId: 'delete_failure_handler',
    method: 'DELETE',
    path: '/failure_handlers/{id}',
    summary: 'Delete a failure handler; 409 while jobs still use it',
    mutating: true,
    params: [FH_ID],
    errors: [404, 409],
    response: { status: 200, schema: 'failure_handler_model', description: 'The deleted failure handler' },
    handler: async ({ deps, params }) => failureHandlerView(await deps.store.deleteRecord('failure_handlers', params.id as number)),
  },
  ...([
    ['list_failure_handlers', '/workflows/{id}/failure_handlers', [p.id('id', 'Workflow id')]],
    ['list_failure_handlers_by_workflow_id', '/failure_handlers', [WORKFLOW_FILTER]],
  ] as const).map(
    ([operationId, path, params]): ApiRoute => ({
      operationId,
      method: 'GET',
      path,
      summary: `Failure handlers of a workflow with their rules${path === '/failure_handlers' ? ' (the workflow as a query parameter)' : ''}`,
      mutating: false,
      params: [...params, ...PAGING],
      errors: [404],
      response: { status: 200, schema: 'list_failure_handlers_response', description: 'A page of failure handlers' },
      handler: async ({ deps, params: ps }) => {
        const { offset, limit } = paging(ps);
        const workflowId = (ps.id ?? ps.workflow_id) as number;
        await deps.store.getWorkflow(workflowId);
        const all = await deps.store.listFailureHandlers(workflowId);
        return pageView(pageOfList(all, offset, limit), offset, limit, failureHandlerView);
      },
    }),
  ),
];

export const recordRoutes: ApiRoute[] = [...KINDS.flatMap(recordKindRoutes), ...failureHandlerRoutes];

