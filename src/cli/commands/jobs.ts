/** `torc jobs list WF [--status S]`: the jobs of a workflow, through a server (--url) or a database (--db). */
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { JOB_STATUS_NAMES, parseStatus } from '../../contract/status.js';
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
        if (format === 'json') return printJson(items);
        printTable(
          items.map((j) => ({ id: j.id, name: j.name, status: j.status, attempt: j.attempt_id, return_code: j.return_code, command: j.command })),
          ['id', 'name', 'status', 'attempt', 'return_code', 'command'],
        );
      } finally {
        await backend.close();
      }
    });
}
