/**
 * `torc plan FILE`: what a workflow file expands to — job count, resource classes, DAG depth,
 * roots and leaves — and, with --jobs, every expanded job with its blockers.
 */
import type { Command } from 'commander';
import { loadWorkflowFile, planDocument, summarizePlan, type Plan } from '../../spec/index.js';
import { parseFormat, parseIntOption, printJson, printWarnings, renderTable } from '../output.js';

interface PlanFlags {
  format?: string;
  jobs?: boolean;
  maxJobs?: string;
}

/** Each job as a row: its names resolved, its blockers by name. */
export function expandedJobs(plan: Plan): Record<string, unknown>[] {
  return plan.jobs.map((job, i) => ({
    index: i,
    name: job.name,
    command: job.command,
    resource_class: plan.resource_classes[job.resource_class]!.name,
    scheduler: job.scheduler === null ? null : plan.slurm_schedulers[job.scheduler]!.name,
    failure_handler: job.failure_handler === null ? null : plan.failure_handlers[job.failure_handler]!.name,
    depends_on: Array.from(plan.dep_targets.subarray(plan.dep_offsets[i]!, plan.dep_offsets[i + 1]!), (b) => plan.jobs[b]!.name),
    input_files: job.input_files.map((f) => plan.files[f]!.path),
    output_files: job.output_files.map((f) => plan.files[f]!.path),
    hash: job.hash,
  }));
}

export function register(program: Command): void {
  program
    .command('plan')
    .description('show what a workflow file expands to: jobs, resource classes, DAG depth, roots and leaves')
    .argument('<file>', 'workflow file (.yaml/.yml, .json, .json5 or .kdl)')
    .option('--jobs', 'list every expanded job')
    .option('--max-jobs <n>', 'refuse specs that expand to more jobs than this (default 10000000)')
    .option('--format <format>', 'table or json', 'table')
    .action((file: string, flags: PlanFlags) => {
      const format = parseFormat(flags.format);
      const maxJobs = parseIntOption(flags.maxJobs, '--max-jobs', 1);
      const docs = loadWorkflowFile(file);
      const plans = docs.map((doc) => planDocument(doc, { maxJobs }));
      for (const doc of docs) printWarnings(file, doc.warnings);
      const out = plans.map((plan) => ({ ...summarizePlan(plan), ...(flags.jobs ? { expanded_jobs: expandedJobs(plan) } : {}) }));
      if (format === 'json') {
        printJson(out.length === 1 ? out[0] : out);
        return;
      }
      plans.forEach((plan, k) => {
        const s = out[k]!;
        const lines = [
          `Workflow ${s.name} (${file})`,
          `  jobs: ${s.jobs}   dependencies: ${s.dependencies}   depth: ${s.depth}   roots: ${s.roots}   leaves: ${s.leaves}`,
          `  files: ${s.files}   user data: ${s.user_data}   sort method: ${s.jobs_sort_method}`,
          `  roots: ${names(s.root_names, s.roots)}`,
          `  leaves: ${names(s.leaf_names, s.leaves)}`,
          renderTable(s.resource_classes, ['name', 'num_cpus', 'memory', 'num_gpus', 'num_nodes', 'runtime', 'jobs']),
        ];
        if (s.schedulers.length > 0) {
          lines.push(renderTable([...s.schedulers, { name: '(any runner)', jobs: s.unbound_jobs }], ['name', 'jobs']));
        }
        if (flags.jobs) {
          lines.push(renderTable(s.expanded_jobs!.map((j) => ({ ...j, depends_on: (j.depends_on as string[]).join(' ') })),
            ['index', 'name', 'resource_class', 'scheduler', 'depends_on', 'command']));
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });
}

function names(sample: string[], total: number): string {
  return total > sample.length ? `${sample.join(', ')}, … (${total} in all)` : sample.join(', ');
}
