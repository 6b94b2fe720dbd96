/**
 * The htpasswd check remembers successful sign-ins for a short while, so that each request
 * (HTTP Basic signs in every time) does not pay bcrypt again; wrong passwords are never
 * remembered and still count towards the server's failed-sign-in limit. Counted through an
 * injected hash check, and a manual clock for the expiry.
 */
import test from 'ava';
import bcrypt from 'bcryptjs';
import { parseHtpasswd, type HtpasswdOptions } from '../../src/api/htpasswd.js';
import { startTestApi } from '../support/api.js';

const TEXT = ['ann', 'bob', 'cy'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}`).join('\n');

function counted(options: HtpasswdOptions = {}) {
  const calls: string[] = [];
  let now = 1_000_000;
  const users = parseHtpasswd(TEXT, 'test', {
    clock: () => now,
    ...options,
    checkHash: (kind, hash, password) => {
      calls.push(password);
      return bcrypt.compareSync(password, hash);
    },
  });
  return { users, calls, advance: (ms: number) => (now += ms) };
}

test('a right password is checked once, then remembered until its time is up', (t) => {
  const { users, calls, advance } = counted({ cacheTtlMs: 60_000 });
  for (let i = 0; i < 5; i++) t.true(users.verify('ann', 'ann-pw'));
  t.is(calls.length, 1, 'bcrypt ran once for five sign-ins');
  advance(59_999);
  t.true(users.verify('ann', 'ann-pw'));
  t.is(calls.length, 1);
  advance(2);
  t.true(users.verify('ann', 'ann-pw'));
  t.is(calls.length, 2, 'checked again once the entry expired');
});

test('wrong passwords are never remembered, not even after the right one, and a remembered one is per user', (t) => {
  const { users, calls } = counted();
  t.true(users.verify('ann', 'ann-pw'));
  for (let i = 0; i < 3; i++) t.false(users.verify('ann', 'wrong'));
  t.is(calls.length, 4, 'each wrong password paid the full check');
  t.false(users.verify('bob', 'ann-pw'), "ann's password is not bob's");
  t.false(users.verify('nobody', 'ann-pw'));
  t.false(users.verify('ann', 'ann-pw '), 'a different password is a different key');
  t.is(calls.length, 7);
  t.true(users.verify('ann', 'ann-pw'));
  t.is(calls.length, 7, 'the right one is still remembered');
});

test('the memory is bounded: the oldest sign-in is forgotten first; TTL 0 remembers nothing', (t) => {
  const { users, calls } = counted({ cacheMax: 2 });
  for (const u of ['ann', 'bob', 'cy']) t.true(users.verify(u, `${u}-pw`));
  t.is(calls.length, 3);
  t.true(users.verify('cy', 'cy-pw'));
  t.true(users.verify('bob', 'bob-pw'));
  t.is(calls.length, 3, 'the two latest are remembered');
  t.true(users.verify('ann', 'ann-pw'));
  t.is(calls.length, 4, 'the oldest was forgotten');
  const none = counted({ cacheTtlMs: 0 });
  none.users.verify('ann', 'ann-pw');
  none.users.verify('ann', 'ann-pw');
  t.is(none.calls.length, 2);
});

test('through the server: repeated requests reuse the check; failures after a success are still counted and limited', async (t) => {
  const { users, calls } = counted();
  const api = await startTestApi(t, { auth: { users, maxFailures: 3 }, logger: { info() {}, error() {} } });
  const basic = (user: string, pw: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });
  for (let i = 0; i < 4; i++) t.is((await api.http('GET', '/workflows', { headers: basic('ann', 'ann-pw') })).status, 200);
  t.is(calls.length, 1);
  for (let i = 0; i < 3; i++) t.is((await api.http('GET', '/workflows', { headers: basic('ann', 'guess') })).status, 401);
  t.is((await api.http('GET', '/workflows', { headers: basic('ann', 'ann-pw') })).status, 429, 'the limit holds even for a remembered password');
  t.is(calls.length, 4);
});
