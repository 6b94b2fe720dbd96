/**
 * Types of the claim semantics. The allocator is pure: it sees capacities and candidate jobs,
 * never the database. The store's claim transaction feeds it and applies its decision.
 */
import type { ResourceNeed, SortMethod } from '../spec/plan.js';

export type { ResourceNeed, SortMethod };

/** One node of a runner's capacity (free resources now). */
export interface NodeCapacity {
  name: string;
  num_cpus: number;
  memory_bytes: number;
  num_gpus: number;
  /**
   * True when jobs already run on the node. Multi-node jobs take whole idle nodes, so they
   * avoid busy ones; single-node jobs only look at the free resources. Absent = idle.
   */
  busy?: boolean;
}

/**
 * A runner's capacity in our per-node form. torc's pooled form
 * `{num_cpus, memory_gb, num_gpus, num_nodes}` is read as num_nodes identical nodes of
 * (num_cpus, memory_gb, num_gpus) each; see allocator/capacity.ts.
 */
export interface RunnerCapacity {
  nodes: NodeCapacity[];
  /** Seconds left to run jobs; null = unlimited. Jobs whose runtime exceeds it are never claimed. */
  time_limit_seconds: number | null;
  /** The scheduler this runner serves (its id in the store), or null. */
  scheduler_config_id: number | null;
}

export interface ClaimOptions {
  sort_method: SortMethod;
  /** Only jobs bound to the runner's scheduler; no unbound fallback. */
  strict_scheduler_match: boolean;
  /** Ignore scheduler binding entirely (the local reconcile runner serves every job). */
  any_scheduler?: boolean;
  /** At most this many jobs. */
  limit: number;
}

/**
 * How many ready jobs share a scheduler, runtime and node count: what a dispatch that starts
 * runners (Slurm allocations) sizes its work by (see servable.ts).
 */
export interface ReadyClassCount extends Pick<ResourceNeed, 'runtime_seconds' | 'num_nodes'> {
  scheduler_id: number | null;
  count: number;
}

/** A group of ready jobs that look identical to the allocator: same needs, same scheduler. */
export interface ClaimClass {
  key: string;
  need: ResourceNeed;
  scheduler_id: number | null;
}

/** One ready job offered to the allocator. `order` is its queue position (lower first). */
export interface ClaimCandidate {
  job_id: number;
  class_key: string;
  order: number;
}

export interface ClaimedJob {
  job_id: number;
  /** Names of the nodes the job was placed on (num_nodes of them). */
  nodes: string[];
}

export interface ClaimDecision {
  claimed: ClaimedJob[];
  /** Why nothing (more) was claimed, for the `reason` of torc's response. */
  reason: string | null;
}
