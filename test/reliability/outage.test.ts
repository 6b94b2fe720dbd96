/**
 * Runners and server survive each other (issue 24), with real processes: a `torc server` SIGKILLed
 * and restarted on the same port and database under an external `torc run --url` and (with
 * TORC_SLURM_AVAILABLE=1) under a `torc worker` in a real Slurm allocation; a TCP proxy
 * that resets every connection; a lease that runs out while the runner is cut off; a server that
 * never comes back. The short form of test/stress/outage.test.ts: every fault is triggered by a
 * condition (N jobs finished on disk, the node retired), and each trial ends with every job
 * completed exactly once in the store and on disk, the runner exited, the invariants holding.
 * TORC_CHAOS_SEED replays a run.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { chaosFigures, chaosTrial } from '../support/chaos.js';
import { runTorc, startTorc } from '../support/cli.js';
import { checkDatabaseFile } from '../support/invariants.js';
import { isAlive, waitFor } from '../support/procs.js';
import { slurmTest } from '../support/slurm.js';
import { startTorcServer } from '../support/server-proc.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { parseWaitForServer } from '../../src/cli/runner-flags.js';

const seed = Number(process.env.TORC_CHAOS_SEED ?? Date.now() % 1_000_000);
const slurm = slurmTest('test/reliability/outage.test.ts');

test.serial('server SIGKILLed and restarted under torc run, then connections reset by a proxy: every job once in the store and on disk, Succeeded', async (t) => {
  t.timeout(600_000);
  const kill = await chaosTrial({ seed, jobs: 40, jobSeconds: 0.1, runner: 'local', mode: 'queue', kills: 1, maxOutageMs: 2000, log: (l) => t.log(l) });
  t.deepEqual(kill.problems, [], `seed ${seed}`);
  const reset = await chaosTrial({ seed: seed + 1, jobs: 40, jobSeconds: 0.1, runner: 'local', mode: 'resources', kills: 0, maxOutageMs: 0, proxy: { mode: 'reset', windowMs: 2000 }, log: (l) => t.log(l) });
  t.deepEqual(reset.problems, [], `seed ${seed + 1}`);
  t.true(reset.proxyStats!.resets > 0, 'the proxy reset connections');
  t.log(chaosFigures([kill, reset]));
});

slurm('server SIGKILLed and restarted under a torc worker in a real Slurm allocation: every job once in the store and on disk, Succeeded, the allocation ends', async (t) => {
  t.timeout(600_000);
  const r = await chaosTrial({ seed: seed + 2, jobs: 30, jobSeconds: 0.1, runner: 'slurm', mode: 'queue', kills: 1, maxOutageMs: 3000, log: (l) => t.log(l) });
  t.deepEqual(r.problems, [], `seed ${seed + 2}`);
  t.is(r.faults.length, 1, 'the server was killed while the worker ran');
  t.log(chaosFigures([r]));
});

/** A server, a workflow of `n` jobs that append their id (and attempt) to ran.log after waiting for `gate`, and its files. */
async function scene(t: ExecutionContext, n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'torc-outage-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'outage-test-token\n', { mode: 0o600 });
  const server = await startTorcServer(join(dir, 'torc.db'), ['--token-file', tokenFile]);
  const client = new TorcClient(server.url, { token: 'outage-test-token' });
  // Each attempt waits for its own gate (gate_1, gate_2, …); starts and ends are logged with the pid.
  const cmd = JSON.stringify(
    `echo "$TORC_JOB_ID $TORC_ATTEMPT $$" >> ${dir}/started.log; until [ -f ${dir}/gate_$TORC_ATTEMPT ]; do sleep 0.05; done; echo "$TORC_JOB_ID $TORC_ATTEMPT" >> ${dir}/ran.log`,
  );
  const { workflow_id: wf } = await client.createWorkflowFromSpec(`name: outage\njobs:\n  - {name: "j{i}", command: ${cmd}, parameters: {i: "1:${n}"}}\n`);
  await client.initializeJobs(wf);
  t.teardown(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8').trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  return {
    dir, tokenFile, server, client, wf,
    ran: () => read('ran.log'),
    started: () => read('started.log').map((l) => l.split(' ').map(Number) as [number, number, number]),
    openGate: (attempt = 1) => writeFileSync(join(dir, `gate_${attempt}`), ''),
  };
}

