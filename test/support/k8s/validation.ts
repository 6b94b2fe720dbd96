/**
 * The API server's defaulting and validation for what the fake serves: object metadata (names,
 * labels, owner references), pods (containers, resources, immutability), core events, lease
 * MicroTimes, and CRD schemas (pruning unknown fields, defaults, then validation with ajv).
 * Strict on purpose: a manifest the real server would reject must be rejected here too.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { parseQuantity } from '../../../src/runners/k8s/quantity.js';
import { ApiError, invalid } from './errors.js';
import type { ResourceType } from './resources.js';

export type Obj = Record<string, any>;
type Cause = { field: string; message: string };

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

function validatePodSpec(spec: Obj | undefined, causes: Cause[]): void {
  if (!spec) { causes.push({ field: 'spec', message: 'Required value' }); return; }
  if (!['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy)) {
    causes.push({ field: 'spec.restartPolicy', message: `Unsupported value: ${JSON.stringify(spec.restartPolicy)}: supported values: "Always", "OnFailure", "Never"` });
  }
  if (spec.nodeName !== undefined && (typeof spec.nodeName !== 'string' || !SUBDOMAIN.test(spec.nodeName))) {
    causes.push({ field: 'spec.nodeName', message: `Invalid value: ${JSON.stringify(spec.nodeName)}` });
  }
  if (spec.activeDeadlineSeconds !== undefined && !(Number.isInteger(spec.activeDeadlineSeconds) && spec.activeDeadlineSeconds > 0)) {
    causes.push({ field: 'spec.activeDeadlineSeconds', message: 'Invalid value: must be between 1 and 2147483647, inclusive' });
  }
  const containers: Obj[] = spec.containers ?? [];
  if (containers.length === 0) causes.push({ field: 'spec.containers', message: 'Required value' });
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const p = `spec.containers[${i}]`;
    if (typeof c.name !== 'string' || !DNS_LABEL.test(c.name)) causes.push({ field: `${p}.name`, message: `Invalid value: ${JSON.stringify(c.name)}` });
    if (names.has(c.name)) causes.push({ field: `${p}.name`, message: `Duplicate value: ${JSON.stringify(c.name)}` });
    names.add(c.name);
    if (!c.image || typeof c.image !== 'string') causes.push({ field: `${p}.image`, message: 'Required value' });
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

/** Structural-schema pruning and defaulting, as the API server does for custom resources. */
export function pruneAndDefault(value: unknown, schema: Obj | undefined): unknown {
  if (!schema || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => pruneAndDefault(v, schema.items));
  const obj = value as Obj;
  const props: Obj | undefined = schema.properties;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const additional = schema.additionalProperties;
  for (const key of Object.keys(obj)) {
    if (props && key in props) obj[key] = pruneAndDefault(obj[key], props[key]);
    else if (additional && typeof additional === 'object') obj[key] = pruneAndDefault(obj[key], additional);
    else if (!preserve && additional !== true) delete obj[key];
  }
  for (const [key, sub] of Object.entries(props ?? {})) {
    if (obj[key] === undefined && (sub as Obj).default !== undefined) obj[key] = structuredClone((sub as Obj).default);
  }
  return obj;
}

/** Applies defaulting and pruning for a new or changed object (mutates it). */
export function defaultObject(rt: ResourceType, obj: Obj): void {
  if (rt.plural === 'pods' && rt.group === '') defaultPod(obj);
  if (rt.schema) {
    // ObjectMeta is never pruned by the CRD schema (it declares metadata as a bare object).
    const { apiVersion, kind, metadata } = obj;
    delete obj.metadata;
    pruneAndDefault(obj, rt.schema);
    Object.assign(obj, { apiVersion, kind, metadata });
  }
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
    if (!validate(obj)) {
      for (const e of validate.errors ?? []) {
        causes.push({ field: e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '<root>', message: `Invalid value: ${e.message ?? 'invalid'}` });
      }
    }
  }
  if (causes.length > 0) throw invalid(rt.kind, String(obj.metadata?.name ?? ''), rt.group, causes);
}
