/**
 * torc's API as the contract (issue 15): every operation of torc v0.10.0's openapi.yaml
 * (../shared/torc/api) is served with torc's path, method and parameters, and every answer —
 * the success of each operation in a scene where it succeeds, and its error for a record that
 * does not exist — validates against torc's schema for it (ajv over torc's components).
 * Skipped loudly when ../shared/torc is absent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { apiRoutes, type ApiRoute } from '../../src/api/routes/index.js';
import { startTestApi } from '../support/api.js';
import { buildScene, isUpdate, requestFor } from '../support/operations.js';
import { TORC_SHARED, torcSharedTest } from '../support/torc-shared.js';

const test = torcSharedTest(import.meta.filename, true);

/**
 * torc operations deliberately not served, with why (README "torc compatibility" lists them too).
 * Empty: every one of torc's 114 operations is served.
 */
export const LEFT_OUT: Record<string, string> = {};

interface TorcParam {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
}

interface TorcOperation {
  operationId: string;
  method: string;
  path: string;
  parameters: TorcParam[];
  requestBody?: { required?: boolean };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

function torcDocument(): { doc: Record<string, any>; operations: TorcOperation[] } {
  const doc = parse(readFileSync(join(TORC_SHARED!, 'api', 'openapi.yaml'), 'utf8')) as Record<string, any>;
  const operations: TorcOperation[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (method === 'parameters') continue;
      operations.push({ operationId: op.operationId, method: method.toUpperCase(), path, parameters: op.parameters ?? [], requestBody: op.requestBody, responses: op.responses });
    }
  }
  return { doc, operations };
}

/** Validators of torc's response schemas; their `#/components/...` refs resolve in torc's document. */
function torcValidators(doc: Record<string, unknown>) {
  // OpenAPI 3.0 keywords (nullable, example, …) are not JSON Schema: strict off ignores them.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(doc, 'torc.json');
  const cache = new Map<string, ValidateFunction>();
  return (schema: unknown): ValidateFunction => {
    const key = JSON.stringify(schema);
    let fn = cache.get(key);
    if (!fn) {
      fn = ajv.compile(JSON.parse(key.replaceAll('"#/components/', '"torc.json#/components/')) as object);
      cache.set(key, fn);
    }
    return fn;
  };
}

function responseSchema(op: TorcOperation, status: number): unknown {
  const r = op.responses[String(status)] ?? op.responses.default;
  return r?.content?.['application/json']?.schema;
}

const ours = () => new Map(apiRoutes().map((r) => [`${r.method} ${r.path}`, r]));

test('every operation of torc’s openapi.yaml is served with its path, method, parameters and body', (t) => {
  const { operations } = torcDocument();
  t.is(operations.length, 114, "torc v0.10.0's document lists 114 operations");
  const routes = ours();
  const problems: string[] = [];
  let served = 0;
  for (const op of operations) {
    const route = routes.get(`${op.method} ${op.path}`);
    if (!route) {
      if (!LEFT_OUT[op.operationId]) problems.push(`${op.operationId}: ${op.method} ${op.path} is not served`);
      continue;
    }
    served++;
    if (route.operationId !== op.operationId) problems.push(`${op.method} ${op.path}: operationId ${route.operationId}, torc's is ${op.operationId}`);
    const declared = new Map((route.params ?? []).map((p) => [`${p.in} ${p.name}`, p]));
    for (const p of op.parameters) {
      if (!declared.has(`${p.in} ${p.name}`)) problems.push(`${op.operationId}: torc's ${p.in} parameter ${p.name} is not taken`);
      else if (p.in === 'query' && !p.required && declared.get(`${p.in} ${p.name}`)!.required) problems.push(`${op.operationId}: ${p.name} is optional in torc, required here`);
    }
    for (const p of route.params ?? []) {
      if (p.in === 'query' && p.required && !op.parameters.some((q) => q.in === 'query' && q.name === p.name && q.required)) {
        problems.push(`${op.operationId}: query parameter ${p.name} is required here, not in torc`);
      }
    }
    if (op.requestBody?.required && !route.body) problems.push(`${op.operationId}: torc sends a body, the route takes none`);
    if (route.body?.required && !op.requestBody?.required) problems.push(`${op.operationId}: the body is required here, optional in torc`);
    const torcSuccess = Object.keys(op.responses).filter((k) => k.startsWith('2'));
    if (!torcSuccess.includes(String(route.response.status))) problems.push(`${op.operationId}: answers ${route.response.status}, torc ${torcSuccess.join('/')}`);
  }
  t.deepEqual(problems, []);
  t.log(`${served} of ${operations.length} torc operations served; left out: ${Object.keys(LEFT_OUT).join(', ') || 'none'}`);
  t.is(served + Object.keys(LEFT_OUT).length, operations.length);
});

