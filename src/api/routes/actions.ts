/**
 * Workflow actions (torc's /workflows/{id}/actions…): list, pending, and the atomic claim, plus
 * process_changed_job_inputs (reinitialize). Spread into the workflow routes.
 */
import { TRIGGER_TYPES, type ActionInput } from '../../store/actions.js';
import { InputError } from '../../errors.js';
import type { FileObservation } from '../../contract/client.js';
import { p } from '../params.js';
import { actionView } from '../views.js';
import type { ApiRoute } from './common.js';

const WF_ID = p.id('id', 'Workflow id');

export const actionRoutes: ApiRoute[] = [
  {
    operationId: 'get_workflow_actions',
    method: 'GET',
    path: '/workflows/{id}/actions',
    summary: 'Every action of a workflow with its trigger and claim state in the current run',
    mutating: false,
    params: [WF_ID],
    errors: [404],
    response: { status: 200, schema: 'list_actions_response', description: 'The actions' },
    handler: async ({ deps, params }) => {
      const wf = await deps.store.getWorkflow(params.id as number);
      return (await deps.store.listActions(wf.id)).map((a) => actionView(a, wf.run_id));
    },
  },
  {
    operationId: 'get_pending_actions',
    method: 'GET',
    path: '/workflows/{id}/actions/pending',
    summary: 'Actions whose trigger fired in the current run and that are not claimed yet (persistent ones stay listed); none for a canceled workflow',
    mutating: false,
    params: [
      WF_ID,
      { name: 'trigger_type', in: 'query', kind: 'string_array', enum: TRIGGER_TYPES, description: 'Only actions with these triggers (repeat the parameter, or separate with commas)' },
    ],
    errors: [404],
    response: { status: 200, schema: 'list_actions_response', description: 'The pending actions' },
    handler: async ({ deps, params }) => {
      const wf = await deps.store.getWorkflow(params.id as number);
      const triggers = params.trigger_type as string[] | undefined;
      return (await deps.store.listPendingActions(wf.id, triggers)).map((a) => actionView(a, wf.run_id));
    },
  },
  {
    operationId: 'create_workflow_action',
    method: 'POST',
    path: '/workflows/{id}/actions',
    summary: "Add an action to a workflow (torc's workflow_action_model: settings under action_config)",
    mutating: true,
    params: [WF_ID],
    body: {
      kind: 'json',
      schema: 'workflow_action_input',
      required: true,
      description: "torc's workflow_action_model",
      example: { workflow_id: 1, trigger_type: 'on_workflow_complete', action_type: 'run_commands', action_config: { commands: ['echo done'] } },
    },
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'workflow_action_model', description: 'The stored action' },
    handler: async ({ deps, params, body }) => {
      const wf = await deps.store.getWorkflow(params.id as number);
      const b = body as { workflow_id: number; trigger_type: string; action_type: string; action_config: Record<string, unknown>; job_ids?: number[] | null; persistent?: boolean | null };
      if (b.workflow_id !== wf.id) throw new InputError(`the path names workflow ${wf.id}, the body ${b.workflow_id}`, 'workflow_id');
      const action = await deps.store.createAction(wf.id, actionInput(b));
      return actionView(action, wf.run_id);
    },
  },
  {
    operationId: 'claim_action',
    method: 'POST',
    path: '/workflows/{id}/actions/{action_id}/claim',
    summary:
      'Atomically claim a pending action before running it: of concurrent claimers exactly one wins, the others get 409 (a persistent action: once per claimer and run)',
    mutating: true,
    params: [WF_ID, p.id('action_id', 'Action id')],
    body: {
      kind: 'json',
      schema: 'claim_action_request',
      required: true,
      description: 'Who claims: a compute node (torc) or a named claimer',
      example: { claimer: 'reconciler@login1:4242' },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'claim_action_response', description: 'The claim succeeded' },
    handler: async ({ deps, params, body }) => {
      const b = body as { compute_node_id?: number | null; claimer?: string };
      const out = await deps.store.claimAction(params.id as number, params.action_id as number, b);
      const wf = await deps.store.getWorkflow(params.id as number);
      return { ...out, action: actionView(out.action, wf.run_id) };
    },
  },
  {
    operationId: 'process_changed_job_inputs',
    method: 'POST',
    path: '/workflows/{id}/process_changed_job_inputs',
    summary:
      'Reinitialize: completed jobs whose inputs changed (files as observed by the caller, command, input user data) go back to uninitialized with everything downstream, in a new run, and are initialized. 409 when jobs would be reset while others are pending or running',
    mutating: true,
    params: [WF_ID, p.queryBool('dry_run', 'Report what would be reset, change nothing', false)],
    body: {
      kind: 'json',
      schema: 'process_changed_job_inputs_request',
      required: false,
      description: "Files' modification times as seen where the jobs run (GET /files lists them); without it only command and user-data changes are found",
      example: { files: [] },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'process_changed_job_inputs_response', description: 'The jobs reset (or that would be)' },
    handler: ({ deps, params, body }) =>
      deps.store.reinitialize(params.id as number, {
        dryRun: params.dry_run as boolean,
        files: (body as { files?: FileObservation[] } | undefined)?.files,
      }),
  },
];

/** torc's action_config → our columns, each setting checked and named (`action_config.commands[0]`). */
function actionInput(b: { trigger_type: string; action_type: string; action_config: Record<string, unknown>; job_ids?: number[] | null; persistent?: boolean | null }): ActionInput {
  const c = b.action_config;
  const at = (k: string) => `action_config.${k}`;
  const commands = c.commands ?? [];
  if (!Array.isArray(commands) || !commands.every((x) => typeof x === 'string')) throw new InputError('expected a list of command strings', at('commands'));
  if (b.action_type === 'run_commands' && commands.length === 0) throw new InputError('run_commands needs at least one command', at('commands'));
  const int = (k: string, min: number): number | null => {
    const v = c[k];
    if (v === undefined || v === null) return null;
    if (!Number.isSafeInteger(v) || (v as number) < min) throw new InputError(`expected a whole number ≥ ${min}`, at(k));
    return v as number;
  };
  const schedulerType = c.scheduler_type ?? null;
  if (schedulerType !== null && typeof schedulerType !== 'string') throw new InputError('expected a string', at('scheduler_type'));
  if (b.action_type === 'schedule_nodes' && schedulerType === null) throw new InputError('schedule_nodes needs a scheduler_type (slurm, local, …)', at('scheduler_type'));
  const perNode = c.start_one_worker_per_node ?? false;
  if (typeof perNode !== 'boolean') throw new InputError('expected true or false', at('start_one_worker_per_node'));
  return {
    trigger_type: b.trigger_type,
    action_type: b.action_type,
    commands: commands as string[],
    scheduler_id: int('scheduler_id', 0),
    scheduler_type: schedulerType as string | null,
    num_allocations: int('num_allocations', 1) ?? 1,
    start_one_worker_per_node: perNode,
    max_parallel_jobs: int('max_parallel_jobs', 1),
    job_ids: b.job_ids ?? [],
    persistent: b.persistent ?? false,
  };
}
