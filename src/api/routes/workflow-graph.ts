/**
 * Read-only views of a workflow's graph (torc's): job ids, dependencies, file and user-data
 * relationships, required existing files, missing user data, ready-job requirements, and the
 * time of its newest event.
 */
import { GIB } from '../../allocator/fit.js';
import { formatDuration } from '../../spec/units.js';
import type { RelationshipRow } from '../../store/index.js';
import { p } from '../params.js';
import { omitNulls, pageView } from '../views.js';
import { PAGING, paging, type ApiRoute } from './common.js';

const ID = p.id('id', 'Workflow id');

function fileRelationshipView(r: RelationshipRow) {
  return omitNulls({
    file_id: r.id,
    file_name: r.name,
    file_path: r.path ?? '',
    producer_job_id: r.producer_job_id,
    producer_job_name: r.producer_job_name,
    consumer_job_id: r.consumer_job_id,
    consumer_job_name: r.consumer_job_name,
    workflow_id: r.workflow_id,
  });
}

function userDataRelationshipView(r: RelationshipRow) {
  return omitNulls({
    user_data_id: r.id,
    user_data_name: r.name,
    producer_job_id: r.producer_job_id,
    producer_job_name: r.producer_job_name,
    consumer_job_id: r.consumer_job_id,
    consumer_job_name: r.consumer_job_name,
    workflow_id: r.workflow_id,
  });
}

export const workflowGraphRoutes: ApiRoute[] = [
  {
    operationId: 'list_job_ids',
    method: 'GET',
    path: '/workflows/{id}/job_ids',
    summary: 'Every job id of the workflow in queue order',
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'list_job_ids_response', description: 'The ids' },
    handler: async ({ deps, params }) => {
      const ids = await deps.store.listJobIds(params.id as number);
      return { job_ids: ids, count: ids.length };
    },
  },
  {
    operationId: 'list_job_dependencies',
    method: 'GET',
    path: '/workflows/{id}/job_dependencies',
    summary: 'Every (job, job it waits for) pair of the workflow, with names',
    mutating: false,
    params: [ID, ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_job_dependencies_response', description: 'A page of dependencies' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      return pageView(await deps.store.listJobDependencies(params.id as number, { offset, limit }), offset, limit, (d) => d);
    },
  },
  {
    operationId: 'list_job_file_relationships',
    method: 'GET',
    path: '/workflows/{id}/job_file_relationships',
    summary: 'Every file with the job that writes it and each job that reads it (a side with no job is left out)',
    mutating: false,
    params: [ID, ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_job_file_relationships_response', description: 'A page of relationships' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      return pageView(await deps.store.listJobFileRelationships(params.id as number, { offset, limit }), offset, limit, fileRelationshipView);
    },
  },
  {
    operationId: 'list_job_user_data_relationships',
    method: 'GET',
    path: '/workflows/{id}/job_user_data_relationships',
    summary: 'Every user data record with the job that writes it and each job that reads it',
    mutating: false,
    params: [ID, ...PAGING],
    errors: [404],
    response: { status: 200, schema: 'list_job_user_data_relationships_response', description: 'A page of relationships' },
    handler: async ({ deps, params }) => {
      const { offset, limit } = paging(params);
      return pageView(await deps.store.listJobUserDataRelationships(params.id as number, { offset, limit }), offset, limit, userDataRelationshipView);
    },
  },
  {
    operationId: 'list_required_existing_files',
    method: 'GET',
    path: '/workflows/{id}/required_existing_files',
    summary:
      "Files that must exist before the workflow runs: inputs no job writes, and outputs of jobs that completed. Ids as strings, as torc's API describes them",
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'list_required_existing_files_response', description: 'The file ids' },
    handler: async ({ deps, params }) => ({ files: (await deps.store.listRequiredExistingFiles(params.id as number)).map(String) }),
  },
  {
    operationId: 'list_missing_user_data',
    method: 'GET',
    path: '/workflows/{id}/missing_user_data',
    summary: 'User data without a value that should have one: inputs no job writes, and outputs of jobs that completed',
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'list_missing_user_data_response', description: 'The user data ids' },
    handler: async ({ deps, params }) => ({ user_data: await deps.store.listMissingUserData(params.id as number) }),
  },
  {
    operationId: 'get_ready_job_requirements',
    method: 'GET',
    path: '/workflows/{id}/ready_job_requirements',
    summary: 'What the ready jobs (of one scheduler, when given) need together: how many, summed CPUs / GPUs / memory, the most nodes and the longest runtime',
    mutating: false,
    params: [ID, p.queryInt('scheduler_config_id', 'Only ready jobs bound to this scheduler')],
    errors: [404],
    response: { status: 200, schema: 'get_ready_job_requirements_response', description: 'The totals' },
    handler: async ({ deps, params }) => {
      const r = await deps.store.getReadyJobRequirements(params.id as number, (params.scheduler_config_id as number | undefined) ?? null);
      return {
        num_jobs: r.num_jobs,
        num_cpus: r.num_cpus,
        num_gpus: r.num_gpus,
        memory_gb: r.memory_bytes / GIB,
        max_num_nodes: r.max_num_nodes,
        max_runtime: formatDuration(r.max_runtime_seconds),
      };
    },
  },
  {
    operationId: 'get_latest_event_timestamp',
    method: 'GET',
    path: '/workflows/{id}/latest_event_timestamp',
    summary: "Epoch ms of the workflow's newest event (left out when it has none)",
    mutating: false,
    params: [ID],
    errors: [404],
    response: { status: 200, schema: 'latest_event_timestamp_response', description: 'The timestamp' },
    handler: async ({ deps, params }) => omitNulls({ timestamp: await deps.store.getLatestEventTimestamp(params.id as number) }),
  },
];
