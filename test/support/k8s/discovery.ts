/**
 * API discovery, both ways a 1.32 server offers it:
 *   - legacy: /api (APIVersions), /apis (APIGroupList), /apis/GROUP (APIGroup) and one
 *     APIResourceList per group-version;
 *   - aggregated (apidiscovery.k8s.io/v2, what kubectl ≥ 1.30 asks for first): /api and /apis
 *     answer an APIGroupDiscoveryList with every resource of every version in one response, when
 *     the Accept header asks for it; the response's Content-Type says which form was sent.
 */
import { acceptsAs } from './media.js';
import { discoveryResources, type ResourceType } from './resources.js';
import { SERVER_VERSION } from './openapi.js';

export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const AGGREGATED_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

type Json = Record<string, unknown>;

/** Which aggregated form an Accept header asks for (first match wins, as the server negotiates). */
export const wantsAggregated = (accept: string | undefined) => acceptsAs(accept, 'APIGroupDiscoveryList', 'apidiscovery.k8s.io', ['v2', 'v2beta1'] as const);

export const aggregatedContentType = (v: 'v2' | 'v2beta1') => (v === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1);

function groupsOf(types: ResourceType[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const t of types) {
    const vs = groups.get(t.group) ?? [];
    if (!vs.includes(t.version)) vs.push(t.version);
    groups.set(t.group, vs);
  }
  return groups;
}

function aggregatedResource(rt: ResourceType): Json {
  const responseKind = { group: rt.group, version: rt.version, kind: rt.kind };
  return {
    resource: rt.plural, responseKind, scope: rt.namespaced ? 'Namespaced' : 'Cluster', singularResource: rt.singular,
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    ...(rt.shortNames ? { shortNames: rt.shortNames } : {}),
    ...(rt.categories ? { categories: rt.categories } : {}),
    ...(rt.subresources.length
      ? {
        subresources: rt.subresources.map((sub) => ({
          subresource: sub,
          responseKind: sub === 'log' ? { group: '', version: 'v1', kind: 'Pod' } : responseKind,
          verbs: sub === 'log' ? ['get'] : ['get', 'patch', 'update'],
        })),
      }
      : {}),
  };
}

/** /api or /apis as an APIGroupDiscoveryList. */
export function aggregatedDiscovery(types: ResourceType[], path: '/api' | '/apis', version: 'v2' | 'v2beta1'): Json {
  const items = [...groupsOf(types)]
    .filter(([group]) => (path === '/api' ? group === '' : group !== ''))
    .map(([group, versions]) => ({
      metadata: { ...(group ? { name: group } : {}), creationTimestamp: null },
      versions: versions.map((v) => ({
        version: v,
        resources: types.filter((t) => t.group === group && t.version === v).map(aggregatedResource),
        freshness: 'Current',
      })),
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

/** The legacy discovery documents, /version and health checks; undefined for other paths. */
export function legacyDiscovery(types: ResourceType[], path: string, serverAddress: string): unknown {
  const groups = groupsOf(types);
  const groupDoc = (name: string, versions: string[]) => {
    const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: vs, preferredVersion: vs[0] };
  };
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  if (path === '/apis') {
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups].filter(([name]) => name !== '').map(([name, versions]) => groupDoc(name, versions)) };
  }
  if (path === '/version') {
    return { ...SERVER_VERSION, gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', buildDate: '2024-12-11T00:00:00Z', goVersion: 'go1.23.3', compiler: 'gc', platform: 'linux/amd64' };
  }
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
  if (m) {
    const group = m[2] ?? '';
    const version = m[1] ?? m[3]!;
    const here = types.filter((t) => t.group === group && t.version === version);
    if (here.length === 0) return undefined;
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources: discoveryResources(here) };
  }
  const g = /^\/apis\/([^/]+)$/.exec(path);
  if (g && g[1] && groups.has(g[1])) return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g[1], groups.get(g[1])!) };
  if (path === '/healthz' || path === '/readyz' || path === '/livez') return 'ok';
  return undefined;
}
