/**
 * KDL workflow files (torc's third format) → the same plain spec object the YAML path
 * produces, so one schema check and one planner serve every format.
 *
 * torc's KDL shape: top-level nodes are the spec's fields (`name "wf"`, `jobs_sort_method …`);
 * each list entry is a node named after the entry, its name as the first argument (`job "a"
 * { … }`, `file "f" path="/p"`, `resource_requirements "small" { … }`, `slurm_scheduler`,
 * `failure_handler` with `rule { … }` children, `user_data`, `action { … }`); list fields
 * inside an entry repeat a singular node (`input_file "x"`, `depends_on "a"`, `command "…"`
 * in an action) or give several arguments (`use_parameters "a" "b"`, `exit_codes 10 11`);
 * maps are blocks (`parameters { lr "[0.1,0.2]" }`); booleans are `#true` / `#false`;
 * user data `data` is a JSON string. KDL v1 text is read too (as torc's parser does).
 *
 * The mapping follows the CRD's schema rather than a hand-kept field list: a field the schema
 * lists is read with the schema's shape, so a new spec field works in KDL without code here.
 * Unknown nodes are kept under their name for the schema check to report (torc would drop
 * them silently), each with its line and column.
 */
import type { Entry, Node } from '@bgotink/kdl';
import { loadKdl, loadKdlV1 } from '../lazy-modules.js';
import { InputError, type InputIssue } from '../errors.js';
import { workflowSpecSchema, type JsonSchema } from './schema.js';
import type { Locator, PathSegments, SourcePosition } from './positions.js';
import { fieldSegment } from './validate-schema.js';

export interface KdlDocumentValue {
  value: Record<string, unknown>;
  locate: Locator;
}

/** Singular node names of list fields that torc's KDL uses besides `<field>` minus its `s`. */
const ALIASES: Record<string, string> = { depends_on_job: 'depends_on' };

/** Parses KDL text into a spec object; throws InputError with line and column on bad KDL. */
export function parseKdlSpec(text: string): KdlDocumentValue {
  const doc = parseWithPositions(text);
  const conv = new Converter();
  const value = conv.object(doc.nodes, workflowSpecSchema(), []);
  if (conv.issues.length > 0) throw new InputError(conv.issues);
  return { value, locate: conv.locator() };
}

function parseWithPositions(text: string) {
  try {
    return loadKdl().parse(text, { storeLocations: true });
  } catch (v2Error) {
    try {
      return loadKdlV1().parseCompat(text, { storeLocations: true }); // KDL v1 (`true`, `false`, `null` without #)
    } catch {
      throw syntaxError(v2Error); // the v2 error: torc's examples and docs are KDL v2
    }
  }
}

function syntaxError(err: unknown): InputError {
  const details = err instanceof Error && typeof (err as { flat?: unknown }).flat === 'function' ? [...(err as unknown as { flat(): Iterable<Error & { start?: SourcePosition }> }).flat()] : [];
  const list = details.length > 0 ? details : [err as Error & { start?: SourcePosition }];
  return new InputError(
    list.slice(0, 20).map((e) => {
      const what = String(e?.message ?? e).replace(/ at \d+:\d+$/, '');
      const at = e?.start ? ` at line ${e.start.line}, column ${e.start.column}` : '';
      return { path: '', message: `KDL syntax error${at}: ${what}` };
    }),
  );
}

type Primitive = string | number | boolean | null;

class Converter {
  readonly issues: InputIssue[] = [];
  private readonly positions = new Map<string, SourcePosition>();

  locator(): Locator {
    return (segments: PathSegments) => {
      for (let n = segments.length; n >= 0; n--) {
        const at = this.positions.get(key(segments.slice(0, n)));
        if (at) return at;
      }
      return undefined;
    };
  }

  private mark(path: PathSegments, element: Node | Entry): void {
    const loc = loadKdl().getLocation(element);
    if (loc) this.positions.set(key(path), { line: loc.start.line, column: loc.start.column });
  }

  private fail(path: PathSegments, element: Node | Entry, message: string): void {
    const loc = loadKdl().getLocation(element);
    const at = loc ? ` (line ${loc.start.line}, column ${loc.start.column})` : '';
    this.issues.push({ path: ['spec', ...path].reduce<string>((p, s) => p + (typeof s === 'number' ? `[${s}]` : fieldSegment(s)), '').replace(/^\./, ''), message: `${message}${at}` });
  }

