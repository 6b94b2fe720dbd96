/**
 * The HTTP layer over a real server: unknown routes and methods, malformed requests of every
 * kind answered 4xx with a JSON body naming the field (never 5xx), body size limit, media types.
 */
import test from 'ava';
import { startTestApi, storeSnapshot } from '../support/api.js';
import { makePlan } from '../support/plans.js';
import { waitFor } from '../support/procs.js';

async function withWorkflow(t: Parameters<typeof startTestApi>[0]) {
  const api = await startTestApi(t);
  const wf = await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }] }));
  await api.store.initializeJobs(wf.id);
  return { api, wf };
}

test('ping and version answer JSON', async (t) => {
  const { http } = await startTestApi(t);
  const ping = await http('GET', '/ping');
  t.is(ping.status, 200);
  t.deepEqual(ping.json, { status: 'ok' });
  t.regex(ping.headers.get('content-type') ?? '', /application\/json/);
  const version = await http('GET', '/version');
  t.is(version.status, 200);
  t.is(version.json.api_version, 'v1');
});

test('unknown route is 404 and wrong method is 405, both as JSON', async (t) => {
  const { http, server } = await startTestApi(t);
  const missing = await http('GET', '/no_such_thing');
  t.is(missing.status, 404);
  t.regex(missing.json.message, /no route GET/);
  const outside = await http('POST', `${server.url}/admin`, { body: {} });
  t.is(outside.status, 404);
  t.is(typeof outside.json.message, 'string');
  const wrong = await http('DELETE', '/ping');
  t.is(wrong.status, 405);
  t.regex(wrong.json.message, /not allowed/);
  t.regex(wrong.headers.get('allow') ?? '', /GET/);
});

test('path ids: strings, negatives, fractions, huge numbers and bad escapes are 400 naming the parameter', async (t) => {
  const { api } = await withWorkflow(t);
  for (const bad of ['abc', '-1', '1.5', '1e3', '99999999999999999999', 'NaN', '0x10', '%20']) {
    const res = await api.http('GET', `/workflows/${bad}`);
    t.is(res.status, 400, bad);
    t.is(res.json.field, 'id', bad);
  }
  const escape = await api.http('GET', '/workflows/%E0%A4%A');
  t.is(escape.status, 400);
  const unknown = await api.http('GET', '/workflows/987654');
  t.is(unknown.status, 404);
  t.regex(unknown.json.message, /workflow 987654 not found/);
});

test('query parameters are typed, single and known', async (t) => {
  const { api, wf } = await withWorkflow(t);
  const cases: [string, string][] = [
    [`/jobs?workflow_id=${wf.id}&limit=ten`, 'limit'],
    [`/jobs?workflow_id=${wf.id}&limit=-5`, 'limit'],
    [`/jobs?workflow_id=${wf.id}&offset=1&offset=2`, 'offset'],
    [`/jobs?workflow_id=${wf.id}&status=finished`, 'status'],
    [`/jobs?workflow_id=${wf.id}&stauts=ready`, 'stauts'],
    ['/jobs', 'workflow_id'],
    [`/workflows/${wf.id}/reset_job_status?failed_only=maybe`, 'failed_only'],
  ];
  for (const [path, field] of cases) {
    const method = path.includes('reset_job_status') ? 'POST' : 'GET';
    const res = await api.http(method, path);
    t.is(res.status, 400, path);
    t.is(res.json.field, field, path);
  }
  // A limit above the maximum is clamped, as torc does.
  const big = await api.http('GET', `/jobs?workflow_id=${wf.id}&limit=100000000`);
  t.is(big.status, 200);
  t.is(big.json.limit, 10_000);
});

