/**
 * What the screens are made of: lines of text segments, each with a style name. The screens
 * (screens.ts) build lines of exactly the terminal's width; app.ts draws them with ink. With
 * NO_COLOR set, no style is drawn at all — no colour, bold or inverse: the terminal gets no
 * SGR sequence — and the selected row is still marked by its › cursor.
 */
import { cellWidth, truncate } from './text.js';

export type Style = 'title' | 'dim' | 'head' | 'selected' | 'key' | 'ok' | 'bad' | 'warn' | 'run' | 'info' | 'focus';

export interface Seg {
  text: string;
  style?: Style;
}

export type Line = Seg[];

export const seg = (text: string, style?: Style): Seg => (style ? { text, style } : { text });

/** The style of each job status (torc's names) and workflow phase. */
export const STATUS_STYLE: Record<string, Style> = {
  completed: 'ok',
  Succeeded: 'ok',
  running: 'run',
  Running: 'run',
  pending: 'info',
  ready: 'info',
  Pending: 'info',
  failed: 'bad',
  terminated: 'bad',
  Failed: 'bad',
  pending_failed: 'warn',
  canceled: 'warn',
  Canceled: 'warn',
  blocked: 'dim',
  uninitialized: 'dim',
  disabled: 'dim',
};

export const statusStyle = (status: string): Style | undefined => STATUS_STYLE[status];

export function lineWidth(line: Line): number {
  return line.reduce((w, s) => w + cellWidth(s.text), 0);
}

/** The line cut or padded to exactly `width` cells (the padding takes `padStyle`). */
export function fitLine(line: Line, width: number, padStyle?: Style): Line {
  const out: Line = [];
  let left = width;
  for (const s of line) {
    if (left <= 0) break;
    const w = cellWidth(s.text);
    if (w <= left) {
      out.push(s);
      left -= w;
    } else {
      out.push({ ...s, text: truncate(s.text, left) });
      left -= cellWidth(out[out.length - 1]!.text);
      break;
    }
  }
  if (left > 0) out.push(seg(' '.repeat(left), padStyle));
  return out;
}

/** Every segment of the line in one style (a selected row). */
export function restyle(line: Line, style: Style): Line {
  return line.map((s) => ({ text: s.text, style }));
}

/** Lines side by side: `left` padded to `leftWidth`, a separator, then `right`. */
export function besideLines(left: Line[], right: Line[], leftWidth: number, rightWidth: number, separator: Seg = seg('│', 'dim')): Line[] {
  const n = Math.max(left.length, right.length);
  const out: Line[] = [];
  for (let i = 0; i < n; i++) out.push([...fitLine(left[i] ?? [], leftWidth), separator, ...fitLine(right[i] ?? [], rightWidth)]);
  return out;
}

/** Plain text of lines (tests, and the screen as a string). */
export function plain(lines: Line[]): string {
  return lines.map((l) => l.map((s) => s.text).join('')).join('\n');
}
