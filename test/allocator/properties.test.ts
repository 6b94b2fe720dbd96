/** Property tests over random job mixes, capacities and options. */
import test from 'ava';
import fc from 'fast-check';
import { fetchBudget } from '../../src/allocator/budget.js';
import { decideClaim } from '../../src/allocator/claim.js';
import { eligibleClasses } from '../../src/allocator/eligibility.js';
import { claimComparator } from '../../src/allocator/order.js';
import type { ClaimCandidate, ClaimClass, ClaimOptions, NodeCapacity, RunnerCapacity } from '../../src/allocator/types.js';
import { problemArb } from './fixtures.js';

const RUNS = 400;

/** Binding written out independently of the allocator's own function. */
function mayTake(cls: ClaimClass, capacity: RunnerCapacity, options: ClaimOptions): boolean {
  if (options.any_scheduler) return true;
  if (options.strict_scheduler_match) return cls.scheduler_id === capacity.scheduler_config_id;
  return cls.scheduler_id === capacity.scheduler_config_id || cls.scheduler_id === null;
}

function remainingAfter(capacity: RunnerCapacity, classes: ClaimClass[], candidates: ClaimCandidate[], claimed: { job_id: number; nodes: string[] }[]) {
  const byKey = new Map(classes.map((c) => [c.key, c]));
  const byJob = new Map(candidates.map((c) => [c.job_id, byKey.get(c.class_key)!]));
  const free = new Map(capacity.nodes.map((n) => [n.name, { ...n, touched: !!n.busy, whole: false }]));
  for (const job of claimed) {
    const need = byJob.get(job.job_id)!.need;
    for (const name of job.nodes) {
      const n = free.get(name)!;
      if (need.num_nodes > 1) n.whole = true;
      n.touched = true;
      n.num_cpus -= need.num_cpus;
      n.memory_bytes -= need.memory_bytes;
      n.num_gpus -= need.num_gpus;
    }
  }
  return { free, byJob };
}

