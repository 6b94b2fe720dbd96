/**
 * Security:
 * - bearer auth: walking the served OpenAPI document, every mutating operation answers 401
 *   without the token or with a wrong one and changes nothing; every operation it calls a
 *   read really changes nothing, and every non-GET operation is marked mutating;
 * - job names cannot steer output paths (`../../x`, absolute paths, `..`);
 * - the API binds 127.0.0.1 unless told otherwise (torc server, torc reconcile, startServer);
 * - tokens never appear in any output: a token-protected `torc server --log-requests`, runners
 *   with the right and a wrong token, `torc reconcile --token-file` with an external runner.
 */
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { runTorc, startTorc, type StartedTorc } from '../support/cli.js';
import { checkDatabaseFile, databaseFingerprint } from '../support/invariants.js';
import { makePlan } from '../support/plans.js';
import { waitFor } from '../support/procs.js';
import { scratchDir } from '../support/scratch.js';
import { startTorcServer } from '../support/server-proc.js';

const TOKEN = 'tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0';

interface Operation {
  operationId: string;
  parameters?: { name: string; in: 'path' | 'query'; required: boolean }[];
  requestBody?: { content: Record<string, { example?: unknown }> };
  'x-mutating': boolean;
}

/** A workflow with a running, a pending, a ready and a blocked job, a node, an event. */
async function scene(api: TestApi) {
  const wf = (await api.store.createWorkflowFromPlan(makePlan({
    schedulers: ['cluster'],
    jobs: [{ name: 'run' }, { name: 'pend' }, { name: 'ready' }, { name: 'blocked', after: ['run'] }],
  }))).id;
  await api.store.initializeJobs(wf);
  const node = await api.store.registerComputeNode(wf, {
    hostname: 'h', pid: 1, num_cpus: 4, memory_gb: 4, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 't', lease_seconds: 600,
  });
  const claimed = await api.store.claimNextJobs(wf, 2, node.id);
  await api.store.startJob(claimed.jobs[0]!.id, 1, node.id);
  await api.store.appendEvent(wf, 'walk', { n: 1 });
  return { wf, node: node.id, job: claimed.jobs[0]!.id };
}

function concrete(path: string, op: Operation, ids: { wf: number; node: number; job: number }): string {
  const byName: Record<string, string> = { status: 'completed', run_id: '1', compute_node_id: String(ids.node), limit: '1', action_id: '1' };
  const filled = path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (byName[name]) return byName[name]!;
    if (path.startsWith('/jobs/')) return String(ids.job);
    if (path.startsWith('/compute_nodes/')) return String(ids.node);
    return String(ids.wf);
  });
  const query = (op.parameters ?? [])
    .filter((p) => p.in === 'query' && p.required)
    .map((p) => `${p.name}=${p.name === 'workflow_id' ? ids.wf : p.name.endsWith('_gb') || p.name.startsWith('num_') || p.name === 'limit' ? '1' : '1'}`)
    .join('&');
  return query ? `${filled}?${query}` : filled;
}

test('bearer auth on every mutating operation of the served OpenAPI document; reads change nothing; non-GETs are all mutating', async (t) => {
  // Reads public (--public-read), so that they are walked without the token; hundreds of wrong tries: no failed-sign-in limit.
  const api = await startTestApi(t, { token: TOKEN, auth: { publicRead: true, maxFailures: Number.MAX_SAFE_INTEGER }, logger: { info() {}, error: () => {} } });
  const ids = await scene(api);
  const doc = (await api.http('GET', '/openapi.json')).json as { paths: Record<string, Record<string, Operation>> };
  let mutating = 0;
  let reads = 0;
  const before = await databaseFingerprint(api.store.db);
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const what = `${method.toUpperCase()} ${path}`;
      if (method !== 'get') t.true(op['x-mutating'], `${what} changes state but is not marked mutating`);
      const url = concrete(path, op, ids);
      const content = op.requestBody?.content ?? {};
      const [type, media] = Object.entries(content)[0] ?? [];
      const body = media?.example === undefined ? undefined : typeof media.example === 'string' ? media.example : JSON.stringify(media.example);
      const headers = type ? { 'Content-Type': type } : undefined;
      if (op['x-mutating']) {
        mutating++;
        for (const auth of [undefined, 'Bearer wrong', `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${Buffer.from(`torc:${TOKEN}`).toString('base64')}`, TOKEN]) {
          const res = await api.http(method.toUpperCase(), url, { body, headers: { ...headers, ...(auth ? { Authorization: auth } : {}) } });
          t.is(res.status, 401, `${what} with ${auth ?? 'no'} authorization`);
        }
      } else {
        reads++;
        const res = await api.http(method.toUpperCase(), url);
        t.not(res.status, 401, `${what} is a read: no token needed`);
        t.true(res.status < 500, `${what}: ${res.status}`);
      }
      t.deepEqual(await databaseFingerprint(api.store.db), before, `${what} changed the database`);
    }
  }
  t.true(mutating >= 15 && reads >= 15);
  t.log(`${mutating} mutating operations × 5 bad credentials → 401; ${reads} reads open; database unchanged throughout`);
});

