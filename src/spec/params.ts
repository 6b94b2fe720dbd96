/**
 * Parameter sweeps as torc documents them: values ("1:100", "0:100:10", "0.0:1.0:0.1",
 * "[1,5,10]", "['adam','sgd']", a single value), combined by `product` (default) or `zip`, and
 * substituted into templates as `{name}` or `{name:format}` (`{i:03d}`, `{lr:.4f}`).
 *
 * Ranges stay lazy (start, step, count) so that the size of an expansion is known, and refused
 * when too large, before anything is allocated.
 */

export type ParamValue = number | string;

/** A parameter's values, indexable without materializing ranges. */
export interface ParamValues {
  readonly length: number;
  at(i: number): ParamValue;
  /** Whether numbers from this parameter are floats (Rust's f64 for torc): a float 1.0 prints "1". */
  readonly float: boolean[] | boolean;
}

/** Thrown with a human message; callers attach the spec path. */
export class ParamError extends Error {}

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses one parameter's value text (or a bare YAML number) into its values. */
export function parseParamValues(raw: ParamValue): ParamValues {
  if (typeof raw === 'number') return listValues([raw], [!Number.isInteger(raw)]);
  let text = raw.trim();
  // torc tolerates "{1:100}" for "1:100" (a template-like mistake), but not a JSON object.
  if (text.startsWith('{') && text.endsWith('}') && !text.includes(',')) text = text.slice(1, -1).trim();
  if (text.startsWith('[') && text.endsWith(']')) return parseList(text.slice(1, -1));
  if (text.startsWith('[') || text.startsWith('{')) throw new ParamError(`invalid parameter value "${raw}": unclosed "${text[0]}"`);
  if (text.includes(':')) return parseRange(text);
  if (INT.test(text)) return listValues([toInt(text)], [false]);
  if (FLOAT.test(text)) return listValues([Number(text)], [true]);
  return listValues([text], [false]);
}

function toInt(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ParamError(`integer ${text} is out of range`);
  return n;
}

function listValues(values: ParamValue[], float: boolean[]): ParamValues {
  return { length: values.length, at: (i) => values[i]!, float };
}

/** Items separated by commas; quoted items may contain commas. */
function parseList(inner: string): ParamValues {
  const values: ParamValue[] = [];
  const float: boolean[] = [];
  if (inner.trim() === '') return listValues(values, float);
  let i = 0;
  while (i <= inner.length) {
    while (i < inner.length && /\s/.test(inner[i]!)) i++;
    const q = inner[i];
    let item: string;
    let quoted = false;
    if (q === "'" || q === '"') {
      const end = inner.indexOf(q, i + 1);
      if (end === -1) throw new ParamError(`unterminated quote in list [${inner}]`);
      item = inner.slice(i + 1, end);
      quoted = true;
      i = end + 1;
      while (i < inner.length && /\s/.test(inner[i]!)) i++;
      if (i < inner.length && inner[i] !== ',') throw new ParamError(`expected "," after ${q}${item}${q} in list [${inner}]`);
    } else {
      const end = inner.indexOf(',', i);
      item = (end === -1 ? inner.slice(i) : inner.slice(i, end)).trim();
      i = end === -1 ? inner.length : end;
      if (item === '') throw new ParamError(`empty item in list [${inner}]`);
    }
    if (!quoted && INT.test(item)) {
      values.push(toInt(item));
      float.push(false);
    } else if (!quoted && FLOAT.test(item)) {
      values.push(Number(item));
      float.push(true);
    } else {
      values.push(item);
      float.push(false);
    }
    i++; // past the comma
  }
  return listValues(values, float);
}

function decimals(text: string): number {
  const m = /\.(\d+)/.exec(text);
  const exp = /e([+-]?\d+)/i.exec(text);
  return Math.max(0, (m ? m[1]!.length : 0) - (exp ? Number(exp[1]) : 0));
}

