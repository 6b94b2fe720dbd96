/**
 * The fake API server's OpenAPI documents, shaped as kube-apiserver 1.32 publishes them:
 *   /openapi/v2                      one Swagger 2.0 document (JSON, or gnostic protobuf: openapi-proto.ts)
 *   /openapi/v3                      the index: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}}}
 *   /openapi/v3/apis/GROUP/VERSION   one OpenAPI 3.0 document per group-version
 * kubectl reads them for client-side validation (v2), `kubectl explain` (v3, or v2 with
 * `-o plaintext-openapiv2`), for whether the server validates fields itself (the `fieldValidation`
 * parameter on a PATCH operation carrying `x-kubernetes-group-version-kind`) and for which patch
 * types a kind accepts (the PATCH request body's content types).
 *
 * A CRD's schema is published as the real server does (apiextensions-apiserver's builder):
 * `metadata` becomes a reference to ObjectMeta, apiVersion / kind get their descriptions, and
 * the v2 copy is made "v2-safe" (no nullable, no oneOf/anyOf/allOf/not, no properties under
 * x-kubernetes-preserve-unknown-fields). Built-in kinds get a compact schema: their top-level
 * fields as open objects (kubectl validates nothing inside them, the fake's own validation does).
 * Deliberate differences: built-in PATCH operations do not list strategic-merge-patch, and the
 * v2 document has no definitions of built-in kinds (only of CRDs and meta/v1), so kubectl builds
 * strategic merge patches from its compiled-in types (exact patch metadata) instead of from these
 * compact schemas; `kubectl explain` of built-in kinds works with the v3 renderer only.
 */
import { createHash } from 'node:crypto';
import type { ResourceType } from './resources.js';

type Json = Record<string, any>;

export const SERVER_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-torc-fake' };

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

const DESCRIPTIONS = {
  apiVersion: 'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
  kind: 'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
  metadata: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
  listMetadata: 'Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
};

