/**
 * Thin wrappers over Slurm's commands (sbatch, squeue, scontrol, scancel, sinfo) and parsers
 * for what they print. Arguments go through execFile (no shell). The command paths are
 * injectable so tests can put a recorded Slurm in their place.
 *
 * Behaviour seen on Slurm 22.05 (Debian slurm-wlm), which the parsers follow:
 * - `sbatch --parsable` prints `ID` or `ID;CLUSTER`.
 * - `squeue -h -t all -j A,B -o FMT` lists the ids it knows, including finished jobs kept for
 *   MinJobAge; an id it has forgotten is left out; if it knows none it exits 1 with
 *   "Invalid job id specified". `%e` (end time) is local time without zone, `%L` (time left)
 *   is `[D-]H:MM:SS` or `M:SS`, or `INVALID` / `UNLIMITED` / `NOT_SET`.
 * - `scontrol show job [-o] ID`: `Key=Value` pairs (values may hold spaces, e.g. Command);
 *   JobState e.g. RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT; ExitCode `code:signal`.
 *   An unknown id exits 1 with "Invalid job id specified".
 * - `scancel ID` of an unknown or finished job exits 0.
 */
import { execFile } from 'node:child_process';

export type SlurmCommandName = 'sbatch' | 'squeue' | 'scontrol' | 'scancel' | 'sinfo' | 'sacct' | 'sacctmgr';

export interface SlurmCommandsOptions {
  /** Path of each command; by default the name is looked up on PATH. */
  paths?: Partial<Record<SlurmCommandName, string>>;
  /** Seconds before a command is killed (slurmctld may be busy). */
  timeoutSeconds?: number;
  env?: NodeJS.ProcessEnv;
}

/** A Slurm job's place in the queue, from squeue. */
export interface SqueueEntry {
  jobId: string;
  /** Long state name: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, … */
  state: string;
  /** End time (expected for running jobs), or null when unknown (pending: "N/A"). */
  endTime: Date | null;
  /** Seconds of walltime left, or null when unknown or unlimited. */
  timeLeftSeconds: number | null;
  /** Why it is pending, or "None". */
  reason: string;
  /**
   * The nodes it holds now (a Slurm host list), or null when it holds none (pending). A job
   * submitted with --no-kill keeps running when a node fails and this list loses the node.
   */
  nodeList: string | null;
}

/** A job as `scontrol show job` describes it. */
export interface ScontrolJob {
  jobId: string;
  jobName: string;
  state: string;
  reason: string;
  /** Exit code of the batch script, and the signal that ended it (0 for none). */
  exitCode: number | null;
  exitSignal: number | null;
  startTime: Date | null;
  endTime: Date | null;
  timeLimitSeconds: number | null;
  nodeList: string | null;
  numNodes: number | null;
  numCpus: number | null;
  /** Every Key=Value pair, as printed. */
  fields: Record<string, string>;
}

