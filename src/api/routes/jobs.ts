/**
 * Jobs: torc's create_job / bulk_jobs / update_job / delete_job(s), list and get (with torc's
 * id lists), and the runner's moves — start_job, complete_job, retry_job — plus
 * manage_status_change.
 */
import { statusName } from '../../contract/status.js';
import type { CompleteJobResult, RetryJobRequest } from '../../contract/client.js';
import type { JobInput } from '../../store/index.js';
import { p, type ParamSpec } from '../params.js';
import { jobView, pageView } from '../views.js';
import { PAGING, LIST_SORT, WORKFLOW_FILTER, paging, type ApiRoute } from './common.js';

const JOB_ID = p.id('id', 'Job id');
const RUN_ID = p.id('run_id', "The workflow's current run id (GET /workflows/{id}/status)");
const STATUS = (description: string): ParamSpec => ({ name: 'status', in: 'path', required: true, kind: 'job_status', description });

const JOB_EXAMPLE = { workflow_id: 1, name: 'train', command: 'python train.py', resource_requirements_id: 1, input_file_ids: [1], output_file_ids: [2] };

export const jobRoutes: ApiRoute[] = [
  {
    operationId: 'create_job',
    method: 'POST',
    path: '/jobs',
    summary: 'Create a job (uninitialized) with its relations; without resource_requirements_id it gets the workflow\'s `default` requirements',
    mutating: true,
    body: { kind: 'json', schema: 'job_input', required: true, description: "torc's job_model", example: JOB_EXAMPLE },
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'job_model', description: 'The stored job with its id lists' },
    handler: async ({ deps, body }) => jobView((await deps.store.createJobs([body as JobInput], () => ''))[0]!),
  },
  {
    operationId: 'create_jobs',
    method: 'POST',
    path: '/bulk_jobs',
    summary: 'Create up to 10,000 jobs of one workflow in one transaction (all or nothing)',
    mutating: true,
    body: { kind: 'json', schema: 'jobs_input', required: true, description: "torc's jobs_model", example: { jobs: [JOB_EXAMPLE] } },
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'create_jobs_response', description: 'The stored jobs, in request order' },
    handler: async ({ deps, body }) => ({ jobs: (await deps.store.createJobs((body as { jobs: JobInput[] }).jobs)).map(jobView) }),
  },
  {
    operationId: 'list_jobs',
    method: 'GET',
    path: '/jobs',
    summary: 'Jobs of a workflow in queue order, filtered as torc\'s list_jobs (and by exact name)',
    mutating: false,
    params: [
      WORKFLOW_FILTER,
      { name: 'status', in: 'query', kind: 'job_status', description: 'Only jobs in this status (name or code)' },
      p.queryInt('needs_file_id', 'Only jobs that read this file'),
      p.queryInt('upstream_job_id', 'Only jobs that wait for this job'),
      p.queryString('name', 'Only jobs with exactly this name'),
      p.queryBool('include_relationships', "Add torc's id lists (dependencies, files, user data) to every job", false),
      p.queryInt('active_compute_node_id', 'Only pending or running jobs of this compute node'),
      ...PAGING,
      ...LIST_SORT,
    ],
    errors: [404],
    response: { status: 200, schema: 'list_jobs_response', description: 'A page of jobs' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const filter = {
        status: params.status as number | undefined,
        name: params.name as string | undefined,
        needs_file_id: params.needs_file_id as number | undefined,
        upstream_job_id: params.upstream_job_id as number | undefined,
        active_compute_node_id: params.active_compute_node_id as number | undefined,
        sort_by: params.sort_by as string | undefined,
        reverse_sort: params.reverse_sort as boolean,
        offset,
        limit,
      };
      const workflowId = params.workflow_id as number;
      const page = params.include_relationships ? await deps.store.listJobsWithRelations(workflowId, filter) : await deps.store.listJobs(workflowId, filter);
      return pageView(page, offset, limit, jobView);
    },
  },
  {
    operationId: 'delete_jobs',
    method: 'DELETE',
    path: '/jobs',
    summary: 'Delete every job of a workflow (with their results); 409 while runners hold some',
    mutating: true,
    params: [WORKFLOW_FILTER],
    errors: [404, 409],
    response: { status: 200, schema: 'deleted_count_response', description: 'How many were deleted' },
    handler: async ({ deps, params }) => ({ count: await deps.store.deleteJobs(params.workflow_id as number) }),
  },
  {
    operationId: 'get_job',
    method: 'GET',
    path: '/jobs/{id}',
    summary: "Get a job with torc's id lists",
    mutating: false,
    params: [JOB_ID],
    errors: [404],
    response: { status: 200, schema: 'job_model', description: 'The job' },
    handler: async ({ deps, params }) => jobView(await deps.store.getJobWithRelations(params.id as number)),
  },
  {
    operationId: 'update_job',
    method: 'PUT',
    path: '/jobs/{id}',
    summary:
      "torc's update_job: requirements, scheduler, failure handler and flags at any time; name, command, status and the id lists only while uninitialized (422 otherwise). A field left out keeps its value",
    mutating: true,
    params: [JOB_ID],
    body: { kind: 'json', schema: 'job_update', required: true, description: "torc's job_model (the whole model may be sent back)", example: { resource_requirements_id: 2 } },
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'job_model', description: 'The job as stored now' },
    handler: async ({ deps, params, body }) => jobView(await deps.store.updateJob(params.id as number, body as Partial<JobInput>)),
  },
  {
    operationId: 'delete_job',
    method: 'DELETE',
    path: '/jobs/{id}',
    summary: 'Delete a job with its relations and results; its dependents stop waiting for it. 409 while a runner holds it',
    mutating: true,
    params: [JOB_ID],
    errors: [404, 409],
    response: { status: 200, schema: 'job_model', description: 'The deleted job' },
    handler: async ({ deps, params }) => jobView(await deps.store.deleteJob(params.id as number)),
  },
  ...(['PUT', 'POST'] as const).map(
    (method): ApiRoute => ({
      operationId: method === 'PUT' ? 'start_job' : 'start_job_post',
      method,
      path: '/jobs/{id}/start_job/{run_id}/{compute_node_id}',
      summary: `pending → running on the compute node${method === 'POST' ? " (POST alias of torc's PUT)" : ''}; 409 on a stale run_id or a job not pending`,
      mutating: true,
      params: [
        JOB_ID,
        RUN_ID,
        p.id('compute_node_id', 'The registered compute node that runs the job'),
        p.queryInt('attempt_id', 'The attempt being started: another is refused as stale (409); the same start sent again is acknowledged (200, nothing changed)'),
      ],
      errors: [404, 409],
      response: { status: 200, schema: 'job_model', description: 'The job, now running' },
      handler: async ({ deps, params }) =>
        jobView(await deps.store.startJob(params.id as number, params.run_id as number, params.compute_node_id as number, params.attempt_id as number | undefined)),
    }),
  ),
  {
    operationId: 'complete_job',
    method: 'POST',
    path: '/jobs/{id}/complete_job/{status}/{run_id}',
    summary:
      'running → completed / failed / canceled / terminated / pending_failed with a result; unblocks or cancels dependents. Idempotent by job, run and attempt (attempt_id): the same report sent again answers 200 with the job as recorded, nothing applied twice. 409 (nothing changed) on a wrong run_id, a stale attempt (the job was requeued) or a job not running',
    mutating: true,
    params: [JOB_ID, STATUS('Final status: completed, failed, canceled, terminated or pending_failed (name or code)'), RUN_ID],
    body: {
      kind: 'json',
      schema: 'complete_job_request',
      required: true,
      description: "The result of the run (torc's result_model; its ids and status are taken from the path)",
      example: { return_code: 0, exec_time_minutes: 1.5, completion_time: '2026-01-01T12:00:00Z' },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'job_model', description: 'The job in its final status' },
    handler: async ({ deps, params, body }) => {
      const out = await deps.store.completeJob(params.id as number, params.status as number, params.run_id as number, body as CompleteJobResult);
      // Actions watching this job (or the whole workflow) fire now, as torc's server fires them.
      await deps.store.fireWaitingActionTriggers(out.job.workflow_id);
      return jobView(out.job);
    },
  },
  {
    operationId: 'manage_status_change',
    method: 'PUT',
    path: '/jobs/{id}/manage_status_change/{status}/{run_id}',
    summary:
      "torc's manage_status_change: move a job to a status that needs no result (uninitialized, blocked, ready, pending, running, disabled) with its side effects; completion statuses are complete_job's (422), as is a stale run_id",
    mutating: true,
    params: [JOB_ID, STATUS('The new status'), RUN_ID],
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'job_model', description: 'The job in its new status' },
    handler: async ({ deps, params }) =>
      jobView(await deps.store.manageStatusChange(params.id as number, statusName(params.status as number), params.run_id as number)),
  },
  {
    operationId: 'retry_job',
    method: 'POST',
    path: '/jobs/{id}/retry/{run_id}',
    summary:
      "A failed attempt goes back to ready with attempt_id + 1 (the job running, failed or terminated). torc's check: with max_retries, 422 when attempt_id ≥ max_retries. With a body (the attempt's result) it is recorded, and a job with a failure handler is retried only as its rules say, requirements raised per their multipliers",
    mutating: true,
    params: [JOB_ID, RUN_ID, p.queryInt('max_retries', "torc's check: refuse (422) when the job's attempt_id ≥ max_retries")],
    body: {
      kind: 'json',
      schema: 'retry_job_request',
      required: false,
      description: 'The failed attempt (optional; torc sends none)',
      example: { return_code: 1, exec_time_minutes: 0.5, completion_time: '2026-01-01T12:00:00Z', status: 'failed' },
    },
    inputErrorStatus: 422,
    errors: [404, 409],
    response: { status: 200, schema: 'job_model', description: 'The job, ready again' },
    handler: async ({ deps, params, body }) => {
      const b = (body ?? {}) as Partial<RetryJobRequest>;
      const req: RetryJobRequest = { ...b, max_retries: params.max_retries as number | undefined } as RetryJobRequest;
      const out = await deps.store.retryJob(params.id as number, params.run_id as number, req);
      return jobView(out.job);
    },
  },
];

