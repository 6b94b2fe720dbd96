/**
 * Flags and set-up shared by every command that runs a job runner against a server
 * (`torc run`, `torc worker` / `torc-slurm-job-runner`): one definition, one parser.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TorcClient } from '../api/client.js';
import { InputError } from '../errors.js';
import type { JobRunnerOptions, RunnerEvent, RunSummary } from '../runners/local/job-runner.js';
import type { BackendChoice } from '../runners/monitor/index.js';
import { errorText, formatMs, isPermanent } from '../runners/local/server-session.js';
import { backoffDelay } from '../runners/report-queue.js';
import { DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES } from '../spec/plan.js';
import { parseDuration } from '../spec/units.js';
import { parseIntOption, parseNumberOption } from './output.js';

export interface RunnerFlags {
  url?: string;
  tokenFile?: string;
  caFile?: string;
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
  waitForServer?: string;
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
    cmd.option('--url <url>', 'torc server URL (default: $TORC_API_URL)').option('--token-file <file>', 'file holding the bearer token for the server')
      .option('--ca-file <file>', 'PEM CA certificate of an https server (default: $TORC_CA_FILE)'),
    '5',
  )
    .option('--scheduler-config-id <id>', 'serve the jobs bound to this scheduler (and unbound ones)')
    .option('--strict-scheduler-match', 'only jobs bound to --scheduler-config-id, never unbound ones')
    .option('--wait-for-new-jobs <seconds>', 'exit after this long without work (default: when the workflow is complete)')
    .option('--time-limit <seconds>', 'stop claiming jobs that cannot finish within this many seconds')
    .option('--lease-seconds <seconds>', 'lease of this runner: silent (dead) this long, its jobs go back to ready for other runners (default 60; heartbeat every third of it)')
    .option(...WAIT_FOR_SERVER_OPTION)
    .option('-q, --quiet', 'log only failures');
}

/** `--wait-for-server DURATION`, shared by every runner command. */
export const WAIT_FOR_SERVER_OPTION = [
  '--wait-for-server <duration>',
  "how long to wait through a server outage, jobs running on and reports kept, before giving up (90s, 20m, 1h, PT20M; default: the workflow's compute_node_wait_for_healthy_database_minutes, 20m)",
] as const;

/** `90s`, `20m`, `1.5h`, `0`, or ISO 8601 (`PT20M`) → seconds; undefined when not given. */
export function parseWaitForServer(value: string | undefined, flag = '--wait-for-server'): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v);
  if (m) return (Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd']);
  if (/^P/i.test(v)) {
    try {
      return parseDuration(v.toUpperCase(), flag);
    } catch {
      // fall through to the message below
    }
  }
  throw new InputError(`expected a duration with a unit (90s, 20m, 1h) or ISO 8601 (PT20M), got "${value}"`, flag);
}

/**
 * Calls `fn` until the server answers, for up to `patienceSeconds` (a runner starting while its
 * server restarts waits for it, as it would mid-run). A refusal (4xx) is thrown at once.
 */
export async function withPatience<T>(what: string, fn: () => Promise<T>, patienceSeconds: number, log: (line: string) => void): Promise<T> {
  const started = Date.now();
  for (let failures = 1; ; failures++) {
    try {
      return await fn();
    } catch (e) {
      if (isPermanent(e) || Date.now() - started >= patienceSeconds * 1000) throw e;
      if (failures === 1) log(`${what}: no answer from the server (${errorText(e)}); trying again for up to ${formatMs(patienceSeconds * 1000)}`);
      await new Promise((r) => setTimeout(r, backoffDelay(failures)));
    }
  }
}

/**
 * How long a runner waits through an outage: --wait-for-server, else the workflow's
 * compute_node_wait_for_healthy_database_minutes (asked of the server; torc's default, 20 min,
 * while it does not answer).
 */
export async function resolveWaitForServer(flags: Pick<RunnerFlags, 'waitForServer'>, client: TorcClient, workflowId: number): Promise<number> {
  const given = parseWaitForServer(flags.waitForServer);
  if (given !== undefined) return given;
  try {
    const wf = await client.getWorkflow(workflowId);
    return 60 * (wf.compute_node_wait_for_healthy_database_minutes ?? DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES);
  } catch (e) {
    if (isPermanent(e)) throw e;
    return 60 * DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES;
  }
}

