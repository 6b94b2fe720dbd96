/**
 * Plans built by hand for store tests (the spec pipeline produces real ones). Jobs name their
 * resource class, scheduler and blockers by name; the helper resolves names to indices and
 * builds the CSR dependency arrays.
 */
import type { Plan, PlanJob, PlanResourceClass, PlanSettings, PlanSlurmScheduler } from '../../src/spec/plan.js';

export const GB = 1024 ** 3;
export const MB = 1024 ** 2;

export interface JobSketch {
  name: string;
  /** Resource class name; default `default` (1 CPU, 1 MB, 1 h). */
  rc?: string;
  scheduler?: string;
  after?: string[];
  cancelOnFailure?: boolean;
  command?: string;
}

export interface PlanSketch {
  name?: string;
  classes?: Partial<PlanResourceClass>[];
  schedulers?: string[];
  jobs: JobSketch[];
  settings?: Partial<PlanSettings>;
}

export function resourceClass(c: Partial<PlanResourceClass> & { name: string }): PlanResourceClass {
  return { num_cpus: 1, memory_bytes: MB, num_gpus: 0, num_nodes: 1, runtime_seconds: 3600, ...c };
}

export function slurmScheduler(name: string): PlanSlurmScheduler {
  return {
    name, account: 'acct', partition: name, nodes: 1, walltime: '01:00:00',
    mem: null, gres: null, qos: null, ntasks_per_node: null, tmp: null, extra: null,
  };
}

export function defaultSettings(): PlanSettings {
  return {
    jobs_sort_method: 'none',
    use_pending_failed: false,
    compute_node_expiration_buffer_seconds: 60,
    compute_node_wait_for_new_jobs_seconds: 0,
    compute_node_ignore_workflow_completion: false,
    schedule: null,
    default_image: null,
    resource_monitor: null,
  };
}

export function makePlan(sketch: PlanSketch): Plan {
  const classes = [resourceClass({ name: 'default' }), ...(sketch.classes ?? []).map((c) => resourceClass({ name: 'c', ...c }))];
  const classIndex = new Map(classes.map((c, i) => [c.name, i]));
  const schedulers = (sketch.schedulers ?? []).map(slurmScheduler);
  const schedIndex = new Map(schedulers.map((s, i) => [s.name, i]));
  const jobIndex = new Map(sketch.jobs.map((j, i) => [j.name, i]));
  const offsets = new Uint32Array(sketch.jobs.length + 1);
  const targets: number[] = [];
  const jobs: PlanJob[] = sketch.jobs.map((j, i) => {
    for (const b of j.after ?? []) {
      const t = jobIndex.get(b);
      if (t === undefined) throw new Error(`job ${j.name}: unknown blocker ${b}`);
      targets.push(t);
    }
    offsets[i + 1] = targets.length;
    const rc = classIndex.get(j.rc ?? 'default');
    if (rc === undefined) throw new Error(`job ${j.name}: unknown class ${j.rc}`);
    const scheduler = j.scheduler === undefined ? null : schedIndex.get(j.scheduler);
    if (scheduler === undefined) throw new Error(`job ${j.name}: unknown scheduler ${j.scheduler}`);
    return {
      name: j.name,
      command: j.command ?? `echo ${j.name}`,
      invocation_script: null,
      resource_class: rc,
      scheduler,
      failure_handler: null,
      cancel_on_blocking_job_failure: j.cancelOnFailure ?? false,
      supports_termination: false,
      image: null,
      env: null,
      input_files: [],
      output_files: [],
      input_user_data: [],
      output_user_data: [],
      hash: `h-${j.name}`,
    };
  });
  return {
    name: sketch.name ?? 'test-workflow',
    user: 'tester',
    description: null,
    settings: { ...defaultSettings(), ...sketch.settings },
    jobs,
    resource_classes: classes,
    files: [],
    user_data: [],
    slurm_schedulers: schedulers,
    failure_handlers: [],
    actions: [],
    dep_offsets: offsets,
    dep_targets: Uint32Array.from(targets),
    spec_hash: 'spec-hash',
  };
}

/**
 * A large plan built without a sketch: `n` jobs spread round robin over `classes` resource
 * classes; with `chainEvery` k, every k-th job waits for the job before it.
 */
export function bigPlan(n: number, options: { classes?: number; chainEvery?: number } = {}): Plan {
  const classCount = options.classes ?? 4;
  const classes = [resourceClass({ name: 'default' })];
  for (let c = 1; c < classCount; c++) classes.push(resourceClass({ name: `rc${c}`, num_cpus: c * 2, memory_bytes: c * GB }));
  const offsets = new Uint32Array(n + 1);
  const targets: number[] = [];
  const jobs: PlanJob[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (options.chainEvery && i > 0 && i % options.chainEvery === 0) targets.push(i - 1);
    offsets[i + 1] = targets.length;
    jobs[i] = {
      name: `job_${i}`,
      command: `echo ${i}`,
      invocation_script: null,
      resource_class: i % classCount,
      scheduler: null,
      failure_handler: null,
      cancel_on_blocking_job_failure: false,
      supports_termination: false,
      image: null,
      env: null,
      input_files: [],
      output_files: [],
      input_user_data: [],
      output_user_data: [],
      hash: `h${i}`,
    };
  }
  return {
    name: 'big',
    user: null,
    description: null,
    settings: defaultSettings(),
    jobs,
    resource_classes: classes,
    files: [],
    user_data: [],
    slurm_schedulers: [],
    failure_handlers: [],
    actions: [],
    dep_offsets: offsets,
    dep_targets: Uint32Array.from(targets),
    spec_hash: 'big-hash',
  };
}
