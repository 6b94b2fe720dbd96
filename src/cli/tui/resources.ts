/**
 * The job view's resource lines: sparklines of the CPU and memory samples the runners recorded
 * (issue 22, resource_monitor granularity time_series) for the job's latest attempt, with their
 * peak and average. Without samples (monitoring off, granularity summary, an attempt not started)
 * one line says so, with the attempt's summary from its result when there is one: nothing is
 * made up.
 */
import type { DashboardJobDetail } from '../../api/dashboard/service.js';
import type { ResourceSample } from '../../contract/resources.js';
import { seg, type Line, type Seg } from './style.js';
import { bytes } from './text.js';

/** The attempt whose samples the job view shows. */
export interface SampleTarget {
  runId: number;
  attemptId: number;
}

/** The peak and average a runner reported with the attempt's result. */
interface Summary {
  peakCpu: number | null;
  avgCpu: number | null;
  peakMemory: number | null;
  avgMemory: number | null;
}

export type ResourceSamples =
  | { available: false; reason: string; summary?: Summary }
  | { available: true; cpuPercent: number[]; memoryBytes: number[]; seconds: number };

export const LOADING_SAMPLES: ResourceSamples = { available: false, reason: 'loading…' };

/**
 * The job's latest attempt: the one running now (the workflow's current run), else the newest
 * one with a result; null when the job has not run.
 */
export function sampleTarget(d: DashboardJobDetail): SampleTarget | null {
  if (d.job.status === 'running') return { runId: d.workflow.run_id, attemptId: d.job.attempt_id };
  const last = d.attempts.at(-1);
  return last ? { runId: last.run_id, attemptId: last.attempt_id } : null;
}

/** What the job view shows for the target attempt, from its samples (in time order). */
export function describeSamples(d: DashboardJobDetail, target: SampleTarget | null, samples: ResourceSample[]): ResourceSamples {
  if (!target) return { available: false, reason: 'not recorded: the job has not run yet' };
  if (samples.length > 0) {
    const first = samples[0]!.timestamp;
    return {
      available: true,
      cpuPercent: samples.map((s) => s.cpu_percent),
      memoryBytes: samples.map((s) => s.memory_bytes),
      seconds: samples.at(-1)!.timestamp - first,
    };
  }
  const result = [...d.attempts].reverse().find((a) => a.run_id === target.runId && a.attempt_id === target.attemptId);
  const summary =
    result && (result.peak_cpu_percent !== null || result.peak_memory_bytes !== null)
      ? { peakCpu: result.peak_cpu_percent, avgCpu: result.avg_cpu_percent, peakMemory: result.peak_memory_bytes, avgMemory: result.avg_memory_bytes }
      : undefined;
  return { available: false, reason: `not recorded for attempt ${target.attemptId} (monitoring off or granularity summary)`, summary };
}

const BLOCKS = '▁▂▃▄▅▆▇█';

/**
 * The values as at most `width` block characters, scaled from 0 to the largest value. More
 * values than cells: each cell is the largest of its share, so the whole timeline shows and a
 * peak is never averaged away.
 */
export function sparkline(values: number[], width: number): string {
  const finite = values.filter((v) => Number.isFinite(v));
  const cells = Math.max(0, Math.min(width, finite.length));
  const shown: number[] = [];
  for (let i = 0; i < cells; i++) {
    const from = Math.floor((i * finite.length) / cells);
    const to = Math.max(from + 1, Math.floor(((i + 1) * finite.length) / cells));
    shown.push(Math.max(...finite.slice(from, to)));
  }
  const max = Math.max(0, ...shown);
  return shown.map((v) => (max <= 0 ? BLOCKS[0]! : BLOCKS[Math.min(BLOCKS.length - 1, Math.max(0, Math.round((v / max) * (BLOCKS.length - 1))))]!)).join('');
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const percent = (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v)}%`;

/** `peak X · avg Y`, leaving out what is not known. */
function peakAvg(peak: number | null, avg: number | null, unit: (v: number) => string): string {
  return [peak !== null ? `peak ${unit(peak)}` : '', avg !== null ? `avg ${unit(avg)}` : ''].filter(Boolean).join(' · ');
}

const LABEL = 9;

/** The resource lines of the job view (each cut to `width` by the caller). */
export function resourceLines(samples: ResourceSamples, width: number): Line[] {
  const label = (text: string): Seg => seg(` ${text.padEnd(LABEL)} `, 'dim');
  if (!samples.available) {
    const lines: Line[] = [[label('resources'), seg(samples.reason, 'dim')]];
    const s = samples.summary;
    if (s)
      lines.push([
        label('summary'),
        seg(['cpu', peakAvg(s.peakCpu, s.avgCpu, percent)].join(' ')),
        seg('   '),
        seg(['mem', peakAvg(s.peakMemory, s.avgMemory, bytes)].join(' ')),
      ]);
    return lines;
  }
  const { cpuPercent: cpu, memoryBytes: mem } = samples;
  const cpuText = ` ${peakAvg(Math.max(...cpu), mean(cpu), percent)}`;
  const memText = ` ${peakAvg(Math.max(...mem), mean(mem), bytes)}`;
  const count = `   ${cpu.length} sample${cpu.length === 1 ? '' : 's'}, ${Math.round(samples.seconds)}s`;
  // The sparklines share one width: what is left beside the label, the longer numbers and the
  // count (dropped when it would leave the sparklines fewer than 16 cells), at most 60.
  const room = width - (LABEL + 2) - Math.max(cpuText.length, memText.length);
  const withCount = room - count.length >= 16;
  const spark = Math.max(4, Math.min(60, withCount ? room - count.length : room));
  return [
    [label('cpu'), seg(sparkline(cpu, spark), 'run'), seg(cpuText)],
    [label('memory'), seg(sparkline(mem, spark), 'info'), seg(memText), seg(withCount ? count : '', 'dim')],
  ];
}