export function parseWorkflowId(value: string, arg = 'WF'): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InputError(`expected a workflow id (a positive whole number), got "${value}"`, arg);
  return Number(value);
}

/** The PEM CA of an https server (--ca-file, or $TORC_CA_FILE). */
export function readCaFile(file: string | undefined): Buffer | undefined {
  const path = file ?? process.env.TORC_CA_FILE;
  if (!path) return undefined;
  try {
    const pem = readFileSync(path);
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new InputError(`${path} holds no PEM certificate`, '--ca-file');
    return pem;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${path}: ${(err as Error).message}`, '--ca-file');
  }
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

export async function clientFromFlags(flags: RunnerFlags): Promise<{ client: TorcClient; url: string; token: string | undefined }> {
  const url = flags.url ?? process.env.TORC_API_URL;
  if (!url) throw new InputError('no server given: pass --url or set TORC_API_URL', '--url');
  if (!/^https?:\/\/[^\s]+$/.test(url)) throw new InputError(`expected an http(s) URL, got "${url}"`, '--url');
  const token = await readToken(flags.tokenFile);
  return { client: new TorcClient(url, { token, ca: readCaFile(flags.caFile) }), url, token };
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
    waitForServerSeconds: parseWaitForServer(flags.waitForServer) ?? null,
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
      log(`stopped (${event.reason}): ${event.summary.completed} completed, ${event.summary.failed} failed, ${event.summary.terminated} terminated, ${event.summary.requeued} requeued${outageSummary(event.summary)}`);
      for (const line of giveUpMessage(event.summary)) log(line);
      break;
    default: {
      const line = outageLine(event);
      if (line) log(line);
      break;
    }
  }
}

/** The outage events of a runner, as one log line each (null for other events). */
export function outageLine(event: RunnerEvent): string | null {
  switch (event.type) {
    case 'server_lost':
      return (
        `server unreachable (${errorText(event.error).split('\n')[0]}): running jobs go on, nothing new is claimed, reports are kept` +
        ` (${event.kept} so far) and sent when it is back; giving up after ${formatMs(event.wait_for_server_seconds * 1000)}`
      );
    case 'server_back':
      return `server back after ${formatMs(event.outage_ms)}; delivering ${event.kept} kept report(s) in order`;
    case 'synced':
      return (
        `agreed with the server on this node's jobs: ${event.released.length} claimed but not started here went back to ready` +
        `${event.revoked.length > 0 ? `; ${event.revoked.length} no longer this node's were killed (${event.revoked.join(', ')})` : ''}`
      );
    default:
      return null;
  }
}

/** `; 2 server outage(s), longest 8.1s, 14 report(s) delivered after one` (empty without outages). */
export function outageSummary(summary: RunSummary): string {
  if (summary.outages === 0) return '';
  return `; ${summary.outages} server outage(s), longest ${formatMs(summary.longest_outage_ms)}, ${summary.replayed} report(s) delivered after one`;
}

/** What a runner that gave up on its server says: how long, what the server never learned, what to do. */
export function giveUpMessage(summary: RunSummary): string[] {
  if (summary.reason !== 'server_unreachable') {
    return summary.undelivered.length > 0 ? [`not delivered (${summary.undelivered.length}):`, ...summary.undelivered.map((u) => `  ${u}`)] : [];
  }
  return [
    `gave up on the server: no answer for ${formatMs(summary.longest_outage_ms)} (--wait-for-server).`,
    summary.undelivered.length > 0
      ? `Not delivered (${summary.undelivered.length}), the server never learned of:`
      : 'Nothing was left undelivered.',
    ...summary.undelivered.map((u) => `  ${u}`),
    `${summary.requeued > 0 ? `The ${summary.requeued} job(s) still running here were terminated.` : 'No job was running here any more.'}` +
      " When the server is back it requeues this node's",
    'unfinished jobs once its lease runs out (--lease-seconds after the server is up again); jobs listed above run again.',
    "To wait longer, pass --wait-for-server (default: the workflow's compute_node_wait_for_healthy_database_minutes).",
  ];
}
