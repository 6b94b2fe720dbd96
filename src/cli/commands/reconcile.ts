/**
 * `torc reconcile FILE`: the main job. Stores the declared workflow(s) in an embedded SQLite
 * file, serves the REST API on 127.0.0.1 so other runners can join, and runs the reconcile
 * loop with a local runner until every job is finished. Kill it at any moment and run the
 * same command again: it carries on (completed jobs are never re-run; changed jobs are).
 */
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { loadWorkflowFile, planDocument, workingDirectory, type Plan, type WorkflowDocument } from '../../spec/index.js';
import { Store } from '../../store/index.js';
import { awaitingClassification, type ReconcileResult } from '../../reconciler/reconciler.js';
import { ScheduledRuns } from '../../reconciler/schedule.js';
import { refuseMissingRequiredFiles } from '../../reconciler/required-files.js';
import { parseFormat, parseIntOption, printWarnings } from '../output.js';
import { InputError } from '../../errors.js';
import { addLocalJobOptions, localJobOptionsFromFlags, type LocalJobFlags } from '../runner-flags.js';
import {
  addRecoveryOptions,
  failedJobDigest,
  plotsIfAsked,
  printSummary,
  recoverAndRun,
  recoveryFromFlags,
  RunSession,
  type RunSettings,
  type SummaryRow,
} from '../run-workflow.js';

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
  recover?: boolean;
  maxRecoveries?: string;
  memoryMultiplier?: string;
  runtimeMultiplier?: string;
  retryUnknown?: boolean;
}

/** `<dir>/.torc/<file name without extension>.db`, next to the workflow file. */
export function defaultDbPath(file: string): string {
  const abs = resolve(file);
  return join(dirname(abs), '.torc', `${basename(abs, extname(abs))}.db`);
}

export function register(program: Command): void {
  const cmd = addLocalJobOptions(
    program
      .command('reconcile')
      .description('Run the workflow(s) declared in FILE to the end on this machine (embedded SQLite; re-run to resume)')
      .argument('<file>', 'workflow file (.yaml/.yml, .json, .json5 or .kdl; a Workflow resource or a bare torc spec)'),
  )
    .option('--db <path>', 'SQLite database (default: .torc/<name>.db next to the file)')
    .option('--port <port>', 'port of the REST API on 127.0.0.1 (default: a free one)')
    .option('--host <host>', "address the REST API binds (0.0.0.0: every interface; workers and jobs are then given this host's name)", '127.0.0.1')
    .option('--no-server', 'do not serve the REST API')
    .option('--no-dashboard', 'serve the REST API without the web dashboard at /')
    .option('--token-file <file>', 'the bearer token the REST API requires on its changing routes (default: one made for this run, in .torc/<name>.token next to the database); Slurm workers get the file path')
    .option('--format <format>', 'summary format: table or json', 'table')
    .option('-q, --quiet', 'log only phase changes and failures')
    .option('--runner <kind>', 'who runs the jobs: local (this machine) or slurm (allocations submitted for the slurm_schedulers)', 'local')
    .option('--max-allocations <n>', 'with --runner slurm: most allocations per scheduler queued or running at once', '4')
    .option('--max-runs <n>', 'a workflow with a schedule: stop after N runs (default: run on every tick until Ctrl-C)')
    .option('--recover', 'when jobs fail, diagnose them, raise the memory (likely_oom) or runtime (likely_timeout) of each and run them again (torc recover)')
    .option('--max-recoveries <n>', 'with --recover: at most this many rounds of recovery', '3')
    .option('--force', 'start even when required input files are missing (torc refuses: "Missing required files")');
  addRecoveryOptions(cmd, 'with --recover: ').action(async (file: string, flags: ReconcileFlags) => {
    process.exitCode = await reconcileCommand(file, flags);
  });
}

