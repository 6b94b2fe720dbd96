/**
 * Item 5, create + initialize: parameterized workflows of N jobs (a `setup` job, N − 1
 * `work_i` jobs that depend on it, one parameter each), stored and initialized in a fresh
 * process the way `torc reconcile` does it (bench/workers/create.ts). Time from reading the
 * file to initialized jobs, and the process's peak RSS. No peer tool: compared with the targets.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runWorker, tempDir } from './lib/proc.js';
import type { BenchContext, BenchSection, Target } from './lib/section.js';
import { fmt, megabytes, millis, seconds, summarize, table, times, verdict } from './lib/stats.js';

export interface CreateOptions {
  sizes: number[];
  /** Runs of the largest size (it may take minutes); others use ctx.runs. */
  largestRuns?: number;
  /** Plan with the streamed planner (src/spec/stream-plan.ts): jobs generated while stored. */
  stream?: boolean;
}

export function createSpec(n: number): string {
  return `name: create_${n}
description: create + initialize benchmark (bench/create.ts)
resource_requirements:
  - {name: small, num_cpus: 1, memory: 2g, runtime: PT30M}
jobs:
  - name: setup
    command: echo setup
    resource_requirements: small
  - name: work_{i}
    command: python3 model.py --case {i} --out results/case_{i}.json
    resource_requirements: small
    depends_on: [setup]
    parameters:
      i: "1:${n - 1}"
`;
}

interface CreateRun {
  jobs: number;
  dependencies: number;
  load_ms: number;
  plan_ms: number;
  store_ms: number;
  initialize_ms: number;
  total_ms: number;
  max_rss_kb: number;
  wallMs: number;
}

const TARGETS: Record<number, { ms: number; rssKb?: number }> = { 100_000: { ms: 5000, rssKb: 500 * 1024 }, 1_000_000: { ms: 60_000 } };
/** Issue 18: 10M jobs in ≤ 300 s and ≤ 3 GB (`--huge`, streamed planner). */
const HUGE_TARGETS: Record<number, { ms: number; rssKb?: number }> = { 10_000_000: { ms: 300_000, rssKb: 3 * 1024 * 1024 } };

export async function runCreateBench(ctx: BenchContext, o: CreateOptions): Promise<BenchSection> {
  const tmp = tempDir('create');
  try {
    const results = new Map<number, CreateRun[]>();
    const largest = Math.max(...o.sizes);
    for (const n of o.sizes) {
      const spec = path.join(tmp.dir, `create_${n}.yaml`);
      writeFileSync(spec, createSpec(n));
      const runs = n === largest && o.largestRuns ? o.largestRuns : ctx.runs;
      const list: CreateRun[] = [];
      for (let r = 0; r < runs; r++) {
        const db = path.join(tmp.dir, `create_${n}_${r}.db`);
        const res = await runWorker<CreateRun>('create', [spec, db, ...(o.stream ? ['--stream'] : [])]);
        if (res.jobs !== n) throw new Error(`created ${res.jobs} jobs, expected ${n}`);
        list.push(res);
        ctx.log(`create: ${n} jobs, run ${r + 1}/${runs}: ${seconds(res.total_ms)}, peak RSS ${megabytes(res.max_rss_kb)}`);
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
      }
      results.set(n, list);
    }
    const figures: Record<string, number> = {};
    const targets: Target[] = [];
    const rows = o.sizes.map((n) => {
      const list = results.get(n)!;
      const total = summarize(list.map((x) => x.total_ms));
      const rss = summarize(list.map((x) => x.max_rss_kb));
      const phase = (k: keyof CreateRun) => millis(summarize(list.map((x) => x[k])).median);
      Object.assign(figures, {
        [`create.${n}.total_ms_median`]: total.median,
        [`create.${n}.total_ms_min`]: total.min,
        [`create.${n}.total_ms_max`]: total.max,
        [`create.${n}.max_rss_kb_median`]: rss.median,
        [`create.${n}.max_rss_kb_max`]: rss.max,
      });
      const t = (o.stream ? HUGE_TARGETS : TARGETS)[n];
      let verdicts = '—';
      if (t) {
        const okT = total.median <= t.ms;
        const okR = t.rssKb === undefined || rss.max <= t.rssKb;
        targets.push({ name: `(5) ${n.toLocaleString('en-US')} jobs created + initialized ≤ ${seconds(t.ms)}`, ok: okT, measured: seconds(total.median) });
        if (t.rssKb !== undefined) targets.push({ name: `(5) ${n.toLocaleString('en-US')} jobs ≤ ${megabytes(t.rssKb)} peak RSS`, ok: okR, measured: megabytes(rss.max) });
        verdicts = `${verdict(okT, `≤ ${seconds(t.ms)}`)}${t.rssKb !== undefined ? `, ${verdict(okR, `≤ ${megabytes(t.rssKb)}`)}` : ''}; ${times(total.median / t.ms)} of the time budget`;
      }
      return [n.toLocaleString('en-US'), String(list.length), fmt(total, seconds), phase('load_ms'), phase('plan_ms'), phase('store_ms'), phase('initialize_ms'), fmt(rss, megabytes), verdicts];
    });
    const markdown = [
      (o.stream
        ? 'Streamed planner (`--huge`): the plan keeps only the dependency CSR and a hashed name table; the jobs are generated again, batch by batch, while the store inserts them (so "plan" is names + dependencies, and job generation is inside "store"). '
        : '') +
      'A parameterized spec (`setup` → N − 1 × `work_{i}`), in a fresh Node process: load + schema validation, plan (expansion, dependencies), ' +
        'store (one transaction), initialize (ready/blocked). Time from reading the file to initialized jobs (process start-up not included); ' +
        'peak RSS of the whole process (`process.resourceUsage().maxRSS`). Median (min–max). There is no peer tool for this figure; the last column compares with the target.',
      '',
      table(['jobs', 'runs', 'total', 'load', 'plan', 'store', 'initialize', 'peak RSS', 'target'], rows),
      '',
      o.stream
        ? `Reproduce: \`npm run bench -- --only huge --huge --huge-jobs ${o.sizes.join(',')} --runs ${ctx.runs}\`.`
        : `Reproduce: \`npm run bench -- --only create --create-sizes ${o.sizes.join(',')} --runs ${ctx.runs}\`.`,
    ].join('\n');
    return o.stream
      ? { key: 'huge', title: '5b. Create + initialize a 10M-job parameterized workflow (streamed, `--huge`)', markdown, figures: prefixed(figures), targets }
      : { key: 'create', title: '5. Create + initialize large parameterized workflows', markdown, figures, targets };
  } finally {
    tmp.remove();
  }
}

function prefixed(figures: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [`huge.${k}`, v]));
}
