/**
 * The fit rules: whether a job's per-node need fits a node's free resources, and how many
 * copies of it could. Every other allocator module (and every runner) asks these functions
 * rather than comparing resources itself.
 */
import type { ResourceNeed } from './types.js';

/** Free resources of one node (a NodeCapacity without its name). */
export interface FreeResources {
  num_cpus: number;
  memory_bytes: number;
  num_gpus: number;
}

export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;

/** Whether one copy of the per-node need fits in `free`. */
export function fitsOn(need: ResourceNeed, free: FreeResources): boolean {
  return need.num_cpus <= free.num_cpus && need.memory_bytes <= free.memory_bytes && need.num_gpus <= free.num_gpus;
}

/** How many copies of the per-node need fit side by side in `free` (Infinity for a need of nothing). */
export function copiesOn(need: ResourceNeed, free: FreeResources): number {
  let copies = Infinity;
  if (need.num_cpus > 0) copies = Math.min(copies, Math.floor(free.num_cpus / need.num_cpus));
  if (need.memory_bytes > 0) copies = Math.min(copies, Math.floor(free.memory_bytes / need.memory_bytes));
  if (need.num_gpus > 0) copies = Math.min(copies, Math.floor(free.num_gpus / need.num_gpus));
  return Math.max(0, copies);
}

/** Whether a need spans several nodes; such a job takes whole idle nodes. */
export function isMultiNode(need: ResourceNeed): boolean {
  return need.num_nodes > 1;
}

/** `free` minus `need`, in place. */
export function subtract(free: FreeResources, need: FreeResources): void {
  free.num_cpus -= need.num_cpus;
  free.memory_bytes -= need.memory_bytes;
  free.num_gpus -= need.num_gpus;
}

/** `free` plus `need`, in place. */
export function add(free: FreeResources, need: FreeResources): void {
  free.num_cpus += need.num_cpus;
  free.memory_bytes += need.memory_bytes;
  free.num_gpus += need.num_gpus;
}

/** Human-readable memory: "64 GiB", "1.5 GiB", "512 MiB", "100 B". */
export function formatBytes(bytes: number): string {
  if (bytes >= GIB) return `${round2(bytes / GIB)} GiB`;
  if (bytes >= MIB) return `${round2(bytes / MIB)} MiB`;
  if (bytes >= 1024) return `${round2(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

/** "16 CPUs, 64 GiB, 2 GPUs" */
export function formatResources(r: FreeResources): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(r.num_cpus, 'CPU')}, ${formatBytes(r.memory_bytes)}, ${plural(r.num_gpus, 'GPU')}`;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