/** Every file under `dir`, relative. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? [`${relative(base, p)}/`, ...walk(p, base)] : [relative(base, p)];
  });
}

const HOSTILE_NAMES = ['../../x', '../../../../../../tmp/torc-escape', '/etc/passwd', '..', '.', 'a/b/../../../../c', '$(touch pwned)', 'x\ny', '~', 'job_1_1.o'];

test('job names cannot steer output paths: stdio files are named by ids under the output dir, for reconcile and an external runner', async (t) => {
  const root = scratchDir(t, 'torc-names-');
  const work = join(root, 'deep', 'work');
  const spec = `name: ../../escape\njobs:\n${HOSTILE_NAMES.map((n) => `  - {name: ${JSON.stringify(n)}, command: "echo out; echo err >&2"}`).join('\n')}\n`;
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'wf.yaml'), spec);
  const res = await runTorc(['reconcile', 'wf.yaml', '--output-dir', 'out', '--no-server', '-q'], { cwd: work });
  t.is(res.code, 0, res.stderr);
  const files = walk(root);
  const outside = files.filter((f) => !f.startsWith('deep/work/out/') && !f.startsWith('deep/work/.torc/') && !['deep/', 'deep/work/', 'deep/work/out/', 'deep/work/.torc/', 'deep/work/wf.yaml'].includes(f));
  t.deepEqual(outside, [], 'nothing written outside the output and database directories');
  const stdio = files.filter((f) => f.startsWith('deep/work/out/job_stdio/') && !f.endsWith('/'));
  t.is(stdio.length, 2 * HOSTILE_NAMES.length);
  for (const f of stdio) t.regex(f, /^deep\/work\/out\/job_stdio\/job_\d+_1\.[oe]$/);
  t.false(readdirSync('/tmp').includes('torc-escape'));

  // An external runner with its own output dir behaves the same.
  const server = await startTorcServer(join(root, 'ext.db'));
  t.teardown(() => server.stop());
  const client = new TorcClient(server.url);
  const { workflow_id: wf } = await client.createWorkflowFromSpec(spec);
  await client.initializeJobs(wf);
  const ext = await runTorc(['run', String(wf), '--url', server.url, '--output-dir', join(root, 'ext-out'), '--poll-interval', '0.2', '-q'], { cwd: work });
  t.is(ext.code, 0, ext.stderr);
  const extFiles = walk(join(root, 'ext-out')).filter((f) => !f.endsWith('/'));
  t.is(extFiles.length, 2 * HOSTILE_NAMES.length);
  for (const f of extFiles) t.regex(f, /^job_stdio\/job_\d+_1\.[oe]$/);
  t.deepEqual(walk(root).filter((f) => f.startsWith('deep/') && f !== 'deep/' && !f.startsWith('deep/work/')), []);
  t.log(`${HOSTILE_NAMES.length} hostile job names (${HOSTILE_NAMES.map((n) => JSON.stringify(n)).join(', ')}): every stdio file under the output dir, named by ids`);
});

/** The local address a listening TCP socket on `port` is bound to, from /proc/net/tcp{,6}. */
function listenAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue; // 0A = LISTEN
      const [addr, p] = f[1]!.split(':');
      if (p === hexPort) out.push(addr!);
    }
  }
  return out;
}

const LOOPBACK_V4 = '0100007F';

