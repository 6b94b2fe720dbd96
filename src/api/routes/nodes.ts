/** Compute nodes: register (with resources, scheduler and lease), heartbeat, deactivate, list, get. */
import type { ComputeNodeRegistration, HeldJob } from '../../contract/client.js';
import { p } from '../params.js';
import { computeNodeView, pageView } from '../views.js';
import { PAGING, WORKFLOW_FILTER, paging, type ApiRoute } from './common.js';

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
    summary: 'Compute nodes of a workflow',
    mutating: false,
    params: [WORKFLOW_FILTER, p.queryBool('is_active', 'true: only active nodes'), ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_compute_nodes_response', description: 'A page of compute nodes' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const page = await deps.store.listComputeNodes(workflowId, { offset, limit, activeOnly: params.is_active === true });
      return pageView(page, offset, limit, computeNodeView);
    },
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
