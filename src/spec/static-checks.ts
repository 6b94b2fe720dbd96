/**
 * Semantic checks of a schema-valid spec that need no parameter expansion: unit strings,
 * duplicate names of the named tables, parameter syntax, use_parameters references, failure
 * rules, actions, slurm_defaults, env names, the cron schedule. (References from jobs are
 * checked after expansion, in the planner, because they may hold templates.)
 */
import { InputError, type InputIssue } from '../errors.js';
import { loadCron } from '../lazy-modules.js';
import type { WorkflowSpec } from './generated/workflow.js';
import { PARAM_NAME, ParamError, combinationCount, parseParamValues, type ParamValues } from './params.js';
import { didYouMean } from './suggest.js';
import { parseDuration, parseMemory, parseSlurmWalltime } from './units.js';

/** sbatch options torc manages itself and refuses in slurm_defaults. */
const SLURM_MANAGED = ['partition', 'nodes', 'walltime', 'time', 'mem', 'gres', 'name', 'job-name'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function staticIssues(spec: WorkflowSpec, path: string): InputIssue[] {
  const issues: InputIssue[] = [];
  const add = (p: string, message: string) => issues.push({ path: p, message });
  const guard = (p: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof InputError) issues.push(...err.issues);
      else if (err instanceof ParamError) add(p, err.message);
      else throw err;
    }
  };

  duplicates(spec.resource_requirements, `${path}.resource_requirements`, add);
  duplicates(spec.failure_handlers, `${path}.failure_handlers`, add);
  duplicates(spec.slurm_schedulers, `${path}.slurm_schedulers`, add);

  spec.resource_requirements?.forEach((rr, i) => {
    const p = `${path}.resource_requirements[${i}]`;
    guard(`${p}.memory`, () => parseMemory(rr.memory, `${p}.memory`));
    if (rr.runtime !== undefined) guard(`${p}.runtime`, () => parseDuration(rr.runtime!, `${p}.runtime`));
  });

  spec.slurm_schedulers?.forEach((s, i) => {
    const p = `${path}.slurm_schedulers[${i}]`;
    if (s.walltime !== undefined) guard(`${p}.walltime`, () => parseSlurmWalltime(s.walltime!, `${p}.walltime`));
    if (s.mem !== undefined) guard(`${p}.mem`, () => parseMemory(s.mem!, `${p}.mem`));
  });

  // It becomes a process's cwd, an #SBATCH --chdir line and a pod's workingDir.
  if (typeof spec.working_dir === 'string' && /[\u0000-\u001f\u007f]/.test(spec.working_dir)) add(`${path}.working_dir`, 'must not contain control characters such as newlines');
  if (typeof spec.working_dir === 'string' && /["\\%]/.test(spec.working_dir)) add(`${path}.working_dir`, 'must not contain quotes, backslashes or "%" (Slurm --chdir cannot carry them)');

  for (const key of Object.keys(spec.slurm_defaults ?? {})) {
    if (SLURM_MANAGED.includes(key.toLowerCase())) {
      add(`${path}.slurm_defaults.${key}`, `"${key}" is managed by torc per scheduler and cannot be a default (managed: ${SLURM_MANAGED.join(', ')})`);
    }
  }

  spec.failure_handlers?.forEach((h, i) => {
    h.rules.forEach((r, k) => {
      if (!r.match_all_exit_codes && !(r.exit_codes && r.exit_codes.length > 0)) {
        add(`${path}.failure_handlers[${i}].rules[${k}]`, 'a rule needs exit_codes or match_all_exit_codes: true');
      }
    });
  });

  // Parameters: names, value syntax, and how they combine.
  const workflowParams = new Map<string, ParamValues>();
  for (const [name, raw] of Object.entries(spec.parameters ?? {})) {
    const p = `${path}.parameters.${name}`;
    if (!PARAM_NAME.test(name)) add(p, `parameter name "${name}" must be an identifier (letters, digits, _)`);
    guard(p, () => {
      const values = parseParamValues(raw!);
      if (values.length === 0) throw new ParamError(`parameter "${name}" has no values`);
      workflowParams.set(name, values);
    });
  }
  const checkItem = (
    item: { parameters?: Record<string, number | string | undefined>; use_parameters?: string[]; parameter_mode?: 'product' | 'zip' },
    p: string,
  ) => {
    const local = new Map<string, ParamValues>();
    for (const [name, raw] of Object.entries(item.parameters ?? {})) {
      if (!PARAM_NAME.test(name)) add(`${p}.parameters.${name}`, `parameter name "${name}" must be an identifier (letters, digits, _)`);
      guard(`${p}.parameters.${name}`, () => {
        const values = parseParamValues(raw!);
        if (values.length === 0) throw new ParamError(`parameter "${name}" has no values`);
        local.set(name, values);
      });
    }
    item.use_parameters?.forEach((name, k) => {
      if (!(spec.parameters && Object.hasOwn(spec.parameters, name))) {
        add(`${p}.use_parameters[${k}]`, `no workflow parameter "${name}"${didYouMean(name, Object.keys(spec.parameters ?? {}))}`);
      }
    });
    const effective = item.parameters ? local : new Map([...workflowParams].filter(([n]) => item.use_parameters?.includes(n)));
    if (item.parameter_mode === 'zip') guard(`${p}.parameter_mode`, () => combinationCount(effective, 'zip'));
  };
  spec.jobs.forEach((job, i) => {
    const p = `${path}.jobs[${i}]`;
    checkItem(job, p);
    for (const key of Object.keys(job.env ?? {})) {
      if (!ENV_NAME.test(key)) add(`${p}.env.${key}`, `"${key}" is not a valid environment variable name`);
    }
    execIssues(job, p, add);
  });
  spec.files?.forEach((f, i) => checkItem(f, `${path}.files[${i}]`));
  spec.user_data?.forEach((u, i) => checkItem(u, `${path}.user_data[${i}]`));

  spec.actions?.forEach((a, i) => {
    const p = `${path}.actions[${i}]`;
    if (a.action_type === 'schedule_nodes') {
      if (a.scheduler_type === undefined) add(`${p}.scheduler_type`, 'required for a schedule_nodes action');
      if (a.scheduler === undefined) add(`${p}.scheduler`, 'required for a schedule_nodes action');
      else if ((a.scheduler_type ?? 'slurm') === 'slurm') {
        const names = (spec.slurm_schedulers ?? []).map((s) => s.name);
        if (!names.includes(a.scheduler)) add(`${p}.scheduler`, `no slurm scheduler "${a.scheduler}"${didYouMean(a.scheduler, names)}`);
      }
    }
    if (a.action_type === 'run_commands' && !(a.commands && a.commands.length > 0)) {
      add(`${p}.commands`, 'a run_commands action needs at least one command');
    }
    if ((a.trigger_type === 'on_jobs_ready' || a.trigger_type === 'on_jobs_complete') && !a.jobs?.length && !a.job_name_regexes?.length) {
      add(p, `${a.trigger_type} needs jobs or job_name_regexes`);
    }
  });

  if (spec.schedule !== undefined) {
    const result = loadCron().validateCronExpression(spec.schedule);
    if (!result.valid) {
      add(`${path}.schedule`, `invalid cron expression "${spec.schedule}"${result.error?.message ? `: ${result.error.message}` : ''}`);
    }
  }
  return issues;
}

/**
 * Longest single argument or environment entry Linux passes to a program (MAX_ARG_STRLEN,
 * 32 pages, less the terminating NUL). A job's shell command, its name (TORC_JOB_NAME) and each
 * env entry are such strings: past it, or with a NUL inside, the job could never start.
 */
export const MAX_EXEC_STRING_BYTES = 32 * 4096 - 1;

function execIssues(job: WorkflowSpec['jobs'][number], p: string, add: (p: string, m: string) => void): void {
  const check = (field: string, value: string | undefined, bytes: (v: string) => number) => {
    if (value === undefined) return;
    if (value.includes('\0')) add(`${p}.${field}`, 'contains a NUL character, which no program can receive');
    const n = bytes(value);
    if (n > MAX_EXEC_STRING_BYTES) {
      add(`${p}.${field}`, `is ${n} bytes; a program's argument or environment entry can hold at most ${MAX_EXEC_STRING_BYTES} (put long scripts in a file)`);
    }
  };
  const utf8 = (v: string) => Buffer.byteLength(v, 'utf8');
  const script = job.invocation_script?.trim();
  check('command', job.command, (v) => utf8(v) + (script ? utf8(script) + 1 : 0));
  check('invocation_script', job.invocation_script, utf8);
  check('name', job.name, (v) => utf8(`TORC_JOB_NAME=${v}`));
  for (const [key, value] of Object.entries(job.env ?? {})) check(`env.${key}`, value, (v) => utf8(`${key}=${v}`));
}

function duplicates(list: { name: string }[] | undefined, path: string, add: (p: string, m: string) => void): void {
  const first = new Map<string, number>();
  list?.forEach((item, i) => {
    const seen = first.get(item.name);
    if (seen !== undefined) add(`${path}[${i}].name`, `duplicate name "${item.name}" (first at ${path}[${seen}])`);
    else first.set(item.name, i);
  });
}