async function readUrl(proc: StartedTorc, pattern: RegExp, stream: 'stdout' | 'stderr'): Promise<string> {
  let url = '';
  await waitFor(() => {
    url = pattern.exec(proc.output()[stream])?.[1] ?? '';
    return url !== '' || proc.child.exitCode !== null;
  }, 60_000, 'the API address');
  return url;
}

test('the API binds 127.0.0.1 unless told otherwise: torc server, torc reconcile and startServer', async (t) => {
  const dir = scratchDir(t, 'torc-bind-');
  const server = await startTorcServer(join(dir, 's.db'));
  t.teardown(() => server.stop());
  const serverPort = Number(new URL(server.url).port);
  t.is(new URL(server.url).hostname, '127.0.0.1');
  t.deepEqual(listenAddresses(serverPort), [LOOPBACK_V4], 'torc server listens on loopback only');

  writeFileSync(join(dir, 'wf.yaml'), 'name: bind\njobs:\n  - {name: a, command: "sleep 30"}\n');
  const reconcile = startTorc(['reconcile', 'wf.yaml', '--port', '0', '-q'], { cwd: dir, timeoutMs: 120_000 });
  t.teardown(() => void reconcile.child.kill('SIGKILL'));
  const url = await readUrl(reconcile, /REST API: (\S+)/, 'stderr');
  t.is(new URL(url).hostname, '127.0.0.1');
  t.deepEqual(listenAddresses(Number(new URL(url).port)), [LOOPBACK_V4], 'torc reconcile serves on loopback only');
  reconcile.child.kill('SIGKILL');
  await reconcile.result;

  const api = await startTestApi(t);
  t.is((api.server.server.address() as { address: string }).address, '127.0.0.1');
  t.deepEqual(listenAddresses(api.server.port), [LOOPBACK_V4]);
});

test('torc reconcile without --token-file makes a token for the run: private file, changing routes refused without it, reads open, file gone at the end', async (t) => {
  const dir = scratchDir(t, 'torc-run-token-');
  const go = join(dir, 'go');
  writeFileSync(join(dir, 'wf.yaml'), `name: guarded\njobs:\n  - {name: a, command: 'while [ ! -e ${go} ]; do sleep 0.05; done'}\n`);
  const reconcile = startTorc(['reconcile', 'wf.yaml', '--port', '0', '--format', 'json', '-q'], { cwd: dir, timeoutMs: 120_000 });
  t.teardown(() => void reconcile.child.kill('SIGKILL'));
  const url = await readUrl(reconcile, /REST API: (\S+)/, 'stderr');
  // The API is up before the workflow is stored: wait for the line that says it is.
  await waitFor(() => /workflow guarded \(id 1\)/.test(reconcile.output().stderr) || reconcile.child.exitCode !== null, 120_000, 'the workflow to be stored');
  const tokenFile = /--token-file (\S+)/.exec(reconcile.output().stderr)?.[1] ?? '';
  t.is(tokenFile, join(dir, '.torc', 'wf.token'), 'next to the database');
  t.is(statSync(tokenFile).mode & 0o777, 0o600, 'readable by this user only');
  const token = readFileSync(tokenFile, 'utf8').trim();
  t.true(token.length >= 32);
  t.false(reconcile.output().stderr.includes(token), 'the token itself is not printed');

  const anonymous = new TorcClient(url);
  t.is((await anonymous.getWorkflow(1)).name, 'guarded', 'reads need no token');
  const refused = await anonymous.cancelWorkflow(1).then(() => null, (e: unknown) => e as { status?: number });
  t.is(refused?.status, 401, 'a change without the token is refused');
  const wrong = await new TorcClient(url, { token: 'not-the-token' }).cancelWorkflow(1).then(() => null, (e: unknown) => e as { status?: number });
  t.is(wrong?.status, 401);
  t.false((await anonymous.getWorkflowStatus(1)).is_canceled, 'and changed nothing');

  writeFileSync(go, '');
  const res = await reconcile.result;
  t.is(res.code, 0, res.stderr);
  t.false(existsSync(tokenFile), 'the token file is removed with the server');
});

