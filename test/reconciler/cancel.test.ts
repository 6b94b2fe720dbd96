/**
 * Cancel mid-run: `torc workflows cancel` against a running `torc reconcile` through its REST
 * API. Nothing new starts, the running jobs are terminated by their runner (their processes are
 * gone), the rest are canceled, and the workflow ends Canceled.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTorc, startTorc } from '../support/cli.js';
import { isAlive, waitFor } from '../support/procs.js';
import { query } from '../support/sqlite.js';

test('cancel mid-run: running jobs terminated, nothing new starts, phase Canceled', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-cancel-'));
  const started = join(dir, 'started.log');
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: cancel-me
jobs:
  - {name: "long_{i}", command: 'echo "$TORC_JOB_ID $$" >> started.log; sleep 120', parameters: {i: "1:4"}}
  - {name: after, command: 'echo "$TORC_JOB_ID after" >> started.log', depends_on: [long_1]}
`,
  );
  const reconcile = startTorc(['reconcile', 'wf.yaml', '--max-parallel-jobs', '2', '--poll-interval', '0.5', '--format', 'json', '-q'], {
    cwd: dir,
    timeoutMs: 120_000,
  });
  const lines = () => (existsSync(started) ? readFileSync(started, 'utf8').trim().split('\n').filter(Boolean) : []);
  // Started, and recorded as running (queue depth records a start on the runner's next turn:
  // a cancel before that would find the two still pending and cancel them instead).
  const runningInDb = async () => (await query<{ n: number }>(join(dir, '.torc', 'wf.db'), 'SELECT COUNT(*) AS n FROM jobs WHERE status = 4').catch(() => [{ n: 0 }]))[0]!.n;
  await waitFor(async () => lines().length === 2 && (await runningInDb()) === 2, 60_000, 'two jobs running');
  const url = /REST API: (\S+)/.exec(reconcile.output().stderr)?.[1];
  t.truthy(url);
  const tokenFile = /--token-file (\S+)/.exec(reconcile.output().stderr)?.[1];
  t.truthy(tokenFile);
  const pids = lines().map((l) => Number(l.split(' ')[1]));
  t.true(pids.every(isAlive));

  const cancel = await runTorc(['workflows', 'cancel', '1', '--url', url!, '--token-file', tokenFile!, '--format', 'json'], { cwd: dir });
  t.is(cancel.code, 0, cancel.stderr);
  t.like(JSON.parse(cancel.stdout), { workflow_id: 1, canceled: 3 });
  t.is(JSON.parse(cancel.stdout).running_job_ids.length, 2);

  const res = await reconcile.result;
  t.is(res.code, 1, res.stderr);
  const [summary] = JSON.parse(res.stdout) as { phase: string; counts: Record<string, number> }[];
  t.is(summary!.phase, 'Canceled');
  t.like(summary!.counts, { terminated: 2, canceled: 3, completed: 0 });
  t.is(lines().length, 2, 'no other job started');
  for (const pid of pids) t.false(isAlive(pid), `job process ${pid} is gone`);
  const terminated = await query<{ status: number }>(join(dir, '.torc', 'wf.db'), 'SELECT status FROM results ORDER BY job_id');
  t.deepEqual(terminated.map((r) => r.status), [8, 8]);
});
