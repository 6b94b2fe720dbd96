/**
 * `check-resource-utilization --suggest --apply FILE`: writes the suggested requirements into
 * the workflow's spec file, so the next run packs tighter. YAML is edited through the yaml
 * package's Document API, which keeps comments, key order, quoting, flow or block style and the
 * other documents of the file (it re-spaces a comment after a value to one space); JSON is rewritten with its own indentation (JSON has no comments to
 * keep). JSON5 and KDL are refused, naming the values to change by hand: no library here rewrites
 * them without losing the user's formatting. The new text is checked like any spec before the
 * file is replaced (atomically: written beside it, then renamed).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isSeq, parseAllDocuments, type Document } from 'yaml';
import { InputError } from '../../errors.js';
import { formatOfPath, loadWorkflowText } from '../../spec/index.js';

export interface RequirementChange {
  resource_class: string;
  num_cpus: number;
  memory: string;
  runtime: string;
}

export interface ApplyOutcome {
  file: string;
  applied: string[];
  /** Classes the file does not declare (e.g. the implicit `default`). */
  missing: string[];
}

const FLAG = '--apply';

export function applyRequirements(file: string, workflowName: string, changes: RequirementChange[]): ApplyOutcome {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as Error).message}`, FLAG);
  }
  const format = formatOfPath(file);
  let out: { text: string; applied: string[]; missing: string[] };
  if (format === 'yaml' || format === 'auto') out = applyYaml(text, file, workflowName, changes);
  else if (format === 'json') out = applyJson(text, file, workflowName, changes);
  else {
    const by = changes.map((c) => `${c.resource_class}: num_cpus ${c.num_cpus}, memory ${c.memory}, runtime ${c.runtime}`).join('; ');
    throw new InputError(`${path.basename(file)}: ${format.toUpperCase()} files cannot be rewritten keeping their formatting; change by hand: ${by}`, FLAG);
  }
  // The result must still be a valid spec before it replaces the file.
  loadWorkflowText(out.text, { format: format === 'auto' ? 'yaml' : format, sourceName: file });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.torc-apply-${process.pid}`);
  writeFileSync(tmp, out.text);
  renameSync(tmp, file);
  return { file, applied: out.applied, missing: out.missing };
}

function applyYaml(text: string, file: string, workflowName: string, changes: RequirementChange[]) {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new InputError(`${file}: no YAML documents`, FLAG);
  for (const d of docs) if (d.errors.length > 0) throw new InputError(`${file}: ${d.errors[0]!.message}`, FLAG);
  const doc = pickYamlDocument(docs, workflowName, file);
  const root = doc.get('kind') === 'Workflow' ? ['spec', 'resource_requirements'] : ['resource_requirements'];
  const seq = doc.getIn(root);
  const applied: string[] = [];
  const missing: string[] = [];
  for (const c of changes) {
    const item = isSeq(seq) ? seq.items.find((i) => isMap(i) && i.get('name') === c.resource_class) : undefined;
    if (!isMap(item)) {
      missing.push(c.resource_class);
      continue;
    }
    item.set('num_cpus', c.num_cpus);
    item.set('memory', c.memory);
    item.set('runtime', c.runtime);
    applied.push(c.resource_class);
  }
  // Flow collections as the user wrote them: `{name: x}` or `{ name: x }`.
  const flowCollectionPadding = /\{ \S/.test(text) && !/\{[^ \n}]/.test(text);
  return { text: docs.map((d) => d.toString({ flowCollectionPadding })).join(''), applied, missing };
}

function yamlName(doc: Document): unknown {
  return doc.get('kind') === 'Workflow' ? (doc.getIn(['spec', 'name']) ?? doc.getIn(['metadata', 'name'])) : doc.get('name');
}

function pickYamlDocument(docs: Document[], workflowName: string, file: string): Document {
  const workflows = docs.filter((d) => isMap(d.contents));
  if (workflows.length === 1) return workflows[0]!;
  const named = workflows.find((d) => yamlName(d) === workflowName);
  if (!named) throw new InputError(`${file} declares no workflow named "${workflowName}"`, FLAG);
  return named;
}

function applyJson(text: string, file: string, workflowName: string, changes: RequirementChange[]) {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`${file}: ${(e as Error).message}`, FLAG);
  }
  const spec = (value.kind === 'Workflow' ? value.spec : value) as Record<string, unknown> | undefined;
  const name = value.kind === 'Workflow' ? (spec?.name ?? (value.metadata as { name?: string } | undefined)?.name) : spec?.name;
  if (name !== undefined && name !== workflowName) throw new InputError(`${file} declares workflow "${String(name)}", not "${workflowName}"`, FLAG);
  const entries = Array.isArray(spec?.resource_requirements) ? (spec!.resource_requirements as Record<string, unknown>[]) : [];
  const applied: string[] = [];
  const missing: string[] = [];
  for (const c of changes) {
    const entry = entries.find((e) => e?.name === c.resource_class);
    if (!entry) {
      missing.push(c.resource_class);
      continue;
    }
    Object.assign(entry, { num_cpus: c.num_cpus, memory: c.memory, runtime: c.runtime });
    applied.push(c.resource_class);
  }
  const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? '  ';
  return { text: `${JSON.stringify(value, null, indent)}${text.endsWith('\n') ? '\n' : ''}`, applied, missing };
}
