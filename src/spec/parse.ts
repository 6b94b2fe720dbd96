/**
 * Text → plain JS documents in any of torc's spec formats: YAML (one or many documents), JSON,
 * JSON5 and KDL, with guards against hostile input (alias bombs, absurd nesting, oversized text)
 * that fail with a clear InputError instead of exhausting memory or the stack. Syntax errors
 * name the line and column; each document can locate its fields in the text (for validation
 * errors) while the text is of a size worth keeping.
 */
import { isAlias, isMap, isSeq, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { InputError, type InputIssue } from '../errors.js';
import { loadJson5 } from '../lazy-modules.js';
import type { FormatChoice, SpecFormat } from './formats.js';
import { parseKdlSpec } from './kdl.js';
import { LineIndex, type Locator, type PathSegments } from './positions.js';

export interface ParseLimits {
  /** Largest accepted text, in characters (default 256 Mi). */
  maxChars?: number;
  /** Deepest accepted nesting of collections (default 64). */
  maxDepth?: number;
  /** yaml's alias budget: how many alias expansions a document may use (default 100). */
  maxAliasCount?: number;
}

export interface RawDocument {
  /** 0-based index among the documents of the text. */
  index: number;
  value: unknown;
  /** The format the text was read as. */
  format: SpecFormat;
  /** Finds a field's position in the text; absent for JSON5 and for texts too large to keep. */
  locate?: Locator;
}

const DEFAULTS: Required<ParseLimits> = { maxChars: 256 * 1024 * 1024, maxDepth: 64, maxAliasCount: 100 };

/** Texts up to this size keep a locator (which holds on to the text and re-parses it on the first error). */
const LOCATABLE_CHARS = 16 * 1024 * 1024;

/**
 * Parses text in `format` into its documents (empty YAML documents are dropped). 'auto' reads
 * JSON-looking text as JSON, then JSON5; other text as YAML, and text that is no YAML mapping
 * as KDL when it parses as KDL (torc's order for files without a known extension).
 */
export function parseDocuments(text: string, format: FormatChoice = 'auto', limits: ParseLimits = {}): RawDocument[] {
  const lim = { ...DEFAULTS, ...limits };
  if (text.length > lim.maxChars) {
    throw new InputError(`input is ${text.length} characters, over the limit of ${lim.maxChars}`);
  }
  // The yaml parser recurses per nesting level (and can run out of memory formatting the error),
  // so absurd nesting is refused before it gets there. The quote-blind count backs up the
  // quote-aware one (which a stray quote could fool); no real spec comes near either limit.
  // JSON5 and KDL quote and comment differently: only the blind count applies before parsing,
  // and the parsed depth after.
  const blind = Math.max(lim.maxDepth, BLIND_DEPTH_LIMIT);
  const scanned = format === 'json5' || format === 'kdl' ? 0 : flowNestingDepth(text);
  if (scanned > lim.maxDepth || bracketDepth(text) > blind) {
    throw new InputError(`nesting is ${scanned} levels deep, over the limit of ${lim.maxDepth}`);
  }

  const docs = parseIn(text, format, lim);
  for (const doc of docs) {
    const depth = valueDepth(doc.value, lim.maxDepth);
    if (depth > lim.maxDepth) {
      throw new InputError(`nesting is deeper than ${lim.maxDepth} levels`, docs.length > 1 ? `documents[${doc.index}]` : '');
    }
  }
  return docs;
}

function parseIn(text: string, format: FormatChoice, lim: Required<ParseLimits>): RawDocument[] {
  switch (format) {
    case 'json':
      return [{ index: 0, value: parseJson(text), format, locate: yamlLocator(text, 0) }];
    case 'json5':
      return [{ index: 0, value: parseJson5(text), format }];
    case 'kdl': {
      const { value, locate } = parseKdlSpec(text);
      return [{ index: 0, value, format, locate }];
    }
    case 'yaml': {
      // JSON is YAML, and JSON.parse is much faster on big files: JSON-looking text tries it first.
      const json = /^\s*[{[]/.test(text) ? tryParse(() => JSON.parse(text) as unknown) : undefined;
      return json ? [{ index: 0, value: json.value, format: 'yaml', locate: yamlLocator(text, 0) }] : parseYaml(text, lim.maxAliasCount);
    }
    case 'auto':
      return parseAuto(text, lim);
  }
}

/** Text that starts (after blanks and comments) with `{` or `[`. */
const JSON_LIKE = /^(?:\s|\/\/[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*[{[]/;

function parseAuto(text: string, lim: Required<ParseLimits>): RawDocument[] {
  if (JSON_LIKE.test(text)) {
    const json = tryParse(() => JSON.parse(text) as unknown);
    if (json) return [{ index: 0, value: json.value, format: 'json', locate: yamlLocator(text, 0) }];
    const json5 = tryParse(() => loadJson5().parse(text) as unknown);
    if (json5) return [{ index: 0, value: json5.value, format: 'json5' }];
  }
  let yamlError: unknown;
  try {
    const docs = parseYaml(text, lim.maxAliasCount);
    if (docs.some((d) => typeof d.value === 'object' && d.value !== null)) return docs;
  } catch (err) {
    yamlError = err;
  }
  // Not YAML, or YAML that is only a scalar (as KDL text reads in YAML): KDL when it is KDL.
  const kdl = tryParse(() => parseKdlSpec(text));
  if (kdl) return [{ index: 0, value: kdl.value.value, format: 'kdl', locate: kdl.value.locate }];
  if (yamlError) {
    const json5 = tryParse(() => loadJson5().parse(text) as unknown);
    if (json5) return [{ index: 0, value: json5.value, format: 'json5' }];
    throw yamlError;
  }
  return parseYaml(text, lim.maxAliasCount);
}

function tryParse<T>(parse: () => T): { value: T } | undefined {
  try {
    return { value: parse() };
  } catch {
    return undefined;
  }
}

function parseJson5(text: string): unknown {
  try {
    return loadJson5().parse(text) as unknown;
  } catch (err) {
    const e = err as SyntaxError & { lineNumber?: number; columnNumber?: number };
    const at = e.lineNumber !== undefined ? ` at line ${e.lineNumber}, column ${e.columnNumber}` : '';
    const what = e.message.replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
    throw new InputError(`invalid JSON5${at}: ${what}`);
  }
}

/**
 * A locator over the YAML (or JSON) text, built on the first call: the text is parsed again
 * then, so a valid document costs nothing. Undefined for texts too large to keep.
 */
function yamlLocator(text: string, index: number): Locator | undefined {
  if (text.length > LOCATABLE_CHARS) return undefined;
  let find: Locator | undefined;
  return (segments) => {
    if (!find) {
      const docs = parseAllDocuments(text, { prettyErrors: false });
      const doc = (Array.isArray(docs) ? docs : [])[index];
      const lines = new LineIndex(text);
      find = doc ? (s) => yamlOffset(doc, s, lines) : () => undefined;
    }
    return find(segments);
  };
}

/** Position of the key (or item) at `segments`, or of its nearest ancestor present in the text. */
function yamlOffset(doc: Document, segments: PathSegments, lines: LineIndex) {
  let node: unknown = doc.contents;
  let offset = (node as YamlNode | null)?.range?.[0];
  for (const seg of segments) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === String(seg));
      if (!pair) break;
      offset = (pair.key as YamlNode | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      node = node.items[seg];
      offset = (node as YamlNode).range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.position(offset);
}

const BLIND_DEPTH_LIMIT = 1000;

/** Bracket nesting ignoring quotes and comments entirely. */
function bracketDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) {
      if (++depth > max) max = depth;
    } else if ((c === 93 || c === 125) && depth > 0) {
      depth--;
    }
  }
  return max;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(raw);
    // Node 20 does not always say where; locate its quoted excerpt, else ask the YAML parser.
    const offset = pos ? Number(pos[1]) : (excerptOffset(text, raw) ?? yamlErrorOffset(text));
    const where = offset === undefined ? '' : ` at ${lineColumn(text, offset)}`;
    const what = raw.replace(/ in JSON at position \d+.*$/s, '').replace(/, (\.\.\.)?"[\s\S]*" is not valid JSON$/, '').replace(/\s+/g, ' ');
    throw new InputError(`invalid JSON${where}: ${what}`);
  }
}

/** Offset of the unexpected token, from V8's `Unexpected token 'X', ..."excerpt"... is not valid JSON`. */
function excerptOffset(text: string, message: string): number | undefined {
  const m = /Unexpected token '(.)', (?:\.\.\.)?"([\s\S]*?)"(?:\.\.\.)? is not valid JSON/.exec(message);
  if (!m) return undefined;
  const at = text.indexOf(m[2]!);
  if (at === -1) return undefined;
  const inExcerpt = m[2]!.indexOf(m[1]!);
  return at + Math.max(0, inExcerpt);
}

function yamlErrorOffset(text: string): number | undefined {
  try {
    const docs = parseAllDocuments(text, { prettyErrors: false });
    const list = Array.isArray(docs) ? docs : [];
    return list.flatMap((d) => d.errors)[0]?.pos[0];
  } catch {
    return undefined;
  }
}

function parseYaml(text: string, maxAliasCount: number): RawDocument[] {
  const issues: InputIssue[] = [];
  const out: RawDocument[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const at = e.pos ? ` at ${lineColumn(text, e.pos[0])}` : '';
        const what = e.code === 'RESOURCE_EXHAUSTION' ? 'input too complex' : e.code === 'DUPLICATE_KEY' ? 'duplicate key' : 'YAML syntax error';
        issues.push({ path: list.length > 1 ? `documents[${index}]` : '', message: `${what}${at}: ${firstLine(e.message)}${braceHint(text, e.pos?.[0])}` });
      }
      return;
    }
    if (doc.contents === null) return; // an empty document (e.g. a trailing `---`)
    try {
      out.push({ index, value: doc.toJS({ maxAliasCount }), format: 'yaml', locate: yamlLocator(text, index) });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      issues.push({
        path: list.length > 1 ? `documents[${index}]` : '',
        message: /excessive alias/i.test(message) ? `too many YAML alias expansions (limit ${maxAliasCount}): ${message}` : `YAML: ${message}`,
      });
    }
  });
  if (issues.length > 0) throw new InputError(issues);
  return out;
}

