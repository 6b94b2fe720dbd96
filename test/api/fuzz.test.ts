/**
 * REST fuzz: random and malformed requests against every route of the table (wrong types,
 * bad ids, odd escapes, unknown parameters, broken and oversized bodies, illegal transitions,
 * wrong run ids). No answer may be 5xx or non-JSON, the server stays up, and afterwards the
 * database passes SQLite's checks and the job invariants. TORC_FUZZ_REQUESTS raises the count
 * (the stress suite runs 10k+).
 */
import test from 'ava';
import fc from 'fast-check';
import { apiRoutes } from '../../src/api/routes/index.js';
import { JobStatus } from '../../src/store/status.js';
import { startTestApi } from '../support/api.js';
import { makePlan } from '../support/plans.js';

const REQUESTS = Number(process.env.TORC_FUZZ_REQUESTS ?? 1500);

const routes = apiRoutes();

const rawValues = [
  '1', '2', '3', '4', '5', '0', '-1', '00', '1.5', '1e3', 'abc', '', 'true', 'null', 'NaN', 'Infinity',
  '99999999999999999999999', '9007199254740993', '%00', '%E0%A4%A', '%2F', '..', 'completed', 'failed',
  'ready', 'running', '5', '8', '10', '11', 'none', 'gpus_runtime_memory', 'PT1H', 'P1Y', '😀', ' 1', '0x1',
];

const valueArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...rawValues) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 24 }).map(String) },
  { weight: 1, arbitrary: fc.integer({ min: -3, max: 40 }).map(String) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)) },
);

const queryNames = [...new Set(routes.flatMap((r) => (r.params ?? []).filter((p) => p.in === 'query').map((p) => p.name)))];

const queryArb = fc.array(
  fc.tuple(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...queryNames) }, { weight: 1, arbitrary: fc.constantFrom('bogus', 'limit[]', '__proto__') }), valueArb),
  { maxLength: 5 },
);

const jsonValueArb = fc.jsonValue({ maxDepth: 3 });

