/**
 * The parts of the API-server fake that kubectl relies on, checked over plain HTTP (so they are
 * tested even where no kubectl is installed; test/k8s/kubectl.test.ts drives the real one):
 * aggregated discovery, OpenAPI v2 (JSON and protobuf) and v3, Table responses, field
 * validation, server-side apply, dry run, strategic merge patch, the events.k8s.io view, and
 * following pod logs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { FakeCluster, WORKFLOW_CRD, startUserCluster, waitFor } from '../support/k8s/cluster.js';
import { loadCrd } from '../support/k8s/resources.js';

const WF_PATH = '/apis/torc.dev/v1alpha1/namespaces/default/workflows';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

async function cluster(t: ExecutionContext, crd = true): Promise<FakeCluster> {
  const c = await startUserCluster();
  t.teardown(() => c.close());
  if (crd) for (const rt of loadCrd(WORKFLOW_CRD)) c.store.register(rt);
  return c;
}

async function call(c: FakeCluster, path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const res = await fetch(`${c.url}${path}`, { redirect: 'manual', ...init });
  const type = res.headers.get('content-type') ?? '';
  const buf = Buffer.from(await res.arrayBuffer());
  const body = /json/.test(type) && buf.length ? JSON.parse(buf.toString('utf8')) : buf;
  return { status: res.status, type, headers: res.headers, body };
}

const workflow = (name: string, spec: Record<string, unknown> = { jobs: [{ name: 'a', command: 'true' }] }) =>
  ({ apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', metadata: { name }, spec });

const post = (c: FakeCluster, path: string, body: unknown, query = '') =>
  call(c, `${path}${query}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

/** Top-level fields of a protobuf message: field number → raw bytes of its length-delimited values. */
function protoFields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let i = 0;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 2) {
      const len = varint();
      out.set(key >> 3, [...(out.get(key >> 3) ?? []), buf.subarray(i, i + len)]);
      i += len;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

test('discovery: aggregated (apidiscovery.k8s.io/v2) when asked, legacy otherwise', async (t) => {
  const c = await cluster(t);
  const agg = await call(c, '/apis', { headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
  t.is(agg.type, 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
  t.is(agg.body.kind, 'APIGroupDiscoveryList');
  const torc = agg.body.items.find((g: any) => g.metadata.name === 'torc.dev');
  const wf = torc.versions[0].resources.find((r: any) => r.resource === 'workflows');
  t.like(wf, { scope: 'Namespaced', singularResource: 'workflow', shortNames: ['twf'], responseKind: { group: 'torc.dev', version: 'v1alpha1', kind: 'Workflow' } });
  t.deepEqual(wf.subresources.map((s: any) => s.subresource), ['status']);
  const core = await call(c, '/api', { headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' } });
  t.true(core.body.items[0].versions[0].resources.some((r: any) => r.resource === 'pods' && r.subresources.some((s: any) => s.subresource === 'log')));
  const legacy = await call(c, '/apis');
  t.is(legacy.body.kind, 'APIGroupList');
  t.like((await call(c, '/version')).body, { major: '1', minor: '32' });
});

test('OpenAPI: v3 index and documents with the CRD schema; a stale hash redirects; v2 as JSON and as protobuf', async (t) => {
  const c = await cluster(t);
  const index = (await call(c, '/openapi/v3')).body;
  const url = index.paths['apis/torc.dev/v1alpha1'].serverRelativeURL as string;
  t.regex(url, /^\/openapi\/v3\/apis\/torc\.dev\/v1alpha1\?hash=[0-9A-F]{128}$/);
  const doc = await call(c, url, { headers: { accept: 'application/json' } });
  t.is(doc.headers.get('cache-control'), 'public, immutable');
  const schema = doc.body.components.schemas['dev.torc.v1alpha1.Workflow'];
  t.deepEqual(schema['x-kubernetes-group-version-kind'], [{ group: 'torc.dev', kind: 'Workflow', version: 'v1alpha1' }]);
  t.deepEqual(schema.properties.metadata.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }]);
  t.truthy(schema.properties.spec.properties.jobs.items.properties.command);
  const patch = doc.body.paths['/apis/torc.dev/v1alpha1/namespaces/{namespace}/workflows/{name}'].patch;
  t.true(patch.parameters.some((p: any) => p.name === 'fieldValidation' && p.in === 'query'), 'kubectl leaves validation to the server');
  t.deepEqual(Object.keys(patch.requestBody.content).sort(), ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json']);
  const stale = await call(c, '/openapi/v3/apis/torc.dev/v1alpha1?hash=ABC');
  t.is(stale.status, 301);
  t.is(stale.headers.get('location'), url);
  t.is((await call(c, '/openapi/v3/apis/nothing.example/v1')).status, 404);

  const v2 = (await call(c, '/openapi/v2', { headers: { accept: 'application/json' } })).body;
  const v2wf = v2.definitions['dev.torc.v1alpha1.Workflow'];
  t.is(v2wf.properties.metadata.$ref, '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
  t.is(v2.paths['/apis/torc.dev/v1alpha1/namespaces/{namespace}/workflows/{name}'].patch['x-kubernetes-action'], 'patch');
  const pb = await call(c, '/openapi/v2', { headers: { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' } });
  t.is(pb.type, 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
  const fields = protoFields(pb.body as Buffer);
  t.is(fields.get(1)![0]!.toString(), '2.0', 'swagger');
  const names = protoFields(fields.get(9)![0]!).get(1)!.map((named) => protoFields(named).get(1)![0]!.toString());
  t.true(names.includes('dev.torc.v1alpha1.Workflow'));
  t.true(names.includes('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'));
  t.false(names.includes('io.k8s.api.core.v1.Pod'), 'built-in kinds: kubectl uses its compiled-in types');
});

test('Table responses: CRD printer columns, pods; includeObject=Object', async (t) => {
  const c = await cluster(t);
  await post(c, WF_PATH, workflow('wf'));
  await call(c, `${WF_PATH}/wf/status`, {
    method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify({ status: { phase: 'Running', done: 2, counts: { running: 1, failed: 0 } } }),
  });
  const table = await call(c, WF_PATH, { headers: { accept: TABLE } });
  t.is(table.type, 'application/json;as=Table;v=v1;g=meta.k8s.io');
  t.is(table.body.kind, 'Table');
  t.deepEqual(table.body.columnDefinitions.map((d: any) => d.name), ['Name', 'Phase', 'Done', 'Running', 'Failed', 'Age']);
  t.deepEqual(table.body.rows[0].cells.slice(0, 5), ['wf', 'Running', 2, 1, 0]);
  t.regex(table.body.rows[0].cells[5], /^\d+s$/);
  t.is(table.body.rows[0].object.kind, 'PartialObjectMetadata');
  const full = await call(c, `${WF_PATH}/wf?includeObject=Object`, { headers: { accept: TABLE } });
  t.is(full.body.rows[0].object.spec.jobs[0].name, 'a');
  await post(c, '/api/v1/namespaces/default/pods', { metadata: { name: 'p' }, spec: { nodeName: 'absent', containers: [{ name: 'c', image: 'busybox:1.36', command: ['true'] }] } });
  const pods = await call(c, '/api/v1/namespaces/default/pods', { headers: { accept: TABLE } });
  t.deepEqual(pods.body.columnDefinitions.filter((d: any) => d.priority === 0).map((d: any) => d.name), ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
  t.deepEqual(pods.body.rows[0].cells.slice(0, 4), ['p', '0/1', 'Pending', '0']);
  t.is((await call(c, WF_PATH)).body.kind, 'WorkflowList', 'plain JSON without the Table Accept');
});

test('field validation: Strict refuses unknown fields with their path, Warn warns and prunes, Ignore prunes silently; type errors name the field', async (t) => {
  const c = await cluster(t);
  const bad = workflow('x', { jobs: [{ name: 'a', command: 'true', bogus: 1 }] });
  const strict = await post(c, WF_PATH, bad, '?fieldValidation=Strict');
  t.is(strict.status, 400);
  t.is(strict.body.message, 'Workflow in version "v1alpha1" cannot be handled as a Workflow: strict decoding error: unknown field "spec.jobs[0].bogus"');
  const warn = await post(c, WF_PATH, bad, '?fieldValidation=Warn');
  t.is(warn.status, 201);
  t.is(warn.headers.get('warning'), '299 - "unknown field \\"spec.jobs[0].bogus\\""');
  t.deepEqual(warn.body.spec.jobs[0], { name: 'a', command: 'true' });
  const ignore = await post(c, WF_PATH, { ...bad, metadata: { name: 'y' } }, '?fieldValidation=Ignore');
  t.is(ignore.status, 201);
  t.is(ignore.headers.get('warning'), null);
  const wrong = await post(c, WF_PATH, workflow('z', { jobs: [{ name: 'a', command: 'true', resource_requirements: 5 }] }));
  t.is(wrong.status, 422);
  t.is(wrong.body.message, 'Workflow.torc.dev "z" is invalid: spec.jobs[0].resource_requirements: Invalid value: "integer": spec.jobs[0].resource_requirements in body must be of type string: "integer"');
  t.like(wrong.body.details.causes[0], { reason: 'FieldValueTypeInvalid', field: 'spec.jobs[0].resource_requirements' });
  // A patch whose result has unknown fields: the real server's patch error (field "patch").
  const patched = await call(c, `${WF_PATH}/x?fieldValidation=Strict`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { bogus: true } }) });
  t.is(patched.status, 422);
  t.regex(patched.body.message, /^ "" is invalid: patch: Invalid value: ".*": strict decoding error: unknown field "spec\.bogus"$/);
  t.like(patched.body.details.causes[0], { field: 'patch' });
  const missing = await post(c, WF_PATH, workflow('m', { jobs: [{ name: 'a' }] }));
  t.regex(missing.body.message, /spec\.jobs\[0\]\.command: Required value/);
});

test('server-side apply: creates, records managers, names conflicts, force takes over, dropped fields go', async (t) => {
  const c = await cluster(t);
  const apply = (manager: string, body: unknown, force = false) => call(c, `${WF_PATH}/wf?fieldManager=${manager}${force ? '&force=true' : ''}`, {
    method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml' }, body: JSON.stringify(body),
  });
  const created = await apply('alice', workflow('wf', { description: 'mine', jobs: [{ name: 'a', command: 'true' }] }));
  t.is(created.status, 201);
  t.like(created.body.metadata.managedFields[0], { manager: 'alice', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:description': {}, 'f:jobs': {} } } });
  const edited = await call(c, `${WF_PATH}/wf?fieldManager=bob`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { description: 'bob was here' } }) });
  t.like(edited.body.metadata.managedFields.find((e: any) => e.manager === 'bob'), { operation: 'Update', fieldsV1: { 'f:spec': { 'f:description': {} } } });
  const conflict = await apply('alice', workflow('wf', { description: 'mine', jobs: [{ name: 'a', command: 'true' }] }));
  t.is(conflict.status, 409);
  t.is(conflict.body.message, 'Apply failed with 1 conflict: conflict with "bob" using torc.dev/v1alpha1: .spec.description');
  t.deepEqual(conflict.body.details.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "bob" using torc.dev/v1alpha1', field: '.spec.description' }]);
  const same = await apply('alice', workflow('wf', { description: 'bob was here', jobs: [{ name: 'a', command: 'true' }] }));
  t.is(same.status, 200, 'agreeing on the value is no conflict (shared ownership)');
  const forced = await apply('alice', workflow('wf', { description: 'mine', jobs: [{ name: 'a', command: 'true' }] }), true);
  t.is(forced.body.spec.description, 'mine');
  t.deepEqual(forced.body.metadata.managedFields.map((e: any) => e.manager), ['alice'], 'bob lost his only field');
  const dropped = await apply('alice', workflow('wf', { jobs: [{ name: 'a', command: 'true' }] }));
  t.is(dropped.body.spec.description, undefined, 'a field no longer applied (and owned by no one else) is removed');
  const noManager = await call(c, `${WF_PATH}/wf`, { method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml' }, body: '{}' });
  t.is(noManager.status, 422);
  t.regex(noManager.body.message, /fieldManager: Required value/);
});

test('dry run: nothing stored or deleted; strategic merge patch merges containers by name, refused (415) for custom resources', async (t) => {
  const c = await cluster(t);
  const dry = await post(c, WF_PATH, workflow('d'), '?dryRun=All');
  t.is(dry.status, 201);
  t.truthy(dry.body.metadata.uid);
  t.is((await call(c, `${WF_PATH}/d`)).status, 404);
  await post(c, WF_PATH, workflow('d'));
  t.is((await call(c, `${WF_PATH}/d?dryRun=All`, { method: 'DELETE' })).status, 200);
  t.is((await call(c, `${WF_PATH}/d`)).status, 200, 'a dry-run delete leaves it');
  const gone = await call(c, `${WF_PATH}/d`, { method: 'DELETE' });
  t.like(gone.body, { kind: 'Status', status: 'Success', details: { name: 'd', group: 'torc.dev', kind: 'workflows' } });
  t.is((await call(c, `${WF_PATH}/d?dryRun=Bogus`, { method: 'DELETE' })).status, 422);

  await post(c, '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'sa' } });
  const smp = (path: string, body: unknown) => call(c, path, { method: 'PATCH', headers: { 'content-type': 'application/strategic-merge-patch+json' }, body: JSON.stringify(body) });
  await post(c, '/apis/apps/v1/namespaces/default/deployments', {
    metadata: { name: 'dep' },
    spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'a', image: 'busybox:1' }, { name: 'b', image: 'busybox:1' }] } } },
  });
  const merged = await smp('/apis/apps/v1/namespaces/default/deployments/dep', {
    spec: { template: { spec: { $setElementOrder: undefined, containers: [{ name: 'b', image: 'busybox:2' }, { name: 'c', image: 'busybox:3' }], '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }, { name: 'b' }] } } },
  });
  t.deepEqual(merged.body.spec.template.spec.containers.map((x: any) => `${x.name}:${x.image}`), ['c:busybox:3', 'a:busybox:1', 'b:busybox:2']);
  const deleted = await smp('/apis/apps/v1/namespaces/default/deployments/dep', { spec: { template: { spec: { containers: [{ name: 'a', $patch: 'delete' }] } } } });
  t.deepEqual(deleted.body.spec.template.spec.containers.map((x: any) => x.name), ['c', 'b']);
  t.is((await smp(`${WF_PATH}/none`, {})).status, 404);
  await post(c, WF_PATH, workflow('e'));
  t.is((await smp(`${WF_PATH}/e`, { spec: { description: 'x' } })).status, 415);
});

test('events.k8s.io/v1 shows the core/v1 Events (one storage), with its own field names and selectors', async (t) => {
  const c = await cluster(t);
  await post(c, '/api/v1/namespaces/default/events', {
    metadata: { name: 'e1' }, involvedObject: { apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', name: 'wf', namespace: 'default' },
    reason: 'Applied', message: 'hello', type: 'Normal', source: { component: 'torc-operator' }, count: 1,
    firstTimestamp: '2024-01-01T00:00:00.123Z', lastTimestamp: '2024-01-01T00:00:00.123Z',
  });
  const list = await call(c, '/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dwf');
  t.is(list.body.kind, 'EventList');
  t.like(list.body.items[0], { note: 'hello', reason: 'Applied', reportingController: 'torc-operator', regarding: { kind: 'Workflow', name: 'wf' }, deprecatedCount: 1, deprecatedFirstTimestamp: '2024-01-01T00:00:00Z' });
  t.is((await call(c, '/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dother')).body.items.length, 0);
  const made = await post(c, '/apis/events.k8s.io/v1/namespaces/default/events', {
    apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'e2' }, eventTime: '2024-01-01T00:00:00.000000Z',
    reportingController: 'x', reportingInstance: 'x-1', action: 'Run', reason: 'Ran', note: 'by the new API', type: 'Normal',
    regarding: { kind: 'Pod', name: 'p', namespace: 'default' },
  });
  t.is(made.status, 201);
  const core = await call(c, '/api/v1/namespaces/default/events/e2');
  t.like(core.body, { message: 'by the new API', reportingComponent: 'x', involvedObject: { kind: 'Pod', name: 'p' } });
  const missing = await post(c, '/apis/events.k8s.io/v1/namespaces/default/events', { metadata: { name: 'e3' }, note: 'x', regarding: {} });
  t.is(missing.status, 422, 'the new API requires eventTime, reportingController, action, reason');
});

test('pods/log: whole output, tailLines, and follow=true streaming until the container exits', async (t) => {
  const c = await cluster(t, false);
  const dir = mkdtempSync(join(tmpdir(), 'torc-logs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const mark = join(dir, 'go');
  await post(c, '/api/v1/namespaces/default/pods', {
    metadata: { name: 'talker' },
    spec: { nodeName: 'node-a', restartPolicy: 'Never', containers: [{ name: 'job', image: 'busybox:1.36', command: ['/bin/sh', '-c', `echo one; while [ ! -e ${mark} ]; do sleep 0.05; done; echo two`] }] },
  });
  await waitFor(() => c.kubelet.logs('default', 'talker')?.includes('one'), 'the first line');
  const res = await fetch(`${c.url}/api/v1/namespaces/default/pods/talker/log?follow=true`);
  const reader = res.body!.getReader();
  let text = '';
  const read = async () => {
    const { value, done } = await reader.read();
    if (value) text += Buffer.from(value).toString();
    return done;
  };
  while (!text.includes('one')) await read();
  t.false(text.includes('two'));
  writeFileSync(mark, '');
  while (!(await read()));
  t.is(text, 'one\ntwo\n', 'the stream ends when the container does');
  t.is((await call(c, '/api/v1/namespaces/default/pods/talker/log?tailLines=1')).body.toString(), 'two\n');
  t.is((await call(c, '/api/v1/namespaces/default/pods/talker/log?container=nope')).status, 400);
});
