/**
 * The worker's view of the Slurm allocation it runs in: which nodes, how many CPUs, how much
 * memory and which GPUs per node (from the SLURM_* environment), and when the allocation ends
 * (from squeue). From that it builds the RunnerCapacity it claims with, whose time limit is the
 * walltime left minus compute_node_expiration_buffer_seconds, so a job that cannot finish
 * before the allocation ends is never claimed.
 */
import os from 'node:os';
import { InputError } from '../../errors.js';
import type { NodeCapacity, RunnerCapacity } from '../../allocator/types.js';
import { parseCudaVisibleDevices } from '../local/resources.js';
import type { SlurmCommands } from './commands.js';

const MIB = 1024 ** 2;

export interface SlurmAllocation {
  jobId: string;
  /** The node this worker runs on. */
  thisNode: string;
  /** Nodes this worker serves: all of the allocation's, or only its own when started per node by srun. */
  nodes: string[];
  /** True when the worker runs in an srun step (one worker per node). */
  perNodeWorker: boolean;
  /** CPUs of each served node (same order as nodes). */
  cpusPerNode: number[];
  memoryBytesPerNode: number;
  gpusPerNode: number;
  /** Device ids for jobs' CUDA_VISIBLE_DEVICES on this node (indices, or what Slurm exported). */
  gpuIds: string[];
  /** Which SLURM_* variable each number came from, for the worker's log. */
  sources: { memory: 'SLURM_MEM_PER_NODE' | 'SLURM_MEM_PER_CPU' | 'node'; gpus: 'SLURM_GPUS_ON_NODE' | 'CUDA_VISIBLE_DEVICES' | 'none' };
}

export interface ReadAllocationOptions {
  /** Memory of the node when the job did not ask for a size (it then owns the whole node). */
  nodeMemoryBytes?: number;
  /** Fallback node name (default os.hostname()). */
  hostname?: string;
}

/** Reads the allocation from a Slurm job's environment; InputError names a missing/bad variable. */
export function readAllocation(env: NodeJS.ProcessEnv = process.env, opts: ReadAllocationOptions = {}): SlurmAllocation {
  const jobId = env.SLURM_JOB_ID ?? env.SLURM_JOBID;
  if (!jobId) throw new InputError('not inside a Slurm allocation (SLURM_JOB_ID is not set)', 'SLURM_JOB_ID');
  const thisNode = env.SLURMD_NODENAME || (opts.hostname ?? os.hostname()).split('.')[0]!;
  const cpusOnNode = intVar(env, 'SLURM_CPUS_ON_NODE', 1);

  // A worker inside an srun step was started per node (the sbatch body does that for
  // --start-one-worker-per-node) and serves only its own node; otherwise it serves them all.
  const perNodeWorker = env.SLURM_STEP_ID !== undefined && env.SLURM_STEP_ID !== '' && !/^(batch|extern)$/.test(env.SLURM_STEP_ID);
  const allNodes = env.SLURM_JOB_NODELIST ? expandNodeList(env.SLURM_JOB_NODELIST) : [thisNode];
  const numNodes = intVar(env, 'SLURM_JOB_NUM_NODES', allNodes.length);
  if (!perNodeWorker && allNodes.length !== numNodes) {
    throw new InputError(`SLURM_JOB_NODELIST names ${allNodes.length} nodes but SLURM_JOB_NUM_NODES is ${numNodes}`, 'SLURM_JOB_NODELIST');
  }
  const nodes = perNodeWorker ? [thisNode] : orderWithFirst(allNodes, thisNode);
  const cpusPerNode = perNodeWorker
    ? [cpusOnNode]
    : cpusPerNodeList(env.SLURM_JOB_CPUS_PER_NODE, allNodes, nodes, cpusOnNode);

  let memoryBytesPerNode: number;
  let memSource: SlurmAllocation['sources']['memory'];
  if (env.SLURM_MEM_PER_NODE) {
    memoryBytesPerNode = intVar(env, 'SLURM_MEM_PER_NODE', 0) * MIB;
    memSource = 'SLURM_MEM_PER_NODE';
  } else if (env.SLURM_MEM_PER_CPU) {
    memoryBytesPerNode = intVar(env, 'SLURM_MEM_PER_CPU', 0) * MIB * cpusOnNode;
    memSource = 'SLURM_MEM_PER_CPU';
  } else {
    memoryBytesPerNode = opts.nodeMemoryBytes ?? os.totalmem();
    memSource = 'node';
  }

  const visible = parseCudaVisibleDevices(env.CUDA_VISIBLE_DEVICES);
  let gpusPerNode: number;
  let gpuSource: SlurmAllocation['sources']['gpus'];
  if (env.SLURM_GPUS_ON_NODE) {
    gpusPerNode = intVar(env, 'SLURM_GPUS_ON_NODE', 0);
    gpuSource = 'SLURM_GPUS_ON_NODE';
  } else if (visible) {
    gpusPerNode = visible.length;
    gpuSource = 'CUDA_VISIBLE_DEVICES';
  } else {
    gpusPerNode = 0;
    gpuSource = 'none';
  }
  // Slurm exports the ids the job may use; without them (fake or unconstrained devices) the
  // job sees indices 0..n-1.
  const gpuIds = visible && visible.length === gpusPerNode ? visible : Array.from({ length: gpusPerNode }, (_, i) => String(i));

  return {
    jobId,
    thisNode,
    nodes,
    perNodeWorker,
    cpusPerNode,
    memoryBytesPerNode,
    gpusPerNode,
    gpuIds,
    sources: { memory: memSource, gpus: gpuSource },
  };
}

