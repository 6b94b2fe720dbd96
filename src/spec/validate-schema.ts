/**
 * Validates a document against the CRD's schema with ajv and turns ajv's errors into issues
 * that name the field (`spec.jobs[3].resource_requirements`), say what was expected, and
 * suggest the field or value that was probably meant.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { InputIssue } from '../errors.js';
import { workflowResourceSchema, workflowSpecSchema } from './schema.js';
import { didYouMean } from './suggest.js';

// ajv-formats ships CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

let validators: { resource: ValidateFunction; spec: ValidateFunction } | undefined;

function compiled(): { resource: ValidateFunction; spec: ValidateFunction } {
  if (!validators) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    addFormats(ajv);
    validators = { resource: ajv.compile(workflowResourceSchema()), spec: ajv.compile(workflowSpecSchema()) };
  }
  return validators;
}

/**
 * Schema issues of a whole Workflow resource (paths start at the resource: `spec.jobs[0]`) or of
 * a bare spec (paths are given the `spec.` prefix too, so both forms read the same).
 */
export function schemaIssues(value: unknown, form: 'resource' | 'spec', prefix = ''): InputIssue[] {
  const validate = form === 'resource' ? compiled().resource : compiled().spec;
  if (validate(value)) return [];
  const base = form === 'resource' ? prefix.replace(/\.$/, '') : `${prefix}spec`;
  return toIssues(validate.errors ?? [], base);
}

function toIssues(errors: ErrorObject[], base: string): InputIssue[] {
  // A value of the wrong type also fails its enum/pattern/minimum checks: report the type only.
  const typeErrorAt = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const seen = new Set<string>();
  const out: InputIssue[] = [];
  for (const e of errors) {
    if (e.keyword !== 'type' && typeErrorAt.has(e.instancePath)) continue;
    const issue = describe(e, base);
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

function describe(e: ErrorObject, base: string): InputIssue {
  const path = joinPath(base, pointerToPath(e.instancePath));
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const known = Object.keys(((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object);
      return { path: joinPath(path, fieldSegment(field)), message: `unknown field "${field}"${didYouMean(field, known)}` };
    }
    case 'required':
      return { path: joinPath(path, fieldSegment(String(params.missingProperty))), message: 'required field is missing' };
    case 'type': {
      const expected = String(params.type).split(',').join(' or ');
      return { path, message: `expected ${expected}, got ${kindOf(e.data)}` };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v));
      const got = typeof e.data === 'string' ? didYouMean(e.data, params.allowedValues as string[]) : '';
      return { path, message: `expected one of ${allowed.join(', ')}, got ${JSON.stringify(e.data)}${got}` };
    }
    case 'minItems':
      return { path, message: `expected at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}` };
    case 'minLength':
      return { path, message: params.limit === 1 ? 'must not be empty' : `expected at least ${String(params.limit)} characters` };
    case 'minimum':
      return { path, message: `expected a number ≥ ${String(params.limit)}, got ${JSON.stringify(e.data)}` };
    case 'format':
      return { path, message: `expected a ${String(params.format)} string, got ${JSON.stringify(e.data)}` };
    default:
      return { path, message: e.message ?? `failed ${e.keyword}` };
  }
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** JSON pointer `/jobs/3/name` → `.jobs[3].name`. */
export function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((raw) => {
      const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^\d+$/.test(seg) ? `[${seg}]` : fieldSegment(seg);
    })
    .join('');
}

/** `.name`, or `["odd key"]` when the key is not identifier-like. */
export function fieldSegment(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

export function joinPath(base: string, rest: string): string {
  if (!base) return rest.replace(/^\./, '');
  return base + rest;
}