/** Thrown when a Slurm command fails; carries what it printed. */
export class SlurmCommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} ${args.join(' ')} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${stderr.trim() || 'no message'}`);
    this.name = 'SlurmCommandError';
  }
}

/** Job states after which a Slurm job no longer runs (its allocation is gone). */
const ENDED_STATES = new Set([
  'BOOT_FAIL',
  'CANCELLED',
  'COMPLETED',
  'DEADLINE',
  'FAILED',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'REVOKED',
  'SPECIAL_EXIT',
  'TIMEOUT',
]);

/** True when a Slurm job in this state has ended (COMPLETING counts as still holding resources). */
export function isEndedState(state: string): boolean {
  // scontrol may append flags to the state, e.g. "CANCELLED+".
  return ENDED_STATES.has(state.replace(/\+$/, '').split(/[\s+]/)[0]!.toUpperCase());
}

const INVALID_JOB_ID = /Invalid job id specified/i;

export class SlurmCommands {
  private readonly paths: Partial<Record<SlurmCommandName, string>>;
  private readonly timeoutMs: number;
  private readonly env: NodeJS.ProcessEnv | undefined;

  constructor(opts: SlurmCommandsOptions = {}) {
    this.paths = opts.paths ?? {};
    this.timeoutMs = (opts.timeoutSeconds ?? 60) * 1000;
    this.env = opts.env;
  }

  /** Submits a batch script; returns the Slurm job id. */
  async submit(scriptPath: string, opts: { cwd?: string; args?: string[] } = {}): Promise<string> {
    const { stdout } = await this.exec('sbatch', ['--parsable', ...(opts.args ?? []), scriptPath], opts.cwd);
    return parseSbatchParsable(stdout);
  }

  /** squeue entries of the given jobs (finished ones too, while Slurm remembers them). */
  async queue(jobIds: readonly string[]): Promise<Map<string, SqueueEntry>> {
    if (jobIds.length === 0) return new Map();
    for (const id of jobIds) checkJobId(id);
    try {
      const { stdout } = await this.exec('squeue', ['-h', '-t', 'all', '-j', jobIds.join(','), '-o', SQUEUE_FORMAT]);
      return new Map(parseSqueue(stdout).map((e) => [e.jobId, e]));
    } catch (err) {
      if (err instanceof SlurmCommandError && INVALID_JOB_ID.test(err.stderr)) return new Map();
      throw err;
    }
  }

  /** `scontrol show job ID`, or null when Slurm does not know the id (never, or purged). */
  async showJob(jobId: string): Promise<ScontrolJob | null> {
    checkJobId(jobId);
    try {
      const { stdout } = await this.exec('scontrol', ['show', 'job', '-o', jobId]);
      return parseScontrolJobs(stdout)[0] ?? null;
    } catch (err) {
      if (err instanceof SlurmCommandError && INVALID_JOB_ID.test(err.stderr)) return null;
      throw err;
    }
  }

  /** Cancels a job (SIGTERM to its steps, SIGKILL after KillWait). Unknown ids are not an error. */
  async cancel(jobId: string): Promise<void> {
    checkJobId(jobId);
    await this.exec('scancel', [jobId]);
  }

  /**
   * The cluster's partitions: `scontrol show partition -o` (limits: MaxTime, MaxNodes,
   * MaxMemPerNode, …) and the node shapes per partition from `sinfo -h -o '%R|%c|%m|%G|%D'`
   * (partition, CPUs, memory MB, gres, node count; several lines when its nodes differ).
   */
  async partitions(): Promise<{ limits: Record<string, string>[]; shapes: { partition: string; cpus: number; memoryMb: number; gres: string; nodes: number }[] }> {
    const [show, info] = await Promise.all([this.exec('scontrol', ['show', 'partition', '-o']), this.exec('sinfo', ['-h', '-o', '%R|%c|%m|%G|%D'])]);
    const limits = show.stdout
      .split('\n')
      .filter((l) => l.startsWith('PartitionName='))
      .map((l) => parseKeyValues(l));
    const shapes = info.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const [partition, cpus, mem, gres, nodes] = l.split('|');
        return { partition: partition!, cpus: Number.parseInt(cpus ?? '', 10) || 0, memoryMb: Number.parseInt(mem ?? '', 10) || 0, gres: gres ?? '', nodes: Number.parseInt(nodes ?? '', 10) || 0 };
      });
    return { limits, shapes };
  }

  /**
   * Limits of QOS (a partition's QoS=…): `sacctmgr -n -P show qos NAMES
   * format=Name,MaxTRESPerNode,MaxTRES,MaxWall`, the TRES lists as maps ("cpu=4,gres/gpu=0" →
   * {cpu: '4', 'gres/gpu': '0'}); MaxTRES is per job. Null when accounting does not answer.
   */
  async qosLimits(names: readonly string[]): Promise<Map<string, QosLimits> | null> {
    if (names.length === 0) return new Map();
    for (const n of names) if (!/^[A-Za-z0-9_.+-]+$/.test(n)) throw new Error(`invalid QOS name "${n}"`);
    try {
      const { stdout } = await this.exec('sacctmgr', ['-n', '-P', 'show', 'qos', names.join(','), 'format=Name,MaxTRESPerNode,MaxTRES,MaxWall']);
      return new Map(parseQosLimits(stdout).map((q) => [q.name, q]));
    } catch {
      return null;
    }
  }

  /**
   * Accounting's view of jobs (`sacct -X -P -n -j IDS -o JobID,State,ExitCode,Reason,Start,End,NodeList,Elapsed`):
   * one record per allocation; null when accounting is not on (sacct fails).
   */
  async accounting(jobIds: readonly string[]): Promise<Map<string, SacctRecord> | null> {
    if (jobIds.length === 0) return new Map();
    for (const id of jobIds) checkJobId(id);
    try {
      const { stdout } = await this.exec('sacct', ['-X', '-P', '-n', '-j', jobIds.join(','), '-o', SACCT_FIELDS.join(',')]);
      return new Map(parseSacct(stdout).map((r) => [r.jobId, r]));
    } catch {
      return null;
    }
  }

  /** True when slurmctld answers and at least one node is up. */
  async isResponsive(): Promise<boolean> {
    try {
      const { stdout } = await this.exec('sinfo', ['-h', '-o', '%t']);
      return stdout.split('\n').some((s) => /^(idle|mix|alloc|comp)/.test(s.trim()));
    } catch {
      return false;
    }
  }

  private exec(name: SlurmCommandName, args: string[], cwd?: string): Promise<{ stdout: string; stderr: string }> {
    const file = this.paths[name] ?? name;
    return new Promise((resolve, reject) => {
      execFile(file, args, { cwd, env: this.env, timeout: this.timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) {
          // execFile's error: code is the exit status (number) or a system error name (ENOENT).
          const code = (err as { code?: unknown }).code;
          const why = code === 'ENOENT' ? `${file}: command not found` : stderr || err.message;
          reject(new SlurmCommandError(name, args, typeof code === 'number' ? code : null, why));
        } else resolve({ stdout, stderr });
      });
    });
  }
}

/** A QOS's limits as sacctmgr prints them. */
export interface QosLimits {
  name: string;
  /** MaxTRESPerNode, e.g. {cpu: '4', mem: '2000M', 'gres/gpu': '0'}. */
  perNode: Record<string, string>;
  /** MaxTRES (per job). */
  perJob: Record<string, string>;
  /** MaxWall as printed ("1-00:00:00", "00:20:00"), '' when none. */
  maxWall: string;
}

/** `sacctmgr -n -P show qos … format=Name,MaxTRESPerNode,MaxTRES,MaxWall` lines. */
export function parseQosLimits(stdout: string): QosLimits[] {
  const tres = (s: string | undefined) =>
    Object.fromEntries(
      (s ?? '')
        .split(',')
        .map((kv) => kv.trim())
        .filter((kv) => kv.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [name, perNode, perJob, maxWall] = l.split('|');
      return { name: name ?? '', perNode: tres(perNode), perJob: tres(perJob), maxWall: (maxWall ?? '').trim() };
    });
}

// %N (node list) last: older recorded output without it still parses.
const SACCT_FIELDS = ['JobID', 'State', 'ExitCode', 'Reason', 'Start', 'End', 'NodeList', 'Elapsed'];

/** One allocation as accounting records it. */
export interface SacctRecord {
  jobId: string;
  /** e.g. COMPLETED, FAILED, NODE_FAIL, CANCELLED (the "by UID" part dropped). */
  state: string;
  /** "code:signal" */
  exitCode: string;
  reason: string;
  start: string;
  end: string;
  nodeList: string;
  elapsed: string;
}

/** `sacct -X -P -n -o JobID,State,ExitCode,Reason,Start,End,NodeList,Elapsed` lines. */
export function parseSacct(stdout: string): SacctRecord[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [jobId, state, exitCode, reason, start, end, nodeList, elapsed] = l.split('|');
      return {
        jobId: jobId ?? '',
        state: (state ?? '').split(' ')[0]!,
        exitCode: exitCode ?? '',
        reason: reason ?? '',
        start: start ?? '',
        end: end ?? '',
        nodeList: nodeList ?? '',
        elapsed: elapsed ?? '',
      };
    });
}

const SQUEUE_FORMAT = '%i|%T|%e|%L|%r|%N';

function checkJobId(id: string): void {
  // Ids go to argv, never a shell, but a stray option ("-u…") must not reach squeue/scancel.
  if (!/^\d+(_\d+)?(\+\d+)?$/.test(id)) throw new Error(`invalid Slurm job id "${id}"`);
}

/** `sbatch --parsable` output → job id (`123` or `123;cluster`). */
export function parseSbatchParsable(stdout: string): string {
  const line = stdout.trim().split('\n').pop()?.trim() ?? '';
  const id = line.split(';')[0]!;
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${JSON.stringify(stdout.trim())}`);
  return id;
}

