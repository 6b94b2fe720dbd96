/**
 * Running a stored workflow to the end from this process, shared by `torc reconcile` and
 * `torc recover`: the REST API with its token (so other runners and Slurm workers can join), the
 * reconcile loop with a local runner or the Slurm dispatch, a progress view, and what is printed
 * at the end (the summary table, then every failed job with its diagnosis, output paths and the
 * last lines of its stderr). After a run, recovery (`--recover`) and plots (`generate_plots`).
 */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, openSync, rmSync, writeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Store } from '../store/index.js';
import { SlurmDispatcher } from '../reconciler/slurm-dispatch.js';
import { Reconciler, type Dispatcher, type ReconcileResult } from '../reconciler/reconciler.js';
import { startServer, silentLogger, type RunningServer } from '../api/app.js';
import { reachableApiUrl } from '../runners/slurm/server-address.js';
import type { WorkflowStatusView } from '../contract/workflow-status.js';
import { resolveResourceMonitor } from '../spec/resource-monitor.js';
import { workingDirectory } from '../spec/working-dir.js';
import type { JobRunnerOptions } from '../runners/local/job-runner.js';
import { DEFAULT_RECOVERY, recoveryOptionIssues, type RecoveryOptions } from '../allocator/recovery.js';
import { InputError } from '../errors.js';
import type { RecoverOutcome } from '../store/index.js';
import { formatMemory, formatDuration } from '../spec/units.js';
import { createProgressView } from './progress.js';
import { parseNumberOption, printJson, renderTable } from './output.js';
import { readToken } from './runner-flags.js';
import { torcBin } from './commands/slurm.js';
import { registerSlurmScheduleNodes } from '../reconciler/slurm-schedule-nodes.js';
import { failedJobs, renderFailedJobs, type FailedJobDigest } from './reports/results.js';
import { writeResourcePlots } from './plots/resource-plots.js';

export type RunnerKind = 'local' | 'slurm';

/** How this process runs jobs: the local runner's options, or the Slurm dispatch's. */
export interface RunSettings extends Pick<JobRunnerOptions, 'maxParallelJobs' | 'overrides' | 'pollIntervalSeconds' | 'enforceMemory' | 'monitorBackend'> {
  outputDir: string;
  runnerKind: RunnerKind;
  maxAllocations: number;
  quiet?: boolean;
}

export interface ServedApi {
  server: RunningServer;
  /** The API's URL for workers and jobs: the bind address, or this host's name for a wildcard (never 0.0.0.0). */
  apiUrl: string;
  tokenFile: string;
  /** Where it is and how to join, for a person. */
  banner: string;
  close(): Promise<void>;
}

/**
 * Serves the REST API on `host:port` with a bearer token on its changing routes: the one in
 * `tokenFileFlag`, or one made for this run next to the database (mode 0600, removed at the end).
 * Reads stay open (the run's own dashboard on this machine: `auth.publicRead`); an open API on 127.0.0.1 would let any other user of a shared login node
 * cancel the workflow or claim its jobs.
 */
export async function serveApi(store: Store, dbPath: string, host: string, port: number, tokenFileFlag: string | undefined, dashboard = true): Promise<ServedApi> {
  const auth = await apiToken(tokenFileFlag, dbPath);
  const server = await startServer({ store, host, port, logger: silentLogger, token: auth.token, auth: { publicRead: true }, lazySchemas: true, dashboard });
  const apiUrl = reachableApiUrl(server.baseUrl, host);
  return {
    server,
    apiUrl,
    tokenFile: auth.file,
    banner:
      `REST API: ${apiUrl} (changes need the token in the file below)\n` +
      (dashboard ? `dashboard: ${reachableApiUrl(server.url, host)}/\n` : '') +
      `other runners: torc run WF --url ${apiUrl} --token-file ${auth.file}\n`,
    close: async () => {
      await server.close();
      if (auth.generated) rmSync(auth.file, { force: true });
    },
  };
}

