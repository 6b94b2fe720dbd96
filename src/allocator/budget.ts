/**
 * How many ready rows of each class are worth reading. No claim can take more jobs of a class
 * than fit on the runner's free nodes side by side (nor more than the limit), and within a
 * class the claim takes jobs in queue order, so reading just that many rows per class gives
 * the same decision as reading the whole ready queue (see test/allocator/budget.test.ts).
 * This keeps the cost of a claim independent of the number of ready jobs.
 */
import { checkLimit } from './options.js';
import { copiesOn, fitsOn, isMultiNode } from './fit.js';
import type { ClaimClass, ClaimOptions, NodeCapacity, ResourceNeed, RunnerCapacity } from './types.js';

/** Upper bound on how many jobs of one need fit on the nodes together (multi-node ones take whole idle nodes). */
export function maxJobsOn(need: ResourceNeed, nodes: readonly NodeCapacity[]): number {
  if (isMultiNode(need)) {
    let fitting = 0;
    for (const n of nodes) if (!n.busy && fitsOn(need, n)) fitting++;
    return Math.floor(fitting / need.num_nodes);
  }
  let total = 0;
  for (const n of nodes) total += copiesOn(need, n);
  return total;
}

/**
 * Class key → how many of its ready rows (in queue order) to read. Pass the classes from
 * eligibleClasses(); classes that cannot place a single job get 0.
 */
export function fetchBudget(
  capacity: RunnerCapacity,
  eligible: readonly ClaimClass[],
  options: Pick<ClaimOptions, 'limit'>,
): Map<string, number> {
  const limit = checkLimit(options.limit);
  const budget = new Map<string, number>();
  for (const cls of eligible) budget.set(cls.key, Math.min(limit, maxJobsOn(cls.need, capacity.nodes)));
  return budget;
}
