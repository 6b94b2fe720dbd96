/**
 * Regenerates the README's dashboard screenshots (docs/dashboard-*.png) from a real run:
 * a `torc server`, three workflows (one finished, one failed, one running on two `torc run`
 * runners with real processes), and Debian's headless Chromium.
 *   node --import tsx scripts/dashboard-screenshots.ts [--out docs]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.resolve(process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1]! : path.join(ROOT, 'docs'));
const TOKEN = 'screenshot-token';
const dir = mkdtempSync(path.join(os.tmpdir(), 'torc-shots-'));
const children: ChildProcess[] = [];

function torc(args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'torc.js'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  children.push(child);
  return { child, out: () => out };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => Promise<boolean>, ms = 300_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(200);
  }
}

const ENSEMBLE = {
  name: 'ensemble-forecast',
  user: 'alice',
  description: '120-member regional ensemble, downscaled and verified',
  resource_requirements: [
    { name: 'io', num_cpus: 1, memory: '2g', runtime: 'PT10M' },
    { name: 'model', num_cpus: 2, memory: '8g', runtime: 'PT1H' },
    { name: 'post', num_cpus: 1, memory: '4g', runtime: 'PT20M' },
  ],
  jobs: [
    { name: 'fetch_boundary_conditions', command: 'echo "fetching GFS boundary conditions"; sleep 1; echo "42 files, 3.1 GiB"', resource_requirements: 'io' },
    {
      name: 'regrid_{m:03d}', command: 'echo "regridding member {m}"; sleep 0.$(( {m} % 5 + 2 ))', resource_requirements: 'io',
      depends_on: ['fetch_boundary_conditions'], parameters: { m: '1:120' },
    },
    {
      name: 'run_member_{m:03d}',
      command: 'echo "WRF member {m}: 36 h forecast, dt=18 s"; for h in 6 12 18 24 30 36; do echo "  t+${h}h  max wind $(( ({m} * h) % 23 + 14 )) m/s  cfl 0.$(( ({m} + h) % 9 + 1 ))"; sleep 0.9; done; if [ {m} -eq 37 ] || [ {m} -eq 88 ]; then echo "CFL violation at t+36h: time step too large" >&2; exit 1; fi; echo "member {m} done"',
      resource_requirements: 'model', depends_on: ['regrid_{m:03d}'], parameters: { m: '1:120' },
    },
    {
      name: 'downscale_{m:03d}_{region}', command: 'echo "downscaling member {m} over {region}"; sleep 0.3', resource_requirements: 'post',
      depends_on: ['run_member_{m:03d}'], parameters: { m: '1:120', region: "['north','south']" },
    },
    { name: 'verify_{var}', command: 'echo "verifying {var}"; sleep 2', resource_requirements: 'post', depends_on_regexes: ['^downscale_'], parameters: { var: "['temperature','precipitation','wind']" } },
    { name: 'publish_report', command: 'echo publishing; sleep 1', depends_on_regexes: ['^verify_'] },
  ],
};

const SMALL_OK = {
  name: 'nightly-etl', user: 'bob', description: 'ingest, clean and load yesterday\'s sensor data',
  jobs: [
    { name: 'ingest_{d}', command: 'sleep 0.2', parameters: { d: '1:24' } },
    { name: 'clean', command: 'sleep 0.3', depends_on_regexes: ['^ingest_'] },
    { name: 'load', command: 'sleep 0.2', depends_on: ['clean'] },
  ],
};

const SMALL_FAIL = {
  name: 'hyperparameter-sweep', user: 'carol', description: 'learning rate × batch size',
  jobs: [
    { name: 'train_lr{lr}_bs{bs}', command: 'sleep 0.3; [ {bs} -ne 512 ]', parameters: { lr: '[0.1,0.01,0.001]', bs: '[64,128,512]' } },
    { name: 'select_best', command: 'sleep 0.2', depends_on_regexes: ['^train_'] },
  ],
};

async function main(): Promise<void> {
  writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const server = torc(['server', '--db', path.join(dir, 'torc.db'), '--port', '0', '--token-file', path.join(dir, 'token')]);
  await until('the server', async () => /listening on (\S+)/.test(server.out()), 60_000);
  const api = /listening on (\S+)/.exec(server.out())![1]!;
  const base = api.replace(/\/torc-service\/v1$/, '');
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${api}${p}`, { method, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return res.json() as Promise<any>;
  };
  const create = async (spec: unknown) => {
    const { workflow_id } = await call('POST', '/workflow_specs', spec);
    await call('POST', `/workflows/${workflow_id}/initialize_jobs`);
    return workflow_id as number;
  };
  const runner = (wf: number, n: number, name: string) =>
    torc(['run', String(wf), '--url', api, '--token-file', path.join(dir, 'token'), '--max-parallel-jobs', String(n), '--output-dir', path.join(dir, name), '--poll-interval', '1', '-q']);

  const etl = await create(SMALL_OK);
  await new Promise<void>((r) => runner(etl, 8, 'out-etl').child.on('close', () => r()));
  const sweep = await create(SMALL_FAIL);
  await new Promise<void>((r) => runner(sweep, 4, 'out-sweep').child.on('close', () => r()));
  const wf = await create(ENSEMBLE);
  runner(wf, 6, 'out-a');
  await sleep(1500);
  runner(wf, 5, 'out-b');
  await until('the ensemble to be about half done', async () => {
    const s = await call('GET', `/dashboard/workflows/${wf}`);
    return s.done >= s.total * 0.4 && s.counts.failed >= 1;
  });

  mkdirSync(OUT, { recursive: true });
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'torc-shots-chromium-'));
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.TORC_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 2,
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const shot = async (name: string) => {
    await sleep(600);
    await page.screenshot({ path: path.join(OUT, `dashboard-${name}.png`) });
    process.stderr.write(`wrote docs/dashboard-${name}.png\n`);
  };
  await page.goto(`${base}/`);
  await page.locator(`[data-workflow-row="${wf}"]`).waitFor();
  await shot('workflows');
  await page.goto(`${base}/workflows/${wf}`);
  await page.locator('[data-dag-ready]').waitFor();
  await page.locator('.throughput-card .chart').waitFor();
  await shot('workflow');
  const running =
    (await call('GET', `/dashboard/workflows/${wf}/jobs?status=running&q=run_member&limit=1`)).items[0] ??
    (await call('GET', `/dashboard/workflows/${wf}/jobs?status=running&limit=1`)).items[0];
  if (running) {
    await page.goto(`${base}/jobs/${running.id}`);
    await page.locator('[data-log-text]').waitFor();
    await sleep(1500);
    await shot('job');
  }
  await page.goto(`${base}/workflows/${wf}`);
  await page.locator('[data-dag-ready]').waitFor();
  await page.locator('[data-tab="jobs"]').click();
  await page.locator('.table-tools [data-legend="running"]').click();
  await page.locator('[data-job-row]').first().waitFor();
  await page.locator('.table-tools [data-legend="running"]').click();
  await page.locator('th', { hasText: 'Started' }).click();
  await page.locator('th', { hasText: 'Started' }).click();
  await shot('jobs');
  await page.locator('[data-tab="timeline"]').click();
  await page.locator('svg.timeline .gantt-bar').first().waitFor();
  await shot('timeline');
  await ctx.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 2000);
  });
