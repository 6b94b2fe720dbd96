/**
 * torc's workflow export document (`torc workflows export`, format "1.0": the workflow and all
 * its records in torc's model shapes, with database ids) and the way back: an export → a
 * workflow spec with the ids turned into names, which the ordinary loader and planner store as
 * a new workflow (new ids; jobs start uninitialized, as torc's import resets them).
 */
import { InputError, type InputIssue } from '../errors.js';
import type { FailureHandlerRuleSpec, JobSpec, WorkflowActionSpec, WorkflowSpec } from './generated/workflow.js';

export const TORC_EXPORT_VERSION = '1.0';

type Model = Record<string, unknown>;

export interface TorcExport {
  export_version: string;
  exported_at: string;
  workflow: Model;
  files: Model[];
  user_data: Model[];
  resource_requirements: Model[];
  slurm_schedulers: Model[];
  local_schedulers: Model[];
  failure_handlers?: Model[];
  jobs: Model[];
  workflow_actions: Model[];
  results?: Model[];
  events?: Model[];
}

export interface ImportedSpec {
  spec: WorkflowSpec;
  /** What the export holds that the new workflow does not take (results, events, local schedulers). */
  warnings: InputIssue[];
}

const LISTS = ['files', 'user_data', 'resource_requirements', 'slurm_schedulers', 'local_schedulers', 'jobs', 'workflow_actions'] as const;

