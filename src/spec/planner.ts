/**
 * A loaded spec → the normalized Plan (src/spec/plan.ts): parameters expanded, `${files.*}` /
 * `${user_data.*}` substituted, names resolved to indices, dependencies (explicit, regex, files,
 * user data) as CSR arrays, cycles refused. Built to stay linear for 1M-job workflows: templates
 * are compiled once per spec entry, unparameterized lists are shared rather than copied, regexes
 * go through NameIndex, and the job count is checked before anything is expanded.
 */
import { createHash, hash } from 'node:crypto';
import { InputError, TooLargeError, type InputIssue } from '../errors.js';
import type { FileSpec, JobSpec, UserDataSpec, WorkflowSpec } from './generated/workflow.js';
import { throwIfAny } from './load.js';
import { NameIndex, type MatchResult } from './name-index.js';
import {
  Combinations, ParamError, compileTemplate, parseParamValues, type ParamValue, type ParamValues, type Template,
} from './params.js';
import type {
  Plan, PlanAction, PlanFailureHandler, PlanFile, PlanJob, PlanResourceClass, PlanSettings, PlanSlurmScheduler, PlanUserData,
  SortMethod,
} from './plan.js';
import { DEFAULT_NEED, DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES } from './plan.js';
import { staticIssues } from './static-checks.js';
import { closest, didYouMean } from './suggest.js';
import { parseDuration, parseMemory } from './units.js';

export interface PlanOptions {
  /** Refuse specs that expand to more jobs (or files, or user data entries) than this. Default 10M. */
  maxJobs?: number;
  /** Refuse plans with more dependency edges than this. Default 100M. */
  maxDependencies?: number;
  /** Most issues reported at once (default 1000). */
  maxIssues?: number;
  /** Prefix for issue paths, e.g. `documents[1].` for the second document of a file. */
  pathPrefix?: string;
}

export const DEFAULT_MAX_JOBS = 10_000_000;
export const DEFAULT_MAX_DEPENDENCIES = 100_000_000;

export const EMPTY: number[] = Object.freeze([]) as unknown as number[];
/** Suggestions scan every name; past this many names the cost is not worth it. */
const SUGGEST_LIMIT = 20_000;

export type Scope = { combos: Combinations; names: string[] } | null;
type ScopedItem = { parameters?: Record<string, ParamValue | undefined>; use_parameters?: string[]; parameter_mode?: 'product' | 'zip' };

export class Issues {
  readonly list: InputIssue[] = [];
  constructor(private readonly max: number) {}
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  /** Stops the pipeline early when a stage produced errors (later stages would only echo them). */
  flush(): void {
    throwIfAny(this.list, this.max);
  }
  get full(): boolean {
    return this.list.length > this.max;
  }
}

