/**
 * Item 1, queue depth: N `true` jobs, P at a time. `torc reconcile --max-parallel-jobs P`
 * (the real binary, end to end: start-up, spec, store, runner, exit) against `xargs -P` and
 * GNU `parallel -j`. Every round runs each tool once, in turn, so machine load hits all alike.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensurePeer } from './lib/peers.js';
import { runTimed, tempDir, TORC_BIN } from './lib/proc.js';
import type { BenchContext, BenchSection } from './lib/section.js';
import { fmt, ratioOf, seconds, summarize, table, times, verdict } from './lib/stats.js';

export interface QueueOptions {
  jobs: number;
  parallel: number;
  /** Run GNU parallel too (at high load it takes minutes a round). */
  gnuParallel?: boolean;
}

export function queueSpec(jobs: number): string {
  return [
    `name: queue_${jobs}`,
    'description: queue-depth benchmark (bench/queue.ts)',
    'jobs:',
    '  - name: job_{i}',
    '    command: "true"',
    '    parameters:',
    `      i: "1:${jobs}"`,
    '',
  ].join('\n');
}

interface Tool {
  name: string;
  label: string;
  peer?: string;
  run: (dir: string, round: number) => Promise<number>;
}

export async function runQueueBench(ctx: BenchContext, o: QueueOptions): Promise<BenchSection> {
  const tmp = tempDir('queue');
  try {
    const spec = path.join(tmp.dir, 'queue.yaml');
    writeFileSync(spec, queueSpec(o.jobs));
    const seq = `seq 1 ${o.jobs}`;
    const tools: Tool[] = [
      {
        name: 'torc',
        label: `\`torc reconcile --max-parallel-jobs ${o.parallel}\``,
        run: async (dir, round) => {
          const r = await runTimed(
            process.execPath,
            [TORC_BIN, 'reconcile', spec, '--max-parallel-jobs', String(o.parallel), '--db', path.join(dir, `r${round}.db`),
              '--output-dir', path.join(dir, `out${round}`), '--format', 'json', '-q'],
            { cwd: dir },
          );
          const summary = JSON.parse(r.stdout) as { counts: { completed: number } }[];
          if (summary[0]?.counts.completed !== o.jobs) throw new Error(`torc completed ${summary[0]?.counts.completed} of ${o.jobs} jobs`);
          return r.wallMs;
        },
      },
      {
        name: 'xargs',
        label: `\`${seq} | xargs -P ${o.parallel} -n 1 true\``,
        peer: 'xargs',
        run: async (dir) => (await runTimed('bash', ['-c', `${seq} | xargs -P ${o.parallel} -n 1 true`], { cwd: dir })).wallMs,
      },
      {
        name: 'xargs_bash',
        label: `\`${seq} | xargs -P ${o.parallel} -n 1 bash -c true\` (a shell per job)`,
        peer: 'xargs',
        run: async (dir) => (await runTimed('bash', ['-c', `${seq} | xargs -P ${o.parallel} -n 1 bash -c true`], { cwd: dir })).wallMs,
      },
      {
        name: 'parallel',
        label: `\`${seq} | parallel -j ${o.parallel} true\``,
        peer: 'parallel',
        run: async (dir) => (await runTimed('bash', ['-c', `${seq} | parallel --will-cite -j ${o.parallel} true`], { cwd: dir })).wallMs,
      },
    ];
    const missing: string[] = [];
    const active = tools.filter((t) => o.gnuParallel !== false || t.name !== 'parallel').filter((t) => {
      const why = t.peer ? ensurePeer(t.peer, ctx.log) : null;
      if (why) missing.push(`${t.name}: ${why}`);
      return !why;
    });
    const walls = new Map<string, number[]>(active.map((t) => [t.name, []]));
    for (let round = 0; round < ctx.runs; round++) {
      for (const t of active) {
        const ms = await t.run(tmp.dir, round);
        walls.get(t.name)!.push(ms);
        ctx.log(`queue: round ${round + 1}/${ctx.runs} ${t.name} ${seconds(ms)}`);
      }
    }
    const torc = walls.get('torc')!;
    const figures: Record<string, number> = {};
    const rows = active.map((t) => {
      const w = walls.get(t.name)!;
      const s = summarize(w);
      figures[`queue.${t.name}.wall_ms_median`] = s.median;
      figures[`queue.${t.name}.wall_ms_min`] = s.min;
      figures[`queue.${t.name}.wall_ms_max`] = s.max;
      const perJob = s.median / o.jobs;
      const r = t.name === 'torc' ? '1' : times(ratioOf(torc, w).median);
      if (t.name !== 'torc') figures[`queue.torc_over_${t.name}`] = ratioOf(torc, w).median;
      return [t.label, fmt(s, seconds), `${(perJob * 1000).toFixed(0)} µs`, t.name === 'torc' ? '—' : `${r} (${times(ratioOf(torc, w).min)}–${times(ratioOf(torc, w).max)})`];
    });
    const vsXargs = walls.has('xargs') ? ratioOf(torc, walls.get('xargs')!) : null;
    const sizeNote = o.jobs === 5000 ? '' : '; the issue sets it for 5,000';
    const targets = vsXargs
      ? [
          { name: `(1) torc ≤ 1.5× xargs wall time (${o.jobs} jobs${sizeNote})`, ok: vsXargs.median <= 1.5, measured: times(vsXargs.median) },
          { name: `(18) queue depth: torc ≤ 1.2× xargs wall time (${o.jobs} jobs${sizeNote})`, ok: vsXargs.median <= 1.2, measured: times(vsXargs.median) },
        ]
      : [];
    const markdown = [
      `${o.jobs} jobs of \`true\`, ${o.parallel} at a time; wall time of the whole command (start-up included), median (min–max) of ${ctx.runs} rounds; ` +
        'each round runs every tool once, in turn. The torc run uses a fresh database and output directory each time (job stdout/stderr files, REST API served).',
      '',
      table(['tool', 'wall time', 'per job', 'torc ÷ tool, median of paired rounds (min–max)'], rows),
      '',
      ...(vsXargs
        ? [
            `Target (1): torc ≤ 1.5× xargs: ${times(vsXargs.median)} → ${verdict(vsXargs.median <= 1.5, '≤ 1.5×')}. ` +
              `Issue 18: ≤ 1.2× → ${verdict(vsXargs.median <= 1.2, '≤ 1.2×')} (paired rounds ${times(vsXargs.min)}–${times(vsXargs.max)}).`,
            '',
          ]
        : []),
      ...(missing.length ? [`Not measured: ${missing.join('; ')}.`, ''] : []),
      `Reproduce: \`npm run bench -- --only queue --queue-jobs ${o.jobs} --parallel ${o.parallel} --runs ${ctx.runs}${o.gnuParallel === false ? ' --no-gnu-parallel' : ''}\`.`,
    ].join('\n');
    return { key: 'queue', title: `1. Queue depth: ${o.jobs} \`true\` jobs, ${o.parallel} at a time`, markdown, figures, targets };
  } finally {
    tmp.remove();
  }
}
