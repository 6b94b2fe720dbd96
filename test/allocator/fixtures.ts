/** Builders and fast-check arbitraries shared by the allocator tests (not a test file). */
import fc from 'fast-check';
import { GIB, MIB } from '../../src/allocator/fit.js';
import type { ClaimCandidate, ClaimClass, ClaimOptions, NodeCapacity, ResourceNeed, RunnerCapacity } from '../../src/allocator/types.js';

export const HOUR = 3600;

/** A need in the units people write: GiB of memory, hours of runtime. */
export function need(cpus: number, memGb: number, opts: { gpus?: number; nodes?: number; hours?: number } = {}): ResourceNeed {
  return {
    num_cpus: cpus,
    memory_bytes: Math.round(memGb * GIB),
    num_gpus: opts.gpus ?? 0,
    num_nodes: opts.nodes ?? 1,
    runtime_seconds: (opts.hours ?? 1) * HOUR,
  };
}

/** torc's default for a job without requirements: 1 CPU, 1 MB, PT1H. */
export const TINY: ResourceNeed = { num_cpus: 1, memory_bytes: MIB, num_gpus: 0, num_nodes: 1, runtime_seconds: HOUR };

export function node(name: string, cpus: number, memGb: number, gpus = 0): NodeCapacity {
  return { name, num_cpus: cpus, memory_bytes: memGb * GIB, num_gpus: gpus };
}

export function runner(nodes: NodeCapacity[], extra: Partial<RunnerCapacity> = {}): RunnerCapacity {
  return { nodes, time_limit_seconds: null, scheduler_config_id: null, ...extra };
}

export function cls(key: string, n: ResourceNeed, scheduler_id: number | null = null): ClaimClass {
  return { key, need: n, scheduler_id };
}

/** Jobs numbered from `firstId`, queue order = id, all of one class. */
export function jobs(classKey: string, count: number, firstId: number): ClaimCandidate[] {
  return Array.from({ length: count }, (_, i) => ({ job_id: firstId + i, class_key: classKey, order: firstId + i }));
}

export function opts(extra: Partial<ClaimOptions> = {}): ClaimOptions {
  return { sort_method: 'none', strict_scheduler_match: false, limit: 1000, ...extra };
}

// ---- arbitraries ----

const schedulerArb = fc.option(fc.integer({ min: 1, max: 3 }), { nil: null, freq: 2 });

export const nodeArb = (name: string) =>
  fc.record({
    name: fc.constant(name),
    num_cpus: fc.integer({ min: 0, max: 64 }),
    memory_bytes: fc.integer({ min: 0, max: 256 }).map((g) => g * GIB),
    num_gpus: fc.integer({ min: 0, max: 4 }),
    busy: fc.boolean(),
  }).map((n): NodeCapacity => (n.busy ? n : { name: n.name, num_cpus: n.num_cpus, memory_bytes: n.memory_bytes, num_gpus: n.num_gpus }));

export const capacityArb: fc.Arbitrary<RunnerCapacity> = fc
  .integer({ min: 1, max: 5 })
  .chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => nodeArb(`n${i}`))))
  .chain((nodes) =>
    fc.record({
      nodes: fc.constant(nodes),
      time_limit_seconds: fc.option(fc.integer({ min: 0, max: 12 }).map((h) => h * HOUR), { nil: null }),
      scheduler_config_id: schedulerArb,
    }),
  );

export const needArb: fc.Arbitrary<ResourceNeed> = fc.record({
  num_cpus: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 40 })),
  memory_bytes: fc.oneof(fc.constant(MIB), fc.integer({ min: 0, max: 160 }).map((g) => g * GIB)),
  num_gpus: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
  num_nodes: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 3 }) }),
  runtime_seconds: fc.integer({ min: 1, max: 12 * 4 }).map((q) => q * 900),
});

export const classesArb: fc.Arbitrary<ClaimClass[]> = fc
  .array(fc.tuple(needArb, schedulerArb), { minLength: 1, maxLength: 6 })
  .map((list) => list.map(([n, s], i) => cls(`c${i}`, n, s)));

/** Candidates over the classes: distinct ids, queue order a random permutation. */
export function candidatesArb(classes: ClaimClass[], maxJobs = 80): fc.Arbitrary<ClaimCandidate[]> {
  return fc
    .array(fc.integer({ min: 0, max: classes.length - 1 }), { maxLength: maxJobs })
    .chain((picks) =>
      fc.shuffledSubarray(picks.map((_, i) => i), { minLength: picks.length, maxLength: picks.length }).map((orders) =>
        picks.map((c, i) => ({ job_id: 100 + i, class_key: classes[c]!.key, order: orders[i]! })),
      ),
    );
}

export const optionsArb: fc.Arbitrary<ClaimOptions> = fc.record({
  sort_method: fc.constantFrom('gpus_runtime_memory' as const, 'gpus_memory_runtime' as const, 'none' as const),
  strict_scheduler_match: fc.boolean(),
  any_scheduler: fc.oneof(fc.constant(undefined), fc.boolean()),
  limit: fc.integer({ min: 1, max: 40 }),
}).map((o) => (o.any_scheduler === undefined ? { sort_method: o.sort_method, strict_scheduler_match: o.strict_scheduler_match, limit: o.limit } : o));

/** A whole claim problem. */
export const problemArb = fc
  .tuple(capacityArb, classesArb, optionsArb)
  .chain(([capacity, classes, options]) => candidatesArb(classes).map((candidates) => ({ capacity, classes, candidates, options })));
