/**
 * `torc reconcile FILE`: the main job. Stores the declared workflow(s) in an embedded SQLite
 * file, serves the REST API on 127.0.0.1 so other runners can join, and runs the reconcile
 * loop with a local runner until every job is finished. Kill it at any moment and run the
 * same command again: it carries on (completed jobs are never re-run; changed jobs are).
 */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { loadWorkflowFile, planDocument } from '../../spec/index.js';
import { Store } from '../../store/index.js';
import { SlurmDispatcher } from '../../reconciler/slurm-dispatch.js';
import { registerSlurmScheduleNodes } from '../../reconciler/slurm-schedule-nodes.js';
import { torcBin } from './slurm.js';
import { awaitingClassification, Reconciler, type Dispatcher, type ReconcileResult } from '../../reconciler/reconciler.js';
import { ScheduledRuns } from '../../reconciler/schedule.js';
import { refuseMissingRequiredFiles } from '../../reconciler/required-files.js';
import type { WorkflowStatusView } from '../../contract/workflow-status.js';
import { startServer, silentLogger, type RunningServer } from '../../api/app.js';
import { createProgressView } from '../progress.js';
import { parseFormat, parseIntOption, printJson, printWarnings, renderTable } from '../output.js';
import { InputError } from '../../errors.js';
import { addLocalJobOptions, localJobOptionsFromFlags, readToken, type LocalJobFlags } from '../runner-flags.js';

interface ReconcileFlags extends LocalJobFlags {
  tokenFile?: string;
  runner?: string;
  maxAllocations?: string;
  db?: string;
  port?: string;
  server: boolean;
  dashboard: boolean;
  host: string;
  format?: string;
  quiet?: boolean;
  maxRuns?: string;
  force?: boolean;
}

interface SummaryRow {
  name: string;
  workflow_id: number;
  /** The run's number, for a workflow with a schedule. */
  run?: number;
  status: WorkflowStatusView;
}

/** `<dir>/.torc/<file name without extension>.db`, next to the workflow file. */
export function defaultDbPath(file: string): string {
  const abs = resolve(file);
  return join(dirname(abs), '.torc', `${basename(abs, extname(abs))}.db`);
}

export function register(program: Command): void {
  addLocalJobOptions(
    program
      .command('reconcile')
      .description('Run the workflow(s) declared in FILE to the end on this machine (embedded SQLite; re-run to resume)')
      .argument('<file>', 'workflow file (.yaml/.yml, .json, .json5 or .kdl; a Workflow resource or a bare torc spec)'),
  )
    .option('--db <path>', 'SQLite database (default: .torc/<name>.db next to the file)')
    .option('--port <port>', 'port of the REST API on 127.0.0.1 (default: a free one)')
    .option('--host <host>', 'address of the REST API', '127.0.0.1')
    .option('--no-server', 'do not serve the REST API')
    .option('--no-dashboard', 'serve the REST API without the web dashboard at /')
    .option('--token-file <file>', 'the bearer token the REST API requires on its changing routes (default: one made for this run, in .torc/<name>.token next to the database); Slurm workers get the file path')
    .option('--format <format>', 'summary format: table or json', 'table')
    .option('-q, --quiet', 'log only phase changes and failures')
    .option('--runner <kind>', 'who runs the jobs: local (this machine) or slurm (allocations submitted for the slurm_schedulers)', 'local')
    .option('--max-allocations <n>', 'with --runner slurm: most allocations per scheduler queued or running at once', '4')
    .option('--max-runs <n>', 'a workflow with a schedule: stop after N runs (default: run on every tick until Ctrl-C)')
    .option('--force', 'start even when required input files are missing (torc refuses: "Missing required files")')
    .action(async (file: string, flags: ReconcileFlags) => {
      process.exitCode = await reconcileCommand(file, flags);
    });
}

