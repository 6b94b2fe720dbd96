/** What `torc plan` shows about a Plan: sizes, resource classes, DAG depth, roots and leaves. */
import type { Plan } from './plan.js';
import { reverseCsr } from './planner.js';
import { formatDuration, formatMemory } from './units.js';

export interface PlanSummary {
  name: string;
  jobs: number;
  dependencies: number;
  files: number;
  user_data: number;
  /** Longest chain of jobs (1 for independent jobs, 0 for none). */
  depth: number;
  roots: number;
  leaves: number;
  /** Up to `sample` names of root and leaf jobs. */
  root_names: string[];
  leaf_names: string[];
  resource_classes: { name: string; num_cpus: number; memory: string; num_gpus: number; num_nodes: number; runtime: string; jobs: number }[];
  schedulers: { name: string; jobs: number }[];
  unbound_jobs: number;
  jobs_sort_method: string;
}

export function summarizePlan(plan: Plan, sample = 10): PlanSummary {
  const n = plan.jobs.length;
  const { dep_offsets: offsets, dep_targets: targets } = plan;
  const dependents = reverseCsr(n, offsets, targets);
  // Longest path by levels (Kahn order): the plan is acyclic, the planner made sure.
  const level = new Uint32Array(n);
  const pending = new Uint32Array(n);
  const queue = new Uint32Array(n);
  let head = 0;
  let tail = 0;
  let depth = n > 0 ? 1 : 0;
  const roots: string[] = [];
  const leaves: string[] = [];
  let rootCount = 0;
  let leafCount = 0;
  for (let j = 0; j < n; j++) {
    pending[j] = offsets[j + 1]! - offsets[j]!;
    if (pending[j] === 0) {
      queue[tail++] = j;
      level[j] = 1;
      rootCount++;
      if (roots.length < sample) roots.push(plan.jobs[j]!.name);
    }
    if (dependents.offsets[j + 1] === dependents.offsets[j]) {
      leafCount++;
      if (leaves.length < sample) leaves.push(plan.jobs[j]!.name);
    }
  }
  while (head < tail) {
    const j = queue[head++]!;
    for (let k = dependents.offsets[j]!; k < dependents.offsets[j + 1]!; k++) {
      const d = dependents.targets[k]!;
      if (level[j]! + 1 > level[d]!) level[d] = level[j]! + 1;
      if (level[d]! > depth) depth = level[d]!;
      if (--pending[d]! === 0) queue[tail++] = d;
    }
  }
  const perClass = new Array<number>(plan.resource_classes.length).fill(0);
  const perScheduler = new Array<number>(plan.slurm_schedulers.length).fill(0);
  let unbound = 0;
  for (const job of plan.jobs) {
    perClass[job.resource_class]!++;
    if (job.scheduler === null) unbound++;
    else perScheduler[job.scheduler]!++;
  }
  return {
    name: plan.name,
    jobs: n,
    dependencies: targets.length,
    files: plan.files.length,
    user_data: plan.user_data.length,
    depth,
    roots: rootCount,
    leaves: leafCount,
    root_names: roots,
    leaf_names: leaves,
    resource_classes: plan.resource_classes.map((r, i) => ({
      name: r.name, num_cpus: r.num_cpus, memory: formatMemory(r.memory_bytes), num_gpus: r.num_gpus,
      num_nodes: r.num_nodes, runtime: formatDuration(r.runtime_seconds), jobs: perClass[i]!,
    })),
    schedulers: plan.slurm_schedulers.map((s, i) => ({ name: s.name, jobs: perScheduler[i]! })),
    unbound_jobs: unbound,
    jobs_sort_method: plan.settings.jobs_sort_method,
  };
}
