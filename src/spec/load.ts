/**
 * Loading: a file or text → Workflow documents, each schema-validated and checked for what can
 * be checked before expansion (units, names, parameters, aliases). Accepts a whole Workflow
 * resource (apiVersion/kind/metadata/spec) or a bare torc spec, in YAML (several documents
 * allowed), JSON, JSON5 or KDL (see formats.ts). Every problem of every document is collected
 * into one InputError, each with its line and column where the format allows.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError, type InputIssue } from '../errors.js';
import type { Workflow, WorkflowSpec } from './generated/workflow.js';
import { formatOfPath, type FormatChoice, type SpecFormat } from './formats.js';
import { parseDocuments, type ParseLimits } from './parse.js';
import { withPositions, type Locator } from './positions.js';
import { API_GROUP, API_VERSION, KIND, workflowSpecSchema } from './schema.js';
import { didYouMean } from './suggest.js';
import { staticIssues } from './static-checks.js';
import { fieldSegment, schemaIssues } from './validate-schema.js';

export interface WorkflowMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface WorkflowDocument {
  /** File path, or `<text>` for text passed directly. */
  source: string;
  /** The absolute directory of the file it was read from; absent for text. A relative working_dir means a path under it. */
  dir?: string;
  /** Index of the document within its source (YAML multi-document streams). */
  index: number;
  /** Prefix of every issue path of this document: '' or `documents[N].` when the source holds several. */
  pathPrefix: string;
  /** Whether the document was a full Workflow resource or a bare torc spec. */
  form: 'resource' | 'spec';
  metadata: WorkflowMetadata;
  /** The spec with aliases folded (jobs_sort_method, scheduler) and `name` filled in. */
  spec: WorkflowSpec;
  /** The document as a Workflow resource, as `kubectl apply` would take it. */
  resource: Workflow & { apiVersion: string; kind: string; metadata: WorkflowMetadata };
  /** The format the source was read as. */
  format: SpecFormat;
  /** What is accepted but ignored (torc ignores it too), e.g. unknown resource_monitor fields. */
  warnings: InputIssue[];
  /** Finds a field's line and column in the source (absent where the format or size does not allow). */
  locate?: Locator;
}

export interface LoadOptions extends ParseLimits {
  /**
   * The text's format: 'json' holds it to JSON (an application/json body, a .json file);
   * default 'auto' (YAML, JSON, JSON5 or KDL, detected; see parseDocuments).
   */
  format?: FormatChoice;
  /** Most issues reported at once (default 1000); the rest are counted. */
  maxIssues?: number;
  /** Name shown for text input (default `<text>`). */
  sourceName?: string;
}

/**
 * Loads the Workflow documents of a file, or of text when the argument is clearly text (it
 * contains a newline or starts with `{`). Throws InputError listing every problem found.
 */
export function loadWorkflowDocuments(pathOrText: string, options: LoadOptions = {}): WorkflowDocument[] {
  const isText = pathOrText.includes('\n') || /^\s*[{[]/.test(pathOrText);
  return isText ? loadWorkflowText(pathOrText, options) : loadWorkflowFile(pathOrText, options);
}

export function loadWorkflowFile(path: string, options: LoadOptions = {}): WorkflowDocument[] {
  const limit = options.maxChars ?? 256 * 1024 * 1024;
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > limit * 4) throw new InputError(`file is ${size} bytes, over the limit`, '');
    text = decodeText(readFileSync(path));
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new InputError(`cannot read ${path}: ${why}`, path);
  }
  const docs = loadFromText(text, path, options.format ?? formatOfPath(path), options);
  const dir = dirname(resolve(path));
  for (const d of docs) d.dir = dir;
  return docs;
}

/**
 * A file's bytes as text. readFileSync(…, 'utf8') would quietly turn bad bytes into U+FFFD and
 * store a mangled spec: instead, text that is not UTF-8 (Latin-1, UTF-16, a binary file) or has
 * NUL bytes is refused, saying where.
 */
export function decodeText(bytes: Buffer): string {
  const where = (offset: number) => {
    let line = 1;
    let start = 0;
    for (let i = bytes.indexOf(10); i !== -1 && i < offset; i = bytes.indexOf(10, i + 1)) {
      line++;
      start = i + 1;
    }
    return `line ${line}, column ${offset - start + 1}`;
  };
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new InputError('the file is UTF-16 text; save it as UTF-8');
  }
  const bad = isUtf8(bytes) ? -1 : firstInvalidUtf8(bytes);
  if (bad !== -1) {
    throw new InputError(`not UTF-8 text: byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at ${where(bad)} (binary file, or another encoding such as Latin-1); save it as UTF-8`);
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) throw new InputError(`NUL byte at ${where(nul)}: a workflow file is text, not binary`);
  return new TextDecoder('utf-8').decode(bytes); // drops a UTF-8 byte order mark
}

