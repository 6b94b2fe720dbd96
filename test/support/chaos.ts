/**
 * Outage trials (issue 24): a real `torc server` (token, SQLite file), a workflow of N jobs that
 * each append their id to ran.log plus one that waits for all of them, and a runner on it — an
 * external `torc run --url` or a `torc worker` in a real Slurm allocation. When N·k of the jobs
 * have finished on disk (a condition, drawn from the seed) the server is SIGKILLed and started
 * again on the same port and database after an outage drawn from 0..maxOutageMs — or a TCP
 * proxy between runner and server stalls or resets every connection for a window. Each trial
 * ends with the checks of the issue: every job completed exactly once in the store and on
 * disk, the workflow Succeeded, the runner exited by itself (0), the invariant checker holds.
 * Figures: the outages, the reports the runner delivered after one (replayed), and how long the
 * store took after each restart to catch up with what had finished on disk by then (converge).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { runTorc, startTorc, type StartedTorc } from './cli.js';
import { checkDatabaseFile } from './invariants.js';
import { rng } from './rng.js';
import { slurmApiHost } from './slurm.js';
import { TcpProxy, type ProxyMode } from './tcp-proxy.js';

export interface ChaosOptions {
  seed: number;
  /** Independent jobs (one more waits for all of them). */
  jobs: number;
  /** Each job sleeps this long before it appends its id. */
  jobSeconds: number;
  runner: 'local' | 'slurm';
  /** `torc run` / the worker: queue depth 4 (--max-parallel-jobs 4) or resource-aware with 4 CPUs. */
  mode: 'queue' | 'resources';
  /** Server SIGKILLs, each followed by a restart after 0..maxOutageMs. */
  kills: number;
  maxOutageMs: number;
  /** Instead of kills: the proxy between runner and server stalls or resets everything for windowMs. */
  proxy?: { mode: Exclude<ProxyMode, 'pass'>; windowMs: number };
  log?: (line: string) => void;
}

export interface ChaosResult {
  problems: string[];
  /** Each fault: how many jobs had finished on disk, and how long the server was away. */
  faults: { finishedOnDisk: number; outageMs: number }[];
  /** Reports the runner delivered after keeping them through an outage (its summary line). */
  replayed: number;
  /** Per fault: ms from the server being back until the store recorded every job finished on disk by then. */
  convergeMs: number[];
  /** Proxy connections reset or held. */
  proxyStats?: { connections: number; resets: number; stalled: number };
  totalMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(host: string): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, stepMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** A `torc server` on a fixed port (a restart reuses it); resolves once it listens. */
async function startServer(db: string, host: string, port: number, tokenFile: string): Promise<StartedTorc> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const proc = startTorc(['server', '--db', db, '--host', host, '--port', String(port), '--token-file', tokenFile], { timeoutMs: 1_800_000 });
    for (;;) {
      if (/listening on/.test(proc.output().stdout)) return proc;
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) break;
      await sleep(20);
    }
    const { stderr } = proc.output();
    // The port may still be held for a moment by the killed server's sockets.
    if (!/already in use/.test(stderr) || Date.now() > deadline) throw new Error(`torc server did not start: ${stderr}`);
    await sleep(100);
  }
}

function chaosSpec(o: ChaosOptions, dir: string): string {
  const cmd = JSON.stringify(`sleep ${o.jobSeconds}; echo "$TORC_JOB_ID" >> ${join(dir, 'ran.log')}`);
  const slurm = o.runner === 'slurm';
  return [
    `name: chaos-${o.seed}`,
    'compute_node_wait_for_healthy_database_minutes: 10',
    ...(slurm
      ? [
          'compute_node_wait_for_new_jobs_seconds: 20',
          'compute_node_expiration_buffer_seconds: 10',
          'resource_requirements: [{name: small, num_cpus: 1, memory: 10m, runtime: PT5M}]',
          'slurm_schedulers: [{name: chaos, walltime: "00:30:00", mem: 600M}]',
        ]
      : []),
    'jobs:',
    `  - {name: "work_{i}", command: ${cmd}, parameters: {i: "1:${o.jobs}"}${slurm ? ', scheduler: chaos, resource_requirements: small' : ''}}`,
    `  - {name: gather, command: ${cmd}, depends_on_regexes: ["^work_"]${slurm ? ', scheduler: chaos, resource_requirements: small' : ''}}`,
    '',
  ].join('\n');
}

