/**
 * `torc reconcile` end to end: the real binary, real processes, a real SQLite file.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { REPO_ROOT, runTorc, startTorc } from '../support/cli.js';
import { concurrentAtStarts, readIntervals, timedCommand, waitFor } from '../support/procs.js';

function workdir(): string {
  return mkdtempSync(join(tmpdir(), 'torc-reconcile-'));
}

function query<T>(dbPath: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(dbPath, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.all(sql, (e, rows) => {
        db.close();
        e ? reject(e) : resolve(rows as T[]);
      });
    });
  });
}

test('the diamond example runs to Succeeded with its outputs and right counts', async (t) => {
  const dir = workdir();
  const res = await runTorc(['reconcile', join(REPO_ROOT, 'examples', 'diamond.yaml'), '--db', join(dir, 'wf.db'), '--format', 'json', '--no-server'], {
    cwd: dir,
  });
  t.is(res.code, 0, res.stderr);
  const [summary] = JSON.parse(res.stdout) as { phase: string; total: number; counts: Record<string, number> }[];
  t.is(summary!.phase, 'Succeeded');
  t.is(summary!.counts.completed, summary!.total);
  t.true(summary!.total >= 4);
  const files = await query<{ path: string }>(join(dir, 'wf.db'), 'SELECT path FROM files');
  t.true(files.length > 0);
  for (const f of files) t.true(existsSync(join(dir, f.path)), `output ${f.path} exists`);
  // Re-running an unchanged, finished workflow runs nothing and still succeeds.
  const again = await runTorc(['reconcile', join(REPO_ROOT, 'examples', 'diamond.yaml'), '--db', join(dir, 'wf.db'), '--format', 'json', '--no-server'], { cwd: dir });
  t.is(again.code, 0, again.stderr);
  const results = await query<{ n: number }>(join(dir, 'wf.db'), 'SELECT COUNT(*) AS n FROM results');
  t.is(results[0]!.n, summary!.total, 'each job ran exactly once');
});

/**
 * A job body that returns only once two jobs have started (a marker per job in `dir`/started):
 * the first job waits for the second, so a runner that keeps two jobs alive at once passes at any
 * speed, and one that runs jobs one at a time hangs (and fails) instead of passing by luck.
 */
const BARRIER_OF_TWO = (dir: string) => `mkdir -p ${dir}/started; touch ${dir}/started/$TORC_JOB_ID; until [ $(ls ${dir}/started | wc -l) -ge 2 ]; do sleep 0.01; done`;

