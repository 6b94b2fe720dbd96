import test from 'ava';
import fc from 'fast-check';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
// Not re-exported by the package index; its own module is importable.
import { quantityToScalar } from '@kubernetes/client-node/dist/util.js';
import { InputError } from '../../src/errors.js';
import { NodeUsage, clusterCapacity, freeCapacities, nodeCapacities, podRequests } from '../../src/runners/k8s/capacity.js';
import { formatBytes, formatCpu, parseBytes, parseCpu, parseQuantity } from '../../src/runners/k8s/quantity.js';

const Gi = 1024 ** 3;

test('quantities: binary, decimal and exponent suffixes, fractions', (t) => {
  t.is(parseCpu('3500m'), 3.5);
  t.is(parseCpu('2'), 2);
  t.is(parseCpu('0.25'), 0.25);
  t.is(parseCpu('100m'), 0.1);
  t.is(parseBytes('16Gi'), 16 * Gi);
  t.is(parseBytes('1.5Gi'), 1.5 * Gi);
  t.is(parseBytes('512Mi'), 512 * 1024 ** 2);
  t.is(parseBytes('1Ki'), 1024);
  t.is(parseBytes('1Ti'), 1024 ** 4);
  t.is(parseBytes('1k'), 1000);
  t.is(parseBytes('1M'), 1e6);
  t.is(parseBytes('2G'), 2e9);
  t.is(parseBytes('1T'), 1e12);
  t.is(parseBytes('1E'), 1e18);
  t.is(parseBytes('129e6'), 129e6);
  t.is(parseBytes('1E3'), 1000);
  t.is(parseBytes('123'), 123);
  t.is(parseQuantity('500u'), 0.0005);
  for (const bad of ['', 'lots', '1Gb', '1.5.5', 'Gi', '1 Gi', '--1']) {
    const err = t.throws(() => parseQuantity(bad, 'nodes/n1.status.allocatable.memory'), { instanceOf: InputError });
    t.is(err.issues[0]!.path, 'nodes/n1.status.allocatable.memory', bad);
  }
});

test('quantities agree with the client library helper on integer quantities', (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 4096 }), fc.constantFrom('', 'k', 'M', 'G', 'Ki', 'Mi', 'Gi', 'Ti', 'm'), (n, suffix) => {
    const q = `${n}${suffix}`;
    t.is(parseQuantity(q), Number(quantityToScalar(q)), q);
  }), { numRuns: 200 });
});

test('formatCpu / formatBytes round-trip through the parser', (t) => {
  t.is(formatCpu(2), '2');
  t.is(formatCpu(0.5), '500m');
  t.is(formatCpu(1.25), '1250m');
  t.is(formatBytes(4 * Gi), '4Gi');
  t.is(formatBytes(1024 ** 2), '1Mi');
  t.is(formatBytes(1000), '1000');
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 45 }), (b) => parseBytes(formatBytes(b)) === b));
  fc.assert(fc.property(fc.integer({ min: 1, max: 256_000 }), (milli) => parseCpu(formatCpu(milli / 1000)) === milli / 1000));
});