/** Shared meta/v1 definitions (compact, with the fields kubectl and users look at). */
function metaDefinitions(ref: (name: string) => Json): Record<string, Json> {
  const str = (description: string) => ({ type: 'string', description });
  const time = (description: string) => ({ ...ref(`${META}.Time`), description });
  return {
    [`${META}.Time`]: { type: 'string', format: 'date-time', description: 'Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.' },
    [`${META}.FieldsV1`]: { type: 'object', description: 'FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.' },
    [`${META}.ManagedFieldsEntry`]: {
      type: 'object', description: 'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.',
      properties: {
        apiVersion: str('APIVersion defines the version of this resource that this field set applies to.'),
        fieldsType: str('FieldsType is the discriminator for the different fields format and version. There is currently only one possible value: "FieldsV1"'),
        fieldsV1: { ...ref(`${META}.FieldsV1`), description: 'FieldsV1 holds the first JSON version format as described in the "FieldsV1" type.' },
        manager: str('Manager is an identifier of the workflow managing these fields.'),
        operation: str("Operation is the type of operation which lead to this ManagedFieldsEntry being created. The only valid values for this field are 'Apply' and 'Update'."),
        subresource: str('Subresource is the name of the subresource used to update that object, or empty string if the object was updated through the main resource.'),
        time: time('Time is the timestamp of when the ManagedFields entry was added.'),
      },
    },
    [`${META}.OwnerReference`]: {
      type: 'object', required: ['apiVersion', 'kind', 'name', 'uid'], 'x-kubernetes-map-type': 'atomic',
      description: 'OwnerReference contains enough information to let you identify an owning object.',
      properties: {
        apiVersion: str('API version of the referent.'), kind: str('Kind of the referent.'), name: str('Name of the referent.'), uid: str('UID of the referent.'),
        blockOwnerDeletion: { type: 'boolean', description: 'If true, AND if the owner has the "foregroundDeletion" finalizer, then the owner cannot be deleted from the key-value store until this reference is removed.' },
        controller: { type: 'boolean', description: 'If true, this reference points to the managing controller.' },
      },
    },
    [`${META}.ObjectMeta`]: {
      type: 'object', description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
      properties: {
        annotations: { type: 'object', additionalProperties: { type: 'string', default: '' }, description: 'Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.' },
        creationTimestamp: time('CreationTimestamp is a timestamp representing the server time when this object was created. Populated by the system. Read-only.'),
        deletionGracePeriodSeconds: { type: 'integer', format: 'int64', description: 'Number of seconds allowed for this object to gracefully terminate before it will be removed from the system. Only set when deletionTimestamp is also set.' },
        deletionTimestamp: time('DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. Set by the server when a graceful deletion is requested by the user. Read-only.'),
        finalizers: { type: 'array', items: { type: 'string', default: '' }, 'x-kubernetes-list-type': 'set', 'x-kubernetes-patch-strategy': 'merge', description: 'Must be empty before the object is deleted from the registry. Each entry is an identifier for the responsible component that will remove the entry from the list.' },
        generateName: str('GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.'),
        generation: { type: 'integer', format: 'int64', description: 'A sequence number representing a specific generation of the desired state. Populated by the system. Read-only.' },
        labels: { type: 'object', additionalProperties: { type: 'string', default: '' }, description: 'Map of string keys and values that can be used to organize and categorize (scope and select) objects.' },
        managedFields: { type: 'array', items: { ...ref(`${META}.ManagedFieldsEntry`), default: {} }, 'x-kubernetes-list-type': 'atomic', description: 'ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow.' },
        name: str('Name must be unique within a namespace. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names'),
        namespace: str('Namespace defines the space within which each name must be unique. Cannot be updated.'),
        ownerReferences: {
          type: 'array', items: { ...ref(`${META}.OwnerReference`), default: {} }, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['uid'],
          'x-kubernetes-patch-merge-key': 'uid', 'x-kubernetes-patch-strategy': 'merge', description: 'List of objects depended by this object.',
        },
        resourceVersion: str('An opaque value that represents the internal version of this object. Populated by the system. Read-only.'),
        uid: str('UID is the unique in time and space value for this object. Populated by the system. Read-only.'),
      },
    },
    [`${META}.ListMeta`]: {
      type: 'object', description: 'ListMeta describes metadata that synthetic resources must have, including lists and various status objects.',
      properties: { continue: str('continue may be set if the user set a limit on the number of items returned.'), resourceVersion: str('String that identifies the server\'s internal version of this object.'), remainingItemCount: { type: 'integer', format: 'int64' } },
    },
    [`${META}.Status`]: {
      type: 'object', description: 'Status is a return value for calls that don\'t return other objects.',
      properties: { apiVersion: str(DESCRIPTIONS.apiVersion), kind: str(DESCRIPTIONS.kind), code: { type: 'integer', format: 'int32' }, message: str('A human-readable description of the status of this operation.'), reason: str('A machine-readable description of why this operation is in the "Failure" status.'), status: str('Status of the operation. One of: "Success" or "Failure".') },
    },
    [`${META}.Patch`]: { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' },
    [`${META}.DeleteOptions`]: {
      type: 'object', description: 'DeleteOptions may be provided when deleting an API object.',
      properties: {
        apiVersion: str(DESCRIPTIONS.apiVersion), kind: str(DESCRIPTIONS.kind),
        dryRun: { type: 'array', items: { type: 'string', default: '' }, 'x-kubernetes-list-type': 'atomic' },
        gracePeriodSeconds: { type: 'integer', format: 'int64' }, propagationPolicy: { type: 'string' },
      },
    },
  };
}

/** io.k8s.api.core.v1.Pod, io.k8s.api.apps.v1.Deployment, dev.torc.v1alpha1.Workflow, … */
export function definitionName(rt: Pick<ResourceType, 'group' | 'version' | 'builtin'>, kind: string): string {
  if (rt.group === 'apiextensions.k8s.io') return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${rt.version}.${kind}`;
  if (rt.builtin) return `io.k8s.api.${rt.group ? rt.group.split('.')[0] : 'core'}.${rt.version}.${kind}`;
  return `${rt.group.split('.').reverse().join('.')}.${rt.version}.${kind}`;
}

const listKindOf = (rt: ResourceType) => rt.listKind ?? `${rt.kind}List`;
const gvk = (rt: ResourceType, kind = rt.kind) => ({ group: rt.group, kind, version: rt.version });

/** A CRD's structural schema made v2-safe, as apiextensions-apiserver's ToStructuralOpenAPIV2 does. */
function toV2(schema: Json): Json {
  const s: Json = { ...schema };
  for (const k of ['oneOf', 'anyOf', 'allOf', 'not']) delete s[k];
  if (s.nullable) {
    delete s.type;
    delete s.items;
    delete s.properties;
  }
  delete s.nullable;
  if (s['x-kubernetes-preserve-unknown-fields']) {
    delete s.items;
    delete s.properties;
    if (s.type === 'object') delete s.type;
  }
  if (s.type === 'array' && !s.items) delete s.type;
  if (s.properties) {
    s.properties = Object.fromEntries(Object.entries(s.properties as Json).map(([k, v]) => [k, toV2(v as Json)]));
    const nullable = Object.entries(schema.properties as Json).filter(([, v]) => (v as Json).nullable).map(([k]) => k);
    if (s.required && nullable.length) s.required = (s.required as string[]).filter((r) => !nullable.includes(r));
    if (s.required?.length === 0) delete s.required;
  }
  if (s.items && typeof s.items === 'object') s.items = toV2(s.items);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') s.additionalProperties = toV2(s.additionalProperties);
  return s;
}

function kindSchema(rt: ResourceType, v2: boolean): Json {
  const ref = (name: string) => ({ $ref: `${v2 ? '#/definitions/' : '#/components/schemas/'}${name}` });
  const metaRef = v2 ? { ...ref(`${META}.ObjectMeta`), description: DESCRIPTIONS.metadata } : { allOf: [ref(`${META}.ObjectMeta`)], default: {}, description: DESCRIPTIONS.metadata };
  let schema: Json;
  if (rt.schema) {
    schema = structuredClone(rt.schema) as Json;
    if (v2) schema = schema['x-kubernetes-preserve-unknown-fields'] ? { type: 'object' } : toV2(schema);
  } else {
    const open = (name: string): Json => (v2 ? { description: `${rt.kind} ${name}.` } : { description: `${rt.kind} ${name}.`, 'x-kubernetes-preserve-unknown-fields': true });
    schema = { type: 'object', description: `${rt.kind} (compact schema of the torc test cluster).`, properties: Object.fromEntries((rt.fields ?? ['spec', 'status']).map((f) => [f, open(f)])) };
  }
  schema.properties = {
    ...(schema.properties ?? {}),
    apiVersion: { type: 'string', description: DESCRIPTIONS.apiVersion },
    kind: { type: 'string', description: DESCRIPTIONS.kind },
    metadata: metaRef,
  };
  schema['x-kubernetes-group-version-kind'] = [gvk(rt)];
  return schema;
}

function listSchema(rt: ResourceType, v2: boolean): Json {
  const ref = (name: string) => ({ $ref: `${v2 ? '#/definitions/' : '#/components/schemas/'}${name}` });
  return {
    type: 'object', required: ['items'], description: `${listKindOf(rt)} is a list of ${rt.kind}`,
    properties: {
      apiVersion: { type: 'string', description: DESCRIPTIONS.apiVersion },
      items: { type: 'array', description: `List of ${rt.plural}.`, items: ref(definitionName(rt, rt.kind)) },
      kind: { type: 'string', description: DESCRIPTIONS.kind },
      metadata: v2 ? { ...ref(`${META}.ListMeta`), description: DESCRIPTIONS.listMetadata } : { allOf: [ref(`${META}.ListMeta`)], default: {}, description: DESCRIPTIONS.listMetadata },
    },
    'x-kubernetes-group-version-kind': [gvk(rt, listKindOf(rt))],
  };
}

interface Param { name: string; in: 'query' | 'path' | 'body'; type: 'string' | 'boolean' | 'integer'; description: string; required?: boolean }

const QUERY: Record<string, Param> = {
  pretty: { name: 'pretty', in: 'query', type: 'string', description: "If 'true', then the output is pretty printed." },
  dryRun: { name: 'dryRun', in: 'query', type: 'string', description: 'When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed' },
  fieldManager: { name: 'fieldManager', in: 'query', type: 'string', description: 'fieldManager is a name associated with the actor or entity that is making these changes.' },
  fieldValidation: { name: 'fieldValidation', in: 'query', type: 'string', description: 'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict' },
  force: { name: 'force', in: 'query', type: 'boolean', description: 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people.' },
  labelSelector: { name: 'labelSelector', in: 'query', type: 'string', description: 'A selector to restrict the list of returned objects by their labels. Defaults to everything.' },
  fieldSelector: { name: 'fieldSelector', in: 'query', type: 'string', description: 'A selector to restrict the list of returned objects by their fields. Defaults to everything.' },
  limit: { name: 'limit', in: 'query', type: 'integer', description: 'limit is a maximum number of responses to return for a list call.' },
  continue: { name: 'continue', in: 'query', type: 'string', description: 'The continue option should be set when retrieving more results from the server.' },
  resourceVersion: { name: 'resourceVersion', in: 'query', type: 'string', description: 'resourceVersion sets a constraint on what resource versions a request may be served from.' },
  timeoutSeconds: { name: 'timeoutSeconds', in: 'query', type: 'integer', description: 'Timeout for the list/watch call.' },
  watch: { name: 'watch', in: 'query', type: 'boolean', description: 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.' },
  allowWatchBookmarks: { name: 'allowWatchBookmarks', in: 'query', type: 'boolean', description: 'allowWatchBookmarks requests watch events with type "BOOKMARK".' },
  gracePeriodSeconds: { name: 'gracePeriodSeconds', in: 'query', type: 'integer', description: 'The duration in seconds before the object should be deleted.' },
  propagationPolicy: { name: 'propagationPolicy', in: 'query', type: 'string', description: "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'." },
  container: { name: 'container', in: 'query', type: 'string', description: 'The container for which to stream logs.' },
  follow: { name: 'follow', in: 'query', type: 'boolean', description: 'Follow the log stream of the pod.' },
  tailLines: { name: 'tailLines', in: 'query', type: 'integer', description: 'If set, the number of lines from the end of the logs to show.' },
};
const LIST_PARAMS = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'timeoutSeconds', 'watch'];
const PARAMS_BY_ACTION: Record<string, string[]> = {
  get: [], list: LIST_PARAMS, post: ['dryRun', 'fieldManager', 'fieldValidation'], put: ['dryRun', 'fieldManager', 'fieldValidation'],
  patch: ['dryRun', 'fieldManager', 'fieldValidation', 'force'], delete: ['dryRun', 'gracePeriodSeconds', 'propagationPolicy'],
  deletecollection: ['dryRun', 'gracePeriodSeconds', 'propagationPolicy', ...LIST_PARAMS], log: ['container', 'follow', 'tailLines'],
};

interface Operation {
  method: 'get' | 'put' | 'post' | 'delete' | 'patch';
  action: string;
  operationId: string;
  description: string;
  /** Definition the operation returns; null for plain text. */
  returns: string | null;
  /** Request body definition (post / put / patch). */
  body?: string;
  consumes?: string[];
}

interface PathSpec {
  path: string;
  rt: ResourceType;
  pathParams: Param[];
  operations: Operation[];
}

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** "coreV1", "appsV1", "torcDevV1alpha1": the prefix of real operation ids. */
function gvTag(rt: ResourceType): string {
  const group = rt.group ? rt.group.replace(/\.k8s\.io$/, '').split(/[.-]/).map((p, i) => (i === 0 ? p : upperFirst(p))).join('') : 'core';
  return `${group}${upperFirst(rt.version)}`;
}

function pathsFor(rt: ResourceType): PathSpec[] {
  const prefix = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  const scoped = rt.namespaced ? `${prefix}/namespaces/{namespace}/${rt.plural}` : `${prefix}/${rt.plural}`;
  const ns = rt.namespaced ? 'Namespaced' : '';
  const kindDef = definitionName(rt, rt.kind);
  const listDef = definitionName(rt, listKindOf(rt));
  const status = `${META}.Status`;
  const tag = gvTag(rt);
  const op = (method: Operation['method'], action: string, verb: string, suffix: string, returns: string | null, description: string, body?: string): Operation => ({
    method, action, operationId: `${verb}${upperFirst(tag)}${ns}${rt.kind}${suffix}`, description, returns, ...(body ? { body } : {}),
    ...(method === 'patch' ? { consumes: ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'] } : {}),
  });
  const nsParam: Param[] = rt.namespaced ? [{ name: 'namespace', in: 'path', type: 'string', required: true, description: 'object name and auth scope, such as for teams and projects' }] : [];
  const nameParam: Param = { name: 'name', in: 'path', type: 'string', required: true, description: `name of the ${rt.kind}` };
  const out: PathSpec[] = [
    {
      path: scoped, rt, pathParams: nsParam,
      operations: [
        op('get', 'list', 'list', '', listDef, `list or watch objects of kind ${rt.kind}`),
        op('post', 'post', 'create', '', kindDef, `create a ${rt.kind}`, kindDef),
        op('delete', 'deletecollection', 'deleteCollection', '', status, `delete collection of ${rt.kind}`),
      ],
    },
    {
      path: `${scoped}/{name}`, rt, pathParams: [nameParam, ...nsParam],
      operations: [
        op('get', 'get', 'read', '', kindDef, `read the specified ${rt.kind}`),
        op('put', 'put', 'replace', '', kindDef, `replace the specified ${rt.kind}`, kindDef),
        op('patch', 'patch', 'patch', '', kindDef, `partially update the specified ${rt.kind}`, `${META}.Patch`),
        op('delete', 'delete', 'delete', '', status, `delete a ${rt.kind}`, `${META}.DeleteOptions`),
      ],
    },
  ];
  if (rt.namespaced) {
    out.push({ path: `${prefix}/${rt.plural}`, rt, pathParams: [], operations: [{ ...op('get', 'list', 'list', 'ForAllNamespaces', listDef, `list or watch objects of kind ${rt.kind}`), operationId: `list${upperFirst(tag)}${rt.kind}ForAllNamespaces` }] });
  }
  for (const sub of rt.subresources) {
    const S = upperFirst(sub);
    if (sub === 'log') {
      out.push({ path: `${scoped}/{name}/log`, rt, pathParams: [nameParam, ...nsParam], operations: [op('get', 'log', 'read', 'Log', null, `read log of the specified ${rt.kind}`)] });
      continue;
    }
    out.push({
      path: `${scoped}/{name}/${sub}`, rt, pathParams: [nameParam, ...nsParam],
      operations: [
        op('get', 'get', 'read', S, kindDef, `read ${sub} of the specified ${rt.kind}`),
        op('put', 'put', 'replace', S, kindDef, `replace ${sub} of the specified ${rt.kind}`, kindDef),
        op('patch', 'patch', 'patch', S, kindDef, `partially update ${sub} of the specified ${rt.kind}`, `${META}.Patch`),
      ],
    });
  }
  return out;
}

function queryParams(action: string): Param[] {
  return ['pretty', ...(PARAMS_BY_ACTION[action] ?? [])].map((n) => QUERY[n]!).filter(Boolean);
}

function definitionsFor(types: ResourceType[], v2: boolean): Record<string, Json> {
  const ref = (name: string) => ({ $ref: `${v2 ? '#/definitions/' : '#/components/schemas/'}${name}` });
  const defs: Record<string, Json> = { ...metaDefinitions(ref) };
  for (const rt of types) {
    // Built-in kinds have only a compact schema here: v2 leaves them out, so that kubectl
    // (≤ 1.26 reads v2 for strategic merge patches and validation) uses its compiled-in types.
    if (v2 && rt.builtin) continue;
    defs[definitionName(rt, rt.kind)] = kindSchema(rt, v2);
    defs[definitionName(rt, listKindOf(rt))] = listSchema(rt, v2);
  }
  return defs;
}

/** The Swagger 2.0 document of everything served (what GET /openapi/v2 returns). */
export function openApiV2(types: ResourceType[]): Json {
  const paths: Json = {};
  for (const p of types.flatMap(pathsFor)) {
    const item: Json = { parameters: [...p.pathParams.map((x) => ({ uniqueItems: true, type: x.type, description: x.description, name: x.name, in: x.in, required: true })), { uniqueItems: true, type: 'string', description: QUERY.pretty!.description, name: 'pretty', in: 'query' }] };
    for (const o of p.operations) {
      const parameters: Json[] = queryParams(o.action).filter((q) => q.name !== 'pretty').map((q) => ({ uniqueItems: true, type: q.type, description: q.description, name: q.name, in: 'query' }));
      if (o.body) parameters.unshift({ name: 'body', in: 'body', ...(o.method === 'delete' ? {} : { required: true }), schema: { $ref: `#/definitions/${o.body}` } });
      item[o.method] = {
        description: o.description, consumes: o.consumes ?? ['*/*'],
        produces: o.returns ? ['application/json', 'application/yaml'] : ['text/plain', 'application/json'],
        schemes: ['https'], tags: [gvTag(p.rt)], operationId: o.operationId, parameters,
        responses: { 200: { description: 'OK', schema: o.returns ? { $ref: `#/definitions/${o.returns}` } : { type: 'string' } }, 401: { description: 'Unauthorized' } },
        'x-kubernetes-action': o.action, 'x-kubernetes-group-version-kind': gvk(p.rt),
      };
    }
    paths[p.path] = item;
  }
  return {
    swagger: '2.0', info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion }, paths,
    definitions: definitionsFor(types, true),
    securityDefinitions: { BearerToken: { description: 'Bearer Token authentication', type: 'apiKey', name: 'authorization', in: 'header' } },
    security: [{ BearerToken: [] }],
  };
}

