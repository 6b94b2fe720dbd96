/**
 * Packing benchmark (issue 9, item 6): heterogeneous job mixes on 4 simulated nodes, in
 * simulated time (no processes). Our per-node allocator (decideClaim + NodeLedger) against
 * torc's pooled greedy (decideClaimPooled): makespan against the lower bound, and how often
 * pooling puts a job on a node that has no room for it.
 *
 * Both policies run the same loop: whenever jobs end (or at the next poll tick, with
 * pollSeconds), the runner claims with what is free (through the store's fetch budget, for
 * ours) and the jobs start at once. The pooled runner
 * does not know its nodes, so each job it claims is then put where it fits best, or, when no
 * node has room, on the least overloaded node (over-commit); over-committed nodes are modelled
 * at full speed, which flatters the pooled makespan. Runtimes: each job runs for its class's
 * declared runtime times a seeded random factor in [0.6, 1].
 *
 * Run alone: `node --import tsx bench/packing.ts [--runs N] [--scale X] [--sort M] [--poll S]`;
 * bench/run.ts imports runPackingBench().
 */
import { pathToFileURL } from 'node:url';
import { fetchBudget } from '../src/allocator/budget.js';
import { decideClaim } from '../src/allocator/claim.js';
import { eligibleClasses } from '../src/allocator/eligibility.js';
import { GIB, fitsOn, formatResources, type FreeResources } from '../src/allocator/fit.js';
import { NodeLedger } from '../src/allocator/ledger.js';
import { decideClaimPooled } from '../src/allocator/pooled.js';
import type { ClaimCandidate, ClaimClass, ClaimOptions, NodeCapacity, ResourceNeed, RunnerCapacity, SortMethod } from '../src/allocator/types.js';
import { rng } from '../test/support/rng.js';

export interface PackingBenchOptions {
  /** Seeds per mix (each a different random draw of runtimes and queue order); default 5. */
  runs?: number;
  /** Multiplies the job counts of every mix; default 1. */
  scale?: number;
  sortMethod?: SortMethod;
  /** Only these mixes (by name); default all. */
  mixes?: string[];
  /** Runners claim at multiples of this many simulated seconds (0 = the instant a job ends); default 0. */
  pollSeconds?: number;
}

export interface PackingBenchResult {
  markdown: string;
  /** Flat figures, e.g. `packing.seed.ours.ratio_median`. */
  figures: Record<string, number>;
}

interface MixClass {
  key: string;
  need: ResourceNeed;
  count: number;
}

interface Mix {
  name: string;
  description: string;
  nodes: NodeCapacity[];
  classes: MixClass[];
}

