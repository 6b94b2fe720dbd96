/**
 * Item 2, DAG: fan-out / fan-in with file dependencies. One `source` job writes a file, N
 * `work_i` jobs each read it and write their own file, one `sink` job reads all N. torc
 * (`torc reconcile --max-parallel-jobs P`, dependencies derived from input/output files)
 * against Snakemake (`snakemake -j P`, the same rules), both end to end from a clean directory.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensurePeer } from './lib/peers.js';
import { runTimed, tempDir, TORC_BIN } from './lib/proc.js';
import type { BenchContext, BenchSection } from './lib/section.js';
import { fmt, ratioOf, seconds, summarize, table, times, verdict } from './lib/stats.js';

export interface DagOptions {
  jobs: number;
  parallel: number;
}

export function dagSpec(n: number): string {
  return `name: fan_${n}
description: fan-out / fan-in benchmark (bench/dag.ts)
files:
  - name: src
    path: data/src.txt
  - name: out{i}
    path: data/out_{i}.txt
    parameters:
      i: "1:${n}"
  - name: final
    path: data/final.txt
jobs:
  - name: source
    command: mkdir -p data && echo x > data/src.txt
    output_files: [src]
  - name: work_{i}
    command: cat data/src.txt > data/out_{i}.txt
    input_files: [src]
    output_files: ["out{i}"]
    parameters:
      i: "1:${n}"
  - name: sink
    command: cat data/out_*.txt > data/final.txt
    input_file_regexes: ["^out\\\\d+$"]
    output_files: [final]
`;
}

export const SNAKEFILE = `N = int(config["n"])

rule all:
    input: "data/final.txt"

rule source:
    output: "data/src.txt"
    shell: "echo x > {output}"

rule work:
    input: "data/src.txt"
    output: "data/out_{i}.txt"
    shell: "cat {input} > {output}"

rule sink:
    input: expand("data/out_{i}.txt", i=range(1, N + 1))
    output: "data/final.txt"
    shell: "cat data/out_*.txt > {output}"
`;

function checkFinal(dir: string, n: number, tool: string): void {
  const lines = readFileSync(path.join(dir, 'data', 'final.txt'), 'utf8').trim().split('\n').length;
  if (lines !== n) throw new Error(`${tool}: final.txt has ${lines} lines, expected ${n}`);
}

export async function runDagBench(ctx: BenchContext, o: DagOptions): Promise<BenchSection> {
  const tmp = tempDir('dag');
  try {
    const missing = ensurePeer('snakemake', ctx.log);
    const torc: number[] = [];
    const smk: number[] = [];
    for (let round = 0; round < ctx.runs; round++) {
      const tdir = path.join(tmp.dir, `torc${round}`);
      mkdirSync(tdir);
      writeFileSync(path.join(tdir, 'fan.yaml'), dagSpec(o.jobs));
      const t = await runTimed(process.execPath, [TORC_BIN, 'reconcile', 'fan.yaml', '--max-parallel-jobs', String(o.parallel), '--format', 'json', '-q'], { cwd: tdir });
      checkFinal(tdir, o.jobs, 'torc');
      torc.push(t.wallMs);
      ctx.log(`dag: round ${round + 1}/${ctx.runs} torc ${seconds(t.wallMs)}`);
      if (!missing) {
        const sdir = path.join(tmp.dir, `smk${round}`);
        mkdirSync(sdir);
        writeFileSync(path.join(sdir, 'Snakefile'), SNAKEFILE);
        const s = await runTimed('snakemake', ['-j', String(o.parallel), '--quiet', '--config', `n=${o.jobs}`], { cwd: sdir });
        checkFinal(sdir, o.jobs, 'snakemake');
        smk.push(s.wallMs);
        ctx.log(`dag: round ${round + 1}/${ctx.runs} snakemake ${seconds(s.wallMs)}`);
      }
    }
    const figures: Record<string, number> = {};
    const ts = summarize(torc);
    Object.assign(figures, { 'dag.torc.wall_ms_median': ts.median, 'dag.torc.wall_ms_min': ts.min, 'dag.torc.wall_ms_max': ts.max });
    const rows: string[][] = [[`\`torc reconcile --max-parallel-jobs ${o.parallel}\``, fmt(ts, seconds), '1']];
    const targets = [];
    let note = '';
    if (!missing) {
      const ss = summarize(smk);
      const speedup = ratioOf(smk, torc);
      Object.assign(figures, {
        'dag.snakemake.wall_ms_median': ss.median, 'dag.snakemake.wall_ms_min': ss.min, 'dag.snakemake.wall_ms_max': ss.max,
        'dag.speedup_over_snakemake': speedup.median,
      });
      rows.push([`\`snakemake -j ${o.parallel}\``, fmt(ss, seconds), `${times(speedup.median)} (${times(speedup.min)}–${times(speedup.max)})`]);
      targets.push({
        name: `(2) torc ≥ 5× faster than Snakemake (${o.jobs}-job fan-out${o.jobs === 2000 ? '' : '; the issue sets it for 2,000'})`,
        ok: speedup.median >= 5,
        measured: `${times(speedup.median)} faster`,
      });
      note = `Target (2): ≥ 5× faster than Snakemake: ${times(speedup.median)} → ${verdict(speedup.median >= 5, '≥ 5×')}.`;
    } else {
      note = `Snakemake not measured: ${missing}.`;
    }
    const markdown = [
      `${o.jobs + 2} jobs: \`source\` → ${o.jobs} × \`work_i\` (each reads src.txt, writes out_i.txt) → \`sink\` (reads all out_i.txt). ` +
        `Dependencies come from the declared files in both tools; ${o.parallel} jobs at a time; fresh directory each run; wall time of the whole command, ` +
        `median (min–max) of ${ctx.runs} rounds (each round runs both tools).`,
      '',
      table(['tool', 'wall time', 'tool ÷ torc (paired rounds)'], rows),
      '',
      note,
      '',
      `Reproduce: \`npm run bench -- --only dag --dag-jobs ${o.jobs} --parallel ${o.parallel} --runs ${ctx.runs}\`. The spec and Snakefile are \`dagSpec()\` and \`SNAKEFILE\` in bench/dag.ts.`,
    ].join('\n');
    return { key: 'dag', title: `2. DAG: ${o.jobs}-job fan-out / fan-in with file dependencies`, markdown, figures, targets };
  } finally {
    tmp.remove();
  }
}
