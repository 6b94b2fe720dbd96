/**
 * POST /workflow_specs: a spec document (YAML, JSON, JSON5 or KDL, by Content-Type; a bare torc
 * spec or a Workflow resource) → a stored workflow with its jobs, through the same loader and
 * planner as `torc validate`; errors name the line and column in the body.
 * A document that does not validate is 422 listing every issue with its path; one that would
 * expand past the job limit is 413. Nothing is stored unless the whole plan is valid.
 */
import { InputError } from '../../errors.js';
import { formatOfMediaType, loadWorkflowText, planDocument } from '../../spec/index.js';
import type { ApiRoute } from './common.js';

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
    handler: async ({ deps, body, mediaType }) => {
      // A body is read in the format its media type declares, as `torc validate` reads a file by
      // its extension: YAML would quietly accept what JSON refuses (a trailing comma, say).
      const format = formatOfMediaType(mediaType ?? '') ?? 'auto';
      const docs = loadWorkflowText(body as string, { sourceName: 'body', format });
      if (docs.length !== 1) {
        throw new InputError(`expected one workflow per request, got ${docs.length} documents`, 'body');
      }
      const plan = planDocument(docs[0]!, { maxJobs: MAX_SPEC_JOBS });
      const wf = await deps.store.createWorkflowFromPlan(plan);
      return { workflow_id: wf.id };
    },
  },
];