export function planWorkflow(spec: WorkflowSpec, options: PlanOptions = {}): Plan {
  const maxJobs = options.maxJobs ?? DEFAULT_MAX_JOBS;
  const maxDeps = options.maxDependencies ?? DEFAULT_MAX_DEPENDENCIES;
  const P = `${options.pathPrefix ?? ''}spec`;
  const issues = new Issues(options.maxIssues ?? 1000);
  suggestionsLeft = SUGGESTIONS_PER_PLAN;
  spec = foldAliases(spec);
  issues.list.push(...staticIssues(spec, P));
  if (!spec.name) issues.add(`${P}.name`, 'required field is missing');
  issues.flush();

  // ---- parameters and sizes (before anything is expanded) ----
  const scopeOf = scopeFactory(spec);
  const jobScopes = spec.jobs.map(scopeOf);
  const fileScopes = (spec.files ?? []).map(scopeOf);
  const udScopes = (spec.user_data ?? []).map(scopeOf);
  // Counted per combination: jobs that merge by name still cost an iteration each.
  checkSize(jobScopes, maxJobs, `${P}.jobs`, 'jobs');
  checkSize(fileScopes, maxJobs, `${P}.files`, 'files');
  checkSize(udScopes, maxJobs, `${P}.user_data`, 'user data entries');

  // ---- files and user data ----
  const files: PlanFile[] = [];
  const fileSource: number[] = [];
  (spec.files ?? []).forEach((f: FileSpec, i) => {
    expandEach(fileScopes[i]!, `${P}.files[${i}]`, issues, [f.name, f.path], ([name, path]) => {
      files.push({ name: name!, path: path! });
      fileSource.push(i);
    });
  });
  const fileIndex = uniqueIndex(files.map((f) => f.name), fileSource, `${P}.files`, 'file', issues);

  const userData: PlanUserData[] = [];
  const udSource: number[] = [];
  (spec.user_data ?? []).forEach((u: UserDataSpec, i) => {
    const scope = udScopes[i]!;
    expandEach(scope, `${P}.user_data[${i}]`, issues, [u.name], ([name], values, floats) => {
      const data = scope ? substituteDeep(u.data ?? null, scope.names, values, floats) : (u.data ?? null);
      userData.push({ name: name!, data, is_ephemeral: u.is_ephemeral ?? false });
      udSource.push(i);
    });
  });
  const udIndex = uniqueIndex(userData.map((u) => u.name), udSource, `${P}.user_data`, 'user data', issues);
  issues.flush();

  // ---- named tables ----
  const { resourceClasses, rcIndex, schedulers, schedIndex, handlers, handlerIndex } = planTables(spec, P);

  // ---- jobs ----
  const jobs: PlanJob[] = [];
  const jobSourceList: number[] = [];
  const dependsOn: string[][] = [];
  const dependsOnRegexes: string[][] = [];
  const vars = new VariableResolver(files, fileIndex, userData, udIndex);
  const fileNames = new NameIndex(files.map((f) => f.name));
  const udNames = new NameIndex(userData.map((u) => u.name));
  let incomplete = false; // a job spec was skipped: dependency errors would only echo that
  spec.jobs.forEach((js: JobSpec, s) => {
    const p = `${P}.jobs[${s}]`;
    const scope = jobScopes[s]!;
    let templates: JobTemplates;
    try {
      templates = compileJob(js, spec.default_image, scope?.names ?? []);
    } catch (err) {
      if (!(err instanceof ParamError)) throw err;
      issues.add(p, err.message);
      incomplete = true;
      return;
    }
    // Combinations that give the same job name make one job whose lists are gathered over them
    // (torc's aggregate pattern: `name: aggregate` with `depends_on: [train_{i}]`).
    const inName = new Set(templates.name.uses);
    const merging = scope !== null && scope.names.some((_, k) => !inName.has(k));
    if (merging) {
      const scalars = [...SCALAR_FIELDS.map((f) => [f, templates[f]] as const), ...(templates.env ?? []).map(([k, t]) => [`env.${k}`, t] as const)];
      const bad = scalars.find(([, t]) => t?.uses.some((k) => !inName.has(k)));
      if (bad) {
        const param = scope.names[bad[1]!.uses.find((k) => !inName.has(k))!]!;
        issues.add(`${p}.${bad[0]}`, `uses parameter {${param}}, which the job name does not: combinations that give the same name become one job, so put {${param}} in the name to get one job per value`);
        incomplete = true;
        return;
      }
    }
    const usesVars = hasVariables(js.command) || hasVariables(js.invocation_script);
    const refs = new RefCache();
    const values: ParamValue[] = [];
    const floats: boolean[] = [];
    const fill = (tp: Template | undefined) => (tp === undefined ? undefined : tp.fill(values, floats));
    const fillLists = (): JobLists => {
      const out = {} as JobLists;
      for (const f of LIST_FIELDS) {
        const list = templates.lists[f];
        out[f] = list === undefined ? (EMPTY as unknown as string[]) : list.every((x) => x.constant) ? js[f]! : list.map((x) => x.fill(values, floats));
      }
      return out;
    };
    const build = (lists: JobLists) => {
      const name = fill(templates.name)!;
      const label = scope ? ` (job "${name}")` : '';
      let command = fill(templates.command)!;
      let script = fill(templates.invocation_script) ?? null;
      const declared = { inFiles: [] as number[], outFiles: [] as number[], inUd: [] as number[], outUd: [] as number[] };
      if (usesVars) {
        command = vars.substitute(command, declared, `${p}.command`, label, issues);
        if (script !== null) script = vars.substitute(script, declared, `${p}.invocation_script`, label, issues);
      }
      const rrName = fill(templates.resource_requirements);
      const fhName = fill(templates.failure_handler);
      const schedName = fill(templates.scheduler);
      const resolveList = (exact: string[], regexes: string[], index: Map<string, number>, nameIndex: NameIndex, extra: number[], field: string, what: string): number[] => {
        if (exact.length === 0 && regexes.length === 0 && extra.length === 0) return EMPTY;
        const out = [...extra];
        exact.forEach((n, k) => {
          const i = index.get(n);
          if (i === undefined) issues.add(`${p}.${field}s[${k}]`.replace('_datas[', '_data['), `undefined ${what} "${n}"${label}${suggest(n, index)}`);
          else out.push(i);
        });
        regexes.forEach((re, k) => {
          const m = nameIndex.match(re);
          if ('error' in m) issues.add(`${p}.${field}_regexes[${k}]`, `${m.error}${label}`);
          else if (m.indices.length === 0) issues.add(`${p}.${field}_regexes[${k}]`, `regex "${re}" matches no ${what}${label}`);
          else out.push(...m.indices);
        });
        return dedupe(out);
      };
      const job: PlanJob = {
        name,
        command,
        invocation_script: script,
        resource_class: (rrName === undefined ? rcIndex.get('default') : refs.lookup(rcIndex, rrName, `${p}.resource_requirements`, 'resource requirements', label, issues)) ?? 0,
        scheduler: (schedName === undefined ? null : refs.lookup(schedIndex, schedName, `${p}.scheduler`, 'slurm scheduler', label, issues)) ?? null,
        failure_handler: (fhName === undefined ? null : refs.lookup(handlerIndex, fhName, `${p}.failure_handler`, 'failure handler', label, issues)) ?? null,
        // torc's default: a job waiting for one that failed is canceled.
        cancel_on_blocking_job_failure: js.cancel_on_blocking_job_failure ?? true,
        supports_termination: js.supports_termination ?? false,
        image: fill(templates.image) ?? null,
        env: templates.env ? Object.fromEntries(templates.env.map(([k, tp]) => [k, tp.fill(values, floats)])) : null,
        input_files: resolveList(lists.input_files, lists.input_file_regexes, fileIndex, fileNames, declared.inFiles, 'input_file', 'file'),
        output_files: resolveList(lists.output_files, lists.output_file_regexes, fileIndex, fileNames, declared.outFiles, 'output_file', 'file'),
        input_user_data: resolveList(lists.input_user_data, lists.input_user_data_regexes, udIndex, udNames, declared.inUd, 'input_user_data', 'user data'),
        output_user_data: resolveList(lists.output_user_data, lists.output_user_data_regexes, udIndex, udNames, declared.outUd, 'output_user_data', 'user data'),
        hash: '',
      };
      jobs.push(job);
      dependsOn.push(lists.depends_on);
      dependsOnRegexes.push(lists.depends_on_regexes);
      jobSourceList.push(s);
    };
    try {
      if (!scope) {
        build(fillLists());
        return;
      }
      if (!merging) {
        for (let c = 0; c < scope.combos.count && !issues.full; c++) {
          scope.combos.fill(c, values, floats);
          build(fillLists());
        }
        return;
      }
      const groups = new Map<string, { values: ParamValue[]; floats: boolean[]; lists: Record<ListField, Set<string>> }>();
      for (let c = 0; c < scope.combos.count; c++) {
        scope.combos.fill(c, values, floats);
        const name = templates.name.fill(values, floats);
        let group = groups.get(name);
        if (!group) {
          group = { values: values.slice(), floats: floats.slice(), lists: Object.fromEntries(LIST_FIELDS.map((f) => [f, new Set<string>()])) as Record<ListField, Set<string>> };
          groups.set(name, group);
        }
        const lists = fillLists();
        for (const f of LIST_FIELDS) for (const v of lists[f]) group.lists[f].add(v);
      }
      for (const group of groups.values()) {
        values.splice(0, values.length, ...group.values);
        floats.splice(0, floats.length, ...group.floats);
        build(Object.fromEntries(LIST_FIELDS.map((f) => [f, [...group.lists[f]]])) as JobLists);
        if (issues.full) break;
      }
    } catch (err) {
      if (!(err instanceof ParamError)) throw err;
      issues.add(p, err.message);
      incomplete = true;
    }
  });
  const jobSource = Uint32Array.from(jobSourceList);
  if (incomplete || issues.full) issues.flush();
  const jobNames = jobs.map((x) => x.name);
  const duplicatesBefore = issues.list.length;
  const jobIndex = uniqueIndex(jobNames, Array.from(jobSource), `${P}.jobs`, 'job', issues, '.name');
  if (issues.list.length > duplicatesBefore) issues.flush();

  // ---- dependencies ----
  const { offsets, targets } = buildDependencies(jobs, jobSource, jobIndex, new NameIndex(jobNames), dependsOn, dependsOnRegexes, files.length, userData.length, P, maxDeps, issues);
  issues.flush();
  const cycle = findCycle(jobs.length, offsets, targets);
  if (cycle) {
    throw new InputError(`dependency cycle: ${cycle.map((i) => jobs[i]!.name).join(' → ')}`, `${P}.jobs[${jobSource[cycle[0]!]}]`);
  }

  // ---- actions, settings, hashes ----
  const actions = planActions(spec, P, jobIndex, new NameIndex(jobNames), schedIndex, issues);
  issues.flush();
  const settings = planSettings(spec);
  for (const job of jobs) job.hash = jobHash(job, resourceClasses, schedulers, files, userData);
  const plan: Plan = {
    name: spec.name!,
    user: spec.user ?? null,
    description: spec.description ?? null,
    settings,
    jobs,
    resource_classes: resourceClasses,
    files,
    user_data: userData,
    slurm_schedulers: schedulers,
    failure_handlers: handlers,
    actions,
    dep_offsets: offsets,
    dep_targets: targets,
    spec_hash: '',
  };
  plan.spec_hash = specHash(plan);
  return plan;
}

