/**
 * The contract between runners and the server: the one claim client every runner uses (local,
 * Slurm worker, Kubernetes operator) and the models it exchanges. Two implementations share
 * it: the HTTP client (src/api/client.ts) for runners in other processes/machines, and the
 * in-process one over the store (src/store/runner-client.ts) for the reconciler's own local
 * runner and the operator. Field names follow torc's JSON models (snake_case).
 */
import type { ResourceNeed, RunnerCapacity, SortMethod } from '../allocator/types.js';
import type { Plan, PlanFailureRule } from '../spec/plan.js';
import type { CompletionStatusName, JobStatusName } from './status.js';
import type { ResourceMonitorConfig } from '../spec/resource-monitor.js';
import type { DiagnosisReason, FailureDiagnosis, ResourceSample, ResourceSummary } from './resources.js';

/**
 * A job as the API shows it: torc's JobModel (string status, attempt_id) plus our fields. On the
 * wire a null field is left out, as torc's server does (contract/wire.ts).
 */
export interface JobRecord {
  id: number;
  workflow_id: number;
  name: string;
  command: string;
  invocation_script: string | null;
  /** torc's job_status (contract/status.ts); the store keeps torc's integer codes inside. */
  status: JobStatusName;
  /** 1 for the first try; + 1 on each retry or requeue of an orphan. */
  attempt_id: number;
  resource_requirements_id: number | null;
  scheduler_id: number | null;
  failure_handler_id: number | null;
  cancel_on_blocking_job_failure: boolean;
  supports_termination: boolean;
  image: string | null;
  env: Record<string, string> | null;
  return_code: number | null;
  compute_node_id: number | null;
}

/** A claimed job: what a runner needs to place and run it. */
export interface ClaimedJobRecord extends JobRecord {
  /** The job's needs per node (units resolved). */
  resources: ResourceNeed;
  /** Node names the allocator placed the job on (per-node capacity form), else []. */
  assigned_nodes: string[];
  /**
   * The files the job reads and writes (paths as declared, relative to the job's working
   * directory). The runner reports their modification times when the job completes, so that
   * reinitialize can tell what changed since. Absent from servers that do not send it.
   */
  files?: ClaimedJobFile[];
}

export interface ClaimedJobFile {
  id: number;
  path: string;
  kind: 'input' | 'output';
}

/** A file's modification time as a runner saw it (seconds since the epoch), or null when missing. */
export interface FileObservation {
  id: number;
  st_mtime: number | null;
}

export interface ClaimResponse {
  jobs: ClaimedJobRecord[];
  /** Why nothing (more) was claimed: workflow canceled/complete, nothing fits, none ready. */
  reason: string | null;
}

export interface ClaimByResourcesRequest {
  capacity: RunnerCapacity;
  sort_method?: SortMethod;
  strict_scheduler_match?: boolean;
  any_scheduler?: boolean;
  limit: number;
  /** The claiming runner's registered compute node: its lease covers the claimed (pending) jobs. */
  compute_node_id?: number | null;
  /**
   * Claim and start in one step: with the workflow's current run id (and compute_node_id) the
   * claimed jobs come back already running, as if start_job had been called for each.
   */
  start_run_id?: number | null;
}

/** Options of claim_next_jobs beyond torc's. */
export interface ClaimNextOptions {
  /** As ClaimByResourcesRequest.start_run_id: claimed jobs come back running. */
  start_run_id?: number | null;
}

/** One item of a bulk start/complete: done, or refused with the status the single call would have answered. */
export interface BulkItemResult {
  job_id: number;
  ok: boolean;
  /** The same report had been applied already (its answer was lost): acknowledged, nothing changed. */
  duplicate?: boolean;
  /** HTTP-style status of the refusal: 404 unknown job, 409 wrong state, stale run or attempt, 400 bad item. */
  status?: number;
  message?: string;
}

export interface CompleteJobItem extends CompleteJobResult {
  job_id: number;
  /** Completion status: completed, failed, canceled, terminated or pending_failed. */
  status: CompletionStatusName;
}

