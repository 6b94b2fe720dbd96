import test from 'ava';
import { capacityFromNodes, capacityFromPooled } from '../../src/allocator/index.js';
import { InputError, NotFoundError } from '../../src/errors.js';
import { CLASS_CANDIDATES_SQL, QUEUE_CANDIDATES_SQL } from '../../src/store/claim.js';
import type { Store } from '../../src/store/index.js';
import { JobStatus } from '../../src/contract/status.js';
import { GB, bigPlan, makePlan, type PlanSketch } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

async function seeded(t: Parameters<typeof openTempStore>[0], sketch: PlanSketch): Promise<{ store: Store; wf: number; ids: Map<string, number> }> {
  const store = await openTempStore(t);
  const wf = await store.createWorkflowFromPlan(makePlan(sketch));
  await store.initializeJobs(wf.id);
  const jobs = await store.listJobs(wf.id, { limit: 10_000 });
  return { store, wf: wf.id, ids: new Map(jobs.items.map((j) => [j.name, j.id])) };
}

const seedExample: PlanSketch = {
  classes: [{ name: 'half', num_cpus: 16, memory_bytes: 64 * GB }],
  jobs: [
    { name: 'A', rc: 'half' },
    { name: 'B', rc: 'half' },
    { name: 'C', rc: 'half' },
  ],
};

test('seed example: a 32 CPU / 128 GB runner claims exactly two 16/64 jobs, C stays ready', async (t) => {
  const { store, wf, ids } = await seeded(t, seedExample);
  const res = await store.claimJobsBasedOnResources(wf, {
    capacity: capacityFromPooled({ num_cpus: 32, memory_gb: 128 }),
    limit: 10,
  });
  t.deepEqual(res.jobs.map((j) => j.name), ['A', 'B']);
  t.true(res.jobs.every((j) => j.status === 'pending'));
  t.deepEqual(res.jobs[0]!.resources, { num_cpus: 16, memory_bytes: 64 * GB, num_gpus: 0, num_nodes: 1, runtime_seconds: 3600 });
  t.deepEqual(res.jobs[0]!.assigned_nodes, ['node0']);
  t.is((await store.getJob(ids.get('C')!)).status, 'ready');
  const status = await store.getStatus(wf);
  t.is(status.counts.pending, 2);
  t.is(status.counts.ready, 1);
  // Nothing more fits while A and B hold the runner: the runner's free capacity is now empty-ish.
  const again = await store.claimJobsBasedOnResources(wf, {
    capacity: capacityFromPooled({ num_cpus: 0, memory_gb: 0 }),
    limit: 10,
  });
  t.deepEqual(again.jobs, []);
  t.truthy(again.reason);
});

test('seed example: queue depth with limit 3 claims all three, resources ignored', async (t) => {
  const { store, wf } = await seeded(t, seedExample);
  const res = await store.claimNextJobs(wf, 3);
  t.deepEqual(res.jobs.map((j) => j.name), ['A', 'B', 'C']);
  t.true(res.jobs.every((j) => j.status === 'pending' && j.assigned_nodes.length === 0));
  const none = await store.claimNextJobs(wf, 3);
  t.deepEqual(none.jobs, []);
  t.is(none.reason, 'no ready jobs');
});

test('scheduler binding: own scheduler and unbound jobs only; strict mode drops the unbound fallback', async (t) => {
  const sketch: PlanSketch = {
    classes: [{ name: 'gpu', num_cpus: 4, num_gpus: 1, memory_bytes: 8 * GB }, { name: 'cpu', num_cpus: 2, memory_bytes: 2 * GB }],
    schedulers: ['gpu_cluster', 'highmem_cluster'],
    jobs: [
      { name: 'train', rc: 'gpu', scheduler: 'gpu_cluster' },
      { name: 'analyze', rc: 'cpu', scheduler: 'highmem_cluster' },
      { name: 'free', rc: 'cpu' },
    ],
  };
  const { store, wf } = await seeded(t, sketch);
  const [gpuSched, highmemSched] = await store.listSlurmSchedulers(wf);
  t.is(gpuSched!.name, 'gpu_cluster');
  const gpuRunner = (strict: boolean) => ({
    capacity: capacityFromPooled({ num_cpus: 32, memory_gb: 256, num_gpus: 8, scheduler_config_id: gpuSched!.id }),
    strict_scheduler_match: strict,
    limit: 10,
  });
  const strict = await store.claimJobsBasedOnResources(wf, gpuRunner(true));
  t.deepEqual(strict.jobs.map((j) => j.name), ['train']);
  t.is(strict.jobs[0]!.scheduler_id, gpuSched!.id);
  const strictAgain = await store.claimJobsBasedOnResources(wf, gpuRunner(true));
  t.deepEqual(strictAgain.jobs, [], 'strict: the unbound job is not a fallback');
  t.truthy(strictAgain.reason);
  const relaxed = await store.claimJobsBasedOnResources(wf, gpuRunner(false));
  t.deepEqual(relaxed.jobs.map((j) => j.name), ['free'], 'never the highmem job');
  const highmem = await store.claimJobsBasedOnResources(wf, {
    capacity: capacityFromPooled({ num_cpus: 64, memory_gb: 512, scheduler_config_id: highmemSched!.id }),
    limit: 10,
  });
  t.deepEqual(highmem.jobs.map((j) => j.name), ['analyze']);
});

