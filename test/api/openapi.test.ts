/**
 * The OpenAPI document is generated from the route table; this test walks it and calls every
 * operation it lists on a live server (each on a fresh workflow in the right state), then checks
 * the answer's status and body against what the document promises. A route that the document
 * misdescribes, or that the document forgets, fails here.
 */
import test from 'ava';
import { apiRoutes } from '../../src/api/routes/index.js';
import { SchemaRegistry } from '../../src/api/validate.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { GB, makePlan } from '../support/plans.js';

interface Operation {
  operationId: string;
  parameters?: { name: string; in: 'path' | 'query'; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema: unknown; example?: unknown }> };
  responses: Record<string, { content: { 'application/json': { schema: Record<string, unknown> } } }>;
  security: unknown[];
  'x-mutating': boolean;
}

/** A workflow whose jobs cover every state the operations need: `pending` claimed, `running` started. */
async function scene(api: TestApi) {
  const plan = makePlan({
    schedulers: ['cluster'],
    classes: [{ name: 'big', num_cpus: 4, memory_bytes: 8 * GB }],
    jobs: [{ name: 'running', rc: 'big' }, { name: 'pending' }, { name: 'ready' }, { name: 'blocked', after: ['running'] }],
  });
  // The running job fails over to its handler (retry_job); an action fires at start (claim_action).
  plan.failure_handlers.push({
    name: 'retry_any',
    rules: [{ exit_codes: [], match_all_exit_codes: true, recovery_script: null, max_retries: 3, memory_multiplier: null, runtime_multiplier: null }],
  });
  plan.jobs[0]!.failure_handler = 0;
  plan.actions.push({
    trigger_type: 'on_workflow_start', action_type: 'run_commands', jobs: [], commands: ['true'], scheduler: null, scheduler_type: null,
    num_allocations: 1, start_one_worker_per_node: false, max_parallel_jobs: null, persistent: false,
  });
  const wf = (await api.store.createWorkflowFromPlan(plan)).id;
  await api.store.initializeJobs(wf);
  await api.store.fireActionTriggers(wf);
  const node = await api.client.registerComputeNode(wf, {
    hostname: 'walker', pid: 1, num_cpus: 8, memory_gb: 16, num_gpus: 0, num_nodes: 1, scheduler_config_id: null,
    compute_node_type: 'test', lease_seconds: 600,
  });
  const claimed = await api.client.claimNextJobs(wf, 2, node.id);
  const byName = Object.fromEntries(claimed.jobs.map((j) => [j.name, j.id]));
  await api.client.startJob(byName.running!, 1, node.id);
  await api.client.createEvent(wf, 'walk', { n: 1 });
  const scheduler = (await api.client.listSlurmSchedulers(wf)).items[0]!.id;
  const action = (await api.store.listActions(wf))[0]!.id;
  const handler = (await api.store.listFailureHandlers(wf))[0]!.id;
  return { wf, node: node.id, running: byName.running!, pending: byName.pending!, scheduler, action, handler };
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
        t.deepEqual(op.security, [{ bearer: [] }]);
      }
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
  const called: string[] = [];
  for (const [path, item] of Object.entries<Record<string, Operation>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const s = await scene(api);
      const pathValues: Record<string, string> = {
        id: path.startsWith('/jobs') ? String(path.includes('start_job') ? s.pending : s.running)
          : path.startsWith('/compute_nodes') ? String(s.node)
          : path.startsWith('/failure_handlers') ? String(s.handler)
          : String(s.wf),
        action_id: String(s.action),
        run_id: '1',
        compute_node_id: String(s.node),
        status: 'completed',
        limit: '5',
      };
      const url = new URL(`${api.server.baseUrl}${path.replace(/\{(\w+)\}/g, (_m, n: string) => pathValues[n]!)}`);
      const queryValues: Record<string, string> = { workflow_id: String(s.wf), limit: '5', num_cpus: '8', memory_gb: '16' };
      for (const p of op.parameters ?? []) {
        if (p.in === 'query' && p.required) url.searchParams.set(p.name, queryValues[p.name]!);
      }
      let body: unknown;
      let contentType: string | undefined;
      if (op.requestBody) {
        const withExample = Object.entries(op.requestBody.content).find(([, m]) => m.example !== undefined);
        if (!withExample) {
          t.fail(`${method} ${path} has a request body but no example in its route declaration`);
          continue;
        }
        const [type, media] = withExample;
        contentType = type;
        body = media.example;
        // Examples name ids 1; point them at this scene's records.
        if (body && typeof body === 'object' && 'workflow_id' in body) body = { ...body, workflow_id: s.wf };
        if (body && typeof body === 'object' && (body as { scheduler_config_id?: unknown }).scheduler_config_id) {
          body = { ...body, scheduler_config_id: s.scheduler };
        }
        // Resource samples name their jobs; recovery of a workflow with running jobs is refused (409), its plan is not.
        if (body && typeof body === 'object' && Array.isArray((body as { samples?: unknown }).samples)) {
          body = { samples: (body as { samples: object[] }).samples.map((x) => ({ ...x, job_id: s.running })) };
        }
        if (op.operationId === 'recover_workflow') url.searchParams.set('dry_run', 'true');
      }
      const res = await api.http(method.toUpperCase(), url.toString(), {
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        headers: contentType ? { 'Content-Type': contentType } : {},
      });
      const [expected] = Object.keys(op.responses).filter((k) => k.startsWith('2'));
      t.is(String(res.status), expected, `${method} ${path}: ${res.text}`);
      const schema = op.responses[expected!]!.content['application/json'].schema;
      const check = schemas.validator(schema);
      t.true(check(res.json), `${op.operationId} answer does not match its schema: ${JSON.stringify(check.errors)} ${res.text.slice(0, 300)}`);
      called.push(op.operationId);
    }
  }
  t.deepEqual(called.sort(), apiRoutes().map((r) => r.operationId).sort());
});
