import test from 'ava';
import { ConflictError, InputError, NotFoundError } from '../../src/errors.js';
import type { Store } from '../../src/store/index.js';
import { JobStatus, statusName } from '../../src/contract/status.js';
import { makePlan, type PlanSketch } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

const S = JobStatus;
const result = (return_code = 0) => ({ return_code, exec_time_minutes: 0.25, completion_time: '2025-01-01T00:00:00Z' });
const node = {
  hostname: 'host', pid: 42, num_cpus: 8, memory_gb: 16, num_gpus: 0, num_nodes: 1,
  scheduler_config_id: null, compute_node_type: 'local', lease_seconds: 60,
};

/** a, b, c independent; d after a and b; e after c (canceled if c fails); f after e. */
const sketch: PlanSketch = {
  jobs: [
    { name: 'a' },
    { name: 'b' },
    { name: 'c' },
    { name: 'd', after: ['a', 'b'] },
    { name: 'e', after: ['c'], cancelOnFailure: true },
    { name: 'f', after: ['e'], cancelOnFailure: true },
  ],
};

async function setup(t: Parameters<typeof openTempStore>[0]) {
  const store = await openTempStore(t);
  const wf = (await store.createWorkflowFromPlan(makePlan(sketch))).id;
  await store.initializeJobs(wf);
  const nodeId = (await store.registerComputeNode(wf, node)).id;
  const jobs = (await store.listJobs(wf, { limit: 100 })).items;
  const id = (name: string) => jobs.find((j) => j.name === name)!.id;
  const states = async () => Object.fromEntries((await store.listJobs(wf, { limit: 100 })).items.map((j) => [j.name, j.status]));
  return { store, wf, nodeId, id, states };
}

async function snapshot(store: Store, wf: number) {
  const jobs = (await store.listJobs(wf, { limit: 100 })).items.map((j) => [j.name, j.status, j.return_code, j.attempt_id]);
  const results = (await store.listResults(wf, { limit: 100 })).items.map((r) => [r.job_id, r.status, r.return_code, r.attempt_id, r.run_id]);
  return { jobs, results };
}

test('startJobs starts the valid jobs in one go and refuses the others one by one, changing nothing for them', async (t) => {
  const { store, wf, nodeId, id, states } = await setup(t);
  const claimed = (await store.claimNextJobs(wf, 2, nodeId)).jobs.map((j) => j.id);
  t.deepEqual(claimed, [id('a'), id('b')]);
  const out = await store.startJobs([id('a'), 999_999, id('c'), id('b'), id('a')], 1, nodeId);
  t.true(out[0]!.ok);
  t.true(!out[1]!.ok && out[1]!.error instanceof NotFoundError);
  t.true(!out[2]!.ok && out[2]!.error instanceof ConflictError && /ready, not pending/.test(out[2]!.error.message));
  t.true(out[3]!.ok);
  t.true(!out[4]!.ok && out[4]!.error instanceof ConflictError, 'a job listed twice is refused the second time');
  t.like(await states(), { a: 'running', b: 'running', c: 'ready' });
  const stale = await store.startJobs([id('c')], 2, nodeId);
  t.true(!stale[0]!.ok && /stale/.test(stale[0]!.error.message));
  await t.throwsAsync(() => store.startJobs('nope' as never, 1, nodeId), { instanceOf: InputError });
});

test('completeJobs: valid items complete together with one cascade; refused items change nothing', async (t) => {
  const { store, wf, nodeId, id, states } = await setup(t);
  const claimed = (await store.claimNextJobs(wf, 3, nodeId)).jobs.map((j) => j.id);
  await store.startJobs(claimed, 1, nodeId);
  const out = await store.completeJobs([
    { job_id: id('a'), status: 'completed', run_id: 1, result: result(0) },
    { job_id: id('b'), status: 'completed', run_id: 1, result: result(0) },
    { job_id: id('c'), status: 'failed', run_id: 1, result: result(3) },
    { job_id: id('d'), status: 'completed', run_id: 1, result: result(0) }, // blocked, not running
    { job_id: id('a'), status: 'bogus', run_id: 1, result: result(0) }, // bad input
    { job_id: 424242, status: 'completed', run_id: 1, result: result(0) },
  ]);
  t.deepEqual(out.items.map((o) => o.ok), [true, true, true, false, false, false]);
  t.true(!out.items[3]!.ok && out.items[3]!.error instanceof ConflictError);
  t.true(!out.items[4]!.ok && out.items[4]!.error instanceof InputError && /jobs\[4\]\.status/.test(JSON.stringify(out.items[4]!.error)));
  t.true(!out.items[5]!.ok && out.items[5]!.error instanceof NotFoundError);
  t.is(out.newly_ready, 1, 'd lost both blockers at once');
  t.deepEqual(out.canceled_dependents.sort(), [id('e'), id('f')].sort());
  t.deepEqual(await states(), { a: 'completed', b: 'completed', c: 'failed', d: 'ready', e: 'canceled', f: 'canceled' });
  const results = (await store.listResults(wf, { limit: 100 })).items;
  t.deepEqual(results.map((r) => [r.job_id, r.status, r.return_code]).sort(), [[id('a'), 'completed', 0], [id('b'), 'completed', 0], [id('c'), 'failed', 3]].sort());
});

