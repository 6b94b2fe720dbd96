import test, { type ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../src/errors.js';
import { JobRunner, type JobRunnerOptions, type RunnerEvent } from '../../src/runners/local/job-runner.js';
import { detectResources, type ResourceOverrides } from '../../src/runners/local/resources.js';
import { MemoryRunnerClient, type MemoryJobInput } from '../support/memory-client.js';
import { concurrentAtStarts, groupMembers, isAlive, readIntervals, tempDir, timedCommand, waitFor } from '../support/procs.js';

const GIB = 1024 ** 3;

/** Fixed resources, independent of the test machine (no nvidia-smi, no cgroup, no inherited CUDA_VISIBLE_DEVICES). */
function resources(overrides: ResourceOverrides) {
  return detectResources({ env: { PATH: '/usr/bin:/bin' }, hostname: 'testhost', overrides, cgroupRoot: '/nonexistent', procCgroupFile: '/nonexistent' });
}

async function runner(client: MemoryRunnerClient, outputDir: string, opts: Partial<JobRunnerOptions> & { res?: ResourceOverrides } = {}) {
  const { res, ...rest } = opts;
  const events: RunnerEvent[] = [];
  const r = new JobRunner({
    client,
    workflowId: client.workflowId,
    outputDir,
    resources: await resources(res ?? { num_cpus: 4, memory_gb: 8, num_gpus: 0 }),
    pollIntervalSeconds: 0.2,
    heartbeatSeconds: 0.2,
    graceSeconds: 0.5,
    onEvent: (e) => events.push(e),
    ...rest,
  });
  return { runner: r, events };
}

function jobs(n: number, make: (i: number) => Omit<MemoryJobInput, 'name'>): MemoryJobInput[] {
  return Array.from({ length: n }, (_, i) => ({ name: `job_${i}`, ...make(i) }));
}

test.serial('queue depth: never more than N jobs at once; every job completes once, stdio written', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs(jobs(14, (i) => ({ command: timedCommand(dir, `sleep 0.2; echo out ${i}`) })));
  const { runner: r } = await runner(client, dir, { maxParallelJobs: 3 });
  const summary = await r.run();

  t.is(summary.reason, 'complete');
  t.is(summary.completed, 14);
  const intervals = readIntervals(dir);
  t.is(intervals.length, 14);
  const peak = Math.max(...concurrentAtStarts(intervals).map((c) => c.length));
  t.true(peak <= 3, `peak concurrency ${peak}`);
  for (const job of client.allJobs()) {
    t.is(job.status, 'completed');
    t.is(client.starts.get(job.id), 1);
    t.is(await readFile(path.join(dir, 'job_stdio', `job_${job.id}_1.o`), 'utf8'), `out ${job.id - 1}\n`);
    t.true(existsSync(path.join(dir, 'job_stdio', `job_${job.id}_1.e`)));
  }
  t.false(client.node(summary.compute_node_id!).active, 'node deactivated on exit');
});

test.serial('resource-aware: running jobs never hold more CPUs than declared', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const cpus = [3, 1, 2, 1, 3, 2, 1, 1, 2, 3, 1, 2];
  const added = client.addJobs(jobs(cpus.length, (i) => ({ command: timedCommand(dir, 'sleep 0.2'), resources: { num_cpus: cpus[i]!, memory_bytes: GIB } })));
  const { runner: r } = await runner(client, dir, { res: { num_cpus: 4, memory_gb: 8, num_gpus: 0 } });
  const summary = await r.run();

  t.is(summary.completed, cpus.length);
  const cpuOf = new Map(added.map((j) => [j.id, j.resources.num_cpus]));
  for (const group of concurrentAtStarts(readIntervals(dir))) {
    const used = group.reduce((sum, j) => sum + cpuOf.get(j.job_id)!, 0);
    t.true(used <= 4, `jobs ${group.map((j) => j.job_id)} held ${used} CPUs at once`);
  }
});

