/**
 * Renders the sbatch script of one Slurm allocation: `#SBATCH` directives from a workflow's
 * slurm_schedulers entry (slurm_defaults already merged by the spec pipeline), then a body that
 * starts the torc worker, which claims jobs with the allocation's own resources.
 *
 * Two parsers read what we write, so every value is checked for both:
 * - sbatch reads `#SBATCH` lines itself (no shell): whitespace splits arguments, quotes group
 *   them. A newline would end the comment and turn the rest into shell code, so control
 *   characters are refused everywhere; values are refused when they contain quotes or
 *   backslashes and double-quoted when they contain spaces.
 * - bash runs the body: every argument is single-quoted.
 */
import { InputError } from '../../errors.js';
import type { PlanSlurmScheduler } from '../../spec/plan.js';
import { parseSlurmWalltime } from '../../spec/units.js';

export interface WorkerLaunch {
  workflowId: number;
  /** The torc API URL the worker talks to. */
  url: string;
  /** The scheduler's id in the store (`--scheduler-config-id`). */
  schedulerConfigId: number;
  maxParallelJobs?: number | null;
  /** One worker per node through `srun`, each serving its own node; else one for the allocation. */
  startOneWorkerPerNode?: boolean;
  /** Where Slurm writes the allocation's stdout/stderr and the worker writes job output. */
  outputDir: string;
  /**
   * The jobs' working directory (`#SBATCH --chdir`): where `torc reconcile` ran, as for local
   * jobs, so relative paths in commands mean the same under every runner. Without it Slurm
   * would start in the directory sbatch was called from.
   */
  workingDir?: string | null;
  /** argv that starts torc on the compute node, e.g. [process.execPath, '/opt/torc/bin/torc.js']. */
  torcCommand: string[];
  /** File holding the API's bearer token, passed to the worker as --token-file (the token never enters the script). */
  tokenFile?: string | null;
  /** PEM CA of an https API, passed to the worker as --ca-file (a path on the shared file system). */
  caFile?: string | null;
  /** Extra environment for the worker. */
  env?: Record<string, string>;
}

export interface SbatchScriptInput extends WorkerLaunch {
  scheduler: PlanSlurmScheduler;
  /** Path of the scheduler entry for error messages, e.g. `spec.slurm_schedulers[1]`. */
  schedulerPath?: string;
}

/** Allocation stdout/stderr file names inside the output dir (`%j` is Slurm's job id). */
export const ALLOCATION_STDOUT = 'slurm_%j.o';
export const ALLOCATION_STDERR = 'slurm_%j.e';

