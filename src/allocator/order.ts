/**
 * Claim order: the runner's preference (own scheduler before the unbound fallback), then the
 * sort method, then queue order.
 *   gpus_runtime_memory: GPUs desc, runtime desc, memory desc
 *   gpus_memory_runtime: GPUs desc, memory desc, runtime desc
 *   none:                queue order only
 */
import type { ResourceNeed, SortMethod } from './types.js';

export interface Ordered {
  preference: number;
  need: ResourceNeed;
  order: number;
}

export type Comparator<T> = (a: T, b: T) => number;

/** Compares needs by the sort method alone (negative = a first). */
export function compareNeeds(method: SortMethod, a: ResourceNeed, b: ResourceNeed): number {
  switch (method) {
    case 'gpus_runtime_memory':
      return b.num_gpus - a.num_gpus || b.runtime_seconds - a.runtime_seconds || b.memory_bytes - a.memory_bytes;
    case 'gpus_memory_runtime':
      return b.num_gpus - a.num_gpus || b.memory_bytes - a.memory_bytes || b.runtime_seconds - a.runtime_seconds;
    case 'none':
      return 0;
  }
}

export function claimComparator(method: SortMethod): Comparator<Ordered> {
  return (a, b) => a.preference - b.preference || compareNeeds(method, a.need, b.need) || a.order - b.order;
}
