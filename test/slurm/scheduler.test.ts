/**
 * Submitting and tracking allocations: scheduleNodes and the dispatch step over a real SQLite
 * store (SlurmAllocationStore), with a recorded Slurm in place of the commands: a small fake
 * sbatch/squeue/scontrol/scancel keeping its queue in a JSON file (test/support/fake-slurm.ts).
 */
import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  cancelAllocations,
  dispatchSlurm,
  PartialSubmissionError,
  refreshAllocations,
  scheduleNodes,
  servableReadyCounts,
  type SchedulerEntry,
} from '../../src/runners/slurm/scheduler.js';
import { SlurmDispatcher } from '../../src/reconciler/slurm-dispatch.js';
import { SlurmAllocationStore } from '../../src/store/slurm-allocations.js';
import { makePlan, slurmScheduler } from '../support/plans.js';
import { openTempStore } from '../support/store.js';
import { fakeSlurm } from '../support/fake-slurm.js';

async function setup(t: ExecutionContext) {
  const store = await openTempStore(t);
  const plan = makePlan({
    schedulers: ['cpu', 'gpu'],
    classes: [{ name: 'short', runtime_seconds: 60 }, { name: 'long', runtime_seconds: 5 * 3600 }],
    jobs: [
      ...Array.from({ length: 3 }, (_, i) => ({ name: `c${i}`, scheduler: 'cpu', rc: 'short' })),
      { name: 'g0', scheduler: 'gpu', rc: 'short' },
      { name: 'free', rc: 'short' },
      { name: 'too_long', scheduler: 'cpu', rc: 'long' },
    ],
  });
  plan.slurm_schedulers[1]!.gres = 'gpu:1';
  const wf = await store.createWorkflowFromPlan(plan);
  await store.initializeJobs(wf.id);
  const records = await store.listSlurmSchedulers(wf.id);
  const schedulers: SchedulerEntry[] = records.map((r) => ({ id: r.id, scheduler: { ...slurmScheduler(r.name), ...r } }));
  const registry = new SlurmAllocationStore(store);
  const slurm = await fakeSlurm(t);
  const launch = { url: 'http://127.0.0.1:9/torc-service/v1', outputDir: path.join(slurm.dir, 'out'), torcCommand: ['node', '/opt/torc/bin/torc.js'] };
  return { store, wf, schedulers, registry, slurm, launch };
}

