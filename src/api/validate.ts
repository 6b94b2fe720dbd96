/**
 * JSON-schema validation of request bodies (ajv). The schemas are the ones the OpenAPI
 * document publishes (api/schemas.ts), so the document and the checks cannot disagree.
 * Failures become a BadRequestError naming each offending field as `body.nodes[0].num_cpus`.
 */
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { InputIssue } from '../errors.js';
import { loadAjv } from '../lazy-modules.js';
import { BadRequestError } from './errors.js';

export type JsonSchema = Record<string, unknown>;

export class SchemaRegistry {
  private ajvInstance: Ajv | null = null;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(
    readonly components: Record<string, JsonSchema>,
    options: { eager?: boolean } = {},
  ) {
    // Compile everything now: a broken schema fails at startup, not on the first request using it.
    // (`eager: false`, for a server that mostly idles beside other work — `torc reconcile` —
    // even ajv itself is loaded on first use.)
    if (options.eager !== false) for (const name of Object.keys(components)) this.validator(name);
  }

  private get ajv(): Ajv {
    if (!this.ajvInstance) {
      // strictNumbers rejects NaN/Infinity; allErrors lists every bad field at once.
      const ajv = new (loadAjv().Ajv)({ allErrors: true, strict: true, strictNumbers: true, allowUnionTypes: true, keywords: ['example'] });
      for (const [name, schema] of Object.entries(this.components)) ajv.addSchema(schema, `#/components/schemas/${name}`);
      this.ajvInstance = ajv;
    }
    return this.ajvInstance;
  }

  /** Compiled validator of a component (by name) or of an inline schema. */
  validator(schema: string | JsonSchema): ValidateFunction {
    if (typeof schema === 'string') {
      let fn = this.cache.get(schema);
      if (!fn) {
        fn = this.ajv.getSchema(`#/components/schemas/${schema}`);
        if (!fn) throw new Error(`unknown schema component ${schema}`);
        this.cache.set(schema, fn);
      }
      return fn;
    }
    return this.ajv.compile(schema);
  }

  /** Validates `value` and returns it, or throws a BadRequestError naming the fields. */
  check<T>(schema: string | JsonSchema, value: unknown, root = 'body'): T {
    const fn = this.validator(schema);
    if (!fn(value)) throw new BadRequestError(toIssues(fn.errors ?? [], root));
    return value as T;
  }
}

/** `/nodes/0/num_cpus` → `body.nodes[0].num_cpus`. */
export function pointerToPath(root: string, pointer: string): string {
  let out = root;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`;
  }
  return out;
}

function toIssues(errors: ErrorObject[], root: string): InputIssue[] {
  const seen = new Set<string>();
  const issues: InputIssue[] = [];
  for (const e of errors) {
    let path = pointerToPath(root, e.instancePath);
    let message = e.message ?? 'invalid';
    if (e.keyword === 'required') {
      path = `${path}.${(e.params as { missingProperty: string }).missingProperty}`;
      message = 'required';
    } else if (e.keyword === 'additionalProperties') {
      path = `${path}.${(e.params as { additionalProperty: string }).additionalProperty}`;
      message = 'unknown field';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}`;
    }
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ path, message });
  }
  return issues.length > 0 ? issues : [{ path: root, message: 'invalid' }];
}
