import test from 'ava';
import { capacityFromPooled } from '../../src/allocator/capacity.js';
import { decideClaim, decideQueueDepth } from '../../src/allocator/claim.js';
import { InputError } from '../../src/errors.js';
import type { ClaimCandidate, ClaimDecision } from '../../src/allocator/types.js';
import { HOUR, TINY, cls, jobs, need, node, opts, runner } from './fixtures.js';

const ids = (d: ClaimDecision) => d.claimed.map((c) => c.job_id);
const placement = (d: ClaimDecision) => Object.fromEntries(d.claimed.map((c) => [c.job_id, c.nodes]));

test('seed example: 32 CPUs / 128 GB and three 16 CPU / 64 GB jobs → exactly A and B', (t) => {
  const capacity = capacityFromPooled({ num_cpus: 32, memory_gb: 128, num_gpus: 0, num_nodes: 1, time_limit: null, scheduler_config_id: null });
  const classes = [cls('medium', need(16, 64))];
  const decision = decideClaim(capacity, classes, jobs('medium', 3, 1), opts({ limit: 10 }));
  t.deepEqual(ids(decision), [1, 2]);
  t.deepEqual(placement(decision), { 1: ['node0'], 2: ['node0'] });
  t.is(decision.reason, null);
});

test('seed example, queue depth with limit 3 → all three, resources ignored', (t) => {
  const decision = decideQueueDepth(jobs('medium', 3, 1), 3);
  t.deepEqual(ids(decision), [1, 2, 3]);
  t.deepEqual(decideQueueDepth(jobs('medium', 5, 1).reverse(), 2).claimed.map((c) => c.job_id), [1, 2]);
  t.is(decideQueueDepth([], 3).reason, 'no ready jobs');
  t.throws(() => decideQueueDepth([], 0), { instanceOf: InputError, message: /limit/ });
});

test('the limit caps the number of claimed jobs', (t) => {
  const decision = decideClaim(runner([node('a', 64, 256)]), [cls('tiny', TINY)], jobs('tiny', 100, 1), opts({ limit: 7 }));
  t.deepEqual(ids(decision), [1, 2, 3, 4, 5, 6, 7]);
});

test('jobs without requirements (1 CPU, 1 MB) pack by CPU count', (t) => {
  const decision = decideClaim(runner([node('a', 4, 1)]), [cls('default', TINY)], jobs('default', 10, 1), opts());
  t.is(decision.claimed.length, 4);
  // 1 MB jobs also fit a node with only a little memory left.
  const tinyMem = runner([{ name: 'a', num_cpus: 8, memory_bytes: 3 * 1024 * 1024, num_gpus: 0 }]);
  t.is(decideClaim(tinyMem, [cls('default', TINY)], jobs('default', 10, 1), opts()).claimed.length, 3);
});

// ---- scheduler binding (the seed's gpu_cluster / highmem_cluster example) ----

const GPU_CLUSTER = 1;
const HIGHMEM_CLUSTER = 2;
const mixed = [
  cls('train', need(16, 64, { gpus: 2 }), GPU_CLUSTER),
  cls('analysis', need(8, 256), HIGHMEM_CLUSTER),
  cls('prep', need(2, 4)),
];
const mixedJobs: ClaimCandidate[] = [
  { job_id: 1, class_key: 'prep', order: 1 },
  { job_id: 2, class_key: 'analysis', order: 2 },
  { job_id: 3, class_key: 'train', order: 3 },
  { job_id: 4, class_key: 'prep', order: 4 },
  { job_id: 5, class_key: 'train', order: 5 },
];
const gpuRunner = runner([node('g', 64, 512, 8)], { scheduler_config_id: GPU_CLUSTER });

test('binding: the gpu runner gets gpu_cluster jobs first, then unbound ones, never highmem ones', (t) => {
  const decision = decideClaim(gpuRunner, mixed, mixedJobs, opts());
  t.deepEqual(ids(decision), [3, 5, 1, 4]);
});

test('binding: strict_scheduler_match gets only its own scheduler jobs', (t) => {
  t.deepEqual(ids(decideClaim(gpuRunner, mixed, mixedJobs, opts({ strict_scheduler_match: true }))), [3, 5]);
  const onlyUnbound = mixedJobs.filter((j) => j.class_key === 'prep');
  const none = decideClaim(gpuRunner, mixed.filter((c) => c.key === 'prep'), onlyUnbound, opts({ strict_scheduler_match: true }));
  t.deepEqual(ids(none), []);
  t.is(none.reason, 'no ready job is bound to scheduler 1 (strict_scheduler_match)');
  // Without strict, the same runner falls back on the unbound jobs.
  t.deepEqual(ids(decideClaim(gpuRunner, mixed.filter((c) => c.key === 'prep'), onlyUnbound, opts())), [1, 4]);
});

