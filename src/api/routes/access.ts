/**
 * torc's access groups (12 operations) and remote workers (3), stored and answered so torc's
 * clients can manage them; access is not enforced on the other routes yet (a bearer token
 * guards changes; see README).
 */
import { AccessStore } from '../../store/access.js';
import { p, type ParamSpec } from '../params.js';
import { omitNulls, pageOfList, pageView } from '../views.js';
import { PAGING, paging, type ApiDeps, type ApiRoute } from './common.js';
import type { AccessGroupRecord } from '../../store/index.js';

const access = (deps: ApiDeps) => new AccessStore(deps.store);
const GROUP_ID = p.id('id', 'Access group id');
const WF_ID = p.id('id', 'Workflow id');
const USER: ParamSpec = { name: 'user_name', in: 'path', required: true, kind: 'string', maxLength: 256, description: 'User name' };
const groupView = (g: AccessGroupRecord) => omitNulls(g);

export const accessRoutes: ApiRoute[] = [
  {
    operationId: 'create_access_group',
    method: 'POST',
    path: '/access_groups',
    summary: 'Create an access group (names are unique: 409 on a second one)',
    mutating: true,
    body: { kind: 'json', schema: 'access_group_input', required: true, description: "torc's access_group_model", example: { name: 'team-a', description: 'Team A' } },
    errors: [409],
    response: { status: 200, schema: 'access_group_model', description: 'The stored group' },
    handler: async ({ deps, body }) => {
      const b = body as { name: string; description?: string | null };
      return groupView(await access(deps).createGroup(b.name, b.description ?? null));
    },
  },
  {
    operationId: 'list_access_groups',
    method: 'GET',
    path: '/access_groups',
    summary: 'Access groups',
    mutating: false,
    params: PAGING,
    response: { status: 200, schema: 'list_access_groups_response', description: 'A page of groups' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      return pageView(await deps.store.listRecords('access_groups', null, { offset, limit }), offset, limit, groupView);
    },
  },
  {
    operationId: 'get_access_group',
    method: 'GET',
    path: '/access_groups/{id}',
    summary: 'Get an access group',
    mutating: false,
    params: [GROUP_ID],
    errors: [404],
    response: { status: 200, schema: 'access_group_model', description: 'The group' },
    handler: async ({ deps, params }) => groupView(await deps.store.getRecord('access_groups', params.id as number)),
  },
  {
    operationId: 'delete_access_group',
    method: 'DELETE',
    path: '/access_groups/{id}',
    summary: 'Delete an access group with its memberships and shares',
    mutating: true,
    params: [GROUP_ID],
    errors: [404],
    response: { status: 200, schema: 'access_group_model', description: 'The deleted group' },
    handler: async ({ deps, params }) => groupView(await deps.store.deleteRecord('access_groups', params.id as number)),
  },
  {
    operationId: 'add_user_to_group',
    method: 'POST',
    path: '/access_groups/{id}/members',
    summary: 'Add a user to an access group (409 when already a member)',
    mutating: true,
    params: [GROUP_ID],
    body: {
      kind: 'json',
      schema: 'user_group_membership_input',
      required: true,
      description: "torc's user_group_membership_model (the group is the path's)",
      example: { user_name: 'bob', group_id: 1, role: 'member' },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'user_group_membership_model', description: 'The membership' },
    handler: async ({ deps, params, body }) => {
      const b = body as { user_name: string; role?: string | null };
      return access(deps).addMember(params.id as number, b.user_name, b.role ?? 'member');
    },
  },
  {
    operationId: 'list_group_members',
    method: 'GET',
    path: '/access_groups/{id}/members',
    summary: 'Members of an access group',
    mutating: false,
    params: [GROUP_ID, ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_user_group_memberships_response', description: 'A page of memberships' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      return pageView(pageOfList(await access(deps).members(params.id as number), offset, limit), offset, limit, (m) => m);
    },
  },
  {
    operationId: 'remove_user_from_group',
    method: 'DELETE',
    path: '/access_groups/{id}/members/{user_name}',
    summary: 'Remove a user from an access group',
    mutating: true,
    params: [GROUP_ID, USER],
    errors: [404],
    response: { status: 200, schema: 'any_object', description: 'Removed' },
    handler: async ({ deps, params }) => {
      await access(deps).removeMember(params.id as number, params.user_name as string);
      return { removed: true };
    },
  },
  {
    operationId: 'list_user_groups',
    method: 'GET',
    path: '/users/{user_name}/groups',
    summary: 'The access groups a user belongs to',
    mutating: false,
    params: [USER, ...PAGING],
    response: { status: 200, schema: 'list_access_groups_response', description: 'A page of groups' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      return pageView(pageOfList(await access(deps).groupsOfUser(params.user_name as string), offset, limit), offset, limit, groupView);
    },
  },
  {
    operationId: 'add_workflow_to_group',
    method: 'POST',
    path: '/workflows/{id}/access_groups',
    summary: 'Share a workflow with an access group (409 when already shared)',
    mutating: true,
    params: [WF_ID],
    body: {
      kind: 'json',
      schema: 'workflow_access_group_input',
      required: true,
      description: "torc's workflow_access_group_model (the workflow is the path's)",
      example: { workflow_id: 1, group_id: 1 },
    },
    errors: [404, 409],
    response: { status: 200, schema: 'workflow_access_group_model', description: 'The share' },
    handler: async ({ deps, params, body }) => access(deps).addWorkflow(params.id as number, (body as { group_id: number }).group_id),
  },
  {
    operationId: 'list_workflow_groups',
    method: 'GET',
    path: '/workflows/{id}/access_groups',
    summary: 'The access groups a workflow is shared with',
    mutating: false,
    params: [WF_ID],
    errors: [404],
    response: { status: 200, schema: 'list_access_groups_response', description: 'The groups' },
    handler: async ({ deps, params }) => {
      const all = await access(deps).groupsOfWorkflow(params.id as number);
      return pageView(pageOfList(all, 0, all.length), 0, all.length, groupView);
    },
  },
  {
    operationId: 'remove_workflow_from_group',
    method: 'DELETE',
    path: '/workflows/{id}/access_groups/{group_id}',
    summary: 'Stop sharing a workflow with an access group',
    mutating: true,
    params: [WF_ID, p.id('group_id', 'Access group id')],
    errors: [404],
    response: { status: 200, schema: 'any_object', description: 'Removed' },
    handler: async ({ deps, params }) => {
      await access(deps).removeWorkflow(params.id as number, params.group_id as number);
      return { removed: true };
    },
  },
  {
    operationId: 'check_workflow_access',
    method: 'GET',
    path: '/access_check/{workflow_id}/{user_name}',
    summary: "Whether a user may use a workflow (torc's rule: its owner, or a member of a group it is shared with)",
    mutating: false,
    params: [p.id('workflow_id', 'Workflow id'), USER],
    errors: [404],
    response: { status: 200, schema: 'access_check_response', description: 'The answer' },
    handler: async ({ deps, params }) => ({
      has_access: await access(deps).hasAccess(params.workflow_id as number, params.user_name as string),
      user_name: params.user_name as string,
      workflow_id: params.workflow_id as number,
    }),
  },
  {
    operationId: 'create_remote_workers',
    method: 'POST',
    path: '/workflows/{id}/remote_workers',
    summary: 'Record hosts (user@host:port) that run workers of the workflow; ones already recorded are kept',
    mutating: true,
    params: [WF_ID],
    body: { kind: 'json', schema: 'remote_workers_input', required: true, description: 'Worker addresses', example: ['alice@node01:22'] },
    errors: [404],
    response: { status: 200, schema: 'list_remote_workers_response', description: 'The workers named' },
    handler: async ({ deps, params, body }) => access(deps).addRemoteWorkers(params.id as number, body as string[]),
  },
  {
    operationId: 'list_remote_workers',
    method: 'GET',
    path: '/workflows/{id}/remote_workers',
    summary: 'The hosts recorded as running workers of the workflow',
    mutating: false,
    params: [WF_ID],
    errors: [404],
    response: { status: 200, schema: 'list_remote_workers_response', description: 'The workers' },
    handler: async ({ deps, params }) => access(deps).remoteWorkers(params.id as number),
  },
  {
    operationId: 'delete_remote_worker',
    method: 'DELETE',
    path: '/workflows/{id}/remote_workers/{worker}',
    summary: 'Forget a remote worker',
    mutating: true,
    params: [WF_ID, { name: 'worker', in: 'path', required: true, kind: 'string', maxLength: 1024, description: 'The worker address' }],
    errors: [404],
    response: { status: 200, schema: 'remote_worker_model', description: 'The removed worker' },
    handler: async ({ deps, params }) => access(deps).removeRemoteWorker(params.id as number, params.worker as string),
  },
];
