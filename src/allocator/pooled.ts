/**
 * torc's own claim, for comparison only (bench/packing.ts): the runner's nodes are pooled
 * into one sum of CPUs, memory and GPUs; ready jobs that each fit the pool are sorted, cut to
 * the limit (torc's SQL LIMIT comes before fitting), then taken while the running sums stay
 * within the pool (nodes are counted only for multi-node jobs). Nothing says which node a job
 * runs on, so a node can be over-committed: that is what the benchmark measures.
 * Never used to serve claims.
 */
import { bindingPreference, withinTimeLimit } from './eligibility.js';
import type { FreeResources } from './fit.js';
import { checkClaimOptions } from './options.js';
import { claimComparator, type Ordered } from './order.js';
import type { ClaimCandidate, ClaimClass, ClaimDecision, ClaimOptions, ClaimedJob, RunnerCapacity } from './types.js';

export function decideClaimPooled(
  capacity: RunnerCapacity,
  classes: readonly ClaimClass[],
  candidates: readonly ClaimCandidate[],
  options: ClaimOptions,
): ClaimDecision {
  checkClaimOptions(options);
  const pool: FreeResources = { num_cpus: 0, memory_bytes: 0, num_gpus: 0 };
  for (const n of capacity.nodes) {
    pool.num_cpus += n.num_cpus;
    pool.memory_bytes += n.memory_bytes;
    pool.num_gpus += n.num_gpus;
  }
  const poolNodes = capacity.nodes.length;
  const byKey = new Map(classes.map((c) => [c.key, c]));

  const offers: (Ordered & { job_id: number })[] = [];
  for (const cand of candidates) {
    const cls = byKey.get(cand.class_key);
    if (!cls) throw new Error(`candidate job ${cand.job_id} refers to unknown class "${cand.class_key}"`);
    const preference = bindingPreference(cls.scheduler_id, capacity.scheduler_config_id, options);
    if (preference === null || !withinTimeLimit(cls.need, capacity)) continue;
    const n = cls.need.num_nodes;
    const fitsPool =
      cls.need.num_cpus * n <= pool.num_cpus &&
      cls.need.memory_bytes * n <= pool.memory_bytes &&
      cls.need.num_gpus * n <= pool.num_gpus &&
      n <= poolNodes;
    if (fitsPool) offers.push({ job_id: cand.job_id, need: cls.need, order: cand.order, preference });
  }
  if (offers.length === 0) return { claimed: [], reason: 'no ready job fits the pooled capacity' };
  offers.sort(claimComparator(options.sort_method));

  const used = { num_cpus: 0, memory_bytes: 0, num_gpus: 0, nodes: 0 };
  const claimed: ClaimedJob[] = [];
  for (const offer of offers.slice(0, options.limit)) {
    const n = offer.need.num_nodes;
    const nodes = n > 1 ? n : 0;
    if (
      used.num_cpus + offer.need.num_cpus * n > pool.num_cpus ||
      used.memory_bytes + offer.need.memory_bytes * n > pool.memory_bytes ||
      used.num_gpus + offer.need.num_gpus * n > pool.num_gpus ||
      used.nodes + nodes > poolNodes
    ) {
      continue;
    }
    used.num_cpus += offer.need.num_cpus * n;
    used.memory_bytes += offer.need.memory_bytes * n;
    used.num_gpus += offer.need.num_gpus * n;
    used.nodes += nodes;
    claimed.push({ job_id: offer.job_id, nodes: [] });
  }
  return { claimed, reason: claimed.length ? null : 'no ready job fits the pooled capacity' };
}
