/**
 * Workflows: torc's create / list / get / update / delete, status (get and update),
 * is_complete / is_uninitialized, initialize_jobs, cancel, reset_workflow_status and
 * reset_job_status; the graph views (workflow-graph.ts) and actions (actions.ts) are spread in.
 */
import { DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES, type Plan, type PlanSettings, type SortMethod } from '../../spec/plan.js';
import type { WorkflowChanges } from '../../store/index.js';
import { InputError } from '../../errors.js';
import { p, type Params } from '../params.js';
import { pageView, workflowStatusView, workflowView } from '../views.js';
import { actionRoutes } from './actions.js';
import { LIST_SORT, PAGING, paging, type ApiRoute } from './common.js';
import { workflowGraphRoutes } from './workflow-graph.js';

const ID = p.id('id', 'Workflow id');

/** torc's workflow_model as create_workflow / update_workflow take it. */
interface WorkflowBody {
  name?: string;
  user?: string | null;
  description?: string | null;
  jobs_sort_method?: SortMethod | null;
  use_pending_failed?: boolean | null;
  compute_node_expiration_buffer_seconds?: number | null;
  compute_node_wait_for_new_jobs_seconds?: number | null;
  compute_node_ignore_workflow_completion?: boolean | null;
  compute_node_wait_for_healthy_database_minutes?: number | null;
  compute_node_min_time_for_new_jobs_seconds?: number | null;
  resource_monitor_config?: string | null;
  slurm_defaults?: string | null;
}

function jsonObjectField(value: string | null | undefined, field: string): Record<string, unknown> | null | undefined {
  if (value === undefined || value === null) return value;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new InputError('expected a JSON object in a string', field);
}

/** The settings a body sets (undefined: not given). */
function settingsOf(body: WorkflowBody): Partial<PlanSettings> {
  const v = <T>(x: T | null | undefined) => (x === null ? undefined : x);
  const monitor = jsonObjectField(body.resource_monitor_config, 'resource_monitor_config');
  const slurmDefaults = jsonObjectField(body.slurm_defaults, 'slurm_defaults');
  return {
    jobs_sort_method: v(body.jobs_sort_method),
    use_pending_failed: v(body.use_pending_failed),
    compute_node_expiration_buffer_seconds: v(body.compute_node_expiration_buffer_seconds),
    compute_node_wait_for_new_jobs_seconds: v(body.compute_node_wait_for_new_jobs_seconds),
    compute_node_ignore_workflow_completion: v(body.compute_node_ignore_workflow_completion),
    compute_node_wait_for_healthy_database_minutes: v(body.compute_node_wait_for_healthy_database_minutes),
    compute_node_min_time_for_new_jobs_seconds: v(body.compute_node_min_time_for_new_jobs_seconds),
    resource_monitor: monitor === null ? undefined : monitor,
    slurm_defaults: slurmDefaults === null ? undefined : slurmDefaults,
  };
}

