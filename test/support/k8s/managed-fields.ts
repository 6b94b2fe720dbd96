/**
 * Field ownership as the API server tracks it (metadata.managedFields, FieldsV1) and
 * server-side apply (PATCH application/apply-patch+yaml):
 *   - every write records which fields its manager set: an Update entry per manager and
 *     subresource (fieldManager=…, else the User-Agent's product name), taking over fields
 *     others owned, dropping fields that were removed;
 *   - an apply merges the applied configuration into the object (associative lists by key, sets
 *     by value, atomic lists and maps whole — structure.ts), fails with 409 Conflict naming each
 *     field another manager owns with a different value (unless force=true, which takes them
 *     over), removes the fields the manager applied before and no longer applies when nobody
 *     else owns them, and makes the applied set the manager's Apply entry.
 * A field path is a list of FieldsV1 elements: f:name, k:{"name":"c"} (associative list item),
 * v:"value" (set item).
 */
import { isDeepStrictEqual } from 'node:util';
import { ApiError } from './errors.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import { atomicMapAt, isPlainObject, itemKey, listTypeAt, sameKey } from './structure.js';
import type { Obj } from './validation.js';

type PathElement = string;
type FieldPath = PathElement[];
/** Set of field paths, each serialized with JSON.stringify. */
type FieldSet = Set<string>;

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Obj;
  subresource?: string;
}

/** Fields the server owns itself, never tracked. */
const META_SYSTEM = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink']);

const nowTime = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const sortedKey = (k: Obj) => JSON.stringify(Object.fromEntries(Object.entries(k).sort(([a], [b]) => a.localeCompare(b))));

/** The part of an object a write through `subresource` can touch. */
function scoped(rt: ResourceType, obj: Obj, subresource: string | undefined): Obj {
  const out: Obj = {};
  if (subresource === 'status') {
    if (obj.status !== undefined) out.status = obj.status;
    return out;
  }
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (k === 'status' && rt.subresources.includes('status')) continue;
    if (k === 'metadata' && isPlainObject(v)) {
      const md = Object.fromEntries(Object.entries(v).filter(([mk]) => !META_SYSTEM.has(mk)));
      if (Object.keys(md).length) out.metadata = md;
      continue;
    }
    out[k] = v;
  }
  return out;
}

/** The paths of every field set in `value` (leaves and list items). */
export function fieldPaths(rt: ResourceType, value: unknown, subresource?: string): FieldSet {
  const set: FieldSet = new Set();
  const walk = (v: unknown, names: string[], path: FieldPath) => {
    if (Array.isArray(v)) {
      const lt = listTypeAt(rt, names);
      if (lt.kind === 'atomic' || v.length === 0) {
        set.add(JSON.stringify(path));
        return;
      }
      for (const item of v) {
        if (lt.kind === 'set') {
          set.add(JSON.stringify([...path, `v:${JSON.stringify(item)}`]));
          continue;
        }
        const key = itemKey(item, lt.keys);
        if (!key) {
          set.add(JSON.stringify(path));
          continue;
        }
        const itemPath = [...path, `k:${sortedKey(key)}`];
        set.add(JSON.stringify(itemPath));
        for (const [k, sub] of Object.entries(item as Obj)) walk(sub, [...names, k], [...itemPath, `f:${k}`]);
      }
      return;
    }
    if (isPlainObject(v) && Object.keys(v).length > 0 && !atomicMapAt(rt, names)) {
      for (const [k, sub] of Object.entries(v)) walk(sub, [...names, k], [...path, `f:${k}`]);
      return;
    }
    if (path.length) set.add(JSON.stringify(path));
  };
  walk(scoped(rt, isPlainObject(value) ? value : {}, subresource), [], []);
  return set;
}

export function toFieldsV1(set: FieldSet): Obj {
  const root: Obj = {};
  const selfMark = Symbol('self');
  for (const p of set) {
    let node: any = root;
    for (const pe of JSON.parse(p) as FieldPath) node = (node[pe] ??= {});
    node[selfMark] = true;
  }
  const render = (node: any): Obj => {
    const keys = Object.keys(node).sort();
    const out: Obj = {};
    if (node[selfMark] && keys.length > 0) out['.'] = {};
    for (const k of keys) out[k] = render(node[k]);
    return out;
  };
  return render(root);
}

export function fromFieldsV1(fields: Obj | undefined): FieldSet {
  const set: FieldSet = new Set();
  const walk = (node: Obj, path: FieldPath) => {
    const keys = Object.keys(node);
    if (keys.length === 0 && path.length) set.add(JSON.stringify(path));
    for (const k of keys) {
      if (k === '.') set.add(JSON.stringify(path));
      else walk(node[k] ?? {}, [...path, k]);
    }
  };
  walk(fields ?? {}, []);
  return set;
}