/** Lines of `squeue -h -o '%i|%T|%e|%L|%r|%N'` (the node list may be missing). */
export function parseSqueue(stdout: string): SqueueEntry[] {
  const out: SqueueEntry[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const [jobId, state, end, left, reason, nodes] = line.split('|');
    if (!jobId || !state) throw new Error(`unexpected squeue line: ${JSON.stringify(line)}`);
    out.push({
      jobId,
      state,
      endTime: parseSlurmDate(end ?? ''),
      timeLeftSeconds: parseSlurmDuration(left ?? ''),
      reason: reason ?? '',
      nodeList: nodes && nodes.trim() !== '' && nodes.trim() !== '(null)' ? nodes.trim() : null,
    });
  }
  return out;
}

/** `scontrol show job` output (one-line `-o` form or the multi-line form, several jobs). */
export function parseScontrolJobs(stdout: string): ScontrolJob[] {
  // Each record starts with a line beginning "JobId="; the multi-line form continues it on
  // indented lines.
  const records: string[] = [];
  for (const line of stdout.split('\n')) {
    if (/^JobId=/.test(line)) records.push(line);
    else if (line.trim() && records.length > 0) records[records.length - 1] += ` ${line}`;
  }
  return records.map((r) => toScontrolJob(parseKeyValues(r)));
}

