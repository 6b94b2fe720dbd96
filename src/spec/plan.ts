/**
 * The normalized plan: what the spec pipeline (load → validate → expand → resolve) hands to
 * the store. Everything is resolved to indices so that 1M-job workflows stay compact:
 * jobs refer to resource classes, files and user data by index, and dependencies are a CSR
 * adjacency (job i is blocked by jobs depTargets[depOffsets[i] .. depOffsets[i+1]-1]).
 *
 * Contract shared by src/spec (producer) and src/store (consumer); change both together.
 */

/**
 * What a job needs per node it occupies, units resolved. The one resource-need type: the plan's
 * resource classes, the store's resource requirements, the allocator's claim classes and every
 * runner's claimed jobs all carry it (or extend it).
 */
export interface ResourceNeed {
  num_cpus: number;
  /** Bytes ("4g" → 4 * 1024^3). */
  memory_bytes: number;
  num_gpus: number;
  num_nodes: number;
  /** Seconds (ISO8601 "PT30M" → 1800). */
  runtime_seconds: number;
}

/**
 * What a job that declares no resource_requirements needs (torc: 1 CPU, 1 MB, PT1H). Written
 * here once: the planner gives such jobs the `default` class with it, and every later reader
 * (store, allocator, runners) reads the stored class, never a default of its own.
 */
export const DEFAULT_NEED: Readonly<ResourceNeed> = Object.freeze({
  num_cpus: 1, memory_bytes: 1024 * 1024, num_gpus: 0, num_nodes: 1, runtime_seconds: 3600,
});

/** A resource requirements entry with units resolved. Index 0 may be the implicit default. */
export interface PlanResourceClass extends ResourceNeed {
  /** resource_requirements name; `default` for jobs that declare none (DEFAULT_NEED). */
  name: string;
}

export interface PlanFile {
  name: string;
  path: string;
}

export interface PlanUserData {
  name: string;
  data: unknown;
  is_ephemeral: boolean;
}

export interface PlanJob {
  name: string;
  /** The command with `${files.*}` / `${user_data.*}` substituted and parameters expanded. */
  command: string;
  invocation_script: string | null;
  /** Index into Plan.resource_classes. */
  resource_class: number;
  /** Index into Plan.slurm_schedulers, or null when the job is not bound to a scheduler. */
  scheduler: number | null;
  /** Index into Plan.failure_handlers, or null. */
  failure_handler: number | null;
  cancel_on_blocking_job_failure: boolean;
  supports_termination: boolean;
  /** Container image for Kubernetes (job `image`, else workflow `default_image`), or null. */
  image: string | null;
  env: Record<string, string> | null;
  /** Indices into Plan.files / Plan.user_data. */
  input_files: number[];
  output_files: number[];
  input_user_data: number[];
  output_user_data: number[];
  /**
   * Stable hash of everything that defines what the job does (command, invocation script,
   * resources, scheduler, env, image, input/output names). A re-applied spec whose job hash
   * changed re-runs that job.
   */
  hash: string;
}

/** Slurm scheduler entry with slurm_defaults merged in. Field names are torc's. */
export interface PlanSlurmScheduler {
  name: string;
  account: string | null;
  partition: string | null;
  nodes: number;
  walltime: string;
  mem: string | null;
  gres: string | null;
  qos: string | null;
  ntasks_per_node: number | null;
  tmp: string | null;
  extra: string | null;
}

export interface PlanFailureRule {
  exit_codes: number[];
  match_all_exit_codes: boolean;
  recovery_script: string | null;
  max_retries: number;
  memory_multiplier: number | null;
  runtime_multiplier: number | null;
}

export interface PlanFailureHandler {
  name: string;
  rules: PlanFailureRule[];
}

export type ActionTrigger = 'on_workflow_start' | 'on_workflow_complete' | 'on_jobs_ready' | 'on_jobs_complete';

export interface PlanAction {
  trigger_type: ActionTrigger;
  action_type: 'run_commands' | 'schedule_nodes';
  /** Job indices the trigger watches (from `jobs` and `job_name_regexes`). */
  jobs: number[];
  commands: string[];
  /** Index into Plan.slurm_schedulers, or null. */
  scheduler: number | null;
  scheduler_type: string | null;
  num_allocations: number;
  start_one_worker_per_node: boolean;
  max_parallel_jobs: number | null;
  persistent: boolean;
}

export type SortMethod = 'gpus_runtime_memory' | 'gpus_memory_runtime' | 'none';

export interface PlanSettings {
  jobs_sort_method: SortMethod;
  use_pending_failed: boolean;
  compute_node_expiration_buffer_seconds: number;
  compute_node_wait_for_new_jobs_seconds: number;
  compute_node_ignore_workflow_completion: boolean;
  /**
   * How long runners wait through a server outage, keeping their reports, before they give up
   * (torc's field; default DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES). Absent in workflows stored
   * before it was kept: read it with waitForHealthyDatabaseMinutes().
   */
  compute_node_wait_for_healthy_database_minutes?: number;
  /** Cron expression, or null. */
  schedule: string | null;
  default_image: string | null;
  /**
   * Where the jobs run (spec working_dir): absolute when the spec came from a file (resolved
   * against its directory), possibly relative for a spec given as text (runners resolve it
   * against their own directory); null or absent (workflows stored before it): where the runner runs.
   */
  working_dir?: string | null;
  resource_monitor: unknown;
  /** torc workflow fields a spec does not set but torc's API stores and shows (create/update_workflow). */
  compute_node_min_time_for_new_jobs_seconds?: number;
  /** torc's slurm_defaults as given to update_workflow (a spec's are merged into its schedulers). */
  slurm_defaults?: Record<string, unknown> | null;
  /** torc's archived flag (update_workflow_status). */
  is_archived?: boolean;
}

/** torc's default for compute_node_wait_for_healthy_database_minutes. */
export const DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES = 20;

export function waitForHealthyDatabaseMinutes(settings: Pick<PlanSettings, 'compute_node_wait_for_healthy_database_minutes'>): number {
  return settings.compute_node_wait_for_healthy_database_minutes ?? DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES;
}

export interface Plan {
  name: string;
  user: string | null;
  description: string | null;
  settings: PlanSettings;
  jobs: PlanJob[];
  resource_classes: PlanResourceClass[];
  files: PlanFile[];
  user_data: PlanUserData[];
  slurm_schedulers: PlanSlurmScheduler[];
  failure_handlers: PlanFailureHandler[];
  actions: PlanAction[];
  /** CSR offsets, length jobs.length + 1. */
  dep_offsets: Uint32Array;
  /** CSR targets: the jobs each job waits for (its blockers), as job indices. */
  dep_targets: Uint32Array;
  /** Hash of the whole spec document (after expansion), to notice a changed spec cheaply. */
  spec_hash: string;
}