/** The value at a field path: { found, value }. */
function valueAt(obj: unknown, path: FieldPath): { found: boolean; value?: unknown } {
  let cur: unknown = obj;
  for (const pe of path) {
    const body = pe.slice(2);
    if (pe.startsWith('f:')) {
      if (!isPlainObject(cur) || !(body in cur)) return { found: false };
      cur = cur[body];
    } else if (pe.startsWith('k:')) {
      const key = JSON.parse(body) as Obj;
      if (!Array.isArray(cur)) return { found: false };
      cur = cur.find((item) => sameKey(itemKey(item, Object.keys(key)), key));
      if (cur === undefined) return { found: false };
    } else if (pe.startsWith('v:')) {
      const want = JSON.parse(body);
      if (!Array.isArray(cur) || !cur.some((item) => isDeepStrictEqual(item, want))) return { found: false };
      cur = want;
    }
  }
  return { found: true, value: cur };
}

function removeAt(obj: Obj, path: FieldPath): void {
  let parent: unknown = obj;
  for (const pe of path.slice(0, -1)) {
    const next = valueAt(parent, [pe]);
    if (!next.found) return;
    parent = next.value;
  }
  const last = path[path.length - 1]!;
  const body = last.slice(2);
  if (last.startsWith('f:') && isPlainObject(parent)) delete parent[body];
  else if (Array.isArray(parent)) {
    const want = JSON.parse(body);
    const i = last.startsWith('k:')
      ? parent.findIndex((item) => sameKey(itemKey(item, Object.keys(want)), want))
      : parent.findIndex((item) => isDeepStrictEqual(item, want));
    if (i >= 0) parent.splice(i, 1);
  }
}

/** SSA merge of an applied configuration into the live object. */
function mergeApplied(rt: ResourceType, names: string[], live: unknown, cfg: unknown): unknown {
  if (cfg === null || cfg === undefined) return live;
  if (Array.isArray(cfg)) {
    const lt = listTypeAt(rt, names);
    if (lt.kind === 'atomic' || !Array.isArray(live)) return structuredClone(cfg);
    if (lt.kind === 'set') return [...cfg, ...live.filter((x) => !cfg.some((c) => isDeepStrictEqual(c, x)))];
    const merged = cfg.map((c) => {
      const mine = live.find((l) => sameKey(itemKey(l, lt.keys), itemKey(c, lt.keys)));
      return mine === undefined ? structuredClone(c) : mergeApplied(rt, names, mine, c);
    });
    return [...merged, ...live.filter((l) => !cfg.some((c) => sameKey(itemKey(l, lt.keys), itemKey(c, lt.keys))))];
  }
  if (isPlainObject(cfg) && isPlainObject(live) && !atomicMapAt(rt, names)) {
    const out: Obj = { ...live };
    for (const [k, v] of Object.entries(cfg)) {
      if (v === null) delete out[k];
      else out[k] = mergeApplied(rt, [...names, k], live[k], v);
    }
    return out;
  }
  return structuredClone(cfg);
}

/** "kubectl", "kubectl-client-side-apply", or the User-Agent's product ("node-fetch/1.0" → "node-fetch"). */
export function managerName(fieldManager: string | null, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager;
  return (userAgent ?? 'unknown').split('/')[0]!.slice(0, 128) || 'unknown';
}

function entries(obj: Obj): ManagedFieldsEntry[] {
  return (obj.metadata?.managedFields ?? []) as ManagedFieldsEntry[];
}

function setEntries(obj: Obj, list: ManagedFieldsEntry[]): void {
  const kept = list.filter((e) => Object.keys(e.fieldsV1 ?? {}).length > 0);
  if (kept.length) obj.metadata.managedFields = kept;
  else delete obj.metadata.managedFields;
}

const sameEntry = (e: ManagedFieldsEntry, manager: string, operation: string, subresource?: string) =>
  e.manager === manager && e.operation === operation && (e.subresource ?? '') === (subresource ?? '');

/**
 * Records an Update by `manager`: the fields it changed become its own (and no one else's);
 * fields it removed are owned by nobody. Mutates and returns `next`.
 */
export function recordUpdate(rt: ResourceType, prev: Obj | null, next: Obj, manager: string, subresource?: string): Obj {
  const before = prev ? fieldPaths(rt, prev, subresource) : new Set<string>();
  const after = fieldPaths(rt, next, subresource);
  const changed = [...after].filter((p) => {
    if (!before.has(p)) return true;
    const path = JSON.parse(p) as FieldPath;
    return !isDeepStrictEqual(valueAt(prev, path).value, valueAt(next, path).value) && !path[path.length - 1]!.startsWith('k:');
  });
  const removed = [...before].filter((p) => !after.has(p));
  const list = (prev ? entries(prev) : []).map((e) => ({ ...e }));
  next.metadata ??= {};
  if (changed.length === 0 && removed.length === 0) {
    setEntries(next, list);
    return next;
  }
  const drop = new Set([...changed, ...removed]);
  for (const e of list) {
    if (sameEntry(e, manager, 'Update', subresource)) continue;
    e.fieldsV1 = toFieldsV1(new Set([...fromFieldsV1(e.fieldsV1)].filter((p) => !drop.has(p))));
  }
  let mine = list.find((e) => sameEntry(e, manager, 'Update', subresource));
  if (!mine) {
    mine = { manager, operation: 'Update', apiVersion: apiVersionOf(rt), time: nowTime(), fieldsType: 'FieldsV1', fieldsV1: {}, ...(subresource ? { subresource } : {}) };
    list.push(mine);
  }
  const owned = new Set([...fromFieldsV1(mine.fieldsV1), ...changed].filter((p) => !removed.includes(p)));
  mine.fieldsV1 = toFieldsV1(owned);
  mine.time = nowTime();
  setEntries(next, list);
  return next;
}

