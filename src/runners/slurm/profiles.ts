/**
 * HPC profiles: what a cluster's partitions offer (CPUs, memory and GPUs per node, walltime and
 * node limits), from which `torc slurm generate` picks partitions. Built-in profiles are data
 * files in deploy/hpc-profiles/*.yaml; users add their own YAML files of the same shape in
 * $TORC_HPC_PROFILES (a folder) or ~/.config/torc/hpc-profiles. `--detect` instead reads the
 * partitions of the cluster this machine submits to (sinfo + scontrol show partition).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../../errors.js';
import { parseMemory, parseSlurmWalltime } from '../../spec/units.js';
import type { QosLimits, SlurmCommands } from './commands.js';

export interface HpcPartition {
  name: string;
  cpus_per_node: number;
  memory_bytes: number;
  gpus_per_node: number;
  /** Longest walltime, seconds; null when unlimited. */
  max_walltime_seconds: number | null;
  /** Most nodes one allocation may have; null when unlimited. */
  max_nodes: number | null;
  /** Fewest nodes an allocation must have (hbw-like partitions). */
  min_nodes: number;
  /** Used only when asked for by name: never picked by the generator. */
  explicit: boolean;
  description?: string;
}

export interface HpcProfile {
  name: string;
  display_name: string;
  description: string;
  /** How `torc hpc detect` recognises the system: environment variables with these values, or a host name pattern. */
  detect: { env?: Record<string, string>; hostname?: string };
  partitions: HpcPartition[];
  /** The file it came from, or "cluster" for detected partitions. */
  source: string;
  builtin: boolean;
}

/** deploy/hpc-profiles, from src/runners/slurm or dist/runners/slurm. */
export const BUILTIN_PROFILES_DIR = fileURLToPath(new URL('../../../deploy/hpc-profiles/', import.meta.url));

/** The user's profile folder: $TORC_HPC_PROFILES, else ~/.config/torc/hpc-profiles. */
export function userProfilesDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TORC_HPC_PROFILES || path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'torc', 'hpc-profiles');
}

/** Every profile: built-in ones, then the user's (a user profile of the same name replaces the built-in). */
export function loadProfiles(env: NodeJS.ProcessEnv = process.env): HpcProfile[] {
  const byName = new Map<string, HpcProfile>();
  for (const [dir, builtin] of [
    [BUILTIN_PROFILES_DIR, true],
    [userProfilesDir(env), false],
  ] as const) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
      const file = path.join(dir, f);
      const profile = parseProfile(parseYaml(readFileSync(file, 'utf8')) as unknown, file, builtin);
      byName.set(profile.name, profile);
    }
  }
  return [...byName.values()];
}

/** A profile by name; InputError listing the known ones. */
export function findProfile(name: string, env: NodeJS.ProcessEnv = process.env): HpcProfile {
  const all = loadProfiles(env);
  const found = all.find((p) => p.name === name);
  if (!found) throw new InputError(`unknown HPC profile "${name}" (known: ${all.map((p) => p.name).join(', ') || 'none'}; add your own in ${userProfilesDir(env)})`, '--profile');
  return found;
}

/** The profiles whose detection rule matches this machine. */
export function detectProfiles(env: NodeJS.ProcessEnv = process.env, hostname: string = os.hostname()): HpcProfile[] {
  return loadProfiles(env).filter((p) => matches(p, env, hostname));
}

export function matches(p: HpcProfile, env: NodeJS.ProcessEnv, hostname: string): boolean {
  const byEnv = p.detect.env && Object.keys(p.detect.env).length > 0 ? Object.entries(p.detect.env).every(([k, v]) => env[k] === v) : null;
  const byHost = p.detect.hostname ? new RegExp(p.detect.hostname).test(hostname) : null;
  if (byEnv === null && byHost === null) return false;
  return byEnv !== false && byHost !== false;
}

