import test from 'ava';
import { InputError, NotFoundError } from '../../src/errors.js';
import type { Plan } from '../../src/spec/plan.js';
import { JobStatus } from '../../src/contract/status.js';
import { GB, bigPlan, makePlan } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

/** A plan that uses every table: files, user data, failure handlers, actions, env, image. */
function richPlan(): Plan {
  const plan = makePlan({
    name: 'rich',
    classes: [{ name: 'big', num_cpus: 8, memory_bytes: 32 * GB, num_gpus: 1, runtime_seconds: 7200 }],
    schedulers: ['gpu_cluster'],
    jobs: [{ name: 'make' }, { name: 'use', rc: 'big', scheduler: 'gpu_cluster', after: ['make'] }],
  });
  plan.files = [{ name: 'data', path: '/tmp/data.csv' }];
  plan.user_data = [{ name: 'params', data: { lr: 0.1 }, is_ephemeral: false }];
  plan.failure_handlers = [
    { name: 'retry', rules: [{ exit_codes: [137], match_all_exit_codes: false, recovery_script: null, max_retries: 2, memory_multiplier: 1.5, runtime_multiplier: null }] },
  ];
  plan.actions = [
    {
      trigger_type: 'on_jobs_ready', action_type: 'schedule_nodes', jobs: [1], commands: [], scheduler: 0, scheduler_type: 'slurm',
      num_allocations: 2, start_one_worker_per_node: false, max_parallel_jobs: 4, persistent: false,
    },
  ];
  plan.jobs[0]!.output_files = [0];
  plan.jobs[0]!.output_user_data = [0];
  plan.jobs[1]!.input_files = [0];
  plan.jobs[1]!.input_user_data = [0];
  plan.jobs[1]!.failure_handler = 0;
  plan.jobs[1]!.env = { OMP_NUM_THREADS: '8' };
  plan.jobs[1]!.image = 'ghcr.io/x/y:1';
  plan.jobs[1]!.supports_termination = true;
  return plan;
}

test('createWorkflowFromPlan stores every part of the plan with ids resolved', async (t) => {
  const store = await openTempStore(t);
  const wf = await store.createWorkflowFromPlan(richPlan(), { k8s_namespace: 'ns', k8s_name: 'rich', k8s_uid: 'u-1' });
  t.like(wf, { name: 'rich', user: 'tester', k8s_namespace: 'ns', k8s_name: 'rich', k8s_uid: 'u-1', spec_hash: 'spec-hash', run_id: 1, status: 'active' });
  t.is(wf.settings.jobs_sort_method, 'none');
  t.deepEqual((await store.findWorkflowsByK8sName('ns', 'rich')).map((w) => w.id), [wf.id]);

  const jobs = (await store.listJobs(wf.id)).items;
  t.is(jobs.length, 2);
  t.true(jobs.every((j) => j.status === 'uninitialized' && j.attempt_id === 1));
  const [rrDefault, rrBig] = await store.listResourceRequirements(wf.id);
  t.like(rrBig, { name: 'big', num_cpus: 8, memory_bytes: 32 * GB, num_gpus: 1, num_nodes: 1, runtime_seconds: 7200 });
  const [sched] = await store.listSlurmSchedulers(wf.id);
  t.like(sched, { name: 'gpu_cluster', walltime: '01:00:00', nodes: 1 });
  const [handler] = await store.listFailureHandlers(wf.id);
  t.is(handler!.rules[0]!.memory_multiplier, 1.5);
  const use = jobs[1]!;
  t.like(use, {
    name: 'use', resource_requirements_id: rrBig!.id, scheduler_id: sched!.id, failure_handler_id: handler!.id,
    image: 'ghcr.io/x/y:1', supports_termination: true, cancel_on_blocking_job_failure: false,
  });
  t.deepEqual(use.env, { OMP_NUM_THREADS: '8' });
  t.is(jobs[0]!.resource_requirements_id, rrDefault!.id);
  const [file] = await store.listFiles(wf.id);
  const [ud] = await store.listUserData(wf.id);
  t.deepEqual(ud!.data, { lr: 0.1 });
  t.deepEqual(await store.getJobIo(use.id), { input_files: [file!.id], output_files: [], input_user_data: [ud!.id], output_user_data: [] });
  t.deepEqual(await store.getJobIo(jobs[0]!.id), { input_files: [], output_files: [file!.id], input_user_data: [], output_user_data: [ud!.id] });
  await store.setFileMtime(file!.id, 1700000000.5);
  t.is((await store.listFiles(wf.id))[0]!.st_mtime, 1700000000.5);
  const [action] = await store.listActions(wf.id);
  t.like(action, { trigger_type: 'on_jobs_ready', action_type: 'schedule_nodes', scheduler_id: sched!.id, num_allocations: 2, executed: false });
  t.deepEqual(action!.job_ids, [use.id]);
  t.deepEqual(await store.listJobBlockers(use.id), [jobs[0]!.id]);
});

