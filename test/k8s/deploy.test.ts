/** deploy/: manifests are consistent, and RBAC grants exactly the API calls the operator makes. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import { OPERATOR_API_CALLS } from '../../src/runners/k8s/api-calls.js';
import { DEPLOY_DIR, allowed, grantsFor, loadManifests, type Manifest } from '../support/k8s/rbac.js';

const OPERATOR_NS = 'torc-system';
const manifests = loadManifests().map((m) => m.doc);
const find = (kind: string, name?: string) => manifests.filter((m) => m.kind === kind && (!name || m.metadata?.name === name));

test('every manifest parses and names its kind; namespaced objects live in torc-system', (t) => {
  t.true(manifests.length >= 8);
  for (const m of manifests) {
    if (m.kind === 'Kustomization') continue;
    t.truthy(m.apiVersion, JSON.stringify(m).slice(0, 80));
    t.truthy(m.metadata?.name);
    const clusterScoped = ['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition'].includes(m.kind);
    if (!clusterScoped) t.is(m.metadata.namespace, OPERATOR_NS, `${m.kind}/${m.metadata.name}`);
  }
  t.is(find('Namespace', OPERATOR_NS).length, 1);
});

test('kustomization lists existing resources and pulls the CRD from crds/', (t) => {
  const k = YAML.parse(readFileSync(join(DEPLOY_DIR, 'kustomization.yaml'), 'utf8')) as Manifest;
  for (const r of k.resources as string[]) {
    const path = join(DEPLOY_DIR, r);
    t.true(existsSync(path), r);
    if (!/\.ya?ml$/.test(r)) {
      // A directory base must have its own kustomization listing files that exist.
      const base = YAML.parse(readFileSync(join(path, 'kustomization.yaml'), 'utf8')) as Manifest;
      for (const f of base.resources as string[]) t.true(existsSync(join(path, f)), `${r}/${f}`);
    }
  }
  t.true((k.resources as string[]).includes('../crds'));
  const crd = YAML.parse(readFileSync(join(DEPLOY_DIR, '../crds/workflow.yaml'), 'utf8')) as Manifest;
  t.is(crd.metadata.name, 'workflows.torc.dev');
});

test('RBAC covers every API call the operator makes', (t) => {
  const grants = grantsFor(manifests, { name: 'torc-operator', namespace: OPERATOR_NS });
  for (const call of OPERATOR_API_CALLS) {
    // Cluster-scope calls must work in any namespace (use one the manifests never mention).
    const namespace = call.scope === 'cluster' ? (call.resource === 'nodes' ? null : 'some-user-namespace') : OPERATOR_NS;
    t.true(allowed(grants, { ...call, namespace }), `${call.verb} ${call.resource}.${call.group || 'core'} (${call.why})`);
  }
});

test('RBAC is least privilege: no wildcards, nothing the operator does not call, leases only at home', (t) => {
  const grants = grantsFor(manifests, { name: 'torc-operator', namespace: OPERATOR_NS });
  t.true(grants.length > 0);
  for (const g of grants) {
    t.false([g.group, g.resource, g.verb].includes('*'), JSON.stringify(g));
    const used = OPERATOR_API_CALLS.some((c) => c.group === g.group && c.resource === g.resource && c.verb === g.verb);
    t.true(used, `granted but never called: ${g.verb} ${g.resource}.${g.group || 'core'}`);
  }
  const leaseGrants = grants.filter((g) => g.resource === 'leases');
  t.true(leaseGrants.length > 0 && leaseGrants.every((g) => g.namespace === OPERATOR_NS));
  t.false(allowed(grants, { group: '', resource: 'secrets', verb: 'get', namespace: OPERATOR_NS }));
  t.false(allowed(grants, { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: 'elsewhere' }));
});

test('the Deployment runs the operator with leader election, its ServiceAccount, the PVC and the Service ports', (t) => {
  const [dep] = find('Deployment', 'torc-operator');
  t.truthy(dep);
  const pod = dep!.spec.template.spec;
  t.is(pod.serviceAccountName, 'torc-operator');
  t.is(find('ServiceAccount', pod.serviceAccountName).length, 1);
  const c = pod.containers[0];
  t.is(c.args[0], 'operator');
  t.true(c.args.includes('--leader-elect'));
  const db = c.args[c.args.indexOf('--db') + 1] as string;
  const mount = c.volumeMounts.find((v: Manifest) => db.startsWith(`${v.mountPath}/`));
  t.truthy(mount, 'the SQLite file is on a mounted volume');
  const vol = pod.volumes.find((v: Manifest) => v.name === mount.name);
  t.is(find('PersistentVolumeClaim', vol.persistentVolumeClaim.claimName).length, 1);
  const labels = dep!.spec.template.metadata.labels;
  t.deepEqual(dep!.spec.selector.matchLabels, labels);
  const [svc] = find('Service');
  for (const [k, v] of Object.entries(svc!.spec.selector)) t.is(labels[k], v);
  const portNames = new Set(c.ports.map((p: Manifest) => p.name));
  for (const p of svc!.spec.ports) t.true(portNames.has(p.targetPort), `service targetPort ${p.targetPort}`);
  t.true(portNames.has(c.readinessProbe.httpGet.port));
});

test('the Deployment guards the REST API with users and the token from a mounted Secret', (t) => {
  const [dep] = find('Deployment', 'torc-operator');
  const pod = dep!.spec.template.spec;
  const c = pod.containers[0];
  const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1] as string;
  const files = [arg('--auth').replace(/^htpasswd:/, ''), arg('--token-file')];
  for (const file of files) {
    const mount = c.volumeMounts.find((v: Manifest) => file.startsWith(`${v.mountPath}/`));
    t.truthy(mount, `${file} is on a mounted volume`);
    t.true(mount.readOnly);
    const vol = pod.volumes.find((v: Manifest) => v.name === mount.name);
    t.is(vol.secret?.secretName, 'torc-api-auth', `${file} comes from the Secret`);
    t.is(vol.secret.defaultMode & 0o007, 0, 'not readable by others');
    t.is(vol.secret.defaultMode & 0o040, 0o040, 'readable by the fsGroup the operator runs as');
  }
  t.truthy(pod.securityContext.fsGroup);
});
