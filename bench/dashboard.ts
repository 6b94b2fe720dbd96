/**
 * Item 7 (issue 16), the web dashboard on a 100k-job workflow (a setup job, three sweeps of
 * ~33k jobs each chained job by job, a report after all): per run, a fresh `torc server`
 * process (cold caches) and a fresh headless Chromium open /workflows/1.
 * - server time of the first view: the server's own request log (--log-requests), summed over
 *   every request the page made until its grouped DAG was drawn (page, assets, API reads);
 * - DAG drawn: the page's `dag-drawn` performance mark, from navigation start.
 * Debian's chromium is required (the section is skipped without it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { createWorkflowFile } from './lib/workflows.js';
import { ROOT, tempDir } from './lib/proc.js';
import type { BenchContext, BenchSection, Target } from './lib/section.js';
import { fmt, millis, summarize, table, verdict } from './lib/stats.js';

export interface DashboardBenchOptions {
  jobs: number;
}

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function sweepSpec(n: number): string {
  const third = Math.floor((n - 2) / 3);
  return `name: sweep_${n}
description: dashboard benchmark (bench/dashboard.ts)
resource_requirements:
  - {name: small, num_cpus: 1, memory: 1g, runtime: PT10M}
  - {name: big, num_cpus: 4, memory: 8g, runtime: PT1H}
jobs:
  - name: setup
    command: echo setup
  - name: prep_{i}
    command: ./prep.sh {i}
    resource_requirements: small
    depends_on: [setup]
    parameters: {i: "1:${n - 2 - 2 * third}"}
  - name: sim_{i}
    command: ./sim.sh {i}
    resource_requirements: big
    depends_on: ["prep_{i}"]
    parameters: {i: "1:${third}"}
  - name: post_{i}
    command: ./post.sh {i}
    resource_requirements: small
    depends_on: ["sim_{i}"]
    parameters: {i: "1:${third}"}
  - name: report
    command: ./report.sh
    depends_on_regexes: ["^post_"]
`;
}

/** Total length of the union of intervals: time with at least one request in progress. */
function unionMs(spans: [number, number][]): number {
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of [...spans].sort((x, y) => x[0] - y[0])) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

interface Run {
  /** Time the server had at least one of the view's requests in progress (overlaps counted once). */
  serverMs: number;
  /** The requests' times added up (requests served side by side count twice). */
  sumMs: number;
  requests: number;
  dagDrawnMs: number;
  apiMs: Record<string, number>;
}

interface LoggedRequest {
  line: string;
  /** When the line arrived here (ms, performance.now()): the request's end, near enough. */
  at: number;
}

async function startServer(db: string): Promise<{ url: string; requests: () => LoggedRequest[]; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'torc.js'), 'server', '--db', db, '--port', '0', '--log-requests'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let pending = '';
  const requests: LoggedRequest[] = [];
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    const at = performance.now();
    err += d.toString();
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) requests.push({ line, at });
  });
  const deadline = Date.now() + 60_000;
  while (!/dashboard: (\S+)/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`torc server did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: /dashboard: (\S+)/.exec(out)![1]!.replace(/\/$/, ''),
    requests: () => requests,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('close', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function oneRun(db: string, executablePath: string): Promise<Run> {
  const server = await startServer(db);
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'torc-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: FLAGS, viewport: { width: 1440, height: 960 } });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${server.url}/workflows/1`);
    await page.locator('[data-dag-ready]').waitFor({ timeout: 120_000 });
    const dagDrawnMs = (await page.evaluate("performance.getEntriesByName('dag-drawn')[0].startTime")) as number;
    // Requests answered so far (event streams are logged when they end: not counted).
    const apiMs: Record<string, number> = {};
    let sumMs = 0;
    const spans: [number, number][] = [];
    for (const { line, at } of server.requests()) {
      const m = /^(GET|HEAD) (\S+) (\d{3}) ([\d.]+)ms$/.exec(line);
      if (!m) continue;
      const ms = Number(m[4]);
      sumMs += ms;
      spans.push([at - ms, at]);
      const route = m[2]!.replace(/\/\d+/g, '/{id}');
      apiMs[route] = (apiMs[route] ?? 0) + ms;
    }
    return { serverMs: unionMs(spans), sumMs, requests: spans.length, dagDrawnMs, apiMs };
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
    await server.stop();
  }
}

