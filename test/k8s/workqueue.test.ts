/** The operator's work queue: de-duplication, per-key backoff, requeue-after, shutdown (a manual clock; no waiting). */
import test from 'ava';
import { WorkQueue } from '../../src/runners/k8s/workqueue.js';
import { ManualClock } from '../support/manual-clock.js';

function queue(opts: { baseDelayMs?: number; maxDelayMs?: number } = {}) {
  const clock = new ManualClock();
  return { clock, q: new WorkQueue<string>({ clock, baseDelayMs: 10, maxDelayMs: 100, ...opts }) };
}

/** Takes every key ready now, marking each done, in order. */
async function drain(q: WorkQueue<string>): Promise<string[]> {
  const out: string[] = [];
  while (q.length > 0) {
    const k = (await q.get())!;
    out.push(k);
    q.done(k);
  }
  return out;
}

test('a key added several times is queued once, in first-added order', async (t) => {
  const { q } = queue();
  q.add('ns/a');
  q.add('ns/b');
  q.add('ns/a');
  q.add('ns/b');
  q.add('ns/c');
  t.is(q.length, 3);
  t.deepEqual(await drain(q), ['ns/a', 'ns/b', 'ns/c']);
});

test('a key added while processed is not handed out again until done, then exactly once', async (t) => {
  const { q } = queue();
  q.add('a');
  const first = await q.get();
  t.is(first, 'a');
  q.add('a');
  q.add('a');
  t.is(q.length, 0, 'not queued while it is being processed');
  let second: string | undefined;
  const waiting = q.get().then((k) => { second = k; });
  await Promise.resolve();
  t.is(second, undefined, 'a second worker does not get it concurrently');
  q.done('a');
  await waiting;
  t.is(second, 'a', 'processed again after');
  q.done('a');
  t.is(q.length, 0, 'the two adds during processing folded into one');
});

test('two workers get different keys, never the same one at once', async (t) => {
  const { q } = queue();
  const gets = [q.get(), q.get()];
  q.add('x');
  q.add('x');
  q.add('y');
  t.deepEqual(await Promise.all(gets), ['x', 'y']);
  q.add('x');
  q.add('y');
  t.is(q.length, 0);
  q.done('y');
  q.done('x');
  t.deepEqual(await drain(q), ['y', 'x']);
});

test('rate-limited requeues back off per key: base·2^n up to the cap; forget resets; other keys unaffected', async (t) => {
  const { q } = queue({ baseDelayMs: 10, maxDelayMs: 100 });
  for (let i = 0; i < 7; i++) q.addRateLimited('broken');
  q.addRateLimited('other');
  t.deepEqual(q.requeueHistory('broken').map((r) => r.delayMs), [10, 20, 40, 80, 100, 100, 100]);
  t.true(q.requeueHistory('broken').every((r) => r.reason === 'rate-limited'));
  t.is(q.numRequeues('broken'), 7);
  t.deepEqual(q.requeueHistory('other').map((r) => r.delayMs), [10], 'each key has its own count');
  q.forget('broken');
  t.is(q.numRequeues('broken'), 0);
  q.addRateLimited('broken');
  t.is(q.requeueHistory('broken').at(-1)!.delayMs, 10, 'back to the base delay after a success');
});

test('a rate-limited key becomes ready only when its delay has passed', async (t) => {
  const { clock, q } = queue({ baseDelayMs: 10 });
  q.addRateLimited('k');
  q.addRateLimited('k'); // 20 ms asked; the earlier 10 ms stands
  t.is(q.length, 0);
  t.is(q.delayed, 1);
  clock.advance(9);
  t.is(q.length, 0);
  clock.advance(1);
  t.is(q.length, 1);
  t.deepEqual(await drain(q), ['k']);
  clock.advance(1000);
  t.is(q.length, 0, 'the later request folded into the earlier one');
});

test('requeue-after: the earlier of two delays wins, zero queues at once', async (t) => {
  const { clock, q } = queue();
  q.addAfter('cron', 5000);
  q.addAfter('lease', 30_000);
  q.addAfter('cron', 2000);
  t.deepEqual(q.requeueHistory().map((r) => [r.key, r.reason, r.delayMs]), [['cron', 'after', 5000], ['lease', 'after', 30_000], ['cron', 'after', 2000]]);
  clock.advance(1999);
  t.is(q.length, 0);
  clock.advance(1);
  t.deepEqual(await drain(q), ['cron']);
  clock.advance(3000);
  t.is(q.length, 0, 'the 5 s request was superseded by the 2 s one');
  clock.advance(25_000);
  t.deepEqual(await drain(q), ['lease']);
  q.addAfter('now', 0);
  t.deepEqual(await drain(q), ['now']);
});

test('a delay that ends while the key is processed queues it once processing is done', async (t) => {
  const { clock, q } = queue();
  q.add('k');
  const k = (await q.get())!;
  q.addAfter(k, 10);
  clock.advance(10);
  t.is(q.length, 0);
  q.done(k);
  t.is(q.length, 1);
});

test('shutdown: waiting gets end with undefined, nothing more is handed out or timed', async (t) => {
  const { clock, q } = queue();
  const waiting = q.get();
  q.addAfter('later', 100);
  q.addRateLimited('broken');
  t.true(clock.pending > 0);
  q.shutDown();
  t.is(await waiting, undefined);
  t.is(clock.pending, 0, 'delay timers canceled');
  q.add('x');
  t.is(q.length, 0);
  t.is(await q.get(), undefined);
  t.true(q.isShuttingDown);
});

test('backoff settings are checked', (t) => {
  t.throws(() => new WorkQueue({ baseDelayMs: 0 }), { instanceOf: RangeError });
  t.throws(() => new WorkQueue({ baseDelayMs: 100, maxDelayMs: 10 }), { instanceOf: RangeError });
});