const H = 3600;
const need = (cpus: number, memGb: number, gpus: number, hours: number, nodes = 1): ResourceNeed => ({
  num_cpus: cpus,
  memory_bytes: memGb * GIB,
  num_gpus: gpus,
  num_nodes: nodes,
  runtime_seconds: hours * H,
});
const nodes = (prefix: string, count: number, cpus: number, memGb: number, gpus: number): NodeCapacity[] =>
  Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i}`, num_cpus: cpus, memory_bytes: memGb * GIB, num_gpus: gpus }));

/** The default mixes. The seed's classes: small = 2 CPUs, 4g, PT30M; large = 16 CPUs, 2 GPUs, 128g, PT8H. */
export const MIXES: Mix[] = [
  {
    name: 'seed',
    description: "the seed's small and large jobs on 4 GPU nodes",
    nodes: nodes('gpu', 4, 32, 256, 4),
    classes: [
      { key: 'large', need: need(16, 128, 2, 8), count: 16 },
      { key: 'small', need: need(2, 4, 0, 0.5), count: 600 },
    ],
  },
  {
    name: 'cpu-sizes',
    description: 'CPU jobs of 4 to 24 CPUs on 4 CPU nodes (fragmentation)',
    nodes: nodes('cpu', 4, 32, 128, 0),
    classes: [
      { key: 'xl', need: need(24, 64, 0, 3), count: 24 },
      { key: 'l', need: need(20, 48, 0, 2), count: 30 },
      { key: 'm', need: need(12, 32, 0, 2), count: 40 },
      { key: 's', need: need(8, 16, 0, 1), count: 60 },
      { key: 'xs', need: need(4, 8, 0, 1), count: 120 },
    ],
  },
  {
    name: 'highmem',
    description: 'memory-heavy and CPU jobs on 4 CPU nodes (one 160 GiB job per node at a time)',
    nodes: nodes('cpu', 4, 64, 256, 0),
    classes: [
      { key: 'bigmem', need: need(4, 160, 0, 2), count: 16 },
      { key: 'cpu8', need: need(8, 8, 0, 1), count: 400 },
    ],
  },
  {
    name: 'gpu-mixed',
    description: 'GPU and CPU jobs on 2 GPU nodes and 2 CPU nodes',
    nodes: [...nodes('gpu', 2, 32, 256, 4), ...nodes('cpu', 2, 64, 256, 0)],
    classes: [
      { key: 'large', need: need(16, 128, 2, 8), count: 4 },
      { key: 'gpu1', need: need(4, 32, 1, 2), count: 24 },
      { key: 'cpu16', need: need(16, 64, 0, 3), count: 24 },
      { key: 'small', need: need(2, 4, 0, 0.5), count: 600 },
    ],
  },
];

interface SimJob {
  id: number;
  cls: string;
  need: ResourceNeed;
  /** Actual runtime, seconds. */
  runtime: number;
}

interface SimResult {
  makespan: number;
  lowerBound: number;
  /** Jobs put on a node without room for them (pooled only). */
  overcommittedPlacements: number;
  /** The same, by the resource that ran short (a job may count under several). */
  shortOf: { num_cpus: number; memory_bytes: number; num_gpus: number };
  /** Simulated seconds during which some node held more than it has. */
  overcommittedSeconds: number;
  /** Highest load of any resource of any node, as a fraction of its capacity. */
  peakLoad: number;
  claims: number;
  /** When the last job started: after it, no job waits and the nodes drain. */
  lastStart: number;
  /** CPU-seconds left idle while jobs were still waiting (the allocator's packing loss). */
  idleCpuWhileWaiting: number;
}

type Policy = 'ours' | 'pooled';

/** Jobs of a mix in a random queue order with random actual runtimes (same draw for both policies). */
export function drawJobs(mix: Mix, scale: number, seed: number): SimJob[] {
  const rand = rng(seed);
  const jobs: SimJob[] = [];
  for (const c of mix.classes) {
    const count = Math.max(1, Math.round(c.count * scale));
    for (let i = 0; i < count; i++) jobs.push({ id: 0, cls: c.key, need: c.need, runtime: Math.round(c.need.runtime_seconds * (0.6 + 0.4 * rand())) });
  }
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [jobs[i], jobs[j]] = [jobs[j]!, jobs[i]!];
  }
  jobs.forEach((job, i) => (job.id = i + 1));
  return jobs;
}

/** max over resources of total work / total capacity, and the longest job. */
export function lowerBound(nodeList: readonly NodeCapacity[], jobs: readonly { need: ResourceNeed; runtime: number }[]): number {
  const cap = { num_cpus: 0, memory_bytes: 0, num_gpus: 0 };
  for (const n of nodeList) {
    cap.num_cpus += n.num_cpus;
    cap.memory_bytes += n.memory_bytes;
    cap.num_gpus += n.num_gpus;
  }
  let bound = 0;
  for (const r of ['num_cpus', 'memory_bytes', 'num_gpus'] as const) {
    let work = 0;
    for (const j of jobs) work += j.need[r] * j.need.num_nodes * j.runtime;
    if (work > 0) bound = Math.max(bound, work / cap[r]);
  }
  for (const j of jobs) bound = Math.max(bound, j.runtime);
  return bound;
}

/** Min-heap of job end times. */
class EndQueue {
  private readonly heap: { at: number; id: number }[] = [];
  get size(): number {
    return this.heap.length;
  }
  peek(): number {
    return this.heap[0]!.at;
  }
  push(at: number, id: number): void {
    const h = this.heap;
    h.push({ at, id });
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }
  pop(): { at: number; id: number } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Ready jobs per class in queue order, consumed from the front. */
class ReadyQueues {
  private readonly queues = new Map<string, SimJob[]>();
  private readonly heads = new Map<string, number>();
  remaining: number;
  constructor(jobs: SimJob[]) {
    for (const job of jobs) {
      if (!this.queues.has(job.cls)) this.queues.set(job.cls, []);
      this.queues.get(job.cls)!.push(job);
    }
    for (const key of this.queues.keys()) this.heads.set(key, 0);
    this.remaining = jobs.length;
  }
  /** Classes that still have ready jobs. */
  classes(all: Map<string, ClaimClass>): ClaimClass[] {
    return [...this.queues.keys()].filter((k) => this.heads.get(k)! < this.queues.get(k)!.length).map((k) => all.get(k)!);
  }
  /** The first `n` ready jobs of a class (all when n is omitted). */
  front(key: string, n = Infinity): ClaimCandidate[] {
    const q = this.queues.get(key)!;
    const head = this.heads.get(key)!;
    return q.slice(head, Math.min(q.length, head + n)).map((j) => ({ job_id: j.id, class_key: key, order: j.id }));
  }
  /** Removes claimed jobs; within a class a claim always takes a queue-order prefix. */
  take(jobIds: Set<number>): void {
    let consumed = 0;
    for (const [key, q] of this.queues) {
      const start = this.heads.get(key)!;
      let head = start;
      while (head < q.length && jobIds.has(q[head]!.id)) head++;
      consumed += head - start;
      this.heads.set(key, head);
    }
    // A claimed job behind an unclaimed one of its class would break the queue model.
    if (consumed !== jobIds.size) throw new Error('a claim skipped a queued job of the same class');
    this.remaining -= consumed;
  }
}

export function simulate(mix: Mix, jobs: SimJob[], policy: Policy, sortMethod: SortMethod, pollSeconds = 0): SimResult {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const classes = new Map(mix.classes.map((c) => [c.key, { key: c.key, need: c.need, scheduler_id: null } as ClaimClass]));
  const options: ClaimOptions = { sort_method: sortMethod, strict_scheduler_match: false, limit: 10_000 };
  const ready = new ReadyQueues(jobs);
  const ends = new EndQueue();
  const ledger = new NodeLedger(mix.nodes);
  // Pooled: what each node was given, possibly more than it has.
  const load = new Map(mix.nodes.map((n) => [n.name, { num_cpus: 0, memory_bytes: 0, num_gpus: 0 }]));
  const placedOn = new Map<number, string>();
  const result: SimResult = { makespan: 0, lowerBound: lowerBound(mix.nodes, jobs), overcommittedPlacements: 0, shortOf: { num_cpus: 0, memory_bytes: 0, num_gpus: 0 }, overcommittedSeconds: 0, peakLoad: 0, claims: 0, lastStart: 0, idleCpuWhileWaiting: 0 };
  let now = 0;
  let lastEnd = 0;

  const overloaded = () =>
    mix.nodes.some((n) => {
      const l = load.get(n.name)!;
      return l.num_cpus > n.num_cpus || l.memory_bytes > n.memory_bytes || l.num_gpus > n.num_gpus;
    });

  /** Over-commit and idle time between two instants, with the loads as they stand. */
  const account = (from: number, to: number) => {
    if (to <= from) return;
    if (overloaded()) result.overcommittedSeconds += to - from;
    if (ready.remaining > 0) {
      let idle = 0;
      for (const n of mix.nodes) idle += Math.max(0, n.num_cpus - load.get(n.name)!.num_cpus);
      result.idleCpuWhileWaiting += idle * (to - from);
    }
  };

  const claimOurs = (): number => {
    const capacity: RunnerCapacity = ledger.capacity({ time_limit_seconds: null, scheduler_config_id: null });
    const present = ready.classes(classes);
    // What the store does: read only the budgeted rows of each eligible class.
    const budget = fetchBudget(capacity, eligibleClasses(capacity, present, options), options);
    const candidates = [...budget].flatMap(([key, n]) => ready.front(key, n));
    const decision = decideClaim(capacity, present, candidates, options);
    ledger.apply(decision, (id) => byId.get(id)!.need);
    for (const c of decision.claimed) {
      for (const name of c.nodes) {
        const l = load.get(name)!;
        const job = byId.get(c.job_id)!;
        l.num_cpus += job.need.num_cpus;
        l.memory_bytes += job.need.memory_bytes;
        l.num_gpus += job.need.num_gpus;
      }
      placedOn.set(c.job_id, c.nodes.join(','));
    }
    ready.take(new Set(decision.claimed.map((c) => c.job_id)));
    for (const c of decision.claimed) ends.push(now + byId.get(c.job_id)!.runtime, c.job_id);
    return decision.claimed.length;
  };

  const claimPooled = (): number => {
    // The pooled runner reports per node what it believes is free; only the sums matter to torc.
    const capacity: RunnerCapacity = {
      nodes: mix.nodes.map((n) => {
        const l = load.get(n.name)!;
        return { name: n.name, num_cpus: n.num_cpus - l.num_cpus, memory_bytes: n.memory_bytes - l.memory_bytes, num_gpus: n.num_gpus - l.num_gpus };
      }),
      time_limit_seconds: null,
      scheduler_config_id: null,
    };
    const present = ready.classes(classes);
    const candidates = present.flatMap((c) => ready.front(c.key));
    const decision = decideClaimPooled(capacity, present, candidates, options);
    for (const c of decision.claimed) {
      const job = byId.get(c.job_id)!;
      const name = placePooled(mix.nodes, load, job.need);
      const l = load.get(name)!;
      const node = mix.nodes.find((n) => n.name === name)!;
      const room: FreeResources = { num_cpus: node.num_cpus - l.num_cpus, memory_bytes: node.memory_bytes - l.memory_bytes, num_gpus: node.num_gpus - l.num_gpus };
      if (!fitsOn(job.need, room)) {
        result.overcommittedPlacements++;
        for (const d of ['num_cpus', 'memory_bytes', 'num_gpus'] as const) if (job.need[d] > room[d]) result.shortOf[d]++;
      }
      l.num_cpus += job.need.num_cpus;
      l.memory_bytes += job.need.memory_bytes;
      l.num_gpus += job.need.num_gpus;
      placedOn.set(c.job_id, name);
      ends.push(now + job.runtime, c.job_id);
    }
    ready.take(new Set(decision.claimed.map((c) => c.job_id)));
    return decision.claimed.length;
  };

  while (ready.remaining > 0 || ends.size > 0) {
    if (ready.remaining > 0) {
      const claimed = policy === 'ours' ? claimOurs() : claimPooled();
      if (claimed > 0) {
        result.claims++;
        result.lastStart = now;
      }
      if (claimed === 0 && ends.size === 0) throw new Error(`${mix.name}/${policy}: ${ready.remaining} jobs can never run`);
    }
    for (const n of mix.nodes) {
      const l = load.get(n.name)!;
      result.peakLoad = Math.max(result.peakLoad, l.num_cpus / (n.num_cpus || 1), l.memory_bytes / (n.memory_bytes || 1), n.num_gpus ? l.num_gpus / n.num_gpus : l.num_gpus > 0 ? Infinity : 0);
    }
    // Runners claim when a job ends, or, when they poll, at the first tick after that.
    const first = ends.peek();
    const wake = pollSeconds > 0 && ready.remaining > 0 ? Math.max(first, Math.ceil(first / pollSeconds) * pollSeconds) : first;
    while (ends.size > 0 && ends.peek() <= wake) {
      const at = ends.peek();
      account(now, at);
      now = at;
      while (ends.size > 0 && ends.peek() === now) {
        const { id } = ends.pop();
        const job = byId.get(id)!;
        for (const name of placedOn.get(id)!.split(',')) {
          const l = load.get(name)!;
          l.num_cpus -= job.need.num_cpus;
          l.memory_bytes -= job.need.memory_bytes;
          l.num_gpus -= job.need.num_gpus;
        }
        if (policy === 'ours') ledger.release(id);
      }
      lastEnd = now;
    }
    account(now, wake);
    now = wake;
  }
  result.makespan = lastEnd;
  return result;
}

/**
 * Where a pooled runner's job goes, charitably: the fullest node with room (as ours would),
 * else the node that ends up least overloaded.
 */
function placePooled(nodeList: readonly NodeCapacity[], load: Map<string, FreeResources>, n: ResourceNeed): string {
  let best = '';
  let bestScore = Infinity;
  for (const node of nodeList) {
    const l = load.get(node.name)!;
    const after = [
      (l.num_cpus + n.num_cpus) / (node.num_cpus || 0.5),
      (l.memory_bytes + n.memory_bytes) / (node.memory_bytes || 1),
      n.num_gpus ? (l.num_gpus + n.num_gpus) / (node.num_gpus || 0.5) : 0,
    ];
    const worst = Math.max(...after);
    // Fits: prefer the fullest (score < 1 ranks by emptiness left); else the least overload.
    const score = worst <= 1 ? -worst : worst;
    if (score < bestScore) {
      bestScore = score;
      best = node.name;
    }
  }
  return best;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ratio = (xs: number[]) => `${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;
const hours = (s: number) => (s / H).toFixed(2);
const pctRange = (xs: number[]) => `${pct(median(xs))} (${pct(Math.min(...xs))}–${pct(Math.max(...xs))})`;

export function runPackingBench(opts: PackingBenchOptions = {}): PackingBenchResult {
  const runs = opts.runs ?? 5;
  const scale = opts.scale ?? 1;
  const sortMethod = opts.sortMethod ?? 'gpus_runtime_memory';
  const pollSeconds = opts.pollSeconds ?? 0;
  if (!(pollSeconds >= 0)) throw new Error('pollSeconds must be ≥ 0');
  const mixes = opts.mixes ? MIXES.filter((m) => opts.mixes!.includes(m.name)) : MIXES;
  if (mixes.length === 0) throw new Error(`no such mix; known: ${MIXES.map((m) => m.name).join(', ')}`);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('runs must be a whole number ≥ 1');
  if (!(scale > 0)) throw new Error('scale must be > 0');

  const figures: Record<string, number> = {};
  const spanRows: string[] = [];
  const overRows: string[] = [];
  let worstMedian = 0;
  let worstSeed = 0;
  for (const mix of mixes) {
    const ours: SimResult[] = [];
    const pooled: SimResult[] = [];
    let jobCount = 0;
    for (let r = 0; r < runs; r++) {
      const jobs = drawJobs(mix, scale, 1000 + r);
      jobCount = jobs.length;
      ours.push(simulate(mix, jobs, 'ours', sortMethod, pollSeconds));
      pooled.push(simulate(mix, jobs, 'pooled', sortMethod, pollSeconds));
    }
    const totalCpus = mix.nodes.reduce((sum, n) => sum + n.num_cpus, 0);
    const oursRatios = ours.map((x) => x.makespan / x.lowerBound);
    const pooledRatios = pooled.map((x) => x.makespan / x.lowerBound);
    const idleShare = ours.map((x) => x.idleCpuWhileWaiting / (totalCpus * x.makespan));
    const tailShare = ours.map((x) => (x.makespan - x.lastStart) / x.makespan);
    const overPlacements = pooled.map((x) => x.overcommittedPlacements / jobCount);
    const shortOf = (d: keyof SimResult['shortOf']) => median(pooled.map((x) => x.shortOf[d] / jobCount));
    const overTime = pooled.map((x) => x.overcommittedSeconds / x.makespan);
    const peak = median(pooled.map((x) => x.peakLoad));
    const oursOver = ours.reduce((sum, x) => sum + x.overcommittedPlacements + (x.peakLoad > 1 ? 1 : 0), 0);
    worstMedian = Math.max(worstMedian, median(oursRatios));
    worstSeed = Math.max(worstSeed, ...oursRatios);
    const p = `packing.${mix.name}`;
    Object.assign(figures, {
      [`${p}.jobs`]: jobCount,
      [`${p}.lower_bound_hours`]: median(ours.map((x) => x.lowerBound)) / H,
      [`${p}.ours.ratio_median`]: median(oursRatios),
      [`${p}.ours.ratio_min`]: Math.min(...oursRatios),
      [`${p}.ours.ratio_max`]: Math.max(...oursRatios),
      [`${p}.ours.idle_cpu_while_waiting_median`]: median(idleShare),
      [`${p}.ours.drain_tail_median`]: median(tailShare),
      [`${p}.ours.overcommits`]: oursOver,
      [`${p}.pooled.ratio_median`]: median(pooledRatios),
      [`${p}.pooled.ratio_min`]: Math.min(...pooledRatios),
      [`${p}.pooled.ratio_max`]: Math.max(...pooledRatios),
      [`${p}.pooled.overcommitted_placements_median`]: median(overPlacements),
      [`${p}.pooled.overcommitted_placements_min`]: Math.min(...overPlacements),
      [`${p}.pooled.overcommitted_placements_max`]: Math.max(...overPlacements),
      [`${p}.pooled.short_of_cpus_median`]: shortOf('num_cpus'),
      [`${p}.pooled.short_of_memory_median`]: shortOf('memory_bytes'),
      [`${p}.pooled.short_of_gpus_median`]: shortOf('num_gpus'),
      [`${p}.pooled.overcommitted_time_median`]: median(overTime),
      [`${p}.pooled.peak_load_median`]: peak,
    });
    spanRows.push(
      `| ${mix.name} | ${jobCount} | ${hours(median(ours.map((x) => x.lowerBound)))} | **${ratio(oursRatios)}** | ` +
        `${pct(median(idleShare))} | ${pct(median(tailShare))} | ${ratio(pooledRatios)} |`,
    );
    overRows.push(
      `| ${mix.name} | ${oursOver} | ${pctRange(overPlacements)} | ${pct(shortOf('num_cpus'))} / ${pct(shortOf('memory_bytes'))} / ${pct(shortOf('num_gpus'))} | ` +
        `${pct(median(overTime))} | ${peak.toFixed(2)}× |`,
    );
  }
  figures['packing.ours.worst_median_ratio'] = worstMedian;
  figures['packing.ours.worst_ratio'] = worstSeed;

  const mixLines = mixes.map(
    (m) =>
      `- **${m.name}**: ${m.description}. Nodes: ${describeNodes(m.nodes)}. Jobs: ` +
      m.classes.map((c) => `${Math.max(1, Math.round(c.count * scale))} × ${c.key} (${formatResources(c.need)}, ${hours(c.need.runtime_seconds)} h)`).join(', ') +
      '.',
  );
  const markdown = [
    '## Packing: per-node allocator vs torc pooled greedy (simulated)',
    '',
    `Simulated time, no processes; ${runs} seeds per mix (actual runtime = declared × U[0.6, 1], random queue order); ` +
      `both claim with sort method \`${sortMethod}\` ${pollSeconds > 0 ? `every ${pollSeconds} s when a job has ended` : 'the moment a job ends'}. Lower bound = max(total work ÷ total capacity, per resource; longest job).`,
    '',
    ...mixLines,
    '',
    '### Makespan ÷ lower bound, median (min–max)',
    '',
    '| mix | jobs | lower bound (h) | ours | ours: CPUs idle while jobs waited | ours: drain tail (after the last start) | pooled (optimistic) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...spanRows,
    '',
    `Target (issue 9): within 10% of the lower bound. Ours: worst median ${worstMedian.toFixed(3)} ` +
      `(${worstMedian <= 1.1 ? 'meets' : 'misses'} it), worst single seed ${worstSeed.toFixed(3)}. The gap to the bound is idle CPUs while the ` +
      'remaining jobs did not fit the holes (fragmentation) plus the drain at the end; the bound itself ignores both, so it is not always reachable. ' +
      'The pooled makespan is optimistic: it runs over-committed nodes at full speed, where real nodes would thrash, swap or kill jobs for memory.',
    '',
    '### Over-commit: jobs placed on a node without room for them',
    '',
    'The pooled runner does not know its nodes; each job it claims is then put, charitably, on the fullest node with room, and only when none ' +
      'has room on the least overloaded one. These counts are therefore the least pooling can do. Ours books every claim in a NodeLedger, ' +
      'which refuses any over-commit (the ours column counts them and must be 0).',
    '',
    '| mix | ours | pooled: jobs on a full node, median (min–max) | pooled: short of CPUs / memory / GPUs | pooled: time with a node over-committed | pooled: peak node load |',
    '|---|---:|---:|---:|---:|---:|',
    ...overRows,
    '',
    `Reproduce: \`node --import tsx bench/packing.ts --runs ${runs} --scale ${scale}\` (also \`--sort none|gpus_memory_runtime\`).`,
    '',
  ].join('\n');
  return { markdown, figures };
}

function describeNodes(list: readonly NodeCapacity[]): string {
  const groups = new Map<string, number>();
  for (const n of list) {
    const k = formatResources(n);
    groups.set(k, (groups.get(k) ?? 0) + 1);
  }
  return [...groups].map(([k, count]) => `${count} × (${k})`).join(' + ');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (flag: string) => {
    const i = process.argv.indexOf(flag);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const result = runPackingBench({
    runs: arg('--runs') ? Number(arg('--runs')) : undefined,
    scale: arg('--scale') ? Number(arg('--scale')) : undefined,
    sortMethod: arg('--sort') as SortMethod | undefined,
    pollSeconds: arg('--poll') ? Number(arg('--poll')) : undefined,
  });
  process.stdout.write(result.markdown);
}
