/**
 * Claims: resource-aware (torc's POST with the pooled body, our per-node body, and the seed's
 * GET form with the same fields as query parameters) and queue-depth (POST, and the seed's GET).
 * Both set the claimed jobs ready → pending atomically in the store.
 */
import { capacityFromNodes, capacityFromPooled, type NodesCapacityInput, type PooledCapacityInput } from '../../allocator/capacity.js';
import { SORT_METHODS } from '../../allocator/options.js';
import type { RunnerCapacity, SortMethod } from '../../allocator/types.js';
import type { ClaimByResourcesRequest } from '../../contract/client.js';
import { BadRequestError } from '../errors.js';
import { MAX_ID, p, type ParamSpec, type Params } from '../params.js';
import { claimResponseView } from '../views.js';
import type { ApiDeps, ApiRoute } from './common.js';

const WF_ID = p.id('id', 'Workflow id');
const CLAIM_LIMIT_MAX = 100_000;
/** Our extension: claim and start in one request (one transaction). */
const START_RUN_ID = p.queryInt(
  'start_run_id',
  "Claim and start: with the workflow's current run id (and compute_node_id) the claimed jobs come back running, as if start_job had been called for each",
  { minimum: 1 },
);

const CLAIM_OPTIONS: ParamSpec[] = [
  p.queryString('sort_method', "Order of preference among fitting jobs; default: the workflow's jobs_sort_method", { enum: SORT_METHODS }),
  p.queryBool('strict_scheduler_match', 'Only jobs bound to this runner\'s scheduler_config_id: no unbound fallback', false),
  p.queryBool('any_scheduler', 'Ignore scheduler binding entirely (a runner that serves every job)', false),
  p.queryInt('compute_node_id', 'The claiming compute node: its lease covers the claimed jobs (requeued if it dies)', { minimum: 0 }),
  START_RUN_ID,
];

interface ClaimBody {
  nodes?: unknown;
  compute_node_id?: number | null;
}

/** Either capacity form, validated with the allocator's parsers (errors name `body.…`). */
function capacityFromBody(body: unknown): RunnerCapacity {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError('expected an object: torc\'s {num_cpus, memory_gb, …} or {nodes: […], …}', 'body');
  }
  return 'nodes' in body
    ? capacityFromNodes(body as NodesCapacityInput, 'body')
    : capacityFromPooled(body as PooledCapacityInput, 'body');
}

function claimRequest(capacity: RunnerCapacity, params: Params, limit: number, bodyNodeId?: number | null): ClaimByResourcesRequest {
  const fromQuery = params.compute_node_id as number | undefined;
  if (bodyNodeId !== undefined && bodyNodeId !== null && !(Number.isSafeInteger(bodyNodeId) && bodyNodeId >= 0)) {
    throw new BadRequestError(`expected a compute node id (whole number ≥ 0) or null, got ${JSON.stringify(bodyNodeId)}`, 'body.compute_node_id');
  }
  if (fromQuery !== undefined && bodyNodeId !== undefined && bodyNodeId !== null && bodyNodeId !== fromQuery) {
    throw new BadRequestError(`query says ${fromQuery}, body says ${bodyNodeId}`, 'compute_node_id');
  }
  return {
    capacity,
    sort_method: params.sort_method as SortMethod | undefined,
    strict_scheduler_match: params.strict_scheduler_match as boolean,
    any_scheduler: params.any_scheduler as boolean,
    limit,
    compute_node_id: fromQuery ?? bodyNodeId ?? null,
    start_run_id: (params.start_run_id as number | undefined) ?? null,
  };
}

const claimNext = async ({ deps, params }: { deps: ApiDeps; params: Params }) =>
  claimResponseView(
    await deps.store.claimNextJobs(params.id as number, params.limit as number, (params.compute_node_id as number | undefined) ?? null, {
      start_run_id: (params.start_run_id as number | undefined) ?? null,
    }),
  );

const QUEUE_PARAMS: ParamSpec[] = [
  WF_ID,
  p.queryInt('limit', 'How many ready jobs to claim', { minimum: 1, maximum: CLAIM_LIMIT_MAX, default: 1 }),
  p.queryInt('compute_node_id', 'The claiming compute node: its lease covers the claimed jobs', { minimum: 0 }),
  START_RUN_ID,
];

