/**
 * `torc recover WF`: diagnoses the workflow's failed jobs, raises each one's own memory
 * (likely_oom) or runtime (likely_timeout) — recorded as `job_resources_raised` events — resets
 * them with their downstream and runs them again: with --db on this machine (the local runner,
 * or new Slurm allocations when the workflow ran on Slurm), with --url the workflow's runners
 * pick them up (start one with `torc run WF --url …`). --dry-run only says what it would do.
 */
import type { Command } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { InputError } from '../../errors.js';
import { Store } from '../../store/index.js';
import { computeStatus } from '../../contract/workflow-status.js';
import { addBackendOptions, openBackend, type BackendFlags } from '../backend.js';
import { parseFormat, parseIntOption, printJson } from '../output.js';
import { addLocalJobOptions, localJobOptionsFromFlags, parseWorkflowId, type LocalJobFlags } from '../runner-flags.js';
import { addRecoveryOptions, describeRecovery, failedJobDigest, printSummary, ranOnSlurm, recoveryFromFlags, RunSession, type RunnerKind } from '../run-workflow.js';

interface RecoverFlags extends BackendFlags, LocalJobFlags {
  dryRun?: boolean;
  memoryMultiplier?: string;
  runtimeMultiplier?: string;
  retryUnknown?: boolean;
  run: boolean;
  runner?: string;
  maxAllocations?: string;
  server: boolean;
  host: string;
  port?: string;
  format?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = addLocalJobOptions(
    addBackendOptions(
      program
        .command('recover')
        .description("Diagnose failed jobs, raise their memory (likely_oom) or runtime (likely_timeout), and run them again"),
    ),
  )
    .argument('<wf>', 'workflow id')
    .option('--dry-run', 'only show what would be done')
    .option('--no-run', 'with --db: only reset the recovered jobs, do not run them here')
    .option('--runner <kind>', 'with --db: local or slurm (default: slurm when the workflow ran on Slurm)')
    .option('--max-allocations <n>', 'with --runner slurm: most allocations per scheduler queued or running at once', '4')
    .option('--no-server', 'with --db: do not serve the REST API while the jobs run')
    .option('--host <host>', 'address of the REST API', '127.0.0.1')
    .option('--port <port>', 'port of the REST API (default: a free one)')
    .option('--format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'log only phase changes and failures');
  addRecoveryOptions(cmd).action(async (id: string, flags: RecoverFlags) => {
    process.exitCode = await recoverCommand(parseWorkflowId(id), flags);
  });
}

async function recoverCommand(workflowId: number, flags: RecoverFlags): Promise<number> {
  const format = parseFormat(flags.format);
  const options = recoveryFromFlags(flags);
  if (flags.runner !== undefined && flags.runner !== 'local' && flags.runner !== 'slurm') throw new InputError(`expected "local" or "slurm", got "${flags.runner}"`, '--runner');
  if (flags.db === undefined || flags.dryRun || !flags.run) {
    // Recover through the backend (a server or the database) and stop there.
    const backend = await openBackend(flags);
    try {
      const outcome = await backend.recoverWorkflow(workflowId, options, flags.dryRun === true);
      if (format === 'json') printJson(outcome);
      else process.stdout.write(`${describeRecovery(outcome)}\n`);
      const chosen = outcome.steps.filter((s) => s.action !== 'skip').length;
      if (!flags.dryRun && chosen > 0 && flags.url !== undefined) {
        process.stderr.write(`the recovered jobs are ready: the workflow's runners take them (or start one: torc run ${workflowId} --url …)\n`);
      }
      return chosen > 0 || outcome.steps.length === 0 ? 0 : 1;
    } finally {
      await backend.close();
    }
  }

  if (!existsSync(flags.db)) throw new InputError(`no database at ${flags.db}`, '--db');
  const local = localJobOptionsFromFlags(flags);
  const port = parseIntOption(flags.port, '--port', 0);
  const session = new RunSession(await Store.open(flags.db), flags.db);
  const store = session.store;
  try {
    const wf = await store.getWorkflow(workflowId);
    const runnerKind: RunnerKind = (flags.runner as RunnerKind | undefined) ?? ((await ranOnSlurm(store, workflowId)) ? 'slurm' : 'local');
    if (runnerKind === 'slurm' && !flags.server) throw new InputError('Slurm workers claim jobs over the REST API: --runner slurm cannot go with --no-server', '--no-server');
    const outcome = await store.recoverWorkflow(workflowId, options);
    process.stderr.write(`workflow ${wf.name}: recovery\n${describeRecovery(outcome)}\n`);
    if (!outcome.steps.some((s) => s.action !== 'skip')) {
      printSummary([{ name: wf.name, workflow_id: workflowId, status: await statusOf(store, workflowId), failed_jobs: await failedJobDigest(store, workflowId) }], format);
      return outcome.steps.length === 0 ? 0 : 1;
    }
    mkdirSync(local.outputDir, { recursive: true });
    await session.open(flags.server ? { host: flags.host, port: port ?? 0, tokenFile: flags.tokenFile } : null);
    session.announce();
    const maxAllocations = parseIntOption(flags.maxAllocations, '--max-allocations', 1) ?? 4;
    const result = await session.run(workflowId, wf.name, { ...local, runnerKind, maxAllocations, quiet: flags.quiet });
    if (result.stuck) process.stderr.write(`workflow ${wf.name}: ${result.stuck}\n`);
    printSummary([{ name: wf.name, workflow_id: workflowId, status: result.status, failed_jobs: await failedJobDigest(store, workflowId) }], format);
    return result.status.phase === 'Succeeded' ? 0 : 1;
  } finally {
    await session.close([workflowId]);
  }
}

async function statusOf(store: Store, workflowId: number) {
  const p = await store.getStatus(workflowId);
  return computeStatus({ counts: p.counts, canceled: p.is_canceled });
}
