/**
 * Users and access, walked over the served OpenAPI document: every operation called as an
 * anonymous caller, as another user, as a read-only group member, as a group member, as the
 * workflow's owner and as an admin, each in a scene where it succeeds for those allowed. Each
 * gets exactly what it should: 401 before signing in, 404 for workflows it may not see (ids do
 * not leak), 403 for what it may see but not do, and the documented answer otherwise — with the
 * jobs' env values masked for the read-only member. Refused calls change nothing.
 */
import test from 'ava';
import bcrypt from 'bcryptjs';
import { parseHtpasswd } from '../../src/api/htpasswd.js';
import { apiRoutes, type ApiRoute } from '../../src/api/routes/index.js';
import { SchemaRegistry } from '../../src/api/validate.js';
import { AccessStore } from '../../src/store/access.js';
import { startTestApi, storeSnapshot, type RawInit, type TestApi } from '../support/api.js';
import { buildScene, isUpdate, requestFor, SCENE_USER, type Scene } from '../support/operations.js';
import { openStream } from '../support/sse.js';

const TOKEN = 'walk-token-0123456789';
const PASSWORDS: Record<string, string> = { alice: 'alice-pw', mia: 'mia-pw', rita: 'rita-pw', carol: 'carol-pw', root: 'root-pw' };
const HTPASSWD = Object.entries(PASSWORDS)
  .map(([u, pw]) => `${u}:${bcrypt.hashSync(pw, 4).replace(/^\$2b\$/, '$2y$')}`)
  .join('\n');

type Who = 'anonymous' | 'carol' | 'rita' | 'mia' | 'alice' | 'root';
const basic = (user: string) => `Basic ${Buffer.from(`${user}:${PASSWORDS[user]}`).toString('base64')}`;

async function startAuthApi(t: Parameters<typeof startTestApi>[0], extra: { publicRead?: boolean; maxFailures?: number; log?: string[] } = {}) {
  const api = await startTestApi(t, {
    token: TOKEN,
    auth: { users: parseHtpasswd(HTPASSWD, 'test'), admins: ['root'], publicRead: extra.publicRead, maxFailures: extra.maxFailures ?? Number.MAX_SAFE_INTEGER },
    logger: { info: () => {}, error: (l) => extra.log?.push(l) },
  });
  const as = (who: Who) => (method: string, path: string, init: RawInit = {}) =>
    api.http(method, path, { ...init, headers: { ...init.headers, ...(who === 'anonymous' ? {} : { Authorization: basic(who) }) } });
  // The scene is built with the service token (as a runner would).
  const service: TestApi = { ...api, http: (m, p, init = {}) => api.http(m, p, { token: TOKEN, ...init }) };
  return { api, as, service };
}

/** alice owns the scene's workflows; mia is a member and rita a reader of the group they are shared with. */
async function authScene(api: TestApi, service: TestApi): Promise<Scene> {
  const s = await buildScene(service);
  await api.store.updateWorkflow(s.wf, { user: SCENE_USER });
  const access = new AccessStore(api.store);
  await access.addMember(s.group, 'mia', 'member');
  await access.addMember(s.group, 'rita', 'reader');
  await access.addWorkflow(s.bare, s.group);
  await api.store.db.withWriteTransaction((tx) => tx.run('UPDATE jobs SET env = ? WHERE workflow_id = ?', [JSON.stringify({ API_KEY: 'hunter2-secret' }), s.wf]));
  return s;
}

const PUBLIC = new Set(['ping', 'get_version', 'get_openapi', 'dashboard_config']);
const ADMIN_ONLY = new Set(['create_access_group', 'delete_access_group', 'add_user_to_group', 'remove_user_from_group']);
const SIGNED_IN = new Set(['list_access_groups', 'get_access_group', 'list_group_members']);
const WORKFLOW_LISTS = new Set(['list_workflows', 'dashboard_list_workflows']);
const CREATES = new Set(['create_workflow', 'create_workflow_from_spec']);