/** Offset of the first byte that is not part of a well-formed UTF-8 sequence, or -1. */
function firstInvalidUtf8(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    // Lead byte → sequence length and the allowed range of the second byte (no overlongs, no surrogates, ≤ U+10FFFF).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + n > b.length) return i;
    if (b[i + 1]! < lo || b[i + 1]! > hi) return i;
    for (let k = 2; k < n; k++) if (b[i + k]! < 0x80 || b[i + k]! > 0xbf) return i;
    i += n;
  }
  return -1;
}

export function loadWorkflowText(text: string, options: LoadOptions = {}): WorkflowDocument[] {
  return loadFromText(text, options.sourceName ?? '<text>', options.format ?? 'auto', options);
}

function loadFromText(text: string, source: string, format: FormatChoice, options: LoadOptions): WorkflowDocument[] {
  const raw = parseDocuments(text, format, options);
  const issues: InputIssue[] = [];
  const out: WorkflowDocument[] = [];
  const several = raw.length > 1;
  for (const { index, value, format: read, locate } of raw) {
    const prefix = several ? `documents[${index}].` : '';
    const found: InputIssue[] = [];
    const doc = toDocument(value, source, index, prefix, found);
    const form = isObject(value) && ('apiVersion' in value || 'kind' in value) ? 'resource' : 'spec';
    issues.push(...(locate ? withPositions(found, locate, form, prefix) : found));
    if (doc) {
      doc.format = read;
      if (locate) doc.locate = locate;
      if (locate) doc.warnings = withPositions(doc.warnings, locate, form, prefix);
      out.push(doc);
    }
  }
  if (issues.length === 0 && out.length === 0) {
    issues.push({ path: '', message: raw.length === 0 ? 'the input is empty' : `no ${KIND} documents (apiVersion ${API_VERSION}) in the input` });
  }
  throwIfAny(issues, options.maxIssues);
  return out;
}

