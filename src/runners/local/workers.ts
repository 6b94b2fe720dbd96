/**
 * Local workers: job runners started inside this process (schedule_nodes actions with
 * scheduler_type `local`), each claiming through the given client until the workflow is
 * complete or it is stopped. With `maxParallelJobs` a worker uses queue depth, else it offers
 * this machine's detected resources (on top of the reconcile's own runner).
 */
import type { RunnerClient } from '../../contract/client.js';
import { JobRunner } from './job-runner.js';

export interface LocalWorkersRequest {
  client: RunnerClient;
  workflowId: number;
  count: number;
  outputDir: string;
  /** Working directory of jobs. */
  cwd: string;
  /** TORC_API_URL given to jobs, when a REST API serves the workflow. */
  apiUrl: string | null;
  maxParallelJobs: number | null;
  /** The scheduler the workers serve; null: jobs of every scheduler. */
  schedulerConfigId: number | null;
  /** Called once per worker with the function that stops it (and waits for it). */
  onStop(stop: () => Promise<void>): void;
  /** A worker that ended with an error says why here. */
  onError(error: Error): void;
}

export function startLocalWorkers(req: LocalWorkersRequest): void {
  for (let i = 0; i < req.count; i++) {
    const runner = new JobRunner({
      client: req.client,
      workflowId: req.workflowId,
      outputDir: req.outputDir,
      cwd: req.cwd,
      apiUrl: req.apiUrl,
      maxParallelJobs: req.maxParallelJobs,
      schedulerConfigId: req.schedulerConfigId,
      anyScheduler: req.schedulerConfigId === null,
      computeNodeType: 'local',
      waitForNewJobsSeconds: null,
      pollIntervalSeconds: 1,
    });
    const done = runner.run().catch((e: unknown) => {
      req.onError(e as Error);
      return undefined;
    });
    req.onStop(async () => {
      await runner.stop();
      await done;
    });
  }
}