test('completing jobs in one bulk call leaves the same state as completing them one by one', async (t) => {
  const one = await setup(t);
  const bulk = await setup(t);
  for (const f of [one, bulk]) {
    const ids = (await f.store.claimNextJobs(f.wf, 3, f.nodeId)).jobs.map((j) => j.id);
    await f.store.startJobs(ids, 1, f.nodeId);
  }
  const items = (f: typeof one) => [
    { job_id: f.id('b'), status: 'completed', run_id: 1, result: result(0) },
    { job_id: f.id('c'), status: 'completed', run_id: 1, result: result(0) },
    { job_id: f.id('a'), status: 'terminated', run_id: 1, result: result(143) },
  ];
  for (const item of items(one)) await one.store.completeJob(item.job_id, item.status, item.run_id, item.result);
  const out = await bulk.store.completeJobs(items(bulk));
  t.true(out.items.every((o) => o.ok));
  t.deepEqual(await snapshot(bulk.store, bulk.wf), await snapshot(one.store, one.wf));
  t.deepEqual(await bulk.states(), { a: 'terminated', b: 'completed', c: 'completed', d: 'ready', e: 'ready', f: 'blocked' });
});

test('concurrent single start_job / complete_job calls share one call each and get their own answers', async (t) => {
  const { store, wf, nodeId, id, states } = await setup(t);
  const other = (await store.registerComputeNode(wf, { ...node, hostname: 'other' })).id;
  await store.claimNextJobs(wf, 3, nodeId);
  const calls = store.db.writeStats.batchCalls;
  // Issued in one tick: one group, one shared start call. c is refused on its own (a stale run).
  const starts = await Promise.allSettled([
    store.startJob(id('a'), 1, nodeId),
    store.startJob(id('b'), 1, other),
    store.startJob(id('c'), 2, nodeId),
    store.startJob(id('d'), 1, nodeId),
  ]);
  t.is(store.db.writeStats.batchCalls - calls, 1);
  t.like(starts[0], { status: 'fulfilled', value: { id: id('a'), compute_node_id: nodeId } });
  t.like(starts[1], { status: 'fulfilled', value: { id: id('b'), compute_node_id: other } });
  t.true(starts[2]!.status === 'rejected' && starts[2].reason instanceof ConflictError && /stale/.test(starts[2].reason.message));
  t.true(starts[3]!.status === 'rejected' && starts[3].reason instanceof ConflictError && /blocked, not pending/.test(starts[3].reason.message));
  t.like(await states(), { a: 'running', b: 'running', c: 'pending', d: 'blocked' });
  t.like(await store.getJob(id('b')), { compute_node_id: other });
  await store.startJob(id('c'), 1, nodeId);

  // a and b both block d: whichever completes last in the shared call made it ready. A second
  // completion of a in the same tick runs after the first (same job): the same report again,
  // acknowledged as a duplicate without a second result row.
  const done = await Promise.allSettled([
    store.completeJob(id('a'), 'completed', 1, result()),
    store.completeJob(id('b'), 'completed', 1, result()),
    store.completeJob(id('a'), 'completed', 1, result()),
    store.completeJob(id('c'), 'completed', 1, result()),
  ]);
  t.like(done[0], { status: 'fulfilled', value: { newly_ready: 0, canceled_dependents: [] } });
  t.like(done[1], { status: 'fulfilled', value: { newly_ready: 1, canceled_dependents: [] } });
  t.like(done[2], { status: 'fulfilled', value: { newly_ready: 0, canceled_dependents: [] } }, 'the same report again is acknowledged (a duplicate) and changes nothing');
  t.like(done[3], { status: 'fulfilled', value: { newly_ready: 1 } });
  t.like(await states(), { a: 'completed', b: 'completed', c: 'completed', d: 'ready', e: 'ready', f: 'blocked' });
  t.is((await store.listResults(wf, { limit: 100 })).items.length, 3, 'one result row per completion, none for the refused one');
});
