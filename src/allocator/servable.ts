/**
 * What a dispatch that starts runners (Slurm allocations) can serve: the ready jobs each kind
 * of runner could take, by the same binding and time rules as a claim, so that a job no
 * runner of any kind could ever run does not make the dispatch start runners forever.
 */
import { bindingPreference, withinTimeLimit } from './eligibility.js';
import type { ReadyClassCount } from './types.js';

/** One kind of runner a dispatch can start: whose jobs it serves, how long it runs jobs, how many nodes it has. */
export interface RunnerShape {
  scheduler_config_id: number;
  /** Longest runtime a job may have on it (its walltime less the expiration buffer). */
  time_limit_seconds: number;
  num_nodes: number;
}

/**
 * Ready jobs per scheduler_config_id: a bound job counts for its own scheduler, an unbound one
 * for the first kind that can run it; a class no kind can run (too long, too many nodes, or
 * bound elsewhere) counts nowhere.
 */
export function servableCounts(classes: readonly ReadyClassCount[], shapes: readonly RunnerShape[]): Map<number, number> {
  const counts = new Map<number, number>(shapes.map((s) => [s.scheduler_config_id, 0]));
  const serves = (s: RunnerShape, c: ReadyClassCount) =>
    bindingPreference(c.scheduler_id, s.scheduler_config_id, { strict_scheduler_match: false }) !== null &&
    withinTimeLimit(c, s) &&
    c.num_nodes <= s.num_nodes;
  for (const c of classes) {
    if (c.count <= 0) continue;
    const target = shapes.find((s) => serves(s, c));
    if (target) counts.set(target.scheduler_config_id, counts.get(target.scheduler_config_id)! + c.count);
  }
  return counts;
}
