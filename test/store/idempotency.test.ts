/**
 * Reports are idempotent by job, run and attempt (issue 24): a start, completion or retry sent
 * again after its answer was lost is acknowledged and changes nothing; one of an older attempt
 * (the job was requeued) or from another node is refused. Plus the node sync after an outage
 * and the leases a starting server renews.
 */
import test from 'ava';
import { ConflictError } from '../../src/errors.js';
import type { PlanFailureRule } from '../../src/spec/plan.js';
import { makePlan } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

const result = (return_code = 0, extra: object = {}) => ({ return_code, exec_time_minutes: 0.1, completion_time: '2026-01-01T00:00:00Z', ...extra });
const node = (lease_seconds = 60) => ({
  hostname: 'h', pid: 1, num_cpus: 8, memory_gb: 8, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 'test', lease_seconds,
});
const rule = (r: Partial<PlanFailureRule>): PlanFailureRule => ({
  exit_codes: [], match_all_exit_codes: false, recovery_script: null, max_retries: 3, memory_multiplier: null, runtime_multiplier: null, ...r,
});

async function setup(t: Parameters<typeof openTempStore>[0], options: { now?: () => number } = {}) {
  const store = await openTempStore(t, options);
  const plan = makePlan({ jobs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd', after: ['a'] }] });
  plan.failure_handlers.push({ name: 'h', rules: [rule({ exit_codes: [3], max_retries: 2 })] });
  plan.jobs.find((j) => j.name === 'c')!.failure_handler = 0;
  const wf = (await store.createWorkflowFromPlan(plan)).id;
  await store.initializeJobs(wf);
  const nodeId = (await store.registerComputeNode(wf, node())).id;
  const jobs = (await store.listJobs(wf)).items;
  const id = (name: string) => jobs.find((j) => j.name === name)!.id;
  const snapshot = async () => JSON.stringify([(await store.listJobs(wf)).items, (await store.listResults(wf)).items]);
  return { store, wf, nodeId, id, snapshot };
}

test('a completion sent again is acknowledged with the job as recorded, applied once; bulk items say duplicate', async (t) => {
  const s = await setup(t);
  await s.store.claimNextJobs(s.wf, 3, s.nodeId, { start_run_id: 1 });
  const first = await s.store.completeJob(s.id('a'), 'completed', 1, result(0, { attempt_id: 1, compute_node_id: s.nodeId }));
  t.is(first.newly_ready, 1);
  const before = await s.snapshot();
  const again = await s.store.completeJob(s.id('a'), 'completed', 1, result(0, { attempt_id: 1, compute_node_id: s.nodeId }));
  t.deepEqual(again.job, { ...first.job });
  t.is(again.newly_ready, 0, 'the cascade is not run twice');
  t.is(await s.snapshot(), before);
  // A different outcome for the same attempt is not a duplicate: refused.
  await t.throwsAsync(s.store.completeJob(s.id('a'), 'failed', 1, result(1, { attempt_id: 1 })), { instanceOf: ConflictError, message: /already reported completed/ });
  const bulk = await s.store.completeJobs([
    { job_id: s.id('a'), status: 'completed', run_id: 1, result: result(0, { attempt_id: 1 }) },
    { job_id: s.id('b'), status: 'completed', run_id: 1, result: result(0, { attempt_id: 1 }) },
  ], s.wf);
  t.like(bulk.items[0], { ok: true, duplicate: true });
  t.true(bulk.items[1]!.ok && !bulk.items[1]!.duplicate);
  t.is((await s.store.listResults(s.wf)).total, 2, 'one result per job');
});

test('reports of an attempt the job is past, or from another node, are refused 409 and change nothing', async (t) => {
  const s = await setup(t);
  await s.store.claimNextJobs(s.wf, 3, s.nodeId, { start_run_id: 1 });
  const other = (await s.store.registerComputeNode(s.wf, node())).id;
  let before = await s.snapshot();
  await t.throwsAsync(s.store.completeJob(s.id('a'), 'completed', 1, result(0, { compute_node_id: other })), { instanceOf: ConflictError, message: /runs on compute node \d+, not \d+/ });
  await t.throwsAsync(s.store.startJob(s.id('a'), 1, other, 1), { instanceOf: ConflictError });
  t.is(await s.snapshot(), before);
  // The node's lease runs out: its jobs are requeued with attempt 2; its attempt-1 reports are stale.
  await s.store.deactivateComputeNode(s.nodeId);
  before = await s.snapshot();
  await t.throwsAsync(s.store.completeJob(s.id('a'), 'completed', 1, result(0, { attempt_id: 1, compute_node_id: s.nodeId })), {
    instanceOf: ConflictError, message: /attempt 1 of job \d+ is stale: the job was requeued and is on attempt 2/,
  });
  const bulk = await s.store.startJobs([s.id('a')], 1, s.nodeId, s.wf, [1]);
  t.false(bulk[0]!.ok);
  await t.throwsAsync(s.store.retryJob(s.id('c'), 1, { ...result(3), attempt_id: 1 }), { instanceOf: ConflictError, message: /stale/ });
  t.is(await s.snapshot(), before);
});

test('a retry sent again is acknowledged (the job stays on its next attempt); a stale one is refused', async (t) => {
  const s = await setup(t);
  await s.store.claimNextJobs(s.wf, 3, s.nodeId, { start_run_id: 1 });
  const out = await s.store.retryJob(s.id('c'), 1, { ...result(3), attempt_id: 1, compute_node_id: s.nodeId });
  t.like(out, { attempt: 2 });
  const before = await s.snapshot();
  const again = await s.store.retryJob(s.id('c'), 1, { ...result(3), attempt_id: 1, compute_node_id: s.nodeId });
  t.true(again.duplicate);
  t.like(again.job, { status: 'ready', attempt_id: 2 });
  t.is(await s.snapshot(), before, 'no second result, no attempt 3');
});

test('sync: jobs of the node the runner does not hold go back to ready; held jobs no longer its own are revoked; a retired node is refused', async (t) => {
  const s = await setup(t);
  // a, b, c claimed by the node (a and b started, c pending): the runner holds a only (b's claim answer was lost, c was withdrawn).
  await s.store.claimNextJobs(s.wf, 3, s.nodeId);
  await s.store.startJob(s.id('a'), 1, s.nodeId);
  await s.store.startJob(s.id('b'), 1, s.nodeId);
  const out = await s.store.syncComputeNode(s.nodeId, [{ job_id: s.id('a'), attempt_id: 1 }, { job_id: s.id('d'), attempt_id: 1 }]);
  t.deepEqual(out.released.sort(), [s.id('b'), s.id('c')].sort());
  t.deepEqual(out.revoked, [s.id('d')], 'd is blocked, not the node\'s');
  const jobs = new Map((await s.store.listJobs(s.wf)).items.map((j) => [j.name, j]));
  t.like(jobs.get('a'), { status: 'running', compute_node_id: s.nodeId });
  t.like(jobs.get('b'), { status: 'ready', attempt_id: 1, compute_node_id: null });
  t.like(jobs.get('c'), { status: 'ready', attempt_id: 1, compute_node_id: null });
  t.true((await s.store.listEvents(s.wf)).items.some((e) => e.category === 'compute_node_synced'));
  await s.store.deactivateComputeNode(s.nodeId);
  await t.throwsAsync(s.store.syncComputeNode(s.nodeId, []), { instanceOf: ConflictError, message: /no longer active .* register again/ });
});

test('a starting server renews every active lease from now: time it was down is not held against runners', async (t) => {
  let now = 1_000_000;
  const s = await setup(t, { now: () => now });
  await s.store.claimNextJobs(s.wf, 1, s.nodeId, { start_run_id: 1 });
  now += 120_000; // down for two minutes, twice the lease
  t.is(await s.store.resumeLeases(), 1);
  t.deepEqual((await s.store.expireLeases()).expired_compute_node_ids, [], 'nothing requeued at start');
  t.is((await s.store.getJob(s.id('a'))).status, 'running');
  now += 61_000; // and now the runner really is silent longer than its lease
  t.deepEqual((await s.store.expireLeases()).expired_compute_node_ids, [s.nodeId]);
});
