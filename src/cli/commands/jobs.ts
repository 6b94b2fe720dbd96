/** `torc jobs list WF [--status S]`: the jobs of a workflow, through a server (--url) or a database (--db). */
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { JOB_STATUS_NAMES, JobStatus, parseStatus, statusName } from '../../contract/status.js';
import type { JobRecord } from '../../contract/client.js';
import { latestResults } from '../reports/data.js';

const UNSUCCESSFUL: readonly number[] = [JobStatus.failed, JobStatus.terminated, JobStatus.pending_failed];
import { addBackendOptions, allPages, openBackend, type BackendFlags } from '../backend.js';
import { parseFormat, printJson, printTable } from '../output.js';
import { parseWorkflowId } from '../runner-flags.js';

export function register(program: Command): void {
  const jobs = program.command('jobs').description('Jobs of a workflow');
  addBackendOptions(jobs.command('list').description('Jobs in queue order, optionally only those in one status'))
    .argument('<wf>', 'workflow id')
    .option('--status <status>', `only jobs in this status (${JOB_STATUS_NAMES.join(', ')}, or its code)`)
    .option('--format <format>', 'table or json', 'table')
    .action(async (id: string, flags: BackendFlags & { status?: string; format?: string }) => {
      const format = parseFormat(flags.format);
      const workflowId = parseWorkflowId(id);
      if (flags.status !== undefined && parseStatus(flags.status) === undefined) {
        throw new InputError(`unknown job status "${flags.status}" (one of ${JOB_STATUS_NAMES.join(', ')})`, '--status');
      }
      const backend = await openBackend(flags);
      try {
        const items = await allPages((offset, limit) => backend.listJobs(workflowId, { status: flags.status, offset, limit }));
        // Why each unsuccessful job failed: the diagnosis of its latest result.
        const diagnosis = new Map<number, string | null>();
        if (items.some((j) => UNSUCCESSFUL.includes(j.status))) {
          for (const r of latestResults(await allPages((offset, limit) => backend.listResults(workflowId, { offset, limit })))) {
            diagnosis.set(r.job_id, r.failure_diagnosis);
          }
        }
        const diagnosisOf = (j: JobRecord) => (UNSUCCESSFUL.includes(j.status) ? (diagnosis.get(j.id) ?? null) : null);
        if (format === 'json') return printJson(items.map((j) => ({ ...j, failure_diagnosis: diagnosisOf(j) })));
        printTable(
          items.map((j) => ({ id: j.id, name: j.name, status: statusName(j.status), attempt: j.attempt, return_code: j.return_code, diagnosis: diagnosisOf(j), command: j.command })),
          ['id', 'name', 'status', 'attempt', 'return_code', 'diagnosis', 'command'],
        );
      } finally {
        await backend.close();
      }
    });
}
