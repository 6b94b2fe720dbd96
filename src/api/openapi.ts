/**
 * The OpenAPI 3.1 document, generated from the same route table the router is built from
 * (and the same schemas the body validator uses), so it cannot drift from the code.
 */
import { API_VERSION, VERSION } from '../version.js';
import { SPEC_MEDIA_TYPES } from '../spec/formats.js';
import { paramSchema } from './params.js';
import { policyOf, type Policy } from './access-control.js';
import { BASE_PATH, type Route } from './route.js';
import type { JsonSchema } from './validate.js';

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request: a parameter or body field has the wrong type or value (`field` names it)',
  401: 'Not signed in, or wrong credentials (bearer token or HTTP Basic), when the server needs a sign-in',
  403: 'Signed in, but not allowed: a reader changing a workflow, a user managing access groups or changing an owner',
  404: 'The referenced record does not exist',
  409: 'Illegal in the current state (wrong run_id, job not in the required state)',
  413: 'Request body over the size limit',
  415: 'Unsupported body media type',
  422: 'The document is well-formed but does not validate (every issue listed with its path)',
  429: 'Too many failed sign-ins from this address for this user or token; retry after Retry-After seconds',
};

/** The access rule in words (x-access), and the errors it can answer. */
function accessOf(policy: Policy): { words: string; errors: number[] } {
  switch (policy.kind) {
    case 'public':
      return { words: 'public', errors: [] };
    case 'signed-in':
      return { words: 'any signed-in caller', errors: [401, 429] };
    case 'admin':
      return { words: 'admins (and the bearer token)', errors: [401, 403, 429] };
    case 'self':
      return { words: 'the user named in the path, or an admin', errors: [401, 403, 429] };
    case 'visible-workflows':
      return { words: 'any signed-in caller; lists only the workflows they may see', errors: [401, 429] };
    case 'new-workflow':
      return { words: 'any signed-in caller, who owns the new workflow', errors: [401, 429] };
    case 'workflow':
      return {
        words: `${policy.need} access to the workflow (${policy.from.in === 'record' ? "the record's" : `from the ${policy.from.in}`}); 404 when it may not be seen`,
        errors: [401, 404, 429, ...(policy.need === 'write' ? [403] : [])],
      };
  }
}

function schemaRef(schema: string | JsonSchema): JsonSchema {
  return typeof schema === 'string' ? { $ref: `#/components/schemas/${schema}` } : schema;
}

export function buildOpenApi<D>(routes: readonly Route<D>[], components: Record<string, JsonSchema>): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const op: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
    };
    if (route.params?.length) {
      op.parameters = route.params.map((s) => ({
        name: s.name,
        in: s.in,
        required: s.in === 'path' ? true : Boolean(s.required),
        description: s.description,
        schema: paramSchema(s),
      }));
    }
    if (route.body) {
      const content: Record<string, unknown> = {};
      const schema = route.body.schema ? schemaRef(route.body.schema) : { type: 'object' };
      if (route.body.kind === 'json') {
        content['application/json'] = { schema, example: route.body.example };
      } else {
        content['application/yaml'] = { schema: { type: 'string' }, example: route.body.example };
        for (const type of Object.keys(SPEC_MEDIA_TYPES)) content[type] ??= { schema: { type: 'string' } };
      }
      op.requestBody = { required: route.body.required, description: route.body.description, content };
    }
    const responses: Record<string, unknown> = {
      [String(route.response.status)]: {
        description: route.response.description,
        content: { 'application/json': { schema: schemaRef(route.response.schema) } },
      },
    };
    const access = accessOf(policyOf(route));
    const errors = new Set<number>([400, ...(route.body ? [413] : []), ...access.errors, ...(route.errors ?? [])]);
    if (route.inputErrorStatus === 422) errors.add(422);
    for (const status of [...errors].sort((a, b) => a - b)) {
      responses[String(status)] = {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/error_response' } } },
      };
    }
    op.responses = responses;
    // Public operations need nothing; the others the bearer token or a user's HTTP Basic sign-in
    // (reads only when the server runs without --public-read).
    op.security = access.words === 'public' ? [] : [{ bearer: [] }, { basic: [] }];
    op['x-access'] = access.words;
    op['x-mutating'] = route.mutating;
    (paths[route.path] ??= {})[route.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'torc-ts',
      version: VERSION,
      description: `torc-compatible workflow service (API ${API_VERSION}). With --token-file or --auth, every operation but the public ones needs the bearer token or a user's HTTP Basic sign-in (reads not, with --public-read); x-access says who may call each.`,
    },
    servers: [{ url: BASE_PATH }],
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, basic: { type: 'http', scheme: 'basic' } },
    },
  };
}
