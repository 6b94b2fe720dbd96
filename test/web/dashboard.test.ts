/**
 * The dashboard as a person sees it: a real `torc server` process with a bearer token, a real
 * `torc run` runner running real processes, and Debian's headless Chromium opening every page.
 * One scenario, in order: the workflow list; the workflow page (grouped DAG node count, a group
 * expanded into its jobs, a live update when a job finishes); the job table (server-side
 * filter, search, sort, paging); the timeline; job pages with hostile names and output shown
 * as text; a log followed while it grows; actions without the token, with a wrong one and with
 * the right one (cancel one job, rerun failed, reinitialize, cancel the workflow); no page
 * polls; no console errors. Screenshots go to test-artifacts/dashboard/.
 * Skipped, loudly, when chromium is not installed.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startTorc, type StartedTorc } from '../support/cli.js';
import { artifactsDir, findChromium, launchBrowser, skipMessage, type Browser } from '../support/browser.js';
import { tempDir, waitFor } from '../support/procs.js';
import { startTorcServer, type ServerProcess } from '../support/server-proc.js';

const chromiumPath = findChromium();
if (!chromiumPath) process.stderr.write(skipMessage());
const serial = chromiumPath ? test.serial : test.serial.skip;

const TOKEN = 'dashboard-test-token-7f3a';
const HOSTILE_SCRIPT = '<script>window.__pwned=1</script>';
const HOSTILE_QUOTES = `quote"s 'and' <img src=x onerror="window.__pwned=4">`;
const HOSTILE_OUTPUT = '<script>window.__pwned=2</script><img src=x onerror="window.__pwned=3">';
/** Groups the DAG shows: setup, work_#, the two hostile names, gate, chatty, long, long_two, final. */
const GROUPS = 9;
const TOTAL_JOBS = 38;

interface Ctx {
  dir: string;
  server: ServerProcess;
  runner: StartedTorc;
  wf: number;
  base: string;
  browser: Browser;
  shots: string;
  ids: Record<string, number>;
}

let ctx: Ctx;

async function api<T = any>(method: string, p: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; json: T }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${ctx.server.url}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

const jobStatus = async (id: number): Promise<string> => (await api('GET', `/dashboard/workflows/${ctx.wf}/jobs?q=&limit=1000`)).json.items.find((j: { id: number }) => j.id === id)?.status;

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ctx.shots, `${name}.png`), fullPage: false });
}

