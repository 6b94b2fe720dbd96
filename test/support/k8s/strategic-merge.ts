/**
 * Strategic merge patch (Content-Type application/strategic-merge-patch+json) as the API server
 * applies it to built-in kinds: maps merge, null deletes, associative lists merge by their patch
 * merge key (containers by name, …), sets union, other lists are replaced; the directives
 * kubectl's three-way patches carry are honoured: `$patch: replace|delete|merge`,
 * `$setElementOrder/FIELD`, `$deleteFromPrimitiveList/FIELD`, `$retainKeys`.
 * Custom resources refuse it (415), as on the real server.
 */
import { ApiError } from './errors.js';
import type { ResourceType } from './resources.js';
import { isPlainObject, listTypeAt, type ListType } from './structure.js';
import type { Obj } from './validation.js';

const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

function mergeKeyOf(t: ListType): string | null {
  return t.kind === 'map' ? t.patchKey : null;
}

function mergeList(rt: ResourceType, path: string[], target: unknown[], patch: unknown[]): unknown[] {
  const t = listTypeAt(rt, path);
  if (patch.some((p) => isPlainObject(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isPlainObject(p) && p.$patch === 'replace'));
  }
  const key = mergeKeyOf(t);
  if (t.kind === 'set' || (t.kind === 'map' && patch.every((p) => !isPlainObject(p)))) {
    const out = [...target];
    for (const p of patch) if (!out.some((o) => JSON.stringify(o) === JSON.stringify(p))) out.push(p);
    return out;
  }
  if (!key) return patch;
  const out = target.map((x) => x);
  for (const p of patch) {
    if (!isPlainObject(p)) throw new ApiError(400, 'BadRequest', `json: cannot unmarshal ${typeof p} into map item of list ${path.join('.')}`);
    const i = out.findIndex((o) => isPlainObject(o) && o[key] === p[key]);
    if (p.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    if (i >= 0) out[i] = mergeMap(rt, path, out[i] as Obj, p);
    else out.push(mergeMap(rt, path, {}, p));
  }
  return out;
}

function reorder(list: unknown[], order: unknown[], key: string | null): unknown[] {
  const id = (v: unknown) => JSON.stringify(key && isPlainObject(v) ? v[key] : v);
  const rank = new Map(order.map((o, i) => [id(o), i]));
  const ranked = list.filter((v) => rank.has(id(v))).sort((a, b) => rank.get(id(a))! - rank.get(id(b))!);
  const rest = list.filter((v) => !rank.has(id(v)));
  return [...ranked, ...rest];
}

function mergeMap(rt: ResourceType, path: string[], target: Obj, patch: Obj): Obj {
  if (patch.$patch === 'delete') return {};
  if (patch.$patch === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return structuredClone(rest);
  }
  const out: Obj = { ...target };
  const retain = Array.isArray(patch.$retainKeys) ? new Set(patch.$retainKeys as string[]) : null;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith(SET_ORDER)) continue;
    if (k.startsWith(DELETE_PRIMITIVE)) {
      const field = k.slice(DELETE_PRIMITIVE.length);
      const gone = new Set((v as unknown[]).map((x) => JSON.stringify(x)));
      if (Array.isArray(out[field])) out[field] = (out[field] as unknown[]).filter((x) => !gone.has(JSON.stringify(x)));
      continue;
    }
    const sub = [...path, k];
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(rt, sub, Array.isArray(out[k]) ? out[k] : [], v);
    else if (isPlainObject(v)) out[k] = mergeMap(rt, sub, isPlainObject(out[k]) ? out[k] : {}, v);
    else out[k] = v;
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(SET_ORDER) || !Array.isArray(v)) continue;
    const field = k.slice(SET_ORDER.length);
    if (Array.isArray(out[field])) out[field] = reorder(out[field], v, mergeKeyOf(listTypeAt(rt, [...path, field])));
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.has(k)) delete out[k];
  return out;
}

export function strategicMergePatch(rt: ResourceType, target: Obj, patch: unknown): Obj {
  if (!rt.builtin) {
    throw new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
  }
  if (!isPlainObject(patch)) throw new ApiError(400, 'BadRequest', 'json: cannot unmarshal array into Go value of type map[string]interface {}');
  return mergeMap(rt, [], target, patch);
}
