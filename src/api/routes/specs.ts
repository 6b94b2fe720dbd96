/**
 * POST /workflow_specs: a spec document (YAML or JSON; a bare torc spec or a Workflow resource)
 * → a stored workflow with its jobs, through the same loader and planner as `torc validate`.
 * A document that does not validate is 422 listing every issue with its path; one that would
 * expand past the job limit is 413. Nothing is stored unless the whole plan is valid.
 */
import { InputError } from '../../errors.js';
import { loadWorkflowText, planDocument } from '../../spec/index.js';
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
    summary: 'Create and store a workflow with its jobs from a spec document (YAML or JSON); jobs start uninitialized',
    mutating: true,
    body: {
      kind: 'text',
      required: true,
      description: 'A workflow spec (torc field names) or a Workflow resource, YAML or JSON',
      example: EXAMPLE,
    },
    inputErrorStatus: 422,
    response: { status: 201, schema: 'workflow_spec_created', description: 'The new workflow id' },
    handler: async ({ deps, body, mediaType }) => {
      // A body declared JSON is held to JSON, as `torc validate` holds a .json file: YAML would
      // quietly accept what JSON refuses (a trailing comma, say).
      const json = mediaType === 'application/json' || mediaType === 'text/json';
      const docs = loadWorkflowText(body as string, { sourceName: 'body', format: json ? 'json' : 'auto' });
      if (docs.length !== 1) {
        throw new InputError(`expected one workflow per request, got ${docs.length} documents`, 'body');
      }
      const plan = planDocument(docs[0]!, { maxJobs: MAX_SPEC_JOBS });
      const wf = await deps.store.createWorkflowFromPlan(plan);
      return { workflow_id: wf.id };
    },
  },
];
