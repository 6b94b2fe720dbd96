/**
 * Workflow actions run by the reconciler: triggers fire once per run (real binary, real
 * commands), schedule_nodes with scheduler_type local starts a worker that runs the jobs, and
 * other scheduler types go to the handler registered for them (the hook the Slurm runner uses).
 */
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { registerScheduleNodesHandler, type ScheduleNodesRequest } from '../../src/reconciler/schedule-nodes.js';
import { loadWorkflowText, planDocument } from '../../src/spec/index.js';
import { runTorc } from '../support/cli.js';
import { query } from '../support/sqlite.js';
import { openTempStore } from '../support/store.js';

test('actions fire once each: setup before jobs, on_jobs_ready when both watched jobs are ready, then completion', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-actions-'));
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: acts
actions:
  - {trigger_type: on_workflow_start, action_type: run_commands, commands: ['mkdir -p out', 'echo start >> events.log']}
  - {trigger_type: on_jobs_ready, action_type: run_commands, jobs: [b, c], commands: ['echo "ready run $TORC_RUN_ID" >> events.log']}
  - {trigger_type: on_jobs_complete, action_type: run_commands, job_name_regexes: ['^[bc]$'], commands: ['echo "b and c done" >> events.log']}
  - {trigger_type: on_workflow_complete, action_type: run_commands, commands: ['echo "complete $(ls out | wc -l)" >> events.log', 'exit 3', 'echo never >> events.log']}
jobs:
  - {name: a, command: 'sleep 0.5; echo a > out/a'}
  - {name: b, command: 'sleep 0.5; echo b > out/b', depends_on: [a]}
  - {name: c, command: 'sleep 0.5; echo c > out/c', depends_on: [a]}
`,
  );
  const res = await runTorc(['reconcile', 'wf.yaml', '--no-server', '-q'], { cwd: dir });
  t.is(res.code, 0, res.stderr);
  t.is(readFileSync(join(dir, 'events.log'), 'utf8'), 'start\nready run 1\nb and c done\ncomplete 3\n');
  const db = join(dir, '.torc', 'wf.db');
  const fired = await query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM events WHERE category = 'action_triggered'");
  t.is(fired[0]!.n, 4, 'each trigger fired once');
  const claims = await query<{ action_id: number; claimer: string }>(db, 'SELECT action_id, claimer FROM action_claims ORDER BY action_id');
  t.is(claims.length, 4);
  t.true(claims.every((c) => c.claimer.startsWith('reconciler@')));
  const failed = await query<{ data: string }>(db, "SELECT data FROM events WHERE category = 'action_failed'");
  t.is(failed.length, 1, 'a failing command fails its action, not the workflow');
  t.like(JSON.parse(failed[0]!.data), { trigger_type: 'on_workflow_complete', exit_codes: [0, 3] });
  t.regex(readFileSync(join(dir, 'torc_output', 'actions', 'action_4_run1.log'), 'utf8'), /\$ exit 3/);
});

const nodesSpec = (schedulerType: string) => `
name: nodes
slurm_schedulers:
  - {name: cluster, account: acct, walltime: "00:10:00"}
actions:
  - {trigger_type: on_workflow_start, action_type: schedule_nodes, scheduler_type: ${schedulerType}, num_allocations: 1, max_parallel_jobs: 2, scheduler: ${schedulerType === 'slurm' ? 'cluster' : 'here'}}
jobs:
  - {name: "j{i}", command: "true", parameters: {i: "1:3"}}
`;

test('schedule_nodes local: with no runner of its own, the reconcile finishes through the worker the action started', async (t) => {
  const store = await openTempStore(t);
  const dir = mkdtempSync(join(tmpdir(), 'torc-nodes-'));
  const wf = (await store.applyPlan(planDocument(loadWorkflowText(nodesSpec('local'))[0]!))).workflow_id;
  const reconciler = new Reconciler({ store, workflowId: wf, outputDir: dir, cwd: dir, localRunner: false, resyncSeconds: 1 });
  const result = await reconciler.run();
  t.is(result.status.phase, 'Succeeded');
  const nodes = (await store.listComputeNodes(wf)).items;
  t.is(nodes.length, 1, 'one worker, started by the action');
  const results = (await store.listResults(wf)).items;
  t.is(results.length, 3);
  t.true(results.every((r) => r.compute_node_id === nodes[0]!.id));
  t.like((await store.listEvents(wf, { limit: 1000 })).items.find((e) => e.category === 'action_completed')?.data, {
    action_type: 'schedule_nodes', scheduler_type: 'local', ok: true,
  });
});

test('schedule_nodes of another scheduler type goes to its registered handler with the scheduler entry; none registered → action_failed', async (t) => {
  const seen: ScheduleNodesRequest[] = [];
  const restore = registerScheduleNodesHandler('slurm', async (req) => {
    seen.push(req);
    // A test handler standing in for sbatch: it starts nothing, so the workflow is canceled below.
    await req.store.cancelWorkflow(req.workflowId);
    return { message: 'submitted 1 allocation', details: { slurm_job_ids: ['4242'] } };
  });
  t.teardown(restore);
  const store = await openTempStore(t);
  const dir = mkdtempSync(join(tmpdir(), 'torc-nodes-'));
  const wf = (await store.applyPlan(planDocument(loadWorkflowText(nodesSpec('slurm'))[0]!))).workflow_id;
  const result = await new Reconciler({ store, workflowId: wf, outputDir: dir, cwd: dir, localRunner: false, resyncSeconds: 1 }).run();
  t.is(result.status.phase, 'Canceled');
  t.is(seen.length, 1, 'called once');
  t.like(seen[0]!.scheduler, { name: 'cluster', account: 'acct', walltime: '00:10:00' });
  t.like(seen[0]!.action, { action_type: 'schedule_nodes', num_allocations: 1, max_parallel_jobs: 2 });
  t.like((await store.listEvents(wf, { limit: 1000 })).items.find((e) => e.category === 'action_completed')?.data, {
    scheduler_type: 'slurm', message: 'submitted 1 allocation', details: { slurm_job_ids: ['4242'] },
  });

  const other = await openTempStore(t);
  const wf2 = (await other.applyPlan(planDocument(loadWorkflowText(nodesSpec('pbs'))[0]!))).workflow_id;
  const reconciler = new Reconciler({ store: other, workflowId: wf2, outputDir: dir, cwd: dir, resyncSeconds: 1 });
  t.is((await reconciler.run()).status.phase, 'Succeeded', 'its own runner ran the jobs');
  t.like((await other.listEvents(wf2, { limit: 1000 })).items.find((e) => e.category === 'action_failed')?.data, {
    ok: false, message: 'no schedule_nodes handler is registered for scheduler_type "pbs"',
  });
});
