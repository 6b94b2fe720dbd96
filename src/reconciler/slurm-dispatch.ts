/**
 * The reconciler's Slurm dispatch as one call per reconcile pass (`torc reconcile --runner
 * slurm`, schedule_nodes actions): read the workflow's schedulers and ready jobs from the store,
 * keep a bounded number of allocations queued or running for each scheduler with servable work,
 * notice allocations that ended and requeue their jobs. Idempotent, like every pass.
 */
import type { Store } from '../store/index.js';
import { SlurmAllocationStore } from '../store/slurm-allocations.js';
import { SlurmCommands } from '../runners/slurm/commands.js';
import type { ReadyClassCount } from '../allocator/types.js';
import { cancelAllocations, dispatchSlurm, servableReadyCounts, type DispatchOutcome, type DispatchPolicy, type SchedulerEntry, type WorkerLaunchDefaults } from '../runners/slurm/scheduler.js';

export interface SlurmDispatcherOptions {
  store: Store;
  workflowId: number;
  policy: DispatchPolicy;
  /** What each allocation runs: the API URL the workers reach, output dir, torc command, … */
  launch: WorkerLaunchDefaults;
  commands?: SlurmCommands;
  /** Lines for a person: submitted, ended, requeued. */
  onNotice?: (message: string) => void;
}

export class SlurmDispatcher {
  readonly registry: SlurmAllocationStore;
  private readonly commands: SlurmCommands;

  constructor(private readonly o: SlurmDispatcherOptions) {
    this.registry = new SlurmAllocationStore(o.store);
    this.commands = o.commands ?? new SlurmCommands();
  }

  /** One dispatch step. Submits nothing for a canceled or complete workflow (it only observes). */
  async pass(): Promise<DispatchOutcome> {
    const { store, workflowId } = this.o;
    const [workflow, progress, records, classes] = await Promise.all([
      store.getWorkflow(workflowId),
      store.getStatus(workflowId),
      store.listSlurmSchedulers(workflowId),
      this.registry.readyClassCounts(workflowId),
    ]);
    const schedulers: SchedulerEntry[] = records.map((r) => ({ id: r.id, scheduler: r }));
    const idle = progress.is_canceled || progress.is_complete;
    const ready = idle ? new Map<number, number>() : servableReadyCounts(classes, schedulers, workflow.settings.compute_node_expiration_buffer_seconds);
    const outcome = await dispatchSlurm(this.registry, this.commands, {
      workflowId,
      schedulers,
      ready,
      policy: this.o.policy,
      launch: this.o.launch,
      workerPerNode: (s) => workerPerNode(s, classes),
    });
    for (const e of outcome.ended) {
      this.o.onNotice?.(
        `Slurm allocation ${e.allocation.slurm_job_id} ended (${e.state})${e.requeued_jobs ? `; ${e.requeued_jobs} of its job(s) back to ready` : ''}`,
      );
    }
    for (const l of outcome.lostNodes) {
      this.o.onNotice?.(
        `Slurm allocation ${l.allocation.slurm_job_id} lost node(s) ${l.nodes.join(', ')}; ${l.requeued_jobs} of its job(s) back to ready, its other nodes carry on`,
      );
    }
    if (outcome.submitted.length > 0) {
      this.o.onNotice?.(`submitted Slurm allocation(s) ${outcome.submitted.map((a) => a.slurm_job_id).join(', ')}`);
    }
    return outcome;
  }

  /** Cancels the workflow's open allocations (the reconcile stops early, or the workflow was canceled). */
  cancelAll(): Promise<number> {
    return cancelAllocations(this.registry, this.commands, this.o.workflowId);
  }
}

/**
 * How an allocation of `nodes: N > 1` serves its jobs: one worker per node (each packs jobs on
 * its own node; a failed node loses only its worker) unless a ready job it may serve needs
 * several nodes, which only one worker offering all N nodes can give.
 */
export function workerPerNode(s: SchedulerEntry, classes: readonly ReadyClassCount[]): boolean {
  if (s.scheduler.nodes <= 1) return false;
  return !classes.some((c) => c.num_nodes > 1 && c.num_nodes <= s.scheduler.nodes && (c.scheduler_id === null || c.scheduler_id === s.id));
}
