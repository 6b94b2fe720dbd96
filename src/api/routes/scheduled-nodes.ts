/**
 * Slurm allocations of a workflow (torc's scheduled_compute_nodes), recorded by `torc slurm
 * schedule-nodes` or any client: torc's six operations. scheduler_id is the Slurm job id (an
 * integer, as torc has it); status is torc's pending / active / complete, derived from (and
 * setting) the Slurm state we keep beside it.
 */
import type { AllocationRecord } from '../../contract/slurm-allocations.js';
import { InputError } from '../../errors.js';
import { SlurmAllocationStore } from '../../store/slurm-allocations.js';
import { p } from '../params.js';
import { pageOfList, pageView } from '../views.js';
import { LIST_SORT, PAGING, WORKFLOW_FILTER, paging, type ApiDeps, type ApiRoute } from './common.js';

type ScheduledStatus = 'pending' | 'active' | 'complete';

/** torc's three statuses from Slurm's state. */
export function scheduledNodeView(a: AllocationRecord) {
  const status: ScheduledStatus = a.ended ? 'complete' : a.state === 'RUNNING' || a.state === 'COMPLETING' ? 'active' : 'pending';
  return {
    id: a.id,
    workflow_id: a.workflow_id,
    scheduler_config_id: a.scheduler_config_id,
    scheduler_id: Number(a.slurm_job_id),
    scheduler_type: 'slurm',
    status,
    state: a.state,
    created_at: a.created_at,
    updated_at: a.updated_at,
  };
}

/** A Slurm state for a torc status (when a client sets the status, not the state). */
const STATE_OF: Record<ScheduledStatus, string> = { pending: 'PENDING', active: 'RUNNING', complete: 'COMPLETED' };

interface ScheduledBody {
  workflow_id?: number;
  scheduler_id?: number | string;
  scheduler_config_id?: number;
  scheduler_type?: string | null;
  status?: ScheduledStatus | null;
  state?: string | null;
}

const registry = (deps: ApiDeps) => new SlurmAllocationStore(deps.store);
const ID = p.id('id', 'Scheduled compute node (allocation) id');
const EXAMPLE = { workflow_id: 1, scheduler_config_id: 1, scheduler_id: 123456, scheduler_type: 'slurm', status: 'pending' };

