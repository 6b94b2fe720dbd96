/** Jobs: list by workflow (status, name), get, start_job, complete_job. */
import type { CompleteJobResult, RetryJobRequest } from '../../contract/client.js';
import { p, type ParamSpec } from '../params.js';
import { pageView } from '../views.js';
import { PAGING, WORKFLOW_FILTER, paging, type ApiRoute } from './common.js';

const JOB_ID = p.id('id', 'Job id');
const RUN_ID = p.id('run_id', "The workflow's current run id (GET /workflows/{id}/status)");
const STATUS: ParamSpec = {
  name: 'status',
  in: 'path',
  required: true,
  kind: 'job_status',
  description: 'Final status: completed, failed, canceled, terminated or pending_failed (name or code)',
};

export const jobRoutes: ApiRoute[] = [
  {
    operationId: 'list_jobs',
    method: 'GET',
    path: '/jobs',
    summary: 'Jobs of a workflow in queue order, optionally by status and exact name',
    mutating: false,
    params: [
      WORKFLOW_FILTER,
      { name: 'status', in: 'query', kind: 'job_status', description: 'Only jobs in this status (name or code)' },
      p.queryString('name', 'Only jobs with exactly this name'),
      ...PAGING,
    ],
    errors: [404],
    response: { status: 200, schema: 'list_jobs_response', description: 'A page of jobs' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const page = await deps.store.listJobs(params.workflow_id as number, {
        status: params.status as number | undefined,
        name: params.name as string | undefined,
        offset,
        limit,
      });
      return pageView(page, offset, limit, (j) => j);
    },
  },
  {
    operationId: 'get_job',
    method: 'GET',
    path: '/jobs/{id}',
    summary: 'Get a job',
    mutating: false,
    params: [JOB_ID],
    errors: [404],
    response: { status: 200, schema: 'job_model', description: 'The job' },
    handler: ({ deps, params }) => deps.store.getJob(params.id as number),
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
      handler: ({ deps, params }) =>
        deps.store.startJob(params.id as number, params.run_id as number, params.compute_node_id as number, params.attempt_id as number | undefined),
    }),
  ),
  {
    operationId: 'complete_job',
    method: 'POST',
    path: '/jobs/{id}/complete_job/{status}/{run_id}',
    summary:
      'running → completed / failed / canceled / terminated / pending_failed with a result; unblocks or cancels dependents. Idempotent by job, run and attempt (attempt_id): the same report sent again answers 200 with the job as recorded, nothing applied twice. 409 (nothing changed) on a wrong run_id, a stale attempt (the job was requeued) or a job not running',
    mutating: true,
    params: [JOB_ID, STATUS, RUN_ID],
    body: { kind: 'json', schema: 'complete_job_request', required: true, description: 'The result of the run',
      example: { return_code: 0, exec_time_minutes: 1.5, completion_time: '2026-01-01T12:00:00Z' },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'job_model', description: 'The job in its final status' },
    handler: async ({ deps, params, body }) => {
      const out = await deps.store.completeJob(params.id as number, params.status as number, params.run_id as number, body as CompleteJobResult);
      return out.job;
    },
  },
  {
    operationId: 'retry_job',
    method: 'POST',
    path: '/jobs/{id}/retry/{run_id}',
    summary:
      "A running job's failed attempt that its failure handler retries: the result is recorded, requirements raised per the rule's multipliers (capped by what runners offer), and the job goes back to ready with attempt + 1. 409 (nothing changed) when the rules do not retry it, the run_id is stale, the job is not running or the workflow is canceled",
    mutating: true,
    params: [JOB_ID, RUN_ID, p.queryInt('max_retries', "torc's check: refuse when the failed attempt is past it")],
    body: {
      kind: 'json',
      schema: 'retry_job_request',
      required: true,
      description: 'The failed attempt',
      example: { return_code: 1, exec_time_minutes: 0.5, completion_time: '2026-01-01T12:00:00Z', status: 'failed' },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'job_model', description: 'The job, ready again' },
    handler: async ({ deps, params, body }) => {
      const req: RetryJobRequest = { ...(body as RetryJobRequest), max_retries: params.max_retries as number | undefined };
      const out = await deps.store.retryJob(params.id as number, params.run_id as number, req);
      return out.job;
    },
  },
];
