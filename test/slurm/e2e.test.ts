/**
 * End to end on the real Slurm that ../shared/slurm/start-slurm.sh starts (one node, 8 CPUs,
 * 2 fake GPUs as gres; or several such nodes): a real API server (on 127.0.0.1, or on the
 * nodes' bridge when there are several: slurmApiHost), the real `torc` binary
 * (`torc slurm schedule-nodes`, and `torc worker` inside each allocation), real sbatch/squeue/
 * scancel. Skipped, loudly, when Slurm is not available (see test/support/slurm.ts).
 *
 * Jobs write what they saw (SLURM_JOB_ID, CUDA_VISIBLE_DEVICES, attempt) into
 * `<dir>/seen/<TORC_JOB_ID>.<attempt>`, so the tests check where each job really ran.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { refreshAllocations } from '../../src/runners/slurm/scheduler.js';
import { JobStatus } from '../../src/contract/status.js';
import { waitFor } from '../support/procs.js';
import { slurmTest } from '../support/slurm.js';
import { harness } from '../support/slurm-harness.js';

const slurm = slurmTest('test/slurm/e2e.test.ts');
const commands = new SlurmCommands();

/** Records SLURM_JOB_ID, the GPUs a job saw and those of its allocation, per attempt. */
// No braces: job commands are parameter templates ({i}).
const RECORD = 'echo "$SLURM_JOB_ID gpus=$CUDA_VISIBLE_DEVICES allocation=$SLURM_JOB_GPUS" > @DIR@/seen/$TORC_JOB_ID.$TORC_ATTEMPT';

