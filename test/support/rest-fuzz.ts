/**
 * REST fuzzing, three ways:
 * - random requests (`requestArb`, first written in test/api/fuzz.test.ts): every route of the
 *   table with wrong types, bad ids, odd escapes, unknown parameters, broken and oversized
 *   bodies, other methods, odd paths and headers;
 * - a stateful walk (`stateFuzz`) over real workflows, jobs and compute nodes: claims, starts,
 *   completions, retries, heartbeats, cancels and resets with real ids, right and wrong run_ids,
 *   foreign and retired nodes, illegal statuses; a request with a stale run_id must never
 *   succeed; then every workflow is driven to completion, so nothing was left wedged;
 * - raw HTTP over a socket (`rawHttpProblems`): malformed request lines and headers, lying
 *   Content-Lengths, chunked bodies past the limit, pipelining, aborted uploads.
 * Every answer must be below 500 (JSON with a message when it is an error), and the server must
 * not log an internal error.
 */
import fc from 'fast-check';
import { connect } from 'node:net';
import { apiRoutes } from '../../src/api/routes/index.js';
import { rng } from './rng.js';

const routes = apiRoutes();

// ---- random requests -------------------------------------------------------------------

const rawValues = [
  '1', '2', '3', '4', '5', '0', '-1', '00', '1.5', '1e3', 'abc', '', 'true', 'null', 'NaN', 'Infinity',
  '99999999999999999999999', '9007199254740993', '%00', '%E0%A4%A', '%2F', '..', 'completed', 'failed',
  'ready', 'running', '5', '8', '10', '11', 'none', 'gpus_runtime_memory', 'PT1H', 'P1Y', '😀', ' 1', '0x1',
  '%2e%2e%2f%2e%2e', '__proto__', 'constructor', `${'9'.repeat(400)}`, '%C0%AE', '1;DROP TABLE jobs', "1' OR '1'='1",
];

export const valueArb = fc.oneof(
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
    { weight: 3, arbitrary: fc.constant(example === undefined ? undefined : typeof example === 'string' ? example : JSON.stringify(example)) },
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
        '{"__proto__": {"admin": true}, "name": "p"}', '{"constructor": {"prototype": {"x": 1}}}',
        `{"name": "${'n'.repeat(100_000)}"}`, '\ufeff{}', '{"a":1,"a":2}',
      ),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const weirdPath = fc.constantFrom(
  (p: string) => p,
  (p: string) => `${p}/`,
  (p: string) => p.replace(/^\//, '//'),
  (p: string) => `${p}/extra`,
  (p: string) => p.toUpperCase(),
  (p: string) => `${p}%2F..%2F..`,
  (p: string) => `/../..${p}`,
  (p: string) => `${p}/${'a'.repeat(3000)}`,
  (p: string) => `${p};jsessionid=1`,
);

const weirdHeaders = fc.constantFrom<Record<string, string>>(
  {},
  { Authorization: 'Bearer nonsense' },
  { Authorization: `Bearer ${'x'.repeat(6000)}` },
  { 'X-Forwarded-For': '1.2.3.4, ::1' },
  { Accept: 'text/html' },
  { 'Content-Encoding': 'gzip' },
  { 'Accept-Encoding': 'br, gzip, deflate' },
  { Origin: 'http://evil.example' },
  { 'X-HTTP-Method-Override': 'DELETE' },
);

export interface FuzzRequest {
  method: string;
  path: string;
  body: string | undefined;
  headers: Record<string, string>;
}

/** One random request to some route of the table. */
export const requestArb: fc.Arbitrary<FuzzRequest> = fc
  .record({
    route: fc.constantFrom(...routes),
    pathValues: fc.array(valueArb, { minLength: 4, maxLength: 4 }),
    query: queryArb,
    otherMethod: fc.oneof(
      { weight: 18, arbitrary: fc.constant(null) },
      { weight: 2, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') },
      { weight: 1, arbitrary: fc.constantFrom('OPTIONS', 'HEAD', 'PROPFIND', 'PURGE', 'Post') },
    ),
    contentType: fc.constantFrom('application/json', 'application/json', 'application/yaml', 'text/plain', 'application/xml', '', 'application/json; charset=latin1', 'multipart/form-data; boundary=x'),
    mangle: fc.oneof({ weight: 12, arbitrary: fc.constant((p: string) => p) }, { weight: 1, arbitrary: weirdPath }),
    headers: fc.oneof({ weight: 8, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: weirdHeaders }),
  })
  .chain((r) =>
    fc
      .tuple(
        bodyArb(r.route.body?.example),
        // Mostly the route's own query parameters (required ones usually present), sometimes junk.
        fc.oneof({ weight: 3, arbitrary: declaredQueryArb(r.route.params ?? []) }, { weight: 1, arbitrary: fc.constant(r.query) }),
      )
      .map(([body, query]): FuzzRequest => {
        let i = 0;
        const path = r.mangle(r.route.path.replace(/\{\w+\}/g, () => r.pathValues[i++]!));
        const qs = query.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&');
        const method = r.otherMethod ?? r.route.method;
        const headers: Record<string, string> = { ...r.headers, ...(r.contentType ? { 'Content-Type': r.contentType } : {}) };
        return { method, path: `${path}${qs ? `?${qs}` : ''}`, body: method === 'GET' || method === 'HEAD' ? undefined : body, headers };
      }),
  );

function declaredQueryArb(params: NonNullable<(typeof routes)[number]['params']>) {
  const query = params.filter((p) => p.in === 'query');
  return fc
    .tuple(...query.map((p) => fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), valueArb).map(([x, v]) => (x < (p.required ? 0.9 : 0.3) ? [p.name, v] : null))))
    .map((pairs) => pairs.filter((x): x is [string, string] => x !== null));
}

