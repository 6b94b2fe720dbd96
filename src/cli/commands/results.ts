/** `torc results list WF`: results of a workflow's runs, filtered as torc's command does (latest of each job unless --all-runs). */
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { JOB_STATUS_NAMES, parseStatus } from '../../contract/status.js';
import { omitNulls } from '../../api/views.js';
import { addBackendOptions, allPages, type BackendFlags } from '../backend.js';
import { parseIntOption, printJson, printTable } from '../output.js';
import { parseWorkflowId } from '../runner-flags.js';
import { withBackend } from './jobs.js';

interface Flags extends BackendFlags {
  format?: string;
  jobId?: string;
  runId?: string;
  returnCode?: string;
  failed?: boolean;
  status?: string;
  limit?: string;
  offset?: string;
  sortBy?: string;
  reverseSort?: boolean;
  allRuns?: boolean;
  computeNode?: string;
}

interface ResultRow {
  id: number;
  job_id: number;
  run_id: number;
  attempt_id: number;
  return_code: number;
  status: string;
  exec_time_minutes: number;
  completion_time: string;
  compute_node_id?: number | null;
}

export function register(program: Command): void {
  const results = program.command('results').description('Results of jobs (one per finished attempt)');
  addBackendOptions(results.command('list').description("Results of a workflow: by default the latest of each job (torc's), --all-runs for every one"))
    .argument('<wf>', 'workflow id')
    .option('--format <format>', 'table or json (default table)')
    .option('-j, --job-id <id>', 'only results of this job')
    .option('-r, --run-id <id>', 'only results of this run')
    .option('--return-code <code>', 'only results with this return code')
    .option('--failed', 'only results with a non-zero return code')
    .option('-s, --status <status>', `only results with this status (${JOB_STATUS_NAMES.join(', ')})`)
    .option('-l, --limit <n>', 'at most this many results (default: all)')
    .option('--offset <n>', 'skip this many results', '0')
    .option('--sort-by <field>', 'sort by this field (id, job_id, run_id, return_code, exec_time_minutes, completion_time, status)')
    .option('--reverse-sort', 'sort in descending order')
    .option('--all-runs', 'every result of every attempt and run, not only the latest of each job')
    .option('--compute-node <id>', 'only results of jobs that ran on this compute node')
    .action((id: string, flags: Flags) =>
      withBackend(flags, async (b, format) => {
        const workflowId = parseWorkflowId(id);
        if (flags.status !== undefined && parseStatus(flags.status) === undefined) {
          throw new InputError(`unknown job status "${flags.status}" (one of ${JOB_STATUS_NAMES.join(', ')})`, '--status');
        }
        const returnCode = flags.returnCode === undefined ? undefined : Number(flags.returnCode);
        if (returnCode !== undefined && !Number.isInteger(returnCode)) throw new InputError(`expected an integer, got "${flags.returnCode}"`, '--return-code');
        const limit = parseIntOption(flags.limit, '--limit', 1);
        const start = parseIntOption(flags.offset, '--offset', 0) ?? 0;
        const query = {
          job_id: parseIntOption(flags.jobId, '--job-id', 1),
          run_id: parseIntOption(flags.runId, '--run-id', 1),
          return_code: returnCode,
          status: flags.status,
          compute_node_id: parseIntOption(flags.computeNode, '--compute-node', 1),
          all_runs: flags.allRuns ?? false,
          sort_by: flags.sortBy,
          reverse_sort: flags.reverseSort,
        };
        let items = (await allPages((offset, pageLimit) => b.listResults(workflowId, { ...query, offset: start + offset, limit: pageLimit }), flags.failed ? Infinity : limit)) as ResultRow[];
        if (flags.failed) items = items.filter((r) => r.return_code !== 0).slice(0, limit);
        if (format === 'json') return printJson(items.map(omitNulls));
        printTable(
          items.map((r) => ({ id: r.id, job_id: r.job_id, run_id: r.run_id, attempt: r.attempt_id, status: r.status, return_code: r.return_code, minutes: r.exec_time_minutes.toFixed(2), completed: r.completion_time })),
          ['id', 'job_id', 'run_id', 'attempt', 'status', 'return_code', 'minutes', 'completed'],
        );
      }),
    );
}
