/**
 * Crash trials for `torc reconcile`: run the real binary on a small DAG whose jobs log every
 * start and end, `kill -9` it at a random moment (during start-up, store creation, dispatch,
 * or near the end), look at what the database says was completed, and run the same command
 * again — several kills per trial, then one run to the end. Checked after every kill and at
 * the end: no job that the database had recorded as completed ever started again, every job
 * ends completed, and the database passes integrity_check and the invariant checker.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTorc, startTorc } from './cli.js';
import { rng } from './rng.js';
import { checkDatabaseFile, openReadOnly } from './invariants.js';

export interface CrashTrial {
  /** When each run was killed: `<ms> ms` after spawning, or `after <n> starts` of jobs (the last run is not killed). */
  kills: string[];
  /** Runs that had already exited when their kill came. */
  finishedBeforeKill: number;
  /** Completed jobs the database held after each kill. */
  completedAtKill: number[];
  /** Jobs started more than once (they were running or claimed when killed: expected). */
  restartedJobs: number;
  problems: string[];
}

const JOBS_A = 16;

/** A three-stage DAG of 2·JOBS_A + 1 jobs that log `<job id> start|end <attempt>` to runs.log. */
function crashSpec(log: string): string {
  const body = (pause: string) =>
    JSON.stringify(`echo "$TORC_JOB_ID start $TORC_ATTEMPT" >> ${log}; sleep ${pause}; echo "$TORC_JOB_ID end $TORC_ATTEMPT" >> ${log}`);
  return [
    'name: crash-trial',
    'jobs:',
    `  - {name: "a_{i}", command: ${body('0.05')}, parameters: {i: "1:${JOBS_A}"}}`,
    `  - {name: "b_{i}", command: ${body('0.1')}, depends_on: ["a_{i}"], parameters: {i: "1:${JOBS_A}"}}`,
    `  - {name: gather, command: ${body('0.05')}, depends_on_regexes: ["^b_"]}`,
    '',
  ].join('\n');
}

export const CRASH_JOBS = 2 * JOBS_A + 1;

function startsByJob(log: string): Map<number, number> {
  const starts = new Map<number, number>();
  if (!existsSync(log)) return starts;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /^(\d+) start/.exec(line);
    if (m) starts.set(Number(m[1]), (starts.get(Number(m[1])) ?? 0) + 1);
  }
  return starts;
}

async function hasSchema(dbPath: string): Promise<boolean> {
  if (!existsSync(dbPath)) return false;
  const db = await openReadOnly(dbPath);
  try {
    const tables = await db.all<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'jobs'");
    return tables[0]!.n > 0;
  } finally {
    await db.close();
  }
}

async function completedJobs(dbPath: string): Promise<number[]> {
  if (!(await hasSchema(dbPath))) return [];
  const db = await openReadOnly(dbPath);
  try {
    return (await db.all<{ id: number }>('SELECT id FROM jobs WHERE status = 5')).map((r) => r.id);
  } finally {
    await db.close();
  }
}

/** Wall time of one uninterrupted run (spawn to exit), to spread the kills over. */
export async function calibrate(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'torc-crash-cal-'));
  try {
    writeFileSync(join(dir, 'wf.yaml'), crashSpec(join(dir, 'runs.log')));
    const t0 = Date.now();
    const res = await runTorc(['reconcile', 'wf.yaml', '--max-parallel-jobs', '4', '--no-server', '-q'], { cwd: dir, timeoutMs: 240_000 });
    if (res.code !== 0) throw new Error(`calibration run failed: ${res.stderr}`);
    return Date.now() - t0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One trial: `kills` runs killed at random moments of a run that takes about spanMs, then a run to the end. */
export async function crashTrial(seed: number, kills: number, spanMs: number): Promise<CrashTrial> {
  const rand = rng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'torc-crash-'));
  const log = join(dir, 'runs.log');
  const dbPath = join(dir, '.torc', 'wf.db');
  writeFileSync(join(dir, 'wf.yaml'), crashSpec(log));
  // Half the trials serve the REST API too (another thread of work to be killed in).
  const args = ['reconcile', 'wf.yaml', '--max-parallel-jobs', '4', '-q', ...(rand() < 0.5 ? ['--no-server'] : ['--port', '0'])];
  const out: CrashTrial = { kills: [], finishedBeforeKill: 0, completedAtKill: [], restartedJobs: 0, problems: [] };
  const guarded: { completed: number[]; starts: Map<number, number> }[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      // A third of the kills come at a random time of the run (start-up: opening and migrating
      // the store, storing the plan, …); the rest once a random number of jobs have started, so
      // that they land while jobs are dispatched, run and reaped, whatever the machine's speed.
      const byTime = rand() < 1 / 3;
      const at = Math.floor(rand() * spanMs);
      const startsBefore = [...startsByJob(log).values()].reduce((a, b) => a + b, 0);
      const afterStarts = 1 + Math.floor(rand() * (CRASH_JOBS - 1));
      const run = startTorc(args, { cwd: dir, timeoutMs: 240_000 });
      const t0 = Date.now();
      for (;;) {
        if (run.child.exitCode !== null) break;
        if (byTime ? Date.now() - t0 >= at : [...startsByJob(log).values()].reduce((a, b) => a + b, 0) - startsBefore >= afterStarts) break;
        await new Promise((r) => setTimeout(r, byTime ? 1 : 10));
      }
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      const res = await run.result;
      out.kills.push(byTime ? `${at} ms` : `after ${afterStarts} starts`);
      if (res.signal !== 'SIGKILL') {
        out.finishedBeforeKill++;
        if (res.code !== 0) out.problems.push(`run ${k + 1} exited ${res.code} before its kill: ${res.stderr.slice(0, 500)}`);
      }
      const completed = await completedJobs(dbPath);
      out.completedAtKill.push(completed.length);
      guarded.push({ completed, starts: startsByJob(log) });
      // A kill during start-up may leave a database file whose schema was never committed
      // (migrations run in one transaction): nothing stored yet, nothing to check.
      if (await hasSchema(dbPath)) {
        const report = await checkDatabaseFile(dbPath);
        out.problems.push(...report.violations.map((v) => `after kill ${k + 1} (${out.kills[k]}): ${v}`));
      }
    }
    const last = await runTorc(args, { cwd: dir, timeoutMs: 240_000 });
    if (last.code !== 0) out.problems.push(`final run exited ${last.code}: ${last.stderr.slice(0, 1000)}`);
    const starts = startsByJob(log);
    for (const [k, g] of guarded.entries()) {
      for (const id of g.completed) {
        if (starts.get(id) !== g.starts.get(id)) {
          out.problems.push(`job ${id}, completed at kill ${k + 1}, started again (${g.starts.get(id)} → ${starts.get(id)} starts)`);
        }
      }
    }
    const completed = await completedJobs(dbPath);
    if (completed.length !== CRASH_JOBS) out.problems.push(`${completed.length} of ${CRASH_JOBS} jobs completed at the end`);
    out.restartedJobs = [...starts.values()].filter((n) => n > 1).length;
    const report = await checkDatabaseFile(dbPath);
    out.problems.push(...report.violations.map((v) => `at the end: ${v}`));
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