async function reconcileCommand(file: string, flags: ReconcileFlags): Promise<number> {
  const format = parseFormat(flags.format);
  const { maxParallelJobs, overrides, pollIntervalSeconds, outputDir } = localJobOptionsFromFlags(flags);
  const port = parseIntOption(flags.port, '--port', 0);
  if (port !== undefined && port > 65535) throw new InputError(`expected a port from 0 to 65535, got ${port}`, '--port');
  const maxRuns = parseIntOption(flags.maxRuns, '--max-runs', 1);
  const runnerKind = flags.runner ?? 'local';
  if (runnerKind !== 'local' && runnerKind !== 'slurm') throw new InputError(`expected "local" or "slurm", got "${runnerKind}"`, '--runner');
  const maxAllocations = parseIntOption(flags.maxAllocations, '--max-allocations', 1) ?? 4;
  if (runnerKind === 'slurm' && !flags.server) {
    throw new InputError('Slurm workers claim jobs over the REST API: --runner slurm cannot go with --no-server', '--no-server');
  }

  // Validate and plan every document before touching the database: bad input writes nothing.
  const docs = loadWorkflowFile(file);
  const plans = docs.map((doc) => planDocument(doc));
  for (const doc of docs) printWarnings(file, doc.warnings);
  if (runnerKind === 'slurm') {
    docs.forEach((doc, i) => {
      if (plans[i]!.slurm_schedulers.length === 0) {
        throw new InputError('--runner slurm needs at least one entry in slurm_schedulers', `${doc.pathPrefix}spec.slurm_schedulers`);
      }
    });
  }
  const dbPath = flags.db ?? defaultDbPath(file);
  mkdirSync(dirname(resolve(dbPath)), { recursive: true });
  const auth = flags.server ? await apiToken(flags.tokenFile, dbPath) : null;
  const token = auth?.token;
  const tokenFile = auth?.file ?? null;
  // schedule_nodes actions of type slurm submit allocations that run this same torc.
  const unregisterSlurm = registerSlurmScheduleNodes({ torcCommand: [process.execPath, torcBin()], tokenFile });
  mkdirSync(outputDir, { recursive: true });
  const store = await Store.open(dbPath);
  let server: RunningServer | null = null;
  let active: Reconciler | null = null;
  let scheduled: ScheduledRuns | null = null;
  let stopRequested = false;
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping; running jobs are terminated and will be re-run next time\n`);
    stopRequested = true;
    scheduled?.stop();
    void active?.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const results: SummaryRow[] = [];
  let finishedPlans = 0;
  try {
    if (flags.server) {
      server = await startServer({ store, host: flags.host, port: port ?? 0, logger: silentLogger, token, lazySchemas: true, dashboard: flags.dashboard });
      process.stderr.write(
        `REST API: ${server.baseUrl} (changes need the token in the file below)\n` +
          (flags.dashboard ? `dashboard: ${server.url}/\n` : '') +
          `other runners: torc run WF --url ${server.baseUrl} --token-file ${tokenFile}\n`,
      );
    }
    for (const plan of plans) {
      if (stopRequested) break;
      const applied = await store.applyPlan(plan);
      let workflowId = applied.workflow_id;
      if (applied.action === 'replaced') {
        process.stderr.write(`workflow ${plan.name}: spec changed; kept ${applied.kept} completed job(s), ${applied.rerun} to run\n`);
      }
      const before = await store.getStatus(workflowId);
      const failedBefore = before.counts.failed! + before.counts.terminated! + before.counts.canceled! + before.counts.pending_failed!;
      if (applied.action === 'unchanged' && (before.is_complete || awaitingClassification(before.counts)) && (failedBefore > 0 || before.is_canceled)) {
        // Reconciling again is asking for the declared state: run what did not succeed.
        const reset = await store.resetStatus(workflowId, { failedOnly: true });
        process.stderr.write(`workflow ${plan.name}: re-running ${reset.reset} job(s) that did not succeed\n`);
      }
      workflowId = applied.workflow_id;
      // As torc: a workflow about to start whose required files are missing is refused, nothing run.
      if (!flags.force && (await store.getStatus(workflowId)).counts.uninitialized! > 0) {
        await refuseMissingRequiredFiles(store, workflowId, process.cwd(), `workflow ${plan.name}`);
      }
      process.stderr.write(`workflow ${plan.name} (id ${workflowId}): ${plan.jobs.length} jobs; database ${dbPath}; output ${outputDir}\n`);
      const runOnce = async (): Promise<ReconcileResult> => {
        const view = createProgressView({ tty: Boolean(process.stderr.isTTY), name: plan.name, quiet: flags.quiet });
        const reconciler = new Reconciler({
          store,
          workflowId,
          outputDir,
          cwd: process.cwd(),
          maxParallelJobs: maxParallelJobs ?? null,
          overrides,
          apiUrl: server?.baseUrl ?? null,
          pollIntervalSeconds,
          onStatus: (s) => view.status(s),
          onRunnerEvent: (e) => view.runnerEvent(e),
          onNotice: (m) => view.notice(m),
          localRunner: runnerKind === 'local',
          dispatchers:
            runnerKind === 'slurm'
              ? [slurmDispatcher(store, workflowId, maxAllocations, { url: server!.baseUrl, outputDir, maxParallelJobs, tokenFile }, (m) => view.notice(m))]
              : [],
        });
        active = reconciler;
        // A signal that came while the plan was being stored found no reconciler to stop.
        if (stopRequested) await reconciler.stop();
        try {
          return await reconciler.run();
        } finally {
          view.stop();
          active = null;
        }
      };
      const schedule = plan.settings.schedule;
      const runs: ReconcileResult[] = [];
      if (schedule) {
        // Runs now, then again at every tick until Ctrl-C (or --max-runs); see reconciler/schedule.ts.
        process.stderr.write(`workflow ${plan.name}: schedule "${schedule}": runs again at every tick${maxRuns ? ` (${maxRuns} run(s) in all)` : ' until stopped (Ctrl-C)'}\n`);
        scheduled = new ScheduledRuns({
          store,
          workflowId,
          schedule,
          maxRuns: maxRuns ?? null,
          runOnce,
          onRunDone: (n, r) => process.stderr.write(`workflow ${plan.name}: run ${n} ended ${r.status.phase}\n`),
          onSkip: () => process.stderr.write(`workflow ${plan.name}: schedule tick skipped: the previous run is still going\n`),
        });
        if (stopRequested) scheduled.stop();
        runs.push(...(await scheduled.run()));
        scheduled = null;
      } else {
        runs.push(await runOnce());
      }
      for (const [i, result] of runs.entries()) {
        if (result.stuck) {
          process.stderr.write(`workflow ${plan.name}: ${result.stuck}\n`);
        }
        results.push({ name: plan.name, workflow_id: workflowId, ...(schedule ? { run: i + 1 } : {}), status: result.status });
      }
      const last = runs[runs.length - 1];
      if (stopRequested || !last || (last.status.phase !== 'Succeeded' && last.status.phase !== 'Failed' && last.status.phase !== 'Canceled')) break; // stopped
      finishedPlans++;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    unregisterSlurm();
    if (server && !stopRequested) await waitForExternalRunners(store, results.map((r) => r.workflow_id));
    await server?.close();
    await store.close();
    if (auth?.generated) rmSync(auth.file, { force: true });
  }
  printSummary(results, format);
  return finishedPlans === plans.length && results.every((r) => r.status.phase === 'Succeeded') ? 0 : 1;
}

/**
 * The bearer token the REST API requires on its changing routes: the one in --token-file, or
 * (also when TORC_API_TOKEN is set, whose value then serves) one made for this run and written
 * next to the database, readable by this user only, and removed at the end. Reads stay open. An
 * API without a token on 127.0.0.1 would let any other user of a shared login node cancel the
 * workflow, or claim and complete its jobs.
 */
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

function printSummary(results: SummaryRow[], format: 'table' | 'json'): void {
  if (format === 'json') {
    printJson(results.map((r) => ({ name: r.name, workflow_id: r.workflow_id, ...(r.run ? { run: r.run } : {}), ...r.status })));
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
}

/** The Slurm dispatch of `--runner slurm`: allocations for ready jobs, canceled when the reconcile ends early. */
function slurmDispatcher(
  store: Store,
  workflowId: number,
  maxAllocationsPerScheduler: number,
  launch: { url: string; outputDir: string; maxParallelJobs: number | null | undefined; tokenFile: string | null },
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
async function waitForExternalRunners(store: Store, workflowIds: number[], graceMs = 15_000): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (const id of new Set(workflowIds)) {
    while (Date.now() < deadline) {
      const active = await store.listComputeNodes(id, { activeOnly: true, limit: 1 }).catch(() => null);
      if (!active || active.total === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