/** What each caller should get: 'ok' (the documented 2xx) or an error status. */
function expected(route: ApiRoute, who: Who): 'ok' | number {
  const id = route.operationId;
  if (PUBLIC.has(id)) return 'ok';
  if (who === 'anonymous') return 401;
  if (who === 'root') return 'ok';
  if (ADMIN_ONLY.has(id)) return 403;
  if (SIGNED_IN.has(id) || WORKFLOW_LISTS.has(id) || CREATES.has(id)) return 'ok';
  if (id === 'list_user_groups') return who === SCENE_USER ? 'ok' : 403; // the path names alice
  // Everything else belongs to a workflow of alice's, shared with mia (member) and rita (reader).
  if (who === 'carol') return 404;
  if (who === 'rita') return route.mutating ? 403 : 'ok';
  return 'ok';
}

test('walking the document as anonymous, another user, a reader, a member, the owner and an admin: each gets exactly what it should', async (t) => {
  const { api, as, service } = await startAuthApi(t);
  const doc = (await api.http('GET', '/openapi.json')).json;
  const schemas = new SchemaRegistry(doc.components.schemas);
  const routes = new Map(apiRoutes().map((r) => [`${r.method} ${r.path}`, r]));
  const problems: string[] = [];
  const walked = new Map<string, Set<Who>>();
  let masked = 0;

  const call = async (route: ApiRoute, s: Scene, who: Who) => {
    const current = isUpdate(route) ? (await service.http('GET', requestFor({ ...route, method: 'GET', body: undefined }, s).path)).json : undefined;
    const req = requestFor(route, s, current);
    const res = await as(who)(req.method, req.path, { body: req.body, headers: req.contentType ? { 'Content-Type': req.contentType } : {} });
    const want = expected(route, who);
    const op = doc.paths[route.path][route.method.toLowerCase()];
    const [ok] = Object.keys(op.responses).filter((k) => k.startsWith('2'));
    const wantStatus = want === 'ok' ? Number(ok) : want;
    if (!walked.has(route.operationId)) walked.set(route.operationId, new Set());
    walked.get(route.operationId)!.add(who);
    if (res.status !== wantStatus) {
      problems.push(`${who} ${route.method} ${route.path}: ${res.status}, expected ${wantStatus}: ${res.text.slice(0, 200)}`);
      return res;
    }
    if (want === 'ok') {
      const check = schemas.validator(op.responses[ok!].content['application/json'].schema);
      if (!check(res.json)) problems.push(`${who} ${route.operationId}: answer does not match its schema: ${JSON.stringify(check.errors).slice(0, 300)}`);
      const leaked = res.text.includes('hunter2-secret');
      if (who === 'rita' && leaked) problems.push(`rita (reader) ${route.operationId}: a job's env value is not masked`);
      if (who === 'rita' && res.text.includes('********')) masked++;
    }
    if (res.status === 404 && who === 'carol' && /hunter2|scene/.test(res.text)) problems.push(`carol ${route.operationId}: the 404 tells about the hidden workflow: ${res.text}`);
    return res;
  };

  for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
    for (const method of Object.keys(item)) {
      const route = routes.get(`${method.toUpperCase()} ${path}`)!;
      const s = await authScene(api, service);
      const before = await storeSnapshot(api.store, s.wf);
      const refused: Who[] = (['anonymous', 'carol', 'rita', 'mia', 'alice', 'root'] as Who[]).filter((w) => expected(route, w) !== 'ok');
      for (const who of refused) await call(route, s, who);
      if (route.mutating && refused.length > 0) {
        const after = await storeSnapshot(api.store, s.wf);
        if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`${route.operationId}: a refused call changed the workflow`);
      }
      const allowed = (['rita', 'mia', 'alice', 'root', 'carol', 'anonymous'] as Who[]).filter((w) => expected(route, w) === 'ok');
      if (!route.mutating) {
        for (const who of allowed) await call(route, s, who);
        continue;
      }
      // A change succeeds once per scene: each allowed caller gets a fresh one.
      for (const [i, who] of allowed.entries()) {
        const res = await call(route, i === 0 ? s : await authScene(api, service), who);
        if (CREATES.has(route.operationId) && res.status < 300 && who !== 'root') {
          const id = res.json.workflow_id ?? res.json.id;
          t.is((await api.store.getWorkflow(id)).user, who, `${route.operationId}: the signed-in user owns the new workflow`);
        }
      }
    }
  }
  t.deepEqual(problems, []);
  t.is(walked.size, apiRoutes().length, 'every operation was walked');
  for (const [id, whos] of walked) t.is(whos.size, 6, `${id} walked by all six callers`);
  t.true(masked >= 3, `env values masked in ${masked} answers to the reader`);
});

