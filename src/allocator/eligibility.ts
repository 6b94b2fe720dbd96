/**
 * Which classes of ready jobs a runner may claim at all: scheduler binding, runtime against
 * the runner's time limit, and whether the class fits the runner's free nodes.
 */
import { formatDuration } from '../spec/units.js';
import { fitsOn, formatResources, isMultiNode } from './fit.js';
import type { ClaimClass, ClaimOptions, NodeCapacity, ResourceNeed, RunnerCapacity } from './types.js';

/** A class the runner may claim, with its preference: 0 = own scheduler (or no preference), 1 = unbound fallback. */
export interface EligibleClass extends ClaimClass {
  preference: 0 | 1;
}

/**
 * Scheduler binding. A job bound to a scheduler goes only to a runner serving that scheduler;
 * unbound jobs go to anyone. Strict runners take only their own scheduler's jobs (a runner
 * with no scheduler: only unbound ones). `any_scheduler` ignores binding.
 * Returns the preference, or null when the runner may not take the class.
 */
export function bindingPreference(
  jobScheduler: number | null,
  runnerScheduler: number | null,
  options: Pick<ClaimOptions, 'strict_scheduler_match' | 'any_scheduler'>,
): 0 | 1 | null {
  if (options.any_scheduler) return 0;
  if (jobScheduler === runnerScheduler) return 0;
  if (options.strict_scheduler_match) return null;
  // Non-strict runners with a scheduler fall back on unbound jobs, after their own.
  return jobScheduler === null ? 1 : null;
}

export function withinTimeLimit(need: Pick<ResourceNeed, 'runtime_seconds'>, capacity: Pick<RunnerCapacity, 'time_limit_seconds'>): boolean {
  return capacity.time_limit_seconds === null || need.runtime_seconds <= capacity.time_limit_seconds;
}

/**
 * Whether a claim could take anything at all: every job needs some CPU or memory, so with no
 * node that has both free, asking is pointless (runners skip the claim; nothing is read).
 */
export function worthClaiming(nodes: readonly NodeCapacity[]): boolean {
  return nodes.some((n) => n.num_cpus > 0 && n.memory_bytes > 0);
}

/** Whether one job of this need could be placed on the runner's free nodes right now. */
export function fitsCapacity(need: ResourceNeed, nodes: readonly NodeCapacity[]): boolean {
  if (!isMultiNode(need)) return nodes.some((n) => fitsOn(need, n));
  let fitting = 0;
  for (const n of nodes) {
    if (!n.busy && fitsOn(need, n) && ++fitting >= need.num_nodes) return true;
  }
  return false;
}

/** The classes the runner may claim now, own-scheduler ones first, otherwise in input order. */
export function eligibleClasses(capacity: RunnerCapacity, classes: readonly ClaimClass[], options: ClaimOptions): EligibleClass[] {
  const own: EligibleClass[] = [];
  const fallback: EligibleClass[] = [];
  for (const cls of classes) {
    const preference = bindingPreference(cls.scheduler_id, capacity.scheduler_config_id, options);
    if (preference === null || !withinTimeLimit(cls.need, capacity) || !fitsCapacity(cls.need, capacity.nodes)) continue;
    (preference === 0 ? own : fallback).push({ ...cls, preference });
  }
  return own.concat(fallback);
}

/**
 * Why no class is eligible, naming the first filter that removed them all
 * (binding, then time limit, then fit). For the `reason` of a claim response.
 */
export function explainNoneEligible(capacity: RunnerCapacity, classes: readonly ClaimClass[], options: ClaimOptions): string {
  if (classes.length === 0) return 'no ready jobs';
  const bound = classes.filter((c) => bindingPreference(c.scheduler_id, capacity.scheduler_config_id, options) !== null);
  if (bound.length === 0) {
    const id = capacity.scheduler_config_id;
    if (id === null) return 'every ready job is bound to a scheduler, and this runner serves none (scheduler_config_id is null)';
    return options.strict_scheduler_match
      ? `no ready job is bound to scheduler ${id} (strict_scheduler_match)`
      : `no ready job is bound to scheduler ${id} or unbound`;
  }
  const timely = bound.filter((c) => withinTimeLimit(c.need, capacity));
  if (timely.length === 0) {
    const shortest = Math.min(...bound.map((c) => c.need.runtime_seconds));
    return `no ready job fits the time limit (${formatDuration(capacity.time_limit_seconds ?? 0)} left; the shortest needs ${formatDuration(shortest)})`;
  }
  return `no ready job fits the capacity (${describeLargestNode(capacity.nodes)})`;
}

/** "largest free node: n1 with 16 CPUs, 64 GiB, 0 GPUs" (largest by CPUs, then memory, then GPUs). */
export function describeLargestNode(nodes: readonly NodeCapacity[]): string {
  if (nodes.length === 0) return 'the runner has no nodes';
  let best = nodes[0]!;
  for (const n of nodes) {
    const d = n.num_cpus - best.num_cpus || n.memory_bytes - best.memory_bytes || n.num_gpus - best.num_gpus;
    if (d > 0) best = n;
  }
  const idle = nodes.filter((n) => !n.busy).length;
  const suffix = nodes.length > 1 ? `; ${idle} of ${nodes.length} nodes idle` : '';
  return `largest free node: ${best.name} with ${formatResources(best)}${suffix}`;
}

