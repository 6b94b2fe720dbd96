/**
 * The invariant checker (test/support/invariants.ts) that every reliability scenario ends with:
 * silent on a healthy database in every job state, and it catches each kind of corruption.
 */
import test from 'ava';
import { JobStatus as S } from '../../src/contract/status.js';
import { checkInvariants } from '../support/invariants.js';
import { makePlan } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

async function scene(t: import('ava').ExecutionContext) {
  const store = await openTempStore(t);
  const wf = (await store.createWorkflowFromPlan(makePlan({
    jobs: [{ name: 'a' }, { name: 'b' }, { name: 'c', after: ['a', 'b'] }, { name: 'd', after: ['c'] }, { name: 'e' }, { name: 'f' }],
  }))).id;
  await store.initializeJobs(wf);
  const node = await store.registerComputeNode(wf, {
    hostname: 'h', pid: 1, num_cpus: 4, memory_gb: 4, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 'test', lease_seconds: 60,
  });
  const ids = Object.fromEntries((await store.listJobs(wf)).items.map((j) => [j.name, j.id])) as Record<string, number>;
  // a completed, b running, e pending, f ready, c blocked on b, d blocked on c.
  const claimed = await store.claimNextJobs(wf, 3, node.id);
  t.deepEqual(claimed.jobs.map((j) => j.name), ['a', 'b', 'e']);
  for (const name of ['a', 'b']) await store.startJob(ids[name]!, 1, node.id);
  await store.completeJob(ids.a!, 'completed', 1, { return_code: 0, exec_time_minutes: 0, completion_time: 'now' });
  return { store, wf, node: node.id, ids };
}

const corrupt = (store: Awaited<ReturnType<typeof scene>>['store'], sql: string, params: (number | string)[] = []) =>
  store.db.withWriteTransaction((tx) => tx.run(sql, params));

test('a healthy database in every job state passes', async (t) => {
  const { store } = await scene(t);
  const report = await checkInvariants(store.db);
  t.deepEqual(report.violations, []);
  t.like(report.checked, { workflows: 1, jobs: 6, results: 1, dependencies: 3, compute_nodes: 1 });
});

test('each kind of corruption is reported', async (t) => {
  const cases: [string, RegExp, (s: Awaited<ReturnType<typeof scene>>) => Promise<unknown>][] = [
    ['counter', /counter differs/, (s) => corrupt(s.store, 'UPDATE jobs SET unfinished_blockers = 5 WHERE id = ?', [s.ids.c!])],
    ['ready with blocker', /ready\/pending\/running job with an unfinished blocker/, (s) => corrupt(s.store, `UPDATE jobs SET status = ${S.ready} WHERE id = ?`, [s.ids.d!])],
    ['running without node', /without an active compute node/, (s) => corrupt(s.store, 'UPDATE jobs SET compute_node_id = NULL WHERE id = ?', [s.ids.b!])],
    ['pending on a dead node', /without an active compute node/, (s) => corrupt(s.store, 'UPDATE compute_nodes SET active = 0 WHERE id = ?', [s.node])],
    ['completed without result', /without the result of its attempt/, (s) => corrupt(s.store, `UPDATE jobs SET status = ${S.completed} WHERE id = ?`, [s.ids.f!])],
    ['double result', /more than one result/, (s) => corrupt(s.store, 'INSERT INTO results (workflow_id, job_id, run_id, attempt, return_code, exec_time_minutes, completion_time, status) SELECT workflow_id, job_id, run_id, attempt, 0, 0, completion_time, status FROM results')],
    ['result disagrees', /disagrees with the job's status/, (s) => corrupt(s.store, `UPDATE results SET status = ${S.failed}`)],
    ['bad status code', /unknown job status/, (s) => corrupt(s.store, 'UPDATE jobs SET status = 42 WHERE id = ?', [s.ids.f!])],
  ];
  for (const [name, expected, damage] of cases) {
    const s = await scene(t);
    await damage(s);
    const { violations } = await checkInvariants(s.store.db);
    t.true(violations.some((v) => expected.test(v)), `${name}: ${JSON.stringify(violations)}`);
  }
});

test('torc clients may leave pending jobs without a node when allowed', async (t) => {
  const { store, wf } = await scene(t);
  await store.claimNextJobs(wf, 1, null);
  t.true((await checkInvariants(store.db)).violations.some((v) => /without an active compute node/.test(v)));
  t.deepEqual((await checkInvariants(store.db, { allowUnownedPending: true })).violations, []);
});