async function apiToken(tokenFileFlag: string | undefined, dbPath: string): Promise<{ token: string; file: string; generated: boolean }> {
  if (tokenFileFlag) return { token: (await readToken(tokenFileFlag))!, file: resolve(tokenFileFlag), generated: false };
  const file = resolve(`${dbPath.replace(/\.db$/, '')}.token`);
  const token = process.env.TORC_API_TOKEN || randomBytes(32).toString('base64url');
  // Created (or truncated) private: the mode of an existing file is set before the token goes in.
  const fd = openSync(file, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
  return { token, file, generated: true };
}

/**
 * What a command that runs stored workflows here holds while it does (`torc reconcile`,
 * `torc recover`): the store, the REST API it may serve, the Slurm schedule_nodes handler, and
 * Ctrl-C / SIGTERM, which stop the running reconcile (its jobs are terminated and re-run next time).
 */
export class RunSession {
  api: ServedApi | null = null;
  stopRequested = false;
  private announced = false;
  private active: Reconciler | null = null;
  private readonly stopHooks: (() => void)[] = [];
  private unregisterSlurm: () => void = () => {};
  private readonly onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping; running jobs are terminated and will be re-run next time\n`);
    this.stopRequested = true;
    for (const hook of this.stopHooks) hook();
    void this.active?.stop();
  };

  constructor(
    readonly store: Store,
    private readonly dbPath: string,
  ) {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Also called on a stop signal (e.g. a schedule's runs). */
  onStop(hook: () => void): void {
    this.stopHooks.push(hook);
  }

  /**
   * Serves the REST API (when asked) and lets schedule_nodes actions of type slurm submit
   * allocations that run this torc. Its address is printed by announce(), once the workflows it
   * will serve are stored (a script that reads the address may ask for them at once).
   */
  async open(server: { host: string; port: number; tokenFile?: string; dashboard?: boolean } | null): Promise<void> {
    if (server) this.api = await serveApi(this.store, this.dbPath, server.host, server.port, server.tokenFile, server.dashboard ?? true);
    this.unregisterSlurm = registerSlurmScheduleNodes({ torcCommand: [process.execPath, torcBin()], tokenFile: this.api?.tokenFile ?? null });
  }

  /** Prints where the REST API is, the dashboard, and how other runners join (once). */
  announce(): void {
    if (!this.api || this.announced) return;
    this.announced = true;
    process.stderr.write(this.api.banner);
  }

  /** Runs the workflow once to the end, or until stopped. */
  run(workflowId: number, name: string, settings: RunSettings): Promise<ReconcileResult> {
    return runWorkflowOnce(this.store, workflowId, name, settings, this.api, (r) => {
      this.active = r;
      // A signal that came while the run was being set up found no reconciler to stop.
      if (r && this.stopRequested) void r.stop();
    });
  }

  /** Lets external runners of these workflows leave, then closes the API and the store. */
  async close(workflowIds: number[]): Promise<void> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.unregisterSlurm();
    if (this.api && !this.stopRequested) await waitForExternalRunners(this.store, workflowIds);
    await this.api?.close();
    await this.store.close();
  }
}

/** Runs the stored workflow once to the end (or until stopped), with a progress view. `onReconciler` sees the reconciler while it runs (for signals). */
export async function runWorkflowOnce(
  store: Store,
  workflowId: number,
  name: string,
  settings: RunSettings,
  api: ServedApi | null,
  onReconciler: (r: Reconciler | null) => void,
): Promise<ReconcileResult> {
  // The spec's working_dir, else here: where the jobs run, locally and on Slurm (--chdir).
  const cwd = await jobsDirectory(store, workflowId);
  const view = createProgressView({ tty: Boolean(process.stderr.isTTY), name, quiet: settings.quiet });
  const reconciler = new Reconciler({
    store,
    workflowId,
    outputDir: settings.outputDir,
    cwd,
    maxParallelJobs: settings.maxParallelJobs ?? null,
    overrides: settings.overrides,
    enforceMemory: settings.enforceMemory,
    monitorBackend: settings.monitorBackend,
    apiUrl: api?.apiUrl ?? null,
    pollIntervalSeconds: settings.pollIntervalSeconds,
    onStatus: (s) => view.status(s),
    onRunnerEvent: (e) => view.runnerEvent(e),
    onNotice: (m) => view.notice(m),
    localRunner: settings.runnerKind === 'local',
    dispatchers:
      settings.runnerKind === 'slurm'
        ? [
            slurmDispatcher(store, workflowId, settings.maxAllocations, { url: api!.apiUrl, outputDir: settings.outputDir, workingDir: cwd, maxParallelJobs: settings.maxParallelJobs, tokenFile: api!.tokenFile }, (m) =>
              view.notice(m),
            ),
          ]
        : [],
  });
  onReconciler(reconciler);
  try {
    return await reconciler.run();
  } finally {
    view.stop();
    onReconciler(null);
  }
}

/**
 * The directory the workflow's jobs run in (spec working_dir, else the current one); an
 * InputError naming spec.working_dir when it is not a directory (Slurm would quietly start the
 * jobs in /tmp instead).
 */
export async function jobsDirectory(store: Store, workflowId: number): Promise<string> {
  const { settings } = await store.getWorkflow(workflowId);
  const dir = workingDirectory(settings, process.cwd());
  if (settings.working_dir) {
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) throw new InputError(`${dir} ${st ? 'is not a directory' : 'does not exist'}: create it first (jobs run there)`, 'spec.working_dir');
  }
  return dir;
}

/** The Slurm dispatch of `--runner slurm`: allocations for ready jobs, canceled when the run ends early. */
function slurmDispatcher(
  store: Store,
  workflowId: number,
  maxAllocationsPerScheduler: number,
  launch: { url: string; outputDir: string; workingDir: string; maxParallelJobs: number | null | undefined; tokenFile: string | null },
  onNotice: (message: string) => void,
): Dispatcher {
  const dispatcher = new SlurmDispatcher({
    store,
    workflowId,
    policy: { maxAllocationsPerScheduler },
    launch: { ...launch, torcCommand: [process.execPath, torcBin()], maxParallelJobs: launch.maxParallelJobs ?? null },
    onNotice,
  });
  return {
    pass: () => dispatcher.pass(),
    stop: async () => {
      const progress = await store.getStatus(workflowId);
      if (!progress.is_complete) {
        const n = await dispatcher.cancelAll();
        if (n > 0) onNotice(`canceled ${n} Slurm allocation(s)`);
      }
    },
  };
}

/**
 * External runners (torc run, Slurm workers) learn that the workflow is complete from the API
 * and then deregister. Keep serving until they have, briefly, so they exit cleanly instead of
 * finding the server gone.
 */
export async function waitForExternalRunners(store: Store, workflowIds: number[], graceMs = 15_000): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (const id of new Set(workflowIds)) {
    while (Date.now() < deadline) {
      const active = await store.listComputeNodes(id, { activeOnly: true, limit: 1 }).catch(() => null);
      if (!active || active.total === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Whether the workflow ran on Slurm before (its allocations are recorded): recovery then uses new allocations too. */
export async function ranOnSlurm(store: Store, workflowId: number): Promise<boolean> {
  const nodes = await store.listComputeNodes(workflowId, { limit: 10_000 });
  return nodes.items.some((n) => n.compute_node_type === 'slurm' || n.scheduler_job_id !== null);
}

/** The unsuccessful jobs of a workflow with their diagnosis, output paths and stderr's last lines. */
export async function failedJobDigest(store: Store, workflowId: number): Promise<FailedJobDigest[]> {
  const jobs = await everyPage((offset, limit) => store.listJobs(workflowId, { offset, limit }));
  const results = await everyPage((offset, limit) => store.listResults(workflowId, { offset, limit }));
  return failedJobs(jobs, results);
}

/** Every item of a store listing. */
async function everyPage<T>(list: (offset: number, limit: number) => Promise<{ items: T[]; total: number }>): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += 10_000) {
    const page = await list(offset, 10_000);
    out.push(...page.items);
    if (page.items.length < 10_000) return out;
  }
}

/** What `torc recover` / `--recover` decided, one line per job. */
export function describeRecovery(outcome: RecoverOutcome): string {
  const lines: string[] = [];
  for (const s of outcome.steps) {
    const head = `  job ${s.name} (id ${s.job_id}): ${s.diagnosis}`;
    if (s.action === 'raise') {
      const parts: string[] = [];
      if (s.to.memory_bytes !== s.from.memory_bytes) parts.push(`memory ${formatMemory(s.from.memory_bytes)} -> ${formatMemory(s.to.memory_bytes)}`);
      if (s.to.runtime_seconds !== s.from.runtime_seconds) parts.push(`runtime ${formatDuration(s.from.runtime_seconds)} -> ${formatDuration(s.to.runtime_seconds)}`);
      lines.push(`${head}, ${parts.join(', ')}${s.to.capped.length > 0 ? ' (held at what runners offer)' : ''}`);
    } else if (s.action === 'retry') {
      lines.push(`${head}, run again unchanged (--retry-unknown)`);
    } else {
      lines.push(`${head}, left alone: ${s.reason === 'unknown_cause' ? 'unknown cause (use --retry-unknown to run it again)' : 'already at what runners offer'}`);
    }
  }
  const chosen = outcome.steps.filter((s) => s.action !== 'skip').length;
  lines.push(
    outcome.dry_run
      ? `dry run: ${chosen} job(s) would run again`
      : chosen > 0
        ? `${chosen} job(s) recovered; ${outcome.reset} job(s) to run again in run ${outcome.run_id}`
        : 'no recoverable job',
  );
  return lines.join('\n');
}

/** Recovery, then run the recovered jobs: returns the recovery and the run (null when nothing was recovered). */
export async function recoverAndRun(
  store: Store,
  workflowId: number,
  name: string,
  options: RecoveryOptions,
  run: () => Promise<ReconcileResult>,
): Promise<{ outcome: RecoverOutcome; result: ReconcileResult | null }> {
  const outcome = await store.recoverWorkflow(workflowId, options);
  process.stderr.write(`workflow ${name}: recovery\n${describeRecovery(outcome)}\n`);
  if (!outcome.steps.some((s) => s.action !== 'skip')) return { outcome, result: null };
  return { outcome, result: await run() };
}

/** With `generate_plots: true`: the workflow's plots into `<output-dir>/resource_utilization/` (torc's place). */
export async function plotsIfAsked(store: Store, workflowId: number, outputDir: string): Promise<string | null> {
  const wf = await store.getWorkflow(workflowId);
  if (!resolveResourceMonitor(wf.settings.resource_monitor).generate_plots) return null;
  const jobs = await everyPage((offset, limit) => store.listJobs(workflowId, { offset, limit }));
  const results = await everyPage((offset, limit) => store.listResults(workflowId, { offset, limit }));
  const samples = await everyPage((offset, limit) => store.listResourceSamples(workflowId, { offset, limit }));
  const dir = join(outputDir, 'resource_utilization');
  writeResourcePlots({ workflow: { id: workflowId, name: wf.name }, jobs, results, samples }, dir);
  return dir;
}

export interface SummaryRow {
  name: string;
  workflow_id: number;
  /** The run's number, for a workflow with a schedule. */
  run?: number;
  status: WorkflowStatusView;
  failed_jobs: FailedJobDigest[];
}

/** The end of `torc reconcile` / `torc recover`: a row per workflow (run), then each failed job. */
export function printSummary(results: SummaryRow[], format: 'table' | 'json'): void {
  if (format === 'json') {
    printJson(results.map((r) => ({ name: r.name, workflow_id: r.workflow_id, ...(r.run ? { run: r.run } : {}), ...r.status, failed_jobs: r.failed_jobs })));
    return;
  }
  const withRuns = results.some((r) => r.run !== undefined);
  const rows = results.map((r) => ({
    workflow: r.name,
    id: r.workflow_id,
    run: r.run ?? '',
    phase: r.status.phase,
    total: r.status.total,
    completed: r.status.counts.completed,
    failed: r.status.counts.failed,
    terminated: r.status.counts.terminated,
    canceled: r.status.counts.canceled,
    unfinished: r.status.total - r.status.done,
  }));
  const columns = ['workflow', 'id', ...(withRuns ? ['run'] : []), 'phase', 'total', 'completed', 'failed', 'terminated', 'canceled', 'unfinished'];
  process.stdout.write(`${renderTable(rows, columns)}\n`);
  // The failed jobs of each workflow once (its last row holds them).
  const last = new Map(results.map((r) => [r.workflow_id, r]));
  for (const r of last.values()) {
    if (r.failed_jobs.length === 0) continue;
    process.stdout.write(`\nFailed jobs of ${r.name} (workflow ${r.workflow_id}):\n${renderFailedJobs(r.failed_jobs)}\n`);
  }
}

/** The recovery flags of `torc recover` and `torc reconcile --recover`; `prefix` says when they apply. */
export function addRecoveryOptions(cmd: Command, prefix = ''): Command {
  return cmd
    .option('--memory-multiplier <x>', `${prefix}memory × this for likely_oom`, '1.5')
    .option('--runtime-multiplier <x>', `${prefix}runtime × this for likely_timeout`, '1.5')
    .option('--retry-unknown', `${prefix}also run again, unchanged, jobs whose failure is unknown`);
}

/** Recovery options from the flags of `reconcile --recover` and `recover`, each checked. */
export function recoveryFromFlags(flags: { memoryMultiplier?: string; runtimeMultiplier?: string; retryUnknown?: boolean }): RecoveryOptions {
  const options: RecoveryOptions = {
    memory_multiplier: parseNumberOption(flags.memoryMultiplier, '--memory-multiplier', 0) ?? DEFAULT_RECOVERY.memory_multiplier,
    runtime_multiplier: parseNumberOption(flags.runtimeMultiplier, '--runtime-multiplier', 0) ?? DEFAULT_RECOVERY.runtime_multiplier,
    retry_unknown: flags.retryUnknown === true,
  };
  const issues = recoveryOptionIssues(options);
  if (issues.length > 0) throw new InputError(issues.map((i) => ({ path: `--${i.field.replace('_', '-')}`, message: i.message })));
  return options;
}

