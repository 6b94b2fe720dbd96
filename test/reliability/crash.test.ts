/**
 * kill -9 of `torc reconcile` at random moments, then the same command again (several kills
 * per trial): the workflow finishes, no job the database recorded as completed runs again, and
 * the database passes integrity_check and the invariant checker after every kill. Two trials
 * here; the stress suite runs twelve.
 */
import test from 'ava';
import { CRASH_JOBS, calibrate, crashTrial } from '../support/crash.js';

test('kill -9 of torc reconcile at random points, twice per trial, then a rerun: finishes, nothing completed re-runs, database intact', async (t) => {
  t.timeout(600_000);
  const span = await calibrate();
  const seed = Number(process.env.TORC_CRASH_SEED ?? Date.now() % 1_000_000);
  const trials = 2;
  let kills = 0;
  for (let i = 0; i < trials; i++) {
    const trial = await crashTrial(seed + i, 2, span);
    kills += trial.kills.length - trial.finishedBeforeKill;
    t.deepEqual(trial.problems, [], `seed ${seed + i}`);
    t.log(`trial ${i + 1} (seed ${seed + i}): killed ${trial.kills.join(', ')} (a whole run: ${span} ms); completed then ${trial.completedAtKill.join(', ')} of ${CRASH_JOBS}; ${trial.restartedJobs} interrupted jobs re-ran`);
  }
  t.log(`${trials} trials, ${kills} kill -9s, ${CRASH_JOBS} jobs each: every run finished, no completed job re-executed, integrity ok`);
});