test('listWorkflows pages with a total; deleteWorkflow removes everything of that workflow only', async (t) => {
  const store = await openTempStore(t);
  const a = await store.createWorkflowFromPlan(richPlan());
  const b = await store.createWorkflowFromPlan(richPlan());
  await store.initializeJobs(a.id);
  const node = await store.registerComputeNode(a.id, {
    hostname: 'h', pid: 1, num_cpus: 1, memory_gb: 1, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 'local', lease_seconds: 5,
  });
  const [job] = (await store.claimNextJobs(a.id, 1, node.id)).jobs;
  await store.startJob(job!.id, 1, node.id);
  await store.completeJob(job!.id, 'completed', 1, { return_code: 0, exec_time_minutes: 0, completion_time: 'x' });
  await store.appendEvent(a.id, 'note', { hello: 1 });

  const page = await store.listWorkflows({ offset: 1, limit: 1 });
  t.is(page.total, 2);
  t.deepEqual(page.items.map((w) => w.id), [b.id]);

  await store.deleteWorkflow(a.id);
  await t.throwsAsync(() => store.getWorkflow(a.id), { instanceOf: NotFoundError });
  await t.throwsAsync(() => store.deleteWorkflow(a.id), { instanceOf: NotFoundError });
  for (const table of ['jobs', 'results', 'events', 'compute_nodes', 'files', 'user_data', 'actions', 'claim_classes', 'resource_requirements', 'slurm_schedulers', 'failure_handlers']) {
    const left = await store.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE workflow_id = ?`, [a.id]);
    t.is(left!.n, 0, table);
  }
  // Link tables keep only b's rows (one dependency, one input file).
  t.is((await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM job_dependencies'))!.n, 1);
  t.is((await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM job_input_files'))!.n, 1);
  t.is((await store.listJobs(b.id)).total, 2);
  t.is((await store.listResults(b.id)).total, 0);
  // New rows never reuse the deleted workflow's ids.
  const c = await store.createWorkflowFromPlan(richPlan());
  t.true(c.id > b.id);
  t.true((await store.listJobs(c.id)).items[0]!.id > (await store.listJobs(b.id)).items[1]!.id);
});

test('a plan with out-of-range indices or a cycle is refused, naming the field, and stores nothing', async (t) => {
  const store = await openTempStore(t);
  const bad = makePlan({ jobs: [{ name: 'a' }, { name: 'b' }] });
  bad.jobs[1]!.resource_class = 7;
  const err = await t.throwsAsync(() => store.createWorkflowFromPlan(bad), { instanceOf: InputError });
  t.is(err.field, 'plan.jobs[1].resource_class');

  const cyclic = makePlan({ jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }] });
  cyclic.dep_offsets = Uint32Array.from([0, 1, 2]);
  cyclic.dep_targets = Uint32Array.from([1, 0]);
  const cyc = await t.throwsAsync(() => store.createWorkflowFromPlan(cyclic), { instanceOf: InputError });
  t.regex(cyc.message, /cycle/);
  t.is((await store.listWorkflows()).total, 0);
});

test('100k jobs: create and initialize in one go', async (t) => {
  const store = await openTempStore(t);
  const wf = await store.createWorkflowFromPlan(bigPlan(100_000, { classes: 4, chainEvery: 2 }));
  const init = await store.initializeJobs(wf.id);
  // Every even job after the first waits for the one before it.
  t.deepEqual(init, { ready: 50_001, blocked: 49_999, canceled: 0 });
  const status = await store.getStatus(wf.id);
  t.like(status.counts, { ready: 50_001, blocked: 49_999 });
  const last = await store.listJobs(wf.id, { name: 'job_99999' });
  t.is(last.items[0]!.command, 'echo 99999');
  t.is((await store.listJobBlockers(last.items[0]!.id)).length, 0);
  const chained = await store.listJobs(wf.id, { name: 'job_99998' });
  t.deepEqual(await store.listJobBlockers(chained.items[0]!.id), [chained.items[0]!.id - 1]);
});
