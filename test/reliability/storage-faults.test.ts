/**
 * Faults of the machine under the database (issue 24), on real files: a tmpfs that fills up
 * under `torc reconcile --db` and under `torc server --db`, a database file cut in half, a file
 * that is not a database. Each ends with a message for a person — what happened, what was kept,
 * what to do — never a bare `SQLITE_FULL` or a stack; and after space is freed the work finishes
 * with PRAGMA integrity_check ok, as the message promises.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, rmSync, truncateSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { runTorc, startTorc } from '../support/cli.js';
import { checkDatabaseFile } from '../support/invariants.js';
import { waitFor } from '../support/procs.js';
import { startTorcServer } from '../support/server-proc.js';
import { fillDisk, smallTmpfs } from '../support/tmpfs.js';

function scratch(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'torc-faults-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const lines = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

/** No raw driver error, no stack trace: the message is for a person. */
function plain(t: ExecutionContext, stderr: string): void {
  t.notRegex(stderr, /Error: SQLITE_|^\s+at /m, stderr);
}

const spec = (n: number, log: string) =>
  `name: faults\njobs:\n  - {name: "job_{i}", command: ${JSON.stringify(`echo $TORC_JOB_ID >> ${log}`)}, parameters: {i: "1:${n}"}}\n`;

test.serial('the disk under torc reconcile --db fills up: a plain message, the database consistent; after freeing space the same command finishes, integrity ok', async (t) => {
  t.timeout(300_000);
  const fs = smallTmpfs(t, 8 * 1024);
  if (!fs) return t.pass();
  const dir = scratch(t);
  const log = join(dir, 'ran.log');
  writeFileSync(join(dir, 'wf.yaml'), spec(2000, log));
  const db = join(fs, 'wf.db');
  const run = startTorc(['reconcile', 'wf.yaml', '--db', db, '--max-parallel-jobs', '4', '-q', '--no-server'], { cwd: dir, timeoutMs: 240_000 });
  await waitFor(() => lines(log).length >= 100 || run.child.exitCode !== null, 120_000, '100 jobs to run');
  const filled = fillDisk(join(fs, 'filler'));
  const res = await run.result;
  const ranBefore = lines(log).length;
  t.is(res.code, 1, res.stderr);
  t.regex(res.stderr, new RegExp(`error: the disk holding the database is full: ${db} \\(SQLite: database or disk is full\\)\\.`));
  t.regex(res.stderr, /Kept: everything stored before this moment\. The change that needed the space was rolled back whole/);
  t.regex(res.stderr, /To do: free space on that file system \(df -h .*\), then run the same command again/);
  plain(t, res.stderr);
  t.deepEqual((await checkDatabaseFile(db)).violations, [], 'consistent right after the fault');

  unlinkSync(join(fs, 'filler'));
  const again = await runTorc(['reconcile', 'wf.yaml', '--db', db, '--max-parallel-jobs', '4', '-q', '--no-server'], { cwd: dir, timeoutMs: 240_000 });
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /Succeeded\s*│\s*2000\s*│\s*2000/);
  t.is(new Set(lines(log)).size, 2000);
  t.deepEqual((await checkDatabaseFile(db)).violations, [], 'integrity_check ok and the invariants hold after the re-run');
  t.log(`disk filled (${filled} bytes) under a run that had run ${ranBefore} jobs; the re-run finished all 2000, integrity ok`);
});

test.serial('the disk under torc server --db fills up: 503 with the message, the runner keeps its reports and carries on when space is freed; every job once', async (t) => {
  t.timeout(300_000);
  const fs = smallTmpfs(t, 8 * 1024);
  if (!fs) return t.pass();
  const dir = scratch(t);
  const log = join(dir, 'ran.log');
  const db = join(fs, 'server.db');
  const server = await startTorcServer(db);
  t.teardown(() => server.stop());
  const client = new TorcClient(server.url);
  const { workflow_id: wf } = await client.createWorkflowFromSpec(spec(300, log));
  await client.initializeJobs(wf);
  const runner = startTorc(['run', String(wf), '--url', server.url, '--max-parallel-jobs', '4', '--output-dir', join(dir, 'out')], { cwd: dir, timeoutMs: 240_000 });
  await waitFor(() => lines(log).length >= 50, 120_000, '50 jobs to run');
  fillDisk(join(fs, 'filler'));
  // Condition, not time: the server said so, and the runner waits, keeping what it could not deliver.
  await waitFor(() => /database fault \(requests answered 503 until it is fixed\): the disk holding the database is full/.test(server.proc.output().stderr), 120_000, 'the server to log the fault');
  await waitFor(() => /server unreachable \(the disk holding the database is full/.test(runner.output().stderr), 120_000, 'the runner to wait for the server');
  unlinkSync(join(fs, 'filler'));
  const res = await runner.result;
  t.is(res.code, 0, res.stderr);
  t.regex(res.stderr, /server back after/);
  const status = await client.getWorkflowStatus(wf);
  t.is(status.phase, 'Succeeded');
  t.is((await client.listResults(wf, { limit: 1000 })).total_count, 300, 'one result per job');
  t.is(lines(log).length, 300, 'every job ran exactly once');
  t.is(new Set(lines(log)).size, 300);
  await server.stop();
  t.deepEqual((await checkDatabaseFile(db)).violations, []);
});

test.serial('a database cut in half, and a file that is not a database: a plain message naming the file, what was kept and what to do', async (t) => {
  t.timeout(300_000);
  const dir = scratch(t);
  writeFileSync(join(dir, 'wf.yaml'), spec(500, join(dir, 'ran.log')));
  const db = join(dir, 'cut.db');
  const made = await runTorc(['reconcile', 'wf.yaml', '--db', db, '--max-parallel-jobs', '8', '-q', '--no-server'], { cwd: dir, timeoutMs: 240_000 });
  t.is(made.code, 0, made.stderr);
  truncateSync(db, Math.floor(statSync(db).size / 2));
  for (const args of [['workflows', 'list', '--db', db], ['jobs', 'list', '1', '--db', db], ['reconcile', 'wf.yaml', '--db', db, '--no-server']]) {
    const res = await runTorc(args, { cwd: dir });
    t.is(res.code, 1, `${args.join(' ')}: ${res.stderr}`);
    t.regex(res.stderr, new RegExp(`error: the database file is damaged: ${db} \\(SQLite: database disk image is malformed\\)`));
    t.regex(res.stderr, /Kept: the file as it is; torc wrote nothing more to it\./);
    t.regex(res.stderr, /To do: keep a copy \(cp .* .*\.damaged\); see what SQLite can still read/);
    plain(t, res.stderr);
  }
  const junk = join(dir, 'junk.db');
  writeFileSync(junk, randomBytes(64 * 1024));
  for (const args of [['workflows', 'list', '--db', junk], ['server', '--db', junk, '--port', '0'], ['reconcile', 'wf.yaml', '--db', junk, '--no-server']]) {
    const res = await runTorc(args, { cwd: dir });
    t.is(res.code, 1, `${args.join(' ')}: ${res.stderr}`);
    t.regex(res.stderr, new RegExp(`error: ${junk} is not a torc database \\(SQLite: file is not a database\\)`));
    t.regex(res.stderr, /To do: check the --db path/);
    plain(t, res.stderr);
  }
});
