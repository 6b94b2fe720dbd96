import test from 'ava';
import { ConflictError, InputError, NotFoundError } from '../../src/errors.js';
import type { Store } from '../../src/store/index.js';
import { JobStatus, statusName } from '../../src/contract/status.js';
import { makePlan, type PlanSketch } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

const S = JobStatus;
const result = (return_code = 0) => ({ return_code, exec_time_minutes: 0.5, completion_time: '2025-01-01T00:00:00Z' });
const node = {
  hostname: 'host', pid: 42, num_cpus: 8, memory_gb: 16, num_gpus: 0, num_nodes: 1,
  scheduler_config_id: null, compute_node_type: 'local', lease_seconds: 60,
};

interface Fixture {
  store: Store;
  wf: number;
  id: (name: string) => number;
  states: () => Promise<Record<string, string>>;
  /** Claims, starts and completes the named job (it must be ready). */
  run: (name: string, status?: string, rc?: number) => Promise<void>;
  nodeId: number;
}

async function fixture(t: Parameters<typeof openTempStore>[0], sketch: PlanSketch, init = true): Promise<Fixture> {
  const store = await openTempStore(t);
  const wf = (await store.createWorkflowFromPlan(makePlan(sketch))).id;
  if (init) await store.initializeJobs(wf);
  const jobs = (await store.listJobs(wf, { limit: 1000 })).items;
  const ids = new Map(jobs.map((j) => [j.name, j.id]));
  const id = (name: string) => ids.get(name)!;
  const nodeId = (await store.registerComputeNode(wf, node)).id;
  const states = async () =>
    Object.fromEntries((await store.listJobs(wf, { limit: 1000 })).items.map((j) => [j.name, j.status]));
  const run = async (name: string, status = 'completed', rc = 0) => {
    const runId = (await store.getWorkflow(wf)).run_id;
    const claimed = (await store.claimNextJobs(wf, 1000, nodeId)).jobs;
    // Fixtures call this only when `name` is the one ready job, so nothing else gets claimed.
    if (claimed.length !== 1 || claimed[0]!.name !== name) throw new Error(`expected only ${name} ready, got ${claimed.map((j) => j.name)}`);
    await store.startJob(claimed[0]!.id, runId, nodeId);
    await store.completeJob(claimed[0]!.id, status, runId, result(rc));
  };
  return { store, wf, id, states, run, nodeId };
}

const diamond: PlanSketch = {
  jobs: [
    { name: 'a' },
    { name: 'b', after: ['a'] },
    { name: 'c', after: ['a'] },
    { name: 'd', after: ['b', 'c'] },
  ],
};

test('initialize: jobs without unfinished blockers are ready, the rest blocked', async (t) => {
  const f = await fixture(t, diamond, false);
  t.deepEqual(await f.states(), { a: 'uninitialized', b: 'uninitialized', c: 'uninitialized', d: 'uninitialized' });
  t.deepEqual(await f.store.initializeJobs(f.wf), { ready: 1, blocked: 3, canceled: 0 });
  t.deepEqual(await f.states(), { a: 'ready', b: 'blocked', c: 'blocked', d: 'blocked' });
  t.deepEqual(await f.store.listJobBlockers(f.id('d')), [f.id('b'), f.id('c')]);
  // Idempotent: nothing uninitialized is left.
  t.deepEqual(await f.store.initializeJobs(f.wf), { ready: 0, blocked: 0, canceled: 0 });
});

