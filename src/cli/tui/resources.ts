/**
 * The job view's resource line: room for a sparkline of the job's CPU and memory samples. The
 * runners record samples now (issue 22), but the TUI does not read them yet: the line names the
 * commands that show them; nothing is made up. `sparkline` is the drawing the samples will use.
 */
import { seg, type Seg } from './style.js';

export type ResourceSamples = { available: false; reason: string } | { available: true; cpuPercent: number[]; memoryBytes: number[] };

export const NOT_RECORDED: ResourceSamples = { available: false, reason: 'samples not shown here yet (torc plot-resources WF, torc reports check-resource-utilization WF)' };

const BLOCKS = '▁▂▃▄▅▆▇█';

/** The last `width` values as block characters, scaled from 0 to the largest value. */
export function sparkline(values: number[], width: number): string {
  const shown = values.slice(-Math.max(0, width)).filter((v) => Number.isFinite(v));
  const max = Math.max(0, ...shown);
  return shown.map((v) => (max <= 0 ? BLOCKS[0]! : BLOCKS[Math.min(BLOCKS.length - 1, Math.max(0, Math.round((v / max) * (BLOCKS.length - 1))))]!)).join('');
}

export function resourceSlot(samples: ResourceSamples, width: number): Seg[] {
  if (!samples.available) return [seg(samples.reason, 'dim')];
  const half = Math.max(4, Math.floor((width - 24) / 2));
  const lastCpu = samples.cpuPercent.at(-1);
  const lastMem = samples.memoryBytes.at(-1);
  return [
    seg('cpu ', 'dim'),
    seg(sparkline(samples.cpuPercent, half), 'run'),
    seg(lastCpu !== undefined ? ` ${Math.round(lastCpu)}%` : ''),
    seg('  mem ', 'dim'),
    seg(sparkline(samples.memoryBytes, half), 'info'),
    seg(lastMem !== undefined ? ` ${(lastMem / 2 ** 20).toFixed(0)} MiB` : ''),
  ];
}
