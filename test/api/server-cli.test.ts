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

test('--token-file: mutating routes need the token; the token never appears in the output', async (t) => {
  const dir = await tempDir('torc-server-cli-');
  const tokenFile = path.join(dir, 'token');
  const token = 'cli-Secret-7f3a9c';
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const server = await startServerProcess(['--db', path.join(dir, 'torc.db'), '--token-file', tokenFile, '--log-requests']);
  const anonymous = new TorcClient(server.url);
  const denied = await t.throwsAsync(() => anonymous.createWorkflow({ name: 'x' }));
  t.is((denied as { status?: number }).status, 401);
  t.is((await anonymous.listWorkflows()).total_count, 0, 'reads need no token');
  const wf = await new TorcClient(server.url, { token }).createWorkflow({ name: 'x' });
  t.is(wf.name, 'x');
  server.child.kill('SIGTERM');
  const result = await server.result;
  t.is(result.code, 0);
  t.false(server.output().includes(token), 'token printed');
  t.regex(server.output(), /bearer auth on/);
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