test('queue depth: a 200-job sweep with --max-parallel-jobs 4 never has more than 4 jobs alive', async (t) => {
  const dir = workdir();
  const times = join(dir, 'times');
  mkdirSync(times);
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: sweep\njobs:\n  - name: "job_{i:03d}"\n    command: ${JSON.stringify(timedCommand(times, BARRIER_OF_TWO(dir)))}\n    parameters:\n      i: "1:200"\n`,
  );
  const res = await runTorc(['reconcile', 'wf.yaml', '--max-parallel-jobs', '4', '--no-server', '-q'], { cwd: dir, timeoutMs: 240_000 });
  t.is(res.code, 0, res.stderr);
  const intervals = readIntervals(times);
  t.is(intervals.length, 200, 'every job ran');
  const peak = Math.max(...concurrentAtStarts(intervals).map((g) => g.length));
  t.log(`peak concurrency ${peak}`);
  t.true(peak <= 4, `peak concurrency ${peak}`);
  // Guaranteed by the barrier, however slow the machine: the first job is alive at the second's start.
  t.true(peak >= 2, 'jobs did run in parallel');
});

test('resource-aware: never more CPUs in use than declared; GPU jobs get disjoint CUDA_VISIBLE_DEVICES', async (t) => {
  const dir = workdir();
  const cpuLog = join(dir, 'cpu');
  const gpuLog = join(dir, 'gpu');
  mkdirSync(cpuLog);
  mkdirSync(gpuLog);
  writeFileSync(
    join(dir, 'wf.yaml'),
    [
      'name: packed',
      'resource_requirements:',
      '  - {name: two_cpus, num_cpus: 2, memory: 1m, runtime: PT5M}',
      '  - {name: one_gpu, num_cpus: 1, num_gpus: 1, memory: 1m, runtime: PT5M}',
      'jobs:',
      `  - name: "cpu_{i}"\n    resource_requirements: two_cpus\n    command: ${JSON.stringify(timedCommand(cpuLog, 'sleep 0.2'))}\n    parameters: {i: "1:12"}`,
      `  - name: "gpu_{i}"\n    resource_requirements: one_gpu\n    command: ${JSON.stringify(timedCommand(gpuLog, 'sleep 0.2'))}\n    parameters: {i: "1:8"}`,
      '',
    ].join('\n'),
  );
  const res = await runTorc(['reconcile', 'wf.yaml', '--num-cpus', '5', '--memory-gb', '4', '--num-gpus', '2', '--no-server', '-q'], {
    cwd: dir,
    env: { CUDA_VISIBLE_DEVICES: undefined },
  });
  t.is(res.code, 0, res.stderr);
  const cpu = readIntervals(cpuLog);
  const gpu = readIntervals(gpuLog);
  t.is(cpu.length, 12);
  t.is(gpu.length, 8);
  const cpus = new Map<number, number>([...cpu.map((i) => [i.job_id, 2] as const), ...gpu.map((i) => [i.job_id, 1] as const)]);
  const cpuPeak = Math.max(...concurrentAtStarts([...cpu, ...gpu]).map((g) => g.reduce((sum, i) => sum + cpus.get(i.job_id)!, 0)));
  t.true(cpuPeak <= 5, `peak CPUs ${cpuPeak}`);
  for (const g of gpu) t.regex(g.gpus, /^[01]$/, 'each GPU job sees one GPU index');
  for (const group of concurrentAtStarts(gpu)) {
    t.is(new Set(group.map((i) => i.gpus)).size, group.length, 'overlapping GPU jobs got different GPUs');
  }
});

test('a job over its runtime is terminated; the workflow ends Failed with exit 1', async (t) => {
  const dir = workdir();
  writeFileSync(
    join(dir, 'wf.yaml'),
    'name: slow\nresource_requirements:\n  - {name: short, num_cpus: 1, memory: 1m, runtime: PT1S}\njobs:\n  - {name: sleeper, command: "sleep 60", resource_requirements: short}\n  - {name: quick, command: "true"}\n',
  );
  const res = await runTorc(['reconcile', 'wf.yaml', '--no-server', '--format', 'json'], { cwd: dir });
  t.is(res.code, 1);
  const [summary] = JSON.parse(res.stdout) as { phase: string; counts: Record<string, number> }[];
  t.is(summary!.phase, 'Failed');
  t.is(summary!.counts.terminated, 1);
  t.is(summary!.counts.completed, 1);
  const jobs = await query<{ name: string; status: number }>(join(dir, '.torc', 'wf.db'), 'SELECT name, status FROM jobs ORDER BY name');
  t.deepEqual(jobs, [
    { name: 'quick', status: 5 },
    { name: 'sleeper', status: 8 },
  ]);
});

test('bad input: a malformed spec exits 2 naming the field and creates no database', async (t) => {
  const dir = workdir();
  writeFileSync(join(dir, 'wf.yaml'), 'name: bad\njobs:\n  - name: a\n    command: "true"\n    resource_requirements: nope\n');
  const res = await runTorc(['reconcile', 'wf.yaml'], { cwd: dir });
  t.is(res.code, 2);
  t.regex(res.stderr, /jobs\[0\]\.resource_requirements/);
  t.false(existsSync(join(dir, '.torc', 'wf.db')));
  const flag = await runTorc(['reconcile', 'wf.yaml', '--max-parallel-jobs', 'lots'], { cwd: dir });
  t.is(flag.code, 2);
  t.regex(flag.stderr, /--max-parallel-jobs/);
});

test('kill -9 mid-run, then the same command again: finishes, no completed job ran again, integrity ok', async (t) => {
  const dir = workdir();
  const log = join(dir, 'runs.log');
  const go = join(dir, 'go');
  // Each start appends the job id, so a job that ran again shows up twice. The first 12 jobs to
  // start run through; later ones wait for the go file (made only for the second run), so the
  // kill always comes mid-run however fast or slow the machine is.
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: crashy\njobs:\n  - name: "job_{i:03d}"\n    command: 'echo "$TORC_JOB_ID start" >> ${log}; [ $(wc -l < ${log}) -le 12 ] || until [ -e ${go} ]; do sleep 0.05; done; sleep 0.1'\n    parameters:\n      i: "1:60"\n`,
  );
  const args = ['reconcile', 'wf.yaml', '--max-parallel-jobs', '3', '--no-server', '-q'];
  const first = startTorc(args, { cwd: dir });
  const dbPath = join(dir, '.torc', 'wf.db');
  // Wait until some jobs are recorded completed and the runner holds gated ones, then kill it outright.
  await waitFor(async () => {
    if (!existsSync(log) || readFileSync(log, 'utf8').trim().split('\n').length <= 12) return false;
    return (await query<{ n: number }>(dbPath, 'SELECT COUNT(*) AS n FROM jobs WHERE status = 5').catch(() => [{ n: 0 }]))[0]!.n >= 1;
  }, 120_000, 'a completed job and a job held at the gate');
  first.child.kill('SIGKILL');
  await first.result;
  writeFileSync(go, '');
  const completedBefore = await query<{ id: number }>(dbPath, 'SELECT id FROM jobs WHERE status = 5');
  t.true(completedBefore.length >= 1 && completedBefore.length < 60, `killed mid-run (${completedBefore.length} completed)`);
  const startsBefore = new Map<string, number>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /^(\d+) start/.exec(line);
    if (m) startsBefore.set(m[1]!, (startsBefore.get(m[1]!) ?? 0) + 1);
  }

  const second = await runTorc(args, { cwd: dir, timeoutMs: 240_000 });
  t.is(second.code, 0, second.stderr);
  const starts = new Map<string, number>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /^(\d+) start/.exec(line);
    if (m) starts.set(m[1]!, (starts.get(m[1]!) ?? 0) + 1);
  }
  for (const { id } of completedBefore) {
    t.is(starts.get(String(id)), startsBefore.get(String(id)), `completed job ${id} did not run again`);
  }
  const done = await query<{ n: number }>(dbPath, 'SELECT COUNT(*) AS n FROM jobs WHERE status = 5');
  t.is(done[0]!.n, 60);
  const integrity = await query<{ integrity_check: string }>(dbPath, 'PRAGMA integrity_check');
  t.is(integrity[0]!.integrity_check, 'ok');
});

