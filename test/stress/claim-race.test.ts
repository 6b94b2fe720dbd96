/**
 * Stress: the claim race of test/reliability/claim-race.test.ts on 20,000 jobs: 16 HTTP
 * claimers against a real `torc server` process. TORC_RACE_JOBS / TORC_RACE_SEED override.
 */
import test from 'ava';
import { runClaimRace } from '../support/claim-race.js';

test('16 HTTP claimers, 20k jobs of a random resource mix: no double claim, each job completed once, no node over capacity', async (t) => {
  t.timeout(1_800_000);
  const jobs = Number(process.env.TORC_RACE_JOBS ?? 20_000);
  const seed = Number(process.env.TORC_RACE_SEED ?? Date.now() % 1_000_000);
  const out = await runClaimRace({ jobs, claimers: 16, seed, claimLimit: 32, deadlineMs: 1_500_000 });
  t.deepEqual(out.problems, [], `seed ${seed}`);
  t.deepEqual(out.invariants.violations, [], `seed ${seed}`);
  t.is(out.counts.completed, jobs);
  t.is(out.resultRows, jobs);
  t.log(`seed ${seed}: ${out.jobs} jobs (${out.classes.map((c) => `${c.name}: ${c.num_cpus} cpu ${c.memory_gb}g ${c.num_gpus} gpu ×${c.num_nodes}`).join('; ')}), ${out.claimers} claimers, ${out.requests} requests (${out.claims} claims) in ${out.seconds.toFixed(0)} s; peak node CPU use ${(out.peakCpuShare * 100).toFixed(0)}%`);
});
