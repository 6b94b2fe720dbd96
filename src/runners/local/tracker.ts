/**
 * What this runner's running jobs hold. In resource-aware mode the allocator's NodeLedger
 * keeps the per-node accounts (its free capacity is what the next claim sends); GPU devices
 * come from the GpuPool in both modes. A claimed job always runs: if the server handed out
 * more than the ledger thinks is free, the job runs unbooked and the grant says so.
 */
import { NodeLedger } from '../../allocator/ledger.js';
import type { NodeCapacity, ResourceNeed, RunnerCapacity } from '../../allocator/types.js';
import { GpuPool } from './gpu-pool.js';

export interface TrackedJob {
  id: number;
  resources: ResourceNeed;
  /** The allocator's placement; empty = the first node. */
  assigned_nodes: string[];
}

export interface Grant {
  /** Devices for CUDA_VISIBLE_DEVICES, or null when this runner does not manage GPUs. */
  gpus: string[] | null;
  /** The job got less than exclusive use of what it asked (over-claimed, or shared GPUs). */
  overcommitted: boolean;
}

export class ResourceTracker {
  private readonly ledger: NodeLedger | null;
  private readonly pool: GpuPool;
  private readonly firstNode: string;

  /**
   * `nodes`: the runner's whole capacity; `gpuDevices`: the first (local) node's device ids;
   * `trackCapacity`: false in queue-depth mode, where resources are ignored by design.
   */
  constructor(nodes: readonly NodeCapacity[], gpuDevices: readonly string[], trackCapacity: boolean) {
    if (nodes.length === 0) throw new RangeError('a runner needs at least one node');
    this.firstNode = nodes[0]!.name;
    this.ledger = trackCapacity ? new NodeLedger(nodes) : null;
    this.pool = new GpuPool(gpuDevices);
  }

  /** The free capacity to claim with (resource-aware mode). */
  capacity(limits: { time_limit_seconds: number | null; scheduler_config_id: number | null }): RunnerCapacity {
    if (!this.ledger) throw new Error('capacity is not tracked in queue-depth mode');
    return this.ledger.capacity(limits);
  }

  reserve(job: TrackedJob): Grant {
    let overcommitted = false;
    if (this.ledger) {
      const nodes = job.assigned_nodes.length > 0 ? job.assigned_nodes : [this.firstNode];
      try {
        this.ledger.reserve(job.id, job.resources, nodes);
      } catch {
        overcommitted = true;
      }
    }
    if (this.pool.size === 0) return { gpus: null, overcommitted };
    const grant = this.pool.acquire(job.id, job.resources.num_gpus);
    return { gpus: grant.devices, overcommitted: overcommitted || grant.shared || grant.devices.length < job.resources.num_gpus };
  }

  release(jobId: number): void {
    if (this.ledger?.reservation(jobId)) this.ledger.release(jobId);
    this.pool.release(jobId);
  }
}
