/**
 * The OpenAPI document is generated from the route table; this test walks it and calls every
 * operation it lists on a live server (each on a fresh workflow in the right state), then checks
 * the answer's status and body against what the document promises. A route that the document
 * misdescribes, or that the document forgets, fails here.
 */
import test from 'ava';
import { apiRoutes } from '../../src/api/routes/index.js';
import { SchemaRegistry } from '../../src/api/validate.js';
import { startTestApi } from '../support/api.js';
import { buildScene, isUpdate, requestFor } from '../support/operations.js';

interface Operation {
  operationId: string;
  parameters?: { name: string; in: 'path' | 'query'; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema: unknown; example?: unknown }> };
  responses: Record<string, { content: { 'application/json': { schema: Record<string, unknown> } } }>;
  security: unknown[];
  'x-mutating': boolean;
}

test('the document is well-formed: unique operation ids, resolvable refs, errors and security documented', async (t) => {
  const api = await startTestApi(t);
  const res = await api.http('GET', '/openapi.json');
  t.is(res.status, 200);
  const doc = res.json;
  t.is(doc.openapi, '3.1.0');
  t.deepEqual(doc.servers, [{ url: '/torc-service/v1' }]);
  const ids = new Set<string>();
  let count = 0;
  for (const [path, item] of Object.entries<Record<string, Operation>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      count++;
      t.false(ids.has(op.operationId), `duplicate ${op.operationId}`);
      ids.add(op.operationId);
      t.truthy(op.responses['400'], `${method} ${path} documents 400`);
      if (op['x-mutating']) {
        t.truthy(op.responses['401'], `${method} ${path} documents 401`);
        t.deepEqual(op.security, [{ bearer: [] }, { basic: [] }]);
      }
      t.true(typeof (op as unknown as { 'x-access': unknown })['x-access'] === 'string', `${method} ${path} says who may call it`);
      for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        t.true(op.parameters?.some((p) => p.in === 'path' && p.name === name) ?? false, `${method} ${path} declares {${name}}`);
      }
    }
  }
  t.is(count, apiRoutes().length, 'every route of the table is in the document');
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
  t.true(refs.length > 20);
  for (const ref of refs) t.truthy(doc.components.schemas[ref], `unresolved $ref ${ref}`);
});

test('walking the document: every operation answers its documented status with a body matching its schema', async (t) => {
  const api = await startTestApi(t);
  const doc = (await api.http('GET', '/openapi.json')).json;
  const schemas = new SchemaRegistry(doc.components.schemas);
  const routes = new Map(apiRoutes().map((r) => [`${r.method} ${r.path}`, r]));
  const called: string[] = [];
  const problems: string[] = [];
  for (const [path, item] of Object.entries<Record<string, Operation>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const route = routes.get(`${method.toUpperCase()} ${path}`)!;
      if (route.body && route.body.example === undefined) {
        t.fail(`${method} ${path} has a request body but no example in its route declaration`);
        continue;
      }
      const s = await buildScene(api);
      const current = isUpdate(route) ? (await api.http('GET', requestFor({ ...route, method: 'GET', body: undefined }, s).path)).json : undefined;
      const req = requestFor(route, s, current);
      const res = await api.http(req.method, req.path, { body: req.body, headers: req.contentType ? { 'Content-Type': req.contentType } : {} });
      called.push(op.operationId);
      const [expected] = Object.keys(op.responses).filter((k) => k.startsWith('2'));
      if (String(res.status) !== expected) {
        problems.push(`${method} ${path}: ${res.status}, expected ${expected}: ${res.text.slice(0, 300)}`);
        continue;
      }
      const schema = op.responses[expected!]!.content['application/json'].schema;
      const check = schemas.validator(schema);
      if (!check(res.json)) problems.push(`${op.operationId} answer does not match its schema: ${JSON.stringify(check.errors)} ${res.text.slice(0, 300)}`);
    }
  }
  // Every failing operation at once, not only the first.
  t.deepEqual(problems, []);
  t.deepEqual(called.sort(), apiRoutes().map((r) => r.operationId).sort());
});
