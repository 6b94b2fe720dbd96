/**
 * Per-node bookkeeping for a runner: what each node has in total, what its running jobs
 * hold, and which GPU indices are free. The local runner keeps one for its machine, the
 * Kubernetes operator one per cluster view. Pure (no I/O); `capacity()` is what a runner
 * sends with its claim, and `apply()` books the decision that comes back.
 */
import { ConflictError, InputError } from '../errors.js';
import { add, fitsOn, isMultiNode, subtract, type FreeResources } from './fit.js';
import type { ClaimDecision, NodeCapacity, ResourceNeed, RunnerCapacity } from './types.js';

export interface NodeShare {
  name: string;
  num_cpus: number;
  memory_bytes: number;
  num_gpus: number;
  /** The GPUs of this node given to the job (e.g. for CUDA_VISIBLE_DEVICES). */
  gpu_indices: number[];
}

export interface Reservation {
  job_id: number;
  /** Multi-node jobs hold their nodes whole. */
  exclusive: boolean;
  nodes: NodeShare[];
}

interface LedgerNode {
  total: NodeCapacity;
  free: FreeResources;
  freeGpus: boolean[];
  jobs: Set<number>;
  exclusive: boolean;
}

export class NodeLedger {
  private readonly nodes = new Map<string, LedgerNode>();
  private readonly reservations = new Map<number, Reservation>();

  /** `nodes`: each node's whole resources (nothing running yet). */
  constructor(nodes: readonly NodeCapacity[]) {
    nodes.forEach((n, i) => {
      if (this.nodes.has(n.name)) throw new InputError(`duplicate node name "${n.name}"`, `nodes[${i}].name`);
      for (const field of ['num_cpus', 'memory_bytes', 'num_gpus'] as const) {
        if (!Number.isSafeInteger(n[field]) || n[field] < 0) throw new InputError(`expected a whole number ≥ 0, got ${n[field]}`, `nodes[${i}].${field}`);
      }
      this.nodes.set(n.name, {
        total: { name: n.name, num_cpus: n.num_cpus, memory_bytes: n.memory_bytes, num_gpus: n.num_gpus },
        free: { num_cpus: n.num_cpus, memory_bytes: n.memory_bytes, num_gpus: n.num_gpus },
        freeGpus: new Array<boolean>(n.num_gpus).fill(true),
        jobs: new Set(),
        exclusive: false,
      });
    });
  }

  /** Free resources now, in the form a claim sends (an exclusively held node shows nothing free). */
  capacity(limits: { time_limit_seconds: number | null; scheduler_config_id: number | null }): RunnerCapacity {
    return { nodes: [...this.nodes.keys()].map((name) => this.free(name)), ...limits };
  }

  /** One node's free resources; `busy` when any job holds part of it. */
  free(name: string): NodeCapacity {
    const node = this.node(name);
    const free: NodeCapacity = node.exclusive
      ? { name, num_cpus: 0, memory_bytes: 0, num_gpus: 0 }
      : { name, ...node.free };
    if (node.jobs.size > 0) free.busy = true;
    return free;
  }

  total(name: string): NodeCapacity {
    return { ...this.node(name).total };
  }

  get nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  get jobIds(): number[] {
    return [...this.reservations.keys()];
  }

  reservation(jobId: number): Reservation | undefined {
    return this.reservations.get(jobId);
  }

  /**
   * Books a job on the given nodes: its per-node need on each (lowest free GPU indices), and
   * for a multi-node job the whole of each node, which must be idle. Throws ConflictError
   * (changing nothing) when the job is already booked or does not fit.
   */
  reserve(jobId: number, need: ResourceNeed, nodeNames: readonly string[]): Reservation {
    if (this.reservations.has(jobId)) throw new ConflictError(`job ${jobId} already holds resources`);
    const exclusive = isMultiNode(need);
    if (nodeNames.length !== need.num_nodes) {
      throw new ConflictError(`job ${jobId} needs ${need.num_nodes} node(s), was given ${nodeNames.length}`);
    }
    if (new Set(nodeNames).size !== nodeNames.length) throw new ConflictError(`job ${jobId} was given the same node twice`);
    const targets = nodeNames.map((name) => this.node(name));
    for (const node of targets) {
      if (node.exclusive) throw new ConflictError(`node ${node.total.name} is held whole by a multi-node job`);
      if (exclusive && node.jobs.size > 0) throw new ConflictError(`node ${node.total.name} is not idle, as multi-node job ${jobId} needs`);
      if (!fitsOn(need, node.free)) throw new ConflictError(`job ${jobId} does not fit on node ${node.total.name}`);
    }
    const shares = targets.map((node) => {
      const gpu_indices: number[] = [];
      for (let i = 0; i < node.freeGpus.length && gpu_indices.length < need.num_gpus; i++) {
        if (node.freeGpus[i]) gpu_indices.push(i);
      }
      for (const i of gpu_indices) node.freeGpus[i] = false;
      subtract(node.free, need);
      node.jobs.add(jobId);
      if (exclusive) node.exclusive = true;
      return { name: node.total.name, num_cpus: need.num_cpus, memory_bytes: need.memory_bytes, num_gpus: need.num_gpus, gpu_indices };
    });
    const reservation: Reservation = { job_id: jobId, exclusive, nodes: shares };
    this.reservations.set(jobId, reservation);
    return reservation;
  }

  /** Books every job of a claim decision; `needOf` gives each job's need. All or nothing. */
  apply(decision: ClaimDecision, needOf: (jobId: number) => ResourceNeed): Reservation[] {
    const done: Reservation[] = [];
    try {
      for (const job of decision.claimed) done.push(this.reserve(job.job_id, needOf(job.job_id), job.nodes));
    } catch (err) {
      for (const r of done) this.release(r.job_id);
      throw err;
    }
    return done;
  }

  /** Gives a finished job's resources back. Throws ConflictError for a job that holds none. */
  release(jobId: number): Reservation {
    const reservation = this.reservations.get(jobId);
    if (!reservation) throw new ConflictError(`job ${jobId} holds no resources`);
    for (const share of reservation.nodes) {
      const node = this.node(share.name);
      add(node.free, share);
      for (const i of share.gpu_indices) node.freeGpus[i] = true;
      node.jobs.delete(jobId);
      if (reservation.exclusive) node.exclusive = false;
    }
    this.reservations.delete(jobId);
    return reservation;
  }

  private node(name: string): LedgerNode {
    const node = this.nodes.get(name);
    if (!node) throw new ConflictError(`unknown node "${name}"`);
    return node;
  }
}