/** "api/v1", "apis/torc.dev/v1alpha1": the keys of the v3 index. */
export const gvPath = (rt: Pick<ResourceType, 'group' | 'version'>) => (rt.group ? `apis/${rt.group}/${rt.version}` : `api/${rt.version}`);

/** The OpenAPI 3.0 document of one group-version, or undefined when nothing is served there. */
export function openApiV3(types: ResourceType[], path: string): Json | undefined {
  const here = types.filter((t) => gvPath(t) === path);
  if (here.length === 0) return undefined;
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const paths: Json = {};
  for (const p of here.flatMap(pathsFor)) {
    const item: Json = {
      parameters: [...p.pathParams.map((x) => ({ name: x.name, in: x.in, description: x.description, required: true, schema: { type: x.type, uniqueItems: true } })), { name: 'pretty', in: 'query', description: QUERY.pretty!.description, schema: { type: 'string', uniqueItems: true } }],
    };
    for (const o of p.operations) {
      const json = o.returns ? { schema: ref(o.returns) } : { schema: { type: 'string' } };
      item[o.method] = {
        tags: [gvTag(p.rt)], description: o.description, operationId: o.operationId,
        parameters: queryParams(o.action).filter((q) => q.name !== 'pretty').map((q) => ({ name: q.name, in: 'query', description: q.description, schema: { type: q.type, uniqueItems: true } })),
        ...(o.body ? { requestBody: { content: Object.fromEntries((o.consumes ?? ['*/*']).map((c) => [c, { schema: ref(o.body!) }])), ...(o.method === 'delete' ? {} : { required: true }) } } : {}),
        responses: { 200: { description: 'OK', content: o.returns ? { 'application/json': json, 'application/yaml': json } : { 'text/plain': json } }, 401: { description: 'Unauthorized' } },
        'x-kubernetes-action': o.action, 'x-kubernetes-group-version-kind': gvk(p.rt),
      };
    }
    paths[`${p.path}`] = item;
  }
  return {
    openapi: '3.0.0', info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion }, paths,
    components: {
      schemas: definitionsFor(here, false),
      securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } },
    },
  };
}

export const documentHash = (doc: unknown) => createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();

/** GET /openapi/v3: every group-version with the URL (hash included) of its document. */
export function openApiV3Index(types: ResourceType[]): Json {
  const paths: Json = {};
  for (const p of [...new Set(types.map(gvPath))].sort()) {
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${documentHash(openApiV3(types, p))}` };
  }
  return { paths };
}

