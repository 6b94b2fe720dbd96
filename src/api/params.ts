/**
 * Path and query parameters: declared once per route (the same declaration feeds the OpenAPI
 * document) and decoded strictly here, so a handler only ever sees values of the right type.
 * Every failure names the parameter.
 */
import { JOB_STATUS_NAMES, JobStatus, parseStatus } from '../contract/status.js';
import { BadRequestError } from './errors.js';

/** Largest id or count accepted anywhere (SQLite integers beyond it lose precision in JS). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

export type ParamKind =
  | { kind: 'integer'; minimum?: number; maximum?: number; default?: number }
  | { kind: 'number'; minimum?: number; maximum?: number; default?: number }
  | { kind: 'boolean'; default?: boolean }
  | { kind: 'string'; enum?: readonly string[]; maxLength?: number; default?: string }
  /** A list: the parameter repeated (`?t=a&t=b`, torc's form) or comma-separated; decodes to string[]. */
  | { kind: 'string_array'; enum?: readonly string[] }
  /** A job status by torc name (`completed`) or integer code (`5`); decodes to the code. */
  | { kind: 'job_status' };

export type ParamSpec = ParamKind & {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  description: string;
};

export type ParamValue = number | string | boolean | string[] | undefined;
export type Params = Record<string, ParamValue>;

/** Shorthands for the declarations in the route table. */
export const p = {
  id: (name = 'id', description = 'Database id', minimum = 0, maximum = MAX_ID): ParamSpec => ({
    name, in: 'path', required: true, kind: 'integer', minimum, maximum, description,
  }),
  queryInt: (name: string, description: string, extra: Partial<{ minimum: number; maximum: number; default: number; required: boolean }> = {}): ParamSpec => ({
    name, in: 'query', kind: 'integer', minimum: extra.minimum ?? 0, maximum: extra.maximum ?? MAX_ID,
    default: extra.default, required: extra.required, description,
  }),
  queryNumber: (name: string, description: string, extra: Partial<{ minimum: number; maximum: number; required: boolean }> = {}): ParamSpec => ({
    name, in: 'query', kind: 'number', minimum: extra.minimum ?? 0, maximum: extra.maximum, required: extra.required, description,
  }),
  queryBool: (name: string, description: string, dflt?: boolean): ParamSpec => ({
    name, in: 'query', kind: 'boolean', default: dflt, description,
  }),
  queryString: (name: string, description: string, extra: Partial<{ enum: readonly string[]; maxLength: number; default: string; required: boolean }> = {}): ParamSpec => ({
    name, in: 'query', kind: 'string', maxLength: extra.maxLength ?? 4096, enum: extra.enum, default: extra.default, required: extra.required, description,
  }),
};

/** Decodes the declared parameters; raw values come from the router (path) and the query string. */
export function decodeParams(specs: readonly ParamSpec[], path: Record<string, string>, query: Record<string, string | string[] | undefined>): Params {
  const out: Params = {};
  for (const spec of specs) {
    const raw = spec.in === 'path' ? path[spec.name] : query[spec.name];
    if (spec.kind === 'string_array') {
      out[spec.name] = raw === undefined ? undefined : decodeList(spec, Array.isArray(raw) ? raw : [raw]);
      continue;
    }
    if (Array.isArray(raw)) throw new BadRequestError('given more than once', spec.name);
    if (raw === undefined || (raw === '' && spec.in === 'query')) {
      if (spec.required) throw new BadRequestError('required', spec.name);
      out[spec.name] = 'default' in spec ? spec.default : undefined;
      continue;
    }
    out[spec.name] = decodeOne(spec, raw);
  }
  return out;
}

function decodeOne(spec: ParamSpec, raw: string): ParamValue {
  const fail = (what: string): never => {
    throw new BadRequestError(`expected ${what}, got "${truncate(raw)}"`, spec.name);
  };
  switch (spec.kind) {
    case 'integer': {
      if (!/^-?\d{1,20}$/.test(raw)) fail('an integer');
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) fail('an integer within ±2^53');
      if (spec.minimum !== undefined && n < spec.minimum) fail(`an integer ≥ ${spec.minimum}`);
      if (spec.maximum !== undefined && n > spec.maximum) fail(`an integer ≤ ${spec.maximum}`);
      return n;
    }
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) fail('a number');
      if (spec.minimum !== undefined && n < spec.minimum) fail(`a number ≥ ${spec.minimum}`);
      if (spec.maximum !== undefined && n > spec.maximum) fail(`a number ≤ ${spec.maximum}`);
      return n;
    }
    case 'boolean': {
      const v = raw.toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      return fail('true or false');
    }
    case 'string': {
      if (spec.maxLength !== undefined && raw.length > spec.maxLength) fail(`at most ${spec.maxLength} characters`);
      if (spec.enum && !spec.enum.includes(raw)) fail(`one of ${spec.enum.join(', ')}`);
      return raw;
    }
    case 'string_array':
      return decodeList(spec, [raw]);
    case 'job_status': {
      const code = parseStatus(raw);
      if (code === undefined) fail(`a job status (${JOB_STATUS_NAMES.join(', ')}) or its code 0–${JobStatus.pending_failed}`);
      return code;
    }
  }
}

function decodeList(spec: ParamSpec & { kind: 'string_array' }, raw: string[]): string[] {
  const items = raw.flatMap((r) => r.split(',')).filter((x) => x !== '');
  for (const item of items) {
    if (spec.enum && !spec.enum.includes(item)) throw new BadRequestError(`expected each of ${spec.enum.join(', ')}, got "${truncate(item)}"`, spec.name);
  }
  return items;
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

/** The parameter as a JSON schema, for the OpenAPI document. */
export function paramSchema(spec: ParamSpec): Record<string, unknown> {
  switch (spec.kind) {
    case 'integer':
    case 'number': {
      const s: Record<string, unknown> = { type: spec.kind };
      if (spec.minimum !== undefined) s.minimum = spec.minimum;
      if (spec.maximum !== undefined) s.maximum = spec.maximum;
      if (spec.default !== undefined) s.default = spec.default;
      return s;
    }
    case 'boolean':
      return spec.default === undefined ? { type: 'boolean' } : { type: 'boolean', default: spec.default };
    case 'string': {
      const s: Record<string, unknown> = { type: 'string' };
      if (spec.enum) s.enum = [...spec.enum];
      if (spec.maxLength !== undefined) s.maxLength = spec.maxLength;
      if (spec.default !== undefined) s.default = spec.default;
      return s;
    }
    case 'job_status':
      return { $ref: '#/components/schemas/job_status_param' };
    case 'string_array':
      return { type: 'array', items: spec.enum ? { type: 'string', enum: [...spec.enum] } : { type: 'string' } };
  }
}