/** The usual cause of flow-collection errors in workflow files: `[job_{i}]` needs quotes. */
function braceHint(text: string, offset: number | undefined): string {
  if (offset === undefined) return '';
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const end = text.indexOf('\n', offset);
  const line = text.slice(start, end === -1 ? undefined : end);
  return /\[[^\]"']*\w\{/.test(line) ? ' (hint: quote names with {parameters} inside [ ], e.g. ["job_{i}"])' : '';
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** "line L, column C" (1-based) of a character offset. */
export function lineColumn(text: string, offset: number): string {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i;
  }
  return `line ${line}, column ${offset - last}`;
}

/**
 * Upper bound of flow-collection nesting (`[`/`{`) in YAML or JSON text, skipping quoted
 * scalars and comments. Quotes count only where a scalar can start, so an apostrophe inside a
 * plain scalar does not hide what follows. Unbalanced brackets inside plain scalars may only
 * raise the estimate, which is fine for a guard with a generous limit.
 */
export function flowNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let prev = '\n'; // last non-blank character seen
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      if (!/[\n:\-[{,?]/.test(prev)) {
        prev = c;
        continue;
      }
      i = skipQuoted(text, i, c);
      prev = c;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const nl = text.indexOf('\n', i);
      if (nl === -1) break;
      i = nl - 1;
      continue;
    }
    if (c === '[' || c === '{') {
      depth++;
      if (depth > max) max = depth;
    } else if ((c === ']' || c === '}') && depth > 0) {
      depth--;
    }
    if (c === '\n' || !/\s/.test(c)) prev = c;
  }
  return max;
}

function skipQuoted(text: string, start: number, quote: string): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (quote === '"' && c === '\\') {
      i++;
    } else if (c === quote) {
      if (quote === "'" && text[i + 1] === "'") {
        i++;
        continue;
      }
      return i;
    }
  }
  return text.length;
}

/** Nesting depth of a parsed value, computed iteratively; stops counting past `limit`. */
export function valueDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth]);
    }
  }
  return max;
}