test.before(async () => {
  if (!chromiumPath) return;
  const dir = await tempDir('torc-dash-');
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const server = await startTorcServer(path.join(dir, 'dash.db'), ['--token-file', tokenFile, '--public-read']);
  ctx = { dir, server, base: server.url.replace(/\/torc-service\/v1$/, ''), ids: {}, shots: artifactsDir('dashboard') } as Ctx;
  const gate = path.join(dir, 'gate');
  const stop = path.join(dir, 'stop-chatty');
  const spec = {
    name: 'dash <b>demo</b> "quoted"',
    description: 'browser test',
    jobs: [
      { name: 'setup', command: 'echo setup done' },
      { name: 'work_{i}', command: 'echo work {i}', depends_on: ['setup'], parameters: { i: '1:30' } },
      { name: HOSTILE_SCRIPT, command: `printf '%s\\n' '${HOSTILE_OUTPUT}'`, depends_on: ['setup'] },
      { name: HOSTILE_QUOTES, command: 'echo about to fail >&2; exit 3', depends_on: ['setup'] },
      { name: 'gate', command: `while [ ! -e ${gate} ]; do sleep 0.1; done; echo gate open`, depends_on: ['setup'] },
      { name: 'chatty', command: `i=0; while [ ! -e ${stop} ]; do i=$((i+1)); echo "tick $i <b>bold</b>"; sleep 0.2; done` },
      { name: 'long', command: 'sleep 600' },
      { name: 'long_two', command: 'sleep 600' },
      { name: 'final', command: 'echo final', depends_on: ['gate'] },
    ],
  };
  const created = await fetch(`${server.url}/workflow_specs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(spec),
  });
  if (created.status !== 201) throw new Error(`creating the workflow: ${created.status} ${await created.text()}`);
  const wf = ((await created.json()) as { workflow_id: number }).workflow_id;
  ctx.wf = wf;
  await api('POST', `/workflows/${wf}/initialize_jobs`);
  ctx.runner = startTorc(
    ['run', String(wf), '--url', server.url, '--token-file', tokenFile, '--max-parallel-jobs', '10', '--output-dir', path.join(dir, 'out'), '--poll-interval', '1', '-q'],
    { cwd: dir, timeoutMs: 900_000 },
  );
  const jobs = (await api('GET', `/dashboard/workflows/${wf}/jobs?limit=1000`)).json.items as { id: number; name: string }[];
  for (const j of jobs) ctx.ids[j.name] = j.id;
  // Wait for the steady state the pages are checked in: the sweep done, one failure, four jobs running.
  await waitFor(async () => {
    const s = (await api('GET', `/dashboard/workflows/${wf}`)).json;
    return s.counts.completed >= 32 && s.counts.failed === 1 && s.counts.running === 4;
  }, 120_000, 'the workflow to reach its steady state');
  ctx.browser = await launchBrowser(chromiumPath);
});

test.after.always(async () => {
  if (!ctx) return;
  await ctx.browser?.close();
  const runner = ctx.runner;
  if (runner && runner.child.exitCode === null && runner.child.signalCode === null) {
    runner.child.kill('SIGTERM');
    const timer = setTimeout(() => runner.child.kill('SIGKILL'), 30_000);
    await runner.result;
    clearTimeout(timer);
  }
  await ctx.server?.stop();
});

serial('pages carry a Content-Security-Policy and are served at / beside the API', async (t) => {
  const res = await fetch(`${ctx.base}/workflows/${ctx.wf}`);
  t.is(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  t.regex(csp, /script-src 'self'/);
  t.regex(csp, /default-src 'none'/);
  t.notRegex(csp, /unsafe-inline|unsafe-eval/);
  t.is(res.headers.get('x-content-type-options'), 'nosniff');
  t.regex(await res.text(), /<script type="module" src="\/assets\/app.js"><\/script>/);
  t.is((await fetch(`${ctx.base}/assets/../package.json`)).status, 404);
  t.is((await fetch(`${ctx.server.url}/ping`)).status, 200, 'the API is still under /torc-service/v1');
});

serial('workflow list: the running workflow with its phase, progress and counts, names shown as text', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.base}/`);
  const row = page.locator(`[data-workflow-row="${ctx.wf}"]`);
  await row.waitFor({ timeout: 60_000 });
  t.is(await row.locator('.wf-name a').textContent(), 'dash <b>demo</b> "quoted"');
  t.is(await row.locator('.wf-name b').count(), 0, 'the <b> in the name is text, not markup');
  t.is(await row.locator('[data-phase]').getAttribute('data-phase'), 'Running');
  t.regex((await row.locator('.progress-col').textContent()) ?? '', new RegExp(`/ ${TOTAL_JOBS} done`));
  await page.locator('[data-live="live"]').waitFor({ timeout: 30_000 });
  await shot(page, '1-workflows');
});