test('completion unblocks a dependent only when its last blocker finishes', async (t) => {
  const f = await fixture(t, diamond);
  await f.run('a');
  t.deepEqual(await f.states(), { a: 'completed', b: 'ready', c: 'ready', d: 'blocked' });
  const runId = (await f.store.getWorkflow(f.wf)).run_id;
  const [b, c] = (await f.store.claimNextJobs(f.wf, 2, f.nodeId)).jobs;
  await f.store.startJob(b!.id, runId, f.nodeId);
  await f.store.startJob(c!.id, runId, f.nodeId);
  const first = await f.store.completeJob(b!.id, 'completed', runId, result());
  t.is(first.newly_ready, 0);
  t.is((await f.store.getJob(f.id('d'))).status, 'blocked');
  const second = await f.store.completeJob(c!.id, 'completed', runId, result());
  t.is(second.newly_ready, 1);
  t.is((await f.store.getJob(f.id('d'))).status, 'ready');
  await f.run('d');
  const status = await f.store.getStatus(f.wf);
  t.true(status.is_complete);
  t.is(status.counts.completed, 4);
  const results = await f.store.listResults(f.wf);
  t.is(results.total, 4);
  t.deepEqual(
    results.items.map((r) => [r.job_id, r.status, r.return_code, r.run_id, r.attempt_id, r.compute_node_id]),
    ['a', 'b', 'c', 'd'].map((n) => [f.id(n), 'completed', 0, runId, 1, f.nodeId]),
  );
});

test('a failed blocker cancels dependents that ask for it, transitively; others still run', async (t) => {
  const f = await fixture(t, {
    jobs: [
      { name: 'a' },
      { name: 'strict', after: ['a'], cancelOnFailure: true },
      { name: 'strict_child', after: ['strict'], cancelOnFailure: true },
      { name: 'lenient_child', after: ['strict'] },
      { name: 'lenient', after: ['a'] },
    ],
  });
  const runId = (await f.store.getWorkflow(f.wf)).run_id;
  const [a] = (await f.store.claimNextJobs(f.wf, 1, f.nodeId)).jobs;
  await f.store.startJob(a!.id, runId, f.nodeId);
  const outcome = await f.store.completeJob(a!.id, 'failed', runId, result(3));
  t.deepEqual(outcome.canceled_dependents, [f.id('strict'), f.id('strict_child')]);
  t.is(outcome.newly_ready, 2);
  t.deepEqual(await f.states(), {
    a: 'failed',
    strict: 'canceled',
    strict_child: 'canceled',
    // Its only blocker was canceled (finished), and it did not ask to be canceled: torc runs it.
    lenient_child: 'ready',
    lenient: 'ready',
  });
  t.is((await f.store.getJob(f.id('a'))).return_code, 3);
});

test('start and complete: wrong state or stale run_id is a 409 that changes nothing', async (t) => {
  const f = await fixture(t, { jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }] });
  const runId = (await f.store.getWorkflow(f.wf)).run_id;
  const a = f.id('a');
  // ready, not pending
  await t.throwsAsync(() => f.store.startJob(a, runId, f.nodeId), { instanceOf: ConflictError, message: /ready, not pending/ });
  await t.throwsAsync(() => f.store.completeJob(a, 'completed', runId, result()), { instanceOf: ConflictError });
  await f.store.claimNextJobs(f.wf, 1, f.nodeId);
  await t.throwsAsync(() => f.store.startJob(a, runId + 1, f.nodeId), { instanceOf: ConflictError, message: /stale/ });
  await t.throwsAsync(() => f.store.completeJob(a, 'completed', runId, result()), { instanceOf: ConflictError, message: /not running/ });
  t.is((await f.store.getJob(a)).status, 'pending');
  await f.store.startJob(a, runId, f.nodeId);
  // The same start again (its answer lost) is acknowledged; another attempt's is stale.
  t.like(await f.store.startJob(a, runId, f.nodeId, 1), { status: 'running', compute_node_id: f.nodeId });
  await t.throwsAsync(() => f.store.startJob(a, runId, f.nodeId, 2), { instanceOf: ConflictError, message: /no attempt 2/ });
  await t.throwsAsync(() => f.store.completeJob(a, 'completed', runId - 1, result()), { instanceOf: ConflictError, message: /stale/ });
  t.is((await f.store.getJob(a)).status, 'running');
  t.is((await f.store.listResults(f.wf)).total, 0, 'no result row from a refused completion');
  t.is((await f.store.getJob(f.id('b'))).status, 'blocked');
  // Bad input is an InputError naming the field; unknown ids are 404s.
  const bad = await t.throwsAsync(() => f.store.completeJob(a, 'ready', runId, result()), { instanceOf: InputError });
  t.is(bad.field, 'status');
  const badRc = await t.throwsAsync(() => f.store.completeJob(a, 'completed', runId, { ...result(), return_code: 1.5 }), { instanceOf: InputError });
  t.is(badRc.field, 'return_code');
  await t.throwsAsync(() => f.store.completeJob(999_999, 'completed', runId, result()), { instanceOf: NotFoundError });
  await t.throwsAsync(() => f.store.startJob(f.id('b'), runId, 999_999), { instanceOf: ConflictError });
  await f.store.completeJob(a, 'completed', runId, result());
  await t.throwsAsync(() => f.store.completeJob(a, 'failed', runId, result(1)), { instanceOf: ConflictError });
  t.is((await f.store.getJob(a)).status, 'completed');
  t.is((await f.store.listResults(f.wf)).total, 1);
});

