/**
 * A worker process for the signal test: runs the job runner on an in-memory client with jobs
 * that never finish on their own, stops on SIGTERM, and prints what the client saw as JSON.
 * Usage: node --import tsx test/support/signal-worker.ts OUTPUT_DIR N_JOBS
 */
import { JobRunner } from '../../src/runners/local/job-runner.js';
import { detectResources } from '../../src/runners/local/resources.js';
import { stopOnSignals } from '../../src/runners/local/signals.js';
import { MemoryRunnerClient } from './memory-client.js';

const [dir, n] = process.argv.slice(2);
const client = new MemoryRunnerClient();
client.addJobs(
  Array.from({ length: Number(n) }, (_, i) => ({
    name: `forever_${i}`,
    command: `sleep 300 & echo "$$ $!" > ${dir}/$TORC_JOB_ID.pids; wait`,
  })),
);
const runner = new JobRunner({
  client,
  workflowId: client.workflowId,
  outputDir: dir!,
  resources: await detectResources({ env: { PATH: '/usr/bin:/bin' }, overrides: { num_cpus: 8, memory_gb: 4, num_gpus: 0 } }),
  pollIntervalSeconds: 0.2,
  graceSeconds: 0.5,
});
stopOnSignals(runner);
const summary = await runner.run();
process.stdout.write(JSON.stringify({ summary, jobs: client.allJobs(), completions: client.completions }) + '\n');
