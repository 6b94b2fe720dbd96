/**
 * Claim race over HTTP: 16 claimers against a real `torc server` process, one workflow with a
 * random resource mix. No job is handed out twice, every job completes exactly once, no node's
 * capacity is ever exceeded, and the database passes the invariant checker. The stress suite
 * runs the same race on 20,000 jobs.
 */
import test from 'ava';
import { runClaimRace } from '../support/claim-race.js';

test('16 HTTP claimers, 800 jobs of a random resource mix: no double claim, each job completed once, no node over capacity', async (t) => {
  t.timeout(300_000);
  const seed = Number(process.env.TORC_RACE_SEED ?? Date.now() % 1_000_000);
  const out = await runClaimRace({ jobs: 800, claimers: 16, seed });
  t.deepEqual(out.problems, [], `seed ${seed}`);
  t.deepEqual(out.invariants.violations, [], `seed ${seed}`);
  t.is(out.counts.completed, out.jobs);
  t.is(out.resultRows, out.jobs);
  t.true(out.peakCpuShare <= 1);
  t.log(`seed ${seed}: ${out.jobs} jobs, ${out.claimers} claimers, ${out.requests} requests (${out.claims} claims) in ${out.seconds.toFixed(1)} s; peak node CPU use ${(out.peakCpuShare * 100).toFixed(0)}%`);
});
