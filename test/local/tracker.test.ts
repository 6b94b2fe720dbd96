import test from 'ava';
import fc from 'fast-check';
import type { ResourceNeed } from '../../src/allocator/types.js';
import { GpuPool } from '../../src/runners/local/gpu-pool.js';
import { ResourceTracker } from '../../src/runners/local/tracker.js';

const GIB = 1024 ** 3;
const need = (over: Partial<ResourceNeed>): ResourceNeed => ({ num_cpus: 1, memory_bytes: GIB, num_gpus: 0, num_nodes: 1, runtime_seconds: 60, ...over });
const node = { name: 'box', num_cpus: 8, memory_bytes: 16 * GIB, num_gpus: 4 };

test('GPU jobs get disjoint devices while enough are free; released ones are reused', (t) => {
  const pool = new GpuPool(['0', '1', '2', '3']);
  t.deepEqual(pool.acquire(1, 2), { devices: ['0', '1'], shared: false });
  t.deepEqual(pool.acquire(2, 1), { devices: ['2'], shared: false });
  t.deepEqual(pool.freeDevices(), ['3']);
  pool.release(1);
  t.deepEqual(pool.acquire(3, 3), { devices: ['0', '1', '3'], shared: false });
  t.throws(() => pool.acquire(3, 1));
});

test('GPU pool: concurrent holders never share a device while the pool suffices (property)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 })), { maxLength: 60 }), (ops) => {
      const pool = new GpuPool(['a', 'b', 'c', 'd']);
      const held = new Map<number, string[]>();
      let id = 0;
      for (const [release, n] of ops) {
        if (release && held.size > 0) {
          const victim = [...held.keys()][n % held.size]!;
          pool.release(victim);
          held.delete(victim);
          continue;
        }
        const inUse = [...held.values()].flat();
        if (inUse.length + n > 4) continue; // the server would not hand out more than fits
        const grant = pool.acquire(++id, n);
        if (grant.shared || grant.devices.length !== n) return false;
        if (grant.devices.some((d) => inUse.includes(d))) return false;
        held.set(id, grant.devices);
      }
      return true;
    }),
  );
  t.pass();
});

test('queue-depth oversubscription shares the least-used GPUs instead of giving fewer', (t) => {
  const pool = new GpuPool(['0', '1']);
  pool.acquire(1, 2);
  pool.acquire(2, 1);
  const g = pool.acquire(3, 1);
  t.true(g.shared);
  t.deepEqual(g.devices, ['1']);
});

test('tracker: free capacity shrinks with running jobs and comes back on release', (t) => {
  const tracker = new ResourceTracker([node], ['0', '1', '2', '3'], true);
  const limits = { time_limit_seconds: null, scheduler_config_id: null };
  const g1 = tracker.reserve({ id: 1, resources: need({ num_cpus: 3, num_gpus: 2 }), assigned_nodes: [] });
  const g2 = tracker.reserve({ id: 2, resources: need({ num_cpus: 2, memory_bytes: 4 * GIB, num_gpus: 1 }), assigned_nodes: ['box'] });
  t.deepEqual(g1, { gpus: ['0', '1'], overcommitted: false });
  t.deepEqual(g2, { gpus: ['2'], overcommitted: false });
  const free = tracker.capacity(limits).nodes[0]!;
  t.like(free, { name: 'box', num_cpus: 3, memory_bytes: 11 * GIB, num_gpus: 1 });
  tracker.release(1);
  tracker.release(1); // idempotent
  t.like(tracker.capacity(limits).nodes[0]!, { num_cpus: 6, memory_bytes: 12 * GIB, num_gpus: 3 });
});

test('tracker: a job claimed beyond the free capacity still runs, flagged overcommitted', (t) => {
  const tracker = new ResourceTracker([node], [], true);
  t.deepEqual(tracker.reserve({ id: 1, resources: need({ num_cpus: 8 }), assigned_nodes: [] }), { gpus: null, overcommitted: false });
  t.deepEqual(tracker.reserve({ id: 2, resources: need({ num_cpus: 1 }), assigned_nodes: [] }), { gpus: null, overcommitted: true });
  tracker.release(2);
  tracker.release(1);
  t.like(tracker.capacity({ time_limit_seconds: null, scheduler_config_id: null }).nodes[0]!, { num_cpus: 8 });
});

test('tracker in queue-depth mode ignores capacity but still hands out GPUs', (t) => {
  const tracker = new ResourceTracker([node], ['0', '1'], false);
  t.throws(() => tracker.capacity({ time_limit_seconds: null, scheduler_config_id: null }));
  const grants = [1, 2, 3].map((id) => tracker.reserve({ id, resources: need({ num_cpus: 8, num_gpus: 1 }), assigned_nodes: [] }));
  t.deepEqual(grants.map((g) => g.gpus), [['0'], ['1'], ['0']]);
  t.deepEqual(grants.map((g) => g.overcommitted), [false, false, true]);
});