/** Parameter scope of a spec entry (its own parameters, or the workflow's it uses), or null. */
export function scopeFactory(spec: WorkflowSpec): (item: ScopedItem) => Scope {
  const wfParams = new Map<string, ParamValues>();
  for (const [name, raw] of Object.entries(spec.parameters ?? {})) wfParams.set(name, parseParamValues(raw!));
  return (item: ScopedItem): Scope => {
    let params: Map<string, ParamValues>;
    if (item.parameters) {
      params = new Map(Object.entries(item.parameters).map(([n, raw]) => [n, parseParamValues(raw!)]));
    } else if (item.use_parameters) {
      params = new Map([...wfParams].filter(([n]) => item.use_parameters!.includes(n)));
    } else {
      return null;
    }
    if (params.size === 0) return null;
    return { combos: new Combinations(params, item.parameter_mode ?? 'product'), names: [...params.keys()] };
  };
}

/** Resource classes, Slurm schedulers and failure handlers, each with a name → index map. */
export function planTables(spec: WorkflowSpec, P: string) {
  const userDefault = (spec.resource_requirements ?? []).some((r) => r.name === 'default');
  const needsDefault = !userDefault && spec.jobs.some((j) => j.resource_requirements === undefined);
  const resourceClasses: PlanResourceClass[] = needsDefault ? [{ name: 'default', ...DEFAULT_NEED }] : [];
  (spec.resource_requirements ?? []).forEach((r, i) => {
    const p = `${P}.resource_requirements[${i}]`;
    resourceClasses.push({
      name: r.name,
      num_cpus: r.num_cpus,
      memory_bytes: parseMemory(r.memory, `${p}.memory`),
      num_gpus: r.num_gpus ?? 0,
      num_nodes: r.num_nodes ?? 1,
      runtime_seconds: parseDuration(r.runtime ?? 'PT1H', `${p}.runtime`),
    });
  });
  const rcIndex = new Map(resourceClasses.map((r, i) => [r.name, i]));
  const schedulers = planSchedulers(spec);
  const schedIndex = new Map(schedulers.map((s, i) => [s.name, i]));
  const handlers: PlanFailureHandler[] = (spec.failure_handlers ?? []).map((h) => ({
    name: h.name,
    rules: h.rules.map((r) => ({
      exit_codes: r.exit_codes ?? [],
      match_all_exit_codes: r.match_all_exit_codes ?? false,
      recovery_script: r.recovery_script ?? null,
      max_retries: r.max_retries ?? 3,
      memory_multiplier: r.memory_multiplier ?? null,
      runtime_multiplier: r.runtime_multiplier ?? null,
    })),
  }));
  const handlerIndex = new Map(handlers.map((h, i) => [h.name, i]));
  return { resourceClasses, rcIndex, schedulers, schedIndex, handlers, handlerIndex };
}