test('cancelWorkflow cancels what has not started and reports running jobs', async (t) => {
  const f = await fixture(t, { jobs: [{ name: 'r1' }, { name: 'r2' }, { name: 'p' }, { name: 'w' }, { name: 'x', after: ['r1'] }] });
  const runId = (await f.store.getWorkflow(f.wf)).run_id;
  const claimed = (await f.store.claimNextJobs(f.wf, 3, f.nodeId)).jobs;
  await f.store.startJob(claimed[0]!.id, runId, f.nodeId);
  await f.store.startJob(claimed[1]!.id, runId, f.nodeId);
  const out = await f.store.cancelWorkflow(f.wf);
  t.deepEqual(out.running_job_ids, [f.id('r1'), f.id('r2')]);
  t.is(out.canceled, 3);
  t.deepEqual(await f.states(), { r1: 'running', r2: 'running', p: 'canceled', w: 'canceled', x: 'canceled' });
  // The runner that claimed p may not start it now.
  await t.throwsAsync(() => f.store.startJob(f.id('p'), runId, f.nodeId), { instanceOf: ConflictError });
  // Running jobs are reported back by their runners.
  await f.store.completeJob(f.id('r1'), 'terminated', runId, result(-15));
  await f.store.completeJob(f.id('r2'), 'canceled', runId, result(-15));
  const status = await f.store.getStatus(f.wf);
  t.true(status.is_canceled);
  t.true(status.is_complete);
});

test('resetStatus: all jobs, or only the unsuccessful ones and their downstream; run_id increments', async (t) => {
  const f = await fixture(t, {
    jobs: [
      { name: 'ok' },
      { name: 'bad' },
      { name: 'after_ok', after: ['ok'] },
      { name: 'after_bad', after: ['bad'] },
      { name: 'after_both', after: ['after_ok', 'after_bad'] },
    ],
  });
  const run1 = (await f.store.getWorkflow(f.wf)).run_id;
  const first = (await f.store.claimNextJobs(f.wf, 2, f.nodeId)).jobs;
  for (const j of first) await f.store.startJob(j.id, run1, f.nodeId);
  await f.store.completeJob(f.id('ok'), 'completed', run1, result());
  await f.store.completeJob(f.id('bad'), 'failed', run1, result(1));
  const second = (await f.store.claimNextJobs(f.wf, 10, f.nodeId)).jobs;
  t.deepEqual(second.map((j) => j.name), ['after_ok', 'after_bad']);
  for (const j of second) await f.store.startJob(j.id, run1, f.nodeId);
  await f.store.completeJob(f.id('after_ok'), 'completed', run1, result());
  await f.store.completeJob(f.id('after_bad'), 'completed', run1, result());
  await f.run('after_both');
  t.true(await f.store.isComplete(f.wf));

  const reset = await f.store.resetStatus(f.wf, { failedOnly: true });
  t.deepEqual(reset, { run_id: run1 + 1, reset: 3 });
  t.deepEqual(await f.states(), {
    ok: 'completed', bad: 'uninitialized', after_ok: 'completed', after_bad: 'uninitialized', after_both: 'uninitialized',
  });
  await f.store.initializeJobs(f.wf);
  t.deepEqual(await f.states(), {
    ok: 'completed', bad: 'ready', after_ok: 'completed', after_bad: 'blocked', after_both: 'blocked',
  });
  // The old run's calls are stale now.
  await t.throwsAsync(() => f.store.startJob(f.id('bad'), run1, f.nodeId), { instanceOf: ConflictError });

  const all = await f.store.resetStatus(f.wf);
  t.deepEqual(all, { run_id: run1 + 2, reset: 5 });
  await f.store.initializeJobs(f.wf);
  t.deepEqual(await f.states(), { ok: 'ready', bad: 'ready', after_ok: 'blocked', after_bad: 'blocked', after_both: 'blocked' });
  const wf = await f.store.getWorkflow(f.wf);
  t.is(wf.run_id, run1 + 2);
  t.is((await f.store.getJob(f.id('ok'))).return_code, null);
});