test.serial('GPU jobs get disjoint CUDA_VISIBLE_DEVICES of the right size', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const gpus = [2, 1, 1, 2, 1, 1, 2, 1];
  const added = client.addJobs(jobs(gpus.length, (i) => ({ command: timedCommand(dir, 'sleep 0.2'), resources: { num_gpus: gpus[i]! } })));
  const { runner: r, events } = await runner(client, dir, { res: { num_cpus: 8, memory_gb: 8, num_gpus: 4 } });
  t.is((await r.run()).completed, gpus.length);

  const gpusOf = new Map(added.map((j) => [j.id, j.resources.num_gpus]));
  const intervals = readIntervals(dir);
  for (const iv of intervals) {
    const devices = iv.gpus.split(',');
    t.is(devices.length, gpusOf.get(iv.job_id)!);
    t.true(devices.every((d) => ['0', '1', '2', '3'].includes(d)));
  }
  for (const group of concurrentAtStarts(intervals)) {
    const all = group.flatMap((j) => j.gpus.split(','));
    t.is(new Set(all).size, all.length, `overlapping jobs ${group.map((j) => j.job_id)} share a GPU: ${all}`);
  }
  t.false(events.some((e) => e.type === 'warning'));
});

test.serial('a job over its runtime is terminated (status 8); its neighbour completes', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const [slow, quick] = client.addJobs([
    { name: 'slow', command: 'sleep 60', resources: { runtime_seconds: 1 } },
    { name: 'quick', command: 'true' },
  ]);
  const { runner: r } = await runner(client, dir);
  const summary = await r.run();
  t.is(summary.reason, 'complete');
  t.is(client.job(slow!.id).status, 'terminated');
  t.is(client.job(slow!.id).return_code, 143);
  t.is(client.job(quick!.id).status, 'completed');
  t.like(summary, { completed: 1, terminated: 1, failed: 0 });
});

test.serial('a failing job is reported failed with its return code', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const [job] = client.addJobs([{ name: 'bad', command: 'echo oops >&2; exit 4' }]);
  const { runner: r } = await runner(client, dir);
  t.like(await r.run(), { failed: 1, reason: 'complete' });
  t.is(client.job(job!.id).status, 'failed');
  t.is(client.job(job!.id).return_code, 4);
  t.is(await readFile(path.join(dir, 'job_stdio', `job_${job!.id}_1.e`), 'utf8'), 'oops\n');
});

async function startSleepers(client: MemoryRunnerClient, dir: string, n: number) {
  // Each job leaves a background child (which must die too) and records both pids.
  const added = client.addJobs(
    jobs(n, () => ({ command: `sleep 300 & echo "$$ $!" > ${dir}/$TORC_JOB_ID.pids; wait` })),
  );
  const pids = async () => {
    const out: number[] = [];
    for (const j of added) {
      const text = await readFile(path.join(dir, `${j.id}.pids`), 'utf8').catch(() => '');
      out.push(...text.trim().split(' ').filter(Boolean).map(Number));
    }
    return out;
  };
  return { added, pids };
}

test.serial('stop() terminates every child (no orphans) and leaves the jobs for requeue', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const { added, pids } = await startSleepers(client, dir, 3);
  const { runner: r } = await runner(client, dir);
  const run = r.run();
  await waitFor(async () => (await pids()).length === 6, 60_000, 'jobs to start');
  const before = await pids();
  t.true(before.every(isAlive));

  const summary = await r.stop();
  t.is(await run, summary!);
  t.like(summary, { reason: 'stopped', requeued: 3, terminated: 0 });
  await waitFor(() => before.every((p) => !isAlive(p)), 10_000, 'job processes to vanish');
  for (const p of before) t.false(isAlive(p), `pid ${p} survived`);
  for (const leader of before.filter((_, i) => i % 2 === 0)) t.deepEqual(groupMembers(leader), []);
  // Not completed: the node's deactivation put them back to ready with a new attempt.
  t.deepEqual(client.completions, []);
  for (const j of added) t.like(client.job(j.id), { status: 'ready', attempt_id: 2 });
});

