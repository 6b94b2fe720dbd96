/**
 * `torc reports …` (torc's names and JSON shapes), through a server (--url) or a database (--db):
 *   check-resource-utilization WF [--run-id N] [--all] [--include-failed] [--suggest [--apply FILE]]
 *   results WF [--all-runs] [--job-id N…] [--no-slurm]
 *   summary WF [--no-slurm]
 * results and summary list the Slurm allocations that failed (from sacct / scontrol unless
 * --no-slurm, else as the server recorded their end).
 */
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { addBackendOptions, openBackend, allPages, type BackendFlags, type WorkflowBackend } from '../backend.js';
import { parseFormat, parseIntOption, printJson, printTable } from '../output.js';
import { parseWorkflowId } from '../runner-flags.js';
import { readComputeNodes, readRecords } from '../reports/data.js';
import { utilizationReport, type UtilizationReport } from '../reports/utilization.js';
import { renderSummary, resultsReport, workflowSummary } from '../reports/results.js';
import { applyRequirements } from '../reports/apply-spec.js';

interface UtilizationFlags extends BackendFlags {
  runId?: string;
  all?: boolean;
  includeFailed?: boolean;
  suggest?: boolean;
  apply?: string;
  format?: string;
}

export function register(program: Command): void {
  const reports = program.command('reports').description("Reports on a workflow's results: resource utilization, results with log paths, a summary");

  addBackendOptions(
    reports
      .command('check-resource-utilization')
      .description('Jobs that used more than they asked for (torc\'s violations), resource classes that use under half of it, and right-sized requirements (--suggest)'),
  )
    .argument('<wf>', 'workflow id')
    .option('--run-id <n>', 'only results of this run (default: each job\'s latest)')
    .option('-a, --all', 'also list the jobs that stayed within their requirements')
    .option('--include-failed', 'also analyse failed and terminated jobs (with their diagnosis)')
    .option('--suggest', 'propose resource_requirements per class from the measured peaks (p95 with headroom)')
    .option('--apply <file>', 'with --suggest: write the proposals into this spec file (YAML keeps its comments and layout)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (id: string, flags: UtilizationFlags) => {
      const format = parseFormat(flags.format);
      const workflowId = parseWorkflowId(id);
      const runId = parseIntOption(flags.runId, '--run-id', 1) ?? null;
      if (flags.apply !== undefined && !flags.suggest) throw new InputError('needs --suggest', '--apply');
      await withBackend(flags, async (backend) => {
        const records = await readRecords(backend, workflowId);
        const report = utilizationReport({
          workflow_id: workflowId,
          run_id: runId,
          ...records,
          all: flags.all,
          includeFailed: flags.includeFailed,
          suggest: flags.suggest,
        });
        let applied: ReturnType<typeof applyRequirements> | null = null;
        if (flags.apply !== undefined) {
          const changes = (report.suggestions ?? []).filter((s) => s.changed.length > 0).map((s) => ({ resource_class: s.resource_class, ...s.suggested }));
          applied = applyRequirements(flags.apply, records.workflow.name, changes);
        }
        if (format === 'json') return printJson(applied ? { ...report, applied } : report);
        printUtilization(report);
        if (applied) {
          process.stdout.write(
            applied.applied.length > 0
              ? `\nWrote the suggested requirements of ${applied.applied.join(', ')} into ${applied.file}\n`
              : `\nNothing to change in ${applied.file}\n`,
          );
          if (applied.missing.length > 0) process.stdout.write(`(not declared in the file, left alone: ${applied.missing.join(', ')})\n`);
        }
      });
    });

  addBackendOptions(reports.command('results').description("Each job's result with where its stdout and stderr went, and the Slurm allocations that failed (JSON, torc's results report)"))
    .argument('<wf>', 'workflow id')
    .option('--all-runs', 'every result of every run (default: each job\'s latest)')
    .option('-j, --job-id <id...>', 'only these jobs')
    .option('-o, --output-dir <dir>', "where the runners wrote job output, for results whose runner did not say (torc's runners)")
    .option('--no-slurm', "failed allocations as torc recorded them, without asking Slurm (sacct, else scontrol) for exit codes and reasons")
    .action(async (id: string, flags: BackendFlags & { allRuns?: boolean; jobId?: string[]; outputDir?: string; slurm?: boolean }) => {
      const workflowId = parseWorkflowId(id);
      const jobIds = (flags.jobId ?? []).map((j) => parseIntOption(j, '--job-id', 1)!);
      await withBackend(flags, async (backend) => {
        const records = await readRecords(backend, workflowId);
        const nodes = await readComputeNodes(backend, workflowId);
        const { allocations, slurm } = await readAllocations(backend, workflowId, flags.slurm !== false);
        printJson(resultsReport(records.workflow, records.jobs, records.results, nodes, { allRuns: flags.allRuns, jobIds, outputDir: flags.outputDir, allocations, slurm }));
      });
    });

  addBackendOptions(reports.command('summary').description('Job counts by status, execution time and walltime, every failed job with its diagnosis, and the Slurm allocations that failed'))
    .argument('<wf>', 'workflow id')
    .option('--format <format>', 'table or json', 'table')
    .option('--no-slurm', "failed allocations as torc recorded them, without asking Slurm (sacct, else scontrol) for exit codes and reasons")
    .action(async (id: string, flags: BackendFlags & { format?: string; slurm?: boolean }) => {
      const format = parseFormat(flags.format);
      const workflowId = parseWorkflowId(id);
      await withBackend(flags, async (backend) => {
        const records = await readRecords(backend, workflowId);
        const nodes = await readComputeNodes(backend, workflowId);
        const { allocations, slurm } = await readAllocations(backend, workflowId, flags.slurm !== false);
        const status = await backend.getWorkflowStatus(workflowId);
        const summary = workflowSummary(records.workflow, records.jobs, records.results, nodes, allocations, status, slurm);
        if (format === 'json') return printJson(summary);
        process.stdout.write(`${renderSummary(summary)}\n`);
      });
    });
}