/** The workflow settings a spec declares, torc's defaults filled in. */
export function planSettings(spec: WorkflowSpec): PlanSettings {
  return {
    jobs_sort_method: (spec.jobs_sort_method ?? 'gpus_runtime_memory') as SortMethod,
    use_pending_failed: spec.use_pending_failed ?? false,
    compute_node_expiration_buffer_seconds: spec.compute_node_expiration_buffer_seconds ?? 60,
    compute_node_wait_for_new_jobs_seconds: spec.compute_node_wait_for_new_jobs_seconds ?? 90,
    compute_node_ignore_workflow_completion: spec.compute_node_ignore_workflow_completion ?? false,
    compute_node_wait_for_healthy_database_minutes: spec.compute_node_wait_for_healthy_database_minutes ?? DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES,
    schedule: spec.schedule ?? null,
    default_image: spec.default_image ?? null,
    working_dir: spec.working_dir ?? null,
    resource_monitor: spec.resource_monitor ?? null,
  };
}

/** Accepts specs straight from a file too: the aliases the loader folds are folded here as well. */
export function foldAliases(spec: WorkflowSpec): WorkflowSpec {
  if (spec.job_sort_method === undefined && !spec.jobs.some((j) => j.slurm_scheduler !== undefined)) return spec;
  const { job_sort_method, ...rest } = spec;
  return {
    ...rest,
    jobs_sort_method: spec.jobs_sort_method ?? job_sort_method,
    jobs: spec.jobs.map((j) => {
      if (j.slurm_scheduler === undefined) return j;
      const { slurm_scheduler, ...r } = j;
      return { ...r, scheduler: r.scheduler ?? slurm_scheduler };
    }),
  };
}

