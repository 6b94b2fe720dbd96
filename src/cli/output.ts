/** Output helpers shared by every subcommand: `--format table|json`. */
import Table from 'cli-table3';
import { InputError, type InputIssue } from '../errors.js';

export type OutputFormat = 'table' | 'json';

export function parseFormat(value: string | undefined, flag = '--format'): OutputFormat {
  const v = value ?? 'table';
  if (v !== 'table' && v !== 'json') throw new InputError(`expected "table" or "json", got "${v}"`, flag);
  return v;
}

/** Prints what a spec file has that is accepted but ignored (stderr, so --format json output stays clean). */
export function printWarnings(source: string, warnings: readonly InputIssue[]): void {
  for (const w of warnings) process.stderr.write(`warning: ${source}: ${w.path ? `${w.path}: ` : ''}${w.message}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Renders rows as a table; `columns` picks and orders the keys shown. */
export function renderTable(rows: Record<string, unknown>[], columns: string[]): string {
  const table = new Table({ head: columns, style: { head: [], border: [] } });
  for (const row of rows) table.push(columns.map((c) => formatCell(row[c])));
  return table.toString();
}

export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  process.stdout.write(`${renderTable(rows, columns)}\n`);
}

function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Parses a CLI integer option, naming the flag in the error. */
export function parseIntOption(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim()) || Number(value) < min) {
    throw new InputError(`expected an integer ≥ ${min}, got "${value}"`, flag);
  }
  return Number(value);
}

/** Parses a CLI number option (floats allowed), naming the flag in the error. */
export function parseNumberOption(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min) {
    throw new InputError(`expected a number ≥ ${min}, got "${value}"`, flag);
  }
  return n;
}

/** A record id argument (`job id`, `user data id`): a positive whole number, or an InputError naming the argument. */
export function parseId(value: string, what: string, arg = 'ID'): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new InputError(`expected a ${what} (a positive whole number), got "${value}"`, arg);
  return Number(value);
}
