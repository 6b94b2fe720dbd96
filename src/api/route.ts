/**
 * The route table's shape. One declaration per route drives the router (matching, parameter
 * decoding, body validation, auth) AND the OpenAPI document, so the two cannot drift apart.
 */
import type { ParamSpec, Params } from './params.js';
import type { JsonSchema } from './validate.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteBody {
  /** `json`: decoded and validated against `schema`; `text`: a spec document (YAML or JSON). */
  kind: 'json' | 'text';
  /** A component name in api/schemas.ts or an inline schema (json bodies). */
  schema?: string | JsonSchema;
  required: boolean;
  description: string;
  /**
   * `handler`: the schema only documents the body; the handler validates it with the domain's
   * own parser (which names fields just as precisely), e.g. the two capacity forms of a claim.
   */
  validatedBy?: 'schema' | 'handler';
  /** A valid example (published in the document). Give one: the OpenAPI walk test sends it and fails without. */
  example?: unknown;
}

export interface RouteResponse {
  status: number;
  /** A component name or an inline schema; test/api walks the document and checks answers against it. */
  schema: string | JsonSchema;
  description: string;
}

/** What a handler learns from the access decision (src/api/access-control.ts). */
export interface Grant {
  /** List only workflows this user may see (undefined: all). */
  visibleTo?: string;
  /** The owner of a workflow this call creates (undefined: as the body says). */
  owner?: string;
  /** Mask secrets in the answer: the caller may read but not write. */
  mask: boolean;
}

export interface HandlerInput<D> {
  deps: D;
  params: Params;
  /** The validated JSON body, or the text of a spec document; undefined when absent. */
  body: unknown;
  /** What the access rules decided (list filter, owner of a new workflow); absent when auth is off. */
  grant?: Grant;
  /** The body's media type without parameters, lower case ('' when no Content-Type was sent). */
  mediaType?: string;
}

export interface Route<D> {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI style, relative to the base path: `/workflows/{id}/status`. */
  path: string;
  summary: string;
  /**
   * Changes state: requires the bearer token when one is configured. Explicit rather than
   * derived from the method because the seed's GET claim forms mutate too.
   */
  mutating: boolean;
  params?: ParamSpec[];
  body?: RouteBody;
  response: RouteResponse;
  /** Status of an InputError raised by the handler (400 unless the route judges a document: 422). */
  inputErrorStatus?: 400 | 422;
  /** Error statuses this route can answer besides 400/401/413 (documented in OpenAPI). */
  errors?: number[];
  handler: (input: HandlerInput<D>) => Promise<unknown> | unknown;
}

export const BASE_PATH = '/torc-service/v1';

/** `/workflows/{id}` → `/workflows/:id` for @koa/router. */
export function routerPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}
