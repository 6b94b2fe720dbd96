/**
 * The runner through server outages (issue 24), against the in-memory client: `down` makes every
 * call fail as an unreachable server does, loseAnswers() applies a call and loses its answer.
 * Jobs wait for gate files, so each test decides when they end; every wait is for a condition.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobRunner, type JobRunnerOptions, type RunnerEvent } from '../../src/runners/local/job-runner.js';
import { detectResources } from '../../src/runners/local/resources.js';
import { MemoryRunnerClient } from '../support/memory-client.js';
import { isAlive, tempDir, waitFor } from '../support/procs.js';

async function runner(client: MemoryRunnerClient, dir: string, opts: Partial<JobRunnerOptions> = {}) {
  const events: RunnerEvent[] = [];
  const r = new JobRunner({
    client,
    workflowId: client.workflowId,
    outputDir: dir,
    cwd: dir,
    resources: await detectResources({ env: { PATH: '/usr/bin:/bin' }, hostname: 'testhost', overrides: { num_cpus: 4, memory_gb: 8, num_gpus: 0 }, cgroupRoot: '/nonexistent', procCgroupFile: '/nonexistent' }),
    maxParallelJobs: 2,
    pollIntervalSeconds: 0.2,
    heartbeatSeconds: 0.2,
    graceSeconds: 0.5,
    onEvent: (e) => events.push(e),
    ...opts,
  });
  return { runner: r, events };
}

/** Appends its id (and pid) to ran.log, then waits for `gate_<name>` (or `gate_all`). */
const gated = (name: string) => `echo "$TORC_JOB_ID $$" >> ran.log; until [ -f gate_${name} ] || [ -f gate_all ]; do sleep 0.05; done`;

async function ranLog(dir: string): Promise<{ id: number; pid: number }[]> {
  const text = await readFile(path.join(dir, 'ran.log'), 'utf8').catch(() => '');
  return text.trim().split('\n').filter(Boolean).map((l) => ({ id: Number(l.split(' ')[0]), pid: Number(l.split(' ')[1]) }));
}

const open = (dir: string, gate: string) => writeFile(path.join(dir, `gate_${gate}`), '');

function completionsPerJob(client: MemoryRunnerClient): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of client.completions) out.set(c.job_id, (out.get(c.job_id) ?? 0) + 1);
  return out;
}

test.serial('server away: running jobs go on, nothing is claimed, reports are kept and delivered in order when it is back', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs(['a', 'b', 'c', 'd'].map((n) => ({ name: n, command: gated(n) })));
  const { runner: r, events } = await runner(client, dir);
  const run = r.run();
  await waitFor(async () => (await ranLog(dir)).length === 2, 60_000, 'two jobs to start');
  // Their starts are delivered (queue depth records them on a later turn): else the kept starts
  // come first in the queue and no completion is tried while the server is away.
  await waitFor(() => client.allJobs().filter((j) => j.status === 'running').length === 2, 60_000, 'the server to record both starts');
  client.down = true;
  await open(dir, 'a');
  await open(dir, 'b');
  // Both ended while the server is away: their completions are tried, kept, and nothing new is claimed.
  await waitFor(() => client.callsWhileDown.includes('completeJob'), 60_000, 'a completion to be tried while down');
  await waitFor(() => events.some((e) => e.type === 'server_lost'), 60_000, 'the outage to be noticed');
  t.false(client.callsWhileDown.some((op) => op === 'claimNextJobs' || op === 'claimJobsBasedOnResources'), 'claimed while the server was away');
  t.is(client.completions.length, 0);
  client.down = false;
  await open(dir, 'all');
  const summary = await run;
  t.like(summary, { reason: 'complete', completed: 4, outages: 1, undelivered: [] });
  t.true(summary.replayed >= 2, `replayed ${summary.replayed}`);
  t.true(client.syncs.length >= 1, 'runner and server agreed on what the node holds after the outage');
  for (const job of client.allJobs()) t.is(job.status, 'completed');
  t.deepEqual([...completionsPerJob(client).values()], [1, 1, 1, 1]);
  t.deepEqual((await ranLog(dir)).map((l) => l.id).sort(), [1, 2, 3, 4]);
  t.true(events.some((e) => e.type === 'server_back'));
});

