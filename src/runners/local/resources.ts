/**
 * What this machine (or allocation) can run: CPUs, memory and GPUs, with user overrides.
 * Used by `torc run`, the reconciler's local runner and the Slurm worker (which passes its
 * allocation's numbers as overrides and its own env).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../errors.js';
import type { NodeCapacity, RunnerCapacity } from '../../allocator/types.js';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

export interface ResourceOverrides {
  num_cpus?: number | null;
  memory_gb?: number | null;
  num_gpus?: number | null;
}

export interface DetectOptions {
  overrides?: ResourceOverrides;
  /** Environment to read PATH and CUDA_VISIBLE_DEVICES from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Node name in the capacity (default os.hostname()). */
  hostname?: string;
  /** cgroup mount point (default /sys/fs/cgroup); tests point it at a fake tree. */
  cgroupRoot?: string;
  /** This process's cgroup membership file (default /proc/self/cgroup). */
  procCgroupFile?: string;
}

export type GpuSource = 'nvidia-smi' | 'CUDA_VISIBLE_DEVICES' | 'override' | 'none';

export interface DetectedResources {
  hostname: string;
  num_cpus: number;
  memory_bytes: number;
  /**
   * Device ids a job's CUDA_VISIBLE_DEVICES may name (indices, or UUIDs when the parent's
   * CUDA_VISIBLE_DEVICES used them); length = number of GPUs.
   */
  gpu_ids: string[];
  /** Memory of each GPU in bytes when nvidia-smi reported it, else null. */
  gpu_memory_bytes: (number | null)[];
  sources: { cpus: 'os' | 'cgroup' | 'override'; memory: 'os' | 'cgroup' | 'override'; gpus: GpuSource };
  /** The whole machine as one node of a runner capacity (no time limit, no scheduler). */
  capacity: RunnerCapacity;
}

/** Checks CLI-style overrides; errors name the flag. */
export function validateOverrides(o: ResourceOverrides): void {
  const issues: { path: string; message: string }[] = [];
  if (o.num_cpus != null && !(Number.isInteger(o.num_cpus) && o.num_cpus > 0))
    issues.push({ path: '--num-cpus', message: `must be a positive integer, got ${o.num_cpus}` });
  if (o.memory_gb != null && !(Number.isFinite(o.memory_gb) && o.memory_gb > 0))
    issues.push({ path: '--memory-gb', message: `must be a positive number, got ${o.memory_gb}` });
  if (o.num_gpus != null && !(Number.isInteger(o.num_gpus) && o.num_gpus >= 0))
    issues.push({ path: '--num-gpus', message: `must be a non-negative integer, got ${o.num_gpus}` });
  if (issues.length) throw new InputError(issues);
}

export async function detectResources(opts: DetectOptions = {}): Promise<DetectedResources> {
  const overrides = opts.overrides ?? {};
  validateOverrides(overrides);
  const env = opts.env ?? process.env;
  const hostname = opts.hostname ?? os.hostname();
  const limits = await readCgroupLimits(opts.cgroupRoot ?? '/sys/fs/cgroup', opts.procCgroupFile ?? '/proc/self/cgroup');

  let num_cpus = os.availableParallelism();
  let cpuSource: DetectedResources['sources']['cpus'] = 'os';
  if (limits.cpus !== null && limits.cpus < num_cpus) {
    num_cpus = limits.cpus;
    cpuSource = 'cgroup';
  }
  if (overrides.num_cpus != null) {
    num_cpus = overrides.num_cpus;
    cpuSource = 'override';
  }

  let memory_bytes = os.totalmem();
  let memSource: DetectedResources['sources']['memory'] = 'os';
  if (limits.memory_bytes !== null && limits.memory_bytes < memory_bytes) {
    memory_bytes = limits.memory_bytes;
    memSource = 'cgroup';
  }
  if (overrides.memory_gb != null) {
    memory_bytes = Math.round(overrides.memory_gb * GIB);
    memSource = 'override';
  }

  let gpus = await detectGpus(env);
  if (overrides.num_gpus != null) gpus = applyGpuOverride(gpus, overrides.num_gpus);

  const node: NodeCapacity = { name: hostname, num_cpus, memory_bytes, num_gpus: gpus.ids.length };
  return {
    hostname,
    num_cpus,
    memory_bytes,
    gpu_ids: gpus.ids,
    gpu_memory_bytes: gpus.memory,
    sources: { cpus: cpuSource, memory: memSource, gpus: gpus.source },
    capacity: { nodes: [node], time_limit_seconds: null, scheduler_config_id: null },
  };
}

interface GpuList {
  ids: string[];
  memory: (number | null)[];
  source: GpuSource;
}

/**
 * A non-empty CUDA_VISIBLE_DEVICES is an explicit restriction by the user or the batch
 * scheduler, so it wins over nvidia-smi (which lists every GPU of the node, visible or not);
 * jobs then get subsets of those very entries. Otherwise nvidia-smi, otherwise none.
 */