test('malformed and mistyped JSON bodies are 400 naming the field; nothing is stored', async (t) => {
  const { api, wf } = await withWorkflow(t);
  const before = await storeSnapshot(api.store, wf.id);
  const cases: [unknown, string][] = [
    ['{"name": ', 'body'],
    ['[1, 2', 'body'],
    [{ name: 5 }, 'body.name'],
    [{}, 'body.name'],
    [{ name: 'x', jobs_sort_method: 'fastest' }, 'body.jobs_sort_method'],
    ['{"name": "x", "compute_node_wait_for_new_jobs_seconds": 1e400}', 'body'],
    [{ name: 'x', compute_node_wait_for_new_jobs_seconds: 'soon' }, 'body.compute_node_wait_for_new_jobs_seconds'],
    [[], 'body'],
    ['null', 'body'],
  ];
  for (const [body, field] of cases) {
    const res = await api.http('POST', '/workflows', { body });
    t.is(res.status, 400, JSON.stringify(body));
    t.true(typeof res.json.message === 'string' && res.json.message.length > 0);
    t.true((res.json.field ?? '').startsWith(field), `${JSON.stringify(body)} → ${res.json.field}`);
  }
  t.is((await api.store.listWorkflows()).total, 1);
  t.deepEqual(await storeSnapshot(api.store, wf.id), before);
});

test('a required body that is absent is 400; a non-JSON media type is 415', async (t) => {
  const { api } = await withWorkflow(t);
  const empty = await api.http('POST', '/workflows');
  t.is(empty.status, 400);
  t.is(empty.json.field, 'body');
  const xml = await api.http('POST', '/workflows', { body: '<name>x</name>', headers: { 'Content-Type': 'application/xml' } });
  t.is(xml.status, 415);
  const notUtf8 = await fetch(`${api.server.baseUrl}/workflows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
  });
  t.is(notUtf8.status, 400);
});

test('a body over the limit is 413 (declared length or streamed) and nothing is stored', async (t) => {
  const api = await startTestApi(t, { bodyLimitBytes: 1024 });
  const big = JSON.stringify({ name: 'x'.repeat(4096) });
  const declared = await api.http('POST', '/workflows', { body: big });
  t.is(declared.status, 413);
  t.is(declared.json.field, 'body');
  t.regex(declared.json.message, /1024 bytes/);
  // Chunked upload without Content-Length: the limit applies while reading.
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(512)));
      controller.enqueue(new TextEncoder().encode('{"name":"y"}'));
      controller.close();
    },
  });
  const chunked = await fetch(`${api.server.baseUrl}/workflows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  t.is(chunked.status, 413);
  // A huge declared body is refused without reading it all.
  const huge = await api.http('POST', '/workflows', { body: JSON.stringify({ name: 'z'.repeat(20 * 1024 * 1024) }) });
  t.is(huge.status, 413);
  t.is((await api.store.listWorkflows()).total, 0);
  // The server is still fine afterwards.
  t.is((await api.http('POST', '/workflows', { body: { name: 'small' } })).status, 200);
});

test('a body sent to a route without one must still be JSON', async (t) => {
  const { api, wf } = await withWorkflow(t);
  const ok = await api.http('POST', `/workflows/${wf.id}/initialize_jobs`, { body: {} });
  t.is(ok.status, 200);
  const bad = await api.http('POST', `/workflows/${wf.id}/initialize_jobs`, { body: 'not json' });
  t.is(bad.status, 400);
});

test('a client that hangs up in the middle of its body is a client error, not an internal one (nothing logged, nothing stored)', async (t) => {
  const { connect } = await import('node:net');
  const errors: string[] = [];
  const done: string[] = [];
  const api = await startTestApi(t, { logger: { info: (l) => done.push(l), error: (l) => errors.push(l) } });
  const answer = await new Promise<string>((resolve) => {
    const socket = connect(api.server.port, '127.0.0.1', () => {
      socket.end('POST /torc-service/v1/workflows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name": "cut');
    });
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', () => undefined);
  });
  t.notRegex(answer, /^HTTP\/1\.1 5/);
  // The handler runs on after the client left; its request line is logged once it has ended
  // (after any error line), so wait for that line, then look at the errors.
  await waitFor(() => done.some((l) => l.startsWith('POST /torc-service/v1/workflows ')), 60_000, 'the request to be handled');
  t.regex(done.find((l) => l.startsWith('POST /torc-service/v1/workflows '))!, / 4\d\d /);
  t.deepEqual(errors, []);
  t.is((await api.store.listWorkflows()).total, 0);
});
