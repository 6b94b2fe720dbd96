/**
 * Stress: twelve crash trials of up to three kill -9s each at random points of `torc
 * reconcile` (see test/reliability/crash.test.ts). TORC_CRASH_TRIALS / TORC_CRASH_SEED override.
 */
import test from 'ava';
import { CRASH_JOBS, calibrate, crashTrial } from '../support/crash.js';

test('kill -9 of torc reconcile at random points (≥ 10 trials): finishes, nothing completed re-runs, database intact', async (t) => {
  t.timeout(1_800_000);
  const span = await calibrate();
  const seed = Number(process.env.TORC_CRASH_SEED ?? Date.now() % 1_000_000);
  const trials = Number(process.env.TORC_CRASH_TRIALS ?? 12);
  let kills = 0;
  let restarted = 0;
  for (let i = 0; i < trials; i++) {
    const trial = await crashTrial(seed + i, 1 + (i % 3), span);
    kills += trial.kills.length - trial.finishedBeforeKill;
    restarted += trial.restartedJobs;
    t.deepEqual(trial.problems, [], `seed ${seed + i}`);
    t.log(`trial ${i + 1} (seed ${seed + i}): killed ${trial.kills.join(', ')} (a whole run: ${span} ms); completed then ${trial.completedAtKill.join(', ')} of ${CRASH_JOBS}`);
  }
  t.log(`${trials} trials, ${kills} kill -9s (${CRASH_JOBS} jobs each): every run finished, no completed job re-executed, ${restarted} interrupted jobs re-ran, integrity ok`);
});
