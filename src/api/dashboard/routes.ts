/**
 * The dashboard's JSON routes, in the API's route table (so they are in the OpenAPI document,
 * parameter-checked and, for the one that changes state, behind the bearer token). Their
 * answers use torc's string statuses, `attempt_id` and epoch-ms times (views.ts). The event
 * streams and the static pages are served beside the table (http.ts).
 */
import { InputError } from '../../errors.js';
import { JOB_TABLE_SORTS, MAX_JOB_TABLE_LIMIT, MAX_TIMELINE_BARS, type JobTableSort } from '../../store/dashboard.js';
import { parseStatus } from '../../contract/status.js';
import { p, type Params } from '../params.js';
import type { ApiRoute } from '../routes/common.js';
import { DEFAULT_STDIO_BYTES, MAX_STDIO_BYTES, type StdioStream } from './stdio.js';
import type { DashboardService } from './service.js';

const WF_ID = p.id('id', 'Workflow id');
const JOB_ID = p.id('id', 'Job id');

const service = (deps: { dashboard?: DashboardService }): DashboardService => {
  if (!deps.dashboard) throw new Error('the dashboard service is not configured');
  return deps.dashboard;
};

/** `1,4,7` → [1, 4, 7]; names the parameter on anything else. */
function intList(text: string | undefined, field: string, max = 1000): number[] {
  if (text === undefined || text === '') return [];
  const parts = text.split(',');
  if (parts.length > max) throw new InputError(`at most ${max} values`, field);
  return parts.map((s) => {
    if (!/^\d{1,9}$/.test(s.trim())) throw new InputError(`expected comma-separated whole numbers, got "${s.slice(0, 32)}"`, field);
    return Number(s.trim());
  });
}

function statusList(text: string | undefined): number[] {
  if (text === undefined || text === '') return [];
  return text.split(',').map((s) => {
    const code = parseStatus(s.trim());
    if (code === undefined) throw new InputError(`unknown job status "${s.slice(0, 32)}"`, 'status');
    return code;
  });
}

const ref = (name: string) => name;