/** torc's create_workflow makes an empty workflow; its records and jobs come later (or from a spec: POST /workflow_specs). */
function emptyPlan(body: WorkflowBody): Plan {
  const given = Object.fromEntries(Object.entries(settingsOf(body)).filter(([, x]) => x !== undefined)) as Partial<PlanSettings>;
  const settings: PlanSettings = {
    jobs_sort_method: 'gpus_runtime_memory',
    use_pending_failed: false,
    compute_node_expiration_buffer_seconds: 60,
    compute_node_wait_for_new_jobs_seconds: 90,
    compute_node_ignore_workflow_completion: false,
    compute_node_wait_for_healthy_database_minutes: DEFAULT_WAIT_FOR_HEALTHY_DATABASE_MINUTES,
    schedule: null,
    default_image: null,
    resource_monitor: null,
    ...given,
  };
  return {
    name: body.name!,
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
const WORKFLOW_EXAMPLE = { name: 'demo', user: 'alice', description: 'built record by record', jobs_sort_method: 'gpus_runtime_memory' };

export const workflowRoutes: ApiRoute[] = [
  {
    operationId: 'list_workflows',
    method: 'GET',
    path: '/workflows',
    summary: 'List workflows in creation order, filtered as torc\'s list_workflows',
    mutating: false,
    params: [
      ...PAGING,
      ...LIST_SORT,
      p.queryString('name', 'Only workflows with this name', { maxLength: 1024 }),
      p.queryString('user', 'Only workflows of this user', { maxLength: 1024 }),
      p.queryString('description', 'Only workflows with this description', { maxLength: 65536 }),
      p.queryBool('is_archived', 'Only archived (or only not archived) workflows'),
    ],
    response: { status: 200, schema: 'list_workflows_response', description: 'A page of workflows' },
    handler: async ({ deps, params, grant }) => {
      const { offset, limit } = paging(params);
      const page = await deps.store.listWorkflows({
        offset,
        limit,
        visible_to: grant?.visibleTo,
        name: params.name as string | undefined,
        user: params.user as string | undefined,
        description: params.description as string | undefined,
        is_archived: params.is_archived as boolean | undefined,
        sort_by: params.sort_by as string | undefined,
        reverse_sort: params.reverse_sort as boolean,
      });
      return pageView(page, offset, limit, workflowView);
    },
  },
  {
    operationId: 'create_workflow',
    method: 'POST',
    path: '/workflows',
    summary: 'Create an empty workflow (torc create_workflow); its records and jobs are created next, or POST /workflow_specs creates one whole',
    mutating: true,
    body: { kind: 'json', schema: 'workflow_input', required: true, description: "torc's workflow_model", example: WORKFLOW_EXAMPLE },
    inputErrorStatus: 422,
    response: { status: 200, schema: 'workflow_model', description: 'The stored workflow' },
    // A signed-in user owns what they create, whatever `user` the body names.
    handler: async ({ deps, body, grant }) =>
      workflowView(await deps.store.createWorkflowFromPlan({ ...emptyPlan(body as WorkflowBody), ...(grant?.owner !== undefined ? { user: grant.owner } : {}) })),
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
    operationId: 'update_workflow',
    method: 'PUT',
    path: '/workflows/{id}',
    summary: 'Update a workflow: name, user, description and settings given (a field left out or null keeps its value)',
    mutating: true,
    params: [ID],
    body: { kind: 'json', schema: 'workflow_update', required: true, description: "torc's workflow_model (the fields that change, or all of them)", example: { ...WORKFLOW_EXAMPLE, description: 'renamed' } },
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'workflow_model', description: 'The workflow as stored now' },
    handler: async ({ deps, params, body }) => {
      const b = body as WorkflowBody;
      const changes: WorkflowChanges = {
        name: b.name ?? undefined,
        user: b.user ?? undefined,
        description: b.description ?? undefined,
        settings: settingsOf(b),
      };
      return workflowView(await deps.store.updateWorkflow(id(params), changes));
    },
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
    operationId: 'update_workflow_status',
    method: 'PUT',
    path: '/workflows/{id}/status',
    summary:
      "torc's update_workflow_status: a new run_id (never lower: runners of an older run stay stale), canceled (as cancel) or active again, archived",
    mutating: true,
    params: [ID],
    body: { kind: 'json', schema: 'workflow_status_input', required: true, description: "torc's workflow_status_model", example: { run_id: 2, is_canceled: false } },
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'workflow_status_model', description: 'The status now' },
    handler: async ({ deps, params, body }) => {
      const b = body as { run_id?: number | null; is_canceled?: boolean | null; is_archived?: boolean | null };
      const progress = await deps.store.updateWorkflowStatus(id(params), {
        run_id: b.run_id ?? undefined,
        is_canceled: b.is_canceled ?? undefined,
        is_archived: b.is_archived ?? undefined,
      });
      return workflowStatusView(progress);
    },
  },
  {
    operationId: 'is_workflow_complete',
    method: 'GET',
    path: '/workflows/{id}/is_complete',
    summary: 'Whether every job is in a terminal state (a canceled workflow is complete, as in torc)',
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'is_complete_response', description: 'Completion' },
    handler: async ({ deps, params }) => {
      const s = await deps.store.getStatus(id(params));
      return { is_complete: s.is_complete || s.is_canceled, is_canceled: s.is_canceled, needs_to_run_completion_script: false };
    },
  },
  {
    operationId: 'is_workflow_uninitialized',
    method: 'GET',
    path: '/workflows/{id}/is_uninitialized',
    summary: 'Whether every job is uninitialized or disabled (nothing has been initialized or run)',
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'is_uninitialized_response', description: 'Whether it is uninitialized' },
    handler: async ({ deps, params }) => ({ is_uninitialized: await deps.store.isWorkflowUninitialized(id(params)) }),
  },
  {
    operationId: 'initialize_jobs',
    method: 'POST',
    path: '/workflows/{id}/initialize_jobs',
    summary:
      'Jobs wait for the producers of the files and user data they read; uninitialized jobs become ready (nothing to wait for) or blocked, and the actions whose trigger now holds fire (on_workflow_start). A dependency cycle is refused (422)',
    mutating: true,
    params: [
      ID,
      p.queryBool('only_uninitialized', 'Accepted for torc compatibility: only uninitialized jobs are ever initialized'),
      p.queryBool('clear_ephemeral_user_data', 'Accepted for torc compatibility; ignored'),
    ],
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'initialize_jobs_response', description: 'How many jobs became ready, blocked or canceled' },
    handler: async ({ deps, params }) => {
      const out = await deps.store.initializeJobs(id(params));
      // As torc's server: actions fire as the jobs move, with or without a reconciler watching.
      await deps.store.fireWaitingActionTriggers(id(params));
      return { workflow_id: id(params), ...out };
    },
  },
  ...(['PUT', 'POST'] as const).map(
    (method): ApiRoute => ({
      operationId: method === 'PUT' ? 'cancel_workflow' : 'cancel_workflow_post',
      method,
      path: '/workflows/{id}/cancel',
      summary: `Cancel every job that has not started; running jobs are listed for their runners to stop${method === 'POST' ? " (POST alias of torc's PUT)" : ''}`,
      mutating: true,
      params: [ID],
      errors: [404],
      response: { status: 200, schema: 'cancel_workflow_response', description: 'What was canceled' },
      handler: async ({ deps, params }) => ({ workflow_id: id(params), ...(await deps.store.cancelWorkflow(id(params))) }),
    }),
  ),
  {
    operationId: 'reset_workflow_status',
    method: 'POST',
    path: '/workflows/{id}/reset_status',
    summary:
      "torc's reset_workflow_status: the workflow is active (not canceled) and not archived again; jobs are untouched (reset_job_status resets them). 422 while jobs are pending or running, unless force",
    mutating: true,
    params: [ID, p.queryBool('force', 'Reset even while jobs are pending or running', false)],
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'workflow_status_model', description: 'The status now' },
    handler: async ({ deps, params }) => workflowStatusView(await deps.store.resetWorkflowStatus(id(params), params.force as boolean)),
  },
  {
    operationId: 'reset_job_status',
    method: 'POST',
    path: '/workflows/{id}/reset_job_status',
    summary: 'Jobs back to uninitialized (all, or failed / canceled / terminated ones and everything downstream); starts a new run_id',
    mutating: true,
    params: [ID, p.queryBool('failed_only', 'Only failed / canceled / terminated / pending_failed jobs and their dependents', false)],
    errors: [404],
    response: { status: 200, schema: 'reset_status_response', description: 'How many jobs were reset' },
    handler: async ({ deps, params }) => {
      const failedOnly = params.failed_only as boolean;
      const out = await deps.store.resetStatus(id(params), { failedOnly });
      return { workflow_id: id(params), run_id: out.run_id, updated_count: out.reset, status: 'uninitialized', reset_type: failedOnly ? 'failed_only' : 'all' };
    },
  },
  ...workflowGraphRoutes,
  ...actionRoutes,
];