test('lists of workflows hold only what the caller may see', async (t) => {
  const { api, as, service } = await startAuthApi(t);
  const s = await authScene(api, service);
  const carols = (await as('carol')('POST', '/workflows', { body: { name: 'carols', user: 'alice' } })).json;
  t.is(carols.user, 'carol', 'the owner is the signed-in user, not the one the body names');
  const ids = async (who: Who, path = '/workflows') => ((await as(who)('GET', path)).json.items as { id: number }[]).map((w) => w.id).sort((a, b) => a - b);
  t.deepEqual(await ids('carol'), [carols.id]);
  t.deepEqual(await ids('carol', '/dashboard/workflows'), [carols.id]);
  await new AccessStore(api.store).removeWorkflow(s.bare, s.group);
  t.deepEqual(await ids('mia'), [s.wf], "the shared workflow, not alice's unshared one");
  t.deepEqual(await ids('alice'), [s.wf, s.bare]);
  t.deepEqual(await ids('root'), [s.wf, s.bare, carols.id]);
  t.is((await as('carol')('GET', '/workflows')).json.total_count, 1, 'the total counts only visible workflows');
});

test("only admins change a workflow's owner; a writer's update that keeps it passes", async (t) => {
  const { api, as, service } = await startAuthApi(t);
  const s = await authScene(api, service);
  const current = (await as('mia')('GET', `/workflows/${s.wf}`)).json;
  const takeOver = await as('mia')('PUT', `/workflows/${s.wf}`, { body: { ...current, user: 'mia' } });
  t.is(takeOver.status, 403);
  t.is((await api.store.getWorkflow(s.wf)).user, SCENE_USER);
  t.is((await as('mia')('PUT', `/workflows/${s.wf}`, { body: { ...current, description: 'by mia' } })).status, 200, 'the whole record sent back, owner unchanged');
  t.is((await as('root')('PUT', `/workflows/${s.wf}`, { body: { ...current, user: 'mia' } })).status, 200);
  t.is((await api.store.getWorkflow(s.wf)).user, 'mia');
});

test("a hidden workflow's records answer exactly like missing ones", async (t) => {
  const { api, as, service } = await startAuthApi(t);
  const s = await authScene(api, service);
  for (const [hidden, missing] of [
    [`/jobs/${s.ready}`, '/jobs/987654'],
    [`/workflows/${s.wf}`, '/workflows/987654'],
    [`/files/${s.file}`, '/files/987654'],
    [`/jobs?workflow_id=${s.wf}`, '/jobs?workflow_id=987654'],
  ]) {
    const a = await as('carol')('GET', hidden!);
    const b = await as('carol')('GET', missing!);
    t.is(a.status, 404, hidden);
    t.is(b.status, 404, missing);
    t.is(a.text.replace(/\d+/g, 'N'), b.text.replace(/\d+/g, 'N'), `${hidden} vs ${missing}`);
  }
});

test('secrets: env values are masked for a reader and for public reads, shown to who may write', async (t) => {
  const { api, as, service } = await startAuthApi(t, { publicRead: true });
  const s = await authScene(api, service);
  for (const path of [`/jobs/${s.ready}`, `/jobs?workflow_id=${s.wf}`, `/jobs/${s.ready}/detail`, `/workflows/${s.wf}/export`]) {
    for (const who of ['anonymous', 'rita'] as Who[]) {
      const res = await as(who)('GET', path);
      t.is(res.status, 200, `${who} ${path}`);
      t.false(res.text.includes('hunter2-secret'), `${who} ${path} shows the secret`);
      t.true(res.text.includes('API_KEY'), `${who} ${path} still names the variable`);
    }
    for (const who of ['mia', 'alice', 'root'] as Who[]) t.true((await as(who)('GET', path)).text.includes('hunter2-secret'), `${who} ${path}`);
  }
  t.is((await as('anonymous')('POST', `/workflows/${s.wf}/cancel`)).status, 401, 'public reads do not open changes');
});

