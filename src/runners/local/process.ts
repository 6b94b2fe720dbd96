/**
 * Runs one job as a local process: `bash -c` (or the command's words themselves when it is a
 * plain command line) in its own process group (so termination reaches every process the job
 * started), stdout/stderr appended to files named by ids only, torc's environment variables, a
 * runtime limit, and SIGTERM → grace → SIGKILL termination. Processes are started by the
 * spawner (spawner.ts): a small helper process, since Node's own spawn is costly per job.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { signalReturnCode, type CompletionStatusName } from '../../contract/status.js';
import type { CompleteJobResult } from '../../contract/client.js';
import { defaultSpawner, type SpawnedChild, type Spawner, type SpawnQueue } from './spawner.js';

export const DEFAULT_GRACE_SECONDS = 10;
/** setTimeout cannot wait longer than this; longer runtime limits are not enforced by a timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How often a terminating job's process group is checked for stragglers. */
const GROUP_POLL_MS = 50;
/** How long a SIGKILLed group may take to disappear before done resolves anyway. */
const KILL_SETTLE_MS = 2000;

/**
 * Why the runner ended a job: its runtime ran out, the workflow was canceled, the runner
 * stopped, or the server retired the runner's node (lost lease) and requeued the job.
 */
export type TerminationReason = 'runtime_limit' | 'canceled' | 'stopped' | 'lease_lost' | 'requested';

export interface JobLaunch {
  workflow_id: number;
  job_id: number;
  name: string;
  command: string;
  /** Prefixed to the command as torc does: `<invocation_script> <command>`. */
  invocation_script?: string | null;
  attempt: number;
  /** The job's own variables (overridden by the TORC_* ones and CUDA_VISIBLE_DEVICES). */
  env?: Record<string, string> | null;
  /** GPU device ids for CUDA_VISIBLE_DEVICES ([] hides all GPUs); null/undefined leaves it inherited. */
  gpus?: string[] | null;
  /** Terminate after this many seconds; null/undefined = no limit. */
  runtime_limit_seconds?: number | null;
  /** The job's cgroups (see SpawnRequest.cgroups), when it has any. */
  cgroups?: readonly { join: string; home: string }[];
}

export interface ProcessOptions {
  /** stdio goes to `<outputDir>/job_stdio/job_<id>_<attempt>.{o,e}`. */
  outputDir: string;
  /** TORC_API_URL for the job, when known. */
  apiUrl?: string | null;
  /** Seconds between SIGTERM and SIGKILL (default 10). */
  graceSeconds?: number;
  /** Working directory of the job (default: this process's). */
  cwd?: string;
  /** Environment the job inherits (default process.env); a snapshot, never changed once jobs use it. */
  baseEnv?: NodeJS.ProcessEnv;
}

export interface JobOutcome extends CompleteJobResult {
  /** completed 5 (exit 0), failed 6, terminated 8 (ended by the runner). */
  status: CompletionStatusName;
  /** The signal that ended the job's main process, if any (its return_code is then 128 + signo). */
  signal: NodeJS.Signals | null;
  termination_reason: TerminationReason | null;
}

export interface StdioPaths {
  stdout: string;
  stderr: string;
}