const CONTROL = /[\u0000-\u001f\u007f]/;
// Names Slurm gives accounts, partitions and QOS: letters, digits and a few separators.
const NAME = /^[A-Za-z0-9_.+-]+$/;
// A comma-separated list of names (several partitions may be given).
const NAME_LIST = /^[A-Za-z0-9_.+-]+(,[A-Za-z0-9_.+-]+)*$/;
// Slurm sizes: a whole number with an optional unit K/M/G/T ("100G", "4096", "500M").
const SIZE = /^\d+[KMGTkmgt]?$/;
// gres: name[:type]:count[,…] ("gpu:1", "gpu:a100:2", "gpu:1,nvme:1").
const GRES = /^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*(,[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*)*$/;

/** Renders the whole sbatch script. Throws InputError naming the offending field. */
export function renderSbatchScript(input: SbatchScriptInput): string {
  const at = input.schedulerPath ?? `slurm_schedulers[${JSON.stringify(input.scheduler.name)}]`;
  const lines = ['#!/bin/bash'];
  for (const args of sbatchDirectives(input.scheduler, at, input.workflowId)) lines.push(`#SBATCH ${args.map(quoteDirectiveArg).join(' ')}`);
  const out = checkOutputDir(input.outputDir);
  lines.push(`#SBATCH ${quoteDirectiveArg(`--output=${out}/${ALLOCATION_STDOUT}`)}`);
  lines.push(`#SBATCH ${quoteDirectiveArg(`--error=${out}/${ALLOCATION_STDERR}`)}`);
  // One worker per node: a failed node must not end the allocation (its jobs are requeued by the dispatch).
  if (input.startOneWorkerPerNode && input.scheduler.nodes > 1) lines.push('#SBATCH --no-kill');
  if (input.workingDir != null) lines.push(`#SBATCH ${quoteDirectiveArg(`--chdir=${checkDir(input.workingDir, '--chdir')}`)}`);
  lines.push(`# torc-ts: workflow ${input.workflowId}, scheduler ${shellQuote(input.scheduler.name)} (id ${input.schedulerConfigId})`);
  lines.push(...workerBody(input));
  return lines.join('\n') + '\n';
}

/** The `#SBATCH` arguments for a scheduler, one array per line; validates every field. */
export function sbatchDirectives(s: PlanSlurmScheduler, at = 'slurm_scheduler', workflowId?: number): string[][] {
  const out: string[][] = [[`--job-name=${jobName(s.name, `${at}.name`, workflowId)}`]];
  if (s.account != null) out.push([`--account=${check(s.account, NAME, `${at}.account`, 'an account name')}`]);
  if (s.partition != null) out.push([`--partition=${check(s.partition, NAME_LIST, `${at}.partition`, 'a partition name (or a comma-separated list)')}`]);
  out.push([`--nodes=${positiveInt(s.nodes, `${at}.nodes`)}`]);
  out.push([`--time=${walltime(s.walltime, `${at}.walltime`)}`]);
  if (s.mem != null) out.push([`--mem=${check(s.mem, SIZE, `${at}.mem`, 'a Slurm memory size such as "100G" or "4096M"')}`]);
  if (s.gres != null) out.push([`--gres=${check(s.gres, GRES, `${at}.gres`, 'a gres list such as "gpu:1" or "gpu:a100:2"')}`]);
  if (s.qos != null) out.push([`--qos=${check(s.qos, NAME, `${at}.qos`, 'a QOS name')}`]);
  if (s.ntasks_per_node != null) out.push([`--ntasks-per-node=${positiveInt(s.ntasks_per_node, `${at}.ntasks_per_node`)}`]);
  if (s.tmp != null) out.push([`--tmp=${check(s.tmp, SIZE, `${at}.tmp`, 'a Slurm size such as "100G"')}`]);
  if (s.extra != null && s.extra.trim() !== '') out.push(extraArgs(s.extra, `${at}.extra`));
  return out;
}

/** Splits `extra` into sbatch options: shell-like words with quotes; each must be an option. */
export function extraArgs(extra: string, path = 'extra'): string[] {
  if (typeof extra !== 'string') throw new InputError(`expected a string of sbatch options, got ${typeof extra}`, path);
  if (CONTROL.test(extra)) throw new InputError('must not contain control characters such as newlines', path);
  const words = splitWords(extra, path);
  for (const w of words) {
    // A bare word would be taken as the batch script (on the command line) or break the directive.
    if (!w.startsWith('-')) {
      throw new InputError(`"${w}" is not an sbatch option: options start with "-" and take their value after "=" (--constraint=a|b)`, path);
    }
    if (/["'\\]/.test(w)) throw new InputError(`"${w}": quotes and backslashes inside an option value are not supported`, path);
  }
  return words;
}

/** The script body: environment, then exec of the worker (through srun for one per node). */
function workerBody(input: SbatchScriptInput): string[] {
  if (!Array.isArray(input.torcCommand) || input.torcCommand.length === 0) {
    throw new InputError('the command that starts torc on the compute node is empty', 'torcCommand');
  }
  if (!Number.isSafeInteger(input.workflowId) || input.workflowId <= 0) throw new InputError(`invalid workflow id ${input.workflowId}`, 'workflow');
  if (!Number.isSafeInteger(input.schedulerConfigId) || input.schedulerConfigId <= 0) {
    throw new InputError(`invalid scheduler config id ${input.schedulerConfigId}`, '--scheduler-config-id');
  }
  if (!/^https?:\/\/\S+$/.test(input.url)) throw new InputError(`expected an http(s) URL, got "${input.url}"`, '--url');
  const args = [
    ...input.torcCommand,
    'worker',
    String(input.workflowId),
    '--url',
    input.url,
    '--scheduler-config-id',
    String(input.schedulerConfigId),
    '--output-dir',
    input.outputDir,
  ];
  if (input.maxParallelJobs != null) args.push('--max-parallel-jobs', String(positiveInt(input.maxParallelJobs, '--max-parallel-jobs')));
  if (input.tokenFile != null && input.tokenFile !== '') args.push('--token-file', input.tokenFile);
  if (input.caFile != null && input.caFile !== '') args.push('--ca-file', input.caFile);
  for (const a of args) if (CONTROL.test(a)) throw new InputError(`worker argument ${JSON.stringify(a)} contains a control character`, 'worker');
  const lines: string[] = [];
  for (const [name, value] of Object.entries(input.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new InputError(`invalid environment variable name "${name}"`, 'env');
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  const worker = args.map(shellQuote).join(' ');
  if (input.startOneWorkerPerNode) {
    // One step per node, each a worker given the whole node (all its CPUs, --mem=0: all the
    // job's memory there; the allocation's gres go to the step by default). Separate steps, so
    // that a node failing ends only its own step: with --no-kill (a directive, see
    // renderSbatchScript) the allocation and the other nodes' workers carry on.
    lines.push(
      'for node in $(scontrol show hostnames "$SLURM_JOB_NODELIST"); do',
      `  srun --nodes=1 --ntasks=1 --nodelist="$node" --cpus-per-task="$SLURM_CPUS_ON_NODE" --mem=0 --no-kill --kill-on-bad-exit=0 ${worker} &`,
      'done',
      'wait',
    );
  } else {
    // exec: the worker itself receives Slurm's SIGTERM (scancel, walltime), not a waiting bash.
    lines.push(`exec ${worker}`);
  }
  return lines;
}

/** POSIX single-quoting: safe for any string without NUL. */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new InputError('NUL character in a shell argument', 'argument');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One `#SBATCH` argument as sbatch's own parser reads it (double quotes group spaces). */
function quoteDirectiveArg(arg: string): string {
  if (CONTROL.test(arg) || /["\\]/.test(arg)) throw new InputError(`cannot write ${JSON.stringify(arg)} into an #SBATCH line`, 'sbatch');
  return /[\s']/.test(arg) ? `"${arg}"` : arg;
}

function checkOutputDir(dir: string): string {
  return checkDir(dir, '--output-dir');
}

/** An absolute directory for an #SBATCH line (sbatch expands %j, %u, … in these paths). */
function checkDir(dir: string, path: string): string {
  if (typeof dir !== 'string' || dir === '') throw new InputError('a directory is required', path);
  if (CONTROL.test(dir) || /["\\]/.test(dir)) throw new InputError('must not contain quotes, backslashes or control characters', path);
  // sbatch expands %j, %u, … in file names; a literal % would be misread.
  if (dir.includes('%')) throw new InputError('must not contain "%" (sbatch expands it in file names)', path);
  if (path === '--chdir' && !dir.startsWith('/')) throw new InputError(`expected an absolute path, got "${dir}"`, path);
  return dir.replace(/\/+$/, '') || '/';
}

function check(value: string, pattern: RegExp, path: string, what: string): string {
  if (typeof value !== 'string') throw new InputError(`expected ${what}, got ${typeof value}`, path);
  if (!pattern.test(value)) throw new InputError(`invalid value ${JSON.stringify(value)}: expected ${what}`, path);
  return value;
}

function positiveInt(n: number, path: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`expected a whole number ≥ 1, got ${JSON.stringify(n)}`, path);
  return n;
}

function walltime(s: string, path: string): string {
  parseSlurmWalltime(s, path); // throws InputError naming the field
  return s.trim();
}

/** A job name built from the scheduler's name; odd characters become "_". */
function jobName(name: string, path: string, workflowId?: number): string {
  if (typeof name !== 'string' || name === '') throw new InputError('a scheduler needs a name', path);
  const prefix = workflowId === undefined ? 'torc_' : `torc_wf${workflowId}_`;
  return `${prefix}${name.replace(/[^A-Za-z0-9_.+-]/g, '_')}`.slice(0, 64);
}

/** Shell-like word splitting: whitespace separates, '…' and "…" group (quotes removed). */
function splitWords(s: string, path: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new InputError(`unbalanced ${quote} quote`, path);
  if (inWord) words.push(cur);
  return words;
}