/**
 * The capacity to claim with at time `now`: every served node with its CPUs, memory and GPUs,
 * and time_limit = seconds until `endTime` − buffer (never negative; null when the end is unknown).
 */
export function allocationCapacity(
  alloc: SlurmAllocation,
  opts: { endTime: Date | null; bufferSeconds: number; schedulerConfigId: number | null; now?: Date },
): RunnerCapacity {
  const nodes: NodeCapacity[] = alloc.nodes.map((name, i) => ({
    name,
    num_cpus: alloc.cpusPerNode[i]!,
    memory_bytes: alloc.memoryBytesPerNode,
    num_gpus: alloc.gpusPerNode,
  }));
  return {
    nodes,
    time_limit_seconds: timeLimitSeconds(opts.endTime, opts.bufferSeconds, opts.now ?? new Date()),
    scheduler_config_id: opts.schedulerConfigId,
  };
}

/** Whole seconds a job may still run: until the end, less the buffer; ≥ 0; null when unbounded. */
export function timeLimitSeconds(endTime: Date | null, bufferSeconds: number, now: Date): number | null {
  if (endTime === null) return null;
  return Math.max(0, Math.floor((endTime.getTime() - now.getTime()) / 1000) - Math.max(0, bufferSeconds));
}

/**
 * When the allocation ends, asked of squeue (`%L` time left, relative so immune to clock zones;
 * `%e` end time otherwise). null when Slurm reports no limit.
 */
export async function allocationEndTime(commands: SlurmCommands, jobId: string, now: () => Date = () => new Date()): Promise<Date | null> {
  const asked = now();
  const entry = (await commands.queue([jobId])).get(jobId);
  if (!entry) throw new Error(`squeue does not know Slurm job ${jobId}`);
  if (entry.timeLeftSeconds !== null) return new Date(asked.getTime() + entry.timeLeftSeconds * 1000);
  return entry.endTime;
}

/** Expands a Slurm host list: "vm", "node[01-03,07]", "a[1-2],b", "rack[1-2]-n[1-2]". */
export function expandNodeList(list: string): string[] {
  const out: string[] = [];
  for (const item of splitTopLevel(list.trim())) {
    if (item) out.push(...expandHost(item));
  }
  return out;
}

function expandHost(host: string): string[] {
  const m = /^([^[]*)\[([^\]]+)\](.*)$/.exec(host);
  if (!m) return [host];
  const [, prefix, ranges, rest] = m;
  const tails = expandHost(rest!);
  const out: string[] = [];
  for (const part of ranges!.split(',')) {
    const r = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!r) throw new InputError(`cannot read host range "${part}" in "${host}"`, 'SLURM_JOB_NODELIST');
    const [, lo, hi] = r;
    const width = lo!.length;
    for (let n = Number(lo); n <= Number(hi ?? lo); n++) {
      for (const tail of tails) out.push(`${prefix}${String(n).padStart(width, '0')}${tail}`);
    }
  }
  return out;
}

/** Splits on commas outside brackets. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** SLURM_JOB_CPUS_PER_NODE ("8(x2),4") → CPUs per node, in the order of `nodes`. */
function cpusPerNodeList(spec: string | undefined, allNodes: string[], nodes: string[], fallback: number): number[] {
  const counts: number[] = [];
  for (const part of (spec ?? '').split(',')) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (!m) return nodes.map(() => fallback);
    for (let i = 0; i < Number(m[2] ?? 1); i++) counts.push(Number(m[1]));
  }
  if (counts.length !== allNodes.length) return nodes.map(() => fallback);
  const byName = new Map(allNodes.map((n, i) => [n, counts[i]!]));
  return nodes.map((n) => byName.get(n) ?? fallback);
}

function orderWithFirst(nodes: string[], first: string): string[] {
  return nodes.includes(first) ? [first, ...nodes.filter((n) => n !== first)] : nodes;
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  // Slurm may print "8(x2)"-style values in some variables; the leading number is the per-node one.
  const m = /^(\d+)/.exec(v.trim());
  if (!m) throw new InputError(`expected a number, got "${v}"`, name);
  return Number(m[1]);
}
