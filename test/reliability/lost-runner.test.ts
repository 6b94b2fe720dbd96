/**
 * A lost runner: an external `torc run … --url` holding running jobs is SIGKILLed. Its job
 * processes do not run on (its spawner helper ends them when the runner is gone), and once its
 * lease (2 s here, set with --lease-seconds) runs out, the server sends those jobs back to
 * ready with attempt + 1; a second runner then finishes them, each with exactly one result of
 * the new attempt, no two runs of a job overlap, and the database passes the invariant checker.
 * Jobs wait for a go file instead of sleeping, so the outcome does not depend on how fast they run.
 */
import test from 'ava';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { runTorc, startTorc } from '../support/cli.js';
import { checkDatabaseFile } from '../support/invariants.js';
import { isAlive, waitFor } from '../support/procs.js';
import { scratchDir } from '../support/scratch.js';
import { startTorcServer } from '../support/server-proc.js';

const JOBS = 10;

test('a SIGKILLed external runner: after its lease its running jobs are ready again (attempt + 1) and finish on another runner', async (t) => {
  t.timeout(300_000);
  const dir = scratchDir(t, 'torc-lost-');
  const log = join(dir, 'runs.log');
  const go = join(dir, 'go');
  const server = await startTorcServer(join(dir, 'wf.db'));
  t.teardown(() => server.stop());
  const client = new TorcClient(server.url);
  // Each run logs "<job> <attempt> start|end <output dir> <time> <pid>". A run ends only once the
  // go file exists (made after runner A is gone): however slow the machine, none of A's runs can
  // finish on its own while A is alive, nor after.
  const say = (what: string) => `echo "$TORC_JOB_ID $TORC_ATTEMPT ${what} $TORC_OUTPUT_DIR $(date +%s.%N) $$" >> ${log}`;
  const spec = `name: lost\njobs:\n  - {name: "job_{i}", command: ${JSON.stringify(`${say('start')}; until [ -e ${go} ]; do sleep 0.05; done; ${say('end')}`)}, parameters: {i: "1:${JOBS}"}}\n`;
  writeFileSync(join(dir, 'wf.yaml'), spec);
  const { workflow_id: wf } = await client.createWorkflowFromSpec(spec);
  await client.initializeJobs(wf);
  const runs = () =>
    (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []).map((l) => {
      const [job, attempt, what, out, time, pid] = l.split(' ');
      return { job: Number(job), attempt: Number(attempt), what, out, time: Number(time), pid: Number(pid) };
    });

  // Runner A takes four jobs, then dies without a word.
  const a = startTorc(['run', String(wf), '--url', server.url, '--max-parallel-jobs', '4', '--lease-seconds', '2', '--poll-interval', '0.2', '--output-dir', join(dir, 'a')], { cwd: dir, timeoutMs: 120_000 });
  await waitFor(async () => (await client.listJobs(wf, { status: 'running' })).total_count === 4, 60_000, 'runner A running 4 jobs');
  const held = (await client.listJobs(wf, { status: 'running' })).items;
  a.child.kill('SIGKILL');
  await a.result;
  t.is(held.length, 4);
  // (A busy machine may have let A's 2 s lease lapse once already: A then re-registered and
  // claimed again, so the attempt it holds is not necessarily the first.)
  const heldAttempt = new Map(held.map((j) => [j.id, j.attempt_id]));
  const nodeA = held[0]!.compute_node_id;
  t.true(held.every((j) => j.compute_node_id === nodeA));

  // A's spawner helper ends A's job processes once A is gone.
  const aRuns = () => runs().filter((r) => r.out === join(dir, 'a') && r.what === 'start');
  await waitFor(() => aRuns().every((r) => !isAlive(r.pid)), 60_000, "runner A's job processes to end");
  const aGoneAt = Date.now() / 1000;

  // Nobody else runs: after A's lease the server requeues its jobs (the lease sweep), attempt + 1.
  await waitFor(async () => {
    const jobs = await Promise.all(held.map((j) => client.getJob(j.id)));
    return jobs.every((j) => j.status === 'ready' && j.attempt_id === heldAttempt.get(j.id)! + 1);
  }, 60_000, "runner A's jobs back to ready with the next attempt");
  const nodes = await client.listComputeNodes(wf);
  t.false(nodes.items.find((n) => n.id === nodeA)!.is_active, 'runner A was retired');

  // Runner B finishes the workflow, the requeued jobs included.
  writeFileSync(go, '');
  const b = await runTorc(['run', String(wf), '--url', server.url, '--max-parallel-jobs', '4', '--poll-interval', '0.2', '--output-dir', join(dir, 'b'), '-q'], { cwd: dir, timeoutMs: 120_000 });
  t.is(b.code, 0, b.stderr);
  const progress = await client.getProgress(wf);
  t.is(progress.counts.completed, JOBS);
  const results = (await client.listResults(wf, { limit: 1000 })).items;
  t.is(results.length, JOBS, 'one result per job: nothing of runner A was reported');
  for (const j of held) {
    const rs = results.filter((r) => r.job_id === j.id);
    t.is(rs.length, 1);
    t.is(rs[0]!.attempt_id, heldAttempt.get(j.id)! + 1);
    t.not(rs[0]!.compute_node_id, nodeA, `job ${j.id} finished on another runner`);
  }
  const all = runs();
  // A's runs were cut off with their runner: none reached its end, and all had ended before
  // any run of B began, so no two runs of a job overlapped.
  t.deepEqual(all.filter((r) => r.out === join(dir, 'a') && r.what === 'end'), [], 'a run of runner A ran on after its runner died');
  for (const j of held) {
    t.true(all.some((r) => r.job === j.id && r.attempt === heldAttempt.get(j.id)! + 1 && r.what === 'end' && r.out === join(dir, 'b')), `job ${j.id}'s next attempt ran on B`);
  }
  t.true(all.filter((r) => r.out === join(dir, 'b')).every((r) => r.time >= aGoneAt), 'B ran nothing before A\'s runs had ended');
  t.deepEqual((await checkDatabaseFile(join(dir, 'wf.db'))).violations, []);
  t.log(`${JOBS} jobs; runner A SIGKILLed holding ${held.length} running jobs (lease 2 s); all ${held.length} requeued with the next attempt and completed by runner B`);
});