export interface Answer {
  status: number;
  text: string;
}

/** Sends one request; throws on a 5xx or an error without a JSON message. */
export async function sendChecked(baseUrl: string, r: FuzzRequest): Promise<Answer> {
  const url = new URL(`${baseUrl}${r.path}`);
  const res = await fetch(url, { method: r.method, headers: r.headers, body: r.body });
  const text = await res.text();
  // HEAD answers carry no body; OPTIONS is answered by the router with an Allow header only.
  // A path that climbs out of the API base ("/../../workflows/1") is normalized by the client
  // and lands on the dashboard, whose pages are HTML, not API answers (seed 716906556 found one).
  const dashboardPage = !url.pathname.startsWith(new URL(baseUrl).pathname) && res.status < 400 && (res.headers.get('content-type') ?? '').startsWith('text/html');
  const bodyless = r.method === 'HEAD' || (r.method === 'OPTIONS' && res.status < 300 && text === '') || dashboardPage;
  checkAnswer(`${r.method} ${r.path.slice(0, 200)}`, res.status, text, bodyless);
  return { status: res.status, text };
}

export function checkAnswer(what: string, status: number, text: string, bodyless = false): void {
  if (status >= 500) throw new Error(`${what} → ${status} ${text.slice(0, 500)}`);
  if (bodyless) return;
  let json: { message?: unknown };
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${what} → ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (status >= 400 && typeof json?.message !== 'string') throw new Error(`${what} → ${status} without a message: ${text.slice(0, 300)}`);
}

// ---- the stateful walk -----------------------------------------------------------------

const SPEC = (n: number) => `name: fuzz-${n}
resource_requirements:
  - {name: small, num_cpus: 1, memory: 1g, runtime: PT1H}
  - {name: big, num_cpus: 4, memory: 8g, num_gpus: 1, runtime: PT2H}
failure_handlers:
  - name: retry_twice
    rules: [{exit_codes: [3], max_retries: 2}]
jobs:
  - {name: "a_{i}", command: "true", resource_requirements: small, parameters: {i: "1:6"}, failure_handler: retry_twice}
  - {name: "b_{i}", command: "true", resource_requirements: big, depends_on: ["a_{i}"], parameters: {i: "1:6"}, cancel_on_blocking_job_failure: ${n % 2 === 0}}
  - {name: gather, command: "true", depends_on_regexes: ["^b_"]}
`;

interface Model {
  workflows: { id: number; runId: number }[];
  nodes: { id: number; workflowId: number }[];
  jobs: { id: number; workflowId: number }[];
}

export interface StateFuzzOutcome {
  ops: number;
  statuses: Record<number, number>;
  /** Requests with a stale or future run_id (each refused). */
  wrongRunIds: number;
  problems: string[];
}

const STATUSES = ['completed', 'failed', 'canceled', 'terminated', 'pending_failed', 'ready', 'running', '5', '6', '8', '10', '11', '0', 'bogus'];

