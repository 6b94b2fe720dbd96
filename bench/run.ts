/**
 * `npm run bench`: runs the benchmarks of issue 9 and writes bench/RESULTS.md (and
 * bench/results.json, from which RESULTS.md is rebuilt: sections run later replace their
 * earlier copies, so one section can be re-measured alone when the machine is quiet).
 *
 *   npm run bench                          # every benchmark, default sizes (~13 min on 2 quiet cores):
 *                                          #   queue 2000, DAG 300, REST 100k, claims 1k/10k/100k, create 100k + 1M,
 *                                          #   Kubernetes 50 Workflows × 1000 jobs on 100 fake nodes (~4 min)
 *   npm run bench -- --full                # the issue's sizes: queue 5000, DAG 2000 (Snakemake alone
 *                                          #   takes minutes per run), the rest as the defaults
 *   npm run bench -- --only queue,claims --runs 7
 *   npm run bench -- --quick               # tiny sizes, to check the harness; writes to a temp file
 *   npm run bench -- --only monitor --runs 3   # issue 22: monitoring overhead, 100 jobs × 20 s × 5 configurations
 *   npm run bench -- --huge --only huge --runs 1  # issue 18: 10M-job workflow created + initialized (minutes; not in the default run)
 */
import { Command, InvalidArgumentError } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { runClaimLatencyBench } from './claim-latency.js';
import { runCreateBench } from './create.js';
import { runDagBench } from './dag.js';
import { runDashboardBench } from './dashboard.js';
import { runDispatchBench } from './dispatch.js';
import { runK8sScaleBench } from './k8s-scale.js';
import { describeLoad, LoadMeter, machineFacts, type MachineFacts } from './lib/machine.js';
import { ROOT } from './lib/proc.js';
import type { BenchContext, BenchSection } from './lib/section.js';
import { table } from './lib/stats.js';
import { runMonitorBench } from './monitor.js';
import { runPackingBench } from './packing.js';
import { runQueueBench } from './queue.js';

const ALL = ['queue', 'dag', 'dispatch', 'claims', 'create', 'huge', 'packing', 'dashboard', 'k8s', 'monitor'] as const;
type BenchName = (typeof ALL)[number];

interface StoredSection extends BenchSection {
  date: string;
  load: string;
  seconds: number;
  machine: MachineFacts;
  command: string;
}

const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number ≥ ${min}`);
  return n;
};
const intList = (v: string) =>
  v.split(',').map((x) => {
    const n = Number(x.trim().replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected whole numbers ≥ 1 separated by commas, got "${x}"`);
    return n;
  });

const program = new Command('bench')
  .option('--only <names>', `comma-separated subset of: ${ALL.join(', ')}`)
  .option('--runs <n>', 'runs per figure (median with min/max)', int(1), 5)
  .option('--full', "the issue's sizes: queue 5000, DAG 2000, REST 100k, claims 1k/10k/100k, create 100k and 1M")
  .option('--quick', 'tiny sizes to check the harness (3 runs; writes to a temp file unless --out)')
  .option('--queue-jobs <n>', 'item 1: `true` jobs', int(1))
  .option('--parallel <n>', 'items 1, 2: jobs at a time', int(1), 4)
  .option('--no-gnu-parallel', 'item 1: leave GNU parallel out (minutes a round at high load)')
  .option('--dag-jobs <n>', 'item 2: fan-out width', int(1))
  .option('--rest-jobs <n>', 'item 3: jobs in the workflow', int(1))
  .option('--rest-jobs-per-run <n>', 'item 3: jobs processed per run', int(1))
  .option('--claimers <n>', 'item 3: concurrent HTTP claimers', int(1), 8)
  .option('--claim-batch <n>', 'item 3: jobs asked for per claim', int(1), 10)
  .option('--bulk-batch <n>', 'item 3: a larger claim batch, bulk routes only (0: none)', int(0), 50)
  .option('--claim-sizes <list>', 'item 4: ready-queue sizes', intList)
  .option('--claims-per-run <n>', 'item 4: claims timed per run', int(1), 30)
  .option('--create-sizes <list>', 'item 5: workflow sizes', intList)
  .option('--create-largest-runs <n>', 'item 5: runs of the largest size (default --runs)', int(1))
  .option('--huge', 'issue 18: also run the 10M-job create + initialize (streamed planner; minutes, GBs)')
  .option('--huge-jobs <list>', 'with --huge: workflow sizes (default 10,000,000)', intList)
  .option('--packing-runs <n>', 'item 6: seeds per mix (default --runs)', int(1))
  .option('--packing-scale <x>', 'item 6: job-count multiplier', Number, 1)
  .option('--dashboard-jobs <n>', 'item 7: jobs in the workflow the dashboard opens', int(3))
  .option('--k8s-workflows <n>', 'item 8: Workflows', int(1))
  .option('--k8s-jobs <n>', 'item 8: jobs per Workflow', int(1))
  .option('--k8s-nodes <n>', 'item 8: fake nodes (8 cores each)', int(1))
  .option('--monitor-jobs <n>', 'item 9: concurrent jobs sampled', int(1), 100)
  .option('--monitor-seconds <n>', 'item 9: how long each job runs (sleep)', int(1))
  .option('--out <file>', 'where to write the results (default bench/RESULTS.md)')
  .option('--fresh', 'forget sections measured by earlier runs')
  .option('--render', 'only rebuild the results file from its .json (e.g. after editing bench/NOTES.md)')
  .parse();

