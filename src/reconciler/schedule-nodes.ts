/**
 * schedule_nodes actions: the reconciler hands each fired one to the handler registered for its
 * scheduler_type. `local` is built in (it starts local workers in the reconcile process); the
 * Slurm runner registers `slurm` (it submits allocations) with registerScheduleNodesHandler.
 */
import type { ActionRecord, SlurmSchedulerRecord, Store } from '../store/index.js';
import type { RunnerClient } from '../contract/client.js';
import { scheduleLocalWorkers } from '../runners/local/schedule-nodes.js';

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
