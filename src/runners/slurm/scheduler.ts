/**
 * Slurm allocations of a workflow: submitting them (`torc slurm schedule-nodes`, schedule_nodes
 * actions, the reconciler's Slurm dispatch) and keeping track of them (which are queued or
 * running, which ended and left orphaned jobs behind).
 *
 * The record keeping sits behind AllocationRegistry (src/contract/slurm-allocations.ts) so the
 * store (src/store/slurm-allocations.ts) implements it in SQLite and tests can see exactly what
 * was recorded.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { servableCounts } from '../../allocator/servable.js';
import type { ReadyClassCount } from '../../allocator/types.js';
import { InputError } from '../../errors.js';
import type { PlanSlurmScheduler } from '../../spec/plan.js';
import { parseSlurmWalltime } from '../../spec/units.js';
import { isEndedState, type SlurmCommands } from './commands.js';
import { renderSbatchScript, type WorkerLaunch } from './sbatch.js';
import { expandNodeList } from './allocation.js';
import type { AllocationRecord, AllocationRegistry } from '../../contract/slurm-allocations.js';


export interface SchedulerEntry {
  /** Its id in the store (`--scheduler-config-id`). */
  id: number;
  scheduler: PlanSlurmScheduler;
}

/** The worker each allocation runs (URL, output dir, torc command, …), the same for every scheduler. */
export type WorkerLaunchDefaults = Omit<WorkerLaunch, 'workflowId' | 'schedulerConfigId'>;

/** `count` allocations of one scheduler (torc's schedule-nodes). */
export interface AllocationRequest {
  workflowId: number;
  scheduler: SchedulerEntry;
  /** How many allocations to submit (`--num-hpc-jobs`). */
  count: number;
  launch: WorkerLaunchDefaults;
}

export interface SubmittedAllocations {
  scriptPath: string;
  allocations: AllocationRecord[];
}