export const LIST_FIELDS = [
  'depends_on', 'depends_on_regexes', 'input_files', 'input_file_regexes', 'output_files', 'output_file_regexes',
  'input_user_data', 'input_user_data_regexes', 'output_user_data', 'output_user_data_regexes',
] as const;
type ListField = (typeof LIST_FIELDS)[number];
type JobLists = Record<ListField, string[]>;
const SCALAR_FIELDS = ['command', 'invocation_script', 'resource_requirements', 'failure_handler', 'scheduler', 'image'] as const;

export interface JobTemplates {
  name: Template;
  command: Template;
  invocation_script?: Template;
  resource_requirements?: Template;
  failure_handler?: Template;
  scheduler?: Template;
  image?: Template;
  env?: (readonly [string, Template])[];
  lists: Partial<Record<ListField, Template[]>>;
}

/** Compiles every templated field of a job once; filling them per combination is then cheap. */
export function compileJob(js: JobSpec, defaultImage: string | undefined, names: string[]): JobTemplates {
  const t = (v: string | undefined) => (v === undefined ? undefined : compileTemplate(v, names));
  const lists: Partial<Record<ListField, Template[]>> = {};
  for (const f of LIST_FIELDS) if (js[f] !== undefined) lists[f] = js[f]!.map((x) => compileTemplate(x, names));
  return {
    name: compileTemplate(js.name, names),
    command: compileTemplate(js.command, names),
    invocation_script: t(js.invocation_script),
    resource_requirements: t(js.resource_requirements),
    failure_handler: t(js.failure_handler),
    scheduler: t(js.scheduler),
    image: t(js.image ?? defaultImage),
    env: js.env ? Object.entries(js.env).map(([k, v]) => [k, compileTemplate(v!, names)] as const) : undefined,
    lists,
  };
}

export function checkSize(scopes: Scope[], max: number, path: string, what: string): number {
  let total = 0;
  for (let i = 0; i < scopes.length; i++) {
    total += scopes[i]?.combos.count ?? 1;
    if (total > max) {
      const own = scopes[i]?.combos.count ?? 1;
      throw new TooLargeError(
        `the spec expands to more than ${max} ${what} (this entry alone expands to ${own}); raise the limit (maxJobs) only if you mean it`,
        `${path}[${i}]`,
      );
    }
  }
  return total;
}

/** Calls `each` once per combination with the given templates filled (or once, unparameterized). */
function expandEach(
  scope: Scope, path: string, issues: Issues, sources: string[],
  each: (filled: string[], values: ParamValue[], floats: boolean[]) => void,
): void {
  try {
    if (!scope) {
      each(sources, [], []);
      return;
    }
    const templates = sources.map((s) => compileTemplate(s, scope.names));
    const values: ParamValue[] = [];
    const floats: boolean[] = [];
    for (let c = 0; c < scope.combos.count; c++) {
      scope.combos.fill(c, values, floats);
      each(templates.map((t) => t.fill(values, floats)), values, floats);
    }
  } catch (err) {
    if (!(err instanceof ParamError)) throw err;
    issues.add(path, err.message);
  }
}

/** Substitutes parameters into every string of a user_data `data` value. */
function substituteDeep(value: unknown, names: string[], values: ParamValue[], floats: boolean[]): unknown {
  if (typeof value === 'string') return compileTemplate(value, names).fill(values, floats);
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, names, values, floats));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: substituteDeep(v, names, values, floats), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

/** name → first index; reports duplicates with the spec entries they came from. */
function uniqueIndex(names: string[], source: ArrayLike<number>, path: string, what: string, issues: Issues, field = '.name'): Map<string, number> {
  const index = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    const first = index.get(names[i]!);
    if (first === undefined) index.set(names[i]!, i);
    else if (!issues.full) {
      const a = source[first]!;
      const b = source[i]!;
      const where = a === b ? 'its parameters produce the same name twice' : `also produced by ${path}[${a}]`;
      issues.add(`${path}[${b}]${field}`, `duplicate ${what} name "${names[i]}" (${where})`);
    }
  }
  return index;
}

/** Suggestions cost a scan of every name: a plan gets a limited number of them. */
let suggestionsLeft = 0;
const SUGGESTIONS_PER_PLAN = 50;

