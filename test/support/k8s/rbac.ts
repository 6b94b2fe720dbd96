/**
 * RBAC as declared in deploy/: which (group, resource, verb) the operator's ServiceAccount may
 * use, cluster-wide or in its own namespace. Used to check the manifests against the calls the
 * operator declares (src/runners/k8s/api-calls.ts) and against the calls the API-server fake
 * recorded in operator scenarios.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from './cluster.js';

export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

export type Manifest = Record<string, any>;

export function loadManifests(dir = DEPLOY_DIR): { file: string; doc: Manifest }[] {
  const out: { file: string; doc: Manifest }[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const d of YAML.parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
      const doc = d.toJS() as Manifest | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

export interface Grant {
  group: string;
  resource: string;
  verb: string;
  /** Namespace of a Role grant; null for cluster-wide. */
  namespace: string | null;
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

/** Every grant the ServiceAccount holds through the manifests' (Cluster)Roles and bindings. */
export function grantsFor(manifests: Manifest[], sa: { name: string; namespace: string }): Grant[] {
  const roles = new Map<string, Rule[]>();
  for (const m of manifests) {
    if (m.kind === 'ClusterRole') roles.set(`ClusterRole//${m.metadata.name}`, m.rules ?? []);
    if (m.kind === 'Role') roles.set(`Role/${m.metadata.namespace}/${m.metadata.name}`, m.rules ?? []);
  }
  const grants: Grant[] = [];
  for (const b of manifests) {
    if (b.kind !== 'ClusterRoleBinding' && b.kind !== 'RoleBinding') continue;
    const bound = (b.subjects ?? []).some((s: Manifest) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace);
    if (!bound) continue;
    const ns = b.kind === 'RoleBinding' ? b.metadata.namespace : null;
    const key = b.roleRef.kind === 'ClusterRole' ? `ClusterRole//${b.roleRef.name}` : `Role/${b.metadata.namespace}/${b.roleRef.name}`;
    for (const rule of roles.get(key) ?? []) {
      for (const group of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          for (const verb of rule.verbs ?? []) grants.push({ group, resource, verb, namespace: ns });
        }
      }
    }
  }
  return grants;
}

const hit = (granted: string, wanted: string) => granted === '*' || granted === wanted;

/** Whether a call (in `namespace`, or cluster-wide when null) is allowed by the grants. */
export function allowed(grants: Grant[], call: { group: string; resource: string; verb: string; namespace: string | null }): boolean {
  return grants.some((g) => hit(g.group, call.group) && hit(g.resource, call.resource) && hit(g.verb, call.verb)
    && (g.namespace === null || g.namespace === call.namespace));
}
