/**
 * HTTPS: `torc server --tls-cert/--tls-key` serves the API over TLS; clients given the CA
 * (--ca-file / ClientOptions.ca) trust it, clients without it refuse the connection. Uses the
 * self-signed certificate in test/fixtures/tls (for tests only).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer } from '../../src/api/app.js';
import { ApiError, TorcClient } from '../../src/api/client.js';
import { parseHtpasswd } from '../../src/api/htpasswd.js';
import { openTempStore } from '../support/store.js';
import bcrypt from 'bcryptjs';

const dir = path.resolve('test/fixtures/tls');
const cert = readFileSync(path.join(dir, 'cert.pem'));
const key = readFileSync(path.join(dir, 'key.pem'));

test('an https server is reached by clients that trust its CA, with a user signed in; others refuse it', async (t) => {
  const store = await openTempStore(t);
  const users = parseHtpasswd(`ann:${bcrypt.hashSync('ann-pw', 4)}`, 'test');
  const server = await startServer({ store, port: 0, tls: { cert, key }, auth: { users }, logger: { info() {}, error() {} } });
  t.teardown(() => server.close());
  t.regex(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ann = new TorcClient(server.url, { ca: cert, basic: { user: 'ann', password: 'ann-pw' } });
  const wf = await ann.createWorkflow({ name: 'over-tls' });
  t.is(wf.user, 'ann', 'the signed-in user owns it');
  t.is((await ann.getWorkflow(wf.id)).name, 'over-tls');
  const untrusting = await t.throwsAsync(() => new TorcClient(server.url, { basic: { user: 'ann', password: 'ann-pw' } }).getWorkflow(wf.id));
  t.true(untrusting instanceof ApiError);
  t.regex(untrusting!.message, /cannot reach|certificate/i);
  const anonymous = await t.throwsAsync(() => new TorcClient(server.url, { ca: cert }).getWorkflow(wf.id));
  t.is((anonymous as ApiError).status, 401);
});
