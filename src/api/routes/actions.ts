/**
 * Workflow actions (torc's /workflows/{id}/actions…): list, pending, and the atomic claim, plus
 * process_changed_job_inputs (reinitialize). Spread into the workflow routes.
 */
import { TRIGGER_TYPES } from '../../store/actions.js';
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
    params: [WF_ID, p.queryString('trigger_type', 'Only actions with this trigger', { enum: TRIGGER_TYPES })],
    errors: [404],
    response: { status: 200, schema: 'list_actions_response', description: 'The pending actions' },
    handler: async ({ deps, params }) => {
      const wf = await deps.store.getWorkflow(params.id as number);
      const trigger = params.trigger_type as string | undefined;
      return (await deps.store.listPendingActions(wf.id, trigger ? [trigger] : undefined)).map((a) => actionView(a, wf.run_id));
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