export async function runDashboardBench(ctx: BenchContext, o: DashboardBenchOptions): Promise<BenchSection> {
  const executablePath = CHROMIUM.find((p) => existsSync(p));
  if (!executablePath) {
    ctx.log('!!!!! chromium not found: the dashboard benchmark is SKIPPED (apt-get install chromium) !!!!!');
    return { key: 'dashboard', title: '7. Dashboard: first view of a 100k-job workflow', markdown: 'Skipped: Debian\'s chromium is not installed.', figures: {}, targets: [] };
  }
  const tmp = tempDir('dashboard');
  try {
    const db = path.join(tmp.dir, 'dash.db');
    ctx.log(`dashboard: storing a ${o.jobs}-job workflow`);
    await createWorkflowFile(db, sweepSpec(o.jobs));
    const runs: Run[] = [];
    for (let i = 0; i < ctx.runs; i++) {
      const r = await oneRun(db, executablePath);
      ctx.log(`dashboard run ${i + 1}: server busy ${r.serverMs.toFixed(0)} ms (sum ${r.sumMs.toFixed(0)} ms) over ${r.requests} requests, DAG drawn at ${r.dagDrawnMs.toFixed(0)} ms`);
      runs.push(r);
    }
    const server = summarize(runs.map((r) => r.serverMs));
    const drawn = summarize(runs.map((r) => r.dagDrawnMs));
    const routes = [...new Set(runs.flatMap((r) => Object.keys(r.apiMs)))].sort();
    const serverOk = server.median <= 1000;
    const drawnOk = drawn.median <= 2000;
    const targets: Target[] = [
      { name: `(7) first view of a ${o.jobs.toLocaleString('en-US')}-job workflow ≤ 1 s of server time`, ok: serverOk, measured: millis(server.median) },
      { name: `(7) its grouped DAG drawn ≤ 2 s in headless Chromium`, ok: drawnOk, measured: millis(drawn.median) },
    ];
    const markdown = [
      `A ${o.jobs.toLocaleString('en-US')}-job workflow (setup → prep_{i} → sim_{i} → post_{i}, ~${Math.floor((o.jobs - 2) / 3).toLocaleString('en-US')} each, chained job by job → report): ` +
        `${(o.jobs - 2 + Math.floor((o.jobs - 2) / 3)).toLocaleString('en-US')} dependencies, drawn as 5 groups. Each run starts a fresh \`torc server\` (cold: no DAG model cached) and a fresh headless Chromium, and opens /workflows/1; median (min–max) of ${runs.length} runs.`,
      '',
      table(
        ['figure', 'measured', 'verdict'],
        [
          ['server time of the first view (time with one of its requests in progress, from the server\'s request log)', fmt(server, millis), verdict(serverOk, '≤ 1 s')],
          ['the same requests\' times added up', fmt(summarize(runs.map((r) => r.sumMs)), millis), ''],
          ['grouped DAG drawn (performance mark, from navigation start)', fmt(drawn, millis), verdict(drawnOk, '≤ 2 s')],
          ['requests until then', String(Math.round(summarize(runs.map((r) => r.requests)).median)), ''],
        ],
        ['l', 'r', 'l'],
      ),
      '',
      'Server time per route (median over runs; ids shown as {id}):',
      '',
      table(['request', 'server time'], routes.map((r) => [r, millis(summarize(runs.map((x) => x.apiMs[r] ?? 0)).median)]), ['l', 'r']),
      '',
      `Reproduce: \`npm run bench -- --only dashboard --dashboard-jobs ${o.jobs}\`.`,
    ].join('\n');
    return {
      key: 'dashboard',
      title: `7. Dashboard: first view of a ${o.jobs.toLocaleString('en-US')}-job workflow`,
      markdown,
      figures: { 'dashboard.server_ms': server.median, 'dashboard.dag_drawn_ms': drawn.median },
      targets,
    };
  } finally {
    tmp.remove();
  }
}