export interface CompleteJobResult extends Partial<ResourceSummary> {
  return_code: number;
  exec_time_minutes: number;
  completion_time: string;
  /**
   * The attempt this result is of, and the compute node that ran it (torc's result_model fields).
   * With them a report is idempotent: sent again after a lost answer it is acknowledged and not
   * applied twice; one of an older attempt (the job was requeued meanwhile) or from another node
   * is refused (409). Without them the job's current attempt is assumed (torc's own clients). The
   * node is recorded when the job has none of its own (started with manage_status_change rather
   * than start_job).
   */
  attempt_id?: number;
  compute_node_id?: number | null;
  /** For a completed job: its files' modification times right after it ran (see ClaimedJobRecord.files). */
  files?: FileObservation[];
  /** Why an unsuccessful attempt failed (allocator/diagnosis.ts); the server diagnoses one sent without. */
  failure_diagnosis?: FailureDiagnosis | null;
  diagnosis_reason?: DiagnosisReason | null;
  /** Where the attempt's output went, as the runner wrote it. */
  job_stdout?: string | null;
  job_stderr?: string | null;
}

/** The failed attempt a runner asks to retry (POST /jobs/{id}/retry/{run_id}). */
export interface RetryJobRequest extends CompleteJobResult {
  /** How the attempt ended: failed (non-zero exit, default) or terminated (runtime limit). */
  status?: 'failed' | 'terminated';
  /** torc's max_retries query parameter: refuse when the failed attempt is past it. */
  max_retries?: number;
}

/** A failure handler as runners read it (torc's failure_handler model, rules parsed). */
export interface FailureHandlerModel {
  id: number;
  workflow_id: number;
  name: string;
  rules: PlanFailureRule[];
}

export interface WorkflowProgress {
  workflow_id: number;
  run_id: number;
  is_complete: boolean;
  is_canceled: boolean;
  /** torc's archived flag. */
  is_archived?: boolean;
  /** Counts by status name. */
  counts: Record<string, number>;
  /**
   * Running jobs a user asked to cancel (POST /jobs/{id}/cancel): the runner running one
   * terminates it and reports it terminated. Absent from servers that do not send it.
   */
  cancel_requested_job_ids?: number[];
}

export interface ComputeNodeRegistration {
  hostname: string;
  pid: number;
  num_cpus: number;
  memory_gb: number;
  num_gpus: number;
  num_nodes: number;
  scheduler_config_id: number | null;
  /** e.g. "local", "slurm", "k8s". */
  compute_node_type: string;
  /** Seconds without a heartbeat after which the node's jobs are requeued. */
  lease_seconds: number;
  /**
   * The batch system's job id of the allocation the runner runs in (SLURM_JOB_ID), so that
   * the jobs of an allocation seen ended are requeued at once. Optional; null outside one.
   */
  scheduler_job_id?: string | null;
  /**
   * Absolute directory under which the runner writes job output (`job_stdio/job_<id>_<attempt>.o|e`),
   * so the dashboard can show an attempt's stdout/stderr. Optional; null when not on a shared path.
   */
  output_dir?: string | null;
}

