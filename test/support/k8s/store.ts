/**
 * The fake API server's state: objects by resource type, one global resourceVersion counter
 * (like etcd's revision), an event history that watches replay from, and the API semantics that
 * clients notice: optimistic concurrency, generation, the status subresource, finalizers and
 * deletionTimestamp, graceful pod deletion, owner-reference garbage collection, namespaces.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import jsonpatch from 'fast-json-patch';
import YAML from 'yaml';
import { ApiError, alreadyExists, conflict, invalid, notFound, strictDecoding } from './errors.js';
import { applyConfig, recordUpdate } from './managed-fields.js';
import { BUILTIN_RESOURCES, apiVersionOf, crdTypes, qualifiedName, type ResourceType } from './resources.js';
import { strategicMergePatch } from './strategic-merge.js';
import { defaultObject, pruneAndDefault, qosClass, validateObject, type Obj } from './validation.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  type: WatchEventType;
  rt: ResourceType;
  object: Obj;
  /** The object before a MODIFIED, for selector transitions. */
  prev?: Obj;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

/** How a write is made: who makes it (managedFields), dry run, and what to do with unknown fields. */
export interface WriteOptions {
  /** Field manager (fieldManager=… or the User-Agent); no managedFields entry without one. */
  manager?: string;
  /** dryRun=All: everything but the write (and its watch event). */
  dryRun?: boolean;
  /** fieldValidation: Strict refuses unknown fields, Warn (the default) reports them, Ignore drops them silently. */
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  /** Filled with the warnings the response carries (Warning: 299 - "…"). */
  warnings?: string[];
  /** How unknown fields are refused: a body (create/update) or the result of a patch. */
  source?: 'body' | 'patch';
  /** managedFields are already computed (server-side apply). */
  managedFieldsDone?: boolean;
  /** apply-patch: force=true takes conflicting fields over. */
  force?: boolean;
}

export interface StoreOptions {
  /** Events kept for watch replay; older resourceVersions get 410 Gone. */
  maxHistory?: number;
}