test('mixed workflow: a runner without a scheduler gets only unbound jobs; any_scheduler serves all', async (t) => {
  const sketch: PlanSketch = {
    schedulers: ['gpu_cluster'],
    jobs: [{ name: 'bound', scheduler: 'gpu_cluster' }, { name: 'u1' }, { name: 'u2' }],
  };
  const { store, wf } = await seeded(t, sketch);
  const plain = await store.claimJobsBasedOnResources(wf, { capacity: capacityFromPooled({ num_cpus: 8, memory_gb: 8 }), limit: 10 });
  t.deepEqual(plain.jobs.map((j) => j.name), ['u1', 'u2']);
  const empty = await store.claimJobsBasedOnResources(wf, { capacity: capacityFromPooled({ num_cpus: 8, memory_gb: 8 }), limit: 10 });
  t.deepEqual(empty.jobs, []);
  t.regex(empty.reason ?? '', /scheduler/);
  const local = await store.claimJobsBasedOnResources(wf, {
    capacity: capacityFromPooled({ num_cpus: 8, memory_gb: 8 }),
    any_scheduler: true,
    limit: 10,
  });
  t.deepEqual(local.jobs.map((j) => j.name), ['bound']);
});

test('sort methods order claims; a job longer than the time limit is never claimed', async (t) => {
  const sketch: PlanSketch = {
    classes: [
      { name: 'small', num_cpus: 1, memory_bytes: 1 * GB, runtime_seconds: 600 },
      { name: 'long', num_cpus: 1, memory_bytes: 2 * GB, runtime_seconds: 7200 },
      { name: 'big', num_cpus: 1, memory_bytes: 8 * GB, runtime_seconds: 1800 },
      { name: 'gpu', num_cpus: 1, num_gpus: 1, memory_bytes: 1 * GB, runtime_seconds: 600 },
      { name: 'toolong', num_cpus: 1, memory_bytes: 1 * GB, runtime_seconds: 4 * 3600 },
    ],
    jobs: [
      { name: 'small', rc: 'small' },
      { name: 'long', rc: 'long' },
      { name: 'big', rc: 'big' },
      { name: 'gpu', rc: 'gpu' },
      { name: 'toolong', rc: 'toolong' },
    ],
  };
  const capacity = capacityFromPooled({ num_cpus: 64, memory_gb: 64, num_gpus: 1, time_limit: 'PT3H' });
  const orders: Record<string, string[]> = {};
  for (const method of ['gpus_runtime_memory', 'gpus_memory_runtime', 'none'] as const) {
    const { store, wf } = await seeded(t, sketch);
    const res = await store.claimJobsBasedOnResources(wf, { capacity, sort_method: method, limit: 10 });
    orders[method] = res.jobs.map((j) => j.name);
  }
  t.deepEqual(orders, {
    gpus_runtime_memory: ['gpu', 'long', 'big', 'small'],
    gpus_memory_runtime: ['gpu', 'big', 'long', 'small'],
    none: ['small', 'long', 'big', 'gpu'],
  });
  // The workflow's own jobs_sort_method is the default when the request names none.
  const { store, wf } = await seeded(t, { ...sketch, settings: { jobs_sort_method: 'gpus_memory_runtime' } });
  const limited = await store.claimJobsBasedOnResources(wf, { capacity, limit: 2 });
  t.deepEqual(limited.jobs.map((j) => j.name), ['gpu', 'big']);
});