function isObject(v: unknown): v is Model {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether a parsed document is a torc export (rather than a workflow spec). */
export function isTorcExport(v: unknown): v is TorcExport {
  return isObject(v) && 'export_version' in v && isObject(v.workflow);
}

/**
 * An export → a spec. `name` overrides the workflow's name (`--name`). Every id a record refers
 * to must be in the export; torc allows duplicate names where a spec needs unique ones, so a
 * repeated name gets its id appended (`job (id 7)`), with a warning.
 */
export function exportToSpec(doc: unknown, options: { name?: string; skipResults?: boolean; skipEvents?: boolean } = {}): ImportedSpec {
  const issues: InputIssue[] = [];
  const warnings: InputIssue[] = [];
  if (!isObject(doc)) throw new InputError('expected a torc workflow export (a JSON object with export_version, workflow, jobs, …)');
  if (doc.export_version !== TORC_EXPORT_VERSION) {
    throw new InputError(`unsupported export_version ${JSON.stringify(doc.export_version)} (this torc reads "${TORC_EXPORT_VERSION}")`, 'export_version');
  }
  if (!isObject(doc.workflow)) throw new InputError('required, an object', 'workflow');
  for (const key of LISTS) {
    if (!Array.isArray(doc[key]) || !(doc[key] as unknown[]).every(isObject)) issues.push({ path: key, message: 'required, a list of objects' });
  }
  if (doc.failure_handlers !== undefined && !(Array.isArray(doc.failure_handlers) && doc.failure_handlers.every(isObject))) {
    issues.push({ path: 'failure_handlers', message: 'expected a list of objects' });
  }
  if (issues.length > 0) throw new InputError(issues);
  const x = doc as unknown as TorcExport;

  const names = (key: string, list: Model[]) => {
    const byId = new Map<number, string>();
    const seen = new Set<string>();
    list.forEach((r, i) => {
      if (typeof r.id !== 'number') issues.push({ path: `${key}[${i}].id`, message: 'required, an integer' });
      if (typeof r.name !== 'string' || r.name === '') issues.push({ path: `${key}[${i}].name`, message: 'required, a non-empty string' });
      let name = String(r.name);
      if (seen.has(name)) {
        warnings.push({ path: `${key}[${i}].name`, message: `"${name}" is used by more than one record; imported as "${name} (id ${r.id})"` });
        name = `${name} (id ${r.id})`;
      }
      seen.add(name);
      byId.set(r.id as number, name);
    });
    return byId;
  };
  const files = names('files', x.files);
  const userData = names('user_data', x.user_data);
  const rr = names('resource_requirements', x.resource_requirements);
  const schedulers = names('slurm_schedulers', x.slurm_schedulers);
  const handlers = names('failure_handlers', x.failure_handlers ?? []);
  const jobs = names('jobs', x.jobs);
  if (issues.length > 0) throw new InputError(issues);

  const ref = (map: Map<number, string>, what: string, path: string, id: unknown): string | undefined => {
    if (id === undefined || id === null) return undefined;
    const name = typeof id === 'number' ? map.get(id) : undefined;
    if (name === undefined) issues.push({ path, message: `no ${what} with id ${JSON.stringify(id)} in the export` });
    return name;
  };
  const refs = (map: Map<number, string>, what: string, path: string, ids: unknown): string[] | undefined => {
    if (ids === undefined || ids === null) return undefined;
    if (!Array.isArray(ids)) {
      issues.push({ path, message: 'expected a list of ids' });
      return undefined;
    }
    const out = ids.map((id, k) => ref(map, what, `${path}[${k}]`, id)).filter((n): n is string => n !== undefined);
    return out.length > 0 ? out : undefined;
  };
  const pick = (r: Model, keys: readonly string[]) => Object.fromEntries(keys.filter((k) => r[k] !== undefined && r[k] !== null).map((k) => [k, r[k]]));

  const w = x.workflow;
  const spec: WorkflowSpec = {
    name: options.name ?? String(w.name),
    ...(pick(w, ['user', 'description', 'jobs_sort_method', 'use_pending_failed', 'compute_node_expiration_buffer_seconds', 'compute_node_wait_for_new_jobs_seconds',
      'compute_node_ignore_workflow_completion', 'compute_node_wait_for_healthy_database_minutes', 'schedule', 'default_image']) as Partial<WorkflowSpec>),
    jobs: [],
  };
  if (spec.user === '') delete spec.user;
  const monitor = parseJsonField(w.resource_monitor_config, 'workflow.resource_monitor_config', issues);
  if (isObject(monitor)) spec.resource_monitor = monitor;
  const slurmDefaults = parseJsonField(w.slurm_defaults, 'workflow.slurm_defaults', issues);
  if (isObject(slurmDefaults) && Object.keys(slurmDefaults).length > 0) spec.slurm_defaults = slurmDefaults as WorkflowSpec['slurm_defaults'];

  if (x.files.length > 0) spec.files = x.files.map((f) => ({ name: files.get(f.id as number)!, path: String(f.path) }));
  if (x.user_data.length > 0) {
    spec.user_data = x.user_data.map((u) => ({ name: userData.get(u.id as number)!, ...(u.data !== undefined ? { data: u.data } : {}), ...(u.is_ephemeral !== undefined ? { is_ephemeral: Boolean(u.is_ephemeral) } : {}) }));
  }
  // torc gives every workflow a "default" entry: declared only when a job uses it.
  const usedRr = new Set(x.jobs.map((j) => j.resource_requirements_id));
  const declaredRr = x.resource_requirements.filter((r) => r.name !== 'default' || usedRr.has(r.id));
  if (declaredRr.length > 0) {
    spec.resource_requirements = declaredRr.map((r) => ({ name: rr.get(r.id as number)!, ...pick(r, ['num_cpus', 'num_gpus', 'num_nodes', 'memory', 'runtime']) }) as NonNullable<WorkflowSpec['resource_requirements']>[number]);
  }
  if (x.slurm_schedulers.length > 0) {
    spec.slurm_schedulers = x.slurm_schedulers.map((s) => ({ name: schedulers.get(s.id as number)!, ...pick(s, ['account', 'partition', 'nodes', 'walltime', 'mem', 'gres', 'qos', 'ntasks_per_node', 'tmp', 'extra']) }));
  }
  if ((x.failure_handlers ?? []).length > 0) {
    spec.failure_handlers = x.failure_handlers!.map((h, i) => {
      const rules = typeof h.rules === 'string' ? parseJsonField(h.rules, `failure_handlers[${i}].rules`, issues) : h.rules;
      // torc-ts writes unset rule fields as null; a spec leaves them out.
      const list = (Array.isArray(rules) ? rules : []).map((r) => (isObject(r) ? Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)) : r));
      return { name: handlers.get(h.id as number)!, rules: list as FailureHandlerRuleSpec[] };
    });
  }
  spec.jobs = x.jobs.map((j, i): JobSpec => {
    const p = `jobs[${i}]`;
    const job: JobSpec = { name: jobs.get(j.id as number)!, command: String(j.command ?? ''), ...(pick(j, ['invocation_script', 'cancel_on_blocking_job_failure', 'supports_termination', 'image', 'env']) as Partial<JobSpec>) };
    const set = <K extends keyof JobSpec>(k: K, v: JobSpec[K] | undefined) => {
      if (v !== undefined) job[k] = v;
    };
    set('resource_requirements', ref(rr, 'resource requirements', `${p}.resource_requirements_id`, j.resource_requirements_id));
    set('scheduler', ref(schedulers, 'slurm scheduler', `${p}.scheduler_id`, j.scheduler_id));
    set('failure_handler', ref(handlers, 'failure handler', `${p}.failure_handler_id`, j.failure_handler_id));
    set('depends_on', refs(jobs, 'job', `${p}.depends_on_job_ids`, j.depends_on_job_ids));
    set('input_files', refs(files, 'file', `${p}.input_file_ids`, j.input_file_ids));
    set('output_files', refs(files, 'file', `${p}.output_file_ids`, j.output_file_ids));
    set('input_user_data', refs(userData, 'user data', `${p}.input_user_data_ids`, j.input_user_data_ids));
    set('output_user_data', refs(userData, 'user data', `${p}.output_user_data_ids`, j.output_user_data_ids));
    return job;
  });
  if (x.workflow_actions.length > 0) {
    spec.actions = x.workflow_actions.map((a, i): WorkflowActionSpec => {
      const p = `workflow_actions[${i}]`;
      const config = isObject(a.action_config) ? a.action_config : typeof a.action_config === 'string' ? (parseJsonField(a.action_config, `${p}.action_config`, issues) as Model) ?? {} : {};
      const action = { trigger_type: a.trigger_type, action_type: a.action_type, ...pick(config, ['commands', 'scheduler_type', 'num_allocations', 'start_one_worker_per_node', 'max_parallel_jobs']), ...pick(a, ['persistent']) } as WorkflowActionSpec;
      const scheduler = ref(schedulers, 'slurm scheduler', `${p}.action_config.scheduler_id`, config.scheduler_id);
      if (scheduler !== undefined) action.scheduler = scheduler;
      const watched = refs(jobs, 'job', `${p}.job_ids`, a.job_ids);
      if (watched !== undefined) action.jobs = watched;
      return action;
    });
  }
  if (x.local_schedulers.length > 0) warnings.push({ path: 'local_schedulers', message: `${x.local_schedulers.length} local scheduler(s) not imported: torc-ts offers capacity per runner (torc reconcile --num-cpus/--memory-gb)` });
  if (!options.skipResults && (x.results?.length ?? 0) > 0) warnings.push({ path: 'results', message: `${x.results!.length} result(s) not imported: the imported jobs start uninitialized, as after torc's import` });
  if (!options.skipEvents && (x.events?.length ?? 0) > 0) warnings.push({ path: 'events', message: `${x.events!.length} event(s) not imported` });
  if (issues.length > 0) throw new InputError(issues);
  return { spec, warnings };
}

function parseJsonField(v: unknown, path: string, issues: InputIssue[]): unknown {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch (err) {
    issues.push({ path, message: `not valid JSON: ${(err as Error).message}` });
    return undefined;
  }
}