const printPath = (path: FieldPath) => path.map((pe) => (pe.startsWith('f:') ? `.${pe.slice(2)}` : pe.startsWith('k:') ? `[${Object.entries(JSON.parse(pe.slice(2))).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]` : `[=${pe.slice(2)}]`)).join('');

function printManager(e: ManagedFieldsEntry): string {
  const name = JSON.stringify(e.manager) + (e.subresource ? ` with subresource ${JSON.stringify(e.subresource)}` : '');
  return e.operation === 'Update' ? `${name} using ${e.apiVersion}` : name;
}

/**
 * Server-side apply of `config` by `manager` onto `live` (null when the object does not exist).
 * Returns the object to store, managedFields updated; throws 409 on conflicts without force.
 */
export function applyConfig(rt: ResourceType, live: Obj | null, config: Obj, manager: string, force: boolean, subresource?: string): Obj {
  const applied = fieldPaths(rt, config, subresource);
  const list = (live ? entries(live) : []).map((e) => ({ ...e }));
  const conflicts: { entry: ManagedFieldsEntry; path: FieldPath }[] = [];
  for (const e of list) {
    if (sameEntry(e, manager, 'Apply', subresource)) continue;
    for (const p of fromFieldsV1(e.fieldsV1)) {
      if (!applied.has(p)) continue;
      const path = JSON.parse(p) as FieldPath;
      const last = path[path.length - 1]!;
      if (last.startsWith('k:') || last.startsWith('v:')) continue; // both want the item: shared
      if (!isDeepStrictEqual(valueAt(live, path).value, valueAt(config, path).value)) conflicts.push({ entry: e, path });
    }
  }
  if (conflicts.length > 0 && !force) {
    const causes = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c.entry)}`, field: printPath(c.path) }));
    let message: string;
    if (conflicts.length === 1) message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0]!.entry)}: ${printPath(conflicts[0]!.path)}`;
    else {
      const byManager = new Map<string, string[]>();
      for (const c of conflicts) byManager.set(printManager(c.entry), [...(byManager.get(printManager(c.entry)) ?? []), printPath(c.path)]);
      const lines = [...byManager.keys()].sort().flatMap((m) => [`conflicts with ${m}:`, ...byManager.get(m)!.map((p) => `- ${p}`)]);
      message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
    }
    throw new ApiError(409, 'Conflict', message, { causes });
  }
  const base: Obj = live ? structuredClone(live) : {};
  const merged = mergeApplied(rt, [], scoped(rt, base, subresource), scoped(rt, config, subresource)) as Obj;
  const next: Obj = subresource === 'status' ? { ...base, status: merged.status } : { ...base, ...merged, metadata: { ...(base.metadata ?? {}), ...(merged.metadata ?? {}) } };
  for (const k of ['apiVersion', 'kind']) if (config[k] !== undefined) next[k] = config[k];
  for (const k of ['name', 'namespace', 'generateName']) if (config.metadata?.[k] !== undefined) next.metadata[k] = config.metadata[k];
  // Fields this manager applied before and no longer applies go, unless someone else owns them.
  const mine = list.find((e) => sameEntry(e, manager, 'Apply', subresource));
  const previously = mine ? fromFieldsV1(mine.fieldsV1) : new Set<string>();
  const takenOver = new Set(conflicts.map((c) => JSON.stringify(c.path)));
  const ownedByOthers = new Set(list.filter((e) => e !== mine).flatMap((e) => [...fromFieldsV1(e.fieldsV1)].filter((p) => !takenOver.has(p))));
  const gone = [...previously].filter((p) => !applied.has(p) && !ownedByOthers.has(p)).map((p) => JSON.parse(p) as FieldPath).sort((a, b) => b.length - a.length);
  for (const path of gone) removeAt(next, path);
  for (const e of list) {
    if (e === mine) continue;
    const kept = [...fromFieldsV1(e.fieldsV1)].filter((p) => !takenOver.has(p));
    e.fieldsV1 = toFieldsV1(new Set(kept));
  }
  const entry: ManagedFieldsEntry = { manager, operation: 'Apply', apiVersion: apiVersionOf(rt), time: nowTime(), fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(applied), ...(subresource ? { subresource } : {}) };
  const out = list.filter((e) => e !== mine);
  out.splice(mine ? list.indexOf(mine) : out.length, 0, entry);
  next.metadata ??= {};
  setEntries(next, out);
  return next;
}
