import test from 'ava';
import fc from 'fast-check';
import { decideClaim } from '../../src/allocator/claim.js';
import { NodeLedger } from '../../src/allocator/ledger.js';
import type { ResourceNeed } from '../../src/allocator/types.js';
import { ConflictError, InputError } from '../../src/errors.js';
import { candidatesArb, classesArb, cls, jobs, need, node, optionsArb, opts } from './fixtures.js';

const LIMITS = { time_limit_seconds: null, scheduler_config_id: null };

test('reserve hands out the lowest free GPU indices and release gives them back', (t) => {
  const ledger = new NodeLedger([node('local', 16, 64, 4)]);
  const a = ledger.reserve(1, need(4, 8, { gpus: 2 }), ['local']);
  const b = ledger.reserve(2, need(4, 8, { gpus: 1 }), ['local']);
  t.deepEqual(a.nodes[0]!.gpu_indices, [0, 1]);
  t.deepEqual(b.nodes[0]!.gpu_indices, [2]);
  t.like(ledger.free('local'), { num_cpus: 8, num_gpus: 1, busy: true });
  ledger.release(1);
  t.deepEqual(ledger.reserve(3, need(1, 1, { gpus: 3 }), ['local']).nodes[0]!.gpu_indices, [0, 1, 3]);
  ledger.release(2);
  ledger.release(3);
  t.deepEqual(ledger.free('local'), ledger.total('local'));
  t.deepEqual(ledger.jobIds, []);
});

test('reserve refuses what does not fit, double bookings and unknown jobs, changing nothing', (t) => {
  const ledger = new NodeLedger([node('a', 8, 32), node('b', 8, 32)]);
  ledger.reserve(1, need(6, 8), ['a']);
  t.throws(() => ledger.reserve(2, need(4, 8), ['a']), { instanceOf: ConflictError, message: /does not fit on node a/ });
  t.throws(() => ledger.reserve(1, need(1, 1), ['b']), { instanceOf: ConflictError, message: /already holds/ });
  t.throws(() => ledger.reserve(3, need(1, 1, { nodes: 2 }), ['a', 'b']), { instanceOf: ConflictError, message: /node a is not idle/ });
  t.throws(() => ledger.reserve(4, need(1, 1), ['zz']), { instanceOf: ConflictError, message: /unknown node "zz"/ });
  t.throws(() => ledger.release(99), { instanceOf: ConflictError });
  t.like(ledger.free('b'), { num_cpus: 8 });
  t.is(ledger.free('b').busy, undefined);
  t.throws(() => new NodeLedger([node('a', 1, 1), node('a', 1, 1)]), { instanceOf: InputError, message: /nodes\[1\]\.name/ });
});

test('a multi-node job holds its nodes whole until released', (t) => {
  const ledger = new NodeLedger([node('a', 16, 64), node('b', 16, 64), node('c', 16, 64)]);
  const mpi = cls('mpi', need(4, 8, { nodes: 2 }));
  const tiny = cls('tiny', need(1, 1));
  const decision = decideClaim(ledger.capacity(LIMITS), [mpi, tiny], [...jobs('mpi', 1, 1), ...jobs('tiny', 40, 2)], opts());
  const needs = new Map<number, ResourceNeed>(decision.claimed.map((c) => [c.job_id, c.job_id === 1 ? mpi.need : tiny.need]));
  ledger.apply(decision, (id) => needs.get(id)!);
  const held = ledger.reservation(1)!.nodes.map((n) => n.name);
  t.is(held.length, 2);
  for (const name of held) t.like(ledger.free(name), { num_cpus: 0, memory_bytes: 0, busy: true });
  t.is(decision.claimed.length, 1 + 16);
  ledger.release(1);
  for (const name of held) t.deepEqual(ledger.free(name), ledger.total(name));
});

test('apply is all or nothing', (t) => {
  const ledger = new NodeLedger([node('a', 4, 8)]);
  const decision = { claimed: [{ job_id: 1, nodes: ['a'] }, { job_id: 2, nodes: ['a'] }], reason: null };
  t.throws(() => ledger.apply(decision, () => need(3, 1)), { instanceOf: ConflictError });
  t.deepEqual(ledger.jobIds, []);
  t.deepEqual(ledger.free('a'), ledger.total('a'));
});

test('property: decisions made on ledger.capacity() always book, and releasing everything restores the nodes', (t) => {
  const scenario = fc
    .tuple(
      fc.array(fc.record({ cpus: fc.integer({ min: 0, max: 48 }), gb: fc.integer({ min: 0, max: 192 }), gpus: fc.integer({ min: 0, max: 4 }) }), { minLength: 1, maxLength: 4 }),
      classesArb.map((cs) => cs.map((c) => ({ ...c, scheduler_id: null }))),
      optionsArb,
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 6 }),
    )
    .chain(([nodes, classes, options, releaseShares]) =>
      candidatesArb(classes, 120).map((candidates) => ({ nodes, classes, options, releaseShares, candidates })),
    );
  fc.assert(
    fc.property(scenario, ({ nodes, classes, options, releaseShares, candidates }) => {
      const ledger = new NodeLedger(nodes.map((n, i) => node(`n${i}`, n.cpus, n.gb, n.gpus)));
      const needOfClass = new Map(classes.map((c) => [c.key, c.need]));
      const needOfJob = new Map(candidates.map((c) => [c.job_id, needOfClass.get(c.class_key)!]));
      let ready = candidates;
      for (const share of releaseShares) {
        const decision = decideClaim(ledger.capacity(LIMITS), classes, ready, options);
        ledger.apply(decision, (id) => needOfJob.get(id)!); // throws if the decision over-commits
        const taken = new Set(decision.claimed.map((c) => c.job_id));
        ready = ready.filter((c) => !taken.has(c.job_id));
        for (const name of ledger.nodeNames) {
          const free = ledger.free(name);
          if (free.num_cpus < 0 || free.memory_bytes < 0 || free.num_gpus < 0) return false;
        }
        const running = ledger.jobIds;
        for (const id of running.slice(0, Math.floor(running.length * share))) ledger.release(id);
      }
      for (const id of ledger.jobIds) ledger.release(id);
      return ledger.nodeNames.every((name) => JSON.stringify(ledger.free(name)) === JSON.stringify(ledger.total(name)));
    }),
    { numRuns: 200 },
  );
  t.pass();
});