/** Thrown when some submissions failed; the ones that succeeded are recorded and listed. */
export class PartialSubmissionError extends Error {
  constructor(
    readonly submitted: AllocationRecord[],
    override readonly cause: unknown,
  ) {
    super(`submitted ${submitted.length} allocation(s), then sbatch failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'PartialSubmissionError';
  }
}

/**
 * Renders the scheduler's sbatch script into the output dir and submits it `count` times,
 * recording each allocation as it is accepted (so a failure half-way loses none).
 */
export async function scheduleNodes(
  registry: Pick<AllocationRegistry, 'recordAllocation'>,
  commands: SlurmCommands,
  req: AllocationRequest,
): Promise<SubmittedAllocations> {
  if (!Number.isSafeInteger(req.count) || req.count < 1) {
    throw new InputError(`expected a whole number ≥ 1, got ${req.count}`, '--num-hpc-jobs');
  }
  const script = renderSbatchScript({
    ...req.launch,
    // Jobs start where the submitter works (torc reconcile's directory), as local jobs do.
    workingDir: req.launch.workingDir ?? process.cwd(),
    workflowId: req.workflowId,
    schedulerConfigId: req.scheduler.id,
    scheduler: req.scheduler.scheduler,
  });
  await mkdir(req.launch.outputDir, { recursive: true });
  const scriptPath = path.join(req.launch.outputDir, `sbatch_wf${req.workflowId}_sched${req.scheduler.id}.sh`);
  await writeFile(scriptPath, script, { mode: 0o755 });
  const allocations: AllocationRecord[] = [];
  for (let i = 0; i < req.count; i++) {
    let slurmJobId: string;
    try {
      slurmJobId = await commands.submit(scriptPath, { cwd: req.launch.outputDir });
    } catch (err) {
      if (allocations.length === 0) throw err;
      throw new PartialSubmissionError(allocations, err);
    }
    allocations.push(
      await registry.recordAllocation({
        workflow_id: req.workflowId,
        scheduler_config_id: req.scheduler.id,
        slurm_job_id: slurmJobId,
        state: 'SUBMITTED',
      }),
    );
  }
  return { scriptPath, allocations };
}

/**
 * Ready jobs each scheduler can serve, as the allocator counts them (servableCounts): an
 * allocation of a scheduler runs jobs up to its walltime less the expiration buffer, on up to
 * its node count.
 */
export function servableReadyCounts(classes: readonly ReadyClassCount[], schedulers: readonly SchedulerEntry[], bufferSeconds: number): Map<number, number> {
  return servableCounts(
    classes,
    schedulers.map((s) => ({
      scheduler_config_id: s.id,
      time_limit_seconds: parseSlurmWalltime(s.scheduler.walltime) - bufferSeconds,
      num_nodes: s.scheduler.nodes,
    })),
  );
}

export interface DispatchPolicy {
  /** Most allocations of one scheduler queued or running at once. */
  maxAllocationsPerScheduler: number;
  /** Ready jobs one allocation is expected to take (default 1: one allocation per ready job, up to the bound). */
  jobsPerAllocation?: number;
}

export interface DispatchOutcome {
  /** Allocations found ended in this step, with their final state. */
  ended: { allocation: AllocationRecord; state: string; requeued_jobs: number }[];
  /** Allocations that run on without some of their nodes (node failure, --no-kill): the nodes lost and the jobs requeued. */
  lostNodes: { allocation: AllocationRecord; nodes: string[]; requeued_jobs: number }[];
  submitted: AllocationRecord[];
  /** Allocations still queued or running after the step, per scheduler id. */
  open: Map<number, number>;
}

/**
 * Observes the workflow's allocations through squeue, records their states, retires the ones
 * that ended (their orphaned jobs go back to ready; torc's lease expiry would do it later
 * anyway), and returns per scheduler how many open allocations it has.
 */
export async function refreshAllocations(
  registry: AllocationRegistry,
  commands: SlurmCommands,
  workflowId: number,
): Promise<{ ended: DispatchOutcome['ended']; lostNodes: DispatchOutcome['lostNodes']; open: AllocationRecord[] }> {
  const open = await registry.listOpenAllocations(workflowId);
  const seen = await commands.queue(open.map((a) => a.slurm_job_id));
  const ended: DispatchOutcome['ended'] = [];
  const lostNodes: DispatchOutcome['lostNodes'] = [];
  const stillOpen: AllocationRecord[] = [];
  for (const a of open) {
    const entry = seen.get(a.slurm_job_id);
    // Absent from `squeue -t all`: Slurm forgot the job (past MinJobAge), so it ended long ago.
    const state = entry?.state ?? (await commands.showJob(a.slurm_job_id))?.state ?? 'GONE';
    if (state === 'GONE' || isEndedState(state)) {
      await registry.updateAllocationState(a.id, state, true);
      const requeued = await registry.requeueAllocationJobs(workflowId, a.slurm_job_id);
      ended.push({ allocation: { ...a, state, ended: true }, state, requeued_jobs: requeued });
    } else {
      if (state !== a.state) await registry.updateAllocationState(a.id, state, false);
      // A node failed under an allocation that runs on (--no-kill): Slurm took the node out of
      // its node list. The workers that registered there are gone with it; their jobs go back
      // to ready now instead of when their lease runs out. (Pending: it holds no nodes yet.)
      if (state === 'RUNNING' && entry?.nodeList) {
        const lost = await registry.requeueLostNodeJobs(workflowId, a.slurm_job_id, expandNodeList(entry.nodeList));
        if (lost.hosts.length > 0) lostNodes.push({ allocation: { ...a, state }, nodes: lost.hosts, requeued_jobs: lost.requeued });
      }
      stillOpen.push({ ...a, state });
    }
  }
  return { ended, lostNodes, open: stillOpen };
}

/**
 * One step of the reconciler's Slurm dispatch: refresh the allocations, then for each scheduler
 * with ready jobs it can serve keep min(bound, ⌈ready / jobsPerAllocation⌉) allocations queued
 * or running, submitting the difference.
 */
export async function dispatchSlurm(
  registry: AllocationRegistry,
  commands: SlurmCommands,
  req: {
    workflowId: number;
    schedulers: readonly SchedulerEntry[];
    /** Ready jobs per scheduler id (see servableReadyCounts). */
    ready: ReadonlyMap<number, number>;
    policy: DispatchPolicy;
    launch: WorkerLaunchDefaults;
    /** Schedulers whose allocations run one worker per node (default: as launch.startOneWorkerPerNode says). */
    workerPerNode?: (scheduler: SchedulerEntry) => boolean;
  },
): Promise<DispatchOutcome> {
  const { ended, lostNodes, open } = await refreshAllocations(registry, commands, req.workflowId);
  const openBy = new Map<number, number>(req.schedulers.map((s) => [s.id, 0]));
  for (const a of open) openBy.set(a.scheduler_config_id, (openBy.get(a.scheduler_config_id) ?? 0) + 1);
  const submitted: AllocationRecord[] = [];
  const perAlloc = Math.max(1, req.policy.jobsPerAllocation ?? 1);
  for (const s of req.schedulers) {
    const ready = req.ready.get(s.id) ?? 0;
    const want = Math.min(req.policy.maxAllocationsPerScheduler, Math.ceil(ready / perAlloc));
    const missing = want - (openBy.get(s.id) ?? 0);
    if (missing <= 0) continue;
    const launch = req.workerPerNode ? { ...req.launch, startOneWorkerPerNode: req.workerPerNode(s) } : req.launch;
    const result = await scheduleNodes(registry, commands, { workflowId: req.workflowId, scheduler: s, count: missing, launch });
    submitted.push(...result.allocations);
    openBy.set(s.id, (openBy.get(s.id) ?? 0) + result.allocations.length);
  }
  return { ended, lostNodes, submitted, open: openBy };
}

/** Cancels every open allocation of the workflow (workflow canceled or finished early). */
export async function cancelAllocations(registry: AllocationRegistry, commands: SlurmCommands, workflowId: number): Promise<number> {
  const open = await registry.listOpenAllocations(workflowId);
  for (const a of open) await commands.cancel(a.slurm_job_id);
  return open.length;
}