test('every answer of every shared operation validates against torc’s schema: the success in a scene where it succeeds, and the error for a record that does not exist', async (t) => {
  const { doc, operations } = torcDocument();
  const validator = torcValidators(doc);
  // The validator does refuse what torc's client cannot read (the shapes served before issue 15).
  const ref = (name: string) => validator({ $ref: `#/components/schemas/${name}` });
  t.false(ref('event_model')({ id: 1, workflow_id: 1, timestamp: '2026-01-01T00:00:00Z', data: {} }), 'an ISO event timestamp');
  t.false(ref('workflow_model')({ id: 1, name: 'w', user: null }), 'a null user');
  t.false(ref('list_jobs_response')({ items: [{ id: 1, name: 'j', command: 'true' }], offset: 0, count: 1, has_more: false, max_limit: 1, total_count: 1 }), 'a job without workflow_id');
  t.false(ref('default_error_response')({ message: 'x' }), 'an error without `error`');
  const api = await startTestApi(t);
  const routes = ours();
  const problems: string[] = [];
  let successes = 0;
  let errors = 0;
  const check = (op: TorcOperation, status: number, body: unknown, what: string) => {
    const schema = responseSchema(op, status) ?? (status >= 400 ? { $ref: '#/components/schemas/default_error_response' } : undefined);
    if (schema === undefined) return problems.push(`${op.operationId}: torc documents no answer ${status} (${what})`);
    const fn = validator(schema);
    if (!fn(body)) problems.push(`${op.operationId} ${status} (${what}): ${JSON.stringify(fn.errors?.slice(0, 3))} in ${JSON.stringify(body).slice(0, 300)}`);
  };
  for (const op of operations) {
    const route: ApiRoute | undefined = routes.get(`${op.method} ${op.path}`);
    if (!route) continue;
    const s = await buildScene(api);
    const current = isUpdate(route) ? (await api.http('GET', requestFor({ ...route, method: 'GET', body: undefined }, s).path)).json : undefined;
    const req = requestFor(route, s, current);
    const res = await api.http(req.method, req.path, { body: req.body, headers: req.contentType ? { 'Content-Type': req.contentType } : {} });
    if (res.status >= 300) {
      problems.push(`${op.operationId}: ${res.status} in a scene where it should succeed: ${res.text.slice(0, 300)}`);
      continue;
    }
    successes++;
    check(op, res.status, res.json, 'success');
    // The error case: the operation's first numeric path id names nothing.
    const idParam = route.params?.find((p) => p.in === 'path' && p.kind === 'integer' && p.name !== 'run_id' && p.name !== 'limit');
    if (!idParam) continue;
    const missing = req.path.replace(/^\/[^?]*/, (path) => {
      const segments = path.split('/');
      const template = route.path.split('/');
      return segments.map((seg, i) => (template[i] === `{${idParam.name}}` ? '987654321' : seg)).join('/');
    });
    const bad = await api.http(req.method, missing, { body: req.body, headers: req.contentType ? { 'Content-Type': req.contentType } : {} });
    if (bad.status < 400 || bad.status >= 500) {
      problems.push(`${op.operationId}: ${bad.status} for a record that does not exist (${missing}): ${bad.text.slice(0, 200)}`);
      continue;
    }
    errors++;
    check(op, bad.status, bad.json, `error for ${idParam.name}`);
  }
  t.deepEqual(problems, []);
  t.log(`${successes} successful answers and ${errors} error answers validated against torc's schemas`);
  t.is(successes, operations.length - Object.keys(LEFT_OUT).length);
});