test.serial("a lease that runs out while the runner is cut off: the server requeues its jobs, the runner kills them, reports nothing of them, registers again and finishes", async (t) => {
  t.timeout(300_000);
  const s = await scene(t, 3);
  const port = Number(new URL(s.server.url).port);
  const proxy = await TcpProxy.start(port);
  t.teardown(() => proxy.close());
  const runner = startTorc(
    ['run', String(s.wf), '--url', `http://127.0.0.1:${proxy.port}/torc-service/v1`, '--token-file', s.tokenFile, '--lease-seconds', '2',
      '--max-parallel-jobs', '3', '--poll-interval', '0.5', '--output-dir', join(s.dir, 'out')],
    { cwd: s.dir, timeoutMs: 240_000 },
  );
  await waitFor(async () => (await s.client.listJobs(s.wf, { status: 'running' })).total_count === 3, 60_000, 'three jobs running');
  const firstNode = (await s.client.listJobs(s.wf, { status: 'running' })).items[0]!.compute_node_id!;
  // Cut off (the server is up): its lease runs out and the server requeues its jobs (attempt 2).
  proxy.setMode('stall');
  await waitFor(async () => (await s.client.listComputeNodes(s.wf, { is_active: true })).total_count === 0, 60_000, 'the lease to run out');
  t.true((await s.client.allJobs(s.wf)).every((j) => j.attempt_id === 2 && j.status === 'ready'), 'requeued: ready again with attempt 2');
  // The first attempts wait on (their gate stays shut): the runner must kill them once it learns.
  s.openGate(2);
  proxy.setMode('pass');
  const res = await runner.result;
  t.is(res.code, 0, res.stderr);
  t.regex(res.stderr, /compute node \d+ lost its lease; its jobs were requeued by the server: killing them here, reporting nothing/);
  // Every job completed once, as attempt 2 on the runner's new node; attempt 1 reported nothing.
  const results = (await s.client.listResults(s.wf)).items;
  t.deepEqual(results.map((r) => [r.attempt_id, r.status]), [[2, 'completed'], [2, 'completed'], [2, 'completed']]);
  t.true(results.every((r) => r.compute_node_id !== firstNode));
  t.deepEqual(s.ran().sort(), ['1 2', '2 2', '3 2'], 'only the second attempts ran to their end');
  for (const [job, attempt, pid] of s.started()) if (attempt === 1) t.false(isAlive(pid), `attempt 1 of job ${job} was killed`);
  const stop = await s.server.stop();
  t.deepEqual((await checkDatabaseFile(join(s.dir, 'torc.db'))).violations, [], stop.stderr);
});

test.serial('a server that does not come back within --wait-for-server: torc run terminates its jobs, exits 1 and says what it could not deliver', async (t) => {
  t.timeout(300_000);
  const s = await scene(t, 2);
  const runner = startTorc(
    ['run', String(s.wf), '--url', s.server.url, '--token-file', s.tokenFile, '--max-parallel-jobs', '2', '--wait-for-server', '3s', '--output-dir', join(s.dir, 'out')],
    { cwd: s.dir, timeoutMs: 240_000 },
  );
  await waitFor(async () => (await s.client.listJobs(s.wf, { status: 'running' })).total_count === 2, 60_000, 'two jobs running');
  s.server.proc.child.kill('SIGKILL');
  await s.server.proc.result;
  s.openGate();
  await waitFor(() => s.ran().length === 2, 60_000, 'both jobs to finish on disk');
  const res = await runner.result;
  t.is(res.code, 1);
  t.regex(res.stderr, /server unreachable \(cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\): running jobs go on, nothing new is claimed/);
  t.regex(res.stderr, /gave up on the server: no answer for \d+(\.\d)?s \(--wait-for-server\)\./);
  t.regex(res.stderr, /Not delivered \(2\), the server never learned of:\n.*job \d+ \(j\d\) attempt 1: completed, return code 0\n.*job \d+ \(j\d\) attempt 1: completed, return code 0/);
  t.regex(res.stderr, /To wait longer, pass --wait-for-server/);
});

test('--wait-for-server takes a duration with a unit; anything else is refused naming the flag', async (t) => {
  t.deepEqual(['90s', '20m', '1.5h', 'PT20M', 'pt1h', '0', '250ms'].map((v) => parseWaitForServer(v)), [90, 1200, 5400, 1200, 3600, 0, 0.25]);
  for (const bad of ['20', 'soon', '-5m', '5 m', 'P']) t.throws(() => parseWaitForServer(bad), { message: /--wait-for-server: expected a duration with a unit/ }, bad);
  const refused = await runTorc(['run', '1', '--url', 'http://127.0.0.1:9', '--wait-for-server', '20']);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /^error: --wait-for-server: expected a duration with a unit \(90s, 20m, 1h\) or ISO 8601 \(PT20M\), got "20"$/m);
  // 0: no patience. A server that is not there ends the run at once, saying so.
  const gone = await runTorc(['run', '1', '--url', 'http://127.0.0.1:9', '--wait-for-server', '0', '--num-cpus', '1']);
  t.is(gone.code, 1, gone.stderr);
  t.regex(gone.stderr, /could not register with the server: the server did not answer for 0\.0s/);
});