export interface RunnerClient {
  getProgress(workflowId: number): Promise<WorkflowProgress>;
  registerComputeNode(workflowId: number, node: ComputeNodeRegistration): Promise<{ id: number }>;
  heartbeat(computeNodeId: number): Promise<void>;
  /** Marks the node inactive (a clean exit); its unfinished jobs go back to ready. */
  deactivateComputeNode(computeNodeId: number): Promise<void>;
  claimJobsBasedOnResources(workflowId: number, req: ClaimByResourcesRequest): Promise<ClaimResponse>;
  claimNextJobs(workflowId: number, limit: number, computeNodeId?: number, options?: ClaimNextOptions): Promise<ClaimResponse>;
  /** `attemptId`: the attempt being started; a start sent again (same node, run, attempt) is acknowledged. */
  startJob(jobId: number, runId: number, computeNodeId: number, attemptId?: number): Promise<void>;
  completeJob(jobId: number, status: CompletionStatusName, runId: number, result: CompleteJobResult): Promise<void>;
  /**
   * Bulk forms (issue 9): many jobs in one call / transaction. Optional: a runner whose client
   * lacks them makes the single calls. Items succeed or fail one by one.
   */
  startJobs?(workflowId: number, jobIds: number[], runId: number, computeNodeId: number, attemptIds?: number[]): Promise<BulkItemResult[]>;
  completeJobs?(workflowId: number, runId: number, items: CompleteJobItem[]): Promise<BulkItemResult[]>;
  /**
   * Failure handling (issue 6). Optional so that thin wrappers keep compiling; a runner whose
   * client lacks them reports every failure as final.
   */
  getFailureHandler?(failureHandlerId: number): Promise<FailureHandlerModel>;
  /** running → ready with attempt + 1 after a failed attempt that a rule retries; 409 when the rules refuse. */
  retryJob?(jobId: number, runId: number, request: RetryJobRequest): Promise<void>;
  /**
   * Resource monitoring (issue 22). Optional: a runner whose client lacks them monitors with
   * torc's defaults and reports only the summary with each result.
   */
  getResourceMonitor?(workflowId: number): Promise<ResourceMonitorConfig>;
  /** Stores time-series samples (granularity time_series). */
  recordResourceSamples?(workflowId: number, samples: ResourceSample[]): Promise<void>;
  /**
   * After an outage, runner and server agree on what the node holds (issue 24): the server sends
   * back to ready the jobs it has on this node that the runner does not hold (claimed but never
   * started here, or a claim whose answer was lost), and names the held jobs that are no longer
   * this node's (requeued, canceled, reset): the runner kills those and reports nothing for them.
   * 409 when the node is no longer active (its lease ran out: every job of it was requeued).
   * Optional: a runner whose client lacks it skips the step.
   */
  syncComputeNode?(computeNodeId: number, held: HeldJob[]): Promise<NodeSyncOutcome>;
}

/** A job a runner holds: claimed (not started yet), running, or ended with its report not delivered. */
export interface HeldJob {
  job_id: number;
  attempt_id: number;
}

export interface NodeSyncOutcome {
  /** Jobs of this node the runner did not hold, sent back to ready (canceled in a canceled workflow). */
  released: number[];
  /** Held jobs that are not this node's (at that attempt) any more: kill them, report nothing. */
  revoked: number[];
}

export type ApplyAction = 'created' | 'unchanged' | 'replaced';

/** What applying a planned spec did: a new workflow, the same one unchanged, or one replaced (unchanged completed jobs kept). */
export interface ApplyOutcome {
  workflow_id: number;
  action: ApplyAction;
  kept: number;
  rerun: number;
}

/** The Kubernetes resource (a Workflow CR) that declares a workflow. */
export interface DeclaringResource {
  namespace: string;
  name: string;
  uid: string;
}

/**
 * The Kubernetes operator's client: a runner's calls (it claims, starts and completes jobs
 * like every runner), plus what it does as the controller of Workflow resources.
 */
export interface OperatorClient extends RunnerClient {
  /** Makes the server hold the resource's planned spec (created, unchanged or replaced) and initializes its jobs. */
  applyWorkflow(plan: Plan, resource: DeclaringResource): Promise<ApplyOutcome>;
  /** Removes the workflows the (deleted) resource declared. */
  deleteWorkflows(resource: DeclaringResource): Promise<void>;
  /** The active compute node of this type registered for the workflow (the operator's own, across restarts), or null. */
  findActiveComputeNode(workflowId: number, computeNodeType: string): Promise<{ id: number } | null>;
  /** The workflow's pending and running jobs, as a claim returned them (needs and files; no nodes). */
  listHeldJobs(workflowId: number): Promise<ClaimedJobRecord[]>;
  /**
   * A `schedule` tick: a new run (every job back to uninitialized, then initialized again; the
   * run id goes up) and a `schedule_run_started` event. Returns the new run id.
   */
  startScheduledRun(workflowId: number, tick: string): Promise<{ run_id: number }>;
}

/** The operator's line to the server while it leads: its client, and how to let go of it. */
export interface OperatorConnection {
  client: OperatorClient;
  close(): Promise<void>;
}