async function detectGpus(env: NodeJS.ProcessEnv): Promise<GpuList> {
  const visible = parseCudaVisibleDevices(env.CUDA_VISIBLE_DEVICES);
  if (visible !== null) return { ids: visible, memory: visible.map(() => null), source: 'CUDA_VISIBLE_DEVICES' };
  const smi = await queryNvidiaSmi(env);
  if (smi !== null) return { ...smi, source: 'nvidia-smi' };
  return { ids: [], memory: [], source: 'none' };
}

/** null when unset or empty; [] when it hides every device ("-1", "NoDevFiles"). */
export function parseCudaVisibleDevices(value: string | undefined): string[] | null {
  if (value === undefined || value.trim() === '') return null;
  const v = value.trim();
  if (v === '-1' || v === 'NoDevFiles') return [];
  const ids = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  // CUDA stops at the first invalid (negative) index.
  const firstBad = ids.findIndex((s) => /^-\d+$/.test(s));
  return firstBad === -1 ? ids : ids.slice(0, firstBad);
}

/** Parses `index, memory.total` CSV lines ("0, 81559 MiB"). */
export function parseNvidiaSmi(stdout: string): { ids: string[]; memory: (number | null)[] } {
  const ids: string[] = [];
  const memory: (number | null)[] = [];
  for (const line of stdout.split('\n')) {
    const [index, mem] = line.split(',').map((s) => s.trim());
    if (!index || !/^\d+$/.test(index)) continue;
    ids.push(index);
    const m = /^(\d+(?:\.\d+)?)\s*MiB$/i.exec(mem ?? '');
    memory.push(m ? Math.round(Number(m[1]) * MIB) : null);
  }
  return { ids, memory };
}

function queryNvidiaSmi(env: NodeJS.ProcessEnv): Promise<{ ids: string[]; memory: (number | null)[] } | null> {
  return new Promise((resolve) => {
    // The child's env PATH is used to find the binary, so a fake nvidia-smi can be injected.
    execFile(
      'nvidia-smi',
      ['--query-gpu=index,memory.total', '--format=csv,noheader'],
      { env, timeout: 15_000, windowsHide: true },
      (err, stdout) => resolve(err ? null : parseNvidiaSmi(String(stdout))),
    );
  });
}

/** Fewer GPUs than found: the first n. More: invented indices after the highest (testing, or hidden devices). */
function applyGpuOverride(found: GpuList, n: number): GpuList {
  if (n <= found.ids.length) return { ids: found.ids.slice(0, n), memory: found.memory.slice(0, n), source: 'override' };
  const ids = [...found.ids];
  const memory = [...found.memory];
  const used = new Set(ids);
  for (let i = 0; ids.length < n; i++) {
    if (used.has(String(i))) continue;
    ids.push(String(i));
    memory.push(null);
  }
  return { ids, memory, source: 'override' };
}

interface CgroupLimits {
  memory_bytes: number | null;
  cpus: number | null;
}

/** The tightest memory / CPU limit of this process's cgroup and its ancestors (v2 or v1). */
export async function readCgroupLimits(root: string, procCgroupFile: string): Promise<CgroupLimits> {
  const membership = await readText(procCgroupFile);
  if (membership === null) return { memory_bytes: null, cpus: null };
  let memory: number | null = null;
  let cpus: number | null = null;
  const min = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

  for (const line of membership.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, hier, controllers, rel] = m;
    const ctrls = controllers!.split(',');
    if (hier === '0' && controllers === '') {
      // cgroup v2 unified hierarchy.
      for (const dir of ancestors(root, rel!)) {
        memory = min(memory, parseLimit(await readText(path.join(dir, 'memory.max'))));
        cpus = min(cpus, parseCpuMax(await readText(path.join(dir, 'cpu.max'))));
      }
    } else if (ctrls.includes('memory')) {
      for (const dir of ancestors(path.join(root, 'memory'), rel!))
        memory = min(memory, parseLimit(await readText(path.join(dir, 'memory.limit_in_bytes'))));
    } else if (ctrls.includes('cpu')) {
      for (const dir of ancestors(path.join(root, controllers!), rel!)) {
        const quota = parseLimit(await readText(path.join(dir, 'cpu.cfs_quota_us')));
        const period = parseLimit(await readText(path.join(dir, 'cpu.cfs_period_us')));
        if (quota !== null && period) cpus = min(cpus, Math.max(1, Math.ceil(quota / period)));
      }
    }
  }
  return { memory_bytes: memory, cpus };
}

/** base/rel, base/rel-parent, ..., base (deduplicated). */
function ancestors(base: string, rel: string): string[] {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const dirs: string[] = [];
  for (let i = parts.length; i >= 0; i--) dirs.push(path.join(base, ...parts.slice(0, i)));
  return dirs;
}

/** A byte/number limit; "max", negatives and absurd v1 "unlimited" values mean none. */
function parseLimit(text: string | null): number | null {
  if (text === null) return null;
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n > 0 && n < 2 ** 60 ? n : null;
}

function parseCpuMax(text: string | null): number | null {
  if (text === null) return null;
  const [quota, period] = text.trim().split(/\s+/);
  if (!quota || quota === 'max' || !period) return null;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? Math.max(1, Math.ceil(q / p)) : null;
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return null;
  }
}
