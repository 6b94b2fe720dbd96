/**
 * use_pending_failed end to end (torc's semantics): a failure that no failure-handler rule
 * covers becomes pending_failed and keeps blocking its dependents (they are not canceled); a
 * failure whose rule ran out of retries stays failed. `torc reconcile` does not wait forever on
 * work nobody will do: it stops, says what waits on what, and a re-run runs the pending_failed
 * jobs (and their downstream) again.
 */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTorc } from '../support/cli.js';
import { query } from '../support/sqlite.js';

const SPEC = `name: classify-me
use_pending_failed: true
failure_handlers:
  - name: tens
    rules:
      - {exit_codes: [10], max_retries: 2}
jobs:
  # No handler: its failure waits for classification.
  - {name: unhandled, command: '[ -f fixed ] || exit 3'}
  - {name: after_unhandled, command: 'echo after >> ran.log', depends_on: [unhandled]}
  # A handler, but no rule for exit 4: also waits.
  - {name: unmatched, command: '[ -f fixed ] || exit 4', failure_handler: tens}
  # A rule that ran out of retries: failed for good, its dependent canceled.
  - {name: exhausted, command: 'exit 10', failure_handler: tens}
  - {name: after_exhausted, command: 'echo never >> ran.log', depends_on: [exhausted], cancel_on_blocking_job_failure: true}
`;

async function statuses(db: string): Promise<Record<string, number>> {
  const rows = await query<{ name: string; status: number }>(db, 'SELECT name, status FROM jobs');
  return Object.fromEntries(rows.map((r) => [r.name, r.status]));
}

test('pending_failed: uncovered failures wait blocking their dependents, reconcile stops instead of hanging, a re-run runs them again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-pending-failed-'));
  const db = join(dir, '.torc', 'wf.db');
  writeFileSync(join(dir, 'wf.yaml'), SPEC);
  const args = ['reconcile', 'wf.yaml', '--no-server', '--max-parallel-jobs', '2', '--poll-interval', '0.5', '--format', 'json'];

  const first = await runTorc(args, { cwd: dir, timeoutMs: 120_000 });
  t.is(first.code, 1, first.stderr);
  t.regex(first.stderr, /1 blocked job\(s\) wait on 2 pending_failed job\(s\)/);
  t.regex(first.stderr, /re-run to run them again/);
  const [summary] = JSON.parse(first.stdout) as { phase: string; counts: Record<string, number> }[];
  t.like(summary!.counts, { pending_failed: 2, blocked: 1, failed: 1, canceled: 1 });
  // Codes: blocked 1, failed 6, canceled 7, pending_failed 10.
  t.deepEqual(await statuses(db), { unhandled: 10, after_unhandled: 1, unmatched: 10, exhausted: 6, after_exhausted: 7 });
  const results = await query<{ name: string; status: number; return_code: number }>(
    db,
    'SELECT j.name, r.status, r.return_code FROM results r JOIN jobs j ON j.id = r.job_id ORDER BY r.id',
  );
  t.deepEqual(
    results.filter((r) => r.name !== 'exhausted').sort((a, b) => a.name.localeCompare(b.name)),
    [
      { name: 'unhandled', status: 10, return_code: 3 },
      { name: 'unmatched', status: 10, return_code: 4 },
    ],
    'the results keep the return code and say pending_failed',
  );
  t.deepEqual(results.filter((r) => r.name === 'exhausted').map((r) => r.status), [6, 6], 'retried once under its rule, then failed');

  // Classified as "run again" by re-running, after the cause was fixed.
  writeFileSync(join(dir, 'fixed'), '');
  const second = await runTorc(args, { cwd: dir, timeoutMs: 120_000 });
  t.regex(second.stderr, /re-running \d+ job\(s\) that did not succeed/);
  const after = await statuses(db);
  t.is(after.unhandled, 5);
  t.is(after.unmatched, 5);
  t.is(after.after_unhandled, 5, 'its dependent ran once it succeeded');
  t.is(after.exhausted, 6, 'still failing');
  t.is(second.code, 1, 'exhausted still fails');
});
