/**
 * `torc plot-resources` as a user sees it: the HTML files open in Debian's chromium (headless,
 * driven by playwright-core), offline (nothing is fetched: the charting library is inlined),
 * with no console error, every chart drawn; screenshots are kept in test-artifacts/monitor/.
 * Also generate_plots: true, which writes the same files after `torc reconcile`.
 */
import test from 'ava';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runTorc } from '../support/cli.js';
import { tempDir } from '../support/procs.js';
import { artifactsDir, findChromium, launchBrowser, skipMessage } from '../support/browser.js';

const HOG = fileURLToPath(new URL('../fixtures/monitor/hog.mjs', import.meta.url));
const chromium = findChromium();
if (!chromium) console.warn(skipMessage());
const withBrowser = chromium ? test : test.skip;

const WORKFLOW = `name: plots
resource_monitor: {granularity: time_series, sample_interval_seconds: 1, generate_plots: true}
resource_requirements:
  - {name: small, num_cpus: 1, memory: 500m, runtime: PT30M}
jobs:
  - name: "hog_{i}"
    command: node ${HOG} --mb {i}0 --cpu-ms 2500
    resource_requirements: small
    parameters: {i: "5:7"}
`;

withBrowser('plot-resources: self-contained HTML plots open offline in chromium, every chart drawn, no console errors (screenshots kept)', async (t) => {
  const dir = await tempDir('torc-plots-');
  writeFileSync(path.join(dir, 'wf.yaml'), WORKFLOW);
  const run = await runTorc(['reconcile', 'wf.yaml', '--no-server'], { cwd: dir });
  t.is(run.code, 0, run.stderr);
  // generate_plots: written by the reconcile itself.
  t.regex(run.stderr, /resource plots in .*resource_utilization/);
  t.true(readdirSync(path.join(dir, 'torc_output', 'resource_utilization')).includes('resource_plot_summary.html'));

  const out = path.join(dir, 'plots');
  const plot = await runTorc(['plot-resources', '1', '--db', path.join(dir, '.torc', 'wf.db'), '-o', out], { cwd: dir });
  t.is(plot.code, 0, plot.stderr);
  const files = readdirSync(out).sort();
  t.deepEqual(files, [
    'resource_plot_cpu_all_jobs.html',
    'resource_plot_job_1.html',
    'resource_plot_job_2.html',
    'resource_plot_job_3.html',
    'resource_plot_memory_all_jobs.html',
    'resource_plot_summary.html',
  ]);
  for (const f of files) {
    const html = readFileSync(path.join(out, f), 'utf8');
    t.notRegex(html, /<script[^>]+src=|<link[^>]+href=|url\(\s*['"]?https?:|import\s*\(/i, `${f} loads nothing from elsewhere`);
  }

  const browser = await launchBrowser(chromium!, { width: 1200, height: 900 });
  t.teardown(() => browser.close());
  const requests: string[] = [];
  browser.page.on('request', (r) => {
    if (!r.url().startsWith('file:')) requests.push(r.url());
  });
  const shots = artifactsDir('monitor');
  const expectCharts: Record<string, number> = { 'resource_plot_summary.html': 2, 'resource_plot_cpu_all_jobs.html': 1, 'resource_plot_memory_all_jobs.html': 1 };
  for (const f of files) {
    await browser.page.goto(pathToFileURL(path.join(out, f)).href);
    await browser.page.waitForSelector('body[data-charts]');
    const charts = Number(await browser.page.getAttribute('body', 'data-charts'));
    t.is(charts, expectCharts[f] ?? 3, `${f}: every chart drawn`);
    t.is(await browser.page.locator('canvas').count(), charts, `${f}: one canvas per chart`);
    // A chart with data has legend entries for its series (uPlot draws them from the data).
    t.true((await browser.page.locator('.u-legend .u-series').count()) >= charts * 2, `${f}: legends`);
    await browser.page.screenshot({ path: path.join(shots, f.replace(/\.html$/, '.png')), fullPage: true });
  }
  t.deepEqual(browser.errors, []);
  t.deepEqual(requests, [], 'nothing is fetched from the network');
});

test('plot-resources: bad arguments are named', async (t) => {
  const dir = await tempDir('torc-plots-');
  const noOut = await runTorc(['plot-resources', '1', '--db', path.join(dir, 'none.db')], { cwd: dir });
  t.is(noOut.code, 2);
  t.regex(noOut.stderr, /--output-dir/);
  const noDb = await runTorc(['plot-resources', '1', '--db', path.join(dir, 'none.db'), '-o', dir], { cwd: dir });
  t.is(noDb.code, 2);
  t.regex(noDb.stderr, /--db: no database/);
  const badIds = await runTorc(['plot-resources', '1', '--db', path.join(dir, 'none.db'), '-o', dir, '--job-ids', '1,x'], { cwd: dir });
  t.is(badIds.code, 2);
  t.regex(badIds.stderr, /--job-ids/);
});