/** Validates a profile document; errors name the file and field. */
export function parseProfile(doc: unknown, file: string, builtin = false): HpcProfile {
  const at = (field: string) => `${file}: ${field}`;
  if (!isObject(doc)) throw new InputError('expected a mapping with name and partitions', file);
  const name = str(doc.name, at('name'));
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new InputError(`invalid profile name "${name}"`, at('name'));
  const detect = doc.detect === undefined ? {} : doc.detect;
  if (!isObject(detect)) throw new InputError('expected a mapping (env, hostname)', at('detect'));
  const env = detect.env === undefined ? undefined : detect.env;
  if (env !== undefined && (!isObject(env) || Object.values(env).some((v) => typeof v !== 'string'))) {
    throw new InputError('expected a mapping of variable names to string values', at('detect.env'));
  }
  const hostname = detect.hostname === undefined ? undefined : str(detect.hostname, at('detect.hostname'));
  if (hostname !== undefined) {
    try {
      new RegExp(hostname);
    } catch {
      throw new InputError(`invalid regular expression "${hostname}"`, at('detect.hostname'));
    }
  }
  if (!Array.isArray(doc.partitions) || doc.partitions.length === 0) throw new InputError('expected a non-empty list', at('partitions'));
  const partitions = doc.partitions.map((p: unknown, i: number) => parsePartition(p, (f) => at(`partitions[${i}]${f ? `.${f}` : ''}`)));
  return {
    name,
    display_name: doc.display_name === undefined ? name : str(doc.display_name, at('display_name')),
    description: doc.description === undefined ? '' : str(doc.description, at('description')),
    detect: { ...(env ? { env: env as Record<string, string> } : {}), ...(hostname ? { hostname } : {}) },
    partitions,
    source: file,
    builtin,
  };
}

