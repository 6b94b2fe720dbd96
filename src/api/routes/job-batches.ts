/**
 * Bulk start_job / complete_job (our extension of torc's API, issue 9): a runner that claimed
 * or finished several jobs reports them in one request and one store transaction instead of
 * one round trip each. Same checks as the single routes, item by item: the answer says, per
 * job, whether it was done or refused with the status the single route would have answered
 * (400, 404, 409); refused items change nothing, the others are applied together.
 */
import type { CompleteJobResult } from '../../contract/client.js';
import { bulkResult } from '../../store/runner-client.js';
import { p } from '../params.js';
import type { ApiRoute } from './common.js';

const WF_ID = p.id('id', 'Workflow id');
const RUN_ID = p.id('run_id', "The workflow's current run id (GET /workflows/{id}/status)");

interface CompleteItemBody extends CompleteJobResult {
  job_id: number;
  status: number | string;
}

export const jobBatchRoutes: ApiRoute[] = [
  {
    operationId: 'start_jobs',
    method: 'POST',
    path: '/workflows/{id}/start_jobs/{run_id}/{compute_node_id}',
    summary: 'Bulk start_job: pending → running on the compute node, for each listed job of the workflow; per-job results',
    mutating: true,
    params: [WF_ID, RUN_ID, p.id('compute_node_id', 'The registered compute node that runs the jobs')],
    body: {
      kind: 'json',
      schema: 'start_jobs_request',
      required: true,
      description: 'The jobs to start',
      example: { job_ids: [1, 2, 3], attempt_ids: [1, 1, 2] },
    },
    errors: [404],
    response: { status: 200, schema: 'bulk_jobs_response', description: 'One result per job, in request order' },
    handler: async ({ deps, params, body }) => {
      const { job_ids: ids, attempt_ids: attempts } = body as { job_ids: number[]; attempt_ids?: number[] };
      const out = await deps.store.startJobs(ids, params.run_id as number, params.compute_node_id as number, params.id as number, attempts);
      return { items: out.map((o, i) => bulkResult(ids[i]!, o)) };
    },
  },
  {
    operationId: 'complete_jobs',
    method: 'POST',
    path: '/workflows/{id}/complete_jobs/{run_id}',
    summary:
      'Bulk complete_job: running → completed / failed / canceled / terminated / pending_failed with results, for each listed job of the workflow; one cascade for all; per-job results',
    mutating: true,
    params: [WF_ID, RUN_ID],
    body: {
      kind: 'json',
      schema: 'complete_jobs_request',
      required: true,
      description: 'The results of the runs',
      example: { jobs: [{ job_id: 1, status: 'completed', return_code: 0, exec_time_minutes: 0.5, completion_time: '2026-01-01T12:00:00Z' }] },
    },
    errors: [404],
    response: { status: 200, schema: 'bulk_jobs_response', description: 'One result per job, in request order' },
    handler: async ({ deps, params, body }) => {
      const items = (body as { jobs: CompleteItemBody[] }).jobs;
      const out = await deps.store.completeJobs(
        items.map(({ job_id, status, ...result }) => ({ job_id, status, run_id: params.run_id as number, result })),
        params.id as number,
      );
      if (out.items.some((o) => o.ok)) await deps.store.fireWaitingActionTriggers(params.id as number);
      return { items: out.items.map((o, i) => bulkResult(items[i]!.job_id, o)) };
    },
  },
];