/**
 * `ops` random state-machine requests over real records, then a drain that must complete every
 * workflow that is not canceled. `token` is sent when the server requires one.
 */
export async function stateFuzz(baseUrl: string, options: { ops: number; seed: number; token?: string }): Promise<StateFuzzOutcome> {
  const rand = rng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number) => rand() < p;
  const statuses: Record<number, number> = {};
  const problems: string[] = [];
  let wrongRunIds = 0;
  const auth: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'Content-Type': typeof body === 'string' ? 'application/yaml' : 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    try {
      checkAnswer(`${method} ${path}`, res.status, text);
    } catch (err) {
      problems.push((err as Error).message);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json };
  };

  const model: Model = { workflows: [], nodes: [], jobs: [] };
  const addWorkflow = async (n: number) => {
    const created = await call('POST', '/workflow_specs', SPEC(n));
    if (created.status !== 201) throw new Error(`setup: ${JSON.stringify(created.json)}`);
    const id = created.json.workflow_id as number;
    await call('POST', `/workflows/${id}/initialize_jobs`);
    model.workflows.push({ id, runId: 1 });
    const jobs = await call('GET', `/jobs?workflow_id=${id}&limit=1000`);
    for (const j of jobs.json.items) model.jobs.push({ id: j.id, workflowId: id });
    await addNode(id);
  };
  const addNode = async (workflowId: number) => {
    const res = await call('POST', '/compute_nodes', {
      workflow_id: workflowId, hostname: `fuzz${model.nodes.length}`, pid: 1, num_cpus: 8, memory_gb: 32, num_gpus: 2, num_nodes: 1,
      compute_node_type: 'fuzz', lease_seconds: 3600,
    });
    if (res.status === 200) model.nodes.push({ id: res.json.id, workflowId });
  };
  for (let n = 0; n < 3; n++) await addWorkflow(n);

  const runIdFor = (workflowId: number) => model.workflows.find((w) => w.id === workflowId)?.runId ?? 1;
  /** Mostly the right run id, sometimes a stale or future one (which must be refused). */
  const runIdArg = (workflowId: number): { runId: number; wrong: boolean } => {
    const right = runIdFor(workflowId);
    if (chance(0.8)) return { runId: right, wrong: false };
    const runId = chance(0.5) ? Math.max(0, right - 1 - Math.floor(rand() * 2)) : right + 1 + Math.floor(rand() * 3);
    return { runId, wrong: runId !== right };
  };
  const nodeFor = (workflowId: number) => {
    const own = model.nodes.filter((nd) => nd.workflowId === workflowId);
    if (own.length > 0 && chance(0.85)) return pick(own).id;
    return chance(0.5) && model.nodes.length > 0 ? pick(model.nodes).id : pick([0, 999_999, -1]);
  };
  const result = () =>
    chance(0.9)
      ? { return_code: pick([0, 0, 0, 1, 3, 137]), exec_time_minutes: rand() * 5, completion_time: new Date().toISOString() }
      : pick<unknown>([{}, { return_code: 'zero' }, { return_code: 0, exec_time_minutes: -1, completion_time: 'x' }, null, [1]]);

  let ops = 0;
  while (ops < options.ops) {
    ops++;
    const job = pick(model.jobs);
    const wf = chance(0.9) ? job.workflowId : pick(model.workflows).id;
    const roll = rand();
    if (roll < 0.16) {
      const node = nodeFor(wf);
      await call('POST', `/workflows/${wf}/claim_next_jobs?limit=${pick([1, 2, 5, 0, 100])}${chance(0.85) ? `&compute_node_id=${node}` : ''}`);
    } else if (roll < 0.28) {
      const node = nodeFor(wf);
      await call('POST', `/workflows/${wf}/claim_jobs_based_on_resources/${pick([1, 4, 20])}`, chance(0.9)
        ? { nodes: [{ name: 'n0', num_cpus: pick([1, 4, 8]), memory_gb: pick([1, 8, 32]), num_gpus: pick([0, 1, 2]) }], compute_node_id: node }
        : pick<unknown>([{ num_cpus: 4, memory_gb: 8 }, { nodes: [] }, { nodes: [{ name: 'a' }] }, 'x']));
    } else if (roll < 0.48) {
      const { runId, wrong } = runIdArg(job.workflowId);
      const res = await call(pick(['PUT', 'POST']), `/jobs/${job.id}/start_job/${runId}/${nodeFor(job.workflowId)}`);
      if (wrong) {
        wrongRunIds++;
        if (res.status < 400) problems.push(`start_job of job ${job.id} with stale run_id ${runId} (current ${runIdFor(job.workflowId)}) answered ${res.status}`);
      }
    } else if (roll < 0.72) {
      const { runId, wrong } = runIdArg(job.workflowId);
      const res = await call('POST', `/jobs/${job.id}/complete_job/${pick(STATUSES)}/${runId}`, result());
      if (wrong) {
        wrongRunIds++;
        if (res.status < 400) problems.push(`complete_job of job ${job.id} with stale run_id ${runId} (current ${runIdFor(job.workflowId)}) answered ${res.status}`);
      }
    } else if (roll < 0.78) {
      const { runId, wrong } = runIdArg(job.workflowId);
      const res = await call('POST', `/jobs/${job.id}/retry/${runId}`, { ...(result() as object), return_code: pick([3, 3, 1, 0]) });
      if (wrong) {
        wrongRunIds++;
        if (res.status < 400) problems.push(`retry of job ${job.id} with stale run_id ${runId} answered ${res.status}`);
      }
    } else if (roll < 0.84) {
      const node = chance(0.8) && model.nodes.length > 0 ? pick(model.nodes).id : 999_999;
      await call('POST', `/compute_nodes/${node}/${chance(0.8) ? 'heartbeat' : 'deactivate'}`);
    } else if (roll < 0.88) {
      await addNode(wf);
    } else if (roll < 0.92) {
      await call('POST', `/workflows/${wf}/initialize_jobs`);
    } else if (roll < 0.95) {
      const res = await call('POST', `/workflows/${wf}/reset_job_status${chance(0.5) ? '?failed_only=true' : ''}`);
      if (res.status === 200) model.workflows.find((w) => w.id === wf)!.runId = res.json.run_id;
    } else if (roll < 0.965) {
      await call(pick(['PUT', 'POST']), `/workflows/${wf}/cancel`);
    } else if (roll < 0.975 && model.workflows.length > 1) {
      // Rarely a workflow goes away entirely; a fresh one takes its place.
      await call('DELETE', `/workflows/${wf}`);
      model.workflows = model.workflows.filter((w) => w.id !== wf);
      model.jobs = model.jobs.filter((j) => j.workflowId !== wf);
      model.nodes = model.nodes.filter((nd) => nd.workflowId !== wf);
      await addWorkflow(ops);
    } else {
      await call('GET', pick([`/workflows/${wf}/status`, `/jobs/${job.id}`, `/results?workflow_id=${wf}`, `/jobs?workflow_id=${wf}&status=${pick(STATUSES)}`, `/events?workflow_id=${wf}`]));
    }
  }

  // Drain: every workflow that is not canceled must still run to completion.
  for (const w of model.workflows) {
    const status = await call('GET', `/workflows/${w.id}/status`);
    if (status.json?.is_canceled) continue;
    for (const nd of model.nodes.filter((x) => x.workflowId === w.id)) await call('POST', `/compute_nodes/${nd.id}/deactivate`);
    // Jobs claimed without a node (torc-style) have no lease to expire: a reset of failed work
    // does not cover them either, so start the run over when any are left.
    const stuck = await call('GET', `/jobs?workflow_id=${w.id}&status=pending&limit=1`);
    // A job completed as pending_failed keeps its dependents blocked until someone classifies
    // it (torc semantics): what a user does is reset the failed work (reset_job_status with
    // failed_only), which includes it. A reset the server refuses is a problem in itself: the
    // drain once sent the failed_only reset to reset_status (the workflow reset, which has no
    // such parameter), got a 400, went on with an undefined run_id and reported the workflow as
    // wedged (seed 502380).
    const reset =
      stuck.json?.total_count > 0 ? 'reset_job_status' : status.json?.counts?.pending_failed > 0 ? 'reset_job_status?failed_only=true' : null;
    if (reset) {
      const res = await call('POST', `/workflows/${w.id}/${reset}`);
      if (res.status !== 200 || !Number.isInteger(res.json?.run_id)) {
        problems.push(`drain of workflow ${w.id}: POST ${reset} answered ${res.status} ${JSON.stringify(res.json)}`);
        continue;
      }
      w.runId = res.json.run_id;
    }
    await call('POST', `/workflows/${w.id}/initialize_jobs`);
    const node = await call('POST', '/compute_nodes', {
      workflow_id: w.id, hostname: 'drain', pid: 1, num_cpus: 64, memory_gb: 256, num_gpus: 8, num_nodes: 1, compute_node_type: 'drain', lease_seconds: 3600,
    });
    for (let round = 0; round < 200; round++) {
      const complete = await call('GET', `/workflows/${w.id}/is_complete`);
      if (complete.json?.is_complete) break;
      const claimed = await call('POST', `/workflows/${w.id}/claim_next_jobs?limit=50&compute_node_id=${node.json.id}`);
      const jobs = (claimed.json?.jobs ?? []) as { id: number }[];
      if (jobs.length === 0 && round > 0) {
        problems.push(`workflow ${w.id} is wedged: ${JSON.stringify((await call('GET', `/workflows/${w.id}/status`)).json?.counts)}`);
        break;
      }
      for (const j of jobs) {
        // The drain is the one runner left: its own starts and completions must go through.
        const started = await call('PUT', `/jobs/${j.id}/start_job/${w.runId}/${node.json.id}`);
        const done = await call('POST', `/jobs/${j.id}/complete_job/completed/${w.runId}`, { return_code: 0, exec_time_minutes: 0, completion_time: new Date().toISOString() });
        for (const [what, res] of [['start_job', started], ['complete_job', done]] as const) {
          if (res.status !== 200) problems.push(`drain of workflow ${w.id}: ${what} of job ${j.id} (run ${w.runId}) answered ${res.status} ${JSON.stringify(res.json)}`);
        }
      }
    }
  }
  return { ops, statuses, wrongRunIds, problems };
}