function parseRange(text: string): ParamValues {
  const parts = text.split(':').map((p) => p.trim());
  if (parts.length < 2 || parts.length > 3) throw new ParamError(`invalid range "${text}": expected "start:end" or "start:end:step"`);
  const [s, e, st] = parts as [string, string, string | undefined];
  if (INT.test(s) && INT.test(e) && (st === undefined || INT.test(st))) {
    const start = toInt(s);
    const end = toInt(e);
    const step = st === undefined ? 1 : toInt(st);
    if (step === 0) throw new ParamError(`invalid range "${text}": step cannot be zero`);
    const count = (step > 0 ? end >= start : end <= start) ? Math.floor((end - start) / step) + 1 : 0;
    return { length: count, at: (i) => start + i * step, float: false };
  }
  if (FLOAT.test(s) && FLOAT.test(e) && (st === undefined || FLOAT.test(st))) {
    const start = Number(s);
    const end = Number(e);
    const step = st === undefined ? 1 : Number(st);
    if (step === 0) throw new ParamError(`invalid range "${text}": step cannot be zero`);
    // torc steps while current <= end (+1e-10); computing start + i*step and rounding to the
    // inputs' precision gives the documented values (0.1, 0.2, 0.3) without float drift.
    const raw = (end - start) / step;
    const count = raw >= -1e-9 ? Math.floor(raw + 1e-9) + 1 : 0;
    const dec = Math.min(15, Math.max(decimals(s), decimals(e), st === undefined ? 0 : decimals(st)));
    return { length: count, at: (i) => Number((start + i * step).toFixed(dec)), float: true };
  }
  throw new ParamError(`invalid range "${text}": start, end and step must be numbers`);
}

export function isFloat(values: ParamValues, i: number): boolean {
  return Array.isArray(values.float) ? values.float[i]! : values.float;
}

/**
 * The combinations of a set of parameters. Product order puts the first parameter outermost:
 * a=[1,2], b=[x,y] → 1x 1y 2x 2y (torc iterates a hash map, so its order is unspecified).
 */
export class Combinations {
  readonly names: string[];
  readonly count: number;
  private readonly values: ParamValues[];
  private readonly sizes: number[];

  constructor(params: Map<string, ParamValues>, readonly mode: 'product' | 'zip') {
    this.names = [...params.keys()];
    this.values = [...params.values()];
    this.sizes = this.values.map((v) => v.length);
    this.count = combinationCount(params, mode);
  }

  /** Writes the i-th combination's values (and whether each is a float) into the given arrays. */
  fill(i: number, values: ParamValue[], floats: boolean[]): void {
    let rest = i;
    for (let k = this.values.length - 1; k >= 0; k--) {
      const size = this.sizes[k]!;
      const at = this.mode === 'zip' ? i : rest % size;
      if (this.mode !== 'zip') rest = Math.floor(rest / size);
      values[k] = this.values[k]!.at(at);
      floats[k] = isFloat(this.values[k]!, at);
    }
  }
}

/** Number of combinations under `mode`, computed without expanding anything. */
export function combinationCount(params: Map<string, ParamValues>, mode: 'product' | 'zip'): number {
  if (params.size === 0) return 1;
  if (mode === 'zip') {
    let first: [string, number] | undefined;
    for (const [name, v] of params) {
      if (first === undefined) first = [name, v.length];
      else if (v.length !== first[1]) {
        throw new ParamError(`all parameters must have the same number of values in zip mode: "${first[0]}" has ${first[1]}, "${name}" has ${v.length}`);
      }
    }
    return first![1];
  }
  let n = 1;
  for (const v of params.values()) n *= v.length;
  return n;
}

// ---- templates -------------------------------------------------------------------------

type Segment = string | { param: number; format: Format | null };

interface Format {
  zero: boolean;
  width: number;
  precision: number | null;
  type: 'd' | 'f' | 's' | '';
}

/** A string with `{param}` / `{param:fmt}` placeholders, parsed once and filled per combination. */
export interface Template {
  /** True when the string has no placeholder of a known parameter: fill() returns it as is. */
  readonly constant: boolean;
  /** Indices (into the names given to compileTemplate) of the parameters it uses. */
  readonly uses: readonly number[];
  readonly source: string;
  fill(values: readonly ParamValue[], floats: readonly boolean[]): string;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}/g;