serial('workflow page: the DAG shows the sweep as one group, expands on click, updates live', async (t) => {
  const { page } = ctx.browser;
  await page.locator(`[data-workflow-row="${ctx.wf}"] .wf-name a`).click();
  await page.locator('[data-dag-ready]').waitFor({ timeout: 60_000 });
  t.is(await page.locator('[data-workflow-name]').textContent(), 'dash <b>demo</b> "quoted"');
  t.is(await page.locator('g[data-kind="group"]').count(), GROUPS);
  t.is(await page.locator('svg[data-dag-nodes]').getAttribute('data-dag-nodes'), String(GROUPS));
  const labels = await page.locator('g[data-kind="group"] .node-label').allTextContents();
  t.true(labels.includes('work_#'), labels.join(' | '));
  // Long labels are cut on the node; the tooltip has them whole.
  const titles = await page.locator('g[data-kind="group"] > title').allTextContents();
  t.true(titles.some((l) => l.startsWith('<script>window.__pwned=#</script> — 1 job')), `the hostile name is drawn as text: ${titles.join(' | ')}`);
  t.true(labels.some((l) => l.startsWith('<script>window.')));
  t.is(await page.evaluate('window.__pwned'), undefined);
  t.is(await page.evaluate('document.scripts.length'), 1, 'only the app script: nothing injected');
  await page.locator('[data-live="live"]').waitFor({ timeout: 30_000 });
  await shot(page, '2-workflow');

  // Expand the sweep: its 30 jobs appear as nodes; collapse again.
  await page.locator('g[data-kind="group"]', { has: page.locator('text=work_#') }).click();
  await waitFor(async () => (await page.locator('g[data-kind="job"]').count()) === 30, 60_000, 'the 30 jobs of work_#');
  t.is(await page.locator('g[data-kind="group"]').count(), GROUPS - 1);
  await shot(page, '3-workflow-expanded');
  await page.getByRole('button', { name: 'Collapse all' }).click();
  await waitFor(async () => (await page.locator('g[data-kind="group"]').count()) === GROUPS, 60_000, 'groups again');

  // Live: the gate job finishes (and `final` after it) while the page is open.
  const gateGroup = page.locator('g[data-kind="group"]', { has: page.locator('text=gate') });
  t.is(await gateGroup.locator('.node-pct').textContent(), '0%');
  const before = Number(((await page.locator('[data-done]').textContent()) ?? '0').replace('%', ''));
  const opened = Date.now();
  writeFileSync(path.join(ctx.dir, 'gate'), '');
  await waitFor(async () => (await gateGroup.locator('.node-pct').textContent()) === '100%', 60_000, 'the gate group to show 100%');
  const shownAfter = Date.now() - opened;
  await waitFor(async () => (await jobStatus(ctx.ids.final!)) === 'completed', 60_000, 'final to complete');
  const finalGroup = page.locator('g[data-kind="group"]', { has: page.locator('text=final') });
  await waitFor(async () => (await finalGroup.locator('.node-pct').textContent()) === '100%', 60_000, 'the final group to show 100%');
  t.true(Number(((await page.locator('[data-done]').textContent()) ?? '0').replace('%', '')) > before);
  t.log(`gate file created → gate shown finished in the page after ${shownAfter} ms (incl. the job noticing the file)`);
});

serial('job table: server-side status filter, name search, sort and paging', async (t) => {
  const { page } = ctx.browser;
  await page.locator('[data-tab="jobs"]').click();
  await page.locator('[data-job-row]').first().waitFor({ timeout: 60_000 });
  await waitFor(async () => (await page.locator('[data-job-row]').count()) === TOTAL_JOBS, 60_000, 'every job on one page of 50');
  t.is(await page.locator('.jobs-table').getAttribute('data-total'), String(TOTAL_JOBS));

  await page.locator('.table-tools [data-legend="failed"]').click();
  await waitFor(async () => (await page.locator('[data-job-row]').count()) === 1, 60_000, 'one failed job');
  t.is(await page.locator('[data-job-row]').getAttribute('data-status'), 'failed');
  t.is(await page.locator('[data-job-row] td.name a').textContent(), HOSTILE_QUOTES);
  t.is(await page.locator('[data-job-row] td.name img').count(), 0);
  await page.locator('.table-tools [data-legend="failed"]').click();

  await page.locator('[data-job-search]').fill('work_1');
  await waitFor(async () => (await page.locator('[data-job-row]').count()) === 11, 60_000, 'work_1 and work_10..19');
  await page.locator('th', { hasText: 'Name' }).click();
  const names = await page.locator('[data-job-row] td.name a').allTextContents();
  t.deepEqual(names, [...names].sort(), 'sorted by name');
  await page.locator('th', { hasText: 'Name' }).click();
  await waitFor(async () => (await page.locator('[data-job-row] td.name a').first().textContent()) === 'work_19', 60_000, 'descending');
  await shot(page, '4-jobs');

  await page.getByRole('button', { name: 'Clear filters' }).click();
  await page.locator('select[aria-label="Rows per page"]').selectOption('25');
  await waitFor(async () => (await page.locator('[data-job-row]').count()) === 25, 60_000, 'a page of 25');
  await page.locator('[data-page-next]').click();
  await waitFor(async () => (await page.locator('[data-job-row]').count()) === TOTAL_JOBS - 25, 60_000, 'the second page');
});