function parsePartition(p: unknown, at: (field?: string) => string): HpcPartition {
  if (!isObject(p)) throw new InputError('expected a mapping', at());
  const name = str(p.name, at('name'));
  if (!/^[A-Za-z0-9_.+-]+$/.test(name)) throw new InputError(`invalid partition name "${name}"`, at('name'));
  return {
    name,
    cpus_per_node: whole(p.cpus_per_node, at('cpus_per_node'), 1),
    memory_bytes: parseMemory(p.memory as string, at('memory')),
    gpus_per_node: p.gpus_per_node === undefined ? 0 : whole(p.gpus_per_node, at('gpus_per_node'), 0),
    max_walltime_seconds: p.max_walltime === undefined || p.max_walltime === null ? null : parseSlurmWalltime(str(p.max_walltime, at('max_walltime')), at('max_walltime')),
    max_nodes: p.max_nodes === undefined || p.max_nodes === null ? null : whole(p.max_nodes, at('max_nodes'), 1),
    min_nodes: p.min_nodes === undefined ? 1 : whole(p.min_nodes, at('min_nodes'), 1),
    explicit: p.explicit === undefined ? false : bool(p.explicit, at('explicit')),
    ...(typeof p.description === 'string' ? { description: p.description } : {}),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') throw new InputError(`expected a non-empty string, got ${JSON.stringify(v)}`, path);
  return v;
}

function whole(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new InputError(`expected a whole number ≥ ${min}, got ${JSON.stringify(v)}`, path);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new InputError(`expected true or false, got ${JSON.stringify(v)}`, path);
  return v;
}

/**
 * The partitions of the running cluster as a profile (`--detect`): per partition the largest
 * node shape sinfo reports (CPUs, memory, GPUs from gres `gpu[:type]:N`), capped by the
 * partition's limits, with its MaxTime, MaxNodes and MinNodes. Hidden, root-only and down
 * partitions are left out. Partitions over the same nodes differ only by their limits, which
 * are read from:
 * - the partition: MaxCPUsPerNode, MaxMemPerNode, MaxMemPerCPU (× its CPUs), MaxTime, MaxNodes;
 * - its QOS (`QoS=`, from accounting with sacctmgr): MaxTRESPerNode and MaxTRES (per job) cap
 *   cpu, mem and gres/gpu per node (`gres/gpu=0`: a partition that gives no GPUs though its
 *   nodes have some), MaxTRES node= the nodes, MaxWall the walltime. Without accounting the
 *   QOS is not read (its partitions keep their nodes' shape).
 */
export async function detectClusterPartitions(commands: Pick<SlurmCommands, 'partitions' | 'qosLimits'>): Promise<HpcProfile> {
  const { limits, shapes } = await commands.partitions();
  const qosNames = [...new Set(limits.map((l) => l.QoS).filter((q): q is string => q !== undefined && q !== 'N/A' && q !== '' && q !== '(null)'))];
  const qos = qosNames.length > 0 ? ((await commands.qosLimits(qosNames)) ?? new Map<string, QosLimits>()) : new Map<string, QosLimits>();
  const partitions: HpcPartition[] = [];
  for (const l of limits) {
    const name = l.PartitionName!;
    if (l.Hidden === 'YES' || l.RootOnly === 'YES' || (l.State !== undefined && l.State !== 'UP')) continue;
    const own = shapes.filter((s) => s.partition === name);
    if (own.length === 0) continue;
    const q = l.QoS ? qos.get(l.QoS) : undefined;
    const number = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
    const cap = (value: number, ...limits: (number | null)[]) => Math.min(value, ...limits.filter((x): x is number => x !== null));
    const cpus = cap(Math.max(...own.map((s) => s.cpus)), number(l.MaxCPUsPerNode), number(q?.perNode.cpu), number(q?.perJob.cpu));
    const memPerCpu = number(l.MaxMemPerCPU);
    const memoryMb = cap(
      Math.max(...own.map((s) => s.memoryMb)),
      number(l.MaxMemPerNode),
      memPerCpu === null ? null : memPerCpu * cpus,
      slurmMemoryMb(q?.perNode.mem),
      slurmMemoryMb(q?.perJob.mem),
    );
    const gpus = cap(Math.max(...own.map((s) => gpusOf(s.gres))), number(q?.perNode['gres/gpu']), number(q?.perJob['gres/gpu']));
    const partitionTime = l.MaxTime && l.MaxTime !== 'UNLIMITED' ? parseSlurmWalltime(l.MaxTime, `partition ${name} MaxTime`) : null;
    const qosTime = q?.maxWall ? parseSlurmWalltime(q.maxWall, `QOS ${q.name} MaxWall`) : null;
    const maxTime = partitionTime === null ? qosTime : qosTime === null ? partitionTime : Math.min(partitionTime, qosTime);
    const maxNodes = cap(number(l.MaxNodes) ?? own.reduce((n, s) => n + s.nodes, 0), number(q?.perJob.node));
    partitions.push({
      name,
      cpus_per_node: Math.max(1, cpus),
      memory_bytes: memoryMb * 1024 ** 2,
      gpus_per_node: gpus,
      max_walltime_seconds: maxTime,
      max_nodes: maxNodes,
      min_nodes: Math.max(1, number(l.MinNodes) ?? 1),
      explicit: false,
      ...(q ? { description: `QOS ${q.name}` } : {}),
    });
  }
  if (partitions.length === 0) throw new InputError('the cluster reports no usable partition (sinfo / scontrol show partition)', '--detect');
  return { name: 'cluster', display_name: 'this cluster (detected)', description: 'partitions read from sinfo and scontrol (and their QOS from sacctmgr)', detect: {}, partitions, source: 'cluster', builtin: false };
}

/** A Slurm memory amount ("2000M", "4G", "1T", "2000": megabytes) → MB; null when absent or unreadable. */
export function slurmMemoryMb(s: string | undefined): number | null {
  const m = s === undefined ? null : /^(\d+(?:\.\d+)?)([KMGTP]?)$/i.exec(s.trim());
  if (!m) return null;
  const factor = { K: 1 / 1024, '': 1, M: 1, G: 1024, T: 1024 ** 2, P: 1024 ** 3 }[m[2]!.toUpperCase()]!;
  return Math.floor(Number(m[1]) * factor);
}

/** GPUs in a gres string: "gpu:2", "gpu:a100:4(S:0-1)", "gpu:2,nvme:1"; 0 for "(null)". */
export function gpusOf(gres: string): number {
  let n = 0;
  for (const item of gres.split(',')) {
    const m = /^gpu(?::[A-Za-z0-9_.-]+)?:(\d+)/.exec(item.trim());
    if (m) n += Number(m[1]);
  }
  return n;
}
