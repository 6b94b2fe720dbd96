/**
 * POST /workflow_specs reads the body in the format its Content-Type declares (YAML, JSON,
 * JSON5, KDL; text/plain or none: detected), and a refused body's issues name the line and
 * column in that body's own syntax. Nothing is stored when a body is refused.
 */
import test from 'ava';
import { startTestApi, type TestApi } from '../support/api.js';

const KDL = 'name "from-kdl"\njob "a" {\n    command "echo a"\n}\njob "b" {\n    command "echo b"\n    depends_on_job "a"\n}\n';
const JSON5_TEXT = "// comment\n{name: 'from-json5', jobs: [{name: 'a', command: 'echo a'},],}\n";

function post(api: TestApi, body: string, contentType?: string) {
  return api.http('POST', '/workflow_specs', { body, headers: contentType ? { 'Content-Type': contentType } : {} });
}

test('KDL and JSON5 bodies create workflows by their media type, and are detected under text/plain', async (t) => {
  const api = await startTestApi(t);
  for (const [body, type, name] of [
    [KDL, 'application/kdl', 'from-kdl'],
    [KDL, 'text/kdl; charset=utf-8', 'from-kdl'],
    [KDL, 'text/plain', 'from-kdl'],
    [JSON5_TEXT, 'application/json5', 'from-json5'],
    [JSON5_TEXT, 'text/plain', 'from-json5'],
  ] as const) {
    const res = await post(api, body, type);
    t.is(res.status, 201, `${type}: ${res.text}`);
    const wf = await api.client.getWorkflow(res.json.workflow_id);
    t.is(wf.name, name);
  }
  const jobs = await api.client.listJobs(1);
  t.deepEqual(jobs.items.map((j) => j.name), ['a', 'b']);
});

test('a body is held to its declared format, and errors name line and column; nothing is stored', async (t) => {
  const api = await startTestApi(t);
  // JSON5 sent as JSON is refused at the JSON syntax, with its position.
  const asJson = await post(api, JSON5_TEXT, 'application/json');
  t.is(asJson.status, 422);
  t.regex(asJson.json.message, /^invalid JSON at line 1, column 1/);
  const badKdl = await post(api, 'name "x"\njob "a" {\n    command "echo" foo=\n}\n', 'application/kdl');
  t.is(badKdl.status, 422);
  t.is(badKdl.json.message, 'KDL syntax error at line 3, column 24: Expected a value');
  const unknown = await post(api, 'name "x"\njob "a" {\n    command "echo"\n    depends_on_job "nobody"\n}\n', 'application/kdl');
  t.is(unknown.status, 422);
  t.is(unknown.json.field, 'spec.jobs[0].depends_on[0]');
  t.regex(unknown.json.message, /undefined job "nobody".*\(line 4, column 20\)$/);
  const yaml = await post(api, 'name: x\njobs:\n  - name: a\n    command: 5\n', 'application/yaml');
  t.is(yaml.status, 422);
  t.is(yaml.json.message, 'spec.jobs[0].command: expected string, got integer 5 (line 4, column 5)');
  const unsupported = await post(api, KDL, 'application/xml');
  t.is(unsupported.status, 415);
  t.regex(unsupported.json.message, /application\/kdl/);
  t.is((await api.store.listWorkflows()).total, 0);
});

test('the OpenAPI document lists every spec media type for POST /workflow_specs', async (t) => {
  const api = await startTestApi(t);
  const doc = await api.client.openApi();
  const op = (doc.paths as Record<string, Record<string, { requestBody: { content: Record<string, unknown> } }>>)['/workflow_specs']!.post!;
  for (const type of ['application/yaml', 'application/json', 'application/json5', 'application/kdl', 'text/plain']) t.truthy(op.requestBody.content[type], type);
});
