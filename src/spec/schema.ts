/**
 * The workflow schema, read from the CRD (crds/workflow.yaml is the one source of truth) and
 * turned into the plain JSON Schema that ajv and json-schema-to-typescript understand.
 *
 * The CRD stays structural for a real API server, so it cannot say "no other fields" next to
 * `properties`; the conversion here closes every object that lists its properties, which makes
 * unknown fields errors in torc-ts while `kubectl apply` still accepts the CRD.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type JsonSchema = { [key: string]: unknown };

/** crds/workflow.yaml, found relative to this module (src/spec or dist/spec alike). */
export const CRD_PATH = new URL('../../crds/workflow.yaml', import.meta.url);

let cachedCrd: JsonSchema | undefined;

/** The parsed CustomResourceDefinition. */
export function loadCrd(): JsonSchema {
  cachedCrd ??= parse(readFileSync(CRD_PATH, 'utf8')) as JsonSchema;
  return cachedCrd;
}

/** The served version's openAPIV3Schema, exactly as the CRD states it. */
export function crdOpenApiSchema(crd: JsonSchema = loadCrd()): JsonSchema {
  const versions = (crd.spec as { versions: { name: string; storage?: boolean; schema: { openAPIV3Schema: JsonSchema } }[] }).versions;
  const version = versions.find((v) => v.storage) ?? versions[0];
  if (!version) throw new Error(`${CRD_PATH.pathname}: the CRD has no versions`);
  return version.schema.openAPIV3Schema;
}

/**
 * Kubernetes structural schema → strict JSON Schema (draft-07):
 * - an object that lists `properties` gets `additionalProperties: false`;
 * - `x-kubernetes-int-or-string` becomes `type: [integer, string]`;
 * - `x-kubernetes-preserve-unknown-fields` (without a type) means any value;
 * - every other `x-kubernetes-*` extension is dropped.
 */
export function toStrictJsonSchema(node: unknown): JsonSchema {
  if (!isObject(node)) throw new TypeError('schema node must be an object');
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toStrictJsonSchema(v)]));
    } else if ((key === 'items' || key === 'additionalProperties') && isObject(value)) {
      out[key] = toStrictJsonSchema(value);
    } else {
      out[key] = value;
    }
  }
  if (node['x-kubernetes-int-or-string'] === true) out.type = ['integer', 'string'];
  if (isObject(node.properties) && node.additionalProperties === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

let cachedResource: JsonSchema | undefined;

/** Strict JSON Schema of a whole Workflow resource (apiVersion, kind, metadata, spec, status). */
export function workflowResourceSchema(): JsonSchema {
  cachedResource ??= { title: 'Workflow', ...toStrictJsonSchema(crdOpenApiSchema()) };
  return cachedResource;
}

/** Strict JSON Schema of `spec` alone: torc's WorkflowSpec plus our additions. */
export function workflowSpecSchema(): JsonSchema {
  return (workflowResourceSchema().properties as Record<string, JsonSchema>).spec!;
}

export const API_GROUP = 'torc.dev';
export const API_VERSION = 'torc.dev/v1alpha1';
export const KIND = 'Workflow';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
