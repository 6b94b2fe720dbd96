/**
 * Failure handlers end to end: one `torc reconcile` of a workflow with a rule of each kind,
 * real job processes, the real database. Retry then success (with the recovery script's
 * environment), retries exhausted → failed with dependents canceled or run as configured, and
 * an exit-137 job retried with doubled memory.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTorc, type CliResult } from '../support/cli.js';
import { query } from '../support/sqlite.js';

const GIB = 1024 ** 3;
const dir = mkdtempSync(join(tmpdir(), 'torc-failure-'));
const db = join(dir, '.torc', 'wf.db');
let run: Promise<CliResult>;

test.before(() => {
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: failure-policy
resource_requirements:
  - {name: one_gig, num_cpus: 1, memory: 1g, runtime: PT5M}
failure_handlers:
  - name: flaky_then_ok
    rules:
      - {exit_codes: [1], max_retries: 2}
      - {exit_codes: [3], max_retries: 2, recovery_script: 'echo "$TORC_RETURN_CODE $TORC_JOB_NAME $TORC_ATTEMPT_ID $TORC_JOB_ID" >> recovery.log; touch recovered'}
  - name: give_up
    rules:
      - {match_all_exit_codes: true, max_retries: 3}
  - name: oom
    rules:
      - {exit_codes: [137], max_retries: 2, memory_multiplier: 2}
jobs:
  # Succeeds only once its recovery script has run.
  - {name: flaky, command: '[ -f recovered ] || exit 3', failure_handler: flaky_then_ok}
  - {name: doomed, command: 'echo "$TORC_ATTEMPT_ID" >> doomed.log; exit 5', failure_handler: give_up}
  - {name: strict, command: 'echo strict >> ran.log', depends_on: [doomed], cancel_on_blocking_job_failure: true}
  - {name: lenient, command: 'echo lenient >> ran.log', depends_on: [doomed], cancel_on_blocking_job_failure: false}
  # "Runs out of memory" (exit 137) unless it was given at least 2 GiB.
  - name: hungry
    resource_requirements: one_gig
    failure_handler: oom
    command: 'echo "$TORC_JOB_MEMORY_BYTES" >> hungry.log; [ "$TORC_JOB_MEMORY_BYTES" -ge ${2 * GIB} ] || exit 137'
`,
  );
  run = runTorc(['reconcile', 'wf.yaml', '--no-server', '--num-cpus', '2', '--memory-gb', '4', '--poll-interval', '0.5', '--format', 'json'], { cwd: dir });
});

async function jobs(): Promise<Record<string, { status: number; attempt: number; id: number; resource_requirements_id: number }>> {
  const rows = await query<{ name: string; status: number; attempt: number; id: number; resource_requirements_id: number }>(
    db,
    'SELECT name, status, attempt, id, resource_requirements_id FROM jobs',
  );
  return Object.fromEntries(rows.map((r) => [r.name, r]));
}

test('the workflow ends Failed (one job exhausted its retries) with exit 1', async (t) => {
  const res = await run;
  t.is(res.code, 1, res.stderr);
  const [summary] = JSON.parse(res.stdout) as { phase: string; counts: Record<string, number> }[];
  t.is(summary!.phase, 'Failed');
  t.like(summary!.counts, { completed: 3, failed: 1, canceled: 1 });
});

test('retry then success: the recovery script ran once, before the retry, with the failed attempt environment', async (t) => {
  await run;
  const j = await jobs();
  t.like(j.flaky, { status: 5, attempt: 2 });
  t.is(readFileSync(join(dir, 'recovery.log'), 'utf8'), `3 flaky 1 ${j.flaky!.id}\n`);
  const results = await query<{ attempt: number; return_code: number; status: number }>(
    db,
    'SELECT attempt, return_code, status FROM results WHERE job_id = ? ORDER BY attempt',
    [j.flaky!.id],
  );
  t.deepEqual(results, [
    { attempt: 1, return_code: 3, status: 6 },
    { attempt: 2, return_code: 0, status: 5 },
  ]);
});

test('retries exhausted → failed; the dependent that asked is canceled, the other still runs', async (t) => {
  await run;
  const j = await jobs();
  t.like(j.doomed, { status: 6, attempt: 3 });
  t.is(readFileSync(join(dir, 'doomed.log'), 'utf8'), '1\n2\n3\n', 'max_retries 3: three attempts (torc stops at attempt_id >= max_retries)');
  t.is(j.strict!.status, 7);
  t.is(j.lenient!.status, 5);
  t.is(readFileSync(join(dir, 'ran.log'), 'utf8'), 'lenient\n', 'the canceled dependent never ran');
});

test('an exit-137 job is retried with doubled memory; the raise is recorded in events', async (t) => {
  await run;
  const j = await jobs();
  t.like(j.hungry, { status: 5, attempt: 2 });
  t.is(readFileSync(join(dir, 'hungry.log'), 'utf8'), `${GIB}\n${2 * GIB}\n`);
  const [rr] = await query<{ memory_bytes: number; job_id: number }>(db, 'SELECT memory_bytes, job_id FROM resource_requirements WHERE id = ?', [
    j.hungry!.resource_requirements_id,
  ]);
  t.deepEqual(rr, { memory_bytes: 2 * GIB, job_id: j.hungry!.id });
  const events = await query<{ data: string }>(db, "SELECT data FROM events WHERE category = 'job_resources_raised'");
  t.is(events.length, 1);
  t.like(JSON.parse(events[0]!.data), { job_id: j.hungry!.id, from: { memory_bytes: GIB }, to: { memory_bytes: 2 * GIB }, capped: [] });
});