function node(name: string, alloc: Record<string, string>, opts: { ready?: boolean; unschedulable?: boolean; labels?: Record<string, string>; taints?: V1Node['spec'] extends infer S ? S extends { taints?: infer T } ? T : never : never } = {}): V1Node {
  return {
    metadata: { name, labels: opts.labels ?? {} },
    spec: { unschedulable: opts.unschedulable, taints: opts.taints },
    status: { allocatable: alloc, conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  };
}

function pod(nodeName: string | undefined, req: Record<string, string>, phase = 'Running', lim?: Record<string, string>): V1Pod {
  return {
    metadata: { name: `p-${Math.random().toString(36).slice(2)}` },
    spec: { nodeName, containers: [{ name: 'c', image: 'x', resources: { requests: req, ...(lim ? { limits: lim } : {}) } }] },
    status: { phase },
  };
}

test('free capacity = allocatable − requests of non-terminal pods on the node (any owner)', (t) => {
  const nodes = [
    node('a', { cpu: '3500m', memory: '16Gi', 'nvidia.com/gpu': '2' }),
    node('b', { cpu: '8', memory: '32Gi' }),
  ];
  const pods = [
    pod('a', { cpu: '500m', memory: '1Gi', 'nvidia.com/gpu': '1' }),
    pod('a', { cpu: '1', memory: '2Gi' }, 'Pending'),
    pod('a', { cpu: '2', memory: '8Gi' }, 'Succeeded'), // terminal: holds nothing
    pod('a', { cpu: '1', memory: '1Gi' }, 'Failed'),
    pod(undefined, { cpu: '4', memory: '4Gi' }, 'Pending'), // unscheduled: no node to charge
    pod('b', {}, 'Running', { cpu: '2', memory: '4Gi' }), // limits only: requests default to limits
  ];
  t.deepEqual(nodeCapacities(nodes, pods), [
    { name: 'a', num_cpus: 2, memory_bytes: 13 * Gi, num_gpus: 1 },
    { name: 'b', num_cpus: 6, memory_bytes: 28 * Gi, num_gpus: 0 },
  ]);
  const cap = clusterCapacity(nodes, pods);
  t.is(cap.time_limit_seconds, null);
  t.is(cap.scheduler_config_id, null);
});

test('unschedulable, NotReady, untolerated-taint and non-matching nodes are skipped', (t) => {
  const alloc = { cpu: '4', memory: '8Gi' };
  const nodes = [
    node('ok', alloc, { labels: { pool: 'batch' } }),
    node('cordoned', alloc, { unschedulable: true, labels: { pool: 'batch' } }),
    node('down', alloc, { ready: false, labels: { pool: 'batch' } }),
    node('other', alloc, { labels: { pool: 'web' } }),
    node('gpu', alloc, { labels: { pool: 'batch' }, taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] }),
    node('soft', alloc, { labels: { pool: 'batch' }, taints: [{ key: 'x', effect: 'PreferNoSchedule' }] }),
  ];
  t.deepEqual(nodeCapacities(nodes, [], { nodeSelector: { pool: 'batch' } }).map((n) => n.name), ['ok', 'soft']);
  const tolerating = nodeCapacities(nodes, [], { nodeSelector: { pool: 'batch' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] });
  t.deepEqual(tolerating.map((n) => n.name), ['gpu', 'ok', 'soft']);
  t.deepEqual(nodeCapacities(nodes, []).map((n) => n.name), ['ok', 'other', 'soft']);
});

test('pod requests: max(sum of containers, largest init container) + overhead; never negative free', (t) => {
  const p: V1Pod = {
    metadata: { name: 'p' },
    spec: {
      nodeName: 'a',
      initContainers: [{ name: 'i', image: 'x', resources: { requests: { cpu: '3', memory: '1Gi' } } }],
      containers: [
        { name: 'c1', image: 'x', resources: { requests: { cpu: '1', memory: '1Gi' } } },
        { name: 'c2', image: 'x', resources: { requests: { cpu: '1', memory: '2Gi' } } },
      ],
      overhead: { cpu: '250m' },
    },
    status: { phase: 'Running' },
  };
  t.deepEqual(podRequests(p), { cpu: 3.25, memory: 3 * Gi, gpu: 0 });
  const over = nodeCapacities([node('a', { cpu: '2', memory: '1Gi' })], [p]);
  t.deepEqual(over, [{ name: 'a', num_cpus: 0, memory_bytes: 0, num_gpus: 0 }]);
});

test('a bad quantity on a node names where it is', (t) => {
  const err = t.throws(() => nodeCapacities([node('n9', { cpu: 'four', memory: '1Gi' })], []), { instanceOf: InputError });
  t.is(err.issues[0]!.path, 'nodes/n9.status.allocatable.cpu');
});