test('scheduleNodes writes one script, submits it K times and records every allocation', async (t) => {
  const { wf, schedulers, registry, slurm, launch } = await setup(t);
  const gpu = schedulers[1]!;
  const res = await scheduleNodes(registry, slurm.commands, { workflowId: wf.id, scheduler: gpu, count: 3, launch: { ...launch, maxParallelJobs: 2 } });
  t.deepEqual(res.allocations.map((a) => a.slurm_job_id), ['100', '101', '102']);
  t.true(res.allocations.every((a) => a.scheduler_config_id === gpu.id && a.state === 'SUBMITTED' && !a.ended));
  const script = await readFile(res.scriptPath, 'utf8');
  t.regex(script, /^#SBATCH --gres=gpu:1$/m);
  t.regex(script, new RegExp(`worker ${wf.id} --url .* --scheduler-config-id ${gpu.id} .*--max-parallel-jobs 2$`, 'm'));
  t.is((await slurm.read()).scripts.length, 3);
  t.deepEqual((await registry.listOpenAllocations(wf.id)).map((a) => a.slurm_job_id), ['100', '101', '102']);
});

test('a failing sbatch half-way keeps the allocations already accepted', async (t) => {
  const { wf, schedulers, registry, slurm, launch } = await setup(t);
  await slurm.edit((q) => (q.failAfter = 2));
  const err = await t.throwsAsync(scheduleNodes(registry, slurm.commands, { workflowId: wf.id, scheduler: schedulers[0]!, count: 4, launch }), {
    instanceOf: PartialSubmissionError,
  });
  t.regex(err!.message, /submitted 2 allocation\(s\), then sbatch failed: .*QOSMaxSubmitJobPerUserLimit/);
  t.is((await registry.listOpenAllocations(wf.id)).length, 2);
  await t.throwsAsync(scheduleNodes(registry, slurm.commands, { workflowId: wf.id, scheduler: schedulers[0]!, count: 0, launch }), {
    message: /--num-hpc-jobs: expected a whole number ≥ 1/,
  });
});

test('ready counts: bound jobs to their scheduler, unbound to the first that fits, unrunnable jobs nowhere', async (t) => {
  const { wf, schedulers, registry } = await setup(t);
  const classes = await registry.readyClassCounts(wf.id);
  const counts = servableReadyCounts(classes, schedulers, 120);
  const [cpu, gpu] = schedulers;
  t.is(counts.get(cpu!.id), 3 + 1, 'three cpu jobs and the unbound one; the 5-hour job fits no 1-hour allocation');
  t.is(counts.get(gpu!.id), 1);
  const shortWalltime = schedulers.map((s) => ({ ...s, scheduler: { ...s.scheduler, walltime: '00:01:00' } }));
  t.deepEqual([...servableReadyCounts(classes, shortWalltime, 0).values()], [4, 1], 'a 60 s job fits a 1-minute allocation without buffer');
  t.deepEqual([...servableReadyCounts(classes, shortWalltime, 30).values()], [0, 0], 'but not once the buffer is taken off');
});

test('dispatch keeps min(bound, ready) allocations per scheduler and submits nothing more while they are open', async (t) => {
  const { wf, schedulers, registry, slurm, launch } = await setup(t);
  const [cpu, gpu] = schedulers;
  const ready = new Map([
    [cpu!.id, 4],
    [gpu!.id, 1],
  ]);
  const first = await dispatchSlurm(registry, slurm.commands, { workflowId: wf.id, schedulers, ready, policy: { maxAllocationsPerScheduler: 2 }, launch });
  t.is(first.submitted.filter((a) => a.scheduler_config_id === cpu!.id).length, 2);
  t.is(first.submitted.filter((a) => a.scheduler_config_id === gpu!.id).length, 1);
  const again = await dispatchSlurm(registry, slurm.commands, { workflowId: wf.id, schedulers, ready, policy: { maxAllocationsPerScheduler: 2 }, launch });
  t.is(again.submitted.length, 0, 'open allocations are counted, not resubmitted');
  t.deepEqual([...again.open.values()], [2, 1]);
  const perAlloc = await dispatchSlurm(registry, slurm.commands, {
    workflowId: wf.id,
    schedulers,
    ready: new Map([[cpu!.id, 40]]),
    policy: { maxAllocationsPerScheduler: 10, jobsPerAllocation: 10 },
    launch,
  });
  t.is(perAlloc.submitted.length, 2, '⌈40 / 10⌉ = 4 wanted, 2 already open');
});

test('an allocation that ended is noticed, recorded, its orphaned jobs requeued, and a replacement submitted', async (t) => {
  const { store, wf, schedulers, registry, slurm, launch } = await setup(t);
  const cpu = schedulers[0]!;
  const policy = { maxAllocationsPerScheduler: 1 };
  const first = await dispatchSlurm(registry, slurm.commands, { workflowId: wf.id, schedulers: [cpu], ready: new Map([[cpu.id, 3]]), policy, launch });
  const slurmJobId = first.submitted[0]!.slurm_job_id;
  await slurm.edit((q) => (q.jobs[slurmJobId] = 'RUNNING'));

  // The allocation's worker registered a compute node and runs two jobs.
  const node = await store.registerComputeNode(wf.id, {
    hostname: 'vm', pid: 1, num_cpus: 8, memory_gb: 16, num_gpus: 0, num_nodes: 1,
    scheduler_config_id: cpu.id, compute_node_type: 'slurm', lease_seconds: 3600, scheduler_job_id: slurmJobId,
  });
  t.is(node.scheduler_job_id, slurmJobId);
  const other = await store.registerComputeNode(wf.id, {
    hostname: 'vm', pid: 2, num_cpus: 8, memory_gb: 16, num_gpus: 0, num_nodes: 1,
    scheduler_config_id: cpu.id, compute_node_type: 'slurm', lease_seconds: 3600, scheduler_job_id: '999',
  });
  const capacity = { nodes: [{ name: 'vm', num_cpus: 2, memory_bytes: 1024 ** 3, num_gpus: 0 }], time_limit_seconds: 600, scheduler_config_id: cpu.id };
  const claim = await store.claimJobsBasedOnResources(wf.id, { capacity, limit: 2, strict_scheduler_match: true, compute_node_id: node.id });
  t.is(claim.jobs.length, 2);
  const progress = await store.getStatus(wf.id);
  await store.startJob(claim.jobs[0]!.id, progress.run_id, node.id);
  const mine = await store.claimJobsBasedOnResources(wf.id, { capacity, limit: 1, strict_scheduler_match: true, compute_node_id: other.id });
  t.is(mine.jobs.length, 1);

  const running = await dispatchSlurm(registry, slurm.commands, { workflowId: wf.id, schedulers: [cpu], ready: new Map([[cpu.id, 1]]), policy, launch });
  t.deepEqual(running.ended, []);
  t.is((await registry.get(first.submitted[0]!.id)).state, 'RUNNING', 'the state seen is recorded');

  await slurm.edit((q) => (q.jobs[slurmJobId] = 'CANCELLED'));
  const after = await dispatchSlurm(registry, slurm.commands, { workflowId: wf.id, schedulers: [cpu], ready: new Map([[cpu.id, 3]]), policy, launch });
  t.is(after.ended.length, 1);
  t.like(after.ended[0], { state: 'CANCELLED', requeued_jobs: 2 });
  t.like(await registry.get(first.submitted[0]!.id), { state: 'CANCELLED', ended: true });
  for (const j of claim.jobs) {
    const job = await store.getJob(j.id);
    t.is(job.status, 'ready', `job ${j.id} back to ready`);
    t.is(job.attempt_id, 2);
  }
  t.is((await store.getJob(mine.jobs[0]!.id)).status, 'pending', "another allocation's job is left alone");
  t.false((await store.getComputeNode(node.id)).is_active);
  t.is(after.submitted.length, 1, 'a replacement allocation is submitted');
});

test('an allocation Slurm no longer knows at all counts as ended (GONE)', async (t) => {
  const { wf, schedulers, registry, slurm, launch } = await setup(t);
  const res = await scheduleNodes(registry, slurm.commands, { workflowId: wf.id, scheduler: schedulers[0]!, count: 1, launch });
  await slurm.edit((q) => delete q.jobs[res.allocations[0]!.slurm_job_id]);
  const { ended, open } = await refreshAllocations(registry, slurm.commands, wf.id);
  t.deepEqual(ended.map((e) => e.state), ['GONE']);
  t.deepEqual(open, []);
});

test('cancelAllocations scancels every open allocation', async (t) => {
  const { wf, schedulers, registry, slurm, launch } = await setup(t);
  await scheduleNodes(registry, slurm.commands, { workflowId: wf.id, scheduler: schedulers[0]!, count: 2, launch });
  t.is(await cancelAllocations(registry, slurm.commands, wf.id), 2);
  t.deepEqual((await slurm.read()).cancelled, ['100', '101']);
  const { ended } = await refreshAllocations(registry, slurm.commands, wf.id);
  t.deepEqual(ended.map((e) => e.state), ['CANCELLED', 'CANCELLED']);
});

test('the registry refuses a scheduler of another workflow and a malformed Slurm id', async (t) => {
  const { wf, schedulers, registry } = await setup(t);
  await t.throwsAsync(registry.recordAllocation({ workflow_id: wf.id + 1, scheduler_config_id: schedulers[0]!.id, slurm_job_id: '5', state: 'SUBMITTED' }), {
    message: /not found/,
  });
  await t.throwsAsync(registry.recordAllocation({ workflow_id: wf.id, scheduler_config_id: schedulers[0]!.id, slurm_job_id: '5; rm', state: 'SUBMITTED' }), {
    message: /slurm_job_id/,
  });
});

test('SlurmDispatcher pass: reads schedulers and ready jobs from the store, submits for servable work, nothing once canceled', async (t) => {
  const { store, wf, schedulers, slurm, launch } = await setup(t);
  const notices: string[] = [];
  const dispatcher = new SlurmDispatcher({ store, workflowId: wf.id, policy: { maxAllocationsPerScheduler: 3 }, launch, commands: slurm.commands, onNotice: (m) => notices.push(m) });
  const first = await dispatcher.pass();
  const [cpu, gpu] = schedulers;
  // cpu: three bound short jobs + the unbound one (the 5-hour job fits no allocation) → bounded at 3; gpu: one job.
  t.is(first.submitted.filter((a) => a.scheduler_config_id === cpu!.id).length, 3);
  t.is(first.submitted.filter((a) => a.scheduler_config_id === gpu!.id).length, 1);
  t.regex(notices.join('\n'), /submitted Slurm allocation\(s\) 100, 101, 102, 103/);
  t.is((await dispatcher.pass()).submitted.length, 0, 'idempotent: the open allocations cover the work');

  await slurm.edit((q) => (q.jobs['100'] = 'TIMEOUT'));
  await store.cancelWorkflow(wf.id);
  const canceled = await dispatcher.pass();
  t.deepEqual(canceled.submitted, [], 'a canceled workflow gets no new allocation');
  t.deepEqual(canceled.ended.map((e) => e.state), ['TIMEOUT'], 'but ended allocations are still noticed');
  t.is(await dispatcher.cancelAll(), 3);
  t.deepEqual((await slurm.read()).cancelled, ['101', '102', '103']);
});

test('a node Slurm took out of a running allocation (--no-kill): only the workers registered there are retired, only their jobs requeued', async (t) => {
  const { store, wf, schedulers, registry, slurm, launch } = await setup(t);
  const cpu = schedulers[0]!;
  const first = await dispatchSlurm(registry, slurm.commands, { workflowId: wf.id, schedulers: [cpu], ready: new Map([[cpu.id, 3]]), policy: { maxAllocationsPerScheduler: 1 }, launch });
  const slurmJobId = first.submitted[0]!.slurm_job_id;
  const register = (hostname: string, pid: number) =>
    store.registerComputeNode(wf.id, {
      hostname, pid, num_cpus: 8, memory_gb: 16, num_gpus: 0, num_nodes: 1,
      scheduler_config_id: cpu.id, compute_node_type: 'slurm', lease_seconds: 3600, scheduler_job_id: slurmJobId,
    });
  const onVm = await register('vm', 1);
  const onN2 = await register('vm-n2', 2);
  const capacity = { nodes: [{ name: 'n', num_cpus: 1, memory_bytes: 1024 ** 3, num_gpus: 0 }], time_limit_seconds: 600, scheduler_config_id: cpu.id };
  const vmJob = (await store.claimJobsBasedOnResources(wf.id, { capacity, limit: 1, strict_scheduler_match: true, compute_node_id: onVm.id })).jobs[0]!;
  const n2Job = (await store.claimJobsBasedOnResources(wf.id, { capacity, limit: 1, strict_scheduler_match: true, compute_node_id: onN2.id })).jobs[0]!;

  // Pending (no nodes yet), then running on both nodes: nothing is retired.
  t.deepEqual((await refreshAllocations(registry, slurm.commands, wf.id)).lostNodes, []);
  await slurm.edit((q) => {
    q.jobs[slurmJobId] = 'RUNNING';
    q.nodes = { [slurmJobId]: 'vm,vm-n2' };
  });
  t.deepEqual((await refreshAllocations(registry, slurm.commands, wf.id)).lostNodes, []);

  // vm-n2 failed: Slurm's node list of the allocation is now vm only.
  await slurm.edit((q) => (q.nodes = { [slurmJobId]: 'vm' }));
  const { lostNodes, ended, open } = await refreshAllocations(registry, slurm.commands, wf.id);
  t.deepEqual(ended, []);
  t.is(open.length, 1, 'the allocation runs on');
  t.deepEqual(lostNodes.map((l) => [l.allocation.slurm_job_id, l.nodes, l.requeued_jobs]), [[slurmJobId, ['vm-n2'], 1]]);
  t.like(await store.getJob(n2Job.id), { status: 'ready', attempt_id: 2 });
  t.like(await store.getJob(vmJob.id), { status: 'pending', attempt_id: 1 });
  t.false((await store.getComputeNode(onN2.id)).is_active);
  t.true((await store.getComputeNode(onVm.id)).is_active);
  t.deepEqual((await refreshAllocations(registry, slurm.commands, wf.id)).lostNodes, [], 'retired once');
});
