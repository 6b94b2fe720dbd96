/**
 * Operator scenarios (issue 8 "Done when"), through @kubernetes/client-node over HTTP against
 * the API-server fake with its simulated kubelet, or a real cluster (TORC_K8S_REAL=1).
 */
import test from 'ava';
import { OPERATOR_API_CALLS } from '../../src/runners/k8s/api-calls.js';
import { waitFor } from '../support/k8s/cluster.js';
import { WorkflowClient, diamondSpec, startOperator, tempDb } from '../support/k8s/operator-harness.js';
import { allowed, grantsFor, loadManifests } from '../support/k8s/rbac.js';
import { OPERATOR_USER, openCluster } from '../support/k8s/target.js';

const NODES = [
  { name: 'cpu-1', cpu: 4, memory: '8Gi' },
  { name: 'cpu-2', cpu: '3500m', memory: '8Gi' },
];

test('the diamond runs to Succeeded with right counts and conditions; RBAC covers every call made', async (t) => {
  const c = await openCluster(t, { nodes: NODES });
  const db = tempDb(t);
  await startOperator(t, c, db);
  const wf = new WorkflowClient(c.kc, c.namespace);
  const created = await wf.apply('diamond', diamondSpec());
  const done = await wf.waitForPhase('diamond', ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Succeeded');
  t.like(done.status, { total: 4, done: 4, observedGeneration: created.metadata.generation });
  t.is(done.status?.counts?.completed, 4);
  const cond = Object.fromEntries((done.status?.conditions ?? []).map((x) => [x.type, x.status]));
  t.like(cond, { Initialized: 'True', Complete: 'True', Failed: 'False', Progressing: 'False' });
  t.truthy(done.status?.completionTime);
  t.true((done.metadata.finalizers ?? []).includes('torc.dev/cleanup'));
  const pods = await wf.pods();
  t.is(pods.length, 4);
  t.true(pods.every((p) => p.status?.phase === 'Succeeded'));
  const events = await wf.core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=diamond' });
  t.true(events.items.some((e) => e.reason === 'WorkflowSucceeded'));

  if (c.fake) {
    t.deepEqual(c.fake.kubelet.rejections, [], 'no pod was ever rejected for lack of room');
    // Every call the operator made is declared, and the deploy/ RBAC allows it.
    const grants = grantsFor(loadManifests().map((m) => m.doc), { name: 'torc-operator', namespace: 'torc-system' });
    const calls = c.fake.server.requests.filter((r) => r.user?.startsWith(OPERATOR_USER) && r.resource && r.code < 500);
    t.true(calls.length > 10);
    for (const r of calls) {
      const declared = OPERATOR_API_CALLS.some((d) => d.group === r.group && d.resource === r.resource && d.verb === r.verb);
      t.true(declared, `undeclared call ${r.verb} ${r.resource} (${r.path})`);
      t.true(allowed(grants, { ...r, namespace: r.namespace }), `not allowed by RBAC: ${r.verb} ${r.resource}`);
    }
  }
});
