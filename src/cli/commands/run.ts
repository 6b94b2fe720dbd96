/**
 * `torc run WF`: a job runner on this machine for a workflow served elsewhere (`torc server`,
 * or a `torc reconcile` that serves its API). Resource-aware by default; `--max-parallel-jobs`
 * for queue depth. Exits 0 when the workflow is complete (or after --wait-for-new-jobs idle);
 * 1 after an error, or when the server stayed away longer than --wait-for-server (the message
 * lists what the server never learned).
 */
import type { Command } from 'commander';
import { JobRunner } from '../../runners/local/job-runner.js';
import { stopOnSignals } from '../../runners/local/signals.js';
import {
  addRunnerOptions, clientFromFlags, logRunnerEvent, parseWorkflowId, resolveWaitForServer, runnerOptionsFromFlags, type RunnerFlags,
} from '../runner-flags.js';

export function register(program: Command): void {
  addRunnerOptions(
    program
      .command('run')
      .description('Run jobs of workflow WF on this machine, claiming them from a torc server')
      .argument('<WF>', 'workflow id'),
  ).action(async (wf: string, flags: RunnerFlags) => {
    const workflowId = parseWorkflowId(wf);
    const options = runnerOptionsFromFlags(flags);
    const { client, url } = await clientFromFlags(flags);
    const waitForServerSeconds = await resolveWaitForServer(flags, client, workflowId);
    const runner = new JobRunner({
      ...options,
      waitForServerSeconds,
      client,
      workflowId,
      apiUrl: url,
      computeNodeType: 'local',
      onEvent: (e) => logRunnerEvent(e, flags.quiet),
    });
    const release = stopOnSignals(runner);
    try {
      const summary = await runner.run();
      process.exitCode = summary.reason === 'error' || summary.reason === 'server_unreachable' ? 1 : 0;
    } finally {
      release();
    }
  });
}