function suggest(name: string, index: Map<string, number>): string {
  if (index.size > SUGGEST_LIMIT || suggestionsLeft <= 0) return '';
  suggestionsLeft--;
  return didYouMean(name, index.keys());
}

/** Looks up referenced names, remembering answers so 1M jobs naming the same entry cost one lookup. */
class RefCache {
  private readonly reported = new Set<string>();
  lookup(index: Map<string, number>, name: string, path: string, what: string, label: string, issues: Issues): number | undefined {
    const i = index.get(name);
    if (i === undefined) {
      const key = `${path}\u0000${name}`;
      if (!this.reported.has(key)) {
        this.reported.add(key);
        const hint = index.size <= SUGGEST_LIMIT && suggestionsLeft-- > 0 ? closest(name, index.keys()) : undefined;
        issues.add(path, `undefined ${what} "${name}"${label}${hint ? `; did you mean "${hint}"?` : index.size === 0 ? ` (the spec defines no ${what})` : ''}`);
      }
    }
    return i;
  }
}

export function hasVariables(s: string | undefined): boolean {
  return s !== undefined && (s.includes('${files.') || s.includes('${user_data.'));
}

const VARIABLE = /\$\{(files|user_data)\.(input|output)\.([^}]+)\}/g;

/** `${files.input.NAME}` → the file's path, `${user_data.input.NAME}` → its data as JSON; each declares the file or data. */
class VariableResolver {
  constructor(
    private readonly files: PlanFile[], private readonly fileIndex: Map<string, number>,
    private readonly userData: PlanUserData[], private readonly udIndex: Map<string, number>,
  ) {}

  substitute(text: string, declared: { inFiles: number[]; outFiles: number[]; inUd: number[]; outUd: number[] }, path: string, label: string, issues: Issues): string {
    return text.replace(VARIABLE, (whole, kind: string, dir: string, name: string) => {
      if (kind === 'files') {
        const i = this.fileIndex.get(name);
        if (i === undefined) {
          issues.add(path, `${whole} names an undefined file "${name}"${label}${suggest(name, this.fileIndex)}`);
          return whole;
        }
        (dir === 'input' ? declared.inFiles : declared.outFiles).push(i);
        return this.files[i]!.path;
      }
      const i = this.udIndex.get(name);
      if (i === undefined) {
        issues.add(path, `${whole} names undefined user data "${name}"${label}${suggest(name, this.udIndex)}`);
        return whole;
      }
      (dir === 'input' ? declared.inUd : declared.outUd).push(i);
      return JSON.stringify(this.userData[i]!.data);
    });
  }
}

function dedupe(list: number[]): number[] {
  if (list.length < 2) return list;
  const sorted = list.slice().sort((a, b) => a - b);
  return sorted.filter((v, i) => i === 0 || v !== sorted[i - 1]);
}

/** A growable Uint32Array. */
export class U32Builder {
  private buf = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Uint32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  finish(): Uint32Array {
    return this.buf.slice(0, this.length);
  }
}