const flags = program.opts<{
  only?: string; runs: number; full?: boolean; quick?: boolean; queueJobs?: number; parallel: number; dagJobs?: number;
  restJobs?: number; restJobsPerRun?: number; claimers: number; claimBatch: number; bulkBatch: number; claimSizes?: number[]; claimsPerRun: number;
  createSizes?: number[]; createLargestRuns?: number; huge?: boolean; hugeJobs?: number[]; gnuParallel: boolean; packingRuns?: number; packingScale: number; dashboardJobs?: number; out?: string; fresh?: boolean; render?: boolean;
  k8sWorkflows?: number; k8sJobs?: number; k8sNodes?: number;
  monitorJobs: number; monitorSeconds?: number;
}>();

// `huge` runs only with --huge (it takes minutes and GBs).
const only = (flags.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? ALL.filter((n) => n !== 'huge' || flags.huge)) as BenchName[];
if (only.includes('huge') && !flags.huge) program.error('--only huge: add --huge (the 10M-job run takes minutes and GBs)');
for (const name of only) if (!ALL.includes(name)) program.error(`--only: unknown benchmark "${name}" (known: ${ALL.join(', ')})`);

// Default sizes fit 10 minutes on 2 cores; --full is the issue's; --quick checks the harness.
const size = <T>(quick: T, dflt: T, full: T, flag: T | undefined): T => flag ?? (flags.quick ? quick : flags.full ? full : dflt);
const runs = flags.quick && program.getOptionValueSource('runs') === 'default' ? 3 : flags.runs;
const queueJobs = size(200, 2000, 5000, flags.queueJobs);
const dagJobs = size(50, 300, 2000, flags.dagJobs);
const restJobsPerRun = size(500, 5000, 5000, flags.restJobsPerRun);
const restJobs = size(Math.max(2000, restJobsPerRun * runs * 3), 100_000, 100_000, flags.restJobs);
const claimSizes = size([1000, 10_000], [1000, 10_000, 100_000], [1000, 10_000, 100_000], flags.claimSizes);
const createSizes = size([10_000, 100_000], [100_000, 1_000_000], [100_000, 1_000_000], flags.createSizes);
const createLargestRuns = flags.createLargestRuns ?? (flags.quick ? 1 : runs);
const dashboardJobs = size(10_000, 100_000, 100_000, flags.dashboardJobs);
const k8sWorkflows = size(3, 50, 50, flags.k8sWorkflows);
const k8sJobs = size(100, 1000, 1000, flags.k8sJobs);
const k8sNodes = size(10, 100, 100, flags.k8sNodes);
const monitorSeconds = size(5, 20, 30, flags.monitorSeconds);
const outFile = path.resolve(flags.out ?? (flags.quick ? path.join(os.tmpdir(), 'torc-bench-RESULTS.md') : path.join(ROOT, 'bench', 'RESULTS.md')));
const jsonFile = outFile.replace(/\.md$/, '') + '.json';

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const ctx: BenchContext = { runs, log };
const facts = machineFacts(sqlite3.VERSION);
const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();