test('a resource-aware reconcile and an external queue-depth runner share one workflow; no job runs twice', async (t) => {
  const dir = workdir();
  const log = join(dir, 'runs.log');
  const go = join(dir, 'go');
  // Jobs wait for the go file, so both runners are sure to hold jobs before any finishes.
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: shared\njobs:\n  - name: "job_{i:03d}"\n    command: 'while [ ! -e ${go} ]; do sleep 0.05; done; echo "$TORC_JOB_ID" >> ${log}; sleep 0.05'\n    parameters:\n      i: "1:40"\n`,
  );
  const reconcile = startTorc(['reconcile', 'wf.yaml', '--num-cpus', '2', '--memory-gb', '2', '--port', '0', '-q'], { cwd: dir });
  // The reconcile prints its REST API address; an external runner joins through it.
  // The API comes up before the workflow is stored; the external runner needs both.
  await waitFor(() => /workflow shared \(id 1\)/.test(reconcile.output().stderr) || reconcile.child.exitCode !== null, 120_000, 'the reconcile to serve its API and store the workflow');
  const url = /REST API: (\S+)/.exec(reconcile.output().stderr)?.[1] ?? '';
  t.truthy(url, 'reconcile served its API');
  const tokenFile = /--token-file (\S+)/.exec(reconcile.output().stderr)?.[1] ?? '';
  t.truthy(tokenFile, 'and says where the token of its changing routes is');
  const external = startTorc(['run', '1', '--url', url, '--token-file', tokenFile, '--max-parallel-jobs', '3', '--output-dir', join(dir, 'ext'), '--poll-interval', '0.2', '-q'], { cwd: dir });
  const db = join(dir, '.torc', 'wf.db');
  const runnersHolding = async () => (await query<{ n: number }>(db, 'SELECT COUNT(DISTINCT compute_node_id) AS n FROM jobs WHERE status = 4').catch(() => [{ n: 0 }]))[0]!.n;
  await waitFor(async () => (await runnersHolding()) >= 2, 120_000, 'both runners to hold running jobs');
  writeFileSync(go, '');
  const ext = await external.result;
  t.is(ext.code, 0, ext.stderr);
  const res = await reconcile.result;
  t.is(res.code, 0, res.stderr);
  const ids = readFileSync(log, 'utf8').trim().split('\n');
  t.is(ids.length, 40, 'every job ran');
  t.is(new Set(ids).size, 40, 'no job ran twice');
  const byNode = await query<{ n: number }>(
    db,
    'SELECT COUNT(*) AS n FROM results r JOIN compute_nodes c ON c.id = r.compute_node_id GROUP BY c.id',
  );
  t.log(`jobs per runner: ${JSON.stringify(byNode.map((r) => r.n))}`);
  t.is(byNode.length, 2, 'both runners ran jobs');
});

test('ready jobs that can never fit this machine end the reconcile with exit 1 and say why', async (t) => {
  const dir = workdir();
  writeFileSync(
    join(dir, 'wf.yaml'),
    'name: toobig\nresource_requirements:\n  - {name: huge, num_cpus: 64, memory: 1m, runtime: PT1M}\njobs:\n  - {name: small, command: "true"}\n  - {name: big, command: "true", resource_requirements: huge, depends_on: [small]}\n',
  );
  const res = await runTorc(['reconcile', 'wf.yaml', '--num-cpus', '2', '--no-server', '--format', 'json'], { cwd: dir });
  t.is(res.code, 1);
  t.regex(res.stderr, /1 ready job\(s\) cannot run on this machine: no ready job fits the capacity/);
  t.regex(res.stderr, /--num-cpus/);
  const [summary] = JSON.parse(res.stdout) as { phase: string; counts: Record<string, number> }[];
  t.is(summary!.counts.completed, 1);
  t.is(summary!.counts.ready, 1, 'the big job stays ready for a later run with more resources');
  const more = await runTorc(['reconcile', 'wf.yaml', '--num-cpus', '64', '--no-server', '--format', 'json'], { cwd: dir });
  t.is(more.code, 0, more.stderr);
});

test('SIGTERM while the plan is being stored (just after the API is up) stops the run: the job does not run to its end', async (t) => {
  const dir = workdir();
  writeFileSync(join(dir, 'wf.yaml'), 'name: early\njobs:\n  - {name: long, command: "sleep 60"}\n');
  const run = startTorc(['reconcile', 'wf.yaml', '--port', '0', '-q'], { cwd: dir });
  await waitFor(() => /REST API/.test(run.output().stderr) || run.child.exitCode !== null, 120_000, 'the REST API to be up');
  run.child.kill('SIGTERM');
  const res = await run.result;
  t.not(res.code, 0, 'stopped, not finished');
  const jobs = await query<{ status: number }>(join(dir, '.torc', 'wf.db'), 'SELECT status FROM jobs');
  t.notDeepEqual(jobs, [{ status: 5 }], 'the job was not run to completion after the signal');
});
