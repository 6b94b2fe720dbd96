/**
 * A workflow spec → text in any of torc's formats, read back by the loader to the same spec
 * (`torc workflows export --spec`). KDL is written in torc's shape (see kdl.ts): one node per
 * list entry with its name as the argument, one node per value of a list of names (torc's KDL
 * reader takes only the first argument of most of them), user data as a JSON string.
 */
import type { Document, Node } from '@bgotink/kdl';
import { loadJson5, loadKdl } from '../lazy-modules.js';
import { stringify as stringifyYaml } from 'yaml';
import type { WorkflowSpec } from './generated/workflow.js';
import type { SpecFormat } from './formats.js';
import { workflowSpecSchema, type JsonSchema } from './schema.js';

export function serializeSpec(spec: WorkflowSpec, format: SpecFormat): string {
  switch (format) {
    case 'yaml':
      return stringifyYaml(spec, { lineWidth: 0, aliasDuplicateObjects: false });
    case 'json':
      return `${JSON.stringify(spec, null, 2)}\n`;
    case 'json5':
      return `${loadJson5().stringify(spec, null, 2)}\n`;
    case 'kdl':
      return loadKdl().format(toKdlDocument(spec));
  }
}

/** Node name of one entry (or one value) of a list field, where torc's KDL uses a singular. */
const ENTRY_NODE: Record<string, string> = {
  jobs: 'job',
  files: 'file',
  failure_handlers: 'failure_handler',
  slurm_schedulers: 'slurm_scheduler',
  actions: 'action',
  rules: 'rule',
  input_files: 'input_file',
  output_files: 'output_file',
  commands: 'command',
};

/** Lists torc's KDL reader takes as several arguments of one node. */
const MULTI_ARGUMENT = new Set(['use_parameters', 'exit_codes']);

type Primitive = string | number | boolean | null;

function toKdlDocument(spec: WorkflowSpec): Document {
  const doc = new (loadKdl().Document)();
  for (const node of fieldNodes(spec as unknown as Record<string, unknown>, workflowSpecSchema())) doc.appendNode(node);
  return doc;
}

/** The nodes for an object's fields, in the schema's order (known fields first, then the rest). */
function fieldNodes(obj: Record<string, unknown>, schema: JsonSchema | undefined): Node[] {
  const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const keys = [...Object.keys(props).filter((k) => Object.hasOwn(obj, k)), ...Object.keys(obj).filter((k) => !Object.hasOwn(props, k))];
  const valueSchema = schema?.properties === undefined && typeof schema?.additionalProperties === 'object' ? (schema.additionalProperties as JsonSchema) : undefined;
  const out: Node[] = [];
  for (const key of keys) {
    const value = obj[key];
    if (value === undefined || value === null) continue;
    out.push(...valueNodes(key, value, props[key] ?? valueSchema));
  }
  return out;
}

function valueNodes(key: string, value: unknown, schema: JsonSchema | undefined): Node[] {
  if (Array.isArray(value)) {
    const items = (schema?.items ?? {}) as JsonSchema;
    if (items.properties !== undefined) return value.map((item) => entryNode(ENTRY_NODE[key] ?? key, item as Record<string, unknown>, items));
    // An unknown field's list has no singular to repeat: one node with every value.
    if (MULTI_ARGUMENT.has(key) || schema === undefined) return [node(key, value as Primitive[])];
    return (value as Primitive[]).map((v) => node(ENTRY_NODE[key] ?? key, [v]));
  }
  if (typeof value === 'object' && value !== null) {
    const block = node(key, []);
    for (const child of fieldNodes(value as Record<string, unknown>, schema)) block.appendNode(child);
    return [block];
  }
  return [node(key, [value as Primitive])];
}

/** One list entry: its name as the argument, its fields as children (a file's path as a property, as torc writes it). */
function entryNode(name: string, item: Record<string, unknown>, schema: JsonSchema): Node {
  const n = node(name, typeof item.name === 'string' ? [item.name] : []);
  if (name === 'file' && typeof item.path === 'string') n.setProperty('path', item.path);
  const rest = { ...item };
  delete rest.name;
  if (name === 'file') delete rest.path;
  if (name === 'user_data' && Object.hasOwn(rest, 'data')) {
    // torc reads user data as a JSON string in KDL.
    const data = node('data', [JSON.stringify(rest.data)]);
    delete rest.data;
    for (const child of fieldNodes(rest, schema)) n.appendNode(child);
    n.appendNode(data);
    return n;
  }
  for (const child of fieldNodes(rest, schema)) n.appendNode(child);
  return n;
}

function node(name: string, args: Primitive[]): Node {
  const { Node: KdlNode, Identifier } = loadKdl();
  const n = new KdlNode(new Identifier(name));
  for (const a of args) n.addArgument(a);
  return n;
}
