/**
 * A `schedule` (cron) workflow: `torc reconcile --max-runs N` runs it now and again at the
 * ticks of an every-second schedule (6-field cron, test-only rate); runs never overlap and the
 * ticks that came during a run are skipped and recorded.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTorc } from '../support/cli.js';
import { query } from '../support/sqlite.js';

test('an every-second schedule runs the workflow at least twice, never overlapping; skipped ticks are recorded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-schedule-'));
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: cron
schedule: "* * * * * *"
jobs:
  # Longer than a tick, so that ticks come while a run is going.
  - {name: first, command: 's=$EPOCHREALTIME; sleep 1.3; echo "$TORC_JOB_NAME $s $EPOCHREALTIME" >> runs.log'}
  - {name: second, command: 's=$EPOCHREALTIME; sleep 0.2; echo "$TORC_JOB_NAME $s $EPOCHREALTIME" >> runs.log', depends_on: [first]}
`,
  );
  const res = await runTorc(['reconcile', 'wf.yaml', '--no-server', '-q', '--max-runs', '2', '--format', 'json'], { cwd: dir });
  t.is(res.code, 0, res.stderr);
  const summary = JSON.parse(res.stdout) as { run: number; phase: string }[];
  t.deepEqual(summary.map((r) => [r.run, r.phase]), [
    [1, 'Succeeded'],
    [2, 'Succeeded'],
  ]);
  // Each run is first then second; a run starts only after the previous one ended.
  const lines = readFileSync(join(dir, 'runs.log'), 'utf8').trim().split('\n').map((l) => l.split(' '));
  t.deepEqual(lines.map((l) => l[0]), ['first', 'second', 'first', 'second']);
  const spans = lines.map(([, s, e]) => [Number(s), Number(e)] as const);
  for (let i = 1; i < spans.length; i++) t.true(spans[i]![0] >= spans[i - 1]![1], `job ${i} started after job ${i - 1} ended`);
  const db = join(dir, '.torc', 'wf.db');
  const events = await query<{ category: string; n: number }>(db, 'SELECT category, COUNT(*) AS n FROM events GROUP BY category');
  const count = Object.fromEntries(events.map((e) => [e.category, e.n]));
  t.is(count.schedule_run_started, 1, 'one run started by a tick (the first one at start)');
  t.true((count.schedule_tick_skipped ?? 0) >= 1, 'a tick during a 1.5 s run was skipped and recorded');
  const [wf] = await query<{ run_id: number }>(db, 'SELECT run_id FROM workflows');
  t.is(wf!.run_id, 2);
  const results = await query<{ run_id: number; n: number }>(db, 'SELECT run_id, COUNT(*) AS n FROM results GROUP BY run_id ORDER BY run_id');
  t.deepEqual(results, [
    { run_id: 1, n: 2 },
    { run_id: 2, n: 2 },
  ]);
});