export const scheduledNodeRoutes: ApiRoute[] = [
  {
    operationId: 'create_scheduled_compute_node',
    method: 'POST',
    path: '/scheduled_compute_nodes',
    summary: 'Record a Slurm allocation submitted for a workflow',
    mutating: true,
    body: { kind: 'json', schema: 'scheduled_compute_node_input', required: true, description: "torc's scheduled_compute_nodes_model", example: EXAMPLE },
    errors: [404],
    response: { status: 200, schema: 'scheduled_compute_node_model', description: 'The recorded allocation' },
    handler: async ({ deps, body }) => {
      const b = body as Required<Pick<ScheduledBody, 'workflow_id' | 'scheduler_id' | 'scheduler_config_id'>> & ScheduledBody;
      await deps.store.getWorkflow(b.workflow_id);
      const record = await registry(deps).recordAllocation({
        workflow_id: b.workflow_id,
        scheduler_config_id: b.scheduler_config_id,
        slurm_job_id: String(b.scheduler_id),
        state: b.state ?? (b.status ? STATE_OF[b.status] : 'SUBMITTED'),
      });
      if (b.status === 'complete') await registry(deps).updateAllocationState(record.id, record.state, true);
      return scheduledNodeView(await registry(deps).get(record.id));
    },
  },
  {
    operationId: 'list_scheduled_compute_nodes',
    method: 'GET',
    path: '/scheduled_compute_nodes',
    summary: 'Slurm allocations of a workflow, oldest first, filtered as torc\'s list_scheduled_compute_nodes',
    mutating: false,
    params: [
      WORKFLOW_FILTER,
      p.queryString('scheduler_id', 'Only this Slurm job id', { maxLength: 32 }),
      p.queryString('scheduler_config_id', 'Only allocations of this Slurm scheduler', { maxLength: 32 }),
      p.queryString('status', 'Only allocations in this status', { enum: ['pending', 'active', 'complete'] }),
      p.queryBool('open_only', 'Only allocations not yet ended', false),
      ...PAGING,
      ...LIST_SORT,
    ],
    errors: [404],
    response: { status: 200, schema: 'list_scheduled_compute_nodes_response', description: 'A page of allocations' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      const workflowId = params.workflow_id as number;
      await deps.store.getWorkflow(workflowId);
      const reg = registry(deps);
      let all = (params.open_only ? await reg.listOpenAllocations(workflowId) : await reg.listAllocations(workflowId)).map(scheduledNodeView);
      if (params.scheduler_id !== undefined) all = all.filter((a) => String(a.scheduler_id) === params.scheduler_id);
      if (params.scheduler_config_id !== undefined) all = all.filter((a) => String(a.scheduler_config_id) === params.scheduler_config_id);
      if (params.status !== undefined) all = all.filter((a) => a.status === params.status);
      const sortBy = params.sort_by as string | undefined;
      if (sortBy !== undefined) {
        const keys = ['id', 'scheduler_id', 'scheduler_config_id', 'status', 'created_at'] as const;
        if (!(keys as readonly string[]).includes(sortBy)) throw new InputError(`cannot sort by "${sortBy}" (one of ${keys.join(', ')})`, 'sort_by');
        const k = sortBy as (typeof keys)[number];
        all.sort((x, y) => (x[k] < y[k] ? -1 : x[k] > y[k] ? 1 : x.id - y.id));
      }
      if (params.reverse_sort) all.reverse();
      return pageView(pageOfList(all, offset, limit), offset, limit, (a) => a);
    },
  },
  {
    operationId: 'get_scheduled_compute_node',
    method: 'GET',
    path: '/scheduled_compute_nodes/{id}',
    summary: 'Get a recorded Slurm allocation',
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'scheduled_compute_node_model', description: 'The allocation' },
    handler: async ({ deps, params }) => scheduledNodeView(await registry(deps).get(params.id as number)),
  },
  {
    operationId: 'update_scheduled_compute_node',
    method: 'PUT',
    path: '/scheduled_compute_nodes/{id}',
    summary: 'Set the status (or our Slurm state) of a recorded allocation; complete means it ended',
    mutating: true,
    params: [ID],
    body: { kind: 'json', schema: 'scheduled_compute_node_update', required: true, description: "torc's scheduled_compute_nodes_model (the fields that change, or all of them)", example: { ...EXAMPLE, status: 'active' } },
    inputErrorStatus: 422,
    errors: [404],
    response: { status: 200, schema: 'scheduled_compute_node_model', description: 'The allocation now' },
    handler: async ({ deps, params, body }) => {
      const b = body as ScheduledBody;
      const reg = registry(deps);
      const before = await reg.get(params.id as number);
      if (b.workflow_id !== undefined && b.workflow_id !== before.workflow_id) throw new InputError(`allocation ${before.id} belongs to workflow ${before.workflow_id}`, 'workflow_id');
      if (b.scheduler_id !== undefined && String(b.scheduler_id) !== before.slurm_job_id) throw new InputError(`allocation ${before.id} is Slurm job ${before.slurm_job_id}; record another allocation instead`, 'scheduler_id');
      const state = b.state ?? (b.status ? STATE_OF[b.status] : before.state);
      const ended = b.status ? b.status === 'complete' : before.ended;
      await reg.updateAllocationState(before.id, state, ended);
      return scheduledNodeView(await reg.get(before.id));
    },
  },
  {
    operationId: 'delete_scheduled_compute_node',
    method: 'DELETE',
    path: '/scheduled_compute_nodes/{id}',
    summary: 'Delete the record of an allocation (Slurm is not told)',
    mutating: true,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'scheduled_compute_node_model', description: 'The deleted record' },
    handler: async ({ deps, params }) => scheduledNodeView((await registry(deps).deleteAllocations({ id: params.id as number }))[0]!),
  },
  {
    operationId: 'delete_scheduled_compute_nodes',
    method: 'DELETE',
    path: '/scheduled_compute_nodes',
    summary: 'Delete the records of every allocation of a workflow (Slurm is not told)',
    mutating: true,
    params: [WORKFLOW_FILTER],
    errors: [404],
    response: { status: 200, schema: 'deleted_count_response', description: 'How many were deleted' },
    handler: async ({ deps, params }) => {
      await deps.store.getWorkflow(params.workflow_id as number);
      return { count: (await registry(deps).deleteAllocations({ workflow_id: params.workflow_id as number })).length };
    },
  },
];
