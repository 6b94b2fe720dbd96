/** Workflows: torc's CRUD, status, initialize_jobs, cancel, reset_status, is_complete; actions and reinitialize (actions.ts). */
import { DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES, type Plan, type PlanSettings, type SortMethod } from '../../spec/plan.js';
import { p, type Params } from '../params.js';
import { pageView, workflowStatusView, workflowView } from '../views.js';
import { actionRoutes } from './actions.js';
import { PAGING, paging, type ApiRoute } from './common.js';

const ID = p.id('id', 'Workflow id');

interface WorkflowCreateBody {
  name: string;
  user?: string | null;
  description?: string | null;
  jobs_sort_method?: SortMethod;
  use_pending_failed?: boolean;
  compute_node_expiration_buffer_seconds?: number;
  compute_node_wait_for_new_jobs_seconds?: number;
  compute_node_ignore_workflow_completion?: boolean;
  compute_node_wait_for_healthy_database_minutes?: number;
}

/** torc's create_workflow makes an empty workflow; its jobs come later (we take them from a spec). */
function emptyPlan(body: WorkflowCreateBody): Plan {
  const settings: PlanSettings = {
    jobs_sort_method: body.jobs_sort_method ?? 'gpus_runtime_memory',
    use_pending_failed: body.use_pending_failed ?? false,
    compute_node_expiration_buffer_seconds: body.compute_node_expiration_buffer_seconds ?? 60,
    compute_node_wait_for_new_jobs_seconds: body.compute_node_wait_for_new_jobs_seconds ?? 90,
    compute_node_ignore_workflow_completion: body.compute_node_ignore_workflow_completion ?? false,
    compute_node_wait_for_healthy_database_minutes: body.compute_node_wait_for_healthy_database_minutes ?? DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES,
    schedule: null,
    default_image: null,
    resource_monitor: null,
  };
  return {
    name: body.name,
    user: body.user ?? null,
    description: body.description ?? null,
    settings,
    jobs: [],
    resource_classes: [],
    files: [],
    user_data: [],
    slurm_schedulers: [],
    failure_handlers: [],
    actions: [],
    dep_offsets: new Uint32Array(1),
    dep_targets: new Uint32Array(0),
    spec_hash: '',
  };
}

const id = (params: Params) => params.id as number;

export const workflowRoutes: ApiRoute[] = [
  {
    operationId: 'list_workflows',
    method: 'GET',
    path: '/workflows',
    summary: 'List workflows in creation order',
    mutating: false,
    params: PAGING,
    response: { status: 200, schema: 'list_workflows_response', description: 'A page of workflows' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      return pageView(await deps.store.listWorkflows({ offset, limit }), offset, limit, workflowView);
    },
  },
  {
    operationId: 'create_workflow',
    method: 'POST',
    path: '/workflows',
    summary: 'Create an empty workflow (torc create_workflow); POST /workflow_specs creates one with its jobs',
    mutating: true,
    body: { kind: 'json', schema: 'workflow_create', required: true, description: "torc's workflow model",
      example: { name: 'demo', user: 'alice', description: 'an empty workflow', jobs_sort_method: 'gpus_runtime_memory' },
    },
    response: { status: 200, schema: 'workflow_model', description: 'The stored workflow' },
    handler: async ({ deps, body }) => workflowView(await deps.store.createWorkflowFromPlan(emptyPlan(body as WorkflowCreateBody))),
  },
  {
    operationId: 'get_workflow',
    method: 'GET',
    path: '/workflows/{id}',
    summary: 'Get a workflow',
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'workflow_model', description: 'The workflow' },
    handler: async ({ deps, params }) => workflowView(await deps.store.getWorkflow(id(params))),
  },
  {
    operationId: 'delete_workflow',
    method: 'DELETE',
    path: '/workflows/{id}',
    summary: 'Delete a workflow and everything in it',
    mutating: true,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'workflow_model', description: 'The deleted workflow' },
    handler: async ({ deps, params }) => {
      const wf = await deps.store.getWorkflow(id(params));
      await deps.store.deleteWorkflow(wf.id);
      return workflowView(wf);
    },
  },
  {
    operationId: 'get_workflow_status',
    method: 'GET',
    path: '/workflows/{id}/status',
    summary: 'Run id, cancellation, completion, counts by job status, phase and conditions',
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'workflow_status_model', description: 'The status' },
    handler: async ({ deps, params }) => workflowStatusView(await deps.store.getStatus(id(params))),
  },
  {
    operationId: 'is_workflow_complete',
    method: 'GET',
    path: '/workflows/{id}/is_complete',
    summary: 'Whether every job is in a terminal state',
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'is_complete_response', description: 'Completion' },
    handler: async ({ deps, params }) => {
      const s = await deps.store.getStatus(id(params));
      return { is_complete: s.is_complete, is_canceled: s.is_canceled, needs_to_run_completion_script: false };
    },
  },
  {
    operationId: 'initialize_jobs',
    method: 'POST',
    path: '/workflows/{id}/initialize_jobs',
    summary: 'Uninitialized jobs become ready (nothing to wait for) or blocked',
    mutating: true,
    params: [
      ID,
      p.queryBool('only_uninitialized', 'Accepted for torc compatibility: only uninitialized jobs are ever initialized'),
      p.queryBool('clear_ephemeral_user_data', 'Accepted for torc compatibility; ignored'),
    ],
    errors: [404],
    response: { status: 200, schema: 'initialize_jobs_response', description: 'How many jobs became ready, blocked or canceled' },
    handler: async ({ deps, params }) => ({ workflow_id: id(params), ...(await deps.store.initializeJobs(id(params))) }),
  },
  ...(['PUT', 'POST'] as const).map(
    (method): ApiRoute => ({
      operationId: method === 'PUT' ? 'cancel_workflow' : 'cancel_workflow_post',
      method,
      path: '/workflows/{id}/cancel',
      summary: `Cancel every job that has not started; running jobs are listed for their runners to stop${method === 'POST' ? ' (POST alias of torc\'s PUT)' : ''}`,
      mutating: true,
      params: [ID],
      errors: [404],
      response: { status: 200, schema: 'cancel_workflow_response', description: 'What was canceled' },
      handler: async ({ deps, params }) => ({ workflow_id: id(params), ...(await deps.store.cancelWorkflow(id(params))) }),
    }),
  ),
  ...(['reset_status', 'reset_job_status'] as const).map(
    (name): ApiRoute => ({
      operationId: name === 'reset_status' ? 'reset_workflow_status' : 'reset_job_status',
      method: 'POST',
      path: `/workflows/{id}/${name}`,
      summary: 'Jobs back to uninitialized (all, or failed ones and everything downstream); starts a new run_id',
      mutating: true,
      params: [
        ID,
        p.queryBool('failed_only', 'Only failed / canceled / terminated jobs and their dependents', false),
        ...(name === 'reset_status' ? [p.queryBool('force', 'Accepted for torc compatibility; ignored')] : []),
      ],
      errors: [404],
      response: { status: 200, schema: 'reset_status_response', description: 'How many jobs were reset' },
      handler: async ({ deps, params }) => {
        const failedOnly = params.failed_only as boolean;
        const out = await deps.store.resetStatus(id(params), { failedOnly });
        return {
          workflow_id: id(params),
          run_id: out.run_id,
          updated_count: out.reset,
          status: 'uninitialized',
          reset_type: failedOnly ? 'failed_only' : 'all',
        };
      },
    }),
  ),
  ...actionRoutes,
];
