/**
 * Resource monitoring and recovery (issue 22): the time-series samples runners report
 * (torc's job_resource_samples; torc keeps them in a file per run and has no route, so these
 * are ours under the same base path), and `torc recover` as one call.
 */
import { p } from '../params.js';
import { pageView } from '../views.js';
import { PAGING, paging, type ApiRoute } from './common.js';
import type { ResourceSample } from '../../contract/resources.js';
import { DEFAULT_RECOVERY } from '../../allocator/recovery.js';

const ID = p.id('id', 'Workflow id');

export const monitoringRoutes: ApiRoute[] = [
  {
    operationId: 'list_job_resource_samples',
    method: 'GET',
    path: '/workflows/{id}/job_resource_samples',
    summary: "Time-series resource samples of the workflow's jobs (granularity time_series), by job, run, attempt and time",
    mutating: false,
    params: [
      ID,
      p.queryInt('job_id', 'Only samples of this job'),
      p.queryInt('run_id', 'Only samples of this run'),
      p.queryInt('attempt_id', 'Only samples of this attempt'),
      ...PAGING,
    ],
    errors: [404],
    response: { status: 200, schema: 'list_job_resource_samples_response', description: 'A page of samples' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const page = await deps.store.listResourceSamples(params.id as number, {
        offset,
        limit,
        job_id: params.job_id as number | undefined,
        run_id: params.run_id as number | undefined,
        attempt_id: params.attempt_id as number | undefined,
      });
      return pageView(page, offset, limit, (s) => s);
    },
  },
  {
    operationId: 'create_job_resource_samples',
    method: 'POST',
    path: '/workflows/{id}/job_resource_samples',
    summary: 'Store resource samples of job attempts (a runner reports them as it takes them)',
    mutating: true,
    params: [ID],
    body: {
      kind: 'json',
      schema: 'job_resource_samples_request',
      required: true,
      description: 'Samples of jobs of this workflow',
      example: { samples: [{ job_id: 1, run_id: 1, attempt_id: 1, timestamp: 1767225600.5, cpu_percent: 98.5, memory_bytes: 314572800, num_processes: 2 }] },
    },
    errors: [404],
    response: { status: 200, schema: 'job_resource_samples_response', description: 'How many samples were stored' },
    handler: ({ deps, params, body }) => deps.store.recordResourceSamples(params.id as number, (body as { samples: ResourceSample[] }).samples),
  },
  {
    operationId: 'recover_workflow',
    method: 'POST',
    path: '/workflows/{id}/recover',
    summary: "torc recover: raise failed jobs' memory (likely_oom) or runtime (likely_timeout) and run them again with their downstream, in a new run",
    mutating: true,
    params: [ID, p.queryBool('dry_run', 'Only answer the plan', false)],
    body: {
      kind: 'json',
      schema: 'recover_request',
      required: false,
      description: 'Recovery options (defaults: memory and runtime × 1.5, unknown failures left alone)',
      example: { memory_multiplier: 1.5, runtime_multiplier: 1.5, retry_unknown: false },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'recover_response', description: 'What each failed job got' },
    handler: ({ deps, params, body }) => {
      const b = (body ?? {}) as Partial<typeof DEFAULT_RECOVERY>;
      return deps.store.recoverWorkflow(params.id as number, { ...DEFAULT_RECOVERY, ...b }, params.dry_run as boolean);
    },
  },
];
