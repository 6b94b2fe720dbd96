/**
 * schedule_nodes actions with scheduler_type `slurm`: submit the action's allocations for its
 * scheduler, each running a `torc worker` that claims over the reconcile's REST API.
 * Registered by `torc reconcile` (see registerSlurmScheduleNodes) through the same
 * scheduleNodes code as `torc slurm schedule-nodes` and the reconciler's Slurm dispatch.
 */
import { InputError } from '../errors.js';
import { SlurmAllocationStore } from '../store/slurm-allocations.js';
import { registerScheduleNodesHandler, type ScheduleNodesHandler } from './schedule-nodes.js';
import { SlurmCommands } from '../runners/slurm/commands.js';
import { scheduleNodes, type WorkerLaunchDefaults } from '../runners/slurm/scheduler.js';

export interface SlurmActionDefaults {
  /** argv that starts torc on a compute node. */
  torcCommand: string[];
  tokenFile?: string | null;
  commands?: SlurmCommands;
}

export function slurmScheduleNodesHandler(defaults: SlurmActionDefaults): ScheduleNodesHandler {
  return async (req) => {
    if (!req.scheduler) throw new InputError(`action ${req.action.id} has no Slurm scheduler to submit to`, 'actions.scheduler');
    if (!req.apiUrl) {
      throw new InputError('schedule_nodes on Slurm needs the REST API for its workers; do not pass --no-server', '--no-server');
    }
    const launch: WorkerLaunchDefaults = {
      url: req.apiUrl,
      outputDir: req.outputDir,
      workingDir: req.cwd,
      torcCommand: defaults.torcCommand,
      maxParallelJobs: req.action.max_parallel_jobs,
      startOneWorkerPerNode: req.action.start_one_worker_per_node,
      tokenFile: defaults.tokenFile ?? null,
    };
    const result = await scheduleNodes(new SlurmAllocationStore(req.store), defaults.commands ?? new SlurmCommands(), {
      workflowId: req.workflowId,
      scheduler: { id: req.scheduler.id, scheduler: req.scheduler },
      count: Math.max(1, req.action.num_allocations),
      launch,
    });
    const ids = result.allocations.map((a) => a.slurm_job_id);
    return { message: `submitted Slurm allocation(s) ${ids.join(', ')}`, details: { slurm_job_ids: ids, script: result.scriptPath } };
  };
}

export function registerSlurmScheduleNodes(defaults: SlurmActionDefaults): () => void {
  return registerScheduleNodesHandler('slurm', slurmScheduleNodesHandler(defaults));
}
