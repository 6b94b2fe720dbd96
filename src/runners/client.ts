/**
 * The one claim client every runner uses (local, Slurm worker, Kubernetes operator).
 * Two implementations share this interface: the HTTP client (src/api/client.ts) for runners in
 * other processes/machines, and an in-process one over the store for the reconciler's own
 * local runner. Field names follow torc's JSON models (snake_case).
 */
import type { ResourceNeed, RunnerCapacity, SortMethod } from '../allocator/types.js';

/** A job as the API shows it (torc's JobModel plus our fields). */
export interface JobRecord {
  id: number;
  workflow_id: number;
  name: string;
  command: string;
  invocation_script: string | null;
  /** torc status code (store/status.ts). */
  status: number;
  /** 1 for the first try; + 1 on each retry or requeue of an orphan. */
  attempt: number;
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
}

export interface CompleteJobResult {
  return_code: number;
  exec_time_minutes: number;
  completion_time: string;
}

export interface WorkflowProgress {
  workflow_id: number;
  run_id: number;
  is_complete: boolean;
  is_canceled: boolean;
  /** Counts by status name. */
  counts: Record<string, number>;
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
}

export interface RunnerClient {
  getProgress(workflowId: number): Promise<WorkflowProgress>;
  registerComputeNode(workflowId: number, node: ComputeNodeRegistration): Promise<{ id: number }>;
  heartbeat(computeNodeId: number): Promise<void>;
  /** Marks the node inactive (a clean exit); its unfinished jobs go back to ready. */
  deactivateComputeNode(computeNodeId: number): Promise<void>;
  claimJobsBasedOnResources(workflowId: number, req: ClaimByResourcesRequest): Promise<ClaimResponse>;
  claimNextJobs(workflowId: number, limit: number, computeNodeId?: number): Promise<ClaimResponse>;
  startJob(jobId: number, runId: number, computeNodeId: number): Promise<void>;
  completeJob(jobId: number, status: number, runId: number, result: CompleteJobResult): Promise<void>;
}
