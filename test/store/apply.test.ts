import test from 'ava';
import { NotFoundError } from '../../src/errors.js';
import { statusName } from '../../src/contract/status.js';
import { makePlan, type PlanSketch } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

const diamond: PlanSketch = {
  name: 'diamond',
  jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }, { name: 'c', after: ['a'] }, { name: 'd', after: ['b', 'c'] }],
};

test('applyPlan creates, leaves an unchanged spec alone, and re-runs only changed jobs and their downstream', async (t) => {
  const store = await openTempStore(t);
  const plan = makePlan(diamond);
  const created = await store.applyPlan(plan);
  t.like(created, { action: 'created', kept: 0, rerun: 4 });
  const wf = created.workflow_id;
  await store.initializeJobs(wf);
  t.like(await store.applyPlan(plan), { workflow_id: wf, action: 'unchanged' });

  // Run a, b and c to completion; d stays to do.
  const node = await store.registerComputeNode(wf, {
    hostname: 'h', pid: 1, num_cpus: 4, memory_gb: 4, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 'local', lease_seconds: 60,
  });
  for (let round = 0; round < 2; round++) {
    for (const job of (await store.claimNextJobs(wf, 10, node.id)).jobs) {
      await store.startJob(job.id, 1, node.id);
      await store.completeJob(job.id, 'completed', 1, { return_code: 0, exec_time_minutes: 1, completion_time: 'then' });
    }
  }

  const changed = makePlan(diamond);
  changed.jobs[2]!.hash = 'h-c-v2';
  changed.jobs[2]!.command = 'echo c v2';
  changed.spec_hash = 'spec-hash-v2';
  const replaced = await store.applyPlan(changed);
  t.like(replaced, { action: 'replaced', kept: 2, rerun: 2 });
  t.not(replaced.workflow_id, wf);
  await t.throwsAsync(() => store.getWorkflow(wf), { instanceOf: NotFoundError });

  const now = replaced.workflow_id;
  await store.initializeJobs(now);
  const states = Object.fromEntries((await store.listJobs(now)).items.map((j) => [j.name, j.status]));
  t.deepEqual(states, { a: 'completed', b: 'completed', c: 'ready', d: 'blocked' });
  t.is((await store.listJobs(now, { name: 'c' })).items[0]!.command, 'echo c v2');
  // Results of kept jobs come along.
  const results = await store.listResults(now);
  t.is(results.total, 2);
  t.like(await store.applyPlan(changed), { workflow_id: now, action: 'unchanged' });
});
