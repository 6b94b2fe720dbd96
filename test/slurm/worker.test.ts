/**
 * The Slurm worker without Slurm: the real local runner loop and real job processes, an
 * allocation described by SLURM_* variables, a recorded squeue for its end time, and the
 * in-memory RunnerClient (test/support/memory-client.ts) for the server.
 */
import test, { type ExecutionContext } from 'ava';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { AllocationClient, createSlurmWorker, type WorkerSettings } from '../../src/runners/slurm/worker.js';
import { JobStatus } from '../../src/contract/status.js';
import { MemoryRunnerClient } from '../support/memory-client.js';
import { tempDir, waitFor } from '../support/procs.js';

const MIB = 1024 ** 2;

const SETTINGS: WorkerSettings = {
  compute_node_expiration_buffer_seconds: 10,
  compute_node_wait_for_new_jobs_seconds: 0,
  compute_node_ignore_workflow_completion: false,
  jobs_sort_method: 'none',
};

/** An allocation of 2 CPUs, 512 MiB and one gres GPU, whose squeue says `timeLeft` remains. */
async function allocation(t: ExecutionContext, timeLeft: string) {
  const dir = await tempDir('torc-slurm-worker-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const squeue = path.join(dir, 'squeue');
  await writeFile(squeue, `#!/bin/bash\necho "4242|RUNNING|N/A|${timeLeft}|None"\n`);
  await chmod(squeue, 0o755);
  const env = {
    SLURM_JOB_ID: '4242',
    SLURMD_NODENAME: 'cn7',
    SLURM_JOB_NODELIST: 'cn7',
    SLURM_JOB_NUM_NODES: '1',
    SLURM_CPUS_ON_NODE: '2',
    SLURM_MEM_PER_NODE: '512',
    SLURM_GPUS_ON_NODE: '1',
  };
  return { dir, env, commands: new SlurmCommands({ paths: { squeue } }) };
}

test('claims with the allocation: its resources, its scheduler first, and registers as a Slurm node of that allocation', async (t) => {
  const { dir, env, commands } = await allocation(t, '30:00');
  const client = new MemoryRunnerClient();
  const [own, other, unbound, gpu] = client.addJobs([
    { name: 'own', command: 'true', scheduler_id: 1, resources: { runtime_seconds: 60 } },
    { name: 'other', command: 'true', scheduler_id: 2, resources: { runtime_seconds: 60 } },
    { name: 'unbound', command: 'true', resources: { runtime_seconds: 60 } },
    { name: 'gpu', command: 'test "$CUDA_VISIBLE_DEVICES" = 0', scheduler_id: 1, resources: { num_gpus: 1, runtime_seconds: 60 } },
  ]);
  const worker = await createSlurmWorker({
    client, commands, workflowId: 1, settings: SETTINGS, schedulerConfigId: 1, outputDir: dir, apiUrl: 'http://127.0.0.1:1', env,
    handleSignals: false, pollIntervalSeconds: 0.2,
  });
  t.like(worker.allocation, { jobId: '4242', nodes: ['cn7'], cpusPerNode: [2], memoryBytesPerNode: 512 * MIB, gpusPerNode: 1 });
  const summary = await worker.run();
  t.is(summary.reason, 'idle');
  for (const job of [own!, unbound!, gpu!]) t.is(client.job(job.id).status, 'completed', job.name);
  t.is(client.job(other!.id).status, 'ready', "another scheduler's job is never taken");
  const node = client.node(summary.compute_node_id!);
  t.like(node, { hostname: 'cn7', num_cpus: 2, num_gpus: 1, scheduler_config_id: 1, compute_node_type: 'slurm', scheduler_job_id: '4242', active: false });
  t.is(node.memory_gb, 0.5);
});

test('never claims a job whose runtime exceeds the walltime left minus the buffer', async (t) => {
  // 40 s left − 10 s buffer = 30 s for new jobs.
  const { dir, env, commands } = await allocation(t, '0:40');
  const client = new MemoryRunnerClient();
  const [fits, tooLong] = client.addJobs([
    { name: 'fits', command: 'true', resources: { runtime_seconds: 20 } },
    { name: 'too_long', command: 'true', resources: { runtime_seconds: 35 } },
  ]);
  const worker = await createSlurmWorker({
    client, commands, workflowId: 1, settings: SETTINGS, schedulerConfigId: null, outputDir: dir, apiUrl: 'http://127.0.0.1:1', env,
    handleSignals: false, pollIntervalSeconds: 0.2,
  });
  t.truthy(worker.endTime);
  await worker.run();
  t.is(client.job(fits!.id).status, 'completed');
  t.is(client.job(tooLong!.id).status, 'ready');
  t.is(client.starts.get(tooLong!.id), undefined, 'never started');
});

test('stop (the allocation ending) terminates running jobs and leaves them for requeue, never failed', async (t) => {
  const { dir, env, commands } = await allocation(t, '30:00');
  const client = new MemoryRunnerClient();
  const [slow] = client.addJobs([{ name: 'slow', command: 'sleep 60', resources: { runtime_seconds: 120 } }]);
  const worker = await createSlurmWorker({
    client, commands, workflowId: 1, settings: { ...SETTINGS, compute_node_wait_for_new_jobs_seconds: 60 }, schedulerConfigId: null,
    outputDir: dir, apiUrl: 'http://127.0.0.1:1', env, handleSignals: false, pollIntervalSeconds: 0.2,
  });
  const run = worker.run();
  await waitFor(() => client.job(slow!.id).status === 'running', 30_000, 'the job to run');
  await worker.stop();
  const summary = await run;
  t.is(summary.reason, 'stopped');
  const job = client.job(slow!.id);
  t.is(job.status, 'ready', 'back to ready');
  t.is(job.attempt_id, 2);
  t.deepEqual(client.completions, [], 'nothing reported');
});

test('AllocationClient: a signal-killed job is held back when the allocation turns out to be ending, reported otherwise', async (t) => {
  const inner = new MemoryRunnerClient();
  const jobs = inner.addJobs([
    { name: 'a', command: 'x' },
    { name: 'b', command: 'x' },
    { name: 'c', command: 'x' },
    { name: 'd', command: 'x' },
  ]);
  const allocation = new AllocationClient(inner, '77', 300);
  const client = allocation.client;
  const node = await client.registerComputeNode(1, {
    hostname: 'h', pid: 1, num_cpus: 4, memory_gb: 1, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 'slurm', lease_seconds: 60,
  });
  t.is(inner.node(node.id).scheduler_job_id, '77');
  await client.claimNextJobs(1, 4, node.id);
  for (const j of jobs) await client.startJob(j.id, 1, node.id);
  const result = (rc: number) => ({ return_code: rc, exec_time_minutes: 0, completion_time: new Date().toISOString() });

  // Exit 143 with no stop known: held for the hold time, then reported as it is.
  await client.completeJob(jobs[0]!.id, 'failed', 1, result(143));
  t.is(inner.job(jobs[0]!.id).status, 'failed');
  // An ordinary failure is reported at once.
  await client.completeJob(jobs[1]!.id, 'failed', 1, result(1));
  t.is(inner.job(jobs[1]!.id).status, 'failed');
  // Exit 143 and the SIGTERM arrives during the hold: held back.
  const pending = client.completeJob(jobs[2]!.id, 'failed', 1, result(143));
  allocation.markEnding();
  await pending;
  t.is(inner.job(jobs[2]!.id).status, 'running');
  // Success is always reported, even while ending.
  await client.completeJob(jobs[3]!.id, 'completed', 1, result(0));
  t.is(inner.job(jobs[3]!.id).status, 'completed');
  t.deepEqual([...allocation.withheld.keys()], [jobs[2]!.id]);
  t.is((await client.getProgress(1)).counts.running, 1, 'other methods pass through');
  await client.deactivateComputeNode(node.id);
  t.is(inner.job(jobs[2]!.id).status, 'ready', 'deactivation requeues the held-back job');
});

test('one worker for a 2-node allocation starts the jobs placed on the other node there, through srun', async (t) => {
  const { dir, commands } = await allocation(t, '30:00');
  // A stand-in srun: records its options, then runs the command it was given on "that node".
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  await writeFile(
    path.join(bin, 'srun'),
    `#!/bin/bash\nopts=()\nwhile [ "$1" != bash ]; do opts+=("$1"); shift; done\nprintf '%s\\n' "\${opts[@]}" > "${dir}/srun.$TORC_JOB_ID"\nexec "$@"\n`,
  );
  await chmod(path.join(bin, 'srun'), 0o755);
  const env = {
    SLURM_JOB_ID: '4242', SLURMD_NODENAME: 'cn1', SLURM_JOB_NODELIST: 'cn[1-2]', SLURM_JOB_NUM_NODES: '2',
    SLURM_JOB_CPUS_PER_NODE: '1(x2)', SLURM_CPUS_ON_NODE: '1', SLURM_MEM_PER_NODE: '512',
  };
  const client = new MemoryRunnerClient();
  const jobEnv = { PATH: `${bin}:${process.env.PATH}` };
  const jobs = client.addJobs([
    { name: 'a', command: `echo "it's a" > ${dir}/out.$TORC_JOB_ID; sleep 0.5`, env: jobEnv, resources: { runtime_seconds: 60, memory_bytes: 100 * MIB } },
    { name: 'b', command: `echo "it's b" > ${dir}/out.$TORC_JOB_ID; sleep 0.5`, env: jobEnv, resources: { runtime_seconds: 60, memory_bytes: 100 * MIB } },
  ]);
  const worker = await createSlurmWorker({
    client, commands, workflowId: 1, settings: SETTINGS, schedulerConfigId: null, outputDir: dir, apiUrl: 'http://127.0.0.1:1', env,
    handleSignals: false, pollIntervalSeconds: 0.2,
  });
  t.deepEqual(worker.allocation.nodes, ['cn1', 'cn2']);
  await worker.run();
  for (const j of jobs) {
    t.is(client.job(j.id).status, 'completed');
    t.is((await readFile(path.join(dir, `out.${j.id}`), 'utf8')).trim(), `it's ${j.name}`, 'the command ran unchanged');
  }
  const stepped = (await readdir(dir)).filter((f) => f.startsWith('srun.'));
  t.is(stepped.length, 1, 'one job ran here, the other through srun on cn2');
  const opts = (await readFile(path.join(dir, stepped[0]!), 'utf8')).trim().split('\n');
  t.deepEqual(opts, ['--nodes=1', '--ntasks=1', '--nodelist=cn2', '--cpus-per-task=1', '--mem=100M', '--exact', `--job-name=torc_job_${stepped[0]!.slice(5)}`]);
});

test('AllocationClient: a retry caused by the allocation ending is held back too (it would spend one of the job\'s retries)', async (t) => {
  const inner = new MemoryRunnerClient();
  const retried: number[] = [];
  const withRetry = Object.assign(inner, {
    retryJob: async (jobId: number) => {
      retried.push(jobId);
    },
  });
  const [a, b] = inner.addJobs([
    { name: 'a', command: 'x' },
    { name: 'b', command: 'x' },
  ]);
  const allocation = new AllocationClient(withRetry, '78', 300);
  const client = allocation.client;
  const request = (rc: number) => ({ return_code: rc, exec_time_minutes: 0, completion_time: new Date().toISOString(), status: 'failed' as const });
  // An ordinary failure is retried at once.
  await client.retryJob!(a!.id, 1, request(1));
  t.deepEqual(retried, [a!.id]);
  // Killed by a signal and the allocation is ending: not retried, left for requeue.
  const pending = client.retryJob!(b!.id, 1, request(143));
  allocation.markEnding();
  await pending;
  t.deepEqual(retried, [a!.id]);
  t.deepEqual([...allocation.withheld.keys()], [b!.id]);
});