/** Where a job attempt's output goes. Only integers reach the file name, so no job name can steer the path. */
export function stdioPaths(outputDir: string, jobId: number, attempt: number): StdioPaths {
  if (!Number.isSafeInteger(jobId) || jobId < 0) throw new RangeError(`job id must be a non-negative integer, got ${jobId}`);
  if (!Number.isSafeInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  const dir = path.join(absolute(outputDir), 'job_stdio');
  const base = `job_${jobId}_${attempt}`;
  return { stdout: path.join(dir, `${base}.o`), stderr: path.join(dir, `${base}.e`) };
}

/** The shell text a job runs: torc runs `<invocation_script> <command>` when a script is set. */
export function jobShellCommand(command: string, invocationScript?: string | null): string {
  const script = invocationScript?.trim();
  return script ? `${script} ${command}` : command;
}

let lastResolved: [string, string] = ['', ''];
/** path.resolve, remembering the answer for an absolute path (a runner asks for the same one per job). */
function absolute(dir: string): string {
  if (!path.isAbsolute(dir)) return path.resolve(dir);
  if (lastResolved[0] !== dir) lastResolved = [dir, path.resolve(dir)];
  return lastResolved[1];
}

/** The environment of a job: inherited, then the job's own, then torc's (which the job cannot override). */
export function jobEnvironment(launch: JobLaunch, opts: ProcessOptions): NodeJS.ProcessEnv {
  return { ...(opts.baseEnv ?? process.env), ...jobEnvironmentChanges(launch, opts) };
}

/** What a job's environment sets on top of the inherited one (see jobEnvironment). */
export function jobEnvironmentChanges(launch: JobLaunch, opts: ProcessOptions): Record<string, string> {
  const env: Record<string, string> = { ...(launch.env ?? {}) };
  env.TORC_WORKFLOW_ID = String(launch.workflow_id);
  env.TORC_JOB_ID = String(launch.job_id);
  env.TORC_JOB_NAME = launch.name;
  // torc's name is TORC_ATTEMPT_ID; TORC_ATTEMPT is the shorter alias of our own docs.
  env.TORC_ATTEMPT_ID = String(launch.attempt);
  env.TORC_ATTEMPT = String(launch.attempt);
  env.TORC_OUTPUT_DIR = absolute(opts.outputDir);
  if (opts.apiUrl) env.TORC_API_URL = opts.apiUrl;
  if (launch.gpus != null) env.CUDA_VISIBLE_DEVICES = launch.gpus.join(',');
  return env;
}

/** Words that bash itself must run (builtins without a program of that name, keywords). */
const SHELL_ONLY = new Set(
  ('. : [[ ]] ! { } alias bg bind break builtin caller case cd command compgen complete compopt continue coproc declare dirs disown do done ' +
    'elif else enable esac eval exec exit export fc fg fi for function getopts hash help history if in jobs let local logout mapfile popd ' +
    'pushd read readarray readonly return select set shift shopt source suspend then time times trap type typeset ulimit umask unalias ' +
    'unset until wait while').split(' '),
);
const PLAIN_WORD = /^[A-Za-z0-9_.\/:@%+,=-]+$/;
const PROGRAM = /^[A-Za-z0-9_.\/+-]+$/;

/**
 * The argv that runs a job. torc runs `bash -c "<command>"`; a command that is only plain words
 * (no quotes, variables, globs, redirections, operators; not a builtin or an assignment) means
 * the same as exec'ing those words, which bash would do anyway after starting up: skip bash.
 */
export function jobArgv(shellCommand: string): string[] {
  const words = shellCommand.trim().split(/ +/);
  const direct =
    shellCommand.length > 0 &&
    !/[\t\n]/.test(shellCommand) &&
    words.every((w) => PLAIN_WORD.test(w)) &&
    PROGRAM.test(words[0]!) &&
    !SHELL_ONLY.has(words[0]!);
  return direct ? words : ['bash', '-c', shellCommand];
}

/** Directories already created this process: a runner starts thousands of jobs into one. */
const madeDirs = new Set<string>();

/** Starts a job; resolves once the process exists (or failed to start: then `done` reports it). */
export async function startJobProcess(launch: JobLaunch, opts: ProcessOptions, spawner: Spawner = defaultSpawner()): Promise<JobProcess> {
  return (await queueJobProcess(launch, opts, undefined, spawner))!;
}

/**
 * A failure handler's recovery script for a failed attempt, run like the job: `bash -c` in its
 * own process group, the job's environment plus TORC_RETURN_CODE, output appended to the
 * failed attempt's stdio files (after a line that says so).
 */
export async function startRecoveryScript(failed: JobProcess, returnCode: number, script: string, opts: ProcessOptions): Promise<JobProcess> {
  const launch = failed.launch;
  const paths = stdioPaths(opts.outputDir, launch.job_id, launch.attempt);
  await mkdir(path.dirname(paths.stderr), { recursive: true });
  await appendFile(paths.stderr, `torc: attempt ${launch.attempt} returned ${returnCode}; running the recovery script\n`);
  return startJobProcess(
    {
      ...launch,
      command: script,
      invocation_script: null,
      env: { ...(launch.env ?? {}), TORC_RETURN_CODE: String(returnCode) },
      runtime_limit_seconds: launch.runtime_limit_seconds ?? null,
      // Not measured as the job, nor held to its (just exceeded) memory.
      cgroups: undefined,
    },
    opts,
  );
}

/**
 * Hands a job to the spawner's queue of `queue.group`: it starts as soon as the group runs
 * fewer than `queue.limit` jobs; resolves then (as startJobProcess), or with null when the
 * request was withdrawn (spawner.cancelQueued) before it started.
 */
export async function queueJobProcess(
  launch: JobLaunch,
  opts: ProcessOptions,
  queue: SpawnQueue | undefined,
  spawner: Spawner = defaultSpawner(),
): Promise<JobProcess | null> {
  const paths = stdioPaths(opts.outputDir, launch.job_id, launch.attempt);
  const dir = path.dirname(paths.stdout);
  if (!madeDirs.has(dir)) {
    mkdirSync(dir, { recursive: true });
    madeDirs.add(dir);
  }
  // Append: a re-run of the same attempt (after a crash) never loses the earlier output.
  const child = await spawner.spawn({
    argv: jobArgv(jobShellCommand(launch.command, launch.invocation_script)),
    cwd: opts.cwd !== undefined ? absolute(opts.cwd) : process.cwd(),
    // A runner's snapshot of its environment is shared by all its jobs (the spawner diffs it
    // once); process.env itself may change, so without one the whole environment goes along.
    ...(opts.baseEnv ? { env: jobEnvironmentChanges(launch, opts), envBase: opts.baseEnv } : { env: jobEnvironment(launch, opts) }),
    stdout: paths.stdout,
    stderr: paths.stderr,
    ...(launch.cgroups && launch.cgroups.length > 0 ? { cgroups: launch.cgroups } : {}),
  }, queue);
  if (child.pid === null && (await Promise.race([child.exit, Promise.resolve(null)]))?.canceled) return null;
  return new JobProcess(launch, child, paths, (opts.graceSeconds ?? DEFAULT_GRACE_SECONDS) * 1000);
}

export class JobProcess {
  readonly pid: number | null;
  /** When the process started (the spawner's clock when it says, else when we heard). */
  readonly startedAt: Date;
  readonly done: Promise<JobOutcome>;
  private reason: TerminationReason | null = null;
  private terminating = false;
  private exitedFlag = false;
  private killAt = 0;
  private runtimeTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private resolve!: (o: JobOutcome) => void;

  constructor(
    readonly launch: JobLaunch,
    child: SpawnedChild,
    readonly paths: StdioPaths,
    private readonly graceMs: number,
  ) {
    this.pid = child.pid;
    this.startedAt = new Date(child.startedAtMs !== undefined ? Math.min(child.startedAtMs, Date.now()) : Date.now());
    this.done = new Promise((r) => (this.resolve = r));
    // Failed to start (no such program, bad cwd): the spawner said why in the job's stderr; exit 127.
    void child.exit.then((exit) => this.finish(exit.code, exit.signal, exit.endedAtMs));
    if (this.pid !== null) {
      const limit = launch.runtime_limit_seconds;
      if (limit != null && limit >= 0 && limit * 1000 <= MAX_TIMER_MS)
        this.runtimeTimer = setTimeout(() => void this.terminate('runtime_limit'), limit * 1000);
    }
  }

  get terminationReason(): TerminationReason | null {
    return this.reason;
  }

  get exited(): boolean {
    return this.exitedFlag;
  }

  /**
   * SIGTERM to the job's whole process group, SIGKILL after the grace period to whatever is
   * left. Resolves with the outcome once the group is gone (or was SIGKILLed). The first
   * reason given is the one reported; calling it again only waits.
   */
  terminate(reason: TerminationReason = 'requested'): Promise<JobOutcome> {
    if (this.exitedFlag || this.pid === null) return this.done;
    this.reason ??= reason;
    if (!this.terminating) {
      this.terminating = true;
      this.killAt = Date.now() + this.graceMs;
      this.signalGroup('SIGTERM');
      // The main process outlived the grace period: SIGKILL the group (finish() sweeps after an exit).
      this.killTimer = setTimeout(() => this.exitedFlag || this.signalGroup('SIGKILL'), this.graceMs);
    }
    return this.done;
  }

  private finish(code: number | null, signal: NodeJS.Signals | null, endedAtMs?: number): void {
    this.exitedFlag = true;
    clearTimeout(this.runtimeTimer);
    clearTimeout(this.killTimer);
    const end = new Date(endedAtMs !== undefined ? Math.max(this.startedAt.getTime(), Math.min(endedAtMs, Date.now())) : Date.now());
    const returnCode = code ?? (signal ? signalReturnCode(signal) : 1);
    const status =
      this.reason !== null ? 'terminated' : returnCode === 0 ? 'completed' : 'failed';
    const outcome: JobOutcome = {
      status,
      return_code: returnCode,
      exec_time_minutes: (end.getTime() - this.startedAt.getTime()) / 60_000,
      completion_time: end.toISOString(),
      signal,
      termination_reason: this.reason,
    };
    if (!this.terminating) return this.resolve(outcome);
    // The main process is gone; give the rest of the group the remaining grace, then SIGKILL it.
    // Once SIGKILLed, wait a little for the kernel to finish them off (zombies count as alive).
    let killedAt = 0;
    const sweep = () => {
      if (!this.groupAlive()) return this.resolve(outcome);
      const now = Date.now();
      if (killedAt === 0 && now >= this.killAt) {
        this.signalGroup('SIGKILL');
        killedAt = now;
      }
      if (killedAt !== 0 && now - killedAt > KILL_SETTLE_MS) return this.resolve(outcome);
      setTimeout(sweep, GROUP_POLL_MS);
    };
    sweep();
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.pid === null) return;
    try {
      process.kill(-this.pid, signal);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  private groupAlive(): boolean {
    return this.pid !== null && processGroupAlive(this.pid);
  }
}

/**
 * Whether any process of the group still runs. kill(-pgid, 0) also counts zombies (killed
 * processes their new parent has not reaped yet), so on Linux /proc settles it.
 */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) > 57) continue; // not a pid
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
    } catch {
      // Gone meanwhile.
    }
  }
  return false;
}

/** Terminates several jobs at once (their grace periods run concurrently). */
export function terminateJobs(jobs: Iterable<JobProcess>, reason: TerminationReason): Promise<JobOutcome[]> {
  return Promise.all([...jobs].map((j) => j.terminate(reason)));
}

/** The body of complete_job for an outcome. */
export function toCompleteResult(o: JobOutcome): CompleteJobResult {
  return { return_code: o.return_code, exec_time_minutes: o.exec_time_minutes, completion_time: o.completion_time };
}