function buildDependencies(
  jobs: PlanJob[], jobSource: Uint32Array, jobIndex: Map<string, number>, jobNames: NameIndex,
  dependsOn: string[][], dependsOnRegexes: string[][], fileCount: number, udCount: number,
  P: string, maxDeps: number, issues: Issues,
): { offsets: Uint32Array; targets: Uint32Array } {
  const n = jobs.length;
  // Producers of each file / user data entry (a compact CSR of their own).
  const producers = (count: number, outputs: (job: PlanJob) => number[]) => {
    const off = new Uint32Array(count + 1);
    for (const job of jobs) for (const f of outputs(job)) off[f + 1]!++;
    for (let i = 0; i < count; i++) off[i + 1]! += off[i]!;
    const fill = off.slice(0, count);
    const list = new Uint32Array(off[count]!);
    jobs.forEach((job, j) => {
      for (const f of outputs(job)) list[fill[f]!++] = j;
    });
    return (f: number) => list.subarray(off[f]!, off[f + 1]!);
  };
  const fileProducers = producers(fileCount, (job) => job.output_files);
  const udProducers = producers(udCount, (job) => job.output_user_data);

  // Every distinct regex is matched once, in one batch.
  const patterns = new Set<string>();
  for (const list of dependsOnRegexes) for (const p of list) patterns.add(p);
  const matches: Map<string, MatchResult> = patterns.size > 0 ? jobNames.matchAll(patterns) : new Map();

  const offsets = new Uint32Array(n + 1);
  const targets = new U32Builder();
  const seen = new Int32Array(n).fill(-1);
  const add = (j: number, b: number) => {
    if (b === j || seen[b] === j) return;
    seen[b] = j;
    targets.push(b);
  };
  for (let j = 0; j < n; j++) {
    const p = `${P}.jobs[${jobSource[j]}]`;
    const job = jobs[j]!;
    const label = ` (job "${job.name}")`;
    dependsOn[j]!.forEach((name, k) => {
      const b = jobIndex.get(name);
      if (b === undefined) issues.add(`${p}.depends_on[${k}]`, `undefined job "${name}"${label}${suggest(name, jobIndex)}`);
      else if (b === j) issues.add(`${p}.depends_on[${k}]`, `job "${name}" depends on itself`);
      else add(j, b);
    });
    dependsOnRegexes[j]!.forEach((re, k) => {
      const m = matches.get(re)!;
      if ('error' in m) issues.add(`${p}.depends_on_regexes[${k}]`, `${m.error}${label}`);
      else {
        let any = false;
        for (const b of m.indices) {
          if (b !== j) {
            any = true;
            add(j, b);
          }
        }
        if (!any) issues.add(`${p}.depends_on_regexes[${k}]`, `regex "${re}" matches no other job${label}`);
      }
    });
    for (const f of job.input_files) for (const b of fileProducers(f)) add(j, b);
    for (const u of job.input_user_data) for (const b of udProducers(u)) add(j, b);
    offsets[j + 1] = targets.length;
    if (targets.length > maxDeps) {
      throw new TooLargeError(`the spec has more than ${maxDeps} dependencies (raise maxDependencies only if you mean it)`, p);
    }
    if (issues.full) break;
  }
  return { offsets, targets: targets.finish() };
}

/**
 * Kahn's algorithm over the CSR; when jobs remain, walks blockers among them until one repeats
 * and returns that cycle in execution order (a → b means a must finish before b), closed.
 */
export function findCycle(n: number, offsets: Uint32Array, targets: Uint32Array): number[] | null {
  const pending = new Uint32Array(n);
  const dependents = reverseCsr(n, offsets, targets);
  const queue = new Uint32Array(n);
  let head = 0;
  let tail = 0;
  for (let j = 0; j < n; j++) {
    pending[j] = offsets[j + 1]! - offsets[j]!;
    if (pending[j] === 0) queue[tail++] = j;
  }
  while (head < tail) {
    const j = queue[head++]!;
    for (let k = dependents.offsets[j]!; k < dependents.offsets[j + 1]!; k++) {
      const d = dependents.targets[k]!;
      if (--pending[d]! === 0) queue[tail++] = d;
    }
  }
  if (tail === n) return null;
  let start = 0;
  while (pending[start] === 0) start++;
  const order = new Map<number, number>();
  const walk: number[] = [];
  let v = start;
  while (!order.has(v)) {
    order.set(v, walk.length);
    walk.push(v);
    // Every job left over waits for at least one other left-over job.
    for (let k = offsets[v]!; k < offsets[v + 1]!; k++) {
      if (pending[targets[k]!]! > 0) {
        v = targets[k]!;
        break;
      }
    }
  }
  const cycle = walk.slice(order.get(v)!).reverse();
  return [...cycle, cycle[0]!];
}

/** Dependents of each job (the transpose of the blockers CSR). */
export function reverseCsr(n: number, offsets: Uint32Array, targets: Uint32Array): { offsets: Uint32Array; targets: Uint32Array } {
  const off = new Uint32Array(n + 1);
  for (let k = 0; k < targets.length; k++) off[targets[k]! + 1]!++;
  for (let i = 0; i < n; i++) off[i + 1]! += off[i]!;
  const fill = off.slice(0, n);
  const out = new Uint32Array(targets.length);
  for (let j = 0; j < n; j++) {
    for (let k = offsets[j]!; k < offsets[j + 1]!; k++) out[fill[targets[k]!]!++] = j;
  }
  return { offsets: off, targets: out };
}

