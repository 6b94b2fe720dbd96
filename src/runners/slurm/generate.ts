/**
 * `torc slurm generate`: slurm_schedulers and job bindings from the jobs' resource classes and
 * a profile's partitions. For each class of unbound jobs:
 * - the partitions that fit one job (CPUs, memory, GPUs per node; its nodes; its runtime plus
 *   the expiration buffer within the walltime limit), explicit-only partitions left out;
 * - of those the smallest: for a class without GPUs a partition without GPUs first, for a GPU
 *   class the fewest GPUs per node; then the least memory, CPUs and walltime;
 * - one node (k whole nodes for num_nodes: k) with as many of the class's jobs packed on it as
 *   its CPUs, memory and GPUs allow (asked as ntasks_per_node, mem and gres);
 * - walltime: enough for one node to run the class's jobs wave after wave, within the
 *   partition's limit (more allocations of the scheduler run waves side by side).
 */
import { InputError } from '../../errors.js';
import type { Plan, PlanSlurmScheduler, ResourceNeed } from '../../spec/plan.js';
import type { SlurmSchedulerSpec, WorkflowSpec } from '../../spec/generated/workflow.js';
import { formatSlurmWalltime } from '../../spec/units.js';
import type { HpcPartition } from './profiles.js';

/** The unbound jobs of one resource class. */
export interface ClassDemand {
  name: string;
  need: ResourceNeed;
  jobs: number;
}

export interface GeneratedScheduler {
  scheduler: PlanSlurmScheduler;
  /** The resource class it serves. */
  class_name: string;
  jobs: number;
  jobs_per_node: number;
}

export interface GenerateOptions {
  account?: string | null;
  /** compute_node_expiration_buffer_seconds: a worker claims a job only with its runtime plus this left. */
  bufferSeconds?: number;
  /** Name prefix of the generated schedulers. */
  prefix?: string;
}

const MIB = 1024 ** 2;
/** Walltime added for the allocation's start-up (node, worker start, registration). */
export const START_SLACK_SECONDS = 300;