slurm('30 jobs over two schedulers (one with gres gpu:1) complete through sbatch, each in an allocation of its own scheduler', async (t) => {
  t.timeout(300_000);
  const h = await harness(
    t,
    `
name: slurm-two-schedulers
compute_node_wait_for_new_jobs_seconds: 5
compute_node_expiration_buffer_seconds: 10
resource_requirements:
  - {name: cpu_small, num_cpus: 1, memory: 20m, runtime: PT1M}
  - {name: gpu_small, num_cpus: 1, num_gpus: 1, memory: 20m, runtime: PT1M}
slurm_schedulers:
  - {name: cpu, walltime: "00:05:00", mem: 300M, ntasks_per_node: 2}
  - {name: gpu, walltime: "00:05:00", mem: 300M, gres: "gpu:1"}
jobs:
  - name: cpu_{i}
    command: '${RECORD}'
    resource_requirements: cpu_small
    scheduler: cpu
    parameters: {i: "1:20"}
  - name: gpu_{i}
    command: '${RECORD}'
    resource_requirements: gpu_small
    scheduler: gpu
    parameters: {i: "1:10"}
`,
  );
  const cpu = await h.scheduleNodes('cpu', 2);
  const gpu = await h.scheduleNodes('gpu', 1);
  t.is(cpu.allocations.length, 2);
  t.regex(await readFile(gpu.script, 'utf8'), /^#SBATCH --gres=gpu:1$/m);

  await waitFor(async () => (await h.store.getStatus(h.workflowId)).is_complete, 240_000, 'the workflow to complete').catch(async (e) => {
    t.log(await h.slurmLogs());
    throw e;
  });
  const status = await h.store.getStatus(h.workflowId);
  t.is(status.counts.completed, 30, JSON.stringify(status.counts));

  const allocations = await h.registry.listAllocations(h.workflowId);
  const idsOf = (name: string) => new Set(allocations.filter((a) => a.scheduler_config_id === h.schedulers.get(name)!.id).map((a) => a.slurm_job_id));
  const jobs = (await h.store.listJobs(h.workflowId, { limit: 100 })).items;
  const seen = await h.seen();
  t.is(seen.length, 30, 'every job ran exactly once');
  for (const job of jobs) {
    const s = seen.find((x) => x.job_id === job.id)!;
    const own = job.name.startsWith('gpu_') ? 'gpu' : 'cpu';
    t.true(idsOf(own).has(s.slurm_job_id), `${job.name} ran in Slurm job ${s.slurm_job_id}, not one of its scheduler's ${[...idsOf(own)]}`);
    if (own === 'gpu') {
      // Slurm hands out the real device index (no cgroup remap): with another job holding GPU 0
      // on the node, the allocation gets GPU 1. The job must see exactly its allocation's one GPU.
      const allocationGpus = s.allocation_gpus.split(',');
      t.is(allocationGpus.length, 1, `a gres gpu:1 allocation has one GPU (SLURM_JOB_GPUS=${s.allocation_gpus})`);
      t.is(s.gpus, allocationGpus[0], `${job.name} sees the allocation's GPU`);
    }
  }
  // The workers leave once the workflow is complete: the allocations end on their own.
  await waitFor(async () => (await refreshAllocations(h.registry, commands, h.workflowId)).open.length === 0, 60_000, 'the allocations to end');
  t.true((await h.registry.listAllocations(h.workflowId)).every((a) => a.ended && a.state === 'COMPLETED'));
});

slurm('an allocation with a 1-minute walltime never starts a 5-minute job, and the dispatch does not chase it', async (t) => {
  t.timeout(240_000);
  const h = await harness(
    t,
    `
name: slurm-short-walltime
compute_node_wait_for_new_jobs_seconds: 3
compute_node_expiration_buffer_seconds: 5
resource_requirements:
  - {name: quick, num_cpus: 1, memory: 10m, runtime: PT10S}
  - {name: five_minutes, num_cpus: 1, memory: 10m, runtime: PT5M}
slurm_schedulers:
  - {name: short, walltime: "00:01:00", mem: 200M, ntasks_per_node: 2}
jobs:
  - {name: long, command: '${RECORD}', resource_requirements: five_minutes, scheduler: short}
  - name: quick_{i}
    command: '${RECORD}'
    resource_requirements: quick
    scheduler: short
    parameters: {i: "1:3"}
`,
  );
  const [alloc] = (await h.scheduleNodes('short', 1)).allocations;
  await waitFor(async () => (await h.store.getStatus(h.workflowId)).counts.completed === 3, 120_000, 'the quick jobs').catch(async (e) => {
    t.log(await h.slurmLogs());
    throw e;
  });
  // The worker finds nothing it may claim and leaves after compute_node_wait_for_new_jobs_seconds.
  await waitFor(async () => (await refreshAllocations(h.registry, commands, h.workflowId)).open.length === 0, 90_000, 'the allocation to end');
  const long = await h.statusOf('long');
  t.is(long.status, 'ready', 'the 5-minute job is still ready');
  t.is(long.attempt_id, 1, 'and was never claimed');
  t.false((await h.seen()).some((s) => s.job_id === long.id), 'it never ran');
  t.true((await h.seen()).every((s) => s.slurm_job_id === alloc!.slurm_job_id));
  t.regex(await h.slurmLogs(), /stopped \(idle\)/);

  // No allocation can ever run it, so the dispatch submits none for it.
  const outcome = await h.dispatcher(2).pass();
  t.deepEqual(outcome.submitted, []);
});

slurm('scancel of an allocation mid-run: its jobs return to ready and finish in another allocation', async (t) => {
  t.timeout(300_000);
  const h = await harness(
    t,
    `
name: slurm-scancel
compute_node_wait_for_new_jobs_seconds: 5
compute_node_expiration_buffer_seconds: 5
resource_requirements:
  - {name: one, num_cpus: 1, memory: 10m, runtime: PT2M}
slurm_schedulers:
  - {name: batch, walltime: "00:05:00", mem: 200M, ntasks_per_node: 2}
jobs:
  # The first attempt hangs until its allocation is cancelled; a retry finishes at once.
  - name: job_{i}
    command: '${RECORD}; if [ "$TORC_ATTEMPT" = 1 ]; then sleep 120; fi'
    resource_requirements: one
    scheduler: batch
    parameters: {i: "1:2"}
`,
  );
  const [first] = (await h.scheduleNodes('batch', 1)).allocations;
  await waitFor(async () => (await h.store.getStatus(h.workflowId)).counts.running === 2, 120_000, 'both jobs running').catch(async (e) => {
    t.log(await h.slurmLogs());
    throw e;
  });
  await commands.cancel(first!.slurm_job_id);
  await waitFor(async () => (await h.store.getStatus(h.workflowId)).counts.ready === 2, 60_000, 'the jobs back to ready').catch(async (e) => {
    t.log(JSON.stringify((await h.store.getStatus(h.workflowId)).counts));
    t.log(await h.slurmLogs());
    throw e;
  });
  for (const name of ['job_1', 'job_2']) {
    const job = await h.statusOf(name);
    t.is(job.status, 'ready', `${name} is ready again, not failed`);
    t.is(job.attempt_id, 2);
  }
  t.is((await h.store.listResults(h.workflowId)).total, 0, 'nothing was reported as finished');

  // The reconciler's dispatch pass notices the cancelled allocation and submits a replacement.
  await waitFor(async () => isEnded(await commands.showJob(first!.slurm_job_id)), 60_000, 'Slurm to end the allocation');
  const notices: string[] = [];
  const outcome = await h.dispatcher(1, notices).pass();
  t.true(notices.some((n) => n.startsWith(`Slurm allocation ${first!.slurm_job_id} ended (CANCELLED)`)), notices.join('\n'));
  t.deepEqual(outcome.ended.map((e) => [e.allocation.slurm_job_id, e.state]), [[first!.slurm_job_id, 'CANCELLED']]);
  t.is(outcome.submitted.length, 1);
  const second = outcome.submitted[0]!.slurm_job_id;

  await waitFor(async () => (await h.store.getStatus(h.workflowId)).is_complete, 120_000, 'the workflow to complete').catch(async (e) => {
    t.log(await h.slurmLogs());
    throw e;
  });
  t.is((await h.store.getStatus(h.workflowId)).counts.completed, 2);
  const seen = await h.seen();
  for (const s of seen) t.is(s.slurm_job_id, s.attempt === 1 ? first!.slurm_job_id : second, `job ${s.job_id} attempt ${s.attempt}`);
  t.is(seen.filter((s) => s.attempt === 2).length, 2, 'both finished in the second allocation');
});

function isEnded(job: Awaited<ReturnType<SlurmCommands['showJob']>>): boolean {
  return job !== null && ['CANCELLED', 'COMPLETED', 'FAILED', 'TIMEOUT'].includes(job.state);
}

slurm('--start-one-worker-per-node: the worker runs through srun in a job step and serves its node', async (t) => {
  t.timeout(240_000);
  const h = await harness(
    t,
    `
name: slurm-per-node
compute_node_wait_for_new_jobs_seconds: 3
compute_node_expiration_buffer_seconds: 5
resource_requirements:
  - {name: one, num_cpus: 1, memory: 10m, runtime: PT1M}
slurm_schedulers:
  - {name: nodes, walltime: "00:03:00", mem: 200M, ntasks_per_node: 2}
jobs:
  - name: job_{i}
    command: '${RECORD}; echo "$SLURM_STEP_ID" > @DIR@/step.$TORC_JOB_ID'
    resource_requirements: one
    scheduler: nodes
    parameters: {i: "1:4"}
`,
  );
  const { script, allocations } = await h.scheduleNodes('nodes', 1, ['--start-one-worker-per-node', '--max-parallel-jobs', '2']);
  t.regex(await readFile(script, 'utf8'), /^  srun --nodes=1 --ntasks=1 --nodelist="\$node" .* worker \d+ .*--max-parallel-jobs 2 &$/m);
  await waitFor(async () => (await h.store.getStatus(h.workflowId)).is_complete, 120_000, 'the workflow to complete').catch(async (e) => {
    t.log(await h.slurmLogs());
    throw e;
  });
  t.is((await h.store.getStatus(h.workflowId)).counts.completed, 4);
  const seen = await h.seen();
  t.is(seen.length, 4);
  t.true(seen.every((s) => s.slurm_job_id === allocations[0]!.slurm_job_id));
  for (const s of seen) t.is((await readFile(path.join(h.dir, `step.${s.job_id}`), 'utf8')).trim(), '0', 'jobs ran inside the srun step');
  t.regex(await h.slurmLogs(), /\(one worker per node\)/);
});