test('per-node packing: two 16-CPU nodes never take a 24-CPU job; two 12-CPU jobs land one per node', async (t) => {
  const sketch: PlanSketch = {
    classes: [{ name: 'wide', num_cpus: 24, memory_bytes: GB }, { name: 'twelve', num_cpus: 12, memory_bytes: GB }],
    jobs: [{ name: 'wide', rc: 'wide' }, { name: 't1', rc: 'twelve' }, { name: 't2', rc: 'twelve' }],
  };
  const { store, wf, ids } = await seeded(t, sketch);
  const capacity = capacityFromNodes({
    nodes: [
      { name: 'n1', num_cpus: 16, memory_gb: 64 },
      { name: 'n2', num_cpus: 16, memory_gb: 64 },
    ],
  });
  const res = await store.claimJobsBasedOnResources(wf, { capacity, limit: 10 });
  t.deepEqual(res.jobs.map((j) => j.name), ['t1', 't2']);
  t.deepEqual(res.jobs.map((j) => j.assigned_nodes[0]).sort(), ['n1', 'n2']);
  t.is((await store.getJob(ids.get('wide')!)).status, 'ready');
});

test('canceled and complete workflows hand out nothing, with a reason', async (t) => {
  const { store, wf } = await seeded(t, seedExample);
  await store.cancelWorkflow(wf);
  const res = await store.claimNextJobs(wf, 5);
  t.deepEqual(res.jobs, []);
  t.regex(res.reason ?? '', /canceled/);
  const byRes = await store.claimJobsBasedOnResources(wf, { capacity: capacityFromPooled({ num_cpus: 64, memory_gb: 256 }), limit: 5 });
  t.regex(byRes.reason ?? '', /canceled/);

  const other = await seeded(t, { jobs: [{ name: 'only' }] });
  const node = await other.store.registerComputeNode(other.wf, {
    hostname: 'h', pid: 1, num_cpus: 1, memory_gb: 1, num_gpus: 0, num_nodes: 1,
    scheduler_config_id: null, compute_node_type: 'local', lease_seconds: 60,
  });
  const [job] = (await other.store.claimNextJobs(other.wf, 1, node.id)).jobs;
  t.is(job!.compute_node_id, node.id);
  const runId = (await other.store.getWorkflow(other.wf)).run_id;
  await other.store.startJob(job!.id, runId, node.id);
  await other.store.completeJob(job!.id, 'completed', runId, { return_code: 0, exec_time_minutes: 0.1, completion_time: new Date().toISOString() });
  const done = await other.store.claimNextJobs(other.wf, 1);
  t.regex(done.reason ?? '', /complete/);
});

test('claim arguments are checked and name the field', async (t) => {
  const { store, wf } = await seeded(t, seedExample);
  const err = await t.throwsAsync(() => store.claimNextJobs(wf, 0), { instanceOf: InputError });
  t.is(err.field, 'limit');
  await t.throwsAsync(() => store.claimNextJobs(wf + 1000, 1), { instanceOf: NotFoundError });
  const bad = await t.throwsAsync(
    () => store.claimJobsBasedOnResources(wf, { capacity: capacityFromPooled({ num_cpus: 1, memory_gb: 1 }), limit: 1, sort_method: 'fastest' as never }),
    { instanceOf: InputError },
  );
  t.is(bad.field, 'sort_method');
  t.is((await store.getStatus(wf)).counts.ready, 3, 'nothing claimed by the bad requests');
});

test('a claim from 100k ready jobs reads a bounded number of rows, through the index', async (t) => {
  const store = await openTempStore(t);
  const wf = await store.createWorkflowFromPlan(bigPlan(100_000, { classes: 4 }));
  await store.initializeJobs(wf.id);
  t.is((await store.getStatus(wf.id)).counts.ready, 100_000);

  const before = { ...store.claimStats };
  const res = await store.claimJobsBasedOnResources(wf.id, {
    capacity: capacityFromPooled({ num_cpus: 32, memory_gb: 64 }),
    sort_method: 'gpus_memory_runtime',
    limit: 1000,
  });
  t.true(res.jobs.length > 0);
  const rowsRead = store.claimStats.candidate_rows_read - before.candidate_rows_read;
  // At most what fits side by side per class (1, 2, 4, 6 CPUs on 32): 32 + 16 + 8 + 5.
  t.true(rowsRead <= 32 + 16 + 8 + 5, `read ${rowsRead} rows`);
  t.true(store.claimStats.class_queries - before.class_queries <= 4);

  const next = await store.claimNextJobs(wf.id, 10);
  t.is(next.jobs.length, 10);
  t.is(store.claimStats.candidate_rows_read - before.candidate_rows_read, rowsRead + 10);

  for (const sql of [CLASS_CANDIDATES_SQL, QUEUE_CANDIDATES_SQL]) {
    const params = sql === CLASS_CANDIDATES_SQL ? [wf.id, 1, 10] : [wf.id, 10];
    const plan = await store.db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params);
    const details = plan.map((p) => p.detail).join(' | ');
    t.regex(details, /SEARCH jobs USING (COVERING )?INDEX/, details);
    t.notRegex(details, /SCAN jobs|TEMP B-TREE/, details);
  }
});
