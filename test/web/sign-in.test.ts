/**
 * The dashboard of a `torc server --auth htpasswd:FILE` (no --public-read: reads need a sign-in
 * too), in Debian's headless Chromium: the page asks for a user name and password in its own
 * form (the browser is not left to prompt: the page's requests get a `Torc-Basic` challenge), a
 * wrong password is refused in the form, the right one shows the user's workflows, the live
 * stream connects with the sign-in, actions run as that user, and another user sees only their
 * own. Skipped, loudly, when chromium is not installed.
 */
import test from 'ava';
import bcrypt from 'bcryptjs';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { findChromium, launchBrowser, skipMessage } from '../support/browser.js';
import { tempDir } from '../support/procs.js';
import { startTorcServer } from '../support/server-proc.js';

const chromiumPath = findChromium();
if (!chromiumPath) process.stderr.write(skipMessage());
const maybe = chromiumPath ? test : test.skip;

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

maybe('htpasswd users sign in to the dashboard with their name and password; reads, the live stream and actions use it', async (t) => {
  t.timeout(300_000);
  const dir = await tempDir('torc-sign-in-');
  writeFileSync(path.join(dir, 'htpasswd'), `ann:${bcrypt.hashSync('ann-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`);
  const server = await startTorcServer(path.join(dir, 'db.sqlite'), ['--auth', `htpasswd:${path.join(dir, 'htpasswd')}`]);
  t.teardown(() => server.stop());
  const base = server.url.replace(/\/torc-service\/v1$/, '');
  const create = async (user: string, name: string) => {
    const res = await fetch(`${server.url}/workflow_specs`, {
      method: 'POST', headers: { Authorization: basic(user, `${user}-pw`), 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, jobs: [{ name: 'only', command: 'true', env: { API_KEY: `${user}-secret-value` } }] }),
    });
    t.is(res.status, 201);
    const id = ((await res.json()) as { workflow_id: number }).workflow_id;
    t.is((await fetch(`${server.url}/workflows/${id}/initialize_jobs`, { method: 'POST', headers: { Authorization: basic(user, `${user}-pw`) } })).status, 200);
    return id;
  };
  const annWf = await create('ann', 'ann-workflow');
  const bobWf = await create('bob', 'bob-workflow');

  // Browsers prompt on a Basic challenge; the page's own requests get one they leave alone.
  const plain = await fetch(`${server.url}/workflows`);
  t.is(plain.status, 401);
  t.regex(plain.headers.get('www-authenticate') ?? '', /^Basic /);
  const fromPage = await fetch(`${server.url}/workflows`, { headers: { 'X-Requested-With': 'XMLHttpRequest' } });
  t.regex(fromPage.headers.get('www-authenticate') ?? '', /^Torc-Basic /);

  const browser = await launchBrowser(chromiumPath!);
  t.teardown(() => browser.close());
  const { page, errors } = browser;
  await page.goto(`${base}/`);
  const dialog = page.locator('[data-token-dialog][data-sign-in="users"]');
  await dialog.waitFor({ timeout: 60_000 });
  t.is(await dialog.locator('h3').textContent(), 'Sign in');

  // A wrong password: refused in the form, nothing kept.
  await dialog.locator('input[name="user"]').fill('ann');
  await dialog.locator('input[name="password"]').fill('wrong');
  await page.locator('[data-token-save]').click();
  await page.locator('[data-sign-in-problem]').waitFor({ timeout: 60_000 });
  t.regex((await page.locator('[data-sign-in-problem]').textContent()) ?? '', /refused this user name and password/);
  t.is(await page.evaluate("sessionStorage.getItem('torc.basic')"), null);

  // The right one: the list shows ann's workflow only.
  await dialog.locator('input[name="password"]').fill('ann-pw');
  await page.locator('[data-token-save]').click();
  await page.locator(`[data-workflow-row="${annWf}"]`).waitFor({ timeout: 60_000 });
  t.is(await page.locator(`[data-workflow-row="${bobWf}"]`).count(), 0, "bob's workflow is not listed");
  t.is(await page.locator('[data-token-button]').getAttribute('data-signed-in'), 'ann');
  t.false(page.url().includes('ann-pw'));

  // The workflow page: its live stream connects with the sign-in; its action runs as ann.
  await page.goto(`${base}/workflows/${annWf}`);
  await page.locator('[data-live="live"]').waitFor({ timeout: 60_000 });
  t.is(await page.locator('[data-token-dialog]').count(), 0, 'signed in once for this tab');
  await page.locator('[data-action="cancel-workflow"]').click();
  await page.locator('[data-confirm]').click();
  await page.locator('.toast-ok').waitFor({ timeout: 60_000 });
  const wf = await (await fetch(`${server.url}/workflows/${annWf}/status`, { headers: { Authorization: basic('ann', 'ann-pw') } })).json() as { is_canceled: boolean };
  t.true(wf.is_canceled);

  // Signed out and in as bob (header button): bob's workflow only; ann's answers 404.
  await page.locator('[data-token-button]').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('[data-token-button]').click();
  await dialog.locator('input[name="user"]').fill('bob');
  await dialog.locator('input[name="password"]').fill('bob-pw');
  await page.locator('[data-token-save]').click();
  await page.goto(`${base}/`);
  await page.locator(`[data-workflow-row="${bobWf}"]`).waitFor({ timeout: 60_000 });
  t.is(await page.locator(`[data-workflow-row="${annWf}"]`).count(), 0);
  t.is(await page.locator('[data-token-dialog]').count(), 0, 'the sign-in outlives a page load in the same tab');

  // The refused sign-in and the reads before it are logged by the browser itself; nothing else.
  t.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
});
