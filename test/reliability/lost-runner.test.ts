/**
 * A lost runner: an external `torc run … --url` holding running jobs is SIGKILLed. Its job
 * processes do not run on (its spawner helper ends them when the runner is gone), and once its
 * lease (2 s here, set with --lease-seconds) runs out, the server sends those jobs back to
 * ready with attempt + 1; a second runner then finishes them, each with exactly one result of
 * the new attempt, no two runs of a job overlap, and the database passes the invariant checker.
 */
import test from 'ava';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { JobStatus } from '../../src/contract/status.js';
import { runTorc, startTorc } from '../support/cli.js';
import { checkDatabaseFile } from '../support/invariants.js';
import { waitFor } from '../support/procs.js';
import { scratchDir } from '../support/scratch.js';
import { startTorcServer } from '../support/server-proc.js';

const JOBS = 10;

test('a SIGKILLed external runner: after its lease its running jobs are ready again (attempt + 1) and finish on another runner', async (t) => {
  t.timeout(300_000);
  const dir = scratchDir(t, 'torc-lost-');
  const log = join(dir, 'runs.log');
  const server = await startTorcServer(join(dir, 'wf.db'));
  t.teardown(() => server.stop());
  const client = new TorcClient(server.url);
  // Each run logs "<job> <attempt> start|end <output dir> <time>".
  const say = (what: string) => `echo "$TORC_JOB_ID $TORC_ATTEMPT ${what} $TORC_OUTPUT_DIR $(date +%s.%N)" >> ${log}`;
  const spec = `name: lost\njobs:\n  - {name: "job_{i}", command: ${JSON.stringify(`${say('start')}; sleep 2; ${say('end')}`)}, parameters: {i: "1:${JOBS}"}}\n`;
  writeFileSync(join(dir, 'wf.yaml'), spec);
  const { workflow_id: wf } = await client.createWorkflowFromSpec(spec);
  await client.initializeJobs(wf);

  // Runner A takes four jobs, then dies without a word.
  const a = startTorc(['run', String(wf), '--url', server.url, '--max-parallel-jobs', '4', '--lease-seconds', '2', '--poll-interval', '0.2', '--output-dir', join(dir, 'a')], { cwd: dir, timeoutMs: 120_000 });
  await waitFor(async () => (await client.listJobs(wf, { status: 'running' })).total_count === 4, 60_000, 'runner A running 4 jobs');
  const held = (await client.listJobs(wf, { status: 'running' })).items;
  a.child.kill('SIGKILL');
  await a.result;
  t.true(held.every((j) => j.attempt === 1));
  const nodeA = held[0]!.compute_node_id;

  // Nobody else runs: after A's lease the server requeues its jobs (the lease sweep), attempt 2.
  await waitFor(async () => {
    const jobs = await Promise.all(held.map((j) => client.getJob(j.id)));
    return jobs.every((j) => j.status === JobStatus.ready && j.attempt === 2);
  }, 60_000, "runner A's jobs back to ready with attempt 2");
  const nodes = await client.listComputeNodes(wf);
  t.false(nodes.items.find((n) => n.id === nodeA)!.is_active, 'runner A was retired');

  // Runner B finishes the workflow, the requeued jobs included.
  const b = await runTorc(['run', String(wf), '--url', server.url, '--max-parallel-jobs', '4', '--poll-interval', '0.2', '--output-dir', join(dir, 'b'), '-q'], { cwd: dir, timeoutMs: 120_000 });
  t.is(b.code, 0, b.stderr);
  const progress = await client.getProgress(wf);
  t.is(progress.counts.completed, JOBS);
  const results = (await client.listResults(wf, { limit: 1000 })).items;
  t.is(results.length, JOBS, 'one result per job: nothing of runner A was reported');
  for (const j of held) {
    const rs = results.filter((r) => r.job_id === j.id);
    t.is(rs.length, 1);
    t.is(rs[0]!.attempt, 2);
    t.not(rs[0]!.compute_node_id, nodeA, `job ${j.id} finished on another runner`);
  }
  const runs = (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []).map((l) => {
    const [job, attempt, what, out, time] = l.split(' ');
    return { job: Number(job), attempt: Number(attempt), what, out, time: Number(time) };
  });
  for (const j of held) {
    // The first attempt was cut off with its runner: it never reached its end.
    t.false(runs.some((r) => r.job === j.id && r.attempt === 1 && r.what === 'end'), `job ${j.id}: attempt 1 ran on after its runner died`);
    t.true(runs.some((r) => r.job === j.id && r.attempt === 2 && r.what === 'end' && r.out === join(dir, 'b')), `job ${j.id} attempt 2 ran on B`);
  }
  // No two runs of one job overlap in time. A run cut off without its end line lived at most
  // its 2 s of sleep (else it would have written the line).
  const byJob = new Map<number, { from: number; to: number }[]>();
  for (const r of runs.filter((x) => x.what === 'start')) {
    const end = runs.find((x) => x.job === r.job && x.attempt === r.attempt && x.what === 'end');
    byJob.set(r.job, [...(byJob.get(r.job) ?? []), { from: r.time, to: end ? end.time : r.time + 2 }]);
  }
  for (const [id, spans] of byJob) {
    spans.sort((x, y) => x.from - y.from);
    for (let k = 1; k < spans.length; k++) t.true(spans[k]!.from >= spans[k - 1]!.to, `job ${id}: two runs at once`);
  }
  t.deepEqual((await checkDatabaseFile(join(dir, 'wf.db'))).violations, []);
  t.log(`${JOBS} jobs; runner A SIGKILLed holding ${held.length} running jobs (lease 2 s); all ${held.length} requeued with attempt 2 and completed by runner B`);
});
