/**
 * The claim decision: which of the offered ready jobs a runner takes, and on which of its
 * nodes. Pure: the store's claim transaction reads the candidates (see budget.ts for how few)
 * and applies the decision.
 */
import { eligibleClasses, explainNoneEligible, fitsCapacity, withinTimeLimit, type EligibleClass } from './eligibility.js';
import { checkClaimOptions, checkLimit } from './options.js';
import { claimComparator } from './order.js';
import { Placer } from './placement.js';
import type { ClaimCandidate, ClaimClass, ClaimDecision, ClaimOptions, ClaimedJob, ResourceNeed, RunnerCapacity } from './types.js';

interface Offer {
  job_id: number;
  class_key: string;
  order: number;
  need: ResourceNeed;
  preference: number;
}

/**
 * Greedy placement in claim order: each job goes on one node with room (best fit), a
 * multi-node job on num_nodes whole idle nodes; a job that does not fit is skipped (and so is
 * the rest of its class, which cannot fit either); stops at the limit.
 *
 * `classes` should describe every class of ready jobs (so that the reason can say why none is
 * eligible); `candidates` may be limited to the eligible classes and to fetchBudget() rows.
 * A candidate of an unknown class is a caller bug and throws.
 */
export function decideClaim(
  capacity: RunnerCapacity,
  classes: readonly ClaimClass[],
  candidates: readonly ClaimCandidate[],
  options: ClaimOptions,
): ClaimDecision {
  checkClaimOptions(options);
  const known = new Set(classes.map((c) => c.key));
  const eligible = new Map<string, EligibleClass>();
  for (const cls of eligibleClasses(capacity, classes, options)) eligible.set(cls.key, cls);

  const offers: Offer[] = [];
  for (const cand of candidates) {
    const cls = eligible.get(cand.class_key);
    if (cls) offers.push({ ...cand, need: cls.need, preference: cls.preference });
    else if (!known.has(cand.class_key)) throw new Error(`candidate job ${cand.job_id} refers to unknown class "${cand.class_key}"`);
  }
  if (offers.length === 0) {
    return { claimed: [], reason: eligible.size === 0 ? explainNoneEligible(capacity, classes, options) : 'no ready jobs' };
  }
  offers.sort(claimComparator(options.sort_method));

  const placer = new Placer(capacity.nodes);
  const full = new Set<string>();
  const claimed: ClaimedJob[] = [];
  for (const offer of offers) {
    if (full.has(offer.class_key)) continue;
    const nodes = placer.place(offer.need);
    if (!nodes) {
      // Free capacity only shrinks during a decision: no later job of this class fits either.
      full.add(offer.class_key);
      continue;
    }
    claimed.push({ job_id: offer.job_id, nodes });
    if (claimed.length >= options.limit) break;
  }
  return { claimed, reason: claimed.length ? null : explainNoneEligible(capacity, [...eligible.values()], options) };
}

/**
 * Where a job already claimed (pending, no process or pod yet) goes now: the nodes one job of
 * `need` is placed on, by the same rules as decideClaim for a runner that serves every
 * scheduler; null when it does not fit now (or is longer than the runner's time limit).
 */
export function placeClaimed(capacity: RunnerCapacity, need: ResourceNeed): string[] | null {
  if (!withinTimeLimit(need, capacity) || !fitsCapacity(need, capacity.nodes)) return null;
  return new Placer(capacity.nodes).place(need);
}

/** claim_next_jobs: the next `limit` ready jobs in queue order, resources ignored. */
export function decideQueueDepth(candidates: readonly ClaimCandidate[], limit: number): ClaimDecision {
  checkLimit(limit);
  const claimed = [...candidates]
    .sort((a, b) => a.order - b.order)
    .slice(0, limit)
    .map((c) => ({ job_id: c.job_id, nodes: [] }));
  return { claimed, reason: claimed.length ? null : 'no ready jobs' };
}
