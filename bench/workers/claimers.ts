/**
 * External claimers for the REST dispatch benchmark: C concurrent runner loops in this one
 * process (own compute node each), every loop: claim up to B ready jobs → start each →
 * complete each (a no-op job), until `jobs` jobs are done. Prints one JSON line.
 *   node --import tsx bench/workers/claimers.ts URL WORKFLOW_ID JOBS CLAIMERS BATCH MODE
 * MODE: per-job (torc's calls: claim_next_jobs, then start_job and complete_job per job) or
 *       bulk (our extensions: claim_next_jobs with start_run_id, which claims and starts in one
 *       request, then one complete_jobs per claimed batch).
 */
import { TorcClient } from '../../src/api/client.js';

const [url, wfArg, jobsArg, claimersArg, batchArg, mode = 'per-job'] = process.argv.slice(2);
const workflowId = Number(wfArg);
const target = Number(jobsArg);
const claimers = Number(claimersArg);
const batch = Number(batchArg);
if (!url || !(workflowId > 0) || !(target > 0) || !(claimers > 0) || !(batch > 0) || !['per-job', 'bulk'].includes(mode)) {
  process.stderr.write('usage: claimers.ts URL WORKFLOW_ID JOBS CLAIMERS BATCH per-job|bulk\n');
  process.exit(2);
}

const client = new TorcClient(url);
const progress = await client.getProgress(workflowId);
const runId = progress.run_id;
const nodes = await Promise.all(
  Array.from({ length: claimers }, (_, i) =>
    client.registerComputeNode(workflowId, {
      hostname: `bench-claimer-${i}`,
      pid: process.pid,
      num_cpus: 1,
      memory_gb: 1,
      num_gpus: 0,
      num_nodes: 1,
      scheduler_config_id: null,
      compute_node_type: 'bench',
      lease_seconds: 600,
    }),
  ),
);

let left = target;
let done = 0;
let requests = 0;
/** Milliseconds per complete_job call (per-job mode): the dependents it unblocks are ready when it returns. */
const completeMs: number[] = [];
const result = () => ({ return_code: 0, exec_time_minutes: 0, completion_time: new Date().toISOString() });
const started = performance.now();
await Promise.all(
  nodes.map(async (node) => {
    while (left > 0) {
      const want = Math.min(batch, left);
      left -= want;
      const claim = await client.claimNextJobs(workflowId, want, node.id, mode === 'bulk' ? { start_run_id: runId } : {});
      requests++;
      left += want - claim.jobs.length;
      if (claim.jobs.length === 0) return;
      if (mode === 'bulk') {
        if (claim.jobs.some((j) => j.status !== 'running')) throw new Error('claim-and-start returned jobs that are not running');
        const out = await client.completeJobs(workflowId, runId, claim.jobs.map((j) => ({ job_id: j.id, status: 'completed', ...result() })));
        requests++;
        if (!out.every((r) => r.ok)) throw new Error(`complete_jobs refused: ${JSON.stringify(out.find((r) => !r.ok))}`);
        done += out.length;
      } else {
        for (const job of claim.jobs) {
          await client.startJob(job.id, runId, node.id);
          const t0 = performance.now();
          await client.completeJob(job.id, 'completed', runId, result());
          completeMs.push(performance.now() - t0);
          requests += 2;
          done++;
        }
      }
    }
  }),
);
const ms = performance.now() - started;
await Promise.all(nodes.map((n) => client.deactivateComputeNode(n.id)));
completeMs.sort((a, b) => a - b);
const completeP99Ms = completeMs.length ? completeMs[Math.min(completeMs.length - 1, Math.ceil(completeMs.length * 0.99) - 1)]! : null;
process.stdout.write(`${JSON.stringify({ done, ms, requests, completeP99Ms })}\n`);
