/**
 * The resource types the fake API server serves, with what discovery, routing and RBAC need
 * to know about each. Built-in types follow the real API; the torc Workflow CRD is built in too
 * (loadCrd can replace it from crds/workflow.yaml to also get its schema for validation).
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

export interface ResourceType {
  group: string;
  version: string;
  /** URL / RBAC name: pods, workflows. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  /** Subresources served: status, log, finalizers (RBAC only). */
  subresources: string[];
  /** Built-in types omit kind/apiVersion on list items, as the real API server does. */
  builtin: boolean;
  shortNames?: string[];
  /** Field selectors the API server accepts besides metadata.name / metadata.namespace. */
  fieldSelectors?: string[];
  /** openAPIV3Schema of a CRD version, for validation and pruning. */
  schema?: Record<string, unknown>;
  /** Kind of the list type (default `${kind}List`). */
  listKind?: string;
  /** Discovery categories (`kubectl get all` uses "all"). */
  categories?: string[];
  /** A CRD version's additionalPrinterColumns (Table responses). */
  printerColumns?: PrinterColumn[];
  /** Built-in types: the top-level fields besides apiVersion / kind / metadata (OpenAPI, strict field validation). */
  fields?: string[];
  /** A second API of the same objects (events.k8s.io/v1 Event shows core/v1 Events). */
  viewOf?: { group: string; version: string; plural: string };
}

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

export const apiVersionOf = (rt: Pick<ResourceType, 'group' | 'version'>): string =>
  (rt.group ? `${rt.group}/${rt.version}` : rt.version);

/** "pods", "workflows.torc.dev": how RBAC and error messages name a resource. */
export const qualifiedName = (rt: Pick<ResourceType, 'group' | 'plural'>): string =>
  (rt.group ? `${rt.plural}.${rt.group}` : rt.plural);

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const core = (plural: string, kind: string, namespaced: boolean, extra: Partial<ResourceType>): ResourceType => ({
  group: '', version: 'v1', plural, singular: kind.toLowerCase(), kind, namespaced, subresources: [], builtin: true, ...extra,
});

export const BUILTIN_RESOURCES: ResourceType[] = [
  core('pods', 'Pod', true, {
    subresources: ['status', 'log'], shortNames: ['po'], categories: ['all'], fields: ['spec', 'status'],
    fieldSelectors: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  }),
  core('nodes', 'Node', false, { subresources: ['status'], shortNames: ['no'], fieldSelectors: ['spec.unschedulable'], fields: ['spec', 'status'] }),
  core('namespaces', 'Namespace', false, { subresources: ['status'], shortNames: ['ns'], fieldSelectors: ['status.phase'], fields: ['spec', 'status'] }),
  core('events', 'Event', true, {
    shortNames: ['ev'],
    fieldSelectors: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
      'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
    fields: ['action', 'count', 'eventTime', 'firstTimestamp', 'involvedObject', 'lastTimestamp', 'message', 'reason', 'related',
      'reportingComponent', 'reportingInstance', 'series', 'source', 'type'],
  }),
  core('persistentvolumeclaims', 'PersistentVolumeClaim', true, { subresources: ['status'], shortNames: ['pvc'], fields: ['spec', 'status'] }),
  core('serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'], fields: ['automountServiceAccountToken', 'imagePullSecrets', 'secrets'] }),
  core('services', 'Service', true, { subresources: ['status'], shortNames: ['svc'], categories: ['all'], fields: ['spec', 'status'] }),
  {
    group: 'events.k8s.io', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true,
    subresources: [], builtin: true, shortNames: ['ev'], viewOf: { group: '', version: 'v1', plural: 'events' },
    fieldSelectors: ['regarding.kind', 'regarding.namespace', 'regarding.name', 'regarding.uid', 'reason', 'reportingController', 'type'],
    fields: ['action', 'deprecatedCount', 'deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedSource', 'eventTime', 'note',
      'reason', 'regarding', 'related', 'reportingController', 'reportingInstance', 'series', 'type'],
  },
  {
    group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true,
    subresources: [], builtin: true, fields: ['spec'],
  },
  {
    group: 'apps', version: 'v1', plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true,
    subresources: ['status'], builtin: true, shortNames: ['deploy'], categories: ['all'], fields: ['spec', 'status'],
  },
  ...([['clusterroles', 'ClusterRole', false, ['aggregationRule', 'rules']], ['clusterrolebindings', 'ClusterRoleBinding', false, ['roleRef', 'subjects']],
    ['roles', 'Role', true, ['rules']], ['rolebindings', 'RoleBinding', true, ['roleRef', 'subjects']]] as const).map(([plural, kind, namespaced, fields]) => ({
    group: 'rbac.authorization.k8s.io', version: 'v1', plural, singular: kind.toLowerCase(), kind, namespaced,
    subresources: [], builtin: true, fields: [...fields],
  })),
  {
    group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', singular: 'customresourcedefinition',
    kind: 'CustomResourceDefinition', namespaced: false, subresources: ['status'], builtin: true, shortNames: ['crd', 'crds'],
    categories: ['api-extensions'], fields: ['spec', 'status'],
  },
  {
    group: 'torc.dev', version: 'v1alpha1', plural: 'workflows', singular: 'workflow', kind: 'Workflow', namespaced: true,
    subresources: ['status'], builtin: false, shortNames: ['twf'],
  },
];

/** Discovery entries (APIResourceList.resources) for one group/version. */
export function discoveryResources(types: ResourceType[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const rt of types) {
    out.push({
      name: rt.plural, singularName: rt.singular, namespaced: rt.namespaced, kind: rt.kind, verbs: VERBS,
      ...(rt.shortNames ? { shortNames: rt.shortNames } : {}),
      ...(rt.categories ? { categories: rt.categories } : {}),
    });
    for (const sub of rt.subresources) {
      out.push({
        name: `${rt.plural}/${sub}`, singularName: '', namespaced: rt.namespaced, kind: sub === 'log' ? 'Pod' : rt.kind,
        verbs: sub === 'log' ? ['get'] : ['get', 'patch', 'update'],
      });
    }
  }
  return out;
}

/**
 * Reads a CustomResourceDefinition file (several documents allowed) into resource types, with
 * the served version's schema and subresources.
 */
export function loadCrd(path: string): ResourceType[] {
  const docs = YAML.parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS() as Record<string, any>);
  return docs.filter((d) => d?.kind === 'CustomResourceDefinition').flatMap(crdTypes);
}

/** The resource types a CustomResourceDefinition object declares (its served versions). */
export function crdTypes(crd: Record<string, any>): ResourceType[] {
  const spec = crd.spec;
  const out: ResourceType[] = [];
  for (const v of spec.versions ?? []) {
    if (v.served === false) continue;
    out.push({
      group: spec.group, version: v.name, plural: spec.names.plural, singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
      kind: spec.names.kind, namespaced: spec.scope !== 'Cluster',
      subresources: v.subresources?.status !== undefined ? ['status'] : [],
      builtin: false, shortNames: spec.names.shortNames, listKind: spec.names.listKind, categories: spec.names.categories,
      fieldSelectors: (v.selectableFields ?? []).map((f: { jsonPath: string }) => f.jsonPath.replace(/^\./, '')),
      schema: v.schema?.openAPIV3Schema,
      printerColumns: v.additionalPrinterColumns,
    });
  }
  return out;
}
