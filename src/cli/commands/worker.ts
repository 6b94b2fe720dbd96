/**
 * `torc worker WF --url URL [--scheduler-config-id ID] [--max-parallel-jobs M]`: the job runner
 * inside a Slurm allocation (also installed as `torc-slurm-job-runner`). Its resources and its
 * deadline come from the allocation; see src/runners/slurm/worker.ts.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { parseIntOption, parseNumberOption } from '../output.js';
import { DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES } from '../../spec/plan.js';
import { giveUpMessage, outageLine, outageSummary, parseWaitForServer, WAIT_FOR_SERVER_OPTION, readCaFile, withPatience } from '../runner-flags.js';
import { readTokenFile } from '../server-auth.js';

interface WorkerFlags {
  url?: string;
  schedulerConfigId?: string;
  maxParallelJobs?: string;
  outputDir: string;
  pollInterval?: string;
  tokenFile?: string;
  waitForServer?: string;
  caFile?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('Run jobs of a workflow inside a Slurm allocation, with the allocation\'s resources, until no work is left or its walltime is about to end')
    .argument('<workflow>', 'workflow id')
    .option('--url <url>', 'torc API URL (default $TORC_API_URL)')
    .option('--scheduler-config-id <id>', 'the slurm_schedulers id this allocation serves (jobs bound to it, then unbound ones)')
    .option('--max-parallel-jobs <n>', 'queue depth: at most N jobs at once, resources ignored')
    .option('--output-dir <dir>', 'where job stdout/stderr go', 'torc_output')
    .option('--poll-interval <seconds>', 'longest wait between loop turns')
    .option('--token-file <file>', 'bearer token for the API (default $TORC_API_TOKEN)')
    .option(...WAIT_FOR_SERVER_OPTION)
    .option('--ca-file <file>', 'PEM CA certificate of an https server (default: $TORC_CA_FILE)')
    .option('-q, --quiet', 'log only the start and the end')
    .action(async (workflow: string, flags: WorkerFlags) => {
      process.exitCode = await workerCommand(workflow, flags);
    });
}

async function workerCommand(workflow: string, flags: WorkerFlags): Promise<number> {
  const workflowId = parseIntOption(workflow, 'workflow', 1)!;
  const url = flags.url ?? process.env.TORC_API_URL;
  if (!url) throw new InputError('the API URL is required (or set TORC_API_URL)', '--url');
  if (!/^https?:\/\//.test(url)) throw new InputError(`expected an http(s) URL, got "${url}"`, '--url');
  const schedulerConfigId = parseIntOption(flags.schedulerConfigId, '--scheduler-config-id', 1) ?? null;
  const maxParallelJobs = parseIntOption(flags.maxParallelJobs, '--max-parallel-jobs', 1) ?? null;
  const pollIntervalSeconds = parseNumberOption(flags.pollInterval, '--poll-interval', 0);
  const token = flags.tokenFile !== undefined ? readTokenFile(flags.tokenFile) : process.env.TORC_API_TOKEN || undefined;
  const waitForServerFlag = parseWaitForServer(flags.waitForServer);

  const [{ TorcClient }, { SlurmCommands }, { createSlurmWorker }] = await Promise.all([
    import('../../api/client.js'),
    import('../../runners/slurm/commands.js'),
    import('../../runners/slurm/worker.js'),
  ]);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} torc worker: ${line}\n`);
  const client = new TorcClient(url, { token, ca: readCaFile(flags.caFile) });
  // An allocation that starts while its server restarts waits for it, as it would mid-run.
  const wf = await withPatience('reading the workflow', () => client.getWorkflow(workflowId), waitForServerFlag ?? 60 * DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES, log);
  let heldBack = (_job: number) => false;
  const worker = await createSlurmWorker({
    client,
    commands: new SlurmCommands(),
    workflowId,
    settings: wf,
    waitForServerSeconds: waitForServerFlag ?? 60 * (wf.compute_node_wait_for_healthy_database_minutes ?? DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES),
    schedulerConfigId,
    maxParallelJobs,
    outputDir: resolve(flags.outputDir),
    apiUrl: url,
    pollIntervalSeconds,
    log,
    onEvent: flags.quiet
      ? undefined
      : (e) => {
          if (e.type === 'job_started') log(`job ${e.job.id} (${e.job.name}) started, pid ${e.pid}`);
          else if (e.type === 'job_finished') {
            const requeue = !e.reported || heldBack(e.job.id);
            log(`job ${e.job.id} finished: return code ${e.outcome.return_code}${requeue ? ' (left for requeue)' : ''}`);
          }
          else if (e.type === 'api_error') log(`API error in ${e.operation}: ${(e.error as Error)?.message ?? e.error}`);
          else if (e.type === 'warning') log(`warning: ${e.message}`);
          else if (outageLine(e)) log(outageLine(e)!);
        },
  });
  heldBack = (job) => worker.client.withheld.has(job);
  const summary = await worker.run();
  log(
    `stopped (${summary.reason}): ${summary.started} started, ${summary.completed} completed, ${summary.failed} failed, ` +
      `${summary.terminated} terminated, ${summary.requeued} left for requeue${outageSummary(summary)}`,
  );
  for (const line of giveUpMessage(summary)) log(line);
  return summary.reason === 'error' || summary.reason === 'server_unreachable' ? 1 : 0;
}
