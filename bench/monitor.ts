/**
 * Issue 22, monitoring overhead: the same run — 100 concurrent jobs of `sleep S`, sampled every
 * second — with resource monitoring off and on (a cgroup per job, or the /proc walk; summary or
 * time series). The figure is the CPU time of the whole `torc reconcile` process tree (Node, the
 * spawner, the jobs: bash's `times` after it exits) less the same run's with monitoring off, over
 * the wall time: percent of one core. Every round runs each configuration once, in turn.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { runTimed, tempDir, TORC_BIN } from './lib/proc.js';
import type { BenchContext, BenchSection } from './lib/section.js';
import { fmt, summarize, table, verdict } from './lib/stats.js';

export interface MonitorBenchOptions {
  jobs: number;
  seconds: number;
}

interface Config {
  key: string;
  label: string;
  monitor: Record<string, unknown>;
  backend?: 'proc';
}

const CONFIGS: Config[] = [
  { key: 'off', label: 'monitoring off (`enabled: false`)', monitor: { enabled: false } },
  { key: 'cgroup_summary', label: 'cgroup per job, summary', monitor: { granularity: 'summary', sample_interval_seconds: 1 } },
  { key: 'cgroup_series', label: 'cgroup per job, time series (samples stored)', monitor: { granularity: 'time_series', sample_interval_seconds: 1 } },
  { key: 'proc_summary', label: '/proc walk, summary', monitor: { granularity: 'summary', sample_interval_seconds: 1 }, backend: 'proc' },
  { key: 'proc_series', label: '/proc walk, time series', monitor: { granularity: 'time_series', sample_interval_seconds: 1 }, backend: 'proc' },
];

export function monitorSpec(jobs: number, seconds: number, monitor: Record<string, unknown>): string {
  return [
    `name: monitor_${jobs}`,
    'description: monitoring overhead benchmark (bench/monitor.ts)',
    `resource_monitor: ${JSON.stringify(monitor)}`,
    // No CPU each, a little memory: all of them run at once on any machine, resource-aware.
    'resource_requirements:',
    '  - {name: idle, num_cpus: 0, memory: 16m, runtime: PT30M}',
    'jobs:',
    '  - name: job_{i}',
    `    command: sleep ${seconds}`,
    '    resource_requirements: idle',
    '    parameters:',
    `      i: "1:${jobs}"`,
    '',
  ].join('\n');
}

/** The children's CPU seconds from bash's `times` (its second line: "0m1.234s 0m0.567s"). */
function childCpu(stdout: string): number {
  const lines = stdout.trim().split('\n');
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(lines[lines.length - 1] ?? '');
  if (!m) throw new Error(`no times output: ${stdout.slice(-300)}`);
  return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

function count(db: string, sql: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const d = new sqlite3.Database(db, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      d.get(sql, (e, row: { n: number } | undefined) => {
        d.close();
        if (e) reject(e);
        else resolve(row?.n ?? 0);
      });
    });
  });
}

