/**
 * `torc jobs list|get|update`: the jobs of a workflow, as torc's commands show them, through a
 * server (--url) or a database (--db).
 */
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { JOB_STATUS_NAMES, parseStatus } from '../../contract/status.js';
import type { JobRecord } from '../../contract/client.js';
import { latestResults } from '../reports/data.js';
import { omitNulls } from '../../api/views.js';
import type { JobChanges } from '../../api/client.js';
import { addBackendOptions, allPages, openBackend, type BackendFlags, type WorkflowBackend } from '../backend.js';
import { parseFormat, parseId, parseIntOption, printJson, printTable, type OutputFormat } from '../output.js';
import { parseWorkflowId } from '../runner-flags.js';

interface Flags extends BackendFlags {
  format?: string;
}

interface ListFlags extends Flags {
  status?: string;
  upstreamJobId?: string;
  limit?: string;
  offset?: string;
  sortBy?: string;
  reverseSort?: boolean;
  includeRelationships?: boolean;
}

interface UpdateFlags extends Flags {
  name?: string;
  command?: string;
  resourceRequirementsId?: string;
  schedulerId?: string;
  cancelOnBlockingJobFailure?: string;
}

/** Opens the backend, runs `fn`, closes it; the format is checked first so bad input reaches nothing. */
export async function withBackend(flags: Flags, fn: (b: WorkflowBackend, format: OutputFormat) => Promise<void>): Promise<void> {
  const format = parseFormat(flags.format);
  const backend = await openBackend(flags);
  try {
    await fn(backend, format);
  } finally {
    await backend.close();
  }
}

function sub(parent: Command, name: string, description: string): Command {
  return addBackendOptions(parent.command(name).description(description)).option('--format <format>', 'table or json (default table)');
}

const JOB_COLUMNS = ['id', 'name', 'status', 'attempt', 'return_code', 'command'];
const UNSUCCESSFUL: readonly string[] = ['failed', 'terminated', 'pending_failed'];
const jobRow = (j: { id: number; name: string; status: string; attempt_id: number; return_code: number | null; command: string }) => ({
  id: j.id,
  name: j.name,
  status: j.status,
  attempt: j.attempt_id,
  return_code: j.return_code,
  command: j.command,
});

function parseBool(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new InputError(`expected true or false, got "${value}"`, flag);
}

export function register(program: Command): void {
  const jobs = program.command('jobs').description('Jobs of a workflow: list, get, update');
  sub(jobs, 'list', 'Jobs in queue order, filtered as torc\'s jobs list')
    .argument('<wf>', 'workflow id')
    .option('-s, --status <status>', `only jobs in this status (${JOB_STATUS_NAMES.join(', ')}, or its code)`)
    .option('--upstream-job-id <id>', 'only jobs that wait for this job')
    .option('-l, --limit <n>', 'at most this many jobs (default: all)')
    .option('--offset <n>', 'skip this many jobs', '0')
    .option('--sort-by <field>', 'sort by this field (id, name, status, command, attempt_id, …)')
    .option('--reverse-sort', 'sort in descending order')
    .option('--include-relationships', "add torc's id lists (dependencies, files, user data) to each job")
    .action((id: string, flags: ListFlags) =>
      withBackend(flags, async (b, format) => {
        const workflowId = parseWorkflowId(id);
        if (flags.status !== undefined && parseStatus(flags.status) === undefined) {
          throw new InputError(`unknown job status "${flags.status}" (one of ${JOB_STATUS_NAMES.join(', ')})`, '--status');
        }
        const limit = parseIntOption(flags.limit, '--limit', 1);
        const start = parseIntOption(flags.offset, '--offset', 0) ?? 0;
        const query = {
          status: flags.status,
          upstream_job_id: parseIntOption(flags.upstreamJobId, '--upstream-job-id', 1),
          sort_by: flags.sortBy,
          reverse_sort: flags.reverseSort,
          include_relationships: flags.includeRelationships,
        };
        const items = (await allPages((offset, pageLimit) => b.listJobs(workflowId, { ...query, offset: start + offset, limit: pageLimit }), limit)).slice(0, limit);
        // Why each unsuccessful job failed: the diagnosis of its latest result.
        const diagnosis = new Map<number, string | null>();
        if (items.some((j) => UNSUCCESSFUL.includes(j.status))) {
          for (const r of latestResults(await allPages((offset, pageLimit) => b.listResults(workflowId, { offset, limit: pageLimit })))) {
            diagnosis.set(r.job_id, r.failure_diagnosis);
          }
        }
        const diagnosisOf = (j: JobRecord) => (UNSUCCESSFUL.includes(j.status) ? (diagnosis.get(j.id) ?? null) : null);
        if (format === 'json') return printJson(items.map((j) => ({ ...omitNulls(j), failure_diagnosis: diagnosisOf(j) })));
        printTable(
          items.map((j) => ({ ...jobRow(j), diagnosis: diagnosisOf(j) })),
          ['id', 'name', 'status', 'attempt', 'return_code', 'diagnosis', 'command'],
        );
      }),
    );
  sub(jobs, 'get', "A job, with torc's id lists")
    .argument('<id>', 'job id')
    .action((id: string, flags: Flags) =>
      withBackend(flags, async (b, format) => {
        const job = await b.getJob(parseId(id, 'job id'));
        if (format === 'json') return printJson(omitNulls(job));
        printTable(Object.entries(omitNulls(job)).map(([field, value]) => ({ field, value })), ['field', 'value']);
      }),
    );
  sub(jobs, 'update', "Change a job (torc's rules: name and command only while it is uninitialized; requirements and scheduler at any time)")
    .argument('<id>', 'job id')
    .option('-n, --name <name>', 'new name')
    .option('-c, --command <command>', 'new command')
    .option('--resource-requirements-id <id>', 'new resource requirements')
    .option('--scheduler-id <id>', 'new Slurm scheduler')
    .option('--cancel-on-blocking-job-failure <bool>', 'true or false')
    .action((id: string, flags: UpdateFlags) =>
      withBackend(flags, async (b, format) => {
        const jobId = parseId(id, 'job id');
        const changes: JobChanges = Object.fromEntries(
          Object.entries({
            name: flags.name,
            command: flags.command,
            resource_requirements_id: parseIntOption(flags.resourceRequirementsId, '--resource-requirements-id', 1),
            scheduler_id: parseIntOption(flags.schedulerId, '--scheduler-id', 1),
            cancel_on_blocking_job_failure: parseBool(flags.cancelOnBlockingJobFailure, '--cancel-on-blocking-job-failure'),
          }).filter(([, v]) => v !== undefined),
        );
        if (Object.keys(changes).length === 0) throw new InputError('nothing to change: give --name, --command, --resource-requirements-id, --scheduler-id or --cancel-on-blocking-job-failure', 'ID');
        const job = await b.updateJob(jobId, changes);
        if (format === 'json') return printJson(omitNulls(job));
        printTable([jobRow(job)], JOB_COLUMNS);
      }),
    );
}
