/**
 * Action triggers and claims in the store, and the claim race over real HTTP: two concurrent
 * claimers of one action, exactly one wins.
 */
import test from 'ava';
import { ConflictError } from '../../src/errors.js';
import type { PlanAction } from '../../src/spec/plan.js';
import { JobStatus } from '../../src/contract/status.js';
import { startTestApi } from '../support/api.js';
import { makePlan } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

const action = (a: Partial<PlanAction>): PlanAction => ({
  trigger_type: 'on_workflow_start', action_type: 'run_commands', jobs: [], commands: ['true'], scheduler: null, scheduler_type: null,
  num_allocations: 1, start_one_worker_per_node: false, max_parallel_jobs: null, persistent: false, ...a,
});
const ok = { return_code: 0, exec_time_minutes: 0, completion_time: '2026-01-01T00:00:00Z' };

function plan() {
  const p = makePlan({ jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }, { name: 'c', after: ['a'] }] });
  // Job indices: a 0, b 1, c 2.
  p.actions.push(
    action({ trigger_type: 'on_workflow_start' }),
    action({ trigger_type: 'on_jobs_ready', jobs: [1, 2] }),
    action({ trigger_type: 'on_jobs_complete', jobs: [0] }),
    action({ trigger_type: 'on_workflow_complete' }),
    action({ trigger_type: 'on_workflow_start', persistent: true }),
  );
  return p;
}

test('triggers fire once per run when their condition holds; a new run fires them again', async (t) => {
  const store = await openTempStore(t);
  const wf = (await store.createWorkflowFromPlan(plan())).id;
  const fired = async () => (await store.fireActionTriggers(wf)).map((a) => a.trigger_type);
  t.deepEqual(await fired(), [], 'nothing before initialize');
  await store.initializeJobs(wf);
  t.deepEqual(await fired(), ['on_workflow_start', 'on_workflow_start']);
  t.deepEqual(await fired(), [], 'fired once');
  const node = (await store.registerComputeNode(wf, {
    hostname: 'h', pid: 1, num_cpus: 4, memory_gb: 4, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 't', lease_seconds: 600,
  })).id;
  const runAll = async () => {
    for (;;) {
      const { jobs } = await store.claimNextJobs(wf, 10, node);
      if (jobs.length === 0) return;
      for (const j of jobs) {
        await store.startJob(j.id, (await store.getWorkflow(wf)).run_id, node);
        await store.completeJob(j.id, 'completed', (await store.getWorkflow(wf)).run_id, ok);
      }
      if (jobs[0]!.name === 'a') t.deepEqual(await fired(), ['on_jobs_ready', 'on_jobs_complete'], 'b and c ready, a complete');
    }
  };
  await runAll();
  t.deepEqual(await fired(), ['on_workflow_complete']);
  t.is((await store.listPendingActions(wf)).length, 5);

  await store.resetStatus(wf);
  t.deepEqual(await store.listPendingActions(wf), [], 'a new run: nothing pending');
  await store.initializeJobs(wf);
  t.deepEqual(await fired(), ['on_workflow_start', 'on_workflow_start']);
});

test('claims: pending until claimed; a persistent action once per claimer; not before its trigger; none when canceled', async (t) => {
  const store = await openTempStore(t);
  const wf = (await store.createWorkflowFromPlan(plan())).id;
  const [start, ready, , , persistent] = await store.listActions(wf);
  await t.throwsAsync(store.claimAction(wf, ready!.id, { claimer: 'x' }), { instanceOf: ConflictError, message: /not pending/ });
  await store.initializeJobs(wf);
  await store.fireActionTriggers(wf);
  t.deepEqual((await store.listPendingActions(wf)).map((a) => a.id), [start!.id, persistent!.id]);
  t.like(await store.claimAction(wf, start!.id, { claimer: 'x' }), { success: true, claimer: 'x', action: { executed: true, executed_by: 'x' } });
  await t.throwsAsync(store.claimAction(wf, start!.id, { claimer: 'y' }), { instanceOf: ConflictError, message: /already claimed .* by x/ });
  await store.claimAction(wf, persistent!.id, { claimer: 'x' });
  await store.claimAction(wf, persistent!.id, { claimer: 'y' });
  await t.throwsAsync(store.claimAction(wf, persistent!.id, { claimer: 'y' }), { instanceOf: ConflictError });
  t.deepEqual((await store.listPendingActions(wf)).map((a) => a.id), [persistent!.id], 'a persistent action stays pending');
  await store.cancelWorkflow(wf);
  t.deepEqual(await store.listPendingActions(wf), []);
  await t.throwsAsync(store.claimAction(wf, persistent!.id, { claimer: 'z' }), { instanceOf: ConflictError, message: /canceled/ });
  t.is((await store.getStatus(wf)).counts.canceled, 3);
  t.is((await store.getJob((await store.listJobs(wf)).items[0]!.id)).status, 'canceled');
});

test('two concurrent claimers of one action over HTTP: exactly one wins, the other gets 409', async (t) => {
  const api = await startTestApi(t);
  const wf = (await api.store.createWorkflowFromPlan(plan())).id;
  await api.store.initializeJobs(wf);
  await api.store.fireActionTriggers(wf);
  const [pending] = await api.client.listPendingActions(wf, 'on_workflow_start');
  t.like(pending, { trigger_type: 'on_workflow_start', triggered: true, executed: false, persistent: false });
  const nodes = await Promise.all(
    [1, 2].map((pid) =>
      api.client.registerComputeNode(wf, {
        hostname: 'h', pid, num_cpus: 1, memory_gb: 1, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 't', lease_seconds: 600,
      }),
    ),
  );
  // Several rounds, each with both requests in flight at once.
  for (let round = 0; round < 5; round++) {
    const results = await Promise.allSettled(nodes.map((n) => api.client.claimAction(wf, pending!.id, { compute_node_id: n.id })));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    t.is(won.length, 1, `round ${round}: one winner`);
    t.true(lost[0]!.reason instanceof ConflictError);
    const run = (await api.store.getWorkflow(wf)).run_id;
    const claims = await api.store.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM action_claims WHERE action_id = ? AND run_id = ?', [pending!.id, run]);
    t.is(claims[0]!.n, 1, 'one claim recorded');
    // Next run: the action fires again and is claimable again.
    await api.store.resetStatus(wf);
    await api.store.initializeJobs(wf);
    await api.store.fireActionTriggers(wf);
  }
});