// ---- raw HTTP --------------------------------------------------------------------------

/**
 * Sends raw bytes; resolves with the status codes of the answers that came back (none when the
 * server just closed) once the server has closed the connection, which it does after answering
 * every one of the raw cases. `waitMs` is only a deadline for a server that never closes: a
 * fixed 3 s wait for the answer once failed as "no answer" on a busy machine.
 */
function rawExchange(port: number, chunks: (string | Buffer)[], options: { endAfter?: boolean; waitMs?: number } = {}): Promise<number[]> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      socket.destroy();
      resolve([...data.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1])));
    };
    const timer = setTimeout(done, options.waitMs ?? 60_000);
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      done();
    });
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
      if (options.endAfter) socket.end();
    });
  });
}

export interface RawCase {
  name: string;
  chunks: (string | Buffer)[];
  /** Statuses the answers may have (every answer must be one of them). */
  expect: number[];
  /** The server may also close without answering (it did not get a whole request). */
  mayClose?: boolean;
  endAfter?: boolean;
}

/** Hostile raw requests; `limit` is the server's body limit. */
export function rawCases(limit: number): RawCase[] {
  const base = '/torc-service/v1';
  const big = 'x'.repeat(limit + 10);
  const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
  return [
    { name: 'garbage request line', chunks: ['HELLO WORLD\r\n\r\n'], expect: [400] },
    { name: 'binary noise', chunks: [Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10])], expect: [400] },
    { name: 'HTTP/0.9 style', chunks: [`GET ${base}/ping\r\n\r\n`], expect: [200, 400] },
    { name: 'no Host, HTTP/1.0', chunks: [`GET ${base}/ping HTTP/1.0\r\n\r\n`], expect: [200] },
    { name: 'header without colon', chunks: [`GET ${base}/ping HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n`], expect: [400] },
    { name: 'control character in header', chunks: [`GET ${base}/ping HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n`], expect: [400] },
    { name: 'huge header', chunks: [`GET ${base}/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`], expect: [431] },
    { name: 'huge URL', chunks: [`GET ${base}/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`], expect: [431, 404, 414] },
    { name: 'negative Content-Length', chunks: [`POST ${base}/workflows HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n`], expect: [400] },
    { name: 'two Content-Lengths', chunks: [`POST ${base}/workflows HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`], expect: [400] },
    { name: 'Content-Length and chunked', chunks: [`POST ${base}/workflows HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], expect: [400] },
    { name: 'declared too large', chunks: [`POST ${base}/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${limit + 1}\r\n\r\n{`], expect: [413] },
    { name: 'chunked past the limit', chunks: [`POST ${base}/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, chunk(big), '0\r\n\r\n'], expect: [413] },
    { name: 'bad chunk size', chunks: [`POST ${base}/workflows HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`], expect: [400] },
    { name: 'body shorter than declared, then close', chunks: [`POST ${base}/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name": "x"`], expect: [400], mayClose: true, endAfter: true },
    { name: 'pipelined requests', chunks: [`GET ${base}/ping HTTP/1.1\r\nHost: x\r\n\r\nGET ${base}/version HTTP/1.1\r\nHost: x\r\n\r\nGET ${base}/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], expect: [200, 200, 404] },
    { name: 'absolute-form target', chunks: [`GET http://evil.example${base}/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], expect: [200] },
    { name: 'asterisk target', chunks: ['OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], expect: [404, 405, 400] },
    { name: 'CONNECT', chunks: ['CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n'], expect: [400, 404, 405], mayClose: true },
    { name: 'TRACE', chunks: [`TRACE ${base}/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], expect: [405, 404] },
    { name: 'traversal in path', chunks: [`GET ${base}/../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], expect: [404] },
    { name: 'encoded NUL in path', chunks: [`GET ${base}/workflows/1%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], expect: [400, 404] },
    { name: 'JSON body on a GET', chunks: [`GET ${base}/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{`], expect: [200, 400] },
    { name: 'Expect: 100-continue past the limit', chunks: [`POST ${base}/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${limit * 4}\r\nExpect: 100-continue\r\n\r\n`], expect: [100, 413, 417] },
  ];
}

/** Runs every raw case; problems with the answers. */
export async function rawHttpProblems(port: number, limit: number): Promise<{ sent: number; problems: string[] }> {
  const problems: string[] = [];
  const cases = rawCases(limit);
  for (const c of cases) {
    const got = await rawExchange(port, c.chunks, { endAfter: c.endAfter });
    if (got.some((s) => s >= 500)) problems.push(`${c.name}: ${got.join(', ')}`);
    else if (got.some((s) => !c.expect.includes(s))) problems.push(`${c.name}: answered ${got.join(', ')}, expected one of ${c.expect.join(', ')}`);
    else if (got.length === 0 && !c.mayClose) problems.push(`${c.name}: no answer`);
  }
  return { sent: cases.length, problems };
}


/**
 * Every route that reads a body, called with valid path values and a body one byte past the
 * limit (declared, and streamed without a length): each answer must be 413.
 */
export async function oversizeProblems(baseUrl: string, limit: number, ids: { workflow: number; job: number; node: number }): Promise<{ sent: number; problems: string[] }> {
  const problems: string[] = [];
  let sent = 0;
  const fill = (path: string) =>
    path.replace(/\{(\w+)\}/g, (_m, name: string) =>
      name === 'status' ? 'completed' : name === 'run_id' ? '1' : name === 'compute_node_id' ? String(ids.node) : name === 'limit' ? '5' : String(ids.workflow));
  for (const route of routes.filter((r) => r.body)) {
    const path = fill(route.path).replace(/^\/jobs\/\d+/, `/jobs/${ids.job}`);
    const query = (route.params ?? []).filter((p) => p.in === 'query' && p.required).map((p) => `${p.name}=1`).join('&');
    const url = `${baseUrl}${path}${query ? `?${query}` : ''}`;
    const body = `{"x": "${'y'.repeat(limit)}"}`;
    const contentType = route.body!.kind === 'text' ? 'application/yaml' : 'application/json';
    for (const streamed of [false, true]) {
      const init: RequestInit & { duplex?: 'half' } = { method: route.method, headers: { 'Content-Type': contentType } };
      if (streamed) {
        // A stream has no Content-Length: the server must stop reading at the limit by itself.
        init.body = new ReadableStream({
          start(controller) {
            for (let i = 0; i < body.length; i += 16_384) controller.enqueue(new TextEncoder().encode(body.slice(i, i + 16_384)));
            controller.close();
          },
        });
        init.duplex = 'half';
      } else {
        init.body = body;
      }
      let status = 0;
      try {
        const res = await fetch(url, init);
        status = res.status;
        await res.text();
      } catch (err) {
        // The server may close the connection after its 413 while the rest is still streaming.
        if (!streamed) problems.push(`${route.method} ${route.path}: ${(err as Error).message}`);
        else status = 413;
      }
      sent++;
      if (status !== 413) problems.push(`${route.method} ${route.path} with ${limit + 8} bytes${streamed ? ' (streamed)' : ''}: ${status}, expected 413`);
    }
  }
  return { sent, problems };
}