test('no node is over-committed, the limit holds, binding and time limit are respected', (t) => {
  fc.assert(
    fc.property(problemArb, ({ capacity, classes, candidates, options }) => {
      const decision = decideClaim(capacity, classes, candidates, options);
      if (decision.claimed.length > options.limit) return false;
      if (new Set(decision.claimed.map((c) => c.job_id)).size !== decision.claimed.length) return false;
      const { free, byJob } = remainingAfter(capacity, classes, candidates, decision.claimed);
      const holders = new Map<string, number>();
      for (const job of decision.claimed) {
        const cls = byJob.get(job.job_id);
        if (!cls || !mayTake(cls, capacity, options)) return false;
        if (capacity.time_limit_seconds !== null && cls.need.runtime_seconds > capacity.time_limit_seconds) return false;
        if (job.nodes.length !== cls.need.num_nodes || new Set(job.nodes).size !== job.nodes.length) return false;
        for (const name of job.nodes) holders.set(name, (holders.get(name) ?? 0) + 1);
      }
      for (const n of free.values()) {
        if (n.num_cpus < 0 || n.memory_bytes < 0 || n.num_gpus < 0) return false;
      }
      // A multi-node job holds its nodes alone, and only nodes that were idle.
      const original = new Map(capacity.nodes.map((n) => [n.name, n]));
      for (const job of decision.claimed) {
        if (byJob.get(job.job_id)!.need.num_nodes > 1) {
          if (job.nodes.some((n) => holders.get(n) !== 1 || original.get(n)!.busy)) return false;
        }
      }
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('greedy is maximal and ordered: below the limit, no unclaimed eligible job still fits', (t) => {
  fc.assert(
    fc.property(problemArb, ({ capacity, classes, candidates, options }) => {
      const decision = decideClaim(capacity, classes, candidates, options);
      const eligible = new Map(eligibleClasses(capacity, classes, options).map((c) => [c.key, c]));
      const { free, byJob } = remainingAfter(capacity, classes, candidates, decision.claimed);
      const claimedIds = new Set(decision.claimed.map((c) => c.job_id));
      // Claimed in claim order.
      const cmp = claimComparator(options.sort_method);
      const view = (id: number) => {
        const cand = candidates.find((c) => c.job_id === id)!;
        return { preference: eligible.get(cand.class_key)!.preference, need: byJob.get(id)!.need, order: cand.order };
      };
      for (let i = 1; i < decision.claimed.length; i++) {
        if (cmp(view(decision.claimed[i - 1]!.job_id), view(decision.claimed[i]!.job_id)) > 0) return false;
      }
      if (decision.claimed.length === options.limit) return true;
      const nodes = [...free.values()];
      for (const cand of candidates) {
        if (claimedIds.has(cand.job_id) || !eligible.has(cand.class_key)) continue;
        const need = byJob.get(cand.job_id)!.need;
        const fits = (n: NodeCapacity & { whole: boolean }) =>
          !n.whole && need.num_cpus <= n.num_cpus && need.memory_bytes <= n.memory_bytes && need.num_gpus <= n.num_gpus;
        const room = need.num_nodes > 1 ? nodes.filter((n) => !n.touched && fits(n)).length >= need.num_nodes : nodes.some(fits);
        if (room) return false;
      }
      // Nothing claimed always comes with a reason.
      return decision.claimed.length > 0 || typeof decision.reason === 'string';
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('budget equivalence: greedy over the budgeted rows equals greedy over the whole ready queue', (t) => {
  let truncated = 0;
  fc.assert(
    fc.property(problemArb, ({ capacity, classes, candidates, options }) => {
      const budget = fetchBudget(capacity, eligibleClasses(capacity, classes, options), options);
      // What the store reads: per eligible class, the first `budget` rows in queue order.
      const subset: ClaimCandidate[] = [];
      for (const [key, n] of budget) {
        subset.push(...candidates.filter((c) => c.class_key === key).sort((a, b) => a.order - b.order).slice(0, n));
      }
      if (subset.length < candidates.length) truncated++;
      const all = decideClaim(capacity, classes, candidates, options);
      const budgeted = decideClaim(capacity, classes, subset, options);
      t.deepEqual(budgeted, all);
      return JSON.stringify(budgeted) === JSON.stringify(all);
    }),
    { numRuns: RUNS },
  );
  // The property must actually exercise cut-off rows.
  t.true(truncated > RUNS / 4, `only ${truncated} runs cut rows`);
});

test('budget: as many rows as fit side by side, capped by the limit', (t) => {
  const GB = 1024 ** 3;
  const capacity: RunnerCapacity = {
    nodes: [
      { name: 'a', num_cpus: 32, memory_bytes: 128 * GB, num_gpus: 4 },
      { name: 'b', num_cpus: 16, memory_bytes: 64 * GB, num_gpus: 0, busy: true },
      { name: 'c', num_cpus: 16, memory_bytes: 64 * GB, num_gpus: 0 },
    ],
    time_limit_seconds: null,
    scheduler_config_id: null,
  };
  const need = (cpus: number, gb: number, gpus = 0, nodes = 1) => ({ num_cpus: cpus, memory_bytes: gb * GB, num_gpus: gpus, num_nodes: nodes, runtime_seconds: 60 });
  const classes: ClaimClass[] = [
    { key: 'medium', need: need(16, 64), scheduler_id: null },
    { key: 'gpu', need: need(2, 4, 1), scheduler_id: null },
    { key: 'mpi', need: need(8, 8, 0, 2), scheduler_id: null },
    { key: 'nothing', need: need(0, 0), scheduler_id: null },
  ];
  const budget = fetchBudget(capacity, classes, { limit: 100 });
  t.is(budget.get('medium'), 2 + 1 + 1);
  t.is(budget.get('gpu'), 4);
  t.is(budget.get('mpi'), 1, 'two idle nodes fit one 2-node job');
  t.is(budget.get('nothing'), 100, 'a job needing nothing is bounded by the limit alone');
  t.is(fetchBudget(capacity, classes, { limit: 3 }).get('medium'), 3);
});