test('secrets: the live event stream masks them exactly as the stored events are masked, for who may not write', async (t) => {
  const { api, as, service } = await startAuthApi(t, { publicRead: true });
  const s = await authScene(api, service);
  const viewers = ['anonymous', 'rita', 'mia', 'alice', 'root'] as Who[];
  const streams = new Map<Who, Awaited<ReturnType<typeof openStream>>>();
  for (const who of viewers) {
    const stream = await openStream(`${api.server.baseUrl}/workflows/${s.wf}/events/stream`, who === 'anonymous' ? {} : { Authorization: basic(who) });
    t.teardown(() => stream.close());
    t.is(stream.res.status, 200, who);
    await stream.next('hello');
    streams.set(who, stream);
  }
  const data = { api_token: 'tok-live-secret', env: { API_KEY: 'hunter2-live' }, note: 'visible' };
  await api.store.appendEvent(s.wf, 'secret_note', data);
  for (const who of viewers) {
    const update = await streams.get(who)!.next('update', (u) => u.events.some((e: { category: string }) => e.category === 'secret_note'));
    const live = update.events.find((e: { category: string }) => e.category === 'secret_note');
    // torc's GET /events also copies the category into data.
    const { category: _, ...stored } = (await as(who)('GET', `/events?workflow_id=${s.wf}&category=secret_note`)).json.items[0].data;
    t.deepEqual(live.data, stored, `${who}: the stream sends what GET /events answers`);
    if (who === 'anonymous' || who === 'rita') {
      t.deepEqual(live.data, { api_token: '********', env: { API_KEY: '********' }, note: 'visible' }, `${who} gets the secrets masked`);
    } else {
      t.deepEqual(live.data, data, `${who} may write the workflow and sees them`);
    }
  }
  const carol = await openStream(`${api.server.baseUrl}/workflows/${s.wf}/events/stream`, { Authorization: basic('carol') });
  t.teardown(() => carol.close());
  t.is(carol.res.status, 404, 'a user who may not see the workflow gets no stream');
});

test('failed sign-ins: logged without the password, and after the limit the address is refused with 429 even with the right password', async (t) => {
  const log: string[] = [];
  const { as, api } = await startAuthApi(t, { maxFailures: 5, log });
  const wrong = { Authorization: `Basic ${Buffer.from('alice:guess-password').toString('base64')}` };
  for (let i = 0; i < 5; i++) t.is((await api.http('GET', '/workflows', { headers: wrong })).status, 401);
  const blocked = await as('alice')('GET', '/workflows');
  t.is(blocked.status, 429);
  t.true(Number(blocked.headers.get('Retry-After')) > 0);
  t.is(log.filter((l) => l.includes('failed sign-in (user "alice")')).length, 5);
  t.false(log.some((l) => l.includes('guess-password')), 'the password is never logged');
});

test('failed sign-ins: the window passes and the address may try again', async (t) => {
  let now = 1_000_000;
  const api = await startTestApi(t, {
    auth: { users: parseHtpasswd(HTPASSWD, 'test'), maxFailures: 2, failureWindowMs: 60_000, clock: () => now },
    logger: { info: () => {}, error: () => {} },
  });
  const wrong = { Authorization: `Basic ${Buffer.from('mia:nope').toString('base64')}` };
  await api.http('GET', '/workflows', { headers: wrong });
  await api.http('GET', '/workflows', { headers: wrong });
  t.is((await api.http('GET', '/workflows', { headers: { Authorization: basic('mia') } })).status, 429);
  now += 60_001;
  t.is((await api.http('GET', '/workflows', { headers: { Authorization: basic('mia') } })).status, 200);
});