async function reconcileCommand(file: string, flags: ReconcileFlags): Promise<number> {
  const format = parseFormat(flags.format);
  const local = localJobOptionsFromFlags(flags);
  const port = parseIntOption(flags.port, '--port', 0);
  if (port !== undefined && port > 65535) throw new InputError(`expected a port from 0 to 65535, got ${port}`, '--port');
  const maxRuns = parseIntOption(flags.maxRuns, '--max-runs', 1);
  const runnerKind = flags.runner ?? 'local';
  if (runnerKind !== 'local' && runnerKind !== 'slurm') throw new InputError(`expected "local" or "slurm", got "${runnerKind}"`, '--runner');
  const maxAllocations = parseIntOption(flags.maxAllocations, '--max-allocations', 1) ?? 4;
  if (runnerKind === 'slurm' && !flags.server) {
    throw new InputError('Slurm workers claim jobs over the REST API: --runner slurm cannot go with --no-server', '--no-server');
  }
  if (runnerKind === 'slurm' && /^(127\.|localhost$|::1$)/.test(flags.host)) {
    process.stderr.write(`warning: the REST API listens on ${flags.host}: only allocations on this very host reach it; give --host this host's address on the cluster network (or 0.0.0.0)\n`);
  }
  const recovery = flags.recover ? recoveryFromFlags(flags) : null;
  const maxRecoveries = parseIntOption(flags.maxRecoveries, '--max-recoveries', 1) ?? 3;
  const settings: RunSettings = { ...local, runnerKind, maxAllocations, quiet: flags.quiet };

  // Validate and plan every document before touching the database: bad input writes nothing.
  const docs = loadWorkflowFile(file);
  let plans = docs.map((doc) => planDocument(doc));
  for (const doc of docs) printWarnings(file, doc.warnings);
  if (runnerKind === 'slurm') plans = await withSlurmSchedulers(docs, plans);
  const dbPath = flags.db ?? defaultDbPath(file);
  mkdirSync(dirname(resolve(dbPath)), { recursive: true });
  mkdirSync(local.outputDir, { recursive: true });
  const session = new RunSession(await Store.open(dbPath), dbPath);
  const store = session.store;
  let scheduled: ScheduledRuns | null = null;
  session.onStop(() => scheduled?.stop());
  const results: SummaryRow[] = [];
  let finishedPlans = 0;
  try {
    await session.open(flags.server ? { host: flags.host, port: port ?? 0, tokenFile: flags.tokenFile, dashboard: flags.dashboard } : null);
    for (const plan of plans) {
      if (session.stopRequested) break;
      const applied = await store.applyPlan(plan);
      const workflowId = applied.workflow_id;
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
      // As torc: a workflow about to start whose required files are missing is refused, nothing run.
      if (!flags.force && (await store.getStatus(workflowId)).counts.uninitialized! > 0) {
        await refuseMissingRequiredFiles(store, workflowId, workingDirectory(plan.settings, process.cwd()), `workflow ${plan.name}`);
      }
      session.announce();
      process.stderr.write(`workflow ${plan.name} (id ${workflowId}): ${plan.jobs.length} jobs; database ${dbPath}; output ${local.outputDir}\n`);
      const runOnce = (): Promise<ReconcileResult> => session.run(workflowId, plan.name, settings);
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
        if (session.stopRequested) scheduled.stop();
        runs.push(...(await scheduled.run()));
        scheduled = null;
      } else {
        runs.push(await runOnce());
        // --recover: diagnose, raise, run again, while jobs fail and rounds are left.
        for (let round = 1; recovery && !session.stopRequested && round <= maxRecoveries && runs[runs.length - 1]!.status.phase === 'Failed'; round++) {
          process.stderr.write(`workflow ${plan.name}: recovery round ${round} of at most ${maxRecoveries}\n`);
          const { result } = await recoverAndRun(store, workflowId, plan.name, recovery, runOnce);
          if (!result) break;
          runs.push(result);
        }
      }
      const failed = await failedJobDigest(store, workflowId);
      for (const [i, result] of runs.entries()) {
        if (result.stuck) {
          process.stderr.write(`workflow ${plan.name}: ${result.stuck}\n`);
        }
        if (schedule || i === runs.length - 1) {
          results.push({ name: plan.name, workflow_id: workflowId, ...(schedule ? { run: i + 1 } : {}), status: result.status, failed_jobs: failed });
        }
      }
      const plotsDir = await plotsIfAsked(store, workflowId, local.outputDir).catch((e: unknown) => {
        process.stderr.write(`workflow ${plan.name}: plots not written: ${(e as Error).message}\n`);
        return null;
      });
      if (plotsDir) process.stderr.write(`workflow ${plan.name}: resource plots in ${plotsDir}\n`);
      const last = runs[runs.length - 1];
      if (session.stopRequested || !last || (last.status.phase !== 'Succeeded' && last.status.phase !== 'Failed' && last.status.phase !== 'Canceled')) break; // stopped
      finishedPlans++;
    }
  } finally {
    await session.close(results.map((r) => r.workflow_id));
  }
  printSummary(results, format);
  return finishedPlans === plans.length && results.every((r) => r.status.phase === 'Succeeded') ? 0 : 1;
}

/**
 * --runner slurm with a workflow that declares no slurm_schedulers: they are generated as
 * `torc slurm generate` would (the profile matching this machine, else the running cluster's
 * partitions), said on stderr, and its jobs bound to them.
 */
async function withSlurmSchedulers(docs: WorkflowDocument[], plans: Plan[]): Promise<Plan[]> {
  if (plans.every((p) => p.slurm_schedulers.length > 0)) return plans;
  const { partitionSource } = await import('./slurm.js');
  const { generateSchedulers, unboundDemands, withGeneratedSchedulers } = await import('../../runners/slurm/generate.js');
  let source;
  try {
    source = await partitionSource({});
  } catch (err) {
    const doc = docs[plans.findIndex((p) => p.slurm_schedulers.length === 0)]!;
    throw new InputError(
      `--runner slurm needs slurm_schedulers, and none could be generated: ${err instanceof Error ? err.message : String(err)} (torc slurm generate writes them)`,
      `${doc.pathPrefix}spec.slurm_schedulers`,
    );
  }
  return plans.map((plan, i) => {
    if (plan.slurm_schedulers.length > 0) return plan;
    const generated = generateSchedulers(unboundDemands(plan), source.partitions, { bufferSeconds: plan.settings.compute_node_expiration_buffer_seconds });
    const where = source.source === 'cluster' ? "this cluster's partitions" : `HPC profile ${source.name}`;
    process.stderr.write(
      `workflow ${plan.name}${docs[i]!.pathPrefix ? ` (${docs[i]!.pathPrefix.replace(/\.$/, '')})` : ''}: no slurm_schedulers; generated ${generated.length} from ${where}: ` +
        `${generated.map((g) => `${g.class_name} → ${g.scheduler.name} (partition ${g.scheduler.partition}, ${g.jobs_per_node}/node, ${g.scheduler.walltime})`).join('; ')}` +
        ' (torc slurm generate FILE -o OUT writes them into a file to edit)\n',
    );
    return withGeneratedSchedulers(plan, generated);
  });
}
