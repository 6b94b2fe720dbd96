/** Compute nodes: register (with resources, scheduler and lease), heartbeat, deactivate, list, get. */
import type { ComputeNodeRegistration, HeldJob } from '../../contract/client.js';
import { p } from '../params.js';
import { computeNodeView, pageView } from '../views.js';
import { LIST_SORT, PAGING, WORKFLOW_FILTER, paging, type ApiRoute } from './common.js';

/** Lease of a node whose client does not say (torc's clients send no heartbeat): generous. */
export const DEFAULT_LEASE_SECONDS = 3600;

const NODE_ID = p.id('id', 'Compute node id');

type RegistrationBody = Partial<ComputeNodeRegistration> & { workflow_id: number; hostname: string; num_cpus: number; memory_gb: number };

export const nodeRoutes: ApiRoute[] = [
  {
    operationId: 'create_compute_node',
    method: 'POST',
    path: '/compute_nodes',
    summary: 'Register a compute node (a runner) with its resources, scheduler and lease',
    mutating: true,
    body: { kind: 'json', schema: 'compute_node_registration', required: true, description: 'The node',
      example: {
        workflow_id: 1, hostname: 'node01', pid: 4242, num_cpus: 32, memory_gb: 128, num_gpus: 0, num_nodes: 1,
        scheduler_config_id: null, compute_node_type: 'local', lease_seconds: 300,
      },
    },
    errors: [404],
    response: { status: 200, schema: 'compute_node_model', description: 'The registered node' },
    handler: async ({ deps, body }) => {
      const b = body as RegistrationBody;
      const node: ComputeNodeRegistration = {
        hostname: b.hostname,
        pid: b.pid ?? 0,
        num_cpus: b.num_cpus,
        memory_gb: b.memory_gb,
        num_gpus: b.num_gpus ?? 0,
        num_nodes: b.num_nodes ?? 1,
        scheduler_config_id: b.scheduler_config_id ?? null,
        compute_node_type: b.compute_node_type ?? 'external',
        lease_seconds: b.lease_seconds ?? DEFAULT_LEASE_SECONDS,
        scheduler_job_id: b.scheduler_job_id ?? null,
        output_dir: b.output_dir ?? null,
      };
      return computeNodeView(await deps.store.registerComputeNode(b.workflow_id, node));
    },
  },
  {
    operationId: 'list_compute_nodes',
    method: 'GET',
    path: '/compute_nodes',
    summary: 'Compute nodes of a workflow, filtered as torc\'s list_compute_nodes',
    mutating: false,
    params: [
      WORKFLOW_FILTER,
      p.queryString('hostname', 'Only nodes on this host', { maxLength: 1024 }),
      p.queryBool('is_active', 'Only active (or only retired) nodes'),
      p.queryInt('scheduled_compute_node_id', 'Only nodes that run in this Slurm allocation'),
      ...PAGING,
      ...LIST_SORT,
    ],
    errors: [404],
    response: { status: 200, schema: 'list_compute_nodes_response', description: 'A page of compute nodes' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const page = await deps.store.listRecords('compute_nodes', params.workflow_id as number, {
        offset,
        limit,
        where: {
          hostname: params.hostname as string | undefined,
          is_active: params.is_active as boolean | undefined,
          scheduled_compute_node_id: params.scheduled_compute_node_id as number | undefined,
        },
        sort_by: params.sort_by as string | undefined,
        reverse_sort: params.reverse_sort as boolean,
      });
      return pageView(page, offset, limit, computeNodeView);
    },
  },
  {
    operationId: 'update_compute_node',
    method: 'PUT',
    path: '/compute_nodes/{id}',
    summary: "torc's update_compute_node: is_active false retires the node (its unfinished jobs go back to ready); its resources may be corrected",
    mutating: true,
    params: [NODE_ID],
    body: { kind: 'json', schema: 'compute_node_update', required: true, description: "torc's compute_node_model", example: { is_active: false, duration_seconds: 3600 } },
    inputErrorStatus: 422,
    errors: [404, 409],
    response: { status: 200, schema: 'compute_node_model', description: 'The node as stored now' },
    handler: async ({ deps, params, body }) => {
      const b = body as Record<string, unknown>;
      const values = Object.fromEntries(
        ['hostname', 'pid', 'num_cpus', 'memory_gb', 'num_gpus', 'num_nodes', 'compute_node_type'].filter((k) => b[k] !== undefined && b[k] !== null).map((k) => [k, b[k]]),
      );
      const isActive = typeof b.is_active === 'boolean' ? b.is_active : undefined;
      return computeNodeView(await deps.store.updateComputeNode(params.id as number, values, isActive));
    },
  },
  {
    operationId: 'delete_compute_node',
    method: 'DELETE',
    path: '/compute_nodes/{id}',
    summary: 'Delete a compute node; an active one is retired first (its unfinished jobs go back to ready)',
    mutating: true,
    params: [NODE_ID],
    errors: [404],
    response: { status: 200, schema: 'compute_node_model', description: 'The deleted node' },
    handler: async ({ deps, params }) => computeNodeView((await deps.store.deleteComputeNodes({ id: params.id as number }))[0]!),
  },
  {
    operationId: 'delete_compute_nodes',
    method: 'DELETE',
    path: '/compute_nodes',
    summary: 'Delete every compute node of a workflow; active ones are retired first',
    mutating: true,
    params: [WORKFLOW_FILTER],
    errors: [404],
    response: { status: 200, schema: 'deleted_count_response', description: 'How many were deleted' },
    handler: async ({ deps, params }) => ({ count: (await deps.store.deleteComputeNodes({ workflow_id: params.workflow_id as number })).length }),
  },
  {
    operationId: 'get_compute_node',
    method: 'GET',
    path: '/compute_nodes/{id}',
    summary: 'Get a compute node',
    mutating: false,
    params: [NODE_ID],
    errors: [404],
    response: { status: 200, schema: 'compute_node_model', description: 'The node' },
    handler: async ({ deps, params }) => computeNodeView(await deps.store.getComputeNode(params.id as number)),
  },
  {
    operationId: 'heartbeat_compute_node',
    method: 'POST',
    path: '/compute_nodes/{id}/heartbeat',
    summary: "Renew the node's lease; 409 when it is no longer active (register again)",
    mutating: true,
    params: [NODE_ID],
    errors: [404, 409],
    response: { status: 200, schema: 'ok_response', description: 'Lease renewed' },
    handler: async ({ deps, params }) => {
      await deps.store.heartbeat(params.id as number);
      return { ok: true };
    },
  },
  {
    operationId: 'sync_compute_node_jobs',
    method: 'POST',
    path: '/compute_nodes/{id}/sync_jobs',
    summary:
      "After an outage, runner and server agree on what the node holds: the node's pending and running jobs the runner does not list go back to ready (claimed but never started there); listed jobs that are no longer the node's at that attempt come back as revoked (the runner kills them and reports nothing). Renews the lease. 409 when the node is no longer active (its lease ran out: its jobs were requeued)",
    mutating: true,
    params: [NODE_ID],
    body: {
      kind: 'json',
      schema: 'sync_jobs_request',
      required: true,
      description: 'The jobs the runner holds: claimed, running, or ended with the report not delivered yet',
      example: { jobs: [{ job_id: 12, attempt_id: 1 }] },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'sync_jobs_response', description: 'What the server released and revoked' },
    handler: ({ deps, params, body }) => deps.store.syncComputeNode(params.id as number, (body as { jobs: HeldJob[] }).jobs),
  },
  {
    operationId: 'deactivate_compute_node',
    method: 'POST',
    path: '/compute_nodes/{id}/deactivate',
    summary: 'A clean exit: the node becomes inactive; its pending and running jobs go back to ready',
    mutating: true,
    params: [NODE_ID],
    errors: [404],
    response: {
      status: 200,
      schema: { type: 'object', properties: { requeued_jobs: { type: 'integer', minimum: 0 } }, required: ['requeued_jobs'] },
      description: 'How many jobs went back to ready',
    },
    handler: ({ deps, params }) => deps.store.deactivateComputeNode(params.id as number),
  },
];
