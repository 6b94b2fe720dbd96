/** Read-mostly records of a workflow: results, events, resource requirements, Slurm schedulers, failure handlers, files. */
import { p } from '../params.js';
import { eventView, failureHandlerView, fileView, pageOfList, pageView, resourceRequirementsView, resultView, slurmSchedulerView } from '../views.js';
import { PAGING, WORKFLOW_FILTER, paging, type ApiRoute } from './common.js';

export const recordRoutes: ApiRoute[] = [
  {
    operationId: 'list_results',
    method: 'GET',
    path: '/results',
    summary: 'Results (one per finished run of a job) of a workflow',
    mutating: false,
    params: [WORKFLOW_FILTER, p.queryInt('job_id', 'Only results of this job'), ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_results_response', description: 'A page of results' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const page = await deps.store.listResults(workflowId, { offset, limit, jobId: params.job_id as number | undefined });
      return pageView(page, offset, limit, resultView);
    },
  },
  {
    operationId: 'list_events',
    method: 'GET',
    path: '/events',
    summary: 'Events of a workflow in order',
    mutating: false,
    params: [WORKFLOW_FILTER, p.queryInt('after_id', 'Only events with a larger id (for polling)'), ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_events_response', description: 'A page of events' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const page = await deps.store.listEvents(workflowId, { offset, limit, afterId: params.after_id as number | undefined });
      return pageView(page, offset, limit, eventView);
    },
  },
  {
    operationId: 'create_event',
    method: 'POST',
    path: '/events',
    summary: 'Record an event of a workflow',
    mutating: true,
    body: { kind: 'json', schema: 'event_create', required: true, description: 'The event',
      example: { workflow_id: 1, category: 'note', data: { message: 'checkpoint written' } },
    },
    errors: [404],
    response: { status: 200, schema: 'event_model', description: 'The stored event' },
    handler: async ({ deps, body }) => {
      const b = body as { workflow_id: number; category?: string; data?: unknown };
      return eventView(await deps.store.appendEvent(b.workflow_id, b.category ?? 'user', b.data ?? null));
    },
  },
  {
    operationId: 'list_resource_requirements',
    method: 'GET',
    path: '/resource_requirements',
    summary: 'Resource requirements of a workflow (memory and runtime in torc form and in bytes / seconds)',
    mutating: false,
    params: [WORKFLOW_FILTER, ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_resource_requirements_response', description: 'A page of resource requirements' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const all = await deps.store.listResourceRequirements(workflowId);
      return pageView(pageOfList(all, offset, limit), offset, limit, resourceRequirementsView);
    },
  },
  {
    operationId: 'list_slurm_schedulers',
    method: 'GET',
    path: '/slurm_schedulers',
    summary: 'Slurm schedulers of a workflow (their ids are the scheduler_config_id runners claim with)',
    mutating: false,
    params: [WORKFLOW_FILTER, ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_slurm_schedulers_response', description: 'A page of Slurm schedulers' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const all = await deps.store.listSlurmSchedulers(workflowId);
      return pageView(pageOfList(all, offset, limit), offset, limit, slurmSchedulerView);
    },
  },
  {
    operationId: 'list_failure_handlers',
    method: 'GET',
    path: '/failure_handlers',
    summary: 'Failure handlers of a workflow with their rules',
    mutating: false,
    params: [WORKFLOW_FILTER, ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_failure_handlers_response', description: 'A page of failure handlers' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const all = await deps.store.listFailureHandlers(workflowId);
      return pageView(pageOfList(all, offset, limit), offset, limit, failureHandlerView);
    },
  },
  {
    operationId: 'get_failure_handler',
    method: 'GET',
    path: '/failure_handlers/{id}',
    summary: 'A failure handler with its rules (runners read it when a job with this handler fails)',
    mutating: false,
    params: [p.id('id', 'Failure handler id')],
    errors: [404],
    response: { status: 200, schema: 'failure_handler_model', description: 'The failure handler' },
    handler: async ({ deps, params }) => failureHandlerView(await deps.store.getFailureHandler(params.id as number)),
  },
  {
    operationId: 'list_files',
    method: 'GET',
    path: '/files',
    summary: 'Files of a workflow with the modification time recorded when a job last completed with them',
    mutating: false,
    params: [WORKFLOW_FILTER, ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_files_response', description: 'A page of files' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const all = await deps.store.listFiles(workflowId);
      return pageView(pageOfList(all, offset, limit), offset, limit, fileView);
    },
  },
];