const benches: Record<BenchName, () => Promise<BenchSection>> = {
  queue: () => runQueueBench(ctx, { jobs: queueJobs, parallel: flags.parallel, gnuParallel: flags.gnuParallel }),
  dag: () => runDagBench(ctx, { jobs: dagJobs, parallel: flags.parallel }),
  dispatch: () =>
    runDispatchBench(ctx, { jobs: restJobs, jobsPerRun: restJobsPerRun, claimers: flags.claimers, batch: flags.claimBatch, bulkBatch: flags.bulkBatch }),
  claims: () => runClaimLatencyBench(ctx, { sizes: claimSizes, claimsPerRun: flags.claimsPerRun }),
  create: () => runCreateBench(ctx, { sizes: createSizes, largestRuns: createLargestRuns }),
  huge: () => runCreateBench(ctx, { sizes: flags.hugeJobs ?? [10_000_000], stream: true }),
  dashboard: () => runDashboardBench(ctx, { jobs: dashboardJobs }),
  monitor: () => runMonitorBench(ctx, { jobs: flags.monitorJobs, seconds: monitorSeconds }),
  packing: async () => {
    const r = runPackingBench({ runs: flags.packingRuns ?? runs, scale: flags.packingScale });
    const body = r.markdown.split('\n').slice(1).join('\n').trim();
    const worst = r.figures['packing.ours.worst_median_ratio']!;
    return {
      key: 'packing',
      title: '6. Packing: per-node allocator vs torc pooled greedy (simulated)',
      markdown: body,
      figures: r.figures,
      targets: [{ name: '(6) makespan within 10% of the lower bound (worst mix, median)', ok: worst <= 1.1, measured: `${worst.toFixed(3)}× the bound` }],
    };
  },
  k8s: () => runK8sScaleBench(ctx, { workflows: k8sWorkflows, jobsPerWorkflow: k8sJobs, nodes: k8sNodes, coresPerNode: 8, jobSeconds: 1 }),
};

const previous: Record<string, StoredSection> = !flags.fresh && existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as { sections: Record<string, StoredSection> }).sections : {};
const sections: Record<string, StoredSection> = { ...previous };

const started = Date.now();
for (const name of flags.render ? [] : ALL.filter((n) => only.includes(n))) {
  log(`== ${name}`);
  const meter = new LoadMeter();
  const t0 = Date.now();
  const section = await benches[name]();
  const seconds = (Date.now() - t0) / 1000;
  sections[name] = { ...section, date: new Date().toISOString(), load: describeLoad(meter.stop(), facts.nproc), seconds, machine: facts, command };
  log(`== ${name} done in ${seconds.toFixed(0)} s`);
  writeFileSync(jsonFile, `${JSON.stringify({ sections }, null, 2)}\n`);
  writeFileSync(outFile, render(sections));
}
if (flags.render) writeFileSync(outFile, render(sections));
log(`all done in ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${outFile}`);

function render(all: Record<string, StoredSection>): string {
  const present = ALL.filter((n) => all[n]).map((n) => all[n]!);
  const machines = new Map(present.map((s) => [`${s.machine.hostname} ${s.machine.nproc} ${s.machine.cpuModel} ${s.machine.node}`, s.machine]));
  const machineLines = [...machines.values()].map(
    (m) =>
      `- ${m.hostname}: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}, Node ${m.node}, SQLite ${m.sqlite}; ` +
      `peers: ${Object.entries(m.peers).map(([k, v]) => `${k} "${v}"`).join(', ')}`,
  );
  const targetRows = present.flatMap((s) => s.targets.map((t) => [t.name, t.measured, t.ok ? 'meets' : '**misses**', s.date.slice(0, 16).replace('T', ' ')]));
  const notesFile = path.join(ROOT, 'bench', 'NOTES.md');
  const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8').trim() : '';
  return [
    '# torc-ts benchmarks (issue 9)',
    '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand — the analysis lives in bench/NOTES.md and is copied in at the end. ' +
      'Every figure is the median of the runs with min–max; ratios to a peer come from the same rounds. Each section says when it ran, ' +
      'with which command and under what load (the 1-minute load average, sampled every 5 s while it ran; it includes the benchmark itself).',
    '',
    '## Machine',
    '',
    ...machineLines,
    '',
    '## Targets',
    '',
    table(['target', 'measured', 'verdict', 'measured at (UTC)'], targetRows, ['l', 'r', 'l', 'l']),
    '',
    ...present.flatMap((s) => [
      `## ${s.title}`,
      '',
      `_Ran ${s.date.slice(0, 19).replace('T', ' ')} UTC for ${s.seconds.toFixed(0)} s with \`${s.command}\`; ${s.load}._`,
      '',
      s.markdown.trim(),
      '',
    ]),
    ...(notes ? [notes, ''] : []),
  ].join('\n');
}