test('binding: a runner without a scheduler gets only unbound jobs; any_scheduler ignores binding', (t) => {
  const plain = runner([node('p', 64, 1024, 8)]);
  t.deepEqual(ids(decideClaim(plain, mixed, mixedJobs, opts())), [1, 4]);
  t.deepEqual(ids(decideClaim(plain, mixed, mixedJobs, opts({ strict_scheduler_match: true }))), [1, 4]);
  t.deepEqual(ids(decideClaim(plain, mixed, mixedJobs, opts({ any_scheduler: true }))), [1, 2, 3, 4, 5]);
  const boundOnly = decideClaim(plain, mixed.slice(0, 2), mixedJobs.filter((j) => j.class_key !== 'prep'), opts());
  t.deepEqual(ids(boundOnly), []);
  t.regex(boundOnly.reason ?? '', /bound to a scheduler.*scheduler_config_id is null/);
});

test('binding: the highmem runner of a mixed workflow gets its own jobs and unbound ones', (t) => {
  const highmem = runner([node('h', 64, 512)], { scheduler_config_id: HIGHMEM_CLUSTER });
  t.deepEqual(ids(decideClaim(highmem, mixed, mixedJobs, opts())), [2, 1, 4]);
  const other = runner([node('o', 64, 512)], { scheduler_config_id: 3 });
  const decision = decideClaim(other, mixed.slice(0, 2), mixedJobs.filter((j) => j.class_key !== 'prep'), opts());
  t.is(decision.reason, 'no ready job is bound to scheduler 3 or unbound');
});

// ---- sort methods ----

const sortClasses = [
  cls('cpu_long', need(4, 8, { hours: 8 })),
  cls('cpu_big', need(4, 64, { hours: 2 })),
  cls('gpu1', need(4, 16, { gpus: 1, hours: 1 })),
  cls('gpu2', need(4, 8, { gpus: 2, hours: 1 })),
  cls('cpu_short', need(4, 8, { hours: 1 })),
];
const sortJobs: ClaimCandidate[] = ['cpu_short', 'cpu_long', 'cpu_big', 'gpu1', 'gpu2', 'cpu_short'].map((k, i) => ({
  job_id: i + 1,
  class_key: k,
  order: i + 1,
}));
const roomy = runner([node('r', 64, 512, 8)]);

test('sort gpus_runtime_memory: GPUs desc, then runtime desc, then memory desc, ties in queue order', (t) => {
  t.deepEqual(ids(decideClaim(roomy, sortClasses, sortJobs, opts({ sort_method: 'gpus_runtime_memory' }))), [5, 4, 2, 3, 1, 6]);
});

test('sort gpus_memory_runtime: GPUs desc, then memory desc, then runtime desc', (t) => {
  t.deepEqual(ids(decideClaim(roomy, sortClasses, sortJobs, opts({ sort_method: 'gpus_memory_runtime' }))), [5, 4, 3, 2, 1, 6]);
});

test('sort none: queue order', (t) => {
  t.deepEqual(ids(decideClaim(roomy, sortClasses, [...sortJobs].reverse(), opts({ sort_method: 'none' }))), [1, 2, 3, 4, 5, 6]);
});

test('the sort order decides which jobs win scarce capacity', (t) => {
  const small = runner([node('s', 8, 512, 2)]);
  // Room for two 4-CPU jobs: GPUs first takes the 2-GPU job and then the longest runtime.
  t.deepEqual(ids(decideClaim(small, sortClasses, sortJobs, opts({ sort_method: 'gpus_runtime_memory' }))), [5, 2]);
  t.deepEqual(ids(decideClaim(small, sortClasses, sortJobs, opts({ sort_method: 'none' }))), [1, 2]);
});

// ---- time limit ----

test('a job whose runtime exceeds the time limit is never claimed', (t) => {
  const classes = [cls('long', need(1, 1, { hours: 8 })), cls('short', need(1, 1, { hours: 2 }))];
  const candidates = [...jobs('long', 2, 1), ...jobs('short', 2, 3)];
  const twoHours = runner([node('a', 16, 64)], { time_limit_seconds: 2 * HOUR });
  t.deepEqual(ids(decideClaim(twoHours, classes, candidates, opts())), [3, 4]);
  const oneHour = runner([node('a', 16, 64)], { time_limit_seconds: HOUR });
  const decision = decideClaim(oneHour, classes, candidates, opts());
  t.deepEqual(ids(decision), []);
  t.is(decision.reason, 'no ready job fits the time limit (PT1H left; the shortest needs PT2H)');
  const unlimited = runner([node('a', 16, 64)]);
  t.deepEqual(ids(decideClaim(unlimited, classes, candidates, opts())), [1, 2, 3, 4]);
});

// ---- per-node packing ----

test('two 16-CPU nodes never receive a 24-CPU single-node job', (t) => {
  const twoNodes = capacityFromPooled({ num_cpus: 16, memory_gb: 64, num_nodes: 2 });
  const decision = decideClaim(twoNodes, [cls('wide', need(24, 8))], jobs('wide', 3, 1), opts());
  t.deepEqual(ids(decision), []);
  t.is(decision.reason, 'no ready job fits the capacity (largest free node: node0 with 16 CPUs, 64 GiB, 0 GPUs; 2 of 2 nodes idle)');
});

