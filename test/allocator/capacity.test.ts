import test from 'ava';
import { capacityFromNodes, capacityFromPooled, type NodesCapacityInput, type PooledCapacityInput } from '../../src/allocator/capacity.js';
import { GIB } from '../../src/allocator/fit.js';
import { InputError } from '../../src/errors.js';

test('pooled form: num_nodes identical nodes, memory in GiB, time limit parsed', (t) => {
  const cap = capacityFromPooled({ num_cpus: 16, memory_gb: 64.5, num_gpus: 2, num_nodes: 3, time_limit: 'PT4H30M', scheduler_config_id: 7 });
  t.deepEqual(cap.nodes.map((n) => n.name), ['node0', 'node1', 'node2']);
  t.true(cap.nodes.every((n) => n.num_cpus === 16 && n.memory_bytes === 64.5 * GIB && n.num_gpus === 2));
  t.is(cap.time_limit_seconds, 4.5 * 3600);
  t.is(cap.scheduler_config_id, 7);
});

test('pooled form defaults: 0 GPUs, 1 node, no time limit, no scheduler', (t) => {
  t.deepEqual(capacityFromPooled({ num_cpus: 4, memory_gb: 8 }), {
    nodes: [{ name: 'node0', num_cpus: 4, memory_bytes: 8 * GIB, num_gpus: 0 }],
    time_limit_seconds: null,
    scheduler_config_id: null,
  });
});

test('per-node form keeps each node and its busy flag', (t) => {
  const cap = capacityFromNodes({
    nodes: [
      { name: 'a', num_cpus: 8, memory_gb: 32 },
      { name: 'b', num_cpus: 4, memory_gb: 16, num_gpus: 1, busy: true },
    ],
    time_limit: null,
  });
  t.deepEqual(cap.nodes, [
    { name: 'a', num_cpus: 8, memory_bytes: 32 * GIB, num_gpus: 0 },
    { name: 'b', num_cpus: 4, memory_bytes: 16 * GIB, num_gpus: 1, busy: true },
  ]);
});

function fields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err.issues.map((i) => i.path);
    throw err;
  }
  throw new Error('expected an InputError');
}

test('pooled form: every bad field is named', (t) => {
  t.deepEqual(fields(() => capacityFromPooled({ num_cpus: -1, memory_gb: 8 })), ['num_cpus']);
  t.deepEqual(fields(() => capacityFromPooled({ num_cpus: 1.5, memory_gb: 8 })), ['num_cpus']);
  t.deepEqual(fields(() => capacityFromPooled({ num_cpus: 4, memory_gb: '8g' } as unknown as PooledCapacityInput)), ['memory_gb']);
  t.deepEqual(fields(() => capacityFromPooled({ num_cpus: 4, memory_gb: 8, num_nodes: 0 })), ['num_nodes']);
  t.deepEqual(fields(() => capacityFromPooled({ num_cpus: 4, memory_gb: 8, time_limit: '4 hours' })), ['time_limit']);
  t.deepEqual(fields(() => capacityFromPooled({ num_cpus: 4, memory_gb: 8, scheduler_config_id: -2 })), ['scheduler_config_id']);
  t.deepEqual(
    fields(() => capacityFromPooled({ num_gpus: 'x', time_limit: 5 } as unknown as PooledCapacityInput, 'body')),
    ['body.num_cpus', 'body.memory_gb', 'body.num_gpus', 'body.time_limit'],
  );
  t.deepEqual(fields(() => capacityFromPooled(null as unknown as PooledCapacityInput)).slice(0, 1), ['']);
  const err = t.throws(() => capacityFromPooled({ num_cpus: 4, memory_gb: 8, time_limit: 'P1M' }), { instanceOf: InputError });
  t.regex(err!.message, /^time_limit: invalid ISO8601 duration "P1M": years and months/);
});

test('per-node form: bad nodes are named by index', (t) => {
  t.deepEqual(fields(() => capacityFromNodes({ nodes: [] })), ['nodes']);
  t.deepEqual(fields(() => capacityFromNodes({} as NodesCapacityInput)), ['nodes']);
  t.deepEqual(
    fields(() =>
      capacityFromNodes({
        nodes: [
          { name: 'a', num_cpus: 8, memory_gb: 32 },
          { name: 'b', num_cpus: 8, memory_gb: -1 },
          { name: 'a', num_cpus: 8, memory_gb: 32, num_gpus: 0.5 },
          { name: '', num_cpus: 8, memory_gb: 32, busy: 'yes' as unknown as boolean },
        ],
      }),
    ),
    ['nodes[1].memory_gb', 'nodes[2].name', 'nodes[2].num_gpus', 'nodes[3].name', 'nodes[3].busy'],
  );
  const err = t.throws(() => capacityFromNodes({ nodes: [{ name: 'a', num_cpus: 8, memory_gb: 32 }, { name: 'a', num_cpus: 1, memory_gb: 1 }] }));
  t.is(err?.message, 'nodes[1].name: duplicate node name "a"');
});
