/**
 * Several processes writing one SQLite file (a `torc server` and a `torc reconcile` on the same
 * database, two runners sharing it): the store's busy_timeout plus whole-transaction retries
 * mean no write is refused and no update is lost. Real processes (test/support/db-writer.ts),
 * started together on a fresh file (so the migrations race too), with a busy timeout of 1 ms
 * so that contention reaches the retry loop.
 * - increments: read-modify-write transactions on one counter: every value written exactly
 *   once, the final count the sum; with retries switched off the same load fails (SQLITE_BUSY),
 *   which shows the contention is real and the retries are what absorb it;
 * - claims: two processes claim, start and complete the jobs of one workflow: each job once.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cli.js';
import { checkDatabaseFile } from '../support/invariants.js';
import { makePlan } from '../support/plans.js';
import { waitFor } from '../support/procs.js';
import { scratchDir } from '../support/scratch.js';
import { Store } from '../../src/store/index.js';

interface WriterOutput {
  pid: number;
  wrote: number[];
  claimed: number[];
  failures: string[];
}

function writer(args: string[]): { done: Promise<WriterOutput> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'support', 'db-writer.ts'), ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const done = new Promise<WriterOutput>((resolve, reject) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`writer exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as WriterOutput);
    }),
  );
  return { done };
}

/** Starts `n` writers and releases them together once each has opened the store. */
async function together(t: ExecutionContext, n: number, args: (go: string) => string[]): Promise<WriterOutput[]> {
  const dir = scratchDir(t, 'torc-go-');
  const go = join(dir, 'go');
  const writers = Array.from({ length: n }, () => writer(args(go)));
  const failed = Promise.all(writers.map((w) => w.done)).then(() => true, () => true);
  let ended = false;
  void failed.then(() => (ended = true));
  await waitFor(() => ended || readdirSync(dir).filter((f) => f.startsWith('go.ready.')).length === n, 120_000, 'the writers to open the store');
  writeFileSync(go, '');
  return Promise.all(writers.map((w) => w.done));
}

const INCREMENTS = 1500;

test('two processes, read-modify-write increments on a fresh file with a 1 ms busy timeout: no refused write, no lost update', async (t) => {
  t.timeout(300_000);
  const db = join(scratchDir(t, 'torc-2p-'), 'shared.db');
  const outs = await together(t, 2, (go) => ['increment', db, go, String(INCREMENTS), '1', '200']);
  t.deepEqual(outs.flatMap((o) => o.failures), [], 'no write was refused');
  const all = outs.flatMap((o) => o.wrote).sort((a, b) => a - b);
  t.is(all.length, 2 * INCREMENTS);
  t.deepEqual(all, Array.from({ length: 2 * INCREMENTS }, (_, i) => i + 1), 'every value written exactly once');
  t.true(outs.every((o) => o.wrote.length === INCREMENTS));
  // How often the writer changed along the sequence of values: the two really ran at once.
  const owner = new Map(outs.flatMap((o, k) => o.wrote.map((v) => [v, k] as const)));
  let switches = 0;
  for (let v = 2; v <= 2 * INCREMENTS; v++) if (owner.get(v) !== owner.get(v - 1)) switches++;
  t.true(switches >= 1);
  const store = await Store.open(db);
  t.deepEqual(await store.db.get('SELECT v FROM counter WHERE id = 1'), { v: 2 * INCREMENTS });
  t.deepEqual(await store.db.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
  await store.close();
  t.log(`2 processes × ${INCREMENTS} increments (busy_timeout 1 ms, retries on): ${all.length} distinct values, final count ${2 * INCREMENTS}, writer changed ${switches} times`);
});

test('control: the same contention with retries off and no busy timeout does fail (SQLITE_BUSY), so the retries are what absorb it', async (t) => {
  t.timeout(300_000);
  const db = join(scratchDir(t, 'torc-2p-'), 'shared.db');
  const outs = await together(t, 2, (go) => ['increment', db, go, String(INCREMENTS), '0', '0']);
  const failures = outs.flatMap((o) => o.failures);
  t.true(failures.length > 0, 'some transaction met a busy database');
  t.true(failures.every((f) => f === 'SQLITE_BUSY'), JSON.stringify([...new Set(failures)]));
  // What did commit is still exact: no value written twice.
  const all = outs.flatMap((o) => o.wrote);
  t.is(new Set(all).size, all.length);
  t.log(`without retries: ${failures.length} of ${2 * INCREMENTS} transactions refused with SQLITE_BUSY`);
});

test('two processes claiming, starting and completing one workflow: each job exactly once, invariants hold', async (t) => {
  t.timeout(300_000);
  const db = join(scratchDir(t, 'torc-2p-'), 'shared.db');
  const jobs = 400;
  const store = await Store.open(db);
  const wf = await store.createWorkflowFromPlan(
    makePlan({ jobs: Array.from({ length: jobs }, (_, i) => ({ name: `j${i}`, after: i >= 200 ? [`j${i - 200}`] : [] })) }),
  );
  await store.initializeJobs(wf.id);
  await store.close();
  const outs = await together(t, 2, (go) => ['claim', db, go, '3', '1', '200', String(wf.id)]);
  t.deepEqual(outs.flatMap((o) => o.failures), []);
  const claimed = outs.flatMap((o) => o.claimed);
  t.is(claimed.length, jobs);
  t.is(new Set(claimed).size, jobs, 'no job claimed twice');
  const report = await checkDatabaseFile(db);
  t.deepEqual(report.violations, []);
  t.is(report.checked.results, jobs);
  t.log(`2 processes claimed ${outs.map((o) => o.claimed.length).join(' + ')} of ${jobs} jobs: each once, ${report.checked.results} results`);
});
