/**
 * `torc plot-resources WF -o DIR`: HTML plots of a workflow's resource use (see
 * plots/resource-plots.ts), from a server (--url) or a database (--db). torc's own form works
 * too: `torc plot-resources output/resource_utilization/resource_metrics_*.db -o DIR` reads the
 * time-series file a torc runner wrote (its job_resource_samples and job_metadata tables).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import sqlite3 from 'sqlite3';
import { InputError } from '../../errors.js';
import { addBackendOptions, openBackend, type BackendFlags } from '../backend.js';
import { parseIntOption } from '../output.js';
import { parseWorkflowId } from '../runner-flags.js';
import { readRecords, readSamples } from '../reports/data.js';
import { writeResourcePlots, type PlotInput } from '../plots/resource-plots.js';
import type { JobRecord } from '../../contract/client.js';
import type { ResourceSample } from '../../contract/resources.js';

interface PlotFlags extends BackendFlags {
  outputDir: string;
  jobIds?: string;
  runId?: string;
}

export function register(program: Command): void {
  addBackendOptions(
    program
      .command('plot-resources')
      .description('Self-contained HTML plots of CPU, memory and processes per job, all jobs over time, and peak against average (work offline)'),
  )
    .argument('<wf>', "workflow id (with --db or --url), or a torc resource_metrics_*.db file")
    .requiredOption('-o, --output-dir <dir>', 'where the HTML files go')
    .option('--job-ids <ids>', 'only these jobs, comma-separated')
    .option('--run-id <n>', 'only samples of this run')
    .action(async (wf: string, flags: PlotFlags) => {
      const jobIds = flags.jobIds?.split(',').map((j) => parseIntOption(j.trim(), '--job-ids', 1)!);
      const runId = parseIntOption(flags.runId, '--run-id', 1);
      const input = /\.db$/.test(wf) && existsSync(wf) && flags.db === undefined && flags.url === undefined ? await fromTorcMetricsFile(wf) : await fromWorkflow(wf, flags, runId);
      const out = writeResourcePlots({ ...input, jobIds }, flags.outputDir);
      for (const f of out.files) process.stdout.write(`${f}\n`);
    });
}

async function fromWorkflow(wf: string, flags: PlotFlags, runId: number | undefined): Promise<PlotInput> {
  const workflowId = parseWorkflowId(wf);
  const backend = await openBackend(flags);
  try {
    const records = await readRecords(backend, workflowId);
    const samples = await readSamples(backend, workflowId, runId !== undefined ? { run_id: runId } : {});
    const results = runId !== undefined ? records.results.filter((r) => r.run_id === runId) : records.results;
    return { workflow: { id: workflowId, name: records.workflow.name }, jobs: records.jobs, results, samples };
  } finally {
    await backend.close();
  }
}

/** torc's time-series file: job_resource_samples(job_id, timestamp, cpu_percent, memory_bytes, num_processes) and job_metadata(job_id, job_name). */
async function fromTorcMetricsFile(file: string): Promise<PlotInput> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => (err ? reject(err) : resolve(d)));
  });
  const all = <T>(sql: string) => new Promise<T[]>((resolve, reject) => db.all(sql, (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
  try {
    let samples: Omit<ResourceSample, 'run_id' | 'attempt_id'>[];
    try {
      samples = await all('SELECT job_id, timestamp, cpu_percent, memory_bytes, num_processes FROM job_resource_samples ORDER BY job_id, timestamp');
    } catch (e) {
      throw new InputError(`${file} is not a torc resource metrics file: ${(e as Error).message}`, 'WF');
    }
    const meta = await all<{ job_id: number; job_name: string }>('SELECT job_id, job_name FROM job_metadata').catch(() => []);
    const names = new Map(meta.map((m) => [m.job_id, m.job_name]));
    const ids = [...new Set(samples.map((s) => s.job_id))];
    const jobs = ids.map((id) => ({ id, name: names.get(id) ?? `job ${id}` }) as JobRecord);
    return { workflow: { id: 0, name: file }, jobs, results: [], samples: samples.map((s) => ({ ...s, run_id: 1, attempt_id: 1 })) };
  } finally {
    await new Promise((r) => db.close(r));
  }
}
