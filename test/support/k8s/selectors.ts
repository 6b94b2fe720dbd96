/** Label and field selectors as the API server reads them from `?labelSelector=` / `?fieldSelector=`. */
import { ApiError } from './errors.js';

type Pred = (get: (key: string) => string | undefined) => boolean;

/** Splits on commas outside parentheses. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function parseRequirement(req: string): Pred {
  let m = /^!\s*([^\s=!,()]+)$/.exec(req);
  if (m) { const k = m[1]!; return (get) => get(k) === undefined; }
  m = /^([^\s=!,()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(req);
  if (m) {
    const k = m[1]!;
    const values = new Set(m[3]!.split(',').map((v) => v.trim()));
    return m[2] === 'in' ? (get) => values.has(get(k) as string) : (get) => !values.has(get(k) as string);
  }
  m = /^([^\s=!,()]+)\s*(==|=|!=)\s*([^\s=!,()]*)$/.exec(req);
  if (m) {
    const k = m[1]!;
    const v = m[3]!;
    return m[2] === '!=' ? (get) => get(k) !== v : (get) => get(k) === v;
  }
  m = /^([^\s=!,()]+)$/.exec(req);
  if (m) { const k = m[1]!; return (get) => get(k) !== undefined; }
  throw new ApiError(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(req)}`);
}

export function labelSelector(expr: string | null | undefined): (labels: Record<string, string> | undefined) => boolean {
  if (!expr) return () => true;
  const preds = splitTop(expr).map(parseRequirement);
  return (labels) => preds.every((p) => p((k) => labels?.[k]));
}

function valueAt(obj: unknown, path: string): string | undefined {
  let cur: any = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[part];
  }
  if (cur === undefined || cur === null) return undefined;
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

/** Field selectors: `=`, `==`, `!=` only, on the fields the resource supports (else 400, as the real server). */
export function fieldSelector(expr: string | null | undefined, supported: string[]): (obj: unknown) => boolean {
  if (!expr) return () => true;
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...supported]);
  const preds: ((obj: unknown) => boolean)[] = splitTop(expr).map((req) => {
    const m = /^([^\s=!]+)\s*(==|=|!=)\s*(.*)$/.exec(req);
    if (!m) throw new ApiError(400, 'BadRequest', `invalid selector: '${expr}'; can't understand '${req}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (!allowed.has(field)) throw new ApiError(400, 'BadRequest', `field label not supported: ${field}`);
    // An absent field compares as "" (the API server converts every field to a string).
    const get = (o: unknown) => valueAt(o, field) ?? (field === 'spec.unschedulable' ? 'false' : '');
    return op === '!=' ? (o) => get(o) !== value : (o) => get(o) === value;
  });
  return (obj) => preds.every((p) => p(obj));
}
