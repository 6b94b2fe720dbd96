/** The controller loop over the work queue (a manual clock; reconciles are plain functions here, the operator's own are tested in operator.test.ts). */
import test from 'ava';
import { Controller } from '../../src/runners/k8s/controller.js';
import { ManualClock } from '../support/manual-clock.js';

/** Lets the workers run until they wait on the queue or on something the test holds. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

test('a key that fails every time is retried with growing delays while the others are reconciled at once', async (t) => {
  const clock = new ManualClock();
  const done: string[] = [];
  const errors: [string, number][] = [];
  const c = new Controller<string>({
    clock, maxConcurrentReconciles: 2, backoff: { baseDelayMs: 10, maxDelayMs: 100 },
    reconcile: async (key) => {
      if (key === 'ns/broken') throw new Error('the store refuses this one');
      done.push(key);
    },
    onError: (key, _err, retryIn) => errors.push([key, retryIn]),
  });
  t.teardown(() => c.stop());
  c.start();
  for (const k of ['ns/broken', 'ns/a', 'ns/b', 'ns/c']) c.enqueue(k);
  await settle();
  t.deepEqual(done.sort(), ['ns/a', 'ns/b', 'ns/c']);
  for (let i = 0; i < 6; i++) {
    // Healthy workflows' events are handled at once, whatever the broken one's backoff.
    c.enqueue('ns/a');
    await settle();
    t.is(done.filter((k) => k === 'ns/a').length, 2 + i);
    clock.advance(100);
    await settle();
  }
  t.deepEqual(c.queue.requeueHistory('ns/broken').map((r) => r.delayMs), [10, 20, 40, 80, 100, 100, 100]);
  t.deepEqual(errors.map(([, ms]) => ms), [10, 20, 40, 80, 100, 100, 100]);
  t.is(c.reconcileCount('ns/broken'), 7);
  t.deepEqual(c.queue.requeueHistory('ns/a'), [], 'no healthy key was ever requeued for an error');
});

test('a success resets the backoff; requeue-after brings a key back when its time comes', async (t) => {
  const clock = new ManualClock();
  const outcomes = ['fail', 'fail', 'ok-later', 'fail', 'ok'];
  let calls = 0;
  const c = new Controller<string>({
    clock, backoff: { baseDelayMs: 10, maxDelayMs: 1000 },
    reconcile: async () => {
      const o = outcomes[calls++];
      if (o === 'fail') throw new Error('transient');
      return o === 'ok-later' ? { requeueAfterMs: 5000 } : {};
    },
  });
  t.teardown(() => c.stop());
  c.start();
  c.enqueue('k');
  await settle();
  clock.advance(10);
  await settle();
  clock.advance(20);
  await settle();
  t.is(calls, 3);
  clock.advance(4999);
  await settle();
  t.is(calls, 3, 'not before its requeue-after');
  clock.advance(1);
  await settle();
  t.is(calls, 4);
  clock.advance(10);
  await settle();
  t.is(calls, 5);
  t.deepEqual(c.queue.requeueHistory('k').map((r) => `${r.reason} ${r.delayMs}`), [
    'rate-limited 10', 'rate-limited 20', 'after 5000', 'rate-limited 10',
  ], 'the failure after a success starts again from the base delay');
});

test('at most maxConcurrentReconciles at once, and never one key twice at once', async (t) => {
  const gates = new Map<string, ReturnType<typeof deferred>>();
  let running = 0;
  let peak = 0;
  const inFlight = new Set<string>();
  const overlaps: string[] = [];
  const runs: string[] = [];
  const c = new Controller<string>({
    maxConcurrentReconciles: 2,
    reconcile: async (key) => {
      if (inFlight.has(key)) overlaps.push(key);
      inFlight.add(key);
      running++;
      peak = Math.max(peak, running);
      runs.push(key);
      const gate = deferred();
      gates.set(key, gate);
      await gate.promise;
      running--;
      inFlight.delete(key);
    },
  });
  t.teardown(async () => {
    for (const g of gates.values()) g.resolve();
    await c.stop();
  });
  c.start();
  for (const k of ['a', 'b', 'c', 'd']) c.enqueue(k);
  await settle();
  t.is(running, 2);
  c.enqueue('a'); // an event for a while a is being reconciled
  gates.get('b')!.resolve();
  await settle();
  t.deepEqual(runs, ['a', 'b', 'c'], 'b done: c starts; a is not started again beside itself');
  gates.get('a')!.resolve();
  await settle();
  gates.get('c')!.resolve();
  await settle();
  t.deepEqual(runs, ['a', 'b', 'c', 'd', 'a'], 'a runs again after it finished');
  t.is(peak, 2);
  t.deepEqual(overlaps, []);
});

test('stop waits for the reconciles in progress and hands out nothing more', async (t) => {
  const gate = deferred();
  let finished = 0;
  const c = new Controller<string>({
    reconcile: async () => {
      await gate.promise;
      finished++;
    },
  });
  c.start();
  c.enqueue('x');
  await settle();
  let stopped = false;
  const stopping = c.stop().then(() => { stopped = true; });
  c.enqueue('y');
  await settle();
  t.false(stopped, 'still waiting for x');
  gate.resolve();
  await stopping;
  t.is(finished, 1, 'y was never started');
});
