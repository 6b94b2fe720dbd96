/**
 * Slurm allocations as the server records them: the record (also the API's scheduled compute
 * node view) and the registry the Slurm runner keeps them in. The store implements the
 * registry in SQLite (src/store/slurm-allocations.ts); the Slurm runner only sees this contract.
 */

/** One Slurm allocation submitted for a workflow. */
export interface AllocationRecord {
  id: number;
  workflow_id: number;
  /** The slurm_schedulers row it was submitted for. */
  scheduler_config_id: number;
  /** Slurm's job id. */
  slurm_job_id: string;
  /** Last Slurm state seen: SUBMITTED right after sbatch, then PENDING, RUNNING, COMPLETED, … */
  state: string;
  /** True once the allocation is over (its state is final or Slurm forgot it). */
  ended: boolean;
  created_at: string;
  updated_at: string;
}

export interface AllocationRegistry {
  recordAllocation(a: { workflow_id: number; scheduler_config_id: number; slurm_job_id: string; state: string }): Promise<AllocationRecord>;
  /** Allocations of the workflow not yet ended, oldest first. */
  listOpenAllocations(workflowId: number): Promise<AllocationRecord[]>;
  updateAllocationState(allocationId: number, state: string, ended: boolean): Promise<void>;
  /**
   * The allocation is gone: retire the compute nodes its workers registered and send their
   * pending/running jobs back to ready. Returns how many jobs were requeued.
   */
  requeueAllocationJobs(workflowId: number, slurmJobId: string): Promise<number>;
  /**
   * The allocation runs on, but Slurm took some nodes out of it (they failed): retire the
   * active compute nodes of the allocation registered on a host not in `nodes`, and send their
   * pending/running jobs back to ready. Returns the hosts retired and the jobs requeued.
   */
  requeueLostNodeJobs(workflowId: number, slurmJobId: string, nodes: readonly string[]): Promise<{ hosts: string[]; requeued: number }>;
}