test.serial("stop({report: 'terminated'}) records the killed jobs as terminated", async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const { added, pids } = await startSleepers(client, dir, 2);
  const { runner: r } = await runner(client, dir);
  const run = r.run();
  await waitFor(async () => (await pids()).length === 4, 60_000, 'jobs to start');
  await r.stop({ report: 'terminated' });
  t.like(await run, { reason: 'stopped', terminated: 2, requeued: 0 });
  for (const j of added) t.is(client.job(j.id).status, 'terminated');
  for (const p of await pids()) t.false(isAlive(p));
});

test.serial('a canceled workflow: running jobs are terminated and reported, nothing new starts', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const { added, pids } = await startSleepers(client, dir, 2);
  const [waiting] = client.addJobs([{ name: 'later', command: 'true' }]);
  const { runner: r } = await runner(client, dir, { maxParallelJobs: 2 });
  const run = r.run();
  // Running as the server sees it too: queue depth records a start on the loop's next turn, and
  // a job canceled while still pending there ends canceled, not terminated (a busy machine once
  // let the cancel come first).
  await waitFor(async () => (await pids()).length === 4 && added.every((j) => client.job(j.id).status === 'running'), 60_000, 'jobs to start');
  client.cancel();
  t.like(await run, { reason: 'canceled', terminated: 2 });
  for (const j of added) t.is(client.job(j.id).status, 'terminated');
  t.is(client.job(waiting!.id).status, 'canceled');
  t.is(client.starts.get(waiting!.id), undefined);
  for (const p of await pids()) t.false(isAlive(p));
});

test.serial('without work for wait_for_new_jobs_seconds the runner exits idle', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs([{ name: 'blocked', command: 'true', status: 'blocked' }]);
  const { runner: r } = await runner(client, dir, { waitForNewJobsSeconds: 0.3 });
  t.like(await r.run(), { reason: 'idle', started: 0 });
});

test.serial('jobs released while the runner waits are picked up', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const [job] = client.addJobs([{ name: 'blocked', command: 'true', status: 'blocked' }]);
  const { runner: r, events } = await runner(client, dir);
  const run = r.run();
  await waitFor(() => events.some((e) => e.type === 'progress'), 60_000, 'first loop turn');
  client.release(job!.id);
  t.like(await run, { reason: 'complete', completed: 1 });
});

test.serial('a time limit: only jobs that can finish before it are claimed', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const [long, short] = client.addJobs([
    { name: 'long', command: 'true', resources: { runtime_seconds: 3600 } },
    { name: 'short', command: 'true', resources: { runtime_seconds: 60 } },
  ]);
  const { runner: r } = await runner(client, dir, { timeLimitSeconds: 600, expirationBufferSeconds: 60, waitForNewJobsSeconds: 0.3 });
  t.like(await r.run(), { reason: 'idle', completed: 1 });
  t.is(client.job(short!.id).status, 'completed');
  t.is(client.job(long!.id).status, 'ready');
});

test.serial('a runner past its end time claims nothing and exits', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs([{ name: 'any', command: 'true', resources: { runtime_seconds: 1 } }]);
  const { runner: r } = await runner(client, dir, { endTime: new Date(Date.now() - 1000) });
  t.like(await r.run(), { reason: 'time_limit', started: 0 });
});

test.serial('transient API failures are retried; the heartbeat runs', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs(jobs(2, () => ({ command: 'sleep 0.5' })));
  client.injectFailures('completeJob', 1);
  client.injectFailures('getProgress', 1);
  const { runner: r, events } = await runner(client, dir, { heartbeatSeconds: 0.1 });
  const summary = await r.run();
  t.like(summary, { reason: 'complete', completed: 2 });
  t.true(events.some((e) => e.type === 'api_error' && e.operation === 'complete_job'));
  t.true(client.node(summary.compute_node_id!).heartbeats > 0);
});

/** Heartbeats wait at `gate` while it is set: the test decides when the runner may learn of a lost lease. */
class GatedHeartbeats extends MemoryRunnerClient {
  gate: Promise<void> | null = null;
  override async heartbeat(computeNodeId: number): Promise<void> {
    if (this.gate) await this.gate;
    return super.heartbeat(computeNodeId);
  }
}

