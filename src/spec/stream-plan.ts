/**
 * The streamed planner, for very large parameterized workflows (10M jobs): the same jobs,
 * dependencies and spec hash as planWorkflow, but the jobs are never all in memory. It keeps
 * only what is O(jobs) and compact — the dependency CSR (Uint32Arrays) and a name table of
 * hashes (12 bytes a slot, names regenerated from their combination to check a match) — and
 * generates the PlanJob objects again, one at a time, when the store inserts them.
 *
 * It covers the common shape of huge specs: job entries whose names carry every parameter they
 * use, `depends_on` by name (templated or not), no files, user data or actions, and resource
 * requirements / scheduler / failure handler names without parameters. For anything else —
 * and for every spec with an error (duplicate or undefined names, cycles, …) — it returns null,
 * and the caller plans with planWorkflow, which reports the errors.
 */
import type { JobSpec, WorkflowSpec } from './generated/workflow.js';
import { ParamError, type ParamValue, type Template } from './params.js';
import type { Plan, PlanJob } from './plan.js';
import {
  DEFAULT_MAX_DEPENDENCIES, DEFAULT_MAX_JOBS, EMPTY, LIST_FIELDS, U32Builder, checkSize, compileJob, findCycle, foldAliases, hasVariables,
  jobHash, planSettings, planTables, planWorkflow, scopeFactory, specHasher, type JobTemplates, type PlanOptions, type Scope,
} from './planner.js';
import { staticIssues } from './static-checks.js';

/** A Plan whose jobs are generated on demand. */
export interface StreamedPlan extends Omit<Plan, 'jobs' | 'spec_hash'> {
  readonly job_count: number;
  /** The jobs in plan order, generated one at a time: equal to planWorkflow's `jobs`. */
  eachJob(): Iterable<PlanJob>;
  /** Feeds the jobs to specHasher; equal to planWorkflow's spec_hash. */
  hasher(): ReturnType<typeof specHasher>;
  /** planWorkflow's Plan (every job in memory), for what needs the list: replacing a workflow. */
  materialize(): Plan;
}

interface Entry {
  js: JobSpec;
  scope: Scope;
  templates: JobTemplates;
  start: number;
  count: number;
  resourceClass: number;
  scheduler: number | null;
  failureHandler: number | null;
  /** depends_on resolved once when no item uses a parameter. */
  constantDeps: string[] | null;
}

