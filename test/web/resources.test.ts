/**
 * The dashboard's resource views (issue 22) as a person sees them, in Debian's headless
 * Chromium: a real `torc server`, a real `torc run` measuring real processes (a job holding
 * 150 MiB under a 100m requirement, sampled as a time series; a job that fails), then
 *  - the job page: the attempt's CPU and memory over time drawn from the stored samples, its
 *    summary, and peak memory / diagnosis per attempt;
 *  - the workflow's Resources tab: the jobs by peak memory against what they asked for, the
 *    job over its memory marked;
 * with no console errors. Screenshots go to test-artifacts/dashboard-resources/.
 * Skipped, loudly, when chromium is not installed.
 */
import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTorc } from '../support/cli.js';
import { artifactsDir, findChromium, launchBrowser, skipMessage } from '../support/browser.js';
import { tempDir, waitFor } from '../support/procs.js';
import { startTorcServer } from '../support/server-proc.js';

const chromiumPath = findChromium();
if (!chromiumPath) process.stderr.write(skipMessage());
const serial = chromiumPath ? test.serial : test.serial.skip;

const HOG = fileURLToPath(new URL('../fixtures/monitor/hog.mjs', import.meta.url));
const MIB = 1024 ** 2;
const TOKEN = 'resources-test-token-41c2';

serial('job page draws an attempt\'s CPU and memory over time; the Resources tab ranks jobs by peak memory against their requests', async (t) => {
  t.timeout(300_000);
  const dir = await tempDir('torc-dash-res-');
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const server = await startTorcServer(path.join(dir, 'res.db'), ['--token-file', tokenFile, '--public-read']);
  t.teardown(() => server.stop());
  const api = async <T = any>(method: string, p: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}${p}`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const ready = path.join(dir, 'ready');
  const go = path.join(dir, 'go');
  const { workflow_id: wf } = await api<{ workflow_id: number }>('POST', '/workflow_specs', {
    name: 'usage',
    resource_monitor: { granularity: 'time_series', sample_interval_seconds: 1 },
    resource_requirements: [{ name: 'small', num_cpus: 1, memory: '100m', runtime: 'PT10M' }],
    jobs: [
      { name: 'hog', command: `node ${HOG} --mb 150 --ready-file ${ready} --wait-file ${go}`, resource_requirements: 'small' },
      { name: 'broken', command: 'echo cannot go on >&2; exit 3', resource_requirements: 'small' },
    ],
  });
  await api('POST', `/workflows/${wf}/initialize_jobs`);
  const runner = startTorc(['run', String(wf), '--url', server.url, '--token-file', tokenFile, '--output-dir', path.join(dir, 'out'), '--poll-interval', '1', '-q'], {
    cwd: dir,
    timeoutMs: 280_000,
  });
  t.teardown(() => {
    if (runner.child.exitCode === null) runner.child.kill('SIGKILL');
  });
  const jobs = (await api<{ items: { id: number; name: string }[] }>('GET', `/dashboard/workflows/${wf}/jobs?limit=100`)).items;
  const id = (name: string) => jobs.find((j) => j.name === name)!.id;
  // The hog holds its memory until samples showing it are stored, then ends.
  await waitFor(() => existsSync(ready), 120_000, 'the hog to allocate');
  await waitFor(
    async () => (await api<{ items: { memory_bytes: number }[] }>('GET', `/workflows/${wf}/job_resource_samples?job_id=${id('hog')}&limit=1000`)).items.some((s) => s.memory_bytes >= 150 * MIB),
    120_000,
    'a sample of the hog holding its memory',
  );
  writeFileSync(go, '');
  const run = await runner.result;
  t.is(run.code, 0, run.stderr);
  const results = (await api<{ items: { job_id: number; peak_memory_bytes: number | null }[] }>('GET', `/results?workflow_id=${wf}`)).items;
  const hogPeak = results.find((r) => r.job_id === id('hog'))!.peak_memory_bytes!;
  t.true(hogPeak >= 150 * MIB, `peak ${hogPeak}`);

  const browser = await launchBrowser(chromiumPath!);
  t.teardown(() => browser.close());
  const { page } = browser;
  const base = server.url.replace(/\/torc-service\/v1$/, '');
  const shots = artifactsDir('dashboard-resources');

  // The hog's page: its samples drawn, the summary and the attempt row from its result.
  await page.goto(`${base}/jobs/${id('hog')}`);
  const resources = page.locator('[data-job-resources]');
  await resources.waitFor({ timeout: 60_000 });
  t.is(await resources.getAttribute('data-job-resources'), 'chart');
  const samples = Number(await resources.getAttribute('data-samples'));
  const stored = (await api<{ total_count: number }>('GET', `/workflows/${wf}/job_resource_samples?job_id=${id('hog')}&limit=1`)).total_count;
  t.is(samples, stored, 'every stored sample of the attempt is drawn');
  t.true(samples >= 1);
  t.true((await page.locator('[data-chart="job-usage"] canvas').count()) >= 1, 'uPlot drew the chart');
  t.is(Number(await page.locator('[data-job-peak-memory]').getAttribute('data-job-peak-memory')), hogPeak);
  t.regex((await page.locator('[data-attempt-row="1"]').textContent()) ?? '', /\d+ MiB/);
  await page.locator('[data-job-resources]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, '1-job-usage.png') });

  // The failed job: diagnosed (the server's rule: exit 3 is unknown), shown per attempt.
  await page.goto(`${base}/jobs/${id('broken')}`);
  await page.locator('[data-attempts]').waitFor({ timeout: 60_000 });
  t.is(await page.locator('[data-attempt-row="1"] [data-diagnosis]').getAttribute('data-diagnosis'), 'unknown');

  // The Resources tab: jobs by peak memory, the hog first and over its 100m.
  await page.goto(`${base}/workflows/${wf}?tab=resources`);
  const charts = page.locator('[data-resource-charts]');
  await charts.waitFor({ timeout: 60_000 });
  t.is(await charts.getAttribute('data-resource-charts'), 'ready');
  const first = page.locator('tr[data-usage-job]').first();
  t.is(Number(await first.getAttribute('data-usage-job')), id('hog'));
  t.is(Number(await first.locator('[data-peak-memory]').getAttribute('data-peak-memory')), hogPeak);
  t.is(await first.locator('.meter.meter-over').count(), 1, 'the hog is marked over its memory');
  await page.screenshot({ path: path.join(shots, '2-workflow-resources.png') });

  t.deepEqual(browser.errors, [], 'no console errors');
});
