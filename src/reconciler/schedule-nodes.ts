/**
 * schedule_nodes actions: the reconciler hands each fired one to the handler registered for its
 * scheduler_type. `local` is built in (it starts local workers in the reconcile process);
 * `torc reconcile` registers `slurm` (slurm-schedule-nodes.ts: it submits allocations) with
 * registerScheduleNodesHandler.
 */
import type { ActionRecord, SlurmSchedulerRecord, Store } from '../store/index.js';
import type { RunnerClient } from '../contract/client.js';
import { startLocalWorkers } from '../runners/local/workers.js';

export interface ScheduleNodesRequest {
  workflowId: number;
  action: ActionRecord;
  /** The Slurm scheduler entry the action names, or null. */
  scheduler: SlurmSchedulerRecord | null;
  store: Store;
  /** The in-process client over the store, for workers started in this process. */
  client: RunnerClient;
  /** The reconcile's REST API when it serves one (workers elsewhere connect to it), else null. */
  apiUrl: string | null;
  outputDir: string;
  /** Working directory of jobs. */
  cwd: string;
  /** Registers a clean-up for when the reconcile ends (e.g. stop the workers started). */
  onStop(stop: () => Promise<void>): void;
  log(message: string): void;
}

export interface ScheduleNodesResult {
  /** One line for people (events, logs). */
  message: string;
  details?: unknown;
}

export type ScheduleNodesHandler = (request: ScheduleNodesRequest) => Promise<ScheduleNodesResult>;

/** `local`: `num_allocations` job runners in this process, claiming through the in-process client. */
const scheduleLocalWorkers: ScheduleNodesHandler = async (req) => {
  const count = Math.max(1, req.action.num_allocations);
  startLocalWorkers({
    client: req.client,
    workflowId: req.workflowId,
    count,
    outputDir: req.outputDir,
    cwd: req.cwd,
    apiUrl: req.apiUrl,
    maxParallelJobs: req.action.max_parallel_jobs,
    schedulerConfigId: req.action.scheduler_id,
    onStop: req.onStop,
    onError: (e) => req.log(`local worker of action ${req.action.id} stopped: ${e.message}`),
  });
  return { message: `started ${count} local worker(s)`, details: { workers: count } };
};

const handlers = new Map<string, ScheduleNodesHandler>([['local', scheduleLocalWorkers]]);

/** Registers (or replaces) the handler of a scheduler type; returns a function that restores the previous one. */
export function registerScheduleNodesHandler(schedulerType: string, handler: ScheduleNodesHandler): () => void {
  const previous = handlers.get(schedulerType);
  handlers.set(schedulerType, handler);
  return () => {
    if (previous) handlers.set(schedulerType, previous);
    else handlers.delete(schedulerType);
  };
}

export function scheduleNodesHandler(schedulerType: string): ScheduleNodesHandler | undefined {
  return handlers.get(schedulerType);
}

/** An action's scheduler type: as declared, else slurm when it names a Slurm scheduler, else local. */
export function schedulerTypeOf(action: Pick<ActionRecord, 'scheduler_type' | 'scheduler_id'>): string {
  return action.scheduler_type ?? (action.scheduler_id !== null ? 'slurm' : 'local');
}