export function generateSchedulers(demands: readonly ClassDemand[], partitions: readonly HpcPartition[], opts: GenerateOptions = {}): GeneratedScheduler[] {
  const buffer = Math.max(0, opts.bufferSeconds ?? 0);
  const out: GeneratedScheduler[] = [];
  for (const d of demands) {
    if (d.jobs <= 0) continue;
    const fitting = partitions.filter((p) => !p.explicit && fits(d.need, p, buffer));
    if (fitting.length === 0) {
      throw new InputError(
        `no partition fits ${describe(d.need)} (partitions: ${partitions.map((p) => `${p.name}${p.explicit ? ' (explicit only)' : ''}: ${p.cpus_per_node} CPUs, ${Math.floor(p.memory_bytes / MIB)}M, ${p.gpus_per_node} GPUs, ${p.max_walltime_seconds === null ? 'no limit' : formatSlurmWalltime(p.max_walltime_seconds)}`).join('; ')})`,
        `resource_requirements[${JSON.stringify(d.name)}]`,
      );
    }
    const p = [...fitting].sort((a, b) => compare(d.need, a, b))[0]!;
    const perNode = d.need.num_nodes > 1 ? 1 : jobsPerNode(d.need, p);
    const waves = Math.ceil(d.jobs / perNode);
    // START_SLACK: the worker starts a little after the allocation does; without it the last
    // wave's runtime + buffer would no longer fit the time left, and the job is never claimed.
    const wanted = Math.max(d.need.runtime_seconds, 60) * waves + buffer + START_SLACK_SECONDS;
    const limit = p.max_walltime_seconds ?? Number.POSITIVE_INFINITY;
    // Whole minutes, within the limit (which fits at least one wave: see fits).
    const walltime = Math.min(limit, Math.ceil(wanted / 60) * 60);
    // Ask for what the jobs packed on the node need, not more (fewer jobs than fit: less).
    const packed = Math.min(perNode, d.jobs);
    const cpus = Math.min(p.cpus_per_node, Math.max(1, Math.ceil(d.need.num_cpus)) * packed);
    const memMb = Math.min(Math.floor(p.memory_bytes / MIB), Math.max(1, Math.ceil((d.need.memory_bytes * packed) / MIB)));
    const gpus = d.need.num_gpus * packed;
    out.push({
      class_name: d.name,
      jobs: d.jobs,
      jobs_per_node: perNode,
      scheduler: {
        name: `${opts.prefix ?? 'gen'}_${d.name}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
        account: opts.account ?? null,
        partition: p.name,
        nodes: Math.max(d.need.num_nodes, p.min_nodes),
        walltime: formatSlurmWalltime(walltime),
        mem: `${memMb}M`,
        gres: gpus > 0 ? `gpu:${gpus}` : null,
        qos: null,
        ntasks_per_node: cpus,
        tmp: null,
        extra: null,
      },
    });
  }
  return out;
}

function fits(need: ResourceNeed, p: HpcPartition, buffer: number): boolean {
  return (
    need.num_cpus <= p.cpus_per_node &&
    need.memory_bytes <= p.memory_bytes &&
    need.num_gpus <= p.gpus_per_node &&
    (p.max_nodes === null || Math.max(need.num_nodes, p.min_nodes) <= p.max_nodes) &&
    (p.max_walltime_seconds === null || need.runtime_seconds + buffer <= p.max_walltime_seconds)
  );
}

/** Smallest first: no GPUs for a GPU-less class (fewest GPUs otherwise), then memory, CPUs, walltime, name. */
function compare(need: ResourceNeed, a: HpcPartition, b: HpcPartition): number {
  if (need.num_gpus === 0 && (a.gpus_per_node === 0) !== (b.gpus_per_node === 0)) return a.gpus_per_node === 0 ? -1 : 1;
  const wall = (p: HpcPartition) => p.max_walltime_seconds ?? Number.POSITIVE_INFINITY;
  return (
    a.gpus_per_node - b.gpus_per_node ||
    a.memory_bytes - b.memory_bytes ||
    a.cpus_per_node - b.cpus_per_node ||
    wall(a) - wall(b) ||
    a.name.localeCompare(b.name)
  );
}

function jobsPerNode(need: ResourceNeed, p: HpcPartition): number {
  const limits = [need.num_cpus > 0 ? Math.floor(p.cpus_per_node / need.num_cpus) : Number.POSITIVE_INFINITY];
  if (need.memory_bytes > 0) limits.push(Math.floor(p.memory_bytes / need.memory_bytes));
  if (need.num_gpus > 0) limits.push(Math.floor(p.gpus_per_node / need.num_gpus));
  const n = Math.min(...limits);
  return Number.isFinite(n) ? Math.max(1, n) : 1;
}

function describe(n: ResourceNeed): string {
  return `${n.num_cpus} CPU(s), ${Math.ceil(n.memory_bytes / MIB)}M, ${n.num_gpus} GPU(s), ${n.num_nodes} node(s) for ${formatSlurmWalltime(n.runtime_seconds)}`;
}

/** The plan's jobs bound to no scheduler, per resource class. */
export function unboundDemands(plan: Plan): ClassDemand[] {
  const counts = new Map<number, number>();
  for (const j of plan.jobs) if (j.scheduler === null) counts.set(j.resource_class, (counts.get(j.resource_class) ?? 0) + 1);
  return [...counts].map(([i, jobs]) => {
    const { name, ...need } = plan.resource_classes[i]!;
    return { name, need, jobs };
  });
}

/** The plan with the generated schedulers added and its unbound jobs bound to their class's one. */
export function withGeneratedSchedulers(plan: Plan, generated: readonly GeneratedScheduler[]): Plan {
  const taken = new Set(plan.slurm_schedulers.map((s) => s.name));
  const schedulers = [...plan.slurm_schedulers];
  const byClass = new Map<string, number>();
  for (const g of generated) {
    let name = g.scheduler.name;
    for (let i = 2; taken.has(name); i++) name = `${g.scheduler.name}_${i}`;
    taken.add(name);
    byClass.set(g.class_name, schedulers.push({ ...g.scheduler, name }) - 1);
  }
  const jobs = plan.jobs.map((j) => (j.scheduler === null ? { ...j, scheduler: byClass.get(plan.resource_classes[j.resource_class]!.name) ?? null } : j));
  return { ...plan, slurm_schedulers: schedulers, jobs };
}

/**
 * The spec document with the generated schedulers written in (their names as in
 * withGeneratedSchedulers) and each job template that names no scheduler bound to its class's
 * one: what `torc slurm generate -o OUT` writes, to be read, edited and reconciled.
 */
export function specWithSchedulers(spec: WorkflowSpec, plan: Plan, generated: readonly GeneratedScheduler[]): WorkflowSpec {
  const withGen = withGeneratedSchedulers(plan, generated);
  const added = withGen.slurm_schedulers.slice(plan.slurm_schedulers.length);
  const byClass = new Map(generated.map((g, i) => [g.class_name, added[i]!.name]));
  const schedulers = added.map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== null)) as unknown as SlurmSchedulerSpec);
  return {
    ...spec,
    slurm_schedulers: [...(spec.slurm_schedulers ?? []), ...schedulers],
    jobs: (spec.jobs ?? []).map((j) => {
      if (j.scheduler || j.slurm_scheduler) return j;
      const name = byClass.get(j.resource_requirements ?? 'default');
      return name ? { ...j, scheduler: name } : j;
    }),
  };
}
