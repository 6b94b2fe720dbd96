/**
 * Right-sizing (beyond torc): from what the jobs of a resource class measurably used, what the
 * class should ask for, and which classes ask for far more than they use. Pure: the reports
 * command feeds it the completed jobs' peaks per class.
 *
 * A suggestion takes a high percentile of the jobs' peaks (p95 by default: one outlier does not
 * size the whole class, yet nearly every job fits) and adds headroom, then rounds up to values a
 * person would write: memory to 64 MiB under 4 GiB and 256 MiB above, CPUs to whole cores,
 * runtime to whole minutes.
 */
import { GIB, MIB } from './fit.js';

export interface ClassRequest {
  num_cpus: number;
  memory_bytes: number;
  runtime_seconds: number;
}

/** What the completed jobs of one class used, one entry per job (its latest completed attempt). */
export interface ClassUsage {
  name: string;
  requested: ClassRequest;
  peak_memory_bytes: number[];
  peak_cpu_percent: number[];
  exec_seconds: number[];
}

export interface SizingPolicy {
  percentile: number;
  memory_headroom: number;
  cpu_headroom: number;
  runtime_headroom: number;
  /** Under this share of the request a class counts as under-using it. */
  under_use_share: number;
}

export const DEFAULT_SIZING: Readonly<SizingPolicy> = Object.freeze({
  percentile: 0.95,
  memory_headroom: 1.2,
  cpu_headroom: 1.1,
  runtime_headroom: 1.3,
  under_use_share: 0.5,
});

export interface Suggestion extends ClassRequest {
  name: string;
  jobs: number;
  /** The percentile values the suggestion was made from (null where nothing was measured). */
  basis: { peak_memory_bytes: number | null; peak_cpu_percent: number | null; exec_seconds: number | null };
  /** Which fields differ from the request. */
  changed: ('num_cpus' | 'memory' | 'runtime')[];
}

/** The p-th percentile (nearest rank) of the values, or null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const rank = Math.min(xs.length, Math.max(1, Math.ceil(p * xs.length)));
  return xs[rank - 1]!;
}

/** Memory rounded up to what a person would write: 64 MiB steps under 4 GiB, 256 MiB above; at least 64 MiB. */
export function roundMemoryUp(bytes: number): number {
  const step = bytes < 4 * GIB ? 64 * MIB : 256 * MIB;
  return Math.max(64 * MIB, Math.ceil(bytes / step) * step);
}

export function suggestRequirements(usage: ClassUsage, policy: SizingPolicy = DEFAULT_SIZING): Suggestion | null {
  const jobs = Math.max(usage.peak_memory_bytes.length, usage.peak_cpu_percent.length, usage.exec_seconds.length);
  if (jobs === 0) return null;
  const mem = percentile(usage.peak_memory_bytes, policy.percentile);
  const cpu = percentile(usage.peak_cpu_percent, policy.percentile);
  const secs = percentile(usage.exec_seconds, policy.percentile);
  const r = usage.requested;
  const memory_bytes = mem === null ? r.memory_bytes : roundMemoryUp(mem * policy.memory_headroom);
  // A job needs at least one core; CPU percent is of one core (200% = two busy cores).
  const num_cpus = cpu === null ? r.num_cpus : Math.max(1, Math.ceil(((cpu / 100) * policy.cpu_headroom) - 1e-9));
  const runtime_seconds = secs === null ? r.runtime_seconds : Math.max(60, Math.ceil((secs * policy.runtime_headroom) / 60) * 60);
  const changed: Suggestion['changed'] = [];
  if (num_cpus !== r.num_cpus) changed.push('num_cpus');
  if (memory_bytes !== r.memory_bytes) changed.push('memory');
  if (runtime_seconds !== r.runtime_seconds) changed.push('runtime');
  return { name: usage.name, jobs, num_cpus, memory_bytes, runtime_seconds, basis: { peak_memory_bytes: mem, peak_cpu_percent: cpu, exec_seconds: secs }, changed };
}

export type UsedResource = 'Memory' | 'CPU' | 'Runtime';

export interface UnderUse {
  name: string;
  resource_type: UsedResource;
  jobs: number;
  /** The class's request (bytes, CPU percent of its cores, seconds). */
  specified: number;
  /** The percentile of what its jobs used, same unit. */
  used: number;
  /** used / specified. */
  share: number;
}

/** The resources a class asks for at least twice of (by default) at the policy's percentile. */
export function underUse(usage: ClassUsage, policy: SizingPolicy = DEFAULT_SIZING): UnderUse[] {
  const out: UnderUse[] = [];
  const check = (resource_type: UsedResource, values: number[], specified: number) => {
    const used = percentile(values, policy.percentile);
    if (used === null || !(specified > 0)) return;
    const share = used / specified;
    if (share < policy.under_use_share) out.push({ name: usage.name, resource_type, jobs: values.length, specified, used, share });
  };
  check('Memory', usage.peak_memory_bytes, usage.requested.memory_bytes);
  check('CPU', usage.peak_cpu_percent, usage.requested.num_cpus * 100);
  check('Runtime', usage.exec_seconds, usage.requested.runtime_seconds);
  return out;
}