function linesOnDisk(dir: string): string[] {
  try {
    return readFileSync(join(dir, 'ran.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

export async function chaosTrial(o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const random = rng(o.seed);
  const dir = mkdtempSync(join(tmpdir(), `torc-chaos-${o.seed}-`));
  const db = join(dir, 'torc.db');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `chaos-${o.seed}-${Math.random().toString(36).slice(2)}\n`, { mode: 0o600 });
  const token = readFileSync(tokenFile, 'utf8').trim();
  // A worker in a Slurm allocation may run on a test node that reaches the host only on the bridge.
  const host = o.runner === 'slurm' ? slurmApiHost() : '127.0.0.1';
  const port = await freePort(host);
  const problems: string[] = [];
  const faults: ChaosResult['faults'] = [];
  const convergeMs: number[] = [];
  const total = o.jobs + 1;
  let server: StartedTorc | null = await startServer(db, host, port, tokenFile);
  const url = `http://${host}:${port}/torc-service/v1`;
  const client = new TorcClient(url, { token });
  const proxy = o.proxy ? await TcpProxy.start(port) : null;
  const runnerUrl = proxy ? `http://127.0.0.1:${proxy.port}/torc-service/v1` : url;
  const slurm = new SlurmCommands();
  let allocation: string | null = null;
  let runner: StartedTorc | null = null;
  try {
    const { workflow_id: wf } = await client.createWorkflowFromSpec(chaosSpec(o, dir));
    await client.initializeJobs(wf);
    const out = join(dir, 'out');
    const modeArgs = o.mode === 'queue' ? ['--max-parallel-jobs', '4'] : [];
    if (o.runner === 'local') {
      runner = startTorc(
        ['run', String(wf), '--url', runnerUrl, '--token-file', tokenFile, '--output-dir', out, ...modeArgs,
          ...(o.mode === 'resources' ? ['--num-cpus', '4', '--memory-gb', '4', '--num-gpus', '0'] : [])],
        { cwd: dir, timeoutMs: 1_800_000 },
      );
    } else {
      const sched = (await client.listSlurmSchedulers(wf)).items[0]!;
      const res = await runTorc(
        ['slurm', 'schedule-nodes', String(wf), '--url', runnerUrl, '--token-file', tokenFile, '--scheduler-config-id', String(sched.id),
          '--num-hpc-jobs', '1', '--output-dir', out, '--format', 'json', ...modeArgs],
        { cwd: dir },
      );
      if (res.code !== 0) throw new Error(`schedule-nodes failed: ${res.stderr}`);
      allocation = (JSON.parse(res.stdout) as { allocations: { slurm_job_id: string }[] }).allocations[0]!.slurm_job_id;
    }
    const runnerDone = async (): Promise<boolean> => {
      if (runner) return runner.child.exitCode !== null || runner.child.signalCode !== null;
      const entry = (await slurm.queue([allocation!])).get(allocation!);
      return !entry || !/^(PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUE|RESIZING|SIGNALING|STAGE_OUT)/.test(entry.state);
    };

    // Fault points: after a drawn share of the jobs finished on disk (increasing).
    const count = o.proxy ? 1 : o.kills;
    const points = Array.from({ length: count }, () => Math.floor(o.jobs * (0.1 + 0.75 * random()))).sort((a, b) => a - b);
    for (const point of points) {
      await until(async () => linesOnDisk(dir).length >= point || (await runnerDone()), 600_000, `${point} jobs to finish on disk`);
      if (await runnerDone()) break;
      const finishedOnDisk = linesOnDisk(dir).length;
      let outageMs: number;
      if (proxy) {
        proxy.setMode(o.proxy!.mode);
        const t0 = Date.now();
        await sleep(o.proxy!.windowMs); // the fault's length is the scenario, not a wait for something
        proxy.setMode('pass');
        outageMs = Date.now() - t0;
      } else {
        server!.child.kill('SIGKILL');
        await server!.result;
        server = null;
        const t0 = Date.now();
        await sleep(Math.round(random() * o.maxOutageMs)); // likewise: the outage drawn for this trial
        server = await startServer(db, host, port, tokenFile);
        outageMs = Date.now() - t0;
      }
      faults.push({ finishedOnDisk: linesOnDisk(dir).length, outageMs });
      log(`fault after ${finishedOnDisk}/${total} on disk: ${proxy ? `proxy ${o.proxy!.mode}` : 'server SIGKILL'}, away ${outageMs} ms`);
      // Converged: the store records every job that had finished on disk when the server came back.
      const onDiskThen = linesOnDisk(dir).length;
      const back = Date.now();
      await until(async () => {
        const s = await client.getWorkflowStatus(wf).catch(() => null);
        return s !== null && (s.counts.completed ?? 0) >= onDiskThen;
      }, 600_000, 'the store to catch up with the disk');
      convergeMs.push(Date.now() - back);
    }

    // The runner exits by itself once the workflow is complete.
    await until(runnerDone, 900_000, 'the runner to exit', 200);
    let runnerLog = '';
    if (runner) {
      const res = await runner.result;
      runnerLog = res.stderr;
      if (res.code !== 0) problems.push(`torc run exited ${res.code ?? res.signal}: ${res.stderr.slice(-2000)}`);
    } else {
      runnerLog = readFileSync(join(out, `slurm_${allocation}.e`), 'utf8') + readFileSync(join(out, `slurm_${allocation}.o`), 'utf8');
      if (!/stopped \(complete\)/.test(runnerLog)) problems.push(`the Slurm worker did not stop complete: ${runnerLog.slice(-2000)}`);
    }
    const replayed = Number(/(\d+) report\(s\) delivered after one/.exec(runnerLog)?.[1] ?? 0);

    const status = await client.getWorkflowStatus(wf);
    if (status.phase !== 'Succeeded') problems.push(`workflow ${status.phase}: ${JSON.stringify(status.counts)}`);
    const jobs = await client.allJobs(wf);
    const notCompleted = jobs.filter((j) => j.status !== 'completed');
    if (jobs.length !== total || notCompleted.length > 0) problems.push(`${notCompleted.length} of ${jobs.length} jobs not completed: ${JSON.stringify(notCompleted.slice(0, 5))}`);
    const results = (await client.listResults(wf, { limit: 10_000 })).items;
    const completedResults = new Map<number, number>();
    for (const r of results) if (r.status === 'completed') completedResults.set(r.job_id, (completedResults.get(r.job_id) ?? 0) + 1);
    const twiceInStore = [...completedResults].filter(([, n]) => n !== 1);
    if (completedResults.size !== total || twiceInStore.length > 0) {
      problems.push(`store: ${completedResults.size} jobs with a completed result, ${twiceInStore.length} with more than one`);
    }
    const onDisk = new Map<string, number>();
    for (const line of linesOnDisk(dir)) onDisk.set(line, (onDisk.get(line) ?? 0) + 1);
    const twiceOnDisk = [...onDisk].filter(([, n]) => n > 1);
    if (onDisk.size !== total || twiceOnDisk.length > 0) {
      problems.push(`disk: ${onDisk.size} of ${total} jobs ran, ${twiceOnDisk.length} more than once (${twiceOnDisk.slice(0, 5).map(([id, n]) => `${id}×${n}`).join(', ')})`);
    }
    server!.child.kill('SIGTERM');
    await server!.result;
    server = null;
    const inv = await checkDatabaseFile(db);
    problems.push(...inv.violations.map((v) => `invariant: ${v}`));
    return { problems, faults, replayed, convergeMs, proxyStats: proxy ? { ...proxy.stats } : undefined, totalMs: Date.now() - started };
  } catch (e) {
    problems.push(`trial failed: ${(e as Error).message}; runner: ${runner?.output().stderr.slice(-3000) ?? ''}`);
    return { problems, faults, replayed: 0, convergeMs, totalMs: Date.now() - started };
  } finally {
    if (runner && runner.child.exitCode === null) runner.child.kill('SIGKILL');
    if (allocation) await slurm.cancel(allocation).catch(() => undefined);
    if (server) {
      server.child.kill('SIGKILL');
      await server.result;
    }
    await proxy?.close();
    if (problems.length === 0) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir} for a look`);
  }
}

/** One line of figures over many trials, for the test log and README's Reliability table. */
export function chaosFigures(results: ChaosResult[]): string {
  const outages = results.flatMap((r) => r.faults.map((f) => f.outageMs));
  const converge = results.flatMap((r) => r.convergeMs);
  const replayed = results.reduce((a, r) => a + r.replayed, 0);
  const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return (
    `${results.length} trials, ${outages.length} outages (${outages.length ? `${fmt(Math.min(...outages))}–${fmt(Math.max(...outages))}` : 'none'}), ` +
    `${replayed} reports replayed, max time to converge ${converge.length ? fmt(Math.max(...converge)) : 'n/a'}`
  );
}