test.serial('lost answers: a report sent again is acknowledged as a duplicate and recorded once', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs(['a', 'b', 'c'].map((n) => ({ name: n, command: 'echo "$TORC_JOB_ID" >> ran.log' })));
  client.loseAnswers('completeJob', 2);
  client.loseAnswers('startJob', 1);
  const { runner: r } = await runner(client, dir);
  const summary = await r.run();
  t.like(summary, { reason: 'complete', completed: 3 });
  t.deepEqual([...completionsPerJob(client).values()], [1, 1, 1]);
  t.is([...client.duplicates.values()].reduce((a, b) => a + b, 0), 2);
  for (const [, n] of client.starts) t.is(n, 1);
});

test.serial("a claim whose answer was lost: the sync gives the node's unknown jobs back to ready, and they run once", async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs(['a', 'b', 'c'].map((n) => ({ name: n, command: 'echo "$TORC_JOB_ID" >> ran.log' })));
  client.loseAnswers('claimNextJobs', 1);
  const { runner: r, events } = await runner(client, dir);
  const summary = await r.run();
  t.like(summary, { reason: 'complete', completed: 3 });
  t.is(client.syncs[0]!.released.length, 2, 'the two jobs claimed by the lost call went back to ready');
  t.true(events.some((e) => e.type === 'synced'));
  t.deepEqual((await ranLog(dir)).map((l) => Number(l.id)).sort(), [1, 2, 3]);
  t.deepEqual([...completionsPerJob(client).values()], [1, 1, 1]);
});

test.serial('an outage longer than --wait-for-server: the run stops, kills its jobs and lists what was never delivered', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  client.addJobs(['a', 'b'].map((n) => ({ name: n, command: gated(n) })));
  const { runner: r } = await runner(client, dir, { waitForServerSeconds: 1 });
  const run = r.run();
  await waitFor(async () => (await ranLog(dir)).length === 2, 60_000, 'both jobs to start');
  const pids = new Map((await ranLog(dir)).map((l) => [l.id, l.pid]));
  client.down = true;
  await open(dir, 'a');
  const summary = await run;
  t.is(summary.reason, 'server_unreachable');
  t.true(summary.longest_outage_ms >= 1000);
  t.deepEqual(summary.undelivered, ['job 1 (a) attempt 1: completed, return code 0']);
  t.false(isAlive(pids.get(2)!), 'the job still running was terminated');
  t.is(client.completions.length, 0);
});

test.serial('a lease that ran out during the outage: old reports are refused as stale, the jobs killed, the node registers again', async (t) => {
  const dir = await tempDir();
  const client = new MemoryRunnerClient();
  const [a, b] = client.addJobs(['a', 'b'].map((n) => ({ name: n, command: `${gated(`${n}_$TORC_ATTEMPT`)}` })));
  const { runner: r, events } = await runner(client, dir);
  const run = r.run();
  await waitFor(async () => (await ranLog(dir)).length === 2, 60_000, 'both jobs to start');
  await waitFor(() => client.allJobs().filter((j) => j.status === 'running').length === 2, 60_000, 'the server to record both starts');
  const firstPids = new Map((await ranLog(dir)).map((l) => [l.id, l.pid]));
  const firstNode = client.job(a!.id).compute_node_id!;
  client.down = true;
  // a ends during the outage; meanwhile the server retires the node (its lease ran out).
  await open(dir, 'a_1');
  await waitFor(() => client.callsWhileDown.includes('completeJob'), 60_000, 'a completion to be tried while down');
  client.expireLease(firstNode);
  client.down = false;
  await open(dir, 'a_2');
  await open(dir, 'b_2');
  const summary = await run;
  t.is(summary.reason, 'complete');
  t.not(summary.compute_node_id, firstNode);
  t.like(client.job(a!.id), { status: 'completed', attempt_id: 2 });
  t.like(client.job(b!.id), { status: 'completed', attempt_id: 2 });
  // Only the attempts of the new node were recorded; b's first copy was killed, never reported.
  t.deepEqual(client.completions.map((c) => [c.job_id, c.attempt_id]).sort(), [[a!.id, 2], [b!.id, 2]]);
  t.false(isAlive(firstPids.get(b!.id)!));
  t.true(events.some((e) => e.type === 'warning' && /lost its lease/.test(e.message)));
  t.false(existsSync(path.join(dir, 'gate_b_1')));
});