export const claimRoutes: ApiRoute[] = [
  {
    operationId: 'claim_jobs_based_on_resources',
    method: 'POST',
    path: '/workflows/{id}/claim_jobs_based_on_resources/{limit}',
    summary:
      'Claim ready jobs that fit the runner\'s capacity (ready → pending). A single-node job fits on one node; a multi-node job takes whole idle nodes; runtime ≤ time_limit; scheduler binding',
    mutating: true,
    params: [WF_ID, p.id('limit', 'At most this many jobs', 1, CLAIM_LIMIT_MAX), ...CLAIM_OPTIONS],
    body: {
      kind: 'json',
      schema: 'claim_resources_request',
      validatedBy: 'handler',
      required: true,
      description: "The runner's free capacity: torc's pooled form or our per-node form",
      example: { num_cpus: 32, memory_gb: 128, num_gpus: 0, num_nodes: 1, time_limit: 'PT4H', scheduler_config_id: null },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'claim_jobs_response', description: 'The claimed jobs (now pending) and why no more' },
    handler: async ({ deps, params, body }) => {
      const capacity = capacityFromBody(body);
      const req = claimRequest(capacity, params, params.limit as number, (body as ClaimBody).compute_node_id);
      return claimResponseView(await deps.store.claimJobsBasedOnResources(params.id as number, req));
    },
  },
  {
    operationId: 'claim_jobs_based_on_resources_get',
    method: 'GET',
    path: '/workflows/{id}/claim_jobs_based_on_resources',
    summary: "The seed's GET form of the resource claim: torc's pooled capacity as query parameters. Mutates (ready → pending)",
    mutating: true,
    params: [
      WF_ID,
      p.queryInt('limit', 'At most this many jobs', { minimum: 1, maximum: CLAIM_LIMIT_MAX, required: true }),
      p.queryInt('num_cpus', 'CPUs per node', { required: true, maximum: 1_000_000 }),
      p.queryNumber('memory_gb', 'Memory per node, GiB', { required: true, maximum: 1e9 }),
      p.queryInt('num_gpus', 'GPUs per node', { default: 0, maximum: 1_000_000 }),
      p.queryInt('num_nodes', 'Identical nodes', { default: 1, minimum: 1, maximum: 100_000 }),
      p.queryString('time_limit', 'ISO 8601 duration left to run jobs (absent = unlimited)', { maxLength: 64 }),
      p.queryInt('scheduler_config_id', 'The scheduler this runner serves', { maximum: MAX_ID }),
      ...CLAIM_OPTIONS,
    ],
    errors: [404, 409],
    response: { status: 200, schema: 'claim_jobs_response', description: 'The claimed jobs (now pending) and why no more' },
    handler: async ({ deps, params }) => {
      const capacity = capacityFromPooled(
        {
          num_cpus: params.num_cpus as number,
          memory_gb: params.memory_gb as number,
          num_gpus: params.num_gpus as number,
          num_nodes: params.num_nodes as number,
          time_limit: (params.time_limit as string | undefined) ?? null,
          scheduler_config_id: (params.scheduler_config_id as number | undefined) ?? null,
        },
        '',
      );
      return claimResponseView(await deps.store.claimJobsBasedOnResources(params.id as number, claimRequest(capacity, params, params.limit as number)));
    },
  },
  {
    operationId: 'claim_next_jobs',
    method: 'POST',
    path: '/workflows/{id}/claim_next_jobs',
    summary: 'Queue depth: claim the next `limit` ready jobs in queue order, resources ignored (ready → pending)',
    mutating: true,
    params: QUEUE_PARAMS,
    errors: [404, 409],
    response: { status: 200, schema: 'claim_jobs_response', description: 'The claimed jobs (now pending)' },
    handler: claimNext,
  },
  {
    operationId: 'claim_next_jobs_get',
    method: 'GET',
    path: '/workflows/{id}/claim_next_jobs',
    summary: "The seed's GET form of the queue-depth claim. Mutates (ready → pending)",
    mutating: true,
    params: QUEUE_PARAMS,
    errors: [404, 409],
    response: { status: 200, schema: 'claim_jobs_response', description: 'The claimed jobs (now pending)' },
    handler: claimNext,
  },
];
