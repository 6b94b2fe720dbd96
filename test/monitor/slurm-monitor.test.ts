/**
 * Monitoring and recovery on the real test Slurm: `torc reconcile --runner slurm` runs jobs in
 * allocations whose workers sample them and send their summaries and samples over the REST API;
 * a job past its runtime is diagnosed likely_timeout, and `torc recover` sees that the workflow
 * ran on Slurm and runs it again in a new allocation with 1.5× its runtime. Skipped, loudly,
 * without Slurm.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTorc } from '../support/cli.js';
import { slurmApiHost, slurmTest } from '../support/slurm.js';
import { Store } from '../../src/store/index.js';

const slurm = slurmTest('test/monitor/slurm-monitor.test.ts');
const HOG = fileURLToPath(new URL('../fixtures/monitor/hog.mjs', import.meta.url));

slurm('Slurm workers measure their jobs (summary and time series over REST); recover runs a timed-out job again in a new allocation with more runtime', async (t) => {
  t.timeout(600_000);
  const dir = mkdtempSync(join(tmpdir(), 'torc-slurm-monitor-'));
  // The job sleeps for ten minutes unless it was given 2 s or more: it times out at PT1S, passes at 1.5 × PT1S.
  const patient = `bash -c 'if [ "$TORC_JOB_RUNTIME_SECONDS" -lt 2 ]; then exec sleep 600; fi'`;
  writeFileSync(
    join(dir, 'wf.yaml'),
    [
      'name: slurm-monitor',
      'compute_node_wait_for_new_jobs_seconds: 5',
      'resource_monitor: {granularity: time_series, sample_interval_seconds: 1}',
      'slurm_schedulers:',
      '  - {name: cpu, walltime: "00:05:00", nodes: 1, mem: 1G}',
      'resource_requirements:',
      '  - {name: one, num_cpus: 1, memory: 300m, runtime: PT1M}',
      '  - {name: quick, num_cpus: 1, memory: 10m, runtime: PT1S}',
      'jobs:',
      `  - {name: hog, command: ${JSON.stringify(`node ${HOG} --mb 80 --cpu-ms 1500`)}, resource_requirements: one, scheduler: cpu}`,
      `  - {name: patient, command: ${JSON.stringify(patient)}, resource_requirements: quick, scheduler: cpu}`,
      '',
    ].join('\n'),
  );
  const first = await runTorc(['reconcile', 'wf.yaml', '--runner', 'slurm', '--host', slurmApiHost(), '--max-allocations', '1', '--poll-interval', '1'], { cwd: dir, timeoutMs: 240_000 });
  t.is(first.code, 1, first.stderr);
  t.regex(first.stdout, /✗ job patient \(id 2, attempt 1\) terminated, return code 143: likely_timeout \(runtime limit\)/);

  const db = join(dir, '.torc', 'wf.db');
  const store = await Store.open(db);
  try {
    const [hog] = (await store.listResults(1, { jobId: 1 })).items;
    t.true(hog!.peak_memory_bytes! >= 80 * 1024 ** 2, `the worker measured the hog: ${hog!.peak_memory_bytes}`);
    t.true(hog!.avg_cpu_percent! > 0);
    t.true((await store.listResourceSamples(1, { job_id: 1 })).total >= 1, 'samples came over the REST API');
  } finally {
    await store.close();
  }

  const recover = await runTorc(['recover', '1', '--db', db, '--host', slurmApiHost(), '--max-allocations', '1', '--poll-interval', '1'], { cwd: dir, timeoutMs: 240_000 });
  t.is(recover.code, 0, `${recover.stdout}\n${recover.stderr}`);
  t.regex(recover.stderr, /job patient \(id 2\): likely_timeout, runtime PT1S -> PT2S/);
  t.regex(recover.stderr, /submitted Slurm allocation/, 'a new allocation, not the local runner');
  const after = await Store.open(db);
  try {
    const job = await after.getJob(2);
    t.is(job.status, 'completed');
    const node = await after.getComputeNode(job.compute_node_id!);
    t.is(node.compute_node_type, 'slurm');
  } finally {
    await after.close();
  }
});