/**
 * The workflow's recorded Slurm allocations and, when `askSlurm`, Slurm's view of those that
 * ended (sacct, else scontrol; nothing when this machine has no Slurm).
 */
async function readAllocations(backend: WorkflowBackend, workflowId: number, askSlurm: boolean) {
  const allocations = await allPages((offset, limit) => backend.listScheduledComputeNodes(workflowId, { offset, limit }));
  if (!askSlurm || allocations.length === 0) return { allocations, slurm: undefined };
  const { slurmAllocationViews } = await import('../../runners/slurm/views.js');
  // Open ones too: the server records an allocation's end only when a dispatcher sees it.
  return { allocations, slurm: await slurmAllocationViews(allocations.map((a) => String(a.scheduler_id))) };
}

async function withBackend(flags: BackendFlags, fn: (backend: WorkflowBackend) => Promise<void>): Promise<void> {
  const backend = await openBackend(flags);
  try {
    await fn(backend);
  } finally {
    await backend.close();
  }
}

function printUtilization(report: UtilizationReport): void {
  const over = report.violations.filter((v) => v.over_utilization.startsWith('+'));
  if (report.violations.length === 0) {
    process.stdout.write(`✓ All ${report.total_results} jobs stayed within their specified resource requirements\n`);
  } else {
    if (over.length > 0) process.stdout.write(`⚠ Found ${over.length} resource over-utilization violations:\n`);
    printTable(report.violations as unknown as Record<string, unknown>[], ['job_id', 'job_name', 'resource_type', 'specified', 'peak_used', 'over_utilization']);
  }
  if (report.failed_jobs && report.failed_jobs.length > 0) {
    process.stdout.write(`\n${report.failed_jobs.length} failed job(s):\n`);
    printTable(
      report.failed_jobs.map((f) => ({ ...f, diagnosis: f.failure_diagnosis ?? '', reason: f.oom_reason ?? f.timeout_reason ?? '', peak_memory: f.peak_memory_formatted ?? '' })),
      ['job_id', 'job_name', 'return_code', 'diagnosis', 'reason', 'configured_memory', 'peak_memory', 'configured_runtime', 'runtime_utilization'],
    );
  }
  if (report.under_utilization.length > 0) {
    process.stdout.write(`\nResource classes using under half of what they ask (95th percentile of their jobs):\n`);
    printTable(report.under_utilization as unknown as Record<string, unknown>[], ['resource_class', 'resource_type', 'jobs', 'specified', 'peak_used', 'utilization']);
  }
  if (report.suggestions) {
    if (report.suggestions.length === 0) {
      process.stdout.write('\nNo suggestions: no completed job was measured.\n');
      return;
    }
    process.stdout.write('\nSuggested resource_requirements (95th percentile of peaks + headroom):\n');
    printTable(
      report.suggestions.map((s) => ({
        resource_class: s.resource_class,
        jobs: s.jobs,
        num_cpus: `${s.current.num_cpus} → ${s.suggested.num_cpus}`,
        memory: `${s.current.memory} → ${s.suggested.memory}`,
        runtime: `${s.current.runtime} → ${s.suggested.runtime}`,
        peak_memory: s.basis.peak_memory ?? '',
        peak_cpu: s.basis.peak_cpu_percent === null ? '' : `${s.basis.peak_cpu_percent.toFixed(1)}%`,
      })),
      ['resource_class', 'jobs', 'num_cpus', 'memory', 'runtime', 'peak_memory', 'peak_cpu'],
    );
  }
}
