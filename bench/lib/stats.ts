/** Summaries of repeated measurements: median with min/max, and how to print them. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summarize(xs: readonly number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length };
}

/** `1.23 s (1.10–1.40)` with a unit formatter. */
export function fmt(s: Summary, unit: (x: number) => string): string {
  return `${unit(s.median)} (${unit(s.min)}–${unit(s.max)})`;
}

export const seconds = (ms: number) => (ms >= 100_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`);
export const millis = (ms: number) => (ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`);
export const perSecond = (x: number) => `${x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1)}/s`;
export const megabytes = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
export const times = (x: number) => `${x.toFixed(2)}×`;

/** A ratio a/b of medians, with the range of per-run ratios when runs are paired. */
export function ratioOf(a: readonly number[], b: readonly number[]): Summary {
  if (a.length === b.length) return summarize(a.map((x, i) => x / b[i]!));
  return { median: median(a) / median(b), min: Math.min(...a) / Math.max(...b), max: Math.max(...a) / Math.min(...b), runs: Math.min(a.length, b.length) };
}

/** A markdown table. */
export function table(header: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${header.join(' | ')} |`,
    `|${a.map((x) => (x === 'r' ? '---:' : '---')).join('|')}|`,
    // A | inside a cell (a shell pipeline) would split it: escaped.
    ...rows.map((r) => `| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`),
  ].join('\n');
}

/** Verdict cell for a target: `meets (≤ 1.5×)` or `misses (≤ 1.5×)`. */
export function verdict(ok: boolean, target: string): string {
  return `${ok ? '**meets**' : '**misses**'} (${target})`;
}
