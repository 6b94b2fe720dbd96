import test from 'ava';
import { capacityFromPooled } from '../../src/allocator/capacity.js';
import { decideClaim } from '../../src/allocator/claim.js';
import { decideClaimPooled } from '../../src/allocator/pooled.js';
import { cls, jobs, need, opts } from './fixtures.js';

const twoNodes = capacityFromPooled({ num_cpus: 16, memory_gb: 64, num_nodes: 2 });

test("torc's pooled greedy hands a 24-CPU job to two 16-CPU nodes; ours does not", (t) => {
  const classes = [cls('wide', need(24, 8))];
  t.deepEqual(decideClaimPooled(twoNodes, classes, jobs('wide', 2, 1), opts()).claimed.map((c) => c.job_id), [1]);
  t.deepEqual(decideClaim(twoNodes, classes, jobs('wide', 2, 1), opts()).claimed, []);
});

test('pooled greedy keeps the running sums within the pool and applies the limit before fitting', (t) => {
  const classes = [cls('big', need(20, 8)), cls('small', need(4, 8))];
  const candidates = [...jobs('big', 2, 1), ...jobs('small', 4, 3)];
  // Pool of 32 CPUs: 20 + 4 + 4 + 4 = 32; the second big job does not fit the rest.
  t.deepEqual(decideClaimPooled(twoNodes, classes, candidates, opts()).claimed.map((c) => c.job_id), [1, 3, 4, 5]);
  // torc cuts to the limit first: of the first two rows (both big) only one fits.
  t.deepEqual(decideClaimPooled(twoNodes, classes, candidates, opts({ limit: 2 })).claimed.map((c) => c.job_id), [1]);
  // Ours fits before the limit, and never puts a 20-CPU job on 16-CPU nodes.
  t.deepEqual(decideClaim(twoNodes, classes, candidates, opts({ limit: 2 })).claimed.map((c) => c.job_id), [3, 4]);
});

test('pooled greedy counts nodes only for multi-node jobs and respects binding and time limit', (t) => {
  const bound = { ...twoNodes, scheduler_config_id: 1, time_limit_seconds: 7200 };
  const classes = [
    cls('mpi', need(2, 2, { nodes: 2 })),
    cls('other', need(1, 1), 2),
    cls('long', need(1, 1, { hours: 3 })),
    cls('single', need(1, 1)),
  ];
  const candidates = [...jobs('mpi', 2, 1), ...jobs('other', 1, 3), ...jobs('long', 1, 4), ...jobs('single', 2, 5)];
  t.deepEqual(decideClaimPooled(bound, classes, candidates, opts()).claimed.map((c) => c.job_id), [1, 5, 6]);
});