  /** Child nodes (and an entry node's properties) → an object of `schema`'s shape. */
  object(nodes: readonly Node[], schema: JsonSchema | undefined, path: PathSegments, into: Record<string, unknown> = {}): Record<string, unknown> {
    const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
    const isMap = schema !== undefined && schema.properties === undefined;
    const valueSchema = isMap && typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as JsonSchema) : undefined;
    for (const node of nodes) {
      const name = node.getName();
      const field = isMap ? name : fieldFor(name, props);
      const fieldSchema = isMap ? valueSchema : props[field];
      this.field(into, field, fieldSchema, node, [...path, field]);
    }
    return into;
  }

  private field(into: Record<string, unknown>, field: string, schema: JsonSchema | undefined, node: Node, path: PathSegments): void {
    if (schema?.type === 'array') {
      const items = (schema.items ?? {}) as JsonSchema;
      const list = (Array.isArray(into[field]) ? into[field] : []) as unknown[];
      if (!Object.hasOwn(into, field)) this.mark(path, node);
      setField(into, field, list);
      if (items.properties !== undefined) {
        // One entry per node: `job "a" { … }`.
        this.mark([...path, list.length], node);
        list.push(this.entry(node, items, [...path, list.length]));
      } else {
        // Scalars from every argument, repeated nodes adding up: `depends_on "a" "b"`, `input_file "x"`.
        for (const arg of node.getArgumentEntries()) {
          this.mark([...path, list.length], arg);
          list.push(arg.getValue());
        }
        this.noChildren(node, path);
      }
      return;
    }
    if (Object.hasOwn(into, field)) {
      this.fail(path, node, `"${node.getName()}" is given twice`);
      return;
    }
    this.mark(path, node);
    if (schema?.properties !== undefined || (schema?.type === 'object' && schema.additionalProperties !== undefined)) {
      setField(into, field, this.entry(node, schema, path));
      return;
    }
    if (node.children !== null && node.getArgumentEntries().length === 0 && !node.hasProperties()) {
      // A block where the schema has no shape to follow (an unknown field, free-form data): keep its structure.
      setField(into, field, this.object(node.children.nodes, { type: 'object', additionalProperties: {} }, path));
      return;
    }
    const args = node.getArguments() as Primitive[];
    if (schema === undefined && args.length > 1 && !node.hasProperties()) {
      setField(into, field, args); // an unknown field's list, kept for the schema check (or a warning) to name
      return;
    }
    if (args.length !== 1 || node.hasProperties()) {
      this.fail(path, node, `"${node.getName()}" takes one value, got ${args.length === 0 ? 'none' : `${args.length}`}${node.hasProperties() ? ' and properties' : ''}`);
      return;
    }
    this.noChildren(node, path);
    setField(into, field, field === 'data' && path.length === 3 && path[0] === 'user_data' ? this.jsonData(args[0]!, node, path) : args[0]);
  }

  /** One list entry or object field: first argument = its `name`, `key=value` properties and child nodes = its fields. */
  private entry(node: Node, schema: JsonSchema, path: PathSegments): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const args = node.getArgumentEntries();
    if (args.length > 0) {
      if (props.name !== undefined && args.length === 1) {
        this.mark([...path, 'name'], args[0]!);
        out.name = args[0]!.getValue();
      } else {
        this.fail(path, node, props.name !== undefined ? `"${node.getName()}" takes one argument, its name; got ${args.length}` : `"${node.getName()}" takes no arguments; give its fields as child nodes`);
      }
    }
    for (const prop of node.getPropertyEntries()) {
      const name = prop.getName()!;
      const field = schema.properties === undefined ? name : fieldFor(name, props);
      if (Object.hasOwn(out, field)) {
        this.fail([...path, field], node, `"${name}" is given twice`);
        continue;
      }
      this.mark([...path, field], prop);
      const value = prop.getValue();
      setField(out, field, (props[field] as JsonSchema | undefined)?.type === 'array' ? [value] : value);
    }
    if (node.children !== null) this.object(node.children.nodes, schema, path, out);
    return out;
  }

  /** torc reads user data `data` as a JSON string: `data "{\"key\": 1}"`. */
  private jsonData(value: Primitive, node: Node, path: PathSegments): unknown {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value);
    } catch (err) {
      this.fail(path, node, `user data is a JSON string in KDL; this one is not valid JSON: ${(err as Error).message}`);
      return value;
    }
  }

  private noChildren(node: Node, path: PathSegments): void {
    if (node.children !== null && node.children.nodes.length > 0) this.fail(path, node, `"${node.getName()}" takes values, not a { … } block`);
  }
}

/** The schema field a node name stands for: itself, a known alias, or the list it is one item of (`job` → `jobs`). */
function fieldFor(name: string, props: Record<string, JsonSchema>): string {
  if (Object.hasOwn(props, name)) return name;
  const alias = ALIASES[name];
  if (alias !== undefined && Object.hasOwn(props, alias)) return alias;
  if (props[`${name}s`]?.type === 'array') return `${name}s`;
  return name;
}

function setField(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function key(segments: PathSegments): string {
  return JSON.stringify(segments);
}
