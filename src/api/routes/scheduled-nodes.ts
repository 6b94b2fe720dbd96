/** Slurm allocations of a workflow (torc's scheduled_compute_nodes), recorded by `torc slurm schedule-nodes`. */
import type { AllocationRecord } from '../../contract/slurm-allocations.js';
import { SlurmAllocationStore } from '../../store/slurm-allocations.js';
import { p } from '../params.js';
import { pageOfList, pageView } from '../views.js';
import { PAGING, WORKFLOW_FILTER, paging, type ApiRoute } from './common.js';

/** torc's three statuses from Slurm's state. */
export function scheduledNodeView(a: AllocationRecord) {
  const status = a.ended ? 'complete' : a.state === 'RUNNING' || a.state === 'COMPLETING' ? 'active' : 'pending';
  return {
    id: a.id,
    workflow_id: a.workflow_id,
    scheduler_config_id: a.scheduler_config_id,
    scheduler_id: a.slurm_job_id,
    scheduler_type: 'slurm',
    status,
    state: a.state,
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

export const scheduledNodeRoutes: ApiRoute[] = [
  {
    operationId: 'create_scheduled_compute_node',
    method: 'POST',
    path: '/scheduled_compute_nodes',
    summary: 'Record a Slurm allocation submitted for a workflow',
    mutating: true,
    body: {
      kind: 'json', schema: 'scheduled_compute_node_create', required: true, description: 'The allocation',
      example: { workflow_id: 1, scheduler_config_id: 1, scheduler_id: '123456', state: 'PENDING' },
    },
    errors: [404],
    response: { status: 200, schema: 'scheduled_compute_node_model', description: 'The recorded allocation' },
    handler: async ({ deps, body }) => {
      const b = body as { workflow_id: number; scheduler_config_id: number; scheduler_id: string; state?: string };
      await deps.store.getWorkflow(b.workflow_id);
      const record = await new SlurmAllocationStore(deps.store).recordAllocation({
        workflow_id: b.workflow_id,
        scheduler_config_id: b.scheduler_config_id,
        slurm_job_id: b.scheduler_id,
        state: b.state ?? 'SUBMITTED',
      });
      return scheduledNodeView(record);
    },
  },
  {
    operationId: 'list_scheduled_compute_nodes',
    method: 'GET',
    path: '/scheduled_compute_nodes',
    summary: 'Slurm allocations of a workflow, oldest first',
    mutating: false,
    params: [WORKFLOW_FILTER, p.queryBool('open_only', 'Only allocations not yet ended', false), ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_scheduled_compute_nodes_response', description: 'A page of allocations' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const registry = new SlurmAllocationStore(deps.store);
      const all = params.open_only ? await registry.listOpenAllocations(workflowId) : await registry.listAllocations(workflowId);
      return pageView(pageOfList(all, offset, limit), offset, limit, scheduledNodeView);
    },
  },
];
