/**
 * The API server's defaulting and validation for what the fake serves: object metadata (names,
 * labels, owner references), pods (containers, resources, immutability), core events, lease
 * MicroTimes, and CRD schemas (pruning unknown fields, defaults, then validation with ajv).
 * Strict on purpose: a manifest the real server would reject must be rejected here too.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseQuantity } from '../../../src/runners/k8s/quantity.js';
import { ApiError, invalid } from './errors.js';
import type { ResourceType } from './resources.js';

export type Obj = Record<string, any>;
type Cause = { field: string; message: string; reason?: string };

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
/** metav1.MicroTime is decoded with Go's RFC3339Micro layout: exactly six fractional digits. */
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

function checkQualifiedKey(key: string, field: string, causes: Cause[]): void {
  const parts = key.split('/');
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length > 2 || (parts.length === 2 && (!SUBDOMAIN.test(parts[0]!) || parts[0]!.length > 253))) {
    causes.push({ field, message: `Invalid value: "${key}": prefix part must be a DNS-1123 subdomain` });
  }
  if (!QUALIFIED_NAME.test(name) || name.length > 63) {
    causes.push({ field, message: `Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)` });
  }
}

export function validateMetadata(obj: Obj, causes: Cause[]): void {
  const md = obj.metadata ?? {};
  const name = md.name as string;
  if (typeof name !== 'string' || !SUBDOMAIN.test(name) || name.length > 253) {
    causes.push({ field: 'metadata.name', message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` });
  }
  for (const [k, v] of Object.entries(md.labels ?? {})) {
    checkQualifiedKey(k, 'metadata.labels', causes);
    if (typeof v !== 'string' || !LABEL_VALUE.test(v) || v.length > 63) {
      causes.push({ field: 'metadata.labels', message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)` });
    }
  }
  for (const [k, v] of Object.entries(md.annotations ?? {})) {
    checkQualifiedKey(k, 'metadata.annotations', causes);
    if (typeof v !== 'string') causes.push({ field: `metadata.annotations.${k}`, message: 'Invalid value: must be a string' });
  }
  let controllers = 0;
  (md.ownerReferences ?? []).forEach((ref: Obj, i: number) => {
    for (const f of ['apiVersion', 'kind', 'name', 'uid']) {
      if (!ref[f]) causes.push({ field: `metadata.ownerReferences[${i}].${f}`, message: 'Required value' });
    }
    if (ref.controller) controllers++;
  });
  if (controllers > 1) causes.push({ field: 'metadata.ownerReferences', message: 'Invalid value: Only one reference can have Controller set to true' });
}

function quantityField(value: unknown, field: string, causes: Cause[]): number | null {
  try {
    return parseQuantity(value as string, field);
  } catch {
    causes.push({ field, message: `Invalid value: ${JSON.stringify(value)}: must be a valid quantity` });
    return null;
  }
}

export function defaultPod(pod: Obj): void {
  const spec = (pod.spec ??= {});
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  spec.dnsPolicy ??= 'ClusterFirst';
  for (const c of spec.containers ?? []) {
    const image = String(c.image ?? '');
    c.imagePullPolicy ??= image.endsWith(':latest') || !/:[^/]+$/.test(image) ? 'Always' : 'IfNotPresent';
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    if (c.resources?.limits) {
      c.resources.requests ??= {};
      for (const [k, v] of Object.entries(c.resources.limits)) c.resources.requests[k] ??= v;
    }
  }
}