test('tokens never appear in any output: token-protected server with request logs, runners with the right and a wrong token, reconcile --token-file', async (t) => {
  t.timeout(300_000);
  const dir = scratchDir(t, 'torc-token-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const wrongFile = join(dir, 'wrong');
  const WRONG = 'wrong-5a4b3c2d1e0f';
  writeFileSync(wrongFile, WRONG);
  const outputs: string[] = [];

  const server = await startTorcServer(join(dir, 's.db'), ['--token-file', tokenFile, '--log-requests']);
  const client = new TorcClient(server.url, { token: TOKEN });
  const spec = 'name: secret\njobs:\n  - {name: "j_{i}", command: "echo $TORC_JOB_ID", parameters: {i: "1:6"}}\n';
  const { workflow_id: wf } = await client.createWorkflowFromSpec(spec);
  await client.initializeJobs(wf);
  // Credentials in the places a careless client puts them: the query string, odd header forms.
  for (const [path, headers] of [
    [`/workflows/${wf}/cancel?token=${TOKEN}`, {}],
    [`/workflows/${wf}/initialize_jobs?access_token=${TOKEN}`, { Authorization: `Bearer ${TOKEN}x` }],
    [`/workflows/${wf}/initialize_jobs`, { Authorization: `Token ${TOKEN}` }],
    [`/workflows/${wf}/initialize_jobs`, { 'X-Api-Token': TOKEN, Authorization: `bearer  ${TOKEN}` }],
  ] as const) {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers });
    outputs.push(await res.text());
  }
  t.is((await client.getProgress(wf)).is_canceled, false, 'a token in the query string does not authorize');

  const wrong = await runTorc(['run', String(wf), '--url', server.url, '--token-file', wrongFile, '--poll-interval', '0.2'], { cwd: dir });
  t.not(wrong.code, 0, 'a runner with a wrong token fails');
  t.regex(wrong.stderr, /401|bearer token/);
  const env = await runTorc(['run', String(wf), '--url', server.url, '--poll-interval', '0.2', '--output-dir', join(dir, 'o1')], { cwd: dir, env: { TORC_API_TOKEN: TOKEN } });
  t.is(env.code, 0, env.stderr);
  t.is((await client.getProgress(wf)).counts.completed, 6);
  const stopped = await server.stop();
  outputs.push(server.proc.output().stdout, stopped.stderr, wrong.stdout, wrong.stderr, env.stdout, env.stderr);
  t.regex(stopped.stderr, / 401 /, 'requests were logged');

  // torc reconcile with --token-file: its API refuses anonymous changes, an external runner with the token joins.
  writeFileSync(join(dir, 'wf.yaml'), 'name: guarded\njobs:\n  - {name: "g_{i}", command: "sleep 0.3", parameters: {i: "1:12"}}\n');
  const reconcile = startTorc(['reconcile', 'wf.yaml', '--port', '0', '--token-file', tokenFile, '--max-parallel-jobs', '1'], { cwd: dir, timeoutMs: 240_000 });
  const url = await readUrl(reconcile, /REST API: (\S+)/, 'stderr');
  // The API is up before the workflow is stored; the external runner needs the workflow.
  await waitFor(() => /workflow guarded \(id 1\)/.test(reconcile.output().stderr) || reconcile.child.exitCode !== null, 120_000, 'the workflow to be stored');
  const anon = await fetch(`${url}/workflows/1/cancel`, { method: 'POST' });
  t.is(anon.status, 401);
  const external = await runTorc(['run', '1', '--url', url, '--token-file', tokenFile, '--max-parallel-jobs', '2', '--poll-interval', '0.2', '--output-dir', join(dir, 'o2')], { cwd: dir });
  t.is(external.code, 0, external.stderr);
  const done = await reconcile.result;
  t.is(done.code, 0, done.stderr);
  outputs.push(done.stdout, done.stderr, external.stdout, external.stderr);
  t.deepEqual((await checkDatabaseFile(join(dir, '.torc', 'wf.db'))).violations, []);

  const leaks = outputs.filter((o) => o.includes(TOKEN) || o.includes(TOKEN.slice(4, 24)) || o.includes(WRONG));
  t.deepEqual(leaks, [], 'a token appeared in an output');
  t.log(`${outputs.length} captured outputs (server request log, 3 runners, reconcile, error bodies): no token in any`);
});
