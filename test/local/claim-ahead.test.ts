import test from 'ava';
import { claimAheadDepth } from '../../src/runners/local/job-runner.js';

test('queue depth claims nothing ahead before a job has ended, or when jobs take a second or more', (t) => {
  t.is(claimAheadDepth(null, 4), 0);
  t.is(claimAheadDepth(1000, 4), 0);
  t.is(claimAheadDepth(60_000, 64), 0);
});

test('short jobs: about 250 ms of work per slot ahead, at least one job per slot, bounded per slot and in all', (t) => {
  t.is(claimAheadDepth(3, 4), 4 * 83, '`true`-sized jobs: a deep queue, so it does not run dry between loop turns');
  t.is(claimAheadDepth(50, 4), 4 * 5);
  t.is(claimAheadDepth(400, 4), 4, 'a job that alone exceeds the window still gets one ahead per slot');
  t.is(claimAheadDepth(0, 4), 4 * 100, 'per-slot bound');
  t.is(claimAheadDepth(0.5, 64), 1000, 'overall bound');
  let previous = Infinity;
  for (let mean = 0; mean < 1000; mean += 7) {
    const depth = claimAheadDepth(mean, 8);
    t.true(depth <= previous, `no deeper for longer jobs (mean ${mean} ms)`);
    t.true((depth / 8) * Math.max(1, mean) <= Math.max(250, Math.max(1, mean)), `work held ahead per slot stays within the window (mean ${mean} ms)`);
    previous = depth;
  }
});