export async function runMonitorBench(ctx: BenchContext, o: MonitorBenchOptions): Promise<BenchSection> {
  const tmp = tempDir('monitor');
  try {
    const cpu: Record<string, number[]> = {};
    const wall: Record<string, number[]> = {};
    const measured: Record<string, number> = {};
    for (let round = 0; round < ctx.runs; round++) {
      for (const c of CONFIGS) {
        const spec = path.join(tmp.dir, `${c.key}.yaml`);
        writeFileSync(spec, monitorSpec(o.jobs, o.seconds, c.monitor));
        const db = path.join(tmp.dir, `${c.key}-${round}.db`);
        const out = path.join(tmp.dir, `${c.key}-${round}.json`);
        const cmd = [process.execPath, TORC_BIN, 'reconcile', spec, '--db', db, '--output-dir', path.join(tmp.dir, `out-${c.key}-${round}`), '--no-server', '-q', '--format', 'json']
          .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
          .join(' ');
        const r = await runTimed('bash', ['-c', `${cmd} > '${out}' 2>/dev/null; s=$?; times; exit $s`], {
          cwd: tmp.dir,
          env: { ...process.env, ...(c.backend ? { TORC_MONITOR_BACKEND: c.backend } : {}) },
        });
        const summary = JSON.parse(readFileSync(out, 'utf8')) as { counts: { completed: number } }[];
        if (summary[0]?.counts.completed !== o.jobs) throw new Error(`${c.key}: ${summary[0]?.counts.completed} of ${o.jobs} jobs completed`);
        (cpu[c.key] ??= []).push(childCpu(r.stdout));
        (wall[c.key] ??= []).push(r.wallMs / 1000);
        measured[c.key] = await count(db, 'SELECT COUNT(*) AS n FROM results WHERE peak_memory_bytes IS NOT NULL');
        measured[`${c.key}_samples`] = await count(db, 'SELECT COUNT(*) AS n FROM job_resource_samples');
        ctx.log(`monitor ${c.key} round ${round + 1}: ${cpu[c.key]!.at(-1)!.toFixed(2)} s CPU in ${wall[c.key]!.at(-1)!.toFixed(1)} s`);
      }
    }
    // Per round: (CPU with − CPU without) / wall time with, in percent of one core.
    const overhead = (key: string) => summarize(cpu[key]!.map((x, i) => ((x - cpu.off![i]!) / wall[key]![i]!) * 100));
    const pct = (x: number) => `${x.toFixed(2)}%`;
    const rows = CONFIGS.map((c) => [
      c.label,
      fmt(summarize(wall[c.key]!), (s) => `${s.toFixed(1)} s`),
      fmt(summarize(cpu[c.key]!), (s) => `${s.toFixed(2)} s`),
      c.key === 'off' ? '—' : fmt(overhead(c.key), pct),
      `${measured[c.key]} of ${o.jobs}`,
      measured[`${c.key}_samples`]!,
    ]);
    const figures: Record<string, number> = {};
    for (const c of CONFIGS) {
      figures[`monitor.${c.key}.cpu_s`] = summarize(cpu[c.key]!).median;
      if (c.key !== 'off') figures[`monitor.${c.key}.overhead_pct`] = overhead(c.key).median;
    }
    const worst = Math.max(...CONFIGS.filter((c) => c.key !== 'off').map((c) => overhead(c.key).median));
    const main = overhead('cgroup_summary').median;
    const markdown = [
      `${o.jobs} jobs of \`sleep ${o.seconds}\` running at once (\`torc reconcile\`, resource-aware: 0 CPUs and 16 MB each), sampled every second. ` +
        'CPU is the whole process tree of the command (Node, the spawner helper and the jobs, from bash\'s `times`); overhead is that CPU less the same ' +
        `round's run with monitoring off, over the run's wall time, in percent of one core. Median (min–max) of ${ctx.runs} rounds; each round runs every row once.`,
      '',
      table(['configuration', 'wall time', 'CPU time', 'overhead (% of one core)', 'results with a summary', 'samples stored'], rows),
      '',
      `Target (issue 22): ≤ 1% of one core at 1 s sampling with ${o.jobs} concurrent jobs: ${pct(main)} with a cgroup per job (summary), ` +
        `at most ${pct(worst)} over every row → ${verdict(worst <= 1, '≤ 1%')}.`,
      '',
      `Reproduce: \`npm run bench -- --only monitor --monitor-jobs ${o.jobs} --monitor-seconds ${o.seconds} --runs ${ctx.runs}\`.`,
    ].join('\n');
    return {
      key: 'monitor',
      title: `9. Resource monitoring overhead: ${o.jobs} concurrent jobs sampled every second`,
      markdown,
      figures,
      targets: [{ name: `(issue 22) monitoring ≤ 1% of one core, ${o.jobs} jobs at 1 s sampling (worst configuration)`, ok: worst <= 1, measured: pct(worst) }],
    };
  } finally {
    tmp.remove();
  }
}
