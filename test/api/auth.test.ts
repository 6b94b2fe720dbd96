/**
 * Bearer auth: off by default; with a token every route but the public ones (the seed's
 * mutating GET claim forms included) answers 401 unless `Authorization: Bearer <token>`
 * matches, and changes nothing; --public-read opens the reads only. Tokens never appear in the
 * server's logs. (Users, groups and admins: access.test.ts.)
 */
import test from 'ava';
import { apiRoutes } from '../../src/api/routes/index.js';
import { startTestApi, storeSnapshot } from '../support/api.js';
import { makePlan } from '../support/plans.js';

const TOKEN = 's3cret-Token_0123456789';

function concretePath(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'status' ? 'completed' : '1'));
}

test('without a token configured, mutating routes need no header', async (t) => {
  const { http } = await startTestApi(t);
  const res = await http('POST', '/workflows', { body: { name: 'open' } });
  t.is(res.status, 200);
});

test('with a token, every mutating route refuses missing or wrong credentials with 401 and changes nothing', async (t) => {
  const lines: string[] = [];
  // Hundreds of wrong tries from one address: the failed-sign-in limit is lifted for this test.
  const api = await startTestApi(t, { token: TOKEN, auth: { maxFailures: Number.MAX_SAFE_INTEGER }, logger: { info: (l) => lines.push(l), error: (l) => lines.push(l) } });
  const wf = await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }] }));
  await api.store.initializeJobs(wf.id);
  const before = await storeSnapshot(api.store, wf.id);
  const mutating = apiRoutes().filter((r) => r.mutating);
  t.true(mutating.length >= 15);
  t.true(mutating.some((r) => r.method === 'GET'), 'the GET claim forms are mutating');
  const bad: (Record<string, string> | undefined)[] = [
    undefined,
    { Authorization: 'Bearer wrong' },
    { Authorization: `Bearer ${TOKEN}x` },
    { Authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    { Authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` },
    { Authorization: TOKEN },
    { Authorization: 'Bearer ' },
  ];
  for (const route of mutating) {
    for (const headers of bad) {
      const res = await api.http(route.method, `${concretePath(route.path)}?workflow_id=${wf.id}&limit=1&num_cpus=1&memory_gb=1`, {
        headers,
        body: route.method === 'GET' ? undefined : { workflow_id: wf.id, name: 'x', num_cpus: 1, memory_gb: 1, hostname: 'h' },
      });
      t.is(res.status, 401, `${route.method} ${route.path} ${JSON.stringify(headers)}`);
      t.is(res.json.message, 'missing or invalid bearer token');
    }
  }
  t.deepEqual(await storeSnapshot(api.store, wf.id), before);
  t.is((await api.store.listWorkflows()).total, 1);
  t.false(lines.some((l) => l.includes(TOKEN) || l.includes('s3cret')), 'token leaked into the log');
  t.true(lines.some((l) => / 401 /.test(l)), 'requests are logged');
});

test('with a token, reads need it too unless reads are public; the right token is accepted (any case of "Bearer")', async (t) => {
  const closed = await startTestApi(t, { token: TOKEN });
  t.is((await closed.http('GET', '/workflows')).status, 401);
  t.is((await closed.http('GET', '/workflows')).headers.get('WWW-Authenticate'), 'Bearer realm="torc"');
  t.is((await closed.http('GET', '/workflows', { token: TOKEN })).status, 200);
  t.is((await closed.http('GET', '/openapi.json')).status, 200, 'the document is public');
  const api = await startTestApi(t, { token: TOKEN, auth: { publicRead: true } });
  t.is((await api.http('GET', '/workflows')).status, 200);
  t.is((await api.http('GET', '/openapi.json')).status, 200);
  const created = await api.http('POST', '/workflows', { body: { name: 'w' }, token: TOKEN });
  t.is(created.status, 200);
  const lower = await api.http('DELETE', `/workflows/${created.json.id}`, { headers: { Authorization: `bearer ${TOKEN}` } });
  t.is(lower.status, 200);
  // The typed client sends the token itself.
  const wf = await api.client.createWorkflow({ name: 'via-client' });
  t.is(wf.name, 'via-client');
});

test('the seed GET claim form needs the token too', async (t) => {
  const api = await startTestApi(t, { token: TOKEN });
  const wf = await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }] }));
  await api.store.initializeJobs(wf.id);
  const path = `/workflows/${wf.id}/claim_jobs_based_on_resources?limit=5&num_cpus=4&memory_gb=8`;
  t.is((await api.http('GET', path)).status, 401);
  t.is((await api.store.getStatus(wf.id)).counts.ready, 1);
  const ok = await api.http('GET', path, { token: TOKEN });
  t.is(ok.status, 200);
  t.is(ok.json.jobs.length, 1);
});