/** The streamed plan of `spec`, or null when the spec is not of the covered shape or has an error. */
export function planWorkflowStreamed(original: WorkflowSpec, options: PlanOptions = {}): StreamedPlan | null {
  const P = `${options.pathPrefix ?? ''}spec`;
  const spec = foldAliases(original);
  if ((spec.files?.length ?? 0) > 0 || (spec.user_data?.length ?? 0) > 0 || (spec.actions?.length ?? 0) > 0) return null;
  if (!spec.name || staticIssues(spec, P).length > 0) return null;
  let entries: Entry[];
  let tables: ReturnType<typeof planTables>;
  try {
    const scopeOf = scopeFactory(spec);
    const scopes = spec.jobs.map(scopeOf);
    // As planWorkflow: a spec past the limit is refused before anything is expanded.
    checkSize(scopes, options.maxJobs ?? DEFAULT_MAX_JOBS, `${P}.jobs`, 'jobs');
    tables = planTables(spec, P);
    entries = [];
    let start = 0;
    for (const [s, js] of spec.jobs.entries()) {
      const scope = scopes[s]!;
      const templates = compileJob(js, spec.default_image, scope?.names ?? []);
      const inName = new Set(templates.name.uses);
      if (scope !== null && scope.names.some((_, k) => !inName.has(k))) return null; // merging entries
      if (LIST_FIELDS.some((f) => f !== 'depends_on' && (js[f]?.length ?? 0) > 0)) return null;
      if (hasVariables(js.command) || hasVariables(js.invocation_script)) return null;
      const named = (t: Template | undefined, index: Map<string, number>): number | null | undefined => {
        if (t === undefined) return null;
        if (!t.constant) return undefined;
        return index.get(t.source);
      };
      const rc = templates.resource_requirements === undefined ? (tables.rcIndex.get('default') ?? 0) : named(templates.resource_requirements, tables.rcIndex);
      const sched = named(templates.scheduler, tables.schedIndex);
      const fh = named(templates.failure_handler, tables.handlerIndex);
      if (rc === undefined || rc === null || sched === undefined || fh === undefined) return null;
      const deps = templates.lists.depends_on ?? [];
      const count = scope?.combos.count ?? 1;
      entries.push({
        js, scope, templates, start, count, resourceClass: rc, scheduler: sched, failureHandler: fh,
        constantDeps: deps.every((t) => t.constant) ? deps.map((t) => t.source) : null,
      });
      start += count;
    }
  } catch (err) {
    if (err instanceof ParamError) return null;
    throw err;
  }
  const n = entries.reduce((sum, e) => sum + e.count, 0);
  const values: ParamValue[] = [];
  const floats: boolean[] = [];
  const entryOf = (j: number): Entry => {
    let lo = 0;
    let hi = entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (entries[mid]!.start <= j) lo = mid;
      else hi = mid - 1;
    }
    return entries[lo]!;
  };
  const nameValues: ParamValue[] = [];
  const nameFloats: boolean[] = [];
  const nameOf = (j: number): string => {
    const e = entryOf(j);
    e.scope?.combos.fill(j - e.start, nameValues, nameFloats);
    return e.templates.name.fill(nameValues, nameFloats);
  };

  // Pass 1: every name into the table; a duplicate goes to planWorkflow, which reports it.
  const table = new NameTable(n, nameOf);
  for (const e of entries) {
    for (let c = 0; c < e.count; c++) {
      e.scope?.combos.fill(c, values, floats);
      if (!table.add(e.templates.name.fill(values, floats), e.start + c)) return null;
    }
  }

  // Pass 2: dependencies (blockers in depends_on order, each once), as planWorkflow's CSR.
  const maxDeps = options.maxDependencies ?? DEFAULT_MAX_DEPENDENCIES;
  const offsets = new Uint32Array(n + 1);
  const targets = new U32Builder();
  const blockers: number[] = [];
  const resolve = (names: readonly string[], j: number): boolean => {
    blockers.length = 0;
    for (const name of names) {
      const b = table.get(name);
      if (b < 0 || b === j) return false;
      if (!blockers.includes(b)) blockers.push(b);
    }
    return true;
  };
  for (const e of entries) {
    const deps = e.templates.lists.depends_on ?? [];
    for (let c = 0; c < e.count; c++) {
      const j = e.start + c;
      let names: readonly string[] = e.constantDeps ?? [];
      if (e.constantDeps === null) {
        e.scope?.combos.fill(c, values, floats);
        names = deps.map((t) => t.fill(values, floats));
      }
      if (names.length > 0 && !resolve(names, j)) return null;
      if (names.length > 0) for (const b of blockers) targets.push(b);
      offsets[j + 1] = targets.length;
      if (targets.length > maxDeps) return null;
    }
  }
  const depTargets = targets.finish();
  if (findCycle(n, offsets, depTargets) !== null) return null;

  const head = {
    name: spec.name,
    user: spec.user ?? null,
    description: spec.description ?? null,
    settings: planSettings(spec),
    resource_classes: tables.resourceClasses,
    files: [],
    user_data: [],
    slurm_schedulers: tables.schedulers,
    failure_handlers: tables.handlers,
    actions: [],
  };
  function* eachJob(): Generator<PlanJob> {
    const v: ParamValue[] = [];
    const f: boolean[] = [];
    for (const e of entries) {
      const t = e.templates;
      for (let c = 0; c < e.count; c++) {
        e.scope?.combos.fill(c, v, f);
        const job: PlanJob = {
          name: t.name.fill(v, f),
          command: t.command.fill(v, f),
          invocation_script: t.invocation_script?.fill(v, f) ?? null,
          resource_class: e.resourceClass,
          scheduler: e.scheduler,
          failure_handler: e.failureHandler,
          cancel_on_blocking_job_failure: e.js.cancel_on_blocking_job_failure ?? true,
          supports_termination: e.js.supports_termination ?? false,
          image: t.image?.fill(v, f) ?? null,
          env: t.env ? Object.fromEntries(t.env.map(([k, tp]) => [k, tp.fill(v, f)])) : null,
          input_files: EMPTY,
          output_files: EMPTY,
          input_user_data: EMPTY,
          output_user_data: EMPTY,
          hash: '',
        };
        job.hash = jobHash(job, head.resource_classes, head.slurm_schedulers, [], []);
        yield job;
      }
    }
  }
  return {
    ...head,
    job_count: n,
    dep_offsets: offsets,
    dep_targets: depTargets,
    eachJob,
    hasher: () => specHasher(head),
    materialize: () => planWorkflow(original, options),
  };
}

/**
 * name → job index over millions of names in flat typed arrays: open addressing on a 64-bit
 * string hash; a slot whose hash matches is confirmed by regenerating that job's name.
 */
class NameTable {
  private readonly h1: Uint32Array;
  private readonly h2: Uint32Array;
  private readonly index: Int32Array;
  private readonly mask: number;

  constructor(n: number, private readonly nameOf: (j: number) => string) {
    let size = 1024;
    while (size < n * 1.5) size *= 2;
    this.h1 = new Uint32Array(size);
    this.h2 = new Uint32Array(size);
    this.index = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  /** Adds name → j; false when the name is already there. */
  add(name: string, j: number): boolean {
    const [a, b] = hash64(name);
    for (let slot = a & this.mask; ; slot = (slot + 1) & this.mask) {
      const at = this.index[slot]!;
      if (at < 0) {
        this.h1[slot] = a;
        this.h2[slot] = b;
        this.index[slot] = j;
        return true;
      }
      if (this.h1[slot] === a && this.h2[slot] === b && this.nameOf(at) === name) return false;
    }
  }

  /** The job of that name, or -1. */
  get(name: string): number {
    const [a, b] = hash64(name);
    for (let slot = a & this.mask; ; slot = (slot + 1) & this.mask) {
      const at = this.index[slot]!;
      if (at < 0) return -1;
      if (this.h1[slot] === a && this.h2[slot] === b && this.nameOf(at) === name) return at;
    }
  }
}

const pair: [number, number] = [0, 0];

/** Two 32-bit halves of a string hash (cyrb53's mixing, kept as 64 bits). Reuses one array. */
function hash64(s: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  pair[0] = h1 >>> 0;
  pair[1] = h2 >>> 0;
  return pair;
}