const FORMAT_SPEC = /^(0)?(\d+)?(?:\.(\d+))?([dfs])?$/;

/**
 * Compiles a template against the parameter names in scope. Placeholders naming something else
 * stay literal (as in torc), so shell braces and `${files.input.x}` pass through.
 */
export function compileTemplate(source: string, paramNames: readonly string[]): Template {
  if (paramNames.length === 0 || !source.includes('{')) return constantTemplate(source);
  const segments: Segment[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const param = paramNames.indexOf(m[1]!);
    if (param === -1) continue;
    if (m.index > last) segments.push(source.slice(last, m.index));
    segments.push({ param, format: m[2] === undefined ? null : parseFormat(m[2], m[1]!) });
    last = m.index + m[0].length;
  }
  if (segments.length === 0) return constantTemplate(source);
  if (last < source.length) segments.push(source.slice(last));
  return {
    constant: false,
    uses: [...new Set(segments.flatMap((sg) => (typeof sg === 'string' ? [] : [sg.param])))],
    source,
    fill(values, floats) {
      let out = '';
      for (const s of segments) out += typeof s === 'string' ? s : formatValue(values[s.param]!, floats[s.param]!, s.format);
      return out;
    },
  };
}

function constantTemplate(source: string): Template {
  return { constant: true, uses: [], source, fill: () => source };
}

/** Widest field and most decimals a format may ask for: a width of 10^9 would build gigabyte names. */
export const MAX_FORMAT_WIDTH = 256;
export const MAX_FORMAT_PRECISION = 100;

function parseFormat(spec: string, name: string): Format {
  const m = FORMAT_SPEC.exec(spec);
  if (!m) throw new ParamError(`invalid format "{${name}:${spec}}": expected e.g. {${name}:03d}, {${name}:.4f} or {${name}:5}`);
  const format = { zero: m[1] === '0', width: m[2] ? Number(m[2]) : 0, precision: m[3] ? Number(m[3]) : null, type: (m[4] ?? '') as Format['type'] };
  if (format.width > MAX_FORMAT_WIDTH) throw new ParamError(`invalid format "{${name}:${spec}}": width ${m[2]} is over the limit of ${MAX_FORMAT_WIDTH}`);
  if (format.precision !== null && format.precision > MAX_FORMAT_PRECISION) {
    throw new ParamError(`invalid format "{${name}:${spec}}": precision ${m[3]} is over the limit of ${MAX_FORMAT_PRECISION}`);
  }
  return format;
}

/** Formats a value like Python's format spec subset torc documents (`03d`, `.4f`). */
export function formatValue(value: ParamValue, float: boolean, format: Format | null): string {
  let text: string;
  if (format === null) {
    return typeof value === 'number' ? plainNumber(value) : value;
  }
  if (typeof value === 'string') {
    if (format.type === 'd' || format.type === 'f') throw new ParamError(`format "${format.type}" needs a number, got "${value}"`);
    text = format.precision !== null ? value.slice(0, format.precision) : value;
    return text.padEnd(format.width, ' ');
  }
  if (format.type === 'd') {
    if (!Number.isInteger(value) || float) throw new ParamError(`format "d" needs an integer, got ${plainNumber(value)}`);
    text = String(Math.abs(value));
  } else if (format.type === 'f' || format.precision !== null) {
    text = Math.abs(value).toFixed(format.precision ?? 6);
  } else {
    text = plainNumber(Math.abs(value));
  }
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  if (format.zero) return sign + text.padStart(Math.max(0, format.width - sign.length), '0');
  return (sign + text).padStart(format.width, ' ');
}

/** A number as torc (Rust's Display) prints it: never in exponent notation. */
export function plainNumber(n: number): string {
  const s = String(n);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, head, tail = '', expText] = m;
  const digits = head! + tail;
  const exp = Number(expText);
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  return sign + (digits.length <= exp + 1 ? digits + '0'.repeat(exp + 1 - digits.length) : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`);
}