test('NodeUsage follows pod events one at a time: finishing or deleting frees room, updates do not double count', (t) => {
  const nodes = [node('a', { cpu: '4', memory: '8Gi' })];
  const usage = new NodeUsage();
  const free = () => freeCapacities(nodes, usage)[0]!;
  const p1 = { ...pod('a', { cpu: '1500m', memory: '1Gi' }, 'Pending'), metadata: { name: 'p1', namespace: 'ns', uid: 'u1' } };
  t.false(usage.observe(p1));
  t.false(usage.observe({ ...p1, status: { phase: 'Running' } }), 'an update replaces, never adds');
  t.like(free(), { num_cpus: 2.5, memory_bytes: 7 * Gi });
  t.true(usage.observe({ ...p1, status: { phase: 'Succeeded' } }), 'finished: room freed');
  t.like(free(), { num_cpus: 4, memory_bytes: 8 * Gi });
  t.false(usage.observe({ ...p1, status: { phase: 'Succeeded' } }, true), 'deleting a finished pod frees nothing more');
  const p2 = { ...pod('a', { cpu: '1', memory: '1Gi' }), metadata: { name: 'p2', namespace: 'ns', uid: 'u2' } };
  usage.observe(p2);
  t.true(usage.observe(p2, true), 'a running pod deleted: room freed');
  // Many thirds of a core in and out leave no floating-point dust.
  const thirds = Array.from({ length: 30 }, (_, i) => ({ ...pod('a', { cpu: '333m', memory: '1Mi' }), metadata: { name: `t${i}`, namespace: 'ns', uid: `t${i}` } }));
  for (const p of thirds) usage.observe(p);
  for (const p of thirds) usage.observe(p, true);
  t.deepEqual(usage.used('a'), { cpu: 0, memory: 0, gpu: 0 });
});

test('NodeUsage: a pod being created holds its room until the cache shows it, and is counted once', (t) => {
  const nodes = [node('a', { cpu: '4', memory: '8Gi' })];
  const usage = new NodeUsage();
  const free = () => freeCapacities(nodes, usage)[0]!.num_cpus;
  // The previous run's pod of the same name is still in the cache, running.
  const old = { ...pod('a', { cpu: '1', memory: '1Gi' }), metadata: { name: 'wf-job-1', namespace: 'ns', uid: 'old' } };
  usage.observe(old);
  const fresh = { ...pod('a', { cpu: '2', memory: '1Gi' }, 'Pending'), metadata: { name: 'wf-job-1', namespace: 'ns' } };
  usage.assume(fresh);
  t.true(usage.isAssumed('ns/wf-job-1'));
  t.is(free(), 1);
  // The old pod's deletion arrives after the create was sent: the assumed pod keeps its room.
  usage.observe(old, true);
  t.is(free(), 2);
  // The watch shows the new pod before the create call returns: counted twice for a moment (never too little)...
  usage.observe({ ...fresh, metadata: { ...fresh.metadata, uid: 'new' } });
  t.is(free(), 0);
  // ...and once when the API's answer names it.
  usage.created('ns/wf-job-1', 'new');
  t.false(usage.isAssumed('ns/wf-job-1'));
  t.is(free(), 2);
  // The other order: the answer first, then the watch.
  const second = { ...pod('a', { cpu: '1', memory: '1Gi' }, 'Pending'), metadata: { name: 'wf-job2-1', namespace: 'ns' } };
  usage.assume(second);
  usage.created('ns/wf-job2-1', 'u-2');
  t.is(free(), 1);
  usage.observe({ ...second, metadata: { ...second.metadata, uid: 'u-2' } });
  t.false(usage.isAssumed('ns/wf-job2-1'));
  t.is(free(), 1);
  // A create that failed gives its room back.
  usage.assume({ ...second, metadata: { name: 'failed-1', namespace: 'ns' } });
  t.is(free(), 0);
  usage.unassume('ns/failed-1');
  t.is(free(), 1);
});
