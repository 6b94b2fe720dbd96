/**
 * Stress (issue 24): outage trials at random moments (TORC_CHAOS_SEED replays them) — the server
 * SIGKILLed 1–3 times per trial and restarted on the same port and database after 0–10 s, under
 * an external `torc run` (queue depth and resource-aware) and under a `torc worker` in a real
 * Slurm allocation; and a TCP proxy between runner and server that stalls or resets every
 * connection for 30 s. Every trial: every job completed exactly once in the store and on disk,
 * Succeeded, the runner exited by itself, invariants hold. See test/support/chaos.ts.
 */
import test, { type ExecutionContext } from 'ava';
import { chaosFigures, chaosTrial, type ChaosResult } from '../support/chaos.js';
import { slurmTest } from '../support/slurm.js';

const seed = Number(process.env.TORC_CHAOS_SEED ?? Date.now() % 1_000_000);
const localTrials = Number(process.env.TORC_CHAOS_TRIALS ?? 8);
const slurm = slurmTest('test/stress/outage.test.ts');

function report(t: ExecutionContext, label: string, s: number, r: ChaosResult): void {
  t.deepEqual(r.problems, [], `${label} (seed ${s})`);
  t.log(
    `${label} (seed ${s}): ${r.faults.map((f) => `${f.finishedOnDisk} done → away ${(f.outageMs / 1000).toFixed(1)} s`).join('; ')}; ` +
      `${r.replayed} replayed; converged in ${r.convergeMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}; ${(r.totalMs / 1000).toFixed(0)} s`,
  );
}

test.serial(`server SIGKILLed 1–3 times per trial under torc run, restarted after 0–10 s (${localTrials} trials)`, async (t) => {
  t.timeout(3_600_000);
  const results: ChaosResult[] = [];
  for (let i = 0; i < localTrials; i++) {
    const s = seed + i;
    const mode = i % 2 === 0 ? 'queue' : 'resources';
    const r = await chaosTrial({ seed: s, jobs: 150, jobSeconds: 0.2, runner: 'local', mode, kills: 1 + (i % 3), maxOutageMs: 10_000 });
    report(t, `torc run, ${mode}`, s, r);
    results.push(r);
  }
  t.log(`torc run: ${chaosFigures(results)}`);
});

test.serial('a proxy between torc run and the server stalls, then resets, every connection for 30 s', async (t) => {
  t.timeout(1_800_000);
  const results: ChaosResult[] = [];
  for (const [i, mode] of (['stall', 'reset'] as const).entries()) {
    const s = seed + 100 + i;
    const r = await chaosTrial({ seed: s, jobs: 150, jobSeconds: 0.2, runner: 'local', mode: 'queue', kills: 0, maxOutageMs: 0, proxy: { mode, windowMs: 30_000 } });
    report(t, `proxy ${mode} 30 s`, s, r);
    t.true((mode === 'reset' ? r.proxyStats!.resets : r.proxyStats!.stalled) > 0, `the proxy ${mode}ed connections`);
    results.push(r);
  }
  t.log(`proxy: ${chaosFigures(results)}`);
});

slurm('server SIGKILLed 1–3 times per trial under a torc worker in a real Slurm allocation, restarted after 0–10 s (3 trials)', async (t) => {
  t.timeout(3_600_000);
  const results: ChaosResult[] = [];
  for (let i = 0; i < 3; i++) {
    const s = seed + 200 + i;
    const mode = i % 2 === 0 ? 'queue' : 'resources';
    const r = await chaosTrial({ seed: s, jobs: 150, jobSeconds: 0.2, runner: 'slurm', mode, kills: 1 + (i % 3), maxOutageMs: 10_000 });
    report(t, `Slurm worker, ${mode}`, s, r);
    results.push(r);
  }
  t.log(`Slurm worker: ${chaosFigures(results)}`);
});