/**
 * `Key=Value Key2=Value two` → record. A key starts after whitespace; a value runs to the next
 * key, so values may hold spaces (Command=/x.sh 30) and '=' (TRES=cpu=1,mem=100M).
 */
export function parseKeyValues(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  const keyRe = /(?:^|\s)([A-Za-z][A-Za-z0-9_/:]*)=/g;
  const marks: { key: string; start: number; valueStart: number }[] = [];
  for (let m = keyRe.exec(text); m; m = keyRe.exec(text)) {
    marks.push({ key: m[1]!, start: m.index, valueStart: m.index + m[0].length });
  }
  marks.forEach((mark, i) => {
    const end = i + 1 < marks.length ? marks[i + 1]!.start : text.length;
    if (!(mark.key in fields)) fields[mark.key] = text.slice(mark.valueStart, end).trim();
  });
  return fields;
}

function toScontrolJob(f: Record<string, string>): ScontrolJob {
  const [code, signal] = (f.ExitCode ?? '').split(':');
  const intOrNull = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : null);
  return {
    jobId: f.JobId ?? '',
    jobName: f.JobName ?? '',
    state: f.JobState ?? '',
    reason: f.Reason ?? '',
    exitCode: intOrNull(code),
    exitSignal: intOrNull(signal),
    startTime: parseSlurmDate(f.StartTime ?? ''),
    endTime: parseSlurmDate(f.EndTime ?? ''),
    timeLimitSeconds: parseSlurmDuration(f.TimeLimit ?? ''),
    nodeList: f.NodeList && f.NodeList !== '(null)' ? f.NodeList : null,
    numNodes: intOrNull(f.NumNodes),
    numCpus: intOrNull(f.NumCPUs),
    fields: f,
  };
}

/**
 * A Slurm timestamp ("2026-11-27T09:09:50", local time, as squeue/scontrol print it) → Date;
 * null for "N/A", "Unknown", "NONE" and the like.
 */
export function parseSlurmDate(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(s.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return new Date(y!, mo! - 1, d!, h!, mi!, se!);
}

/** A Slurm duration (`[D-]H:MM:SS`, `M:SS`, `MM`) → seconds; null for UNLIMITED, INVALID, N/A. */
export function parseSlurmDuration(s: string): number | null {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(s.trim());
  if (!m) return null;
  const [, days, a, b, c] = m;
  const n = (v: string | undefined) => (v === undefined ? 0 : Number(v));
  if (days !== undefined) return n(days) * 86400 + n(a) * 3600 + n(b) * 60 + n(c);
  if (c !== undefined) return n(a) * 3600 + n(b) * 60 + n(c);
  if (b !== undefined) return n(a) * 60 + n(b);
  return n(a) * 60;
}