serial('timeline: a bar per attempt, on the runner\'s compute node', async (t) => {
  const { page } = ctx.browser;
  await page.locator('[data-tab="timeline"]').click();
  await page.locator('svg.timeline .gantt-bar').first().waitFor({ timeout: 60_000 });
  t.true((await page.locator('svg.timeline .gantt-bar').count()) >= 35);
  t.is(await page.locator('svg.timeline .band').count(), 1, 'one runner, one band');
  await shot(page, '5-timeline');
  await page.locator('[data-tab="resources"]').click();
  await page.locator('[data-resource-charts]').waitFor();
  // Only what was measured: the table when some finished job carries a summary, else a note saying none does.
  const measured = (await api('GET', `/dashboard/workflows/${ctx.wf}/resources`)).json.measured as number;
  await waitFor(async () => (await page.locator('[data-resource-charts]').getAttribute('data-resource-charts')) === (measured > 0 ? 'ready' : 'empty'), 30_000, 'the resources view');
  if (measured > 0) t.true((await page.locator('tr[data-usage-job]').count()) >= 1);
});

serial('job page: hostile name, command and output are shown as text', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.base}/jobs/${ctx.ids[HOSTILE_SCRIPT]}`);
  await page.locator('[data-log-text]').waitFor({ timeout: 60_000 });
  t.is(await page.locator('[data-job-name]').textContent(), HOSTILE_SCRIPT);
  t.true(((await page.locator('[data-job-command]').textContent()) ?? '').includes(HOSTILE_OUTPUT));
  await waitFor(async () => ((await page.locator('[data-log-text]').textContent()) ?? '').includes(HOSTILE_OUTPUT), 60_000, 'the output');
  t.is(await page.locator('[data-log-text] img, [data-log-text] script').count(), 0);
  t.is(await page.evaluate('window.__pwned'), undefined);
  t.is(await page.evaluate('document.scripts.length'), 1);

  await page.goto(`${ctx.base}/jobs/${ctx.ids[HOSTILE_QUOTES]}`);
  await page.locator('[data-attempts]').waitFor({ timeout: 60_000 });
  await page.locator('[data-log-tab="stderr"]').click();
  await waitFor(async () => ((await page.locator('[data-log-text]').textContent()) ?? '').includes('about to fail'), 60_000, 'stderr');
  await shot(page, '6-job-failed');
});

serial('job page: a running job\'s output is followed as it grows, and its end shows live', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.base}/jobs/${ctx.ids.chatty}`);
  await page.locator('[data-log-text]').waitFor({ timeout: 60_000 });
  const lastTick = async () => Math.max(0, ...[...((await page.locator('[data-log-text]').textContent()) ?? '').matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));
  const first = await lastTick();
  await waitFor(async () => (await lastTick()) >= first + 5, 60_000, 'new lines to be appended');
  t.true(((await page.locator('[data-log-text]').textContent()) ?? '').includes('<b>bold</b>'));
  t.is(await page.locator('[data-log-text] b').count(), 0);
  await shot(page, '7-job-log-follow');
  writeFileSync(path.join(ctx.dir, 'stop-chatty'), '');
  await page.locator('.title-line [data-status="completed"]').waitFor({ timeout: 60_000 });
  t.pass();
});

