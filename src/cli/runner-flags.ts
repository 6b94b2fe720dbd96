/**
 * Flags and set-up shared by every command that runs a job runner against a server
 * (`torc run`, `torc worker` / `torc-slurm-job-runner`): one definition, one parser.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { TorcClient } from '../api/client.js';
import { InputError } from '../errors.js';
import type { JobRunnerOptions, RunnerEvent } from '../runners/local/job-runner.js';
import type { BackendChoice } from '../runners/monitor/index.js';
import { parseIntOption, parseNumberOption } from './output.js';

export interface RunnerFlags {
  url?: string;
  tokenFile?: string;
  maxParallelJobs?: string;
  numCpus?: string;
  memoryGb?: string;
  numGpus?: string;
  outputDir?: string;
  pollInterval?: string;
  schedulerConfigId?: string;
  strictSchedulerMatch?: boolean;
  waitForNewJobs?: string;
  timeLimit?: string;
  leaseSeconds?: string;
  quiet?: boolean;
  enforceMemory?: boolean;
}

/** What every command that runs jobs on this machine offers: mode, resources, output, polling. */
export function addLocalJobOptions(cmd: Command, pollIntervalDefault?: string): Command {
  return cmd
    .option('--max-parallel-jobs <n>', 'queue depth: at most N jobs at once, resources ignored')
    .option('--num-cpus <n>', 'CPUs to offer (default: detected)')
    .option('--memory-gb <g>', 'memory to offer in GB (default: detected)')
    .option('--num-gpus <n>', 'GPUs to offer (default: detected)')
    .option('--output-dir <dir>', 'where job stdout/stderr go', 'torc_output')
    .option('--poll-interval <seconds>', 'longest wait between loop turns', pollIntervalDefault)
    .option('--enforce-memory', "cap each job's memory at its requirement (a cgroup limit): a job over it is OOM-killed and diagnosed likely_oom");
}

export type LocalJobFlags = Pick<RunnerFlags, 'maxParallelJobs' | 'numCpus' | 'memoryGb' | 'numGpus' | 'outputDir' | 'pollInterval' | 'enforceMemory'>;

/** TORC_MONITOR_BACKEND=auto|cgroup|proc: how jobs are measured (default auto). */
export function monitorBackendFromEnv(env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const v = env.TORC_MONITOR_BACKEND;
  if (v === undefined || v === '') return 'auto';
  if (v === 'auto' || v === 'cgroup' || v === 'proc') return v;
  throw new InputError(`expected auto, cgroup or proc, got "${v}"`, 'TORC_MONITOR_BACKEND');
}

export function localJobOptionsFromFlags(
  flags: LocalJobFlags,
): Pick<JobRunnerOptions, 'outputDir' | 'maxParallelJobs' | 'overrides' | 'pollIntervalSeconds' | 'enforceMemory' | 'monitorBackend'> {
  return {
    enforceMemory: flags.enforceMemory === true,
    monitorBackend: monitorBackendFromEnv(),
    outputDir: resolve(flags.outputDir ?? 'torc_output'),
    maxParallelJobs: parseIntOption(flags.maxParallelJobs, '--max-parallel-jobs', 1) ?? null,
    overrides: {
      num_cpus: parseNumberOption(flags.numCpus, '--num-cpus', 0),
      memory_gb: parseNumberOption(flags.memoryGb, '--memory-gb', 0),
      num_gpus: parseIntOption(flags.numGpus, '--num-gpus', 0),
    },
    pollIntervalSeconds: parseNumberOption(flags.pollInterval, '--poll-interval', 0),
  };
}

export function addRunnerOptions(cmd: Command): Command {
  return addLocalJobOptions(
    cmd.option('--url <url>', 'torc server URL (default: $TORC_API_URL)').option('--token-file <file>', 'file holding the bearer token for the server'),
    '5',
  )
    .option('--scheduler-config-id <id>', 'serve the jobs bound to this scheduler (and unbound ones)')
    .option('--strict-scheduler-match', 'only jobs bound to --scheduler-config-id, never unbound ones')
    .option('--wait-for-new-jobs <seconds>', 'exit after this long without work (default: when the workflow is complete)')
    .option('--time-limit <seconds>', 'stop claiming jobs that cannot finish within this many seconds')
    .option('--lease-seconds <seconds>', 'lease of this runner: silent (dead) this long, its jobs go back to ready for other runners (default 60; heartbeat every third of it)')
    .option('-q, --quiet', 'log only failures');
}

