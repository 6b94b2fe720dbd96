/** The packing benchmark's simulator: sanity of its figures (no timing). */
import test from 'ava';
import { MIXES, lowerBound, runPackingBench } from '../../bench/packing.js';

test('lower bound: the larger of work per capacity and the longest job', (t) => {
  const nodes = [{ name: 'a', num_cpus: 4, memory_bytes: 100, num_gpus: 0 }, { name: 'b', num_cpus: 4, memory_bytes: 100, num_gpus: 0 }];
  const job = (cpus: number, mem: number, runtime: number) => ({ need: { num_cpus: cpus, memory_bytes: mem, num_gpus: 0, num_nodes: 1, runtime_seconds: runtime }, runtime });
  // 8 CPUs in all: 4 jobs × 4 CPUs × 10 s = 160 CPU-s → 20 s.
  t.is(lowerBound(nodes, [job(4, 1, 10), job(4, 1, 10), job(4, 1, 10), job(4, 1, 10)]), 20);
  t.is(lowerBound(nodes, [job(1, 1, 50), job(1, 1, 1)]), 50);
  t.is(lowerBound(nodes, [job(1, 200, 10)]), 10);
  t.is(lowerBound(nodes, [job(1, 100, 10), job(1, 100, 10), job(1, 100, 10), job(1, 100, 10)]), 20);
});

test('per-node claims never over-commit, and no makespan beats the lower bound', (t) => {
  const { figures, markdown } = runPackingBench({ runs: 2, scale: 0.25 });
  for (const mix of MIXES) {
    const p = `packing.${mix.name}`;
    t.is(figures[`${p}.ours.overcommits`], 0, mix.name);
    t.true(figures[`${p}.ours.ratio_min`]! >= 1, `${mix.name} ours`);
    t.true(figures[`${p}.pooled.ratio_min`]! >= 1, `${mix.name} pooled`);
    t.regex(markdown, new RegExp(`\\| ${mix.name} \\|`));
  }
  // Where job sizes fragment the nodes, pooling hands out jobs that no node has room for.
  t.true(figures['packing.cpu-sizes.pooled.overcommitted_placements_median']! > 0);
});

test('unknown mixes and bad sizes are refused', (t) => {
  t.throws(() => runPackingBench({ mixes: ['nope'] }), { message: /no such mix/ });
  t.throws(() => runPackingBench({ runs: 0 }), { message: /runs/ });
  t.throws(() => runPackingBench({ scale: -1 }), { message: /scale/ });
});