export function planSchedulers(spec: WorkflowSpec): PlanSlurmScheduler[] {
  const defaults = Object.entries(spec.slurm_defaults ?? {});
  return (spec.slurm_schedulers ?? []).map((s) => {
    const out: PlanSlurmScheduler = {
      name: s.name,
      account: s.account ?? null,
      partition: s.partition ?? null,
      nodes: s.nodes ?? 1,
      walltime: s.walltime ?? '01:00:00',
      mem: s.mem ?? null,
      gres: s.gres ?? null,
      qos: s.qos ?? null,
      ntasks_per_node: s.ntasks_per_node ?? null,
      tmp: s.tmp ?? null,
      extra: s.extra ?? null,
    };
    const extra: string[] = out.extra ? [out.extra] : [];
    for (const [key, raw] of defaults) {
      const option = key.toLowerCase().replace(/_/g, '-');
      const value = String(raw);
      if (option === 'account') out.account ??= value;
      else if (option === 'qos') out.qos ??= value;
      else if (option === 'tmp') out.tmp ??= value;
      else if (option === 'ntasks-per-node' && out.ntasks_per_node === null && /^\d+$/.test(value)) out.ntasks_per_node = Number(value);
      else if (!extra.some((e) => e.includes(`--${option}`))) extra.push(`--${option}=${value}`);
    }
    out.extra = extra.length > 0 ? extra.join(' ') : null;
    return out;
  });
}

function planActions(spec: WorkflowSpec, P: string, jobIndex: Map<string, number>, jobNames: NameIndex, schedIndex: Map<string, number>, issues: Issues): PlanAction[] {
  return (spec.actions ?? []).map((a, i) => {
    const p = `${P}.actions[${i}]`;
    const watched: number[] = [];
    a.jobs?.forEach((name, k) => {
      const j = jobIndex.get(name);
      if (j === undefined) issues.add(`${p}.jobs[${k}]`, `undefined job "${name}"${suggest(name, jobIndex)}`);
      else watched.push(j);
    });
    a.job_name_regexes?.forEach((re, k) => {
      const m = jobNames.match(re);
      if ('error' in m) issues.add(`${p}.job_name_regexes[${k}]`, m.error);
      else if (m.indices.length === 0) issues.add(`${p}.job_name_regexes[${k}]`, `regex "${re}" matches no job`);
      else watched.push(...m.indices);
    });
    return {
      trigger_type: a.trigger_type,
      action_type: a.action_type,
      jobs: dedupe(watched),
      commands: a.commands ?? [],
      scheduler: a.scheduler !== undefined && (a.scheduler_type ?? 'slurm') === 'slurm' ? (schedIndex.get(a.scheduler) ?? null) : null,
      scheduler_type: a.scheduler_type ?? null,
      num_allocations: a.num_allocations ?? 1,
      start_one_worker_per_node: a.start_one_worker_per_node ?? false,
      max_parallel_jobs: a.max_parallel_jobs ?? null,
      persistent: a.persistent ?? false,
    };
  });
}

/** What defines what a job does; a changed hash means the job must run again. */
export function jobHash(job: PlanJob, classes: PlanResourceClass[], schedulers: PlanSlurmScheduler[], files: PlanFile[], userData: PlanUserData[]): string {
  const rc = classes[job.resource_class]!;
  const envEntries = job.env ? Object.entries(job.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : null;
  const material = JSON.stringify([
    job.command, job.invocation_script,
    [rc.num_cpus, rc.memory_bytes, rc.num_gpus, rc.num_nodes, rc.runtime_seconds],
    job.scheduler === null ? null : schedulers[job.scheduler]!.name,
    envEntries, job.image,
    job.input_files.map((f) => [files[f]!.name, files[f]!.path]),
    job.output_files.map((f) => [files[f]!.name, files[f]!.path]),
    job.input_user_data.map((u) => userData[u]!.name),
    job.output_user_data.map((u) => userData[u]!.name),
  ]);
  return hash('sha256', material, 'hex').slice(0, 32);
}

/** Hash of the whole expanded spec: tables, settings, every job and every dependency. */
function specHash(plan: Plan): string {
  const h = specHasher(plan);
  for (const job of plan.jobs) h.job(job);
  return h.finish(plan.dep_offsets, plan.dep_targets);
}

/** specHash fed one job at a time (the streamed planner's jobs are never all in memory). */
export function specHasher(plan: Omit<Plan, 'jobs' | 'dep_offsets' | 'dep_targets' | 'spec_hash'>) {
  const h = createHash('sha256');
  h.update(JSON.stringify([
    plan.name, plan.user, plan.description, plan.settings, plan.resource_classes, plan.files, plan.user_data,
    plan.slurm_schedulers, plan.failure_handlers, plan.actions,
  ]));
  return {
    job(job: PlanJob): void {
      h.update(`\n${job.hash}\t${job.name}\t${job.failure_handler}\t${job.cancel_on_blocking_job_failure}\t${job.supports_termination}`);
    },
    finish(offsets: Uint32Array, targets: Uint32Array): string {
      h.update(new Uint8Array(offsets.buffer, offsets.byteOffset, offsets.byteLength));
      h.update(new Uint8Array(targets.buffer, targets.byteOffset, targets.byteLength));
      return h.digest('hex');
    },
  };
}