test('reset of a canceled workflow re-activates it', async (t) => {
  const f = await fixture(t, { jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }] });
  await f.store.cancelWorkflow(f.wf);
  t.true((await f.store.getStatus(f.wf)).is_canceled);
  t.deepEqual(await f.states(), { a: 'canceled', b: 'canceled' });
  await f.store.resetStatus(f.wf, { failedOnly: true });
  t.false((await f.store.getStatus(f.wf)).is_canceled);
  await f.store.initializeJobs(f.wf);
  t.deepEqual(await f.states(), { a: 'ready', b: 'blocked' });
  await f.run('a');
  await f.run('b');
  t.true(await f.store.isComplete(f.wf));
});

test('initialize cancels new jobs behind an already failed blocker when they ask for it', async (t) => {
  const f = await fixture(t, {
    jobs: [
      { name: 'a' },
      { name: 'b', after: ['a'] },
      { name: 'strict', after: ['a'], cancelOnFailure: true },
      { name: 'strict_child', after: ['strict'], cancelOnFailure: true },
      { name: 'lenient_child', after: ['strict', 'b'] },
    ],
  });
  await f.run('a', 'failed', 1);
  // Jobs added to a workflow after its blockers ran (the reconciler re-applying a changed spec)
  // come in uninitialized; simulate that state directly.
  await f.store.db.withWriteTransaction((tx) =>
    tx.run(`UPDATE jobs SET status = ${S.uninitialized} WHERE workflow_id = ? AND name != 'a'`, [f.wf]),
  );
  const init = await f.store.initializeJobs(f.wf);
  t.deepEqual(init, { ready: 1, blocked: 1, canceled: 2 });
  t.deepEqual(await f.states(), { a: 'failed', b: 'ready', strict: 'canceled', strict_child: 'canceled', lenient_child: 'blocked' });
  await f.run('b');
  t.is((await f.store.getJob(f.id('lenient_child'))).status, 'ready');
});

test('getStatus counts every state; listJobs filters by status and name with totals', async (t) => {
  const f = await fixture(t, diamond);
  const status = await f.store.getStatus(f.wf);
  t.is(Object.keys(status.counts).length, 11);
  t.like(status, { workflow_id: f.wf, is_complete: false, is_canceled: false });
  t.like(status.counts, { ready: 1, blocked: 3, completed: 0 });
  const blocked = await f.store.listJobs(f.wf, { status: 'blocked', limit: 2 });
  t.is(blocked.total, 3);
  t.deepEqual(blocked.items.map((j) => j.name), ['b', 'c']);
  const page2 = await f.store.listJobs(f.wf, { status: 'blocked', offset: 2, limit: 2 });
  t.deepEqual(page2.items.map((j) => j.name), ['d']);
  const byName = await f.store.listJobs(f.wf, { name: 'c' });
  t.deepEqual(byName.items.map((j) => j.id), [f.id('c')]);
  const err = await t.throwsAsync(() => f.store.listJobs(f.wf, { status: 'sleeping' }), { instanceOf: InputError });
  t.is(err.field, 'status');
  await t.throwsAsync(() => f.store.listJobs(f.wf, { limit: -1 }), { instanceOf: InputError });
  await t.throwsAsync(() => f.store.getStatus(12345), { instanceOf: NotFoundError });
});