test('two 12-CPU jobs on two 16-CPU nodes land one per node', (t) => {
  const twoNodes = capacityFromPooled({ num_cpus: 16, memory_gb: 64, num_nodes: 2 });
  const decision = decideClaim(twoNodes, [cls('twelve', need(12, 8))], jobs('twelve', 3, 1), opts());
  t.deepEqual(ids(decision), [1, 2]);
  t.notDeepEqual(decision.claimed[0]!.nodes, decision.claimed[1]!.nodes);
});

test('best fit: a job goes to the fullest node that still has room, keeping the big hole', (t) => {
  const nodes = runner([node('big', 32, 128), node('half', 8, 32)]);
  const classes = [cls('small', need(8, 8)), cls('large', need(32, 64))];
  const candidates = [...jobs('small', 1, 1), ...jobs('large', 1, 2)];
  const decision = decideClaim(nodes, classes, candidates, opts());
  t.deepEqual(placement(decision), { 1: ['half'], 2: ['big'] });
});

test('CPU-only jobs avoid GPU nodes when a CPU node has room', (t) => {
  const nodes = runner([node('gpu', 16, 64, 4), node('cpu', 32, 128)]);
  const classes = [cls('cpu', need(8, 8)), cls('gpu', need(8, 8, { gpus: 4 }))];
  const decision = decideClaim(nodes, classes, [...jobs('cpu', 2, 1), ...jobs('gpu', 1, 3)], opts());
  t.deepEqual(placement(decision), { 1: ['cpu'], 2: ['cpu'], 3: ['gpu'] });
});

test('a job that does not fit is skipped, smaller later jobs still fill the gaps', (t) => {
  const nodes = runner([node('a', 16, 64), node('b', 16, 64)]);
  const classes = [cls('ten', need(10, 8)), cls('eight', need(8, 8)), cls('six', need(6, 8))];
  const candidates = [...jobs('ten', 2, 1), ...jobs('eight', 2, 3), ...jobs('six', 2, 5)];
  const decision = decideClaim(nodes, classes, candidates, opts());
  // 10+6 on each node; the eights fit nowhere once the tens are placed.
  t.deepEqual(ids(decision), [1, 2, 5, 6]);
});

// ---- multi-node jobs ----

test('a multi-node job takes num_nodes whole idle nodes', (t) => {
  const nodes = runner([node('a', 16, 64), node('b', 16, 64), node('c', 16, 64)]);
  const classes = [cls('mpi', need(4, 8, { nodes: 2 })), cls('tiny', TINY)];
  const decision = decideClaim(nodes, classes, [...jobs('mpi', 2, 1), ...jobs('tiny', 20, 3)], opts());
  const mpi = decision.claimed.filter((c) => c.job_id <= 2);
  t.is(mpi.length, 1, 'only one 2-node job fits on 3 nodes');
  t.is(mpi[0]!.nodes.length, 2);
  const taken = new Set(mpi[0]!.nodes);
  const tinyNodes = decision.claimed.filter((c) => c.job_id > 2).map((c) => c.nodes[0]!);
  t.is(tinyNodes.length, 16, 'tiny jobs fill the remaining node only');
  t.true(tinyNodes.every((n) => !taken.has(n)));
});

test('multi-node jobs avoid busy nodes and need enough idle ones', (t) => {
  const busy = { ...node('a', 16, 64), busy: true };
  const nodes = runner([busy, node('b', 16, 64), node('c', 16, 64)]);
  const classes = [cls('mpi3', need(4, 8, { nodes: 3 })), cls('mpi2', need(4, 8, { nodes: 2 }))];
  const decision = decideClaim(nodes, classes, [...jobs('mpi3', 1, 1), ...jobs('mpi2', 1, 2)], opts());
  t.deepEqual(placement(decision), { 2: ['b', 'c'] });
  const none = decideClaim(nodes, classes.slice(0, 1), jobs('mpi3', 1, 1), opts());
  t.regex(none.reason ?? '', /^no ready job fits the capacity .*2 of 3 nodes idle/);
});

// ---- reasons and bad input ----

test('reasons: no ready jobs', (t) => {
  t.is(decideClaim(roomy, [], [], opts()).reason, 'no ready jobs');
  t.is(decideClaim(roomy, sortClasses, [], opts()).reason, 'no ready jobs');
});

test('bad options and unknown classes are refused', (t) => {
  const err = t.throws(() => decideClaim(roomy, sortClasses, sortJobs, opts({ limit: 0 })), { instanceOf: InputError });
  t.is(err?.field, 'limit');
  const bad = t.throws(() => decideClaim(roomy, sortClasses, sortJobs, opts({ sort_method: 'fastest' as never })), { instanceOf: InputError });
  t.is(bad?.field, 'sort_method');
  t.throws(() => decideClaim(roomy, sortClasses, [{ job_id: 1, class_key: 'nope', order: 1 }], opts()), { message: /unknown class "nope"/ });
});