/** Throws one InputError for all issues, keeping at most `max` and counting the rest. */
export function throwIfAny(issues: InputIssue[], max = 1000): void {
  if (issues.length === 0) return;
  if (issues.length > max) {
    const rest = issues.length - max;
    throw new InputError([...issues.slice(0, max), { path: '', message: `… and ${rest} more error${rest === 1 ? '' : 's'}` }]);
  }
  throw new InputError(issues);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function toDocument(input: unknown, source: string, index: number, prefix: string, issues: InputIssue[]): WorkflowDocument | null {
  if (!isObject(input)) {
    issues.push({ path: prefix.replace(/\.$/, ''), message: `expected a mapping (a Workflow or a workflow spec), got ${Array.isArray(input) ? 'a list' : JSON.stringify(input)}` });
    return null;
  }
  let value: Record<string, unknown> = input;
  const isResource = 'apiVersion' in value || 'kind' in value;
  if (isResource) {
    const apiVersion = value.apiVersion;
    const group = typeof apiVersion === 'string' ? apiVersion.split('/')[0] : undefined;
    // Other kinds in the same stream (a Namespace, a ConfigMap) are not ours: skip them.
    if (group !== API_GROUP && value.kind !== KIND) return null;
    const before = issues.length;
    if (apiVersion !== API_VERSION) {
      issues.push({ path: `${prefix}apiVersion`, message: `expected "${API_VERSION}", got ${JSON.stringify(apiVersion)}` });
    }
    if (value.kind !== KIND) issues.push({ path: `${prefix}kind`, message: `expected "${KIND}", got ${JSON.stringify(value.kind)}` });
    const metadata = checkMetadata(value.metadata, prefix, issues);
    if (isObject(value.spec)) value = { ...value, spec: dropNulls(value.spec) };
    issues.push(...schemaIssues(value, 'resource', prefix));
    if (issues.length > before || !metadata) return null;
    const spec = normalizeSpec(value.spec as WorkflowSpec, metadata.name, `${prefix}spec`, issues);
    if (issues.length > before) return null;
    const resource = { ...(value as unknown as Workflow), apiVersion: API_VERSION, kind: KIND, metadata, spec };
    const warnings = ignoredFields(spec, `${prefix}spec`);
    return { source, index, pathPrefix: prefix, form: 'resource', metadata, spec, resource, format: 'yaml', warnings };
  }
  const before = issues.length;
  value = dropNulls(value);
  issues.push(...schemaIssues(value, 'spec', prefix));
  if (typeof value.name !== 'string' || value.name === '') {
    if (!issues.slice(before).some((i) => i.path === `${prefix}spec.name`)) {
      issues.push({ path: `${prefix}spec.name`, message: 'required field is missing (a bare workflow spec must be named)' });
    }
  }
  if (issues.length > before) return null;
  const spec = normalizeSpec(value as unknown as WorkflowSpec, undefined, `${prefix}spec`, issues);
  if (issues.length > before) return null;
  const metadata: WorkflowMetadata = { name: toResourceName(spec.name!) };
  const resource = { apiVersion: API_VERSION, kind: KIND, metadata, spec };
  const warnings = ignoredFields(spec, `${prefix}spec`);
  return { source, index, pathPrefix: prefix, form: 'spec', metadata, spec, resource, format: 'yaml', warnings };
}

/**
 * Fields accepted and ignored, as torc ignores them: resource_monitor is open in the CRD
 * (torc reads it leniently, and its own examples carry fields it never read, like `metrics`),
 * so a field it does not know is a warning, not an error.
 */
function ignoredFields(spec: WorkflowSpec, path: string): InputIssue[] {
  const monitor = spec.resource_monitor;
  if (!isObject(monitor)) return [];
  const known = Object.keys((workflowSpecSchema().properties as Record<string, { properties?: object }>).resource_monitor?.properties ?? {});
  return Object.keys(monitor)
    .filter((k) => !known.includes(k))
    .map((k) => ({ path: `${path}.resource_monitor${fieldSegment(k)}`, message: `unknown field "${k}" ignored (resource_monitor reads ${known.join(', ')})${didYouMean(k, known)}` }));
}

/**
 * Drops null-valued fields, as torc's serde reads them (None) and as the API server prunes them
 * for non-nullable fields; user_data `data` keeps its nulls because there they are values.
 */
function dropNulls(spec: Record<string, unknown>): Record<string, unknown> {
  const strip = (v: unknown, keepData: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x) => strip(x, keepData));
    if (!isObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === null) continue;
      const value = keepData && k === 'data' ? x : strip(x, false);
      Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  const out = strip(spec, false) as Record<string, unknown>;
  if (Array.isArray(spec.user_data)) {
    Object.defineProperty(out, 'user_data', { value: spec.user_data.map((u) => strip(u, true)), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function checkMetadata(metadata: unknown, prefix: string, issues: InputIssue[]): WorkflowMetadata | null {
  const path = `${prefix}metadata`;
  if (!isObject(metadata)) {
    issues.push({ path, message: metadata === undefined ? 'required field is missing' : 'expected an object' });
    return null;
  }
  const before = issues.length;
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name === '') {
    issues.push({ path: `${path}.name`, message: 'required field is missing' });
  } else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    issues.push({ path: `${path}.name`, message: `"${name}" is not a valid resource name (lowercase letters, digits, "-" and ".", at most 253 characters)` });
  }
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length > 63 || !DNS_LABEL.test(namespace))) {
    issues.push({ path: `${path}.namespace`, message: `${JSON.stringify(namespace)} is not a valid namespace` });
  }
  for (const key of ['labels', 'annotations'] as const) {
    const m = metadata[key];
    if (m !== undefined && (!isObject(m) || Object.values(m).some((v) => typeof v !== 'string'))) {
      issues.push({ path: `${path}.${key}`, message: 'expected a map of strings' });
    }
  }
  return issues.length > before ? null : (metadata as WorkflowMetadata);
}

/** A DNS-1123 name derived from a torc workflow name ("My Sweep_1" → "my-sweep-1"). */
export function toResourceName(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 253);
  return s || 'workflow';
}

/**
 * Folds the aliases (job_sort_method → jobs_sort_method, slurm_scheduler → scheduler), fills
 * `name` from metadata, and runs the checks that need no expansion.
 */
function normalizeSpec(spec: WorkflowSpec, metadataName: string | undefined, path: string, issues: InputIssue[]): WorkflowSpec {
  const out: WorkflowSpec = { ...spec };
  if (out.name === undefined && metadataName !== undefined) out.name = metadataName;
  if (out.job_sort_method !== undefined) {
    if (out.jobs_sort_method !== undefined && out.jobs_sort_method !== out.job_sort_method) {
      issues.push({ path: `${path}.job_sort_method`, message: `conflicts with jobs_sort_method ("${out.job_sort_method}" vs "${out.jobs_sort_method}"); set only one` });
    }
    out.jobs_sort_method ??= out.job_sort_method;
    delete out.job_sort_method;
  }
  if (spec.jobs.some((j) => j.slurm_scheduler !== undefined)) {
    out.jobs = spec.jobs.map((job, i) => {
      if (job.slurm_scheduler === undefined) return job;
      const { slurm_scheduler, ...rest } = job;
      if (rest.scheduler !== undefined && rest.scheduler !== slurm_scheduler) {
        issues.push({ path: `${path}.jobs[${i}].slurm_scheduler`, message: `conflicts with scheduler ("${slurm_scheduler}" vs "${rest.scheduler}"); set only one` });
      }
      return { ...rest, scheduler: rest.scheduler ?? slurm_scheduler };
    });
  }
  issues.push(...staticIssues(out, path));
  return out;
}