/**
 * A job whose first attempt hangs runs; `retire` retires the runner's node (as the server does
 * when a lease expires: the node's jobs are requeued). The runner must kill its copy unreported,
 * register again and finish the retry (attempt 2) once. A hang fails the test by its timeout,
 * and the runner is stopped, so the test's worker can exit.
 */
async function lostLease(t: ExecutionContext, client: MemoryRunnerClient, retire: (node: number) => Promise<void>) {
  t.timeout(100_000, 'the runner hung after its lease was lost');
  const dir = await tempDir();
  const [job] = client.addJobs([
    { name: 'flaky', command: `echo $$ > ${dir}/$TORC_ATTEMPT.pid; if [ "$TORC_ATTEMPT" = 1 ]; then sleep 300; fi` },
  ]);
  const { runner: r, events } = await runner(client, dir, { heartbeatSeconds: 0.1 });
  const run = r.run();
  t.teardown(() => void r.stop());
  const firstPid = async () => Number((await readFile(path.join(dir, '1.pid'), 'utf8').catch(() => '')).trim());
  await waitFor(async () => (await firstPid()) > 0 && client.job(job!.id).status === 'running', 60_000, 'first attempt to start');
  const firstNode = client.job(job!.id).compute_node_id!;
  await retire(firstNode);

  const summary = await run;
  t.like(summary, { reason: 'complete', completed: 1, requeued: 1 });
  t.not(summary.compute_node_id, firstNode);
  t.like(client.job(job!.id), { status: 'completed', attempt_id: 2 });
  t.is(client.starts.get(job!.id), 2);
  t.false(isAlive(await firstPid()));
  t.true(events.some((e) => e.type === 'warning' && /lost its lease/.test(e.message)));
}

test.serial('a lost lease: the runner kills its requeued jobs (no twin runs), registers again and goes on', async (t) => {
  const client = new MemoryRunnerClient();
  await lostLease(t, client, (node) => client.deactivateComputeNode(node));
});

test.serial('a lost lease noticed only after the runner claimed again: the requeued job is not stranded on the retired node', async (t) => {
  // A busy machine once let the loop claim (as the retired node) before the heartbeat learned of
  // the lost lease; the fake server took that claim (the store refuses it), the job was left
  // pending on a node nothing requeues again, and the run hung. Heartbeats wait here until the
  // loop has claimed after the retirement.
  const client = new GatedHeartbeats();
  await lostLease(t, client, async (node) => {
    let open!: () => void;
    client.gate = new Promise((resolve) => (open = resolve));
    await client.deactivateComputeNode(node);
    const claims = () => client.calls.filter((c) => c === 'claimJobsBasedOnResources').length;
    const before = claims();
    await waitFor(() => claims() > before, 60_000, 'a claim after the retirement');
    client.gate = null;
    open();
  });
});

test.serial('a resource-aware and a queue-depth runner share a workflow; no job runs twice', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs(jobs(16, () => ({ command: timedCommand(dir, 'sleep 0.1') })));
  const a = await runner(client, dir, { res: { num_cpus: 2, memory_gb: 4, num_gpus: 0 } });
  const b = await runner(client, dir, { maxParallelJobs: 2 });
  const [sa, sb] = await Promise.all([a.runner.run(), b.runner.run()]);
  t.is(sa.completed + sb.completed, 16);
  for (const job of client.allJobs()) {
    t.is(job.status, 'completed');
    t.is(client.starts.get(job.id), 1);
  }
  t.is(readIntervals(dir).length, 16);
});

test('bad options are refused with the flag named', (t) => {
  const client = new MemoryRunnerClient();
  const err = t.throws(() => new JobRunner({ client, workflowId: 1, outputDir: '/tmp', maxParallelJobs: 0, pollIntervalSeconds: -1 }), {
    instanceOf: InputError,
  });
  t.deepEqual(err!.issues.map((i) => i.path), ['--max-parallel-jobs', '--poll-interval']);
});