const bodyArb = (example: unknown) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(example === undefined ? undefined : JSON.stringify(example)) },
    {
      weight: 4,
      // The example with one field replaced by a random JSON value or removed.
      arbitrary: fc.tuple(fc.nat(), jsonValueArb, fc.boolean()).map(([i, v, drop]) => {
        if (!example || typeof example !== 'object') return JSON.stringify(v);
        const copy: Record<string, unknown> = { ...(example as Record<string, unknown>) };
        const keys = Object.keys(copy);
        const key = keys[i % keys.length]!;
        if (drop) delete copy[key];
        else copy[key] = v;
        return JSON.stringify(copy);
      }),
    },
    { weight: 2, arbitrary: jsonValueArb.map((v) => JSON.stringify(v)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{', '{"a":', 'nul', '\u0000', '{"num_cpus": 1e400, "memory_gb": 1}', '{"num_cpus": -0, "memory_gb": -1e-300}',
        `${'['.repeat(3000)}${']'.repeat(3000)}`, '{"nodes": [{"name": "a", "num_cpus": 1, "memory_gb": 1e308}]}',
        '{"return_code": 2147483648, "exec_time_minutes": 1, "completion_time": "x"}', 'x'.repeat(70_000),
      ),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const requestArb = fc
  .record({
    route: fc.constantFrom(...routes),
    pathValues: fc.array(valueArb, { minLength: 4, maxLength: 4 }),
    query: queryArb,
    otherMethod: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') }),
    contentType: fc.constantFrom('application/json', 'application/json', 'application/yaml', 'text/plain', 'application/xml', ''),
  })
  .chain((r) =>
    fc
      .tuple(
        bodyArb(r.route.body?.example),
        // Mostly the route's own query parameters (required ones usually present), sometimes junk.
        fc.oneof(
          { weight: 3, arbitrary: declaredQueryArb(r.route.params ?? []) },
          { weight: 1, arbitrary: fc.constant(r.query) },
        ),
      )
      .map(([body, query]) => ({ ...r, body, query })),
  );

function declaredQueryArb(params: NonNullable<(typeof routes)[number]['params']>) {
  const query = params.filter((p) => p.in === 'query');
  return fc
    .tuple(...query.map((p) => fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), valueArb).map(([x, v]) => (x < (p.required ? 0.9 : 0.3) ? [p.name, v] : null))))
    .map((pairs) => pairs.filter((x): x is [string, string] => x !== null));
}

test(`REST fuzz: ${REQUESTS} random or malformed requests → no 5xx, server up, database consistent`, async (t) => {
  t.timeout(600_000);
  const api = await startTestApi(t, { bodyLimitBytes: 64 * 1024, logger: { info() {}, error: (l) => t.log(l) } });
  // A few workflows in various states, so that many random ids hit real records.
  for (let w = 0; w < 3; w++) {
    const wf = await api.store.createWorkflowFromPlan(
      makePlan({
        schedulers: ['s1'],
        classes: [{ name: 'big', num_cpus: 4 }],
        jobs: Array.from({ length: 8 }, (_, i) => ({ name: `j${i}`, rc: i % 2 ? 'big' : undefined, after: i > 4 ? [`j${i - 5}`] : [] })),
      }),
    );
    await api.store.initializeJobs(wf.id);
    const node = await api.client.registerComputeNode(wf.id, {
      hostname: 'h', pid: 1, num_cpus: 8, memory_gb: 8, num_gpus: 0, num_nodes: 1, scheduler_config_id: null,
      compute_node_type: 'fuzz', lease_seconds: 600,
    });
    const claimed = await api.client.claimNextJobs(wf.id, 3, node.id);
    await api.client.startJob(claimed.jobs[0]!.id, 1, node.id);
  }
  const histogram = new Map<number, number>();
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      let i = 0;
      const path = r.route.path.replace(/\{\w+\}/g, () => r.pathValues[i++]!);
      const qs = r.query.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&');
      const method = r.otherMethod ?? r.route.method;
      const headers: Record<string, string> = r.contentType ? { 'Content-Type': r.contentType } : {};
      const res = await fetch(`${api.server.baseUrl}${path}${qs ? `?${qs}` : ''}`, {
        method,
        headers,
        body: method === 'GET' || r.body === undefined ? undefined : r.body,
      });
      const text = await res.text();
      sent++;
      histogram.set(res.status, (histogram.get(res.status) ?? 0) + 1);
      if (res.status >= 500) throw new Error(`${method} ${path}?${qs} → ${res.status} ${text}`);
      const json = JSON.parse(text);
      if (res.status >= 400 && typeof json.message !== 'string') throw new Error(`${method} ${path} → ${res.status} without a message: ${text}`);
    }),
    { numRuns: REQUESTS },
  );
  t.log(`${sent} requests; statuses ${JSON.stringify(Object.fromEntries([...histogram].sort((a, b) => a[0] - b[0])))}`);
  t.true([...histogram.keys()].some((s) => s < 300), 'some requests succeeded');
  t.true([...histogram.keys()].some((s) => s === 400), 'some requests were refused');

  // The server is still up, and the database is consistent.
  t.is((await api.http('GET', '/ping')).status, 200);
  t.deepEqual(await api.store.db.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
  t.deepEqual(await api.store.db.all('PRAGMA foreign_key_check'), []);
  const workflows = await api.store.listWorkflows({ limit: 10_000 });
  for (const wf of workflows.items) {
    const jobs = await api.store.listJobs(wf.id, { limit: 10_000 });
    const status = await api.store.getStatus(wf.id);
    t.is(Object.values(status.counts).reduce((a, b) => a + b, 0), jobs.total);
    for (const job of jobs.items) {
      t.true(job.status >= JobStatus.uninitialized && job.status <= JobStatus.pending_failed);
      if (job.status === JobStatus.running) t.not(job.compute_node_id, null, `running job ${job.id} has a node`);
    }
    const results = await api.store.listResults(wf.id, { limit: 10_000 });
    const ids = new Set(jobs.items.map((j) => j.id));
    for (const r of results.items) t.true(ids.has(r.job_id));
  }
});
