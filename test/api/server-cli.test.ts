/**
 * `torc server` as a real process: binds 127.0.0.1 on the given port, serves the API over the
 * given database, enforces --token-file without ever printing the token, exits cleanly on
 * SIGTERM, and refuses bad arguments with exit 2 naming the flag.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { runTorc, startTorc } from '../support/cli.js';
import { tempDir, waitFor } from '../support/procs.js';

async function startServerProcess(args: string[]) {
  const proc = startTorc(['server', '--port', '0', ...args], { timeoutMs: 120_000 });
  let stdout = '';
  let stderr = '';
  proc.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let early: unknown;
  proc.result.then((r) => (early = r));
  await waitFor(() => /listening on (\S+)/.test(stdout) || early !== undefined, 60_000, 'the server to listen');
  const url = /listening on (\S+)/.exec(stdout)?.[1];
  if (!url) throw new Error(`server did not start: ${stderr}`);
  return { ...proc, url, output: () => stdout + stderr };
}

test('serves the API on 127.0.0.1 over the given database and exits 0 on SIGTERM', async (t) => {
  const dir = await tempDir('torc-server-cli-');
  const db = path.join(dir, 'sub', 'torc.db');
  const server = await startServerProcess(['--db', db, '--log-requests']);
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/torc-service\/v1$/);
  const client = new TorcClient(server.url);
  t.deepEqual(await client.ping(), { status: 'ok' });
  const { workflow_id } = await client.createWorkflowFromSpec('name: cli\njobs:\n  - {name: a, command: "true"}\n');
  t.is((await client.getWorkflow(workflow_id)).name, 'cli');
  server.child.kill('SIGTERM');
  const result = await server.result;
  t.is(result.code, 0, result.stderr);
  t.true(existsSync(db));
  t.regex(result.stderr, /POST \/torc-service\/v1\/workflow_specs 201/);
});

test('--token-file: every route but the public ones needs the token; the token never appears in the output', async (t) => {
  const dir = await tempDir('torc-server-cli-');
  const tokenFile = path.join(dir, 'token');
  const token = 'cli-Secret-7f3a9c';
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const server = await startServerProcess(['--db', path.join(dir, 'torc.db'), '--token-file', tokenFile, '--log-requests']);
  const anonymous = new TorcClient(server.url);
  const denied = await t.throwsAsync(() => anonymous.createWorkflow({ name: 'x' }));
  t.is((denied as { status?: number }).status, 401);
  t.is(((await t.throwsAsync(() => anonymous.listWorkflows())) as { status?: number }).status, 401, 'reads need it too');
  t.deepEqual(await anonymous.ping(), { status: 'ok' });
  const wf = await new TorcClient(server.url, { token }).createWorkflow({ name: 'x' });
  t.is(wf.name, 'x');
  server.child.kill('SIGTERM');
  const result = await server.result;
  t.is(result.code, 0);
  t.false(server.output().includes(token), 'token printed');
  t.regex(server.output(), /auth: bearer token/);
});

test('--auth htpasswd:FILE with --admin-user, --public-read and TLS: users sign in, own what they create, admins see all; bad values exit 2 naming the flag', async (t) => {
  const dir = await tempDir('torc-server-cli-');
  const htpasswd = path.join(dir, 'htpasswd');
  // apr1 (htpasswd -m) and SHA (htpasswd -s) lines as Apache writes them: password "pw" for both.
  await writeFile(htpasswd, 'ann:$apr1$abcdefgh$5VEbMkemELfbhC5ck.U.z1\nadm:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n');
  const cert = path.resolve('test/fixtures/tls/cert.pem');
  const key = path.resolve('test/fixtures/tls/key.pem');
  const server = await startServerProcess(['--db', path.join(dir, 'torc.db'), '--auth', `htpasswd:${htpasswd}`, '--admin-user', 'adm', '--public-read', '--tls-cert', cert, '--tls-key', key]);
  t.regex(server.url, /^https:/);
  const ca = await import('node:fs').then((fs) => fs.readFileSync(cert));
  const ann = new TorcClient(server.url, { ca, basic: { user: 'ann', password: 'pw' } });
  const wf = await ann.createWorkflow({ name: 'anns', user: 'someone-else' });
  t.is(wf.user, 'ann');
  const adm = new TorcClient(server.url, { ca, basic: { user: 'adm', password: 'pw' } });
  t.is((await adm.getWorkflow(wf.id)).name, 'anns');
  const anonymous = new TorcClient(server.url, { ca });
  t.is((await anonymous.getWorkflow(wf.id)).name, 'anns', '--public-read');
  t.is(((await t.throwsAsync(() => anonymous.createWorkflow({ name: 'x' }))) as { status?: number }).status, 401);
  t.is(((await t.throwsAsync(() => new TorcClient(server.url, { ca, basic: { user: 'ann', password: 'wrong' } }).getWorkflow(wf.id))) as { status?: number }).status, 401);
  server.child.kill('SIGTERM');
  t.is((await server.result).code, 0);
  t.regex(server.output(), /auth: 2 users, public reads/);
  t.regex(server.output(), /failed sign-in \(user "ann"\) from /);
  t.false(server.output().includes('wrong'), 'the password tried is not logged');

  const db = path.join(dir, 'bad.db');
  const notUser = await runTorc(['server', '--db', db, '--auth', htpasswd, '--admin-user', 'zed']);
  t.is(notUser.code, 2);
  t.regex(notUser.stderr, /--admin-user.*"zed" is not a user/);
  const des = path.join(dir, 'des');
  await writeFile(des, 'old:abJnggxhB/yWI\n');
  const badHash = await runTorc(['server', '--db', db, '--auth', `htpasswd:${des}`]);
  t.is(badHash.code, 2);
  t.regex(badHash.stderr, /--auth.*des:1: user "old" has a hash of a kind not supported/);
  const halfTls = await runTorc(['server', '--db', db, '--tls-cert', cert]);
  t.is(halfTls.code, 2);
  t.regex(halfTls.stderr, /--tls-key/);
});

test('bad arguments exit 2 naming the flag', async (t) => {
  const dir = await tempDir('torc-server-cli-');
  const db = path.join(dir, 'torc.db');
  const missing = await runTorc(['server', '--db', db, '--token-file', path.join(dir, 'nope')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--token-file: cannot read .*no such file/);
  const emptyFile = path.join(dir, 'empty');
  await writeFile(emptyFile, '\n');
  const empty = await runTorc(['server', '--db', db, '--token-file', emptyFile]);
  t.is(empty.code, 2);
  t.regex(empty.stderr, /--token-file: .* is empty/);
  const port = await runTorc(['server', '--db', db, '--port', 'eighty']);
  t.is(port.code, 2);
  t.regex(port.stderr, /--port/);
  // A port already taken.
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as { port: number }).port;
  const busy = await runTorc(['server', '--db', db, '--port', String(taken)]);
  t.is(busy.code, 2);
  t.regex(busy.stderr, /--port: port \d+ .* already in use/);
});
