/**
 * `torc workflows list|show|status|cancel|reset-status|reinitialize|create|submit|delete|export|import`:
 * look at and act on stored workflows, through a server (--url / TORC_API_URL) or a database file (--db);
 * see backend.ts. export/import move a workflow in torc's export format (or, with --spec, as a
 * spec file in any of torc's formats).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { observeFiles } from '../../runners/file-times.js';

import { addBackendOptions, allPages, openBackend, resetAndInitialize, type BackendFlags, type WorkflowBackend } from '../backend.js';
import { parseFormat, printJson, printTable, type OutputFormat } from '../output.js';
import { exportCommand, importCommand } from './workflow-transfer.js';
import { createCommand, deleteCommand, submitCommand } from './workflow-lifecycle.js';
import { parseWorkflowId } from '../runner-flags.js';

interface Flags extends BackendFlags {
  format?: string;
}

/** Opens the backend, runs `fn`, closes it; `--format` parsed first so bad input writes nothing. */
async function withBackend(flags: Flags, fn: (b: WorkflowBackend, format: OutputFormat) => Promise<number | void>): Promise<void> {
  const format = parseFormat(flags.format);
  const backend = await openBackend(flags);
  try {
    process.exitCode = (await fn(backend, format)) ?? 0;
  } finally {
    await backend.close();
  }
}

function subcommand(parent: Command, name: string, description: string): Command {
  return addBackendOptions(parent.command(name).description(description)).option('--format <format>', 'table or json', 'table');
}

export function register(program: Command): void {
  const wf = program.command('workflows').description('List, inspect, cancel, reset and reinitialize workflows (a server via --url, or a database via --db)');

  subcommand(wf, 'list', 'Workflows in creation order').action((flags: Flags) =>
    withBackend(flags, async (b, format) => {
      const items = await allPages((offset, limit) => b.listWorkflows({ offset, limit }));
      if (format === 'json') return printJson(items);
      printTable(
        items.map((w) => ({ id: w.id, name: w.name, user: w.user, run_id: w.run_id, canceled: w.is_canceled, schedule: w.schedule, created: w.timestamp })),
        ['id', 'name', 'user', 'run_id', 'canceled', 'schedule', 'created'],
      );
    }),
  );

  subcommand(wf, 'show', 'A workflow: its settings and its actions')
    .argument('<wf>', 'workflow id')
    .action((id: string, flags: Flags) =>
      withBackend(flags, async (b, format) => {
        const workflowId = parseWorkflowId(id);
        const [workflow, actions] = await Promise.all([b.getWorkflow(workflowId), b.listActions(workflowId)]);
        if (format === 'json') return printJson({ ...workflow, actions });
        printTable(Object.entries(workflow).map(([field, value]) => ({ field, value })), ['field', 'value']);
        if (actions.length > 0) {
          printTable(
            actions.map((a) => ({ id: a.id, trigger: a.trigger_type, type: a.action_type, triggered: a.triggered, executed: a.executed, by: a.claimed_by })),
            ['id', 'trigger', 'type', 'triggered', 'executed', 'by'],
          );
        }
      }),
    );

  subcommand(wf, 'status', 'Phase, job counts by status and conditions')
    .argument('<wf>', 'workflow id')
    .action((id: string, flags: Flags) =>
      withBackend(flags, async (b, format) => {
        const s = await b.getWorkflowStatus(parseWorkflowId(id));
        if (format === 'json') return printJson(s);
        process.stdout.write(`workflow ${s.id}: ${s.phase} (run ${s.run_id}), ${s.done} of ${s.total} jobs finished\n`);
        printTable(
          Object.entries(s.counts)
            .filter(([, n]) => n > 0)
            .map(([status, count]) => ({ status, count })),
          ['status', 'count'],
        );
        printTable(s.conditions.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })), ['type', 'status', 'reason', 'message']);
      }),
    );

  subcommand(wf, 'cancel', 'Cancel: jobs that have not started are canceled; running ones are terminated by their runners (SIGTERM, grace, SIGKILL)')
    .argument('<wf>', 'workflow id')
    .action((id: string, flags: Flags) =>
      withBackend(flags, async (b, format) => {
        const out = await b.cancelWorkflow(parseWorkflowId(id));
        if (format === 'json') return printJson(out);
        process.stdout.write(
          `workflow ${out.workflow_id} canceled: ${out.canceled} job(s) canceled, ${out.running_job_ids.length} running job(s) being terminated by their runners\n`,
        );
      }),
    );

  subcommand(wf, 'reset-status', 'Jobs back to the start in a new run (all, or with --failed-only the unsuccessful ones and their downstream), then initialized')
    .argument('<wf>', 'workflow id')
    .option('--failed-only', 'only failed / canceled / terminated / pending_failed jobs and everything downstream of them')
    .action((id: string, flags: Flags & { failedOnly?: boolean }) =>
      withBackend(flags, async (b, format) => {
        const workflowId = parseWorkflowId(id);
        const { reset, initialized: init } = await resetAndInitialize(b, workflowId, { failedOnly: flags.failedOnly ?? false });
        if (format === 'json') return printJson({ ...reset, initialized: init });
        process.stdout.write(`workflow ${workflowId}: ${reset.updated_count} job(s) reset (run ${reset.run_id}); ${init.ready} ready, ${init.blocked} blocked\n`);
      }),
    );

  subcommand(wf, 'reinitialize', 'Re-run completed jobs whose inputs changed (files, command, input user data) or whose outputs are missing, and everything downstream')
    .argument('<wf>', 'workflow id')
    .option('--dry-run', 'list the jobs that would be reset, change nothing')
    .option('--cwd <dir>', "directory the jobs' relative file paths are resolved in (default: the current one, as for torc reconcile)")
    .action((id: string, flags: Flags & { dryRun?: boolean; cwd?: string }) =>
      withBackend(flags, async (b, format) => {
        const workflowId = parseWorkflowId(id);
        // The files are looked at here, where the jobs ran, not by the server.
        const files = await allPages((offset, limit) => b.listFiles(workflowId, { offset, limit }));
        const observed = await observeFiles(files, resolve(flags.cwd ?? process.cwd()));
        const out = await b.processChangedJobInputs(workflowId, { dryRun: flags.dryRun ?? false, files: observed });
        if (format === 'json') return printJson(out);
        const verb = out.dry_run ? 'would be reset' : `reset (run ${out.run_id})`;
        process.stdout.write(`workflow ${workflowId}: ${out.jobs.length} job(s) ${verb}\n`);
        if (out.jobs.length > 0) printTable(out.jobs.map((j) => ({ id: j.id, name: j.name, why: j.reasons.join('; ') })), ['id', 'name', 'why']);
      }),
    );

  createCommand(subcommand(wf, 'create', 'Store a workflow from a spec file without running it; prints its id'), withBackend);
  submitCommand(
    subcommand(wf, 'submit', 'Start a stored workflow: initialize its jobs (refused when required files are missing) and submit the allocations of its on_workflow_start schedule_nodes actions'),
    withBackend,
  );
  deleteCommand(subcommand(wf, 'delete', 'Delete workflows and everything in them (asks first on a terminal)'), withBackend);
  exportCommand(subcommand(wf, 'export', "torc's export document of a workflow (all records with ids; JSON), or with --spec the workflow as a spec file"), withBackend);
  importCommand(subcommand(wf, 'import', "A new workflow from torc's export document (a file, or - for stdin); jobs start uninitialized"), withBackend);
}
