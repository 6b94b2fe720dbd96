/**
 * The report queue on its own (issue 24): order, batching per kind, what a failure keeps, what a
 * refusal drops, the backoff and the outage clock. A fake clock drives time; no timers.
 */
import test from 'ava';
import { backoffDelay, OutageClock, ReportQueue, type Report, type Verdict } from '../../src/runners/report-queue.js';

interface R extends Report {
  n: number;
}

function harness(waitMs = 10_000) {
  let now = 1_000_000;
  const events: string[] = [];
  const clock = new OutageClock(waitMs, { lost: () => events.push('lost'), back: (ms) => events.push(`back ${ms}`) }, () => now);
  const queue = new ReportQueue(clock, { initialMs: 100, maxMs: 1000 }, () => now, () => 0.5);
  const sent: string[] = [];
  let failNext = 0;
  const refuse = new Set<number>();
  const sender = (kind: string) => ({
    deliver: async (batch: R[]): Promise<Verdict[]> => {
      sent.push(`${kind}:${batch.map((r) => r.n).join(',')}`);
      if (failNext > 0) {
        failNext--;
        throw new Error('unreachable');
      }
      return batch.map((r) => (refuse.has(r.n) ? { outcome: 'refused', error: new Error('stale') } : { outcome: 'acknowledged' }));
    },
    maxBatch: 3,
    acknowledged: (r: R) => events.push(`ack ${r.n}`),
    refused: (r: R) => events.push(`refused ${r.n}`),
  });
  queue.register('start', sender('start'));
  queue.register('end', sender('end'));
  const push = (kind: string, ...ns: number[]) => queue.push(...ns.map((n): R => ({ kind, n, label: `${kind} ${n}` })));
  return {
    queue, clock, sent, events, refuse, push,
    failNextDeliveries: (n: number) => (failNext = n),
    advance: (ms: number) => (now += ms),
  };
}

test('delivered oldest first, consecutive reports of a kind in batches of at most maxBatch', async (t) => {
  const h = harness();
  h.push('start', 1, 2, 3, 4);
  h.push('end', 5);
  h.push('start', 6);
  t.true(await h.queue.flush());
  t.deepEqual(h.sent, ['start:1,2,3', 'start:4', 'end:5', 'start:6']);
  t.is(h.queue.size, 0);
  t.is(h.queue.delivered, 6);
});

test('a failed delivery keeps its batch and everything after it, in order; the backoff holds the next try', async (t) => {
  const h = harness();
  h.push('start', 1);
  h.push('end', 2);
  h.failNextDeliveries(1);
  t.false(await h.queue.flush());
  t.deepEqual(h.queue.pending().map((r) => (r as R).n), [1, 2]);
  t.deepEqual(h.events, ['lost']);
  t.true(h.clock.down);
  // Not due yet: nothing is sent.
  t.false(await h.queue.flush());
  t.deepEqual(h.sent, ['start:1']);
  h.push('end', 3);
  h.advance(h.queue.retryInMs());
  t.true(await h.queue.flush());
  t.deepEqual(h.sent, ['start:1', 'start:1', 'end:2,3']);
  t.false(h.clock.down);
  t.is(h.queue.replayed, 3, 'all three were kept through the outage');
  t.deepEqual(h.events.slice(1), ['back 100', 'ack 1', 'ack 2', 'ack 3']);
});

test('a refused report is dropped and told; the ones after it are still delivered', async (t) => {
  const h = harness();
  h.refuse.add(2);
  h.push('end', 1, 2, 3);
  t.true(await h.queue.flush());
  t.deepEqual(h.events, ['ack 1', 'refused 2', 'ack 3']);
});

test('the outage clock: exceeded after waitForServerMs without an answer; an answer ends the outage', async (t) => {
  const h = harness(5000);
  h.push('end', 1);
  h.failNextDeliveries(100);
  t.false(await h.queue.flush(true));
  h.advance(4999);
  t.false(h.clock.exceeded);
  h.advance(1);
  t.true(h.clock.exceeded);
  t.is(h.clock.elapsedMs, 5000);
  h.failNextDeliveries(0);
  t.true(await h.queue.flush(true));
  t.false(h.clock.exceeded);
  t.is(h.clock.longestMs, 5000);
  t.is(h.clock.outages, 1);
});

test('remove() takes reports out, also while their delivery is on its way', async (t) => {
  const h = harness();
  h.push('end', 1, 2);
  const flushing = h.queue.flush();
  t.deepEqual(h.queue.remove((r) => (r as R).n === 2).map((r) => (r as R).n), [2]);
  await flushing;
  t.deepEqual(h.events, ['ack 1'], 'no callback for the removed report');
  t.is(h.queue.size, 0);
});

test('backoff doubles up to its cap, with jitter around it', (t) => {
  const mid = () => 0.5;
  t.deepEqual([1, 2, 3, 4, 10].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 500 }, mid)), [100, 200, 400, 500, 500]);
  t.is(backoffDelay(1, { initialMs: 100 }, () => 0), 75);
  t.is(backoffDelay(1, { initialMs: 100 }, () => 1), 125);
});
