/**
 * POST /workflow_specs: a spec document (YAML, JSON, JSON5 or KDL, by Content-Type; a bare torc
 * spec or a Workflow resource) → a stored workflow with its jobs, through the same loader and
 * planner as `torc validate`; errors name the line and column in the body.
 * A document that does not validate is 422 listing every issue with its path; one that would
 * expand past the job limit is 413. Nothing is stored unless the whole plan is valid.
 */
import { InputError } from '../../errors.js';
import { formatOfMediaType, loadWorkflowText, planDocument } from '../../spec/index.js';
import { buildTorcExport } from '../export-view.js';
import { p } from '../params.js';
import type { ApiRoute } from './common.js';

const records = { type: 'array', items: { type: 'object' } };
/** torc's export document: its lists of records in torc's model shapes (see api/export-view.ts). */
const EXPORT_SCHEMA = {
  type: 'object',
  required: ['export_version', 'exported_at', 'workflow', 'files', 'user_data', 'resource_requirements', 'slurm_schedulers', 'local_schedulers', 'failure_handlers', 'jobs', 'workflow_actions'],
  properties: {
    export_version: { type: 'string', enum: ['1.0'] },
    exported_at: { type: 'string' },
    workflow: { type: 'object' },
    files: records,
    user_data: records,
    resource_requirements: records,
    slurm_schedulers: records,
    local_schedulers: records,
    failure_handlers: records,
    jobs: records,
    workflow_actions: records,
    results: records,
    events: records,
  },
};

/** Most jobs a spec sent over HTTP may expand to (the CLI may allow more). */
export const MAX_SPEC_JOBS = 1_000_000;

const EXAMPLE = `name: seed-example
resource_requirements:
  - name: half
    num_cpus: 16
    memory: 64g
    runtime: PT1H
jobs:
  - name: A
    command: echo A
    resource_requirements: half
  - name: B
    command: echo B
    resource_requirements: half
    depends_on: [A]
`;

export const specRoutes: ApiRoute[] = [
  {
    operationId: 'create_workflow_from_spec',
    method: 'POST',
    path: '/workflow_specs',
    summary: 'Create and store a workflow with its jobs from a spec document (YAML, JSON, JSON5 or KDL by Content-Type; text/plain: detected); jobs start uninitialized',
    mutating: true,
    body: {
      kind: 'text',
      required: true,
      description: 'A workflow spec (torc field names) or a Workflow resource: application/yaml, application/json, application/json5 or application/kdl (text/… alike); text/plain or none: the format is detected',
      example: EXAMPLE,
    },
    inputErrorStatus: 422,
    response: { status: 201, schema: 'workflow_spec_created', description: 'The new workflow id' },
    handler: async ({ deps, body, mediaType, grant }) => {
      // A body is read in the format its media type declares, as `torc validate` reads a file by
      // its extension: YAML would quietly accept what JSON refuses (a trailing comma, say).
      const format = formatOfMediaType(mediaType ?? '') ?? 'auto';
      const docs = loadWorkflowText(body as string, { sourceName: 'body', format });
      if (docs.length !== 1) {
        throw new InputError(`expected one workflow per request, got ${docs.length} documents`, 'body');
      }
      const plan = planDocument(docs[0]!, { maxJobs: MAX_SPEC_JOBS });
      // A signed-in user owns what they create, whatever `user` the spec names.
      const wf = await deps.store.createWorkflowFromPlan(grant?.owner !== undefined ? { ...plan, user: grant.owner } : plan);
      return { workflow_id: wf.id };
    },
  },
  {
    operationId: 'export_workflow',
    method: 'GET',
    path: '/workflows/{id}/export',
    summary: "The workflow as torc's export document (export_version 1.0: every record with its id, job relations as id lists), as `torc workflows export` writes it",
    mutating: false,
    params: [p.id('id', 'Workflow id'), p.queryBool('include_results', 'Include the results of every run', false), p.queryBool('include_events', 'Include the events', false)],
    errors: [404],
    response: {
      status: 200,
      schema: EXPORT_SCHEMA,
      description: "torc's workflow export document",
    },
    handler: ({ deps, params }) =>
      buildTorcExport(deps.store, params.id as number, { results: params.include_results === true, events: params.include_events === true }),
  },
];
