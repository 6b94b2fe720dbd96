/**
 * How the API server merges an object field by field (server-side apply, managedFields,
 * strategic merge patch): which lists are associative (merged by key), which are sets, which
 * are atomic. Custom resources follow their CRD schema (x-kubernetes-list-type /
 * x-kubernetes-list-map-keys / x-kubernetes-map-type; an unmarked list is atomic, as on the real
 * server); ObjectMeta and the built-in kinds follow the list markers of the real Go types for the
 * fields the fake serves.
 */
import type { ResourceType } from './resources.js';
import type { Obj } from './validation.js';

export type ListType = { kind: 'map'; keys: string[]; patchKey: string } | { kind: 'set' } | { kind: 'atomic' };

const ATOMIC: ListType = { kind: 'atomic' };
const SET: ListType = { kind: 'set' };
const byKey = (keys: string[], patchKey = keys[0]!): ListType => ({ kind: 'map', keys, patchKey });

/** List markers of ObjectMeta. */
function metadataList(field: string): ListType {
  if (field === 'finalizers') return SET;
  if (field === 'ownerReferences') return byKey(['uid']);
  return ATOMIC;
}

/**
 * Built-in kinds: associative lists by field name (and parent for `ports`), as their Go types
 * declare them (+listType=map / +patchMergeKey). Lists not named here are atomic.
 */
function builtinList(path: string[]): ListType {
  const field = path[path.length - 1]!;
  const parent = path[path.length - 2] ?? '';
  switch (field) {
    case 'containers': case 'initContainers': case 'ephemeralContainers': return byKey(['name']);
    case 'env': case 'volumes': case 'imagePullSecrets': return byKey(['name']);
    case 'volumeMounts': return byKey(['mountPath']);
    case 'volumeDevices': return byKey(['devicePath']);
    case 'conditions': return byKey(['type']);
    case 'ports': return /containers$/i.test(path[path.length - 3] ?? '') ? byKey(['containerPort', 'protocol'], 'containerPort') : parent === 'spec' ? byKey(['port', 'protocol'], 'port') : ATOMIC;
    case 'finalizers': return parent === 'spec' ? SET : ATOMIC;
    default: return ATOMIC;
  }
}

/** The CRD schema node at a field path (indices skipped), or undefined outside the schema. */
export function schemaAt(root: Obj | undefined, path: string[]): Obj | undefined {
  let s = root;
  for (const seg of path) {
    if (!s) return undefined;
    if (s.type === 'array' || s.items) s = s.items;
    if (!s) return undefined;
    if (s.properties?.[seg]) s = s.properties[seg];
    else if (s.additionalProperties && typeof s.additionalProperties === 'object') s = s.additionalProperties;
    else return undefined;
  }
  return s;
}

/** How the list at `path` (field names from the object root) merges. */
export function listTypeAt(rt: ResourceType, path: string[]): ListType {
  if (path[0] === 'metadata' && path.length === 2) return metadataList(path[1]!);
  if (rt.schema) {
    const s = schemaAt(rt.schema as Obj, path);
    const t = s?.['x-kubernetes-list-type'];
    if (t === 'set') return SET;
    if (t === 'map') {
      const keys = (s!['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
      return keys.length ? byKey(keys) : ATOMIC;
    }
    return ATOMIC;
  }
  return builtinList(path);
}

/** Whether the map at `path` is atomic (replaced whole, owned as one field). */
export function atomicMapAt(rt: ResourceType, path: string[]): boolean {
  if (path[0] === 'metadata') return false;
  if (!rt.schema) return false;
  return schemaAt(rt.schema as Obj, path)?.['x-kubernetes-map-type'] === 'atomic';
}

export const isPlainObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The key of a list item under an associative list: {"name":"c"} (fieldsV1's k:… element). */
export function itemKey(item: unknown, keys: string[]): Obj | null {
  if (!isPlainObject(item)) return null;
  const k: Obj = {};
  for (const key of keys) if (item[key] !== undefined) k[key] = item[key];
  return Object.keys(k).length ? k : null;
}

export const sameKey = (a: Obj | null, b: Obj | null) => !!a && !!b && JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
