/** Workflow status subresource, Events and /metrics, checked against the fake with the real CRD. */
import test from 'ava';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { EventRecorder } from '../../src/runners/k8s/events.js';
import { OperatorMetrics, serveMetrics } from '../../src/runners/k8s/metrics.js';
import {
  WORKFLOW_GROUP, WORKFLOW_PLURAL, WORKFLOW_VERSION, patchWorkflowStatus, statusChanged, workflowCrStatus,
} from '../../src/runners/k8s/status.js';
import { openCluster } from '../support/k8s/target.js';

const WF = { group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL };
const diamond = {
  apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow',
  spec: { name: 'diamond', jobs: [{ name: 'a', command: 'true' }, { name: 'b', command: 'true', depends_on: ['a'] }] },
};

test('status: phase, counts, observedGeneration, times; unchanged → no patch', (t) => {
  const t0 = new Date('2024-05-01T10:00:00Z');
  const pending = workflowCrStatus({ generation: 1, workflowId: 3, runId: 1, counts: { ready: 1, blocked: 1 }, canceled: false, now: t0 });
  t.like(pending, { phase: 'Pending', observedGeneration: 1, workflowId: 3, total: 2, done: 0 });
  t.is(pending.startTime, undefined);
  const t1 = new Date('2024-05-01T10:01:00Z');
  const running = workflowCrStatus({ generation: 1, workflowId: 3, runId: 1, counts: { running: 1, blocked: 1 }, canceled: false, previous: pending, now: t1 });
  t.is(running.phase, 'Running');
  t.is(running.startTime, t1.toISOString());
  const again = workflowCrStatus({ generation: 1, workflowId: 3, runId: 1, counts: { running: 1, blocked: 1 }, canceled: false, previous: running, now: new Date('2024-05-01T10:02:00Z') });
  t.false(statusChanged(running, again), 'same counts later: nothing to write (times kept)');
  const t3 = new Date('2024-05-01T10:03:00Z');
  const done = workflowCrStatus({ generation: 2, workflowId: 3, runId: 1, counts: { completed: 2 }, canceled: false, previous: again, now: t3 });
  t.like(done, { phase: 'Succeeded', observedGeneration: 2, done: 2, startTime: t1.toISOString(), completionTime: t3.toISOString() });
  t.is(done.conditions.find((c) => c.type === 'Complete')?.status, 'True');
  t.true(statusChanged(again, done));
  const failed = workflowCrStatus({ generation: 2, workflowId: 3, runId: 1, counts: { completed: 1, failed: 1 }, canceled: false, now: t3 });
  t.is(failed.phase, 'Failed');
});

test('status is patched on /status only when it changed, and passes the CRD schema', async (t) => {
  const c = await openCluster(t);
  const api = c.kc.makeApiClient(CustomObjectsApi);
  const wf = await api.createNamespacedCustomObject({ ...WF, namespace: c.namespace, body: { ...diamond, metadata: { name: 'diamond' } } });
  const ref = { namespace: c.namespace, name: 'diamond' };
  const s1 = workflowCrStatus({ generation: wf.metadata.generation, workflowId: 1, runId: 1, counts: { ready: 1, blocked: 1 }, canceled: false });
  const patched = await patchWorkflowStatus(api, ref, wf.status, s1);
  t.truthy(patched);
  t.deepEqual(patched!.status, JSON.parse(JSON.stringify(s1)), 'nothing pruned: the object matches the CRD status schema');
  t.is(patched!.metadata.generation, wf.metadata.generation);
  t.is(await patchWorkflowStatus(api, ref, patched!.status, workflowCrStatus({ generation: 1, workflowId: 1, runId: 1, counts: { ready: 1, blocked: 1 }, canceled: false, previous: patched!.status })), null);
  const s2 = workflowCrStatus({ generation: 1, workflowId: 1, runId: 1, counts: { completed: 2 }, canceled: false, previous: patched!.status });
  const done = await patchWorkflowStatus(api, ref, patched!.status, s2);
  t.is(done!.status.phase, 'Succeeded');
  t.truthy(done!.status.completionTime);
  if (c.fake) t.is(c.fake.server.calls({ resource: 'workflows/status', verb: 'patch' }).length, 2);
});

test('events: created on the workflow, repeats folded into a count', async (t) => {
  const c = await openCluster(t);
  const core = c.kc.makeApiClient(CoreV1Api);
  const errors: unknown[] = [];
  const rec = new EventRecorder(core, { component: 'torc-operator', instance: 'op-0', onError: (e) => errors.push(e) });
  const target = { apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', name: 'diamond', namespace: c.namespace, uid: 'u-1' };
  await rec.record(target, 'Normal', 'PodCreated', 'created pod diamond-a-1');
  await rec.record(target, 'Warning', 'JobFailed', 'job b exited 3');
  await rec.record(target, 'Warning', 'JobFailed', 'job b exited 3');
  t.deepEqual(errors, []);
  const list = await core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=diamond' });
  const byReason = Object.fromEntries(list.items.map((e) => [e.reason, e]));
  t.is(byReason.PodCreated?.count, 1);
  t.is(byReason.JobFailed?.count, 2);
  t.is(byReason.JobFailed?.type, 'Warning');
  t.is(byReason.JobFailed?.source?.component, 'torc-operator');
  // Repeats recorded at once (before the first create has answered) fold too, counting each.
  await Promise.all(Array.from({ length: 5 }, () => rec.record(target, 'Warning', 'ReconcileFailed', 'the store refused')));
  const burst = (await core.listNamespacedEvent({ namespace: c.namespace, fieldSelector: 'involvedObject.name=diamond' })).items.filter((e) => e.reason === 'ReconcileFailed');
  t.is(burst.length, 1);
  t.is(burst[0]?.count, 5);
  // An event that cannot be written is reported, not thrown.
  await rec.record({ ...target, namespace: 'no-such-namespace' }, 'Normal', 'X', 'y');
  t.is(errors.length, 1);
});

test('/metrics serves the operator series in Prometheus text format', async (t) => {
  const m = new OperatorMetrics();
  m.readyJobs.set({ namespace: 'ml', workflow: 'sweep' }, 7);
  m.podsCreated.inc({ namespace: 'ml', workflow: 'sweep' }, 3);
  m.jobsClaimed.inc({ namespace: 'ml', workflow: 'sweep' }, 3);
  m.claims.inc({ namespace: 'ml', workflow: 'sweep' });
  m.jobDuration.observe({ status: 'completed' }, 42);
  m.leader.set(1);
  let ready = false;
  const srv = await serveMetrics(m, { port: 0, host: '127.0.0.1', ready: () => ready });
  t.teardown(() => srv.close());
  const res = await fetch(`${srv.url}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  t.regex(text, /^torc_ready_jobs\{namespace="ml",workflow="sweep"\} 7$/m);
  t.regex(text, /^torc_pods_created_total\{namespace="ml",workflow="sweep"\} 3$/m);
  t.regex(text, /^torc_job_duration_seconds_count\{status="completed"\} 1$/m);
  t.regex(text, /^torc_operator_leader 1$/m);
  t.is((await fetch(`${srv.url}/readyz`)).status, 503);
  ready = true;
  t.is((await fetch(`${srv.url}/readyz`)).status, 200);
  m.forgetWorkflow('ml', 'sweep');
  t.notRegex(await (await fetch(`${srv.url}/metrics`)).text(), /workflow="sweep"/);
});