const rtKey = (rt: ResourceType) => `${rt.group}/${rt.version}/${rt.plural}`;
const objKey = (ns: string, name: string) => `${ns}/${name}`;
const clone = <T>(o: T): T => structuredClone(o);
/** metav1.Time: RFC3339 with second precision. */
export const nowTime = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Obj = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Everything but metadata and status: a change here bumps metadata.generation. */
function specView(obj: Obj): Obj {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

export class ClusterStore extends EventEmitter {
  readonly types: ResourceType[];
  private revision = 1;
  private readonly objects = new Map<string, Map<string, Obj>>();
  private history: StoreEvent[] = [];
  private readonly maxHistory: number;
  /** Watches from a resourceVersion below this get 410 Gone. */
  compactedRv = 0;
  /** Pods awaiting the kubelet's confirmation that their containers stopped. */
  private readonly terminatingPods = new Set<string>();
  /** Set by a kubelet: whether it will stop this pod's containers before the pod is removed. */
  handlesPodTermination: (pod: Obj) => boolean = () => false;

  constructor(types: ResourceType[] = BUILTIN_RESOURCES, opts: StoreOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.types = [...types];
    this.maxHistory = opts.maxHistory ?? 100_000;
    const ns = this.resourceFor('', 'v1', 'namespaces')!;
    for (const name of ['default', 'kube-system']) this.create(ns, '', { metadata: { name } });
  }

  get resourceVersion(): number {
    return this.revision;
  }

  /** Adds or replaces a resource type (e.g. a CRD read from crds/). */
  register(rt: ResourceType): void {
    const i = this.types.findIndex((t) => rtKey(t) === rtKey(rt));
    if (i >= 0) this.types[i] = rt;
    else this.types.push(rt);
  }

  resourceFor(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.version === version && t.plural === plural);
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.types.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
  }

  private bucket(rt: ResourceType): Map<string, Obj> {
    let b = this.objects.get(rtKey(rt));
    if (!b) this.objects.set(rtKey(rt), (b = new Map()));
    return b;
  }

  list(rt: ResourceType, namespace?: string): Obj[] {
    const out: Obj[] = [];
    for (const o of this.bucket(rt).values()) {
      if (!namespace || o.metadata.namespace === namespace) out.push(clone(o));
    }
    return out.sort((a, b) => objKey(a.metadata.namespace ?? '', a.metadata.name).localeCompare(objKey(b.metadata.namespace ?? '', b.metadata.name)));
  }

  /** Name and a copy of the status of each object (cheap next to list() for large objects). */
  statuses(rt: ResourceType, namespace?: string): { name: string; status: Obj | undefined }[] {
    const out: { name: string; status: Obj | undefined }[] = [];
    for (const o of this.bucket(rt).values()) {
      if (!namespace || o.metadata.namespace === namespace) out.push({ name: o.metadata.name, status: o.status === undefined ? undefined : clone(o.status) });
    }
    return out;
  }

  get(rt: ResourceType, namespace: string, name: string): Obj {
    const o = this.bucket(rt).get(objKey(rt.namespaced ? namespace : '', name));
    if (!o) throw notFound(qualifiedName(rt), name, rt.group, rt.kind);
    return clone(o);
  }

  tryGet(rt: ResourceType, namespace: string, name: string): Obj | undefined {
    const o = this.bucket(rt).get(objKey(rt.namespaced ? namespace : '', name));
    return o ? clone(o) : undefined;
  }

  /** Events after `rv` (for watch replay), or null when they were compacted away. */
  eventsSince(rv: number): StoreEvent[] | null {
    if (rv < this.compactedRv) return null;
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  /** Forgets history: every resourceVersion seen so far becomes too old to watch from. */
  compact(): void {
    this.revision++;
    this.compactedRv = this.revision;
    this.history = [];
  }

  private commit(rt: ResourceType, type: WatchEventType, obj: Obj, prev?: Obj): Obj {
    const rv = ++this.revision;
    obj.metadata.resourceVersion = String(rv);
    const key = objKey(obj.metadata.namespace ?? '', obj.metadata.name);
    if (type === 'DELETED') this.bucket(rt).delete(key);
    else this.bucket(rt).set(key, obj);
    const ev: StoreEvent = { rv, type, rt, object: clone(obj), ...(prev ? { prev: clone(prev) } : {}) };
    this.history.push(ev);
    if (this.history.length > this.maxHistory) {
      const dropped = this.history.splice(0, this.history.length - this.maxHistory);
      this.compactedRv = dropped[dropped.length - 1]!.rv;
    }
    this.deliver(ev);
    return clone(obj);
  }

  private readonly outbox: StoreEvent[] = [];
  private delivering = false;

  /**
   * Events reach listeners in resourceVersion order even when a listener writes while handling
   * one (the kubelet marks a pod Running as it sees it ADDED): such writes are queued until the
   * current event has reached every listener.
   */
  private deliver(ev: StoreEvent): void {
    this.outbox.push(ev);
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.outbox.length > 0) this.emit('event', this.outbox.shift()!);
    } finally {
      this.delivering = false;
    }
  }

  /** Unknown fields found while pruning: refused, reported or ignored as the request asked. */
  private unknownFields(rt: ResourceType, unknown: string[], opts: WriteOptions, result: Obj): void {
    if (unknown.length === 0) return;
    const mode = opts.fieldValidation ?? 'Warn';
    if (mode === 'Ignore') return;
    if (mode === 'Warn') {
      opts.warnings?.push(...unknown.map((f) => `unknown field "${f}"`));
      return;
    }
    if (opts.source === 'patch') {
      throw new ApiError(422, 'Invalid', ` "" is invalid: patch: Invalid value: ${JSON.stringify(JSON.stringify(result))}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
        { causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value', field: 'patch' }] });
    }
    throw strictDecoding(rt.kind, rt.version, unknown);
  }

  create(rt: ResourceType, namespace: string, body: Obj, opts: WriteOptions = {}): Obj {
    const obj = clone(body ?? {});
    const apiVersion = apiVersionOf(rt);
    if ((obj.apiVersion && obj.apiVersion !== apiVersion) || (obj.kind && obj.kind !== rt.kind)) {
      throw new ApiError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion}) or kind ${obj.kind} != ${rt.kind}`);
    }
    obj.apiVersion = apiVersion;
    obj.kind = rt.kind;
    const md: Obj = (obj.metadata ??= {});
    if (rt.namespaced) {
      if (md.namespace && md.namespace !== namespace) {
        throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      md.namespace = namespace;
      const nsType = this.resourceFor('', 'v1', 'namespaces')!;
      const ns = this.tryGet(nsType, '', namespace);
      if (!ns) throw notFound('namespaces', namespace, '', 'Namespace');
      if (ns.metadata.deletionTimestamp) {
        throw new ApiError(403, 'Forbidden', `${rt.plural} "${md.name ?? md.generateName}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`);
      }
    } else delete md.namespace;
    if (!md.name && md.generateName) md.name = `${md.generateName}${randomBytes(4).toString('hex').slice(0, 5)}`;
    if (!md.name) throw invalid(rt.kind, '', rt.group, [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    if (this.bucket(rt).has(objKey(md.namespace ?? '', md.name))) throw alreadyExists(qualifiedName(rt), md.name, rt.group);
    md.uid = randomUUID();
    md.creationTimestamp = nowTime();
    // Kinds with a spec count its changes in metadata.generation; others (Event, Lease…) have none.
    if (!rt.builtin || rt.fields?.includes('spec')) md.generation = 1;
    else delete md.generation;
    delete md.deletionTimestamp;
    delete md.deletionGracePeriodSeconds;
    delete md.resourceVersion;
    let unknown: string[];
    if (rt.group === '' && rt.plural === 'pods') {
      unknown = defaultObject(rt, obj);
      obj.status = { phase: 'Pending', qosClass: qosClass(obj) };
    } else {
      // With a status subresource, the main endpoint ignores status (create included).
      if (rt.subresources.includes('status') && rt.plural !== 'namespaces' && rt.plural !== 'nodes') delete obj.status;
      if (rt.plural === 'namespaces') obj.status = { phase: 'Active' };
      if (rt.group === '' && rt.plural === 'persistentvolumeclaims') {
        // A dynamic provisioner binds the claim at once (the kubelet's pods then mount it).
        obj.status = { phase: 'Bound', accessModes: obj.spec?.accessModes ?? [], capacity: { storage: obj.spec?.resources?.requests?.storage ?? '1Gi' } };
        if (obj.spec) obj.spec.volumeName ??= `pvc-${md.uid}`;
      }
      unknown = defaultObject(rt, obj);
    }
    this.unknownFields(rt, unknown, opts, obj);
    validateObject(rt, obj);
    if (opts.manager && !opts.managedFieldsDone) recordUpdate(rt, null, obj, opts.manager);
    if (opts.dryRun) return clone(obj);
    const saved = this.commit(rt, 'ADDED', obj);
    if (rt.group === 'apiextensions.k8s.io' && rt.plural === 'customresourcedefinitions') return this.establishCrd(saved);
    return saved;
  }

  /** A new CRD is served at once (the real server takes a moment; clients wait for Established). */
  private establishCrd(crd: Obj): Obj {
    for (const t of crdTypes(crd)) this.register(t);
    const rt = this.resourceFor('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
    return this.mutate(rt, '', crd.metadata.name, (o) => {
      o.status = {
        conditions: ['NamesAccepted', 'Established'].map((type) => ({ type, status: 'True', reason: type === 'Established' ? 'InitialNamesAccepted' : 'NoConflicts', lastTransitionTime: nowTime() })),
        acceptedNames: crd.spec.names, storedVersions: (crd.spec.versions ?? []).filter((v: Obj) => v.storage).map((v: Obj) => v.name),
      };
    }) ?? crd;
  }

  /**
   * PUT semantics: `candidate` replaces the object (main resource: all but status; the status
   * subresource: status only). A resourceVersion in it must match the stored one.
   */
  update(rt: ResourceType, namespace: string, name: string, candidate: Obj, subresource?: string, opts: WriteOptions = {}): Obj {
    const cur = this.get(rt, namespace, name);
    const md = candidate?.metadata ?? {};
    if (md.name !== undefined && md.name !== name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${md.name}) does not match the name on the URL (${name})`);
    }
    if (md.resourceVersion !== undefined && md.resourceVersion !== '' && md.resourceVersion !== cur.metadata.resourceVersion) {
      throw conflict(qualifiedName(rt), name, rt.group);
    }
    if (md.uid && md.uid !== cur.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${md.uid}, UID in object meta: ${cur.metadata.uid}`);
    }
    let next: Obj;
    if (subresource === 'status') {
      next = { ...clone(cur), status: clone(candidate.status) };
      if (next.status === undefined) delete next.status;
      if (opts.managedFieldsDone) next.metadata.managedFields = candidate.metadata?.managedFields;
      this.unknownFields(rt, defaultObject(rt, next), opts, next);
      validateObject(rt, next);
    } else {
      next = clone(candidate);
      next.apiVersion = cur.apiVersion;
      next.kind = cur.kind;
      next.metadata = {
        ...clone(md),
        name: cur.metadata.name,
        ...(cur.metadata.namespace ? { namespace: cur.metadata.namespace } : {}),
        uid: cur.metadata.uid,
        creationTimestamp: cur.metadata.creationTimestamp,
        generation: cur.metadata.generation,
        resourceVersion: cur.metadata.resourceVersion,
      };
      for (const f of ['deletionTimestamp', 'deletionGracePeriodSeconds']) {
        if (cur.metadata[f] !== undefined) next.metadata[f] = cur.metadata[f];
        else delete next.metadata[f];
      }
      if (rt.subresources.includes('status')) {
        if (cur.status !== undefined) next.status = clone(cur.status);
        else delete next.status;
      }
      if (cur.metadata.deletionTimestamp) {
        const before = new Set<string>(cur.metadata.finalizers ?? []);
        const added = (next.metadata.finalizers ?? []).filter((f: string) => !before.has(f));
        if (added.length > 0) {
          throw invalid(rt.kind, name, rt.group, [{ field: 'metadata.finalizers', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` }]);
        }
      }
      this.unknownFields(rt, defaultObject(rt, next), opts, next);
      validateObject(rt, next, cur);
      if (cur.metadata.generation !== undefined && !isDeepStrictEqual(specView(next), specView(cur))) next.metadata.generation = cur.metadata.generation + 1;
      else if (cur.metadata.generation === undefined) delete next.metadata.generation;
    }
    if ((next.metadata.finalizers ?? []).length === 0) delete next.metadata.finalizers;
    if (opts.managedFieldsDone) {
      if (!next.metadata.managedFields) delete next.metadata.managedFields;
    } else if (opts.manager) recordUpdate(rt, cur, next, opts.manager, subresource);
    else if (cur.metadata.managedFields) next.metadata.managedFields = cur.metadata.managedFields;
    else delete next.metadata.managedFields;
    if (isDeepStrictEqual(next, cur)) return cur; // a no-op write bumps nothing and sends no event
    if (opts.dryRun) return clone(next);
    const saved = this.commit(rt, 'MODIFIED', next, cur);
    // A changed CRD changes what is served (schema, printer columns, subresources).
    if (rt.group === 'apiextensions.k8s.io' && rt.plural === 'customresourcedefinitions' && !saved.metadata.deletionTimestamp) for (const t of crdTypes(saved)) this.register(t);
    this.removeIfReleased(rt, saved);
    return saved;
  }

  /**
   * PATCH: JSON merge patch, RFC 6902 JSON patch, strategic merge patch (built-in kinds only) or
   * server-side apply (application/apply-patch+yaml; creates the object when it is missing).
   */
  patch(rt: ResourceType, namespace: string, name: string, contentType: string, body: unknown, subresource?: string, opts: WriteOptions = {}): Obj {
    const type = contentType.split(';')[0]!.trim().toLowerCase();
    if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+json') return this.apply(rt, namespace, name, body, subresource, opts);
    const cur = this.get(rt, namespace, name);
    let next: Obj;
    if (type === 'application/merge-patch+json') {
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new ApiError(400, 'BadRequest', 'json: cannot unmarshal array into Go value of type map[string]interface {}');
      }
      next = mergePatch(cur, body) as Obj;
    } else if (type === 'application/strategic-merge-patch+json') {
      next = strategicMergePatch(rt, cur, body);
    } else if (type === 'application/json-patch+json') {
      if (!Array.isArray(body)) {
        throw new ApiError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp');
      }
      try {
        next = jsonpatch.applyPatch(clone(cur), body as jsonpatch.Operation[], true, false).newDocument as Obj;
      } catch (err) {
        throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${(err as Error).message.split('\n')[0]}`);
      }
    } else {
      const accepted = rt.builtin ? 'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json' : 'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml';
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted}`);
    }
    if (next?.metadata?.resourceVersion === cur.metadata.resourceVersion) delete next.metadata.resourceVersion;
    else if (next?.metadata && next.metadata.resourceVersion === undefined) next.metadata.resourceVersion = '';
    return this.update(rt, namespace, name, next, subresource, { ...opts, source: 'patch' });
  }

  /** Server-side apply (see managed-fields.ts). */
  private apply(rt: ResourceType, namespace: string, name: string, body: unknown, subresource: string | undefined, opts: WriteOptions): Obj {
    if (!opts.manager) {
      throw invalid('PatchOptions', '', 'meta.k8s.io', [{ field: 'fieldManager', message: 'Required value: is required for apply patch', reason: 'FieldValueRequired' }]);
    }
    let config: Obj;
    try {
      config = (typeof body === 'string' ? YAML.parse(body) : body) as Obj;
    } catch (err) {
      throw new ApiError(400, 'BadRequest', `error decoding YAML: ${(err as Error).message}`);
    }
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new ApiError(400, 'BadRequest', 'error decoding YAML: the applied configuration is not an object');
    const apiVersion = apiVersionOf(rt);
    if (config.apiVersion !== apiVersion || config.kind !== rt.kind) {
      throw new ApiError(400, 'BadRequest', `error decoding YAML: apiVersion and kind must be ${apiVersion} and ${rt.kind}, got ${config.apiVersion} and ${config.kind}`);
    }
    if (config.metadata?.name !== undefined && config.metadata.name !== name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${config.metadata.name}) does not match the name on the URL (${name})`);
    }
    // Fields outside the schema cannot be owned: the real server's typed conversion refuses them.
    const copy = clone(config);
    const { metadata: _m, ...rest } = copy;
    const unknown = rt.schema ? pruneAndDefault(rest, rt.schema) : [];
    if (unknown.length > 0 && opts.fieldValidation !== 'Ignore') {
      if (opts.fieldValidation === 'Warn') opts.warnings?.push(...unknown.map((f) => `unknown field "${f}"`));
      else throw new ApiError(500, 'InternalError', `failed to create typed patch object (${namespace}/${name}; ${apiVersion}, Kind=${rt.kind}): ${unknown.map((f) => `.${f}: field not declared in schema`).join(', ')}`);
    }
    const cur = this.tryGet(rt, namespace, name);
    const next = applyConfig(rt, cur ?? null, config, opts.manager, opts.force === true, subresource);
    const writeOpts: WriteOptions = { ...opts, managedFieldsDone: true, fieldValidation: 'Ignore' };
    if (!cur) {
      if (subresource) throw notFound(qualifiedName(rt), name, rt.group, rt.kind);
      next.metadata.name = name;
      return this.create(rt, namespace, next, writeOpts);
    }
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    return this.update(rt, namespace, name, next, subresource, writeOpts);
  }

  delete(rt: ResourceType, namespace: string, name: string, opts: DeleteOptions = {}): Obj {
    const cur = this.get(rt, namespace, name);
    if (opts.dryRun) {
      // What the deletion would look like, nothing done.
      if ((cur.metadata.finalizers ?? []).length > 0 || rt.plural === 'namespaces') cur.metadata.deletionTimestamp ??= nowTime();
      return cur;
    }
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== cur.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
    }
    if (opts.propagationPolicy === 'Orphan') this.orphanDependents(cur.metadata.uid);
    if (rt.group === '' && rt.plural === 'namespaces') {
      // The namespace controller deletes the contents first, then the namespace.
      if (cur.metadata.deletionTimestamp) return cur;
      const prev = clone(cur);
      cur.metadata.deletionTimestamp = nowTime();
      cur.status = { phase: 'Terminating' };
      const saved = this.commit(rt, 'MODIFIED', cur, prev);
      setImmediate(() => {
        this.emptyNamespace(name);
        this.finishNamespaceIfEmpty(name);
      });
      return saved;
    }
    const key = objKey(cur.metadata.namespace ?? '', name);
    const isPod = rt.group === '' && rt.plural === 'pods';
    if (isPod && this.terminatingPods.has(key)) {
      // Already terminating: a zero grace period forces removal, as `kubectl delete --force`.
      if (opts.gracePeriodSeconds === 0) return this.finishPodTermination(namespace, name) ?? cur;
      return cur;
    }
    if (cur.metadata.deletionTimestamp) return cur;
    if (isPod && opts.gracePeriodSeconds !== 0 && this.handlesPodTermination(cur)) {
      const grace = opts.gracePeriodSeconds ?? cur.spec?.terminationGracePeriodSeconds ?? 30;
      cur.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      cur.metadata.deletionGracePeriodSeconds = grace;
      this.terminatingPods.add(key);
      return this.commit(rt, 'MODIFIED', cur, this.get(rt, namespace, name));
    }
    if ((cur.metadata.finalizers ?? []).length > 0) {
      const prev = clone(cur);
      cur.metadata.deletionTimestamp = nowTime();
      cur.metadata.deletionGracePeriodSeconds = 0;
      return this.commit(rt, 'MODIFIED', cur, prev);
    }
    return this.remove(rt, cur);
  }

  /** Called by the kubelet once a terminating pod's containers are gone. */
  finishPodTermination(namespace: string, name: string): Obj | undefined {
    const rt = this.resourceFor('', 'v1', 'pods')!;
    const key = objKey(namespace, name);
    this.terminatingPods.delete(key);
    const cur = this.tryGet(rt, namespace, name);
    if (!cur) return undefined;
    if ((cur.metadata.finalizers ?? []).length > 0) return cur;
    return this.remove(rt, cur);
  }

  isTerminatingPod(namespace: string, name: string): boolean {
    return this.terminatingPods.has(objKey(namespace, name));
  }

  /** A deleted object whose last finalizer went away is removed. */
  private removeIfReleased(rt: ResourceType, obj: Obj): void {
    if (!obj.metadata.deletionTimestamp || (obj.metadata.finalizers ?? []).length > 0) return;
    if (rt.group === '' && rt.plural === 'namespaces') return;
    if (this.terminatingPods.has(objKey(obj.metadata.namespace ?? '', obj.metadata.name))) return;
    this.remove(rt, obj);
  }

  private remove(rt: ResourceType, obj: Obj): Obj {
    const removed = this.commit(rt, 'DELETED', clone(obj));
    if (rt.group === 'apiextensions.k8s.io' && rt.plural === 'customresourcedefinitions') this.dropCrd(obj);
    const uid = obj.metadata.uid as string;
    // The garbage collector works asynchronously, after the owner is gone.
    setImmediate(() => this.collectDependents(uid));
    if (rt.namespaced) setImmediate(() => this.finishNamespaceIfEmpty(obj.metadata.namespace));
    return removed;
  }

  /** A deleted CRD: its custom resources go with it, and its types are no longer served. */
  private dropCrd(crd: Obj): void {
    for (const t of crdTypes(crd)) {
      const rt = this.resourceFor(t.group, t.version, t.plural);
      if (!rt) continue;
      for (const o of this.list(rt)) this.commit(rt, 'DELETED', o);
      const i = this.types.indexOf(rt);
      if (i >= 0) this.types.splice(i, 1);
    }
  }

  private allObjects(): { rt: ResourceType; obj: Obj }[] {
    const out: { rt: ResourceType; obj: Obj }[] = [];
    for (const rt of this.types) for (const obj of this.bucket(rt).values()) out.push({ rt, obj });
    return out;
  }

  private uidExists(uid: string): boolean {
    return this.allObjects().some(({ obj }) => obj.metadata.uid === uid);
  }

  /** Background cascading deletion: dependents whose every owner is gone are deleted. */
  private collectDependents(ownerUid: string): void {
    for (const { rt, obj } of this.allObjects()) {
      const refs: Obj[] = obj.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === ownerUid)) continue;
      const ns = obj.metadata.namespace ?? '';
      const remaining = refs.filter((r) => r.uid !== ownerUid && this.uidExists(r.uid));
      try {
        if (remaining.length > 0) {
          const next = clone(obj);
          next.metadata.ownerReferences = remaining;
          this.update(rt, ns, obj.metadata.name, next);
        } else if (!obj.metadata.deletionTimestamp) {
          this.delete(rt, ns, obj.metadata.name, { propagationPolicy: 'Background' });
        }
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
  }

  private orphanDependents(ownerUid: string): void {
    for (const { rt, obj } of this.allObjects()) {
      const refs: Obj[] = obj.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === ownerUid)) continue;
      const next = clone(obj);
      next.metadata.ownerReferences = refs.filter((r) => r.uid !== ownerUid);
      if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
      this.update(rt, obj.metadata.namespace ?? '', obj.metadata.name, next);
    }
  }

  private emptyNamespace(ns: string): void {
    for (const { rt, obj } of this.allObjects()) {
      if (rt.namespaced && obj.metadata.namespace === ns && !obj.metadata.deletionTimestamp) {
        try {
          this.delete(rt, ns, obj.metadata.name);
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      }
    }
  }

  private finishNamespaceIfEmpty(ns: string | undefined): void {
    if (!ns) return;
    const nsType = this.resourceFor('', 'v1', 'namespaces')!;
    const cur = this.tryGet(nsType, '', ns);
    if (!cur?.metadata.deletionTimestamp) return;
    if (this.allObjects().some(({ rt, obj }) => rt.namespaced && obj.metadata.namespace === ns)) return;
    this.remove(nsType, cur);
  }

  /**
   * Direct write for the cluster's own components (kubelet, tests): applies `fn` to a copy and
   * stores it without API validation, bumping resourceVersion only when something changed.
   */
  mutate(rt: ResourceType, namespace: string, name: string, fn: (o: Obj) => void): Obj | undefined {
    const cur = this.tryGet(rt, namespace, name);
    if (!cur) return undefined;
    const next = clone(cur);
    fn(next);
    if (isDeepStrictEqual(next, cur)) return cur;
    const saved = this.commit(rt, 'MODIFIED', next, cur);
    this.removeIfReleased(rt, saved);
    return saved;
  }
}
