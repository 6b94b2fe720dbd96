/**
 * `torc workflows create FILE`, `torc workflows submit WF`, `torc workflows delete WF…`: torc's
 * commands to store a workflow from a spec file without running it, to start it (initialize,
 * then the on_workflow_start schedule_nodes actions submit their Slurm allocations), and to
 * delete workflows.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { InputError } from '../../errors.js';
import { missingFiles } from '../../reconciler/required-files.js';
import { allPages, type BackendFlags, type WorkflowBackend } from '../backend.js';
import { parseId, printJson, printTable, printWarnings, type OutputFormat } from '../output.js';

type WithBackend = (flags: BackendFlags & { format?: string }, fn: (b: WorkflowBackend, format: OutputFormat) => Promise<number | void>) => Promise<void>;

interface CreateFlags extends BackendFlags {
  format?: string;
  user?: string;
  dryRun?: boolean;
}

export function createCommand(cmd: Command, withBackend: WithBackend): void {
  cmd
    .argument('<file>', 'workflow spec file (.yaml/.yml, .json, .json5 or .kdl; a Workflow resource or a bare torc spec)')
    .option('-u, --user <user>', "the workflow's owner (default: the spec's user, else $USER)")
    .option('--dry-run', 'validate and plan the spec and say what would be created; create nothing')
    .action((file: string, flags: CreateFlags) =>
      withBackend({ ...flags, createDb: !flags.dryRun }, async (b, format) => {
        if (flags.user !== undefined && flags.user.trim() === '') throw new InputError('must not be empty', '--user');
        const { loadWorkflowFile, planDocument } = await import('../../spec/index.js');
        // Every document is validated and planned before anything is stored.
        const docs = loadWorkflowFile(file);
        const plans = docs.map((doc) => planDocument(doc));
        for (const doc of docs) printWarnings(file, doc.warnings);
        const rows = [];
        for (const [i, doc] of docs.entries()) {
          const spec = { ...doc.spec, user: flags.user ?? doc.spec.user ?? process.env.USER };
          const plan = plans[i]!;
          const summary = { name: plan.name, jobs: plan.jobs.length, files: plan.files.length, user_data: plan.user_data.length, resource_requirements: plan.resource_classes.length };
          if (flags.dryRun) rows.push({ workflow_id: null, ...summary });
          else rows.push({ workflow_id: (await b.createWorkflowFromSpec(spec, file)).workflow_id, ...summary });
        }
        if (format === 'json') return printJson(flags.dryRun ? { dry_run: true, workflows: rows } : rows.length === 1 ? rows[0] : rows);
        if (flags.dryRun) process.stdout.write('dry run: nothing created\n');
        printTable(rows, ['workflow_id', 'name', 'jobs', 'files', 'user_data', 'resource_requirements']);
      }),
    );
}

interface SubmitFlags extends BackendFlags {
  format?: string;
  force?: boolean;
  cwd?: string;
  outputDir: string;
}

export function submitCommand(cmd: Command, withBackend: WithBackend): void {
  cmd
    .argument('<wf>', 'workflow id')
    .option('--force', 'start even when required input files are missing')
    .option('--cwd <dir>', "directory the jobs' relative file paths are resolved in (default: the current one)")
    .option('--output-dir <dir>', 'where the sbatch script and Slurm output go', 'torc_output')
    .action((id: string, flags: SubmitFlags) =>
      withBackend(flags, async (b, format) => {
        const workflowId = parseId(id, 'workflow id', 'WF');
        const actions = (await b.listActions(workflowId)).filter((a) => a.trigger_type === 'on_workflow_start' && a.action_type === 'schedule_nodes');
        if (actions.length === 0) {
          throw new InputError(
            `workflow ${workflowId} has no on_workflow_start action with schedule_nodes: submit starts its allocations (run it here with torc reconcile, or start runners with torc run ${workflowId} --url …)`,
            'WF',
          );
        }
        const slurmActions = actions.filter((a) => (a.action_config as { scheduler_type?: string }).scheduler_type === 'slurm');
        if (slurmActions.length > 0 && !b.servesSlurmWorkers) {
          throw new InputError('Slurm workers claim their jobs from a server: submit with --url (torc server), not --db', '--db');
        }
        const status = await b.getWorkflowStatus(workflowId);
        let initialized = false;
        if (status.counts.uninitialized > 0) {
          // As torc: a workflow whose required files are missing is not started.
          if (!flags.force) {
            const required = new Set(await b.listRequiredExistingFiles(workflowId));
            const files = (await allPages((offset, limit) => b.listFiles(workflowId, { offset, limit }))).filter((f) => required.has(f.id));
            const missing = await missingFiles(files, resolve(flags.cwd ?? process.cwd()));
            if (missing.length > 0) {
              throw new InputError(missing.map((f) => ({ path: `files.${f.name}`, message: `Missing required files: "${f.path}" (file ${f.id}) does not exist; no job writes it (--force starts anyway)` })));
            }
          }
          await b.initializeJobs(workflowId);
          initialized = true;
        }
        const submitted = [];
        for (const action of actions) {
          const type = (action.action_config as { scheduler_type?: string }).scheduler_type;
          if (type !== 'slurm') {
            submitted.push({ action: action.id, scheduler_type: type, result: 'left to the runner that serves it (not a Slurm action)' });
            continue;
          }
          const claimed = await b.claimAction(workflowId, action.id, `submit@${process.pid}`);
          if (!claimed) {
            submitted.push({ action: action.id, scheduler_type: type, result: 'already claimed' });
            continue;
          }
          const config = action.action_config as { scheduler_id?: number; num_allocations?: number; max_parallel_jobs?: number; start_one_worker_per_node?: boolean };
          const out = await b.submitSlurmAllocations(workflowId, {
            schedulerConfigId: config.scheduler_id!,
            count: config.num_allocations ?? 1,
            maxParallelJobs: config.max_parallel_jobs ?? null,
            startOneWorkerPerNode: config.start_one_worker_per_node ?? false,
            outputDir: resolve(flags.outputDir),
          });
          submitted.push({ action: action.id, scheduler_type: type, result: `submitted Slurm allocation(s) ${out.slurm_job_ids.join(', ')}` });
        }
        if (format === 'json') return printJson({ workflow_id: workflowId, initialized, actions: submitted });
        process.stdout.write(`workflow ${workflowId}: ${initialized ? 'initialized' : 'already initialized'}\n`);
        printTable(submitted, ['action', 'scheduler_type', 'result']);
      }),
    );
}

interface DeleteFlags extends BackendFlags {
  format?: string;
  noPrompts?: boolean;
  prompts?: boolean;
  force?: boolean;
}

export function deleteCommand(cmd: Command, withBackend: WithBackend): void {
  cmd
    .argument('<wf...>', 'workflow ids')
    .option('--no-prompts', 'do not ask for confirmation (asked only on a terminal)')
    .option('--force', "accepted for torc's command line (workflows are not owned per user here)")
    .action((ids: string[], flags: DeleteFlags) =>
      withBackend(flags, async (b, format) => {
        const workflowIds = ids.map((id) => parseId(id, 'workflow id', 'WF'));
        const workflows = await Promise.all(workflowIds.map((id) => b.getWorkflow(id)));
        if (flags.prompts !== false && process.stdin.isTTY && process.stderr.isTTY) {
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(`Delete ${workflows.map((w) => `${w.id} (${w.name})`).join(', ')} and everything in them? [y/N] `);
          rl.close();
          if (!/^y(es)?$/i.test(answer.trim())) {
            process.stderr.write('nothing deleted\n');
            return 1;
          }
        }
        const deleted = [];
        for (const w of workflows) deleted.push(await b.deleteWorkflow(w.id));
        if (format === 'json') return printJson(deleted);
        printTable(deleted.map((w) => ({ id: w.id, name: w.name, deleted: true })), ['id', 'name', 'deleted']);
      }),
    );
}