export function qosClass(pod: Obj): string {
  const containers: Obj[] = pod.spec?.containers ?? [];
  const any = containers.some((c) => Object.keys(c.resources?.requests ?? {}).length + Object.keys(c.resources?.limits ?? {}).length > 0);
  if (!any) return 'BestEffort';
  const guaranteed = containers.every((c) => ['cpu', 'memory'].every((r) => {
    const req = c.resources?.requests?.[r];
    const lim = c.resources?.limits?.[r];
    return lim !== undefined && (req === undefined || parseQuantity(req) === parseQuantity(lim));
  }));
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function validatePodSpec(spec: Obj | undefined, causes: Cause[], at = 'spec'): void {
  if (!spec) { causes.push({ field: at, message: 'Required value' }); return; }
  if (!['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy)) {
    causes.push({ field: `${at}.restartPolicy`, message: `Unsupported value: ${JSON.stringify(spec.restartPolicy)}: supported values: "Always", "OnFailure", "Never"` });
  }
  if (spec.nodeName !== undefined && (typeof spec.nodeName !== 'string' || !SUBDOMAIN.test(spec.nodeName))) {
    causes.push({ field: `${at}.nodeName`, message: `Invalid value: ${JSON.stringify(spec.nodeName)}` });
  }
  if (spec.activeDeadlineSeconds !== undefined && !(Number.isInteger(spec.activeDeadlineSeconds) && spec.activeDeadlineSeconds > 0)) {
    causes.push({ field: `${at}.activeDeadlineSeconds`, message: 'Invalid value: must be between 1 and 2147483647, inclusive' });
  }
  const containers: Obj[] = spec.containers ?? [];
  if (containers.length === 0) causes.push({ field: `${at}.containers`, message: 'Required value' });
  const names = new Set<string>();
  const volumes = new Set<string>((spec.volumes ?? []).map((v: Obj) => v.name));
  containers.forEach((c, i) => {
    const p = `${at}.containers[${i}]`;
    if (typeof c.name !== 'string' || !DNS_LABEL.test(c.name)) causes.push({ field: `${p}.name`, message: `Invalid value: ${JSON.stringify(c.name)}` });
    if (names.has(c.name)) causes.push({ field: `${p}.name`, message: `Duplicate value: ${JSON.stringify(c.name)}` });
    names.add(c.name);
    if (!c.image || typeof c.image !== 'string') causes.push({ field: `${p}.image`, message: 'Required value' });
    (c.volumeMounts ?? []).forEach((m: Obj, j: number) => {
      if (!volumes.has(m.name)) causes.push({ field: `${p}.volumeMounts[${j}].name`, message: `Not found: ${JSON.stringify(m.name)}`, reason: 'FieldValueNotFound' });
      if (typeof m.mountPath !== 'string' || !m.mountPath) causes.push({ field: `${p}.volumeMounts[${j}].mountPath`, message: 'Required value', reason: 'FieldValueRequired' });
    });
    (c.env ?? []).forEach((e: Obj, j: number) => {
      if (typeof e.name !== 'string' || !ENV_NAME.test(e.name)) causes.push({ field: `${p}.env[${j}].name`, message: `Invalid value: ${JSON.stringify(e.name)}: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit` });
    });
    const requests: Obj = c.resources?.requests ?? {};
    const limits: Obj = c.resources?.limits ?? {};
    for (const [k, v] of Object.entries(requests)) {
      const r = quantityField(v, `${p}.resources.requests[${k}]`, causes);
      const l = limits[k] !== undefined ? quantityField(limits[k], `${p}.resources.limits[${k}]`, causes) : null;
      if (r !== null && l !== null && r > l) causes.push({ field: `${p}.resources.requests`, message: `Invalid value: "${v}": must be less than or equal to ${k} limit of ${limits[k]}` });
    }
    for (const [k, v] of Object.entries(limits)) {
      const l = quantityField(v, `${p}.resources.limits[${k}]`, causes);
      // Extended resources (e.g. nvidia.com/gpu) cannot be overcommitted: integer, requests = limits.
      if (k.includes('/') && !k.startsWith('kubernetes.io/') && l !== null) {
        if (!Number.isInteger(l)) causes.push({ field: `${p}.resources.limits[${k}]`, message: `Invalid value: "${v}": must be an integer` });
        if (requests[k] !== undefined && parseQuantity(requests[k]) !== l) {
          causes.push({ field: `${p}.resources.requests[${k}]`, message: `Invalid value: "${requests[k]}": must be equal to ${k} limit of ${v}` });
        }
      }
    }
    for (const k of Object.keys(requests)) {
      if (k.includes('/') && !k.startsWith('kubernetes.io/') && limits[k] === undefined) {
        causes.push({ field: `${p}.resources.limits`, message: `Required value: Limit must be set for non overcommitable resources` });
      }
    }
  });
}

/** The label selector of a Deployment matches its pod template's labels. */
function selectorMatches(selector: Obj | undefined, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of (selector?.matchExpressions ?? []) as Obj[]) {
    const has = e.key in labels;
    const ok = e.operator === 'In' ? has && e.values.includes(labels[e.key]) : e.operator === 'NotIn' ? !has || !e.values.includes(labels[e.key])
      : e.operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

/** What the real server checks on the other kinds deploy/ creates (Deployment, Service, RBAC, PVC). */
function validateDeployKinds(rt: ResourceType, obj: Obj, causes: Cause[]): void {
  const spec = obj.spec ?? {};
  if (rt.group === 'apps' && rt.plural === 'deployments') {
    if (!spec.selector || (!spec.selector.matchLabels && !spec.selector.matchExpressions)) causes.push({ field: 'spec.selector', message: 'Required value', reason: 'FieldValueRequired' });
    else if (!selectorMatches(spec.selector, spec.template?.metadata?.labels ?? {})) {
      causes.push({ field: 'spec.template.metadata.labels', message: `Invalid value: ${JSON.stringify(spec.template?.metadata?.labels ?? {})}: \`selector\` does not match template \`labels\`` });
    }
    if (spec.replicas !== undefined && !(Number.isInteger(spec.replicas) && spec.replicas >= 0)) causes.push({ field: 'spec.replicas', message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0` });
    const strategy = spec.strategy?.type;
    if (strategy !== undefined && !['Recreate', 'RollingUpdate'].includes(strategy)) causes.push({ field: 'spec.strategy.type', message: `Unsupported value: ${JSON.stringify(strategy)}: supported values: "Recreate", "RollingUpdate"`, reason: 'FieldValueNotSupported' });
    const podSpec = spec.template?.spec;
    if (podSpec && podSpec.restartPolicy !== 'Always') causes.push({ field: 'spec.template.spec.restartPolicy', message: `Unsupported value: ${JSON.stringify(podSpec.restartPolicy)}: supported values: "Always"`, reason: 'FieldValueNotSupported' });
    validatePodSpec(podSpec, causes, 'spec.template.spec');
  }
  if (rt.group === '' && rt.plural === 'services') {
    const ports: Obj[] = spec.ports ?? [];
    if (spec.type !== 'ExternalName' && ports.length === 0) causes.push({ field: 'spec.ports', message: 'Required value', reason: 'FieldValueRequired' });
    ports.forEach((p, i) => {
      if (!(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535)) causes.push({ field: `spec.ports[${i}].port`, message: `Invalid value: ${JSON.stringify(p.port)}: must be between 1 and 65535, inclusive` });
      if (ports.length > 1 && !p.name) causes.push({ field: `spec.ports[${i}].name`, message: 'Required value', reason: 'FieldValueRequired' });
      if (p.protocol !== undefined && !PROTOCOLS.includes(p.protocol)) causes.push({ field: `spec.ports[${i}].protocol`, message: `Unsupported value: ${JSON.stringify(p.protocol)}: supported values: "SCTP", "TCP", "UDP"`, reason: 'FieldValueNotSupported' });
    });
  }
  if (rt.group === 'rbac.authorization.k8s.io') {
    if (obj.kind.endsWith('Binding')) {
      const ref = obj.roleRef ?? {};
      if (ref.apiGroup !== 'rbac.authorization.k8s.io') causes.push({ field: 'roleRef.apiGroup', message: `Unsupported value: ${JSON.stringify(ref.apiGroup ?? '')}: supported values: "rbac.authorization.k8s.io"`, reason: 'FieldValueNotSupported' });
      const kinds = obj.kind === 'ClusterRoleBinding' ? ['ClusterRole'] : ['ClusterRole', 'Role'];
      if (!kinds.includes(ref.kind)) causes.push({ field: 'roleRef.kind', message: `Unsupported value: ${JSON.stringify(ref.kind ?? '')}: supported values: ${kinds.map((k) => JSON.stringify(k)).join(', ')}`, reason: 'FieldValueNotSupported' });
      if (!ref.name) causes.push({ field: 'roleRef.name', message: 'Required value', reason: 'FieldValueRequired' });
      ((obj.subjects ?? []) as Obj[]).forEach((sub, i) => {
        if (!['ServiceAccount', 'User', 'Group'].includes(sub.kind)) causes.push({ field: `subjects[${i}].kind`, message: `Unsupported value: ${JSON.stringify(sub.kind ?? '')}: supported values: "ServiceAccount", "User", "Group"`, reason: 'FieldValueNotSupported' });
        if (!sub.name) causes.push({ field: `subjects[${i}].name`, message: 'Required value', reason: 'FieldValueRequired' });
        if (sub.kind === 'ServiceAccount' && !sub.namespace) causes.push({ field: `subjects[${i}].namespace`, message: 'Required value', reason: 'FieldValueRequired' });
      });
    } else {
      ((obj.rules ?? []) as Obj[]).forEach((r, i) => {
        if (!Array.isArray(r.verbs) || r.verbs.length === 0) causes.push({ field: `rules[${i}].verbs`, message: 'Required value: verbs must contain at least one value', reason: 'FieldValueRequired' });
        if (!r.nonResourceURLs && !Array.isArray(r.apiGroups)) causes.push({ field: `rules[${i}].apiGroups`, message: 'Required value: resource rules must supply at least one api group', reason: 'FieldValueRequired' });
      });
    }
  }
  if (rt.group === '' && rt.plural === 'persistentvolumeclaims') {
    const modes: string[] = spec.accessModes ?? [];
    if (modes.length === 0) causes.push({ field: 'spec.accessModes', message: 'Required value: at least 1 access mode is required', reason: 'FieldValueRequired' });
    for (const m of modes) {
      if (!['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'].includes(m)) causes.push({ field: 'spec.accessModes', message: `Unsupported value: ${JSON.stringify(m)}: supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"`, reason: 'FieldValueNotSupported' });
    }
    const storage = spec.resources?.requests?.storage;
    if (storage === undefined) causes.push({ field: 'spec.resources[storage]', message: 'Required value', reason: 'FieldValueRequired' });
    else quantityField(storage, 'spec.resources[storage]', causes);
  }
}

/** Pod spec fields that may change after creation. */
function mutablePodView(spec: Obj): Obj {
  const copy = structuredClone(spec);
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  delete copy.terminationGracePeriodSeconds;
  for (const c of copy.containers ?? []) delete c.image;
  return copy;
}

function validateEvent(ev: Obj, causes: Cause[]): void {
  const io = ev.involvedObject;
  if (!io || typeof io !== 'object') { causes.push({ field: 'involvedObject', message: 'Required value' }); return; }
  if (io.namespace && io.namespace !== ev.metadata.namespace) {
    causes.push({ field: 'involvedObject.namespace', message: `Invalid value: ${JSON.stringify(io.namespace)}: does not match event.namespace` });
  }
  if (ev.type !== undefined && !['Normal', 'Warning'].includes(ev.type)) {
    causes.push({ field: 'type', message: `Unsupported value: ${JSON.stringify(ev.type)}: supported values: "Normal", "Warning"` });
  }
}

function validateNewEvent(ev: Obj, causes: Cause[]): void {
  for (const f of ['eventTime', 'reportingController', 'reportingInstance', 'action', 'reason']) {
    if (!ev[f]) causes.push({ field: f, message: 'Required value' });
  }
}

function checkMicroTimes(obj: Obj, fields: string[]): void {
  for (const f of fields) {
    const v = f.split('.').reduce<any>((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
    if (v !== undefined && v !== null && (typeof v !== 'string' || !MICRO_TIME.test(v))) {
      // The real server fails to decode the body: 400, not 422.
      throw new ApiError(400, 'BadRequest', `parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse (field ${f} is a MicroTime)`);
    }
  }
}

const schemaValidators = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  let v = schemaValidators.get(schema);
  if (!v) {
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    v = ajv.compile({ ...schema, properties: { ...(schema.properties as object), metadata: { type: 'object' } } });
    schemaValidators.set(schema, v);
  }
  return v;
}

/** A field path as the API server prints it: spec.jobs[0].name. */
export function fieldPathString(segments: (string | number)[]): string {
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/**
 * Structural-schema pruning and defaulting, as the API server does for custom resources.
 * Returns the paths of the fields it pruned (unknown fields), for fieldValidation.
 */
export function pruneAndDefault(value: unknown, schema: Obj | undefined, path: (string | number)[] = [], pruned: string[] = []): string[] {
  if (!schema || value === null || typeof value !== 'object') return pruned;
  if (Array.isArray(value)) {
    value.forEach((v, i) => pruneAndDefault(v, schema.items, [...path, i], pruned));
    return pruned;
  }
  const obj = value as Obj;
  const props: Obj | undefined = schema.properties;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const additional = schema.additionalProperties;
  for (const key of Object.keys(obj)) {
    if (props && key in props) pruneAndDefault(obj[key], props[key], [...path, key], pruned);
    else if (additional && typeof additional === 'object') pruneAndDefault(obj[key], additional, [...path, key], pruned);
    else if (!preserve && additional !== true) {
      delete obj[key];
      pruned.push(fieldPathString([...path, key]));
    }
  }
  for (const [key, sub] of Object.entries(props ?? {})) {
    if (obj[key] === undefined && (sub as Obj).default !== undefined) obj[key] = structuredClone((sub as Obj).default);
  }
  return pruned;
}

/**
 * Applies defaulting and pruning for a new or changed object (mutates it); returns the unknown
 * fields it dropped: those outside a CRD schema, or top-level fields a built-in kind lacks.
 */
/** metav1.Time on the wire: RFC 3339 in UTC with whole seconds (the server re-encodes what it decodes). */
function normalizeTime(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = Date.parse(v);
  return Number.isFinite(t) ? new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z') : v;
}

export function defaultObject(rt: ResourceType, obj: Obj): string[] {
  if (rt.plural === 'pods' && rt.group === '') defaultPod(obj);
  if (rt.plural === 'events' && rt.group === '') {
    for (const f of ['firstTimestamp', 'lastTimestamp']) if (obj[f] !== undefined && obj[f] !== null) obj[f] = normalizeTime(obj[f]);
  }
  if (rt.plural === 'deployments' && rt.group === 'apps' && obj.spec?.template) {
    obj.spec.replicas ??= 1;
    obj.spec.template.spec ??= {};
    defaultPod(obj.spec.template);
  }
  if (rt.schema) {
    // ObjectMeta is never pruned by the CRD schema (it declares metadata as a bare object).
    const { apiVersion, kind, metadata } = obj;
    delete obj.metadata;
    const pruned = pruneAndDefault(obj, rt.schema);
    Object.assign(obj, { apiVersion, kind, metadata });
    return pruned;
  }
  if (rt.builtin && rt.fields) {
    const known = new Set(['apiVersion', 'kind', 'metadata', ...rt.fields]);
    const unknown = Object.keys(obj).filter((k) => !known.has(k));
    for (const k of unknown) delete obj[k];
    return unknown;
  }
  return [];
}

const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
const showValue = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

/** ajv's errors as the API server's field errors (kube-openapi validation messages, field paths like spec.jobs[0].name). */
function schemaCauses(errors: ErrorObject[], obj: Obj): Cause[] {
  const causes: Cause[] = [];
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    const segments: (string | number)[] = [];
    let cur: unknown = obj;
    for (const raw of e.instancePath.split('/').slice(1)) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      const seg = Array.isArray(cur) ? Number(key) : key;
      segments.push(seg);
      cur = cur !== null && typeof cur === 'object' ? (cur as Obj)[seg as string] : undefined;
    }
    const field = fieldPathString(segments) || '<root>';
    const p = e.params as Obj;
    switch (e.keyword) {
      case 'required':
        causes.push({ field: fieldPathString([...segments, p.missingProperty]), message: 'Required value', reason: 'FieldValueRequired' });
        break;
      case 'type':
        causes.push({ field, message: `Invalid value: "${jsonType(cur)}": ${field} in body must be of type ${p.type}: "${jsonType(cur)}"`, reason: 'FieldValueTypeInvalid' });
        break;
      case 'enum':
        causes.push({ field, message: `Unsupported value: ${showValue(cur)}: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`, reason: 'FieldValueNotSupported' });
        break;
      case 'maxLength':
        causes.push({ field, message: `Too long: may not be more than ${p.limit} bytes`, reason: 'FieldValueTooLong' });
        break;
      case 'maxItems':
        causes.push({ field, message: `Too many: ${Array.isArray(cur) ? cur.length : -1}: must have at most ${p.limit} items`, reason: 'FieldValueTooMany' });
        break;
      default: {
        const detail: Record<string, string> = {
          minLength: `should be at least ${p.limit} chars long`, minimum: `should be greater than or equal to ${p.limit}`,
          maximum: `should be less than or equal to ${p.limit}`, exclusiveMinimum: `should be greater than ${p.limit}`,
          exclusiveMaximum: `should be less than ${p.limit}`, pattern: `should match '${p.pattern}'`, minItems: `should have at least ${p.limit} items`,
          multipleOf: `should be a multiple of ${p.multipleOf}`, uniqueItems: "shouldn't contain duplicates", minProperties: `should have at least ${p.limit} properties`,
        };
        causes.push({ field, message: `Invalid value: ${showValue(cur)}: ${field} in body ${detail[e.keyword] ?? e.message ?? 'is invalid'}`, reason: 'FieldValueInvalid' });
      }
    }
  }
  return causes;
}

/** Throws 422 Invalid (or 400 for undecodable fields) when the real server would refuse `obj`. */
export function validateObject(rt: ResourceType, obj: Obj, old?: Obj): void {
  const causes: Cause[] = [];
  validateMetadata(obj, causes);
  if (rt.group === '' && rt.plural === 'pods') {
    validatePodSpec(obj.spec, causes);
    if (old && JSON.stringify(mutablePodView(old.spec)) !== JSON.stringify(mutablePodView(obj.spec))) {
      causes.push({ field: 'spec', message: 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds`' });
    }
  }
  validateDeployKinds(rt, obj, causes);
  if (rt.group === '' && rt.plural === 'events') {
    checkMicroTimes(obj, ['eventTime', 'series.lastObservedTime']);
    validateEvent(obj, causes);
  }
  if (rt.group === 'events.k8s.io') {
    checkMicroTimes(obj, ['eventTime', 'series.lastObservedTime']);
    validateNewEvent(obj, causes);
  }
  if (rt.group === 'coordination.k8s.io' && rt.plural === 'leases') {
    checkMicroTimes(obj, ['spec.acquireTime', 'spec.renewTime']);
    const d = obj.spec?.leaseDurationSeconds;
    if (d !== undefined && !(Number.isInteger(d) && d > 0)) causes.push({ field: 'spec.leaseDurationSeconds', message: 'Invalid value: must be greater than 0' });
  }
  if (rt.schema) {
    const validate = validatorFor(rt.schema);
    if (!validate(obj)) causes.push(...schemaCauses(validate.errors ?? [], obj));
  }
  if (causes.length > 0) throw invalid(rt.kind, String(obj.metadata?.name ?? ''), rt.group, causes);
}
