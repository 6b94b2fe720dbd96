/**
 * Reinitialize end to end, and the workflow/job commands on a reconcile's database (--db):
 * touching an input file, then `torc workflows reinitialize`, re-runs exactly the job that
 * reads it and its downstream on the next `torc reconcile`.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTorc } from '../support/cli.js';

function runs(dir: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of readFileSync(join(dir, 'ran.log'), 'utf8').trim().split('\n')) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

test('touch an input, reinitialize: exactly its reader and downstream run again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-reinit-'));
  writeFileSync(join(dir, 'raw.txt'), 'raw\n');
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: chain
files:
  - {name: raw, path: raw.txt}
  - {name: mid, path: mid.txt}
  - {name: out, path: out.txt}
  - {name: side, path: side.txt}
jobs:
  - {name: first, command: 'echo first >> ran.log; cat \${files.input.raw} > \${files.output.mid}'}
  - {name: second, command: 'echo second >> ran.log; cat \${files.input.mid} > \${files.output.out}'}
  - {name: third, command: 'echo third >> ran.log; cat \${files.input.out} > /dev/null', depends_on: [second]}
  - {name: aside, command: 'echo aside >> ran.log; cat \${files.input.raw} > \${files.output.side}'}
`,
  );
  const reconcile = ['reconcile', 'wf.yaml', '--no-server', '-q', '--format', 'json'];
  const first = await runTorc(reconcile, { cwd: dir });
  t.is(first.code, 0, first.stderr);
  t.deepEqual(runs(dir), { first: 1, second: 1, third: 1, aside: 1 });
  const db = ['--db', join(dir, '.torc', 'wf.db')];

  // Nothing changed: nothing to do.
  const quiet = await runTorc(['workflows', 'reinitialize', '1', ...db, '--format', 'json'], { cwd: dir });
  t.is(quiet.code, 0, quiet.stderr);
  t.deepEqual(JSON.parse(quiet.stdout).jobs, []);

  // mid.txt, written by `first` and read by `second`, is touched.
  const later = Date.now() / 1000 + 5;
  utimesSync(join(dir, 'mid.txt'), later, later);
  const dry = await runTorc(['workflows', 'reinitialize', '1', '--dry-run', ...db], { cwd: dir });
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /2 job\(s\) would be reset/);
  t.regex(dry.stdout, /second .*input file mid changed/);
  t.regex(dry.stdout, /third .*downstream of second/);
  const status = await runTorc(['workflows', 'status', '1', ...db, '--format', 'json'], { cwd: dir });
  t.is(JSON.parse(status.stdout).phase, 'Succeeded', 'the dry run changed nothing');

  const real = await runTorc(['workflows', 'reinitialize', '1', ...db, '--format', 'json'], { cwd: dir });
  t.is(real.code, 0, real.stderr);
  t.deepEqual(JSON.parse(real.stdout).reinitialized_jobs, ['second', 'third']);
  const ready = await runTorc(['jobs', 'list', '1', '--status', 'ready', ...db, '--format', 'json'], { cwd: dir });
  t.deepEqual((JSON.parse(ready.stdout) as { name: string }[]).map((j) => j.name), ['second']);

  const again = await runTorc(reconcile, { cwd: dir });
  t.is(again.code, 0, again.stderr);
  t.deepEqual(runs(dir), { first: 1, second: 2, third: 2, aside: 1 });
});

test('workflow commands: list, show, status, reset-status --failed-only, table and json; bad input exits 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-wfcli-'));
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: partly
jobs:
  - {name: good, command: 'echo good >> ran.log'}
  - {name: bad, command: '[ -f fixed ] || exit 4'}
  - {name: child, command: 'echo child >> ran.log', depends_on: [bad], cancel_on_blocking_job_failure: true}
`,
  );
  const first = await runTorc(['reconcile', 'wf.yaml', '--no-server', '-q'], { cwd: dir });
  t.is(first.code, 1);
  const db = ['--db', join(dir, '.torc', 'wf.db')];

  const list = await runTorc(['workflows', 'list', ...db, '--format', 'json'], { cwd: dir });
  t.like(JSON.parse(list.stdout), [{ id: 1, name: 'partly', run_id: 1, is_canceled: false }]);
  const table = await runTorc(['workflows', 'list', ...db], { cwd: dir });
  t.regex(table.stdout, /│ 1 +│ partly/);
  const show = await runTorc(['workflows', 'show', '1', ...db, '--format', 'json'], { cwd: dir });
  t.like(JSON.parse(show.stdout), { id: 1, name: 'partly', actions: [] });
  const status = await runTorc(['workflows', 'status', '1', ...db], { cwd: dir });
  t.regex(status.stdout, /workflow 1: Failed \(run 1\), 3 of 3 jobs finished/);

  writeFileSync(join(dir, 'fixed'), '');
  const reset = await runTorc(['workflows', 'reset-status', '1', '--failed-only', ...db, '--format', 'json'], { cwd: dir });
  t.is(reset.code, 0, reset.stderr);
  t.like(JSON.parse(reset.stdout), { updated_count: 2, run_id: 2, initialized: { ready: 1, blocked: 1 } });
  const jobs = await runTorc(['jobs', 'list', '1', ...db, '--format', 'json'], { cwd: dir });
  t.deepEqual(
    (JSON.parse(jobs.stdout) as { name: string; status: string }[]).map((j) => [j.name, j.status]),
    [
      ['good', 'completed'],
      ['bad', 'ready'],
      ['child', 'blocked'],
    ],
  );
  const second = await runTorc(['reconcile', 'wf.yaml', '--no-server', '-q'], { cwd: dir });
  t.is(second.code, 0, second.stderr);
  t.is(readFileSync(join(dir, 'ran.log'), 'utf8'), 'good\nchild\n', 'only the reset jobs ran');

  for (const args of [
    ['workflows', 'status', 'x', ...db],
    ['workflows', 'list', ...db, '--url', 'http://127.0.0.1:1'],
    ['jobs', 'list', '1', '--status', 'bogus', ...db],
  ]) {
    const res = await runTorc(args, { cwd: dir, env: { TORC_API_URL: undefined } });
    t.is(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    t.regex(res.stderr, /error: (WF|--db|--status)/);
  }
  const nowhere = await runTorc(['workflows', 'list'], { cwd: dir, env: { TORC_API_URL: undefined } });
  t.is(nowhere.code, 2);
  t.regex(nowhere.stderr, /--url/);
  const unknown = await runTorc(['workflows', 'status', '9', ...db], { cwd: dir });
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /workflow 9 not found/);
});
