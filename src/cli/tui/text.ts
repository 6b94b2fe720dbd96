/**
 * Text for the terminal: display width (wide CJK characters take two cells, combining marks
 * none), cutting and padding to a width, and making untrusted text safe to print. Job names,
 * commands and log output come from users' programs: an escape sequence in them must never
 * reach the terminal (it could move the cursor, retitle the window or paste into the shell),
 * so control characters are shown as U+FFFD and, in logs, colour/cursor sequences are dropped.
 */
import { eastAsianWidth } from 'get-east-asian-width';

/** Cells a code point takes: 0 for combining marks and zero-width characters. */
function charWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (cp < 0x300) return 1;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0xfeff) return 0;
  return eastAsianWidth(cp);
}

const COMBINING = /\p{M}/u;

export function cellWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += COMBINING.test(ch) ? 0 : charWidth(ch.codePointAt(0)!);
  return w;
}

/** `text` cut to at most `width` cells (ending in … when cut). */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (cellWidth(text) <= width) return text;
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = COMBINING.test(ch) ? 0 : charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** `text` cut or padded with spaces to exactly `width` cells; `right` aligns it right. */
export function fit(text: string, width: number, right = false): string {
  const cut = truncate(text, width);
  const pad = ' '.repeat(Math.max(0, width - cellWidth(cut)));
  return right ? pad + cut : cut + pad;
}

// ---- untrusted text ----------------------------------------------------------------------

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** One line of untrusted text (a job name, a command): every control character shown as �. */
export function clean(text: string): string {
  return text.replace(CONTROL, '\uFFFD');
}

// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), other two-byte escapes, and the 8-bit CSI.
const ESCAPES =
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[P^_X][^\u001b]*(?:\u001b\\)?|\u001b[ -~]|\u009b[0-?]*[ -/]*[@-~]/g;

/** Expands tabs to the next multiple of 8 cells. */
function expandTabs(line: string): string {
  if (!line.includes('\t')) return line;
  let out = '';
  let w = 0;
  for (const ch of line) {
    if (ch === '\t') {
      const n = 8 - (w % 8);
      out += ' '.repeat(n);
      w += n;
    } else {
      out += ch;
      w += COMBINING.test(ch) ? 0 : charWidth(ch.codePointAt(0)!);
    }
  }
  return out;
}

/**
 * Log output as lines a terminal can show safely: escape sequences (colours, cursor moves,
 * window titles) dropped, a carriage return keeps what a terminal would leave on the line (the
 * text after it: progress bars), tabs expanded, other control characters shown as �.
 */
export function logLines(text: string): string[] {
  return text
    .replace(ESCAPES, '')
    .split('\n')
    .map((line) => {
      const l = line.endsWith('\r') ? line.slice(0, -1) : line;
      const cr = l.lastIndexOf('\r');
      return clean(expandTabs(cr >= 0 ? l.slice(cr + 1) : l));
    });
}

/** Lines cut into pieces of at most `width` cells (a long log line wraps). */
export function wrap(lines: string[], width: number): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (cellWidth(line) <= width) {
      out.push(line);
      continue;
    }
    let piece = '';
    let w = 0;
    for (const ch of line) {
      const cw = COMBINING.test(ch) ? 0 : charWidth(ch.codePointAt(0)!);
      if (w + cw > width) {
        out.push(piece);
        piece = '';
        w = 0;
      }
      piece += ch;
      w += cw;
    }
    out.push(piece);
  }
  return out;
}

// ---- numbers and times -------------------------------------------------------------------

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** 950 ms → "0.9s", 65 s → "1m05s", 2 h → "2h00m", 3 days → "3d02h". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Epoch ms → local "HH:MM:SS", with the date when it is not today. */
export function clock(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return '';
  const d = new Date(ms);
  const hms = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return hms;
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${hms}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A bar of `width` cells, `done` of `total` filled: "█████░░░░░". */
export function bar(done: number, total: number, width: number): string {
  if (width <= 0) return '';
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}