serial('actions: refused without the token and with a wrong one, done with the right one', async (t) => {
  const { page, errors } = ctx.browser;
  const long = ctx.ids.long!;
  await page.goto(`${ctx.base}/jobs/${long}`);
  await page.locator('[data-action="cancel-job"]').waitFor({ timeout: 60_000 });
  t.is(await jobStatus(long), 'running');

  // No token yet: the token dialog opens; closing it does nothing.
  await page.locator('[data-action="cancel-job"]').click();
  await page.locator('[data-confirm]').click();
  await page.locator('[data-token-dialog]').waitFor();
  await page.locator('[data-token-dialog]').getByRole('button', { name: 'Cancel' }).click();
  t.is(await jobStatus(long), 'running');

  // A wrong token: the server answers 401, the page says so and forgets it.
  const errorsBefore = errors.length;
  await page.locator('[data-action="cancel-job"]').click();
  await page.locator('[data-confirm]').click();
  await page.locator('[data-token-dialog] input').fill('not-the-token');
  await page.locator('[data-token-save]').click();
  await page.locator('.toast-error').waitFor({ timeout: 60_000 });
  t.regex((await page.locator('.toast-error').textContent()) ?? '', /refused the token/);
  t.is(await jobStatus(long), 'running');
  t.is(await page.evaluate("sessionStorage.getItem('torc.token')"), null);
  // The browser logs the refused request itself; that one is expected.
  errors.splice(errorsBefore, errors.length - errorsBefore, ...errors.slice(errorsBefore).filter((e) => !/status of 401/.test(e)));

  // The right token: kept in sessionStorage, never in the URL; the runner terminates the job.
  await page.locator('[data-action="cancel-job"]').click();
  await page.locator('[data-confirm]').click();
  await page.locator('[data-token-dialog] input').fill(TOKEN);
  await page.locator('[data-token-save]').click();
  await page.locator('.toast-ok').waitFor({ timeout: 60_000 });
  t.is(await page.evaluate("sessionStorage.getItem('torc.token')"), TOKEN);
  t.false(page.url().includes(TOKEN));
  await page.locator('.title-line [data-status="terminated"]').waitFor({ timeout: 120_000 });
  t.is(await jobStatus(long), 'terminated');
  await shot(page, '8-job-canceled');

  // Rerun failed (reset-status --failed-only + initialize): the failed job runs (and fails) again.
  const failing = ctx.ids[HOSTILE_QUOTES]!;
  await page.goto(`${ctx.base}/workflows/${ctx.wf}`);
  await page.locator('[data-action="rerun-failed"]').click();
  await page.locator('[data-confirm]').click();
  await page.locator('.toast-ok').waitFor({ timeout: 60_000 });
  await waitFor(async () => (await api('GET', `/results?workflow_id=${ctx.wf}&job_id=${failing}&all_runs=true`)).json.total_count === 2, 120_000, 'a second attempt of the failed job');
  t.is((await api('GET', `/workflows/${ctx.wf}`)).json.run_id, 2);

  // Reinitialize: a dry run first; nothing changed, so nothing is reset.
  await page.locator('[data-action="reinitialize"]').click();
  await page.locator('.dialog', { hasText: 'Nothing changed' }).waitFor({ timeout: 60_000 });
  await page.locator('[data-confirm]').click();
});

serial('an idle page makes no requests: updates come only from the event stream', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.base}/workflows/${ctx.wf}`);
  await page.locator('[data-dag-ready]').waitFor({ timeout: 60_000 });
  await page.locator('[data-live="live"]').waitFor({ timeout: 30_000 });
  // Let the answers to the stream's hello settle, then listen while nothing changes (the
  // running jobs sleep; no job changes state).
  let counts: Record<string, number> = {};
  await waitFor(async () => (counts = (await api('GET', `/dashboard/workflows/${ctx.wf}`)).json.counts).running === 2, 100_000, 'only the sleeping jobs running').catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(counts)}; runner: ${ctx.runner.output().stderr.slice(-800)}`);
  });
  // The reads the stream's hello asked for are done (none open, the count steady).
  const stats = () => page.evaluate('({ ...window.torcRequests })') as Promise<{ started: number; inFlight: number }>;
  let last = await stats();
  await waitFor(async () => {
    const now = await stats();
    const steady = now.inFlight === 0 && now.started === last.started;
    last = now;
    return steady;
  }, 60_000, 'the page to finish its reads');
  const requests: string[] = [];
  const onRequest = (r: { url(): string }) => requests.push(r.url());
  page.on('request', onRequest);
  await new Promise((r) => setTimeout(r, 3000));
  page.off('request', onRequest);
  t.deepEqual(requests, [], 'no request while nothing changes');
  t.is((await stats()).started, last.started);
});

serial('cancel the workflow from its page: it ends Canceled, live', async (t) => {
  const { page, errors } = ctx.browser;
  await page.locator('[data-action="cancel-workflow"]').click();
  await page.locator('[data-confirm]').click();
  await page.locator('.page-head [data-phase="Canceled"]').waitFor({ timeout: 120_000 });
  await shot(page, '9-workflow-canceled');
  const res = await ctx.runner.result;
  t.not(res.code, null, `the runner stopped by itself on the canceled workflow: ${res.stderr.slice(-500)}`);
  t.deepEqual(errors, [], 'no console errors on any page');
});