export function parseWorkflowId(value: string, arg = 'WF'): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InputError(`expected a workflow id (a positive whole number), got "${value}"`, arg);
  return Number(value);
}

export async function readToken(file: string | undefined): Promise<string | undefined> {
  if (!file) return process.env.TORC_API_TOKEN || undefined;
  const { readFile } = await import('node:fs/promises');
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new InputError(`cannot read token file: ${(err as Error).message}`, '--token-file');
  }
  if (!token) throw new InputError(`token file ${file} is empty`, '--token-file');
  return token;
}

export async function clientFromFlags(flags: RunnerFlags): Promise<{ client: TorcClient; url: string }> {
  const url = flags.url ?? process.env.TORC_API_URL;
  if (!url) throw new InputError('no server given: pass --url or set TORC_API_URL', '--url');
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new InputError(`expected an http(s) URL, got "${url}"`, '--url');
  return { client: new TorcClient(url, { token: await readToken(flags.tokenFile) }), url };
}

/** JobRunnerOptions from the shared flags; the caller adds what is specific to it. */
export function runnerOptionsFromFlags(flags: RunnerFlags): Omit<JobRunnerOptions, 'client' | 'workflowId'> {
  const waitForNewJobs = parseNumberOption(flags.waitForNewJobs, '--wait-for-new-jobs', 0);
  const schedulerConfigId = parseIntOption(flags.schedulerConfigId, '--scheduler-config-id', 1);
  const leaseSeconds = parseNumberOption(flags.leaseSeconds, '--lease-seconds', 1);
  if (flags.strictSchedulerMatch && schedulerConfigId === undefined) {
    throw new InputError('needs --scheduler-config-id', '--strict-scheduler-match');
  }
  return {
    ...localJobOptionsFromFlags(flags),
    schedulerConfigId: schedulerConfigId ?? null,
    strictSchedulerMatch: flags.strictSchedulerMatch ?? false,
    waitForNewJobsSeconds: waitForNewJobs ?? null,
    timeLimitSeconds: parseNumberOption(flags.timeLimit, '--time-limit', 0) ?? null,
    // Three heartbeats per lease (at most 10 s apart), so one lost heartbeat does not lose it.
    ...(leaseSeconds !== undefined ? { leaseSeconds, heartbeatSeconds: Math.min(10, leaseSeconds / 3) } : {}),
    cwd: process.cwd(),
  };
}

/** Plain log lines for a runner's events on stderr. */
export function logRunnerEvent(event: RunnerEvent, quiet = false): void {
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  switch (event.type) {
    case 'registered':
      if (!quiet) {
        const monitor = event.monitor ? `, jobs measured by ${event.monitor}${event.enforce_memory ? ', memory enforced' : ''}` : '';
        log(`registered as compute node ${event.compute_node_id} (${event.mode === 'queue_depth' ? 'queue depth' : 'resource-aware'}${monitor})`);
      }
      break;
    case 'job_started':
      if (!quiet) log(`job ${event.job.name} (id ${event.job.id}) started, pid ${event.pid}`);
      break;
    case 'job_finished':
      if (!quiet || event.outcome.status !== 'completed') {
        const why = event.diagnosis ? ` (${event.diagnosis.failure_diagnosis}: ${event.diagnosis.diagnosis_reason})` : '';
        log(`job ${event.job.name} (id ${event.job.id}) finished: status ${event.outcome.status}, return code ${event.outcome.return_code}${why}`);
      }
      break;
    case 'warning':
      log(`warning: ${event.message}`);
      break;
    case 'api_error':
      log(`API error in ${event.operation}: ${event.error instanceof Error ? event.error.message : String(event.error)}`);
      break;
    case 'stopped':
      log(`stopped (${event.reason}): ${event.summary.completed} completed, ${event.summary.failed} failed, ${event.summary.terminated} terminated, ${event.summary.requeued} requeued`);
      break;
    default:
      break;
  }
}
