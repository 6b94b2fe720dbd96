/**
 * The `local` schedule_nodes handler: starts `num_allocations` local workers (job runners) in
 * the reconcile process, claiming through the in-process client. A worker runs until the
 * workflow is complete (or the reconcile ends); with `max_parallel_jobs` it uses queue depth,
 * else it offers this machine's detected resources (on top of the reconcile's own runner).
 */
import type { ScheduleNodesHandler } from '../../reconciler/schedule-nodes.js';
import { JobRunner } from './job-runner.js';

export const scheduleLocalWorkers: ScheduleNodesHandler = async (req) => {
  const count = Math.max(1, req.action.num_allocations);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const runner = new JobRunner({
      client: req.client,
      workflowId: req.workflowId,
      outputDir: req.outputDir,
      cwd: req.cwd,
      apiUrl: req.apiUrl,
      maxParallelJobs: req.action.max_parallel_jobs,
      schedulerConfigId: req.action.scheduler_id,
      anyScheduler: req.action.scheduler_id === null,
      computeNodeType: 'local',
      waitForNewJobsSeconds: null,
      pollIntervalSeconds: 1,
      onEvent: (e) => {
        if (e.type === 'registered') ids.push(e.compute_node_id);
      },
    });
    const done = runner.run().catch((e: unknown) => {
      req.log(`local worker of action ${req.action.id} stopped: ${(e as Error).message}`);
      return undefined;
    });
    req.onStop(async () => {
      await runner.stop();
      await done;
    });
  }
  return { message: `started ${count} local worker(s)`, details: { workers: count } };
};