export const dashboardRoutes: ApiRoute[] = [
  {
    operationId: 'dashboard_config',
    method: 'GET',
    path: '/dashboard/config',
    summary: 'Dashboard: what the page needs to know about this server (whether actions need the token)',
    mutating: false,
    response: { status: 200, schema: ref('dashboard_config'), description: 'Settings' },
    handler: ({ deps }) => service(deps).config(),
  },
  {
    operationId: 'dashboard_list_workflows',
    method: 'GET',
    path: '/dashboard/workflows',
    summary: 'Dashboard: workflows with phase, counts by status, start and elapsed time',
    mutating: false,
    params: [p.queryInt('offset', 'Skip this many workflows', { default: 0 }), p.queryInt('limit', 'Page size (at most 500)', { default: 100, maximum: 500 })],
    response: { status: 200, schema: ref('dashboard_workflow_page'), description: 'A page of workflow summaries' },
    handler: ({ deps, params, grant }) => service(deps).listWorkflows(params.offset as number, params.limit as number, grant?.visibleTo),
  },
  {
    operationId: 'dashboard_get_workflow',
    method: 'GET',
    path: '/dashboard/workflows/{id}',
    summary: 'Dashboard: one workflow — summary, settings, compute nodes, the newest events',
    mutating: false,
    params: [WF_ID],
    errors: [404],
    response: { status: 200, schema: ref('dashboard_workflow'), description: 'The workflow' },
    handler: ({ deps, params }) => service(deps).workflow(params.id as number),
  },
  {
    operationId: 'dashboard_list_jobs',
    method: 'GET',
    path: '/dashboard/workflows/{id}/jobs',
    summary: 'Dashboard: a page of the job table, filtered, sorted and paged in the database (indexed; usable at 1M jobs)',
    mutating: false,
    params: [
      WF_ID,
      p.queryString('status', 'Only these statuses: names or codes, comma-separated', { maxLength: 256 }),
      p.queryString('q', 'Only jobs whose name contains this text (case-insensitive)', { maxLength: 256 }),
      p.queryString('sort', 'Sort key', { enum: JOB_TABLE_SORTS, default: 'id' }),
      p.queryString('order', 'Sort order', { enum: ['asc', 'desc'], default: 'asc' }),
      p.queryInt('offset', 'Skip this many jobs', { default: 0 }),
      p.queryInt('limit', `Page size (at most ${MAX_JOB_TABLE_LIMIT})`, { default: 50, maximum: MAX_JOB_TABLE_LIMIT }),
    ],
    errors: [404],
    response: { status: 200, schema: ref('dashboard_job_page'), description: 'A page of jobs' },
    handler: ({ deps, params }) =>
      service(deps).jobs(params.id as number, {
        statuses: statusList(params.status as string | undefined),
        text: (params.q as string | undefined) || undefined,
        sort: params.sort as JobTableSort,
        descending: params.order === 'desc',
        offset: params.offset as number,
        limit: params.limit as number,
      }),
  },
  {
    operationId: 'dashboard_get_dag',
    method: 'GET',
    path: '/dashboard/workflows/{id}/dag',
    summary: 'Dashboard: the DAG with jobs grouped by name pattern (a parameter sweep is one node); expand=1,4 shows those groups\' jobs',
    mutating: false,
    params: [WF_ID, p.queryString('expand', 'Group indices to show as jobs, comma-separated', { maxLength: 4096 })],
    errors: [404],
    response: { status: 200, schema: ref('dashboard_dag'), description: 'Nodes and edges to draw' },
    handler: ({ deps, params }) => service(deps).dag(params.id as number, intList(params.expand as string | undefined, 'expand')),
  },
  {
    operationId: 'dashboard_get_timeline',
    method: 'GET',
    path: '/dashboard/workflows/{id}/timeline',
    summary: 'Dashboard: job attempts per compute node over time (running jobs and the newest finished attempts)',
    mutating: false,
    params: [WF_ID, p.queryInt('limit', `Most bars (at most ${MAX_TIMELINE_BARS})`, { default: 2000, minimum: 1, maximum: MAX_TIMELINE_BARS })],
    errors: [404],
    response: { status: 200, schema: ref('dashboard_timeline'), description: 'Bars and compute nodes' },
    handler: ({ deps, params }) => service(deps).timeline(params.id as number, params.limit as number),
  },
  {
    operationId: 'dashboard_get_throughput',
    method: 'GET',
    path: '/dashboard/workflows/{id}/throughput',
    summary: 'Dashboard: finished attempts over time by status',
    mutating: false,
    params: [WF_ID, p.queryInt('buckets', 'Number of time buckets (at most 1000)', { default: 120, minimum: 1, maximum: 1000 })],
    errors: [404],
    response: { status: 200, schema: ref('dashboard_throughput'), description: 'Counts per bucket' },
    handler: ({ deps, params }) => service(deps).throughput(params.id as number, params.buckets as number),
  },
  {
    operationId: 'dashboard_get_resources',
    method: 'GET',
    path: '/dashboard/workflows/{id}/resources',
    summary: "Dashboard: each job's measured resource use (its latest result's summary) against its requirements, highest peak memory first",
    mutating: false,
    params: [WF_ID, p.queryInt('limit', 'Most jobs (at most 500)', { default: 50, minimum: 1, maximum: 500 })],
    errors: [404],
    response: { status: 200, schema: ref('dashboard_resources'), description: 'Counts and the top jobs' },
    handler: ({ deps, params }) => service(deps).resources(params.id as number, params.limit as number),
  },
  {
    operationId: 'dashboard_get_job',
    method: 'GET',
    path: '/jobs/{id}/detail',
    summary: 'Dashboard: a job with its requirements, attempts and results, neighbours and files',
    mutating: false,
    params: [JOB_ID],
    errors: [404],
    response: { status: 200, schema: ref('dashboard_job'), description: 'The job' },
    handler: ({ deps, params }) => service(deps).jobDetail(params.id as number),
  },
  {
    operationId: 'get_job_stdio',
    method: 'GET',
    path: '/jobs/{id}/stdio',
    summary:
      "A range of a job attempt's stdout or stderr, from the file its runner wrote (the path comes from the store: the node that ran the attempt and its output directory); available: false with the reason when there is none",
    mutating: false,
    params: [
      JOB_ID,
      p.queryString('stream', 'stdout or stderr', { enum: ['stdout', 'stderr'], default: 'stdout' }),
      p.queryInt('attempt', 'Attempt (default: the current one)', { minimum: 1 }),
      p.queryInt('offset', 'First byte to read', { default: 0 }),
      p.queryBool('tail', 'Read the last max_bytes instead (offset ignored)', false),
      p.queryInt('max_bytes', `Most bytes (at most ${MAX_STDIO_BYTES})`, { default: DEFAULT_STDIO_BYTES, minimum: 1, maximum: MAX_STDIO_BYTES }),
    ],
    errors: [404],
    response: { status: 200, schema: ref('dashboard_stdio'), description: 'The text and where to read next' },
    handler: ({ deps, params }: { deps: { dashboard?: DashboardService }; params: Params }) =>
      service(deps).stdio(
        params.id as number,
        params.stream as StdioStream,
        { attempt: params.attempt as number | undefined, offset: params.offset as number, tail: params.tail as boolean },
        params.max_bytes as number,
      ),
  },
  {
    operationId: 'cancel_job',
    method: 'POST',
    path: '/jobs/{id}/cancel',
    summary:
      'Cancel one job: one that has not started is canceled now (dependents with cancel_on_blocking_job_failure too); a running one is terminated by its runner and ends terminated. 409 when it already finished',
    mutating: true,
    params: [JOB_ID],
    errors: [404, 409],
    response: { status: 200, schema: ref('cancel_job_response'), description: 'What happened' },
    handler: ({ deps, params }) => service(deps).cancelJob(params.id as number),
  },
];
