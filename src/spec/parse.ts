/**
 * Text → plain JS documents: YAML (one or many documents) or JSON, with guards against hostile
 * input (alias bombs, absurd nesting, oversized text) that fail with a clear InputError instead
 * of exhausting memory or the stack.
 */
import { parseAllDocuments } from 'yaml';
import { InputError, type InputIssue } from '../errors.js';

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
}

const DEFAULTS: Required<ParseLimits> = { maxChars: 256 * 1024 * 1024, maxDepth: 64, maxAliasCount: 100 };

/** Parses YAML or JSON text into its documents (empty YAML documents are dropped). */
export function parseDocuments(text: string, format: 'yaml' | 'json' | 'auto' = 'auto', limits: ParseLimits = {}): RawDocument[] {
  const lim = { ...DEFAULTS, ...limits };
  if (text.length > lim.maxChars) {
    throw new InputError(`input is ${text.length} characters, over the limit of ${lim.maxChars}`);
  }
  // The yaml parser recurses per nesting level (and can run out of memory formatting the error),
  // so absurd nesting is refused before it gets there.
  // so absurd nesting is refused before it gets there. The quote-blind count backs up the
  // quote-aware one (which a stray quote could fool); no real spec comes near either limit.
  const scanned = flowNestingDepth(text);
  const blind = Math.max(lim.maxDepth, BLIND_DEPTH_LIMIT);
  if (scanned > lim.maxDepth || bracketDepth(text) > blind) {
    throw new InputError(`nesting is ${scanned} levels deep, over the limit of ${lim.maxDepth}`);
  }

  let docs: RawDocument[];
  if (format === 'json') {
    docs = [{ index: 0, value: parseJson(text) }];
  } else {
    // JSON is YAML, but JSON.parse is much faster on big files: try it first on JSON-looking text.
    const json = format === 'auto' && /^\s*[{[]/.test(text) ? tryJson(text) : undefined;
    docs = json ? [{ index: 0, value: json.value }] : parseYaml(text, lim.maxAliasCount);
  }
  for (const doc of docs) {
    const depth = valueDepth(doc.value, lim.maxDepth);
    if (depth > lim.maxDepth) {
      throw new InputError(`nesting is deeper than ${lim.maxDepth} levels`, docs.length > 1 ? `documents[${doc.index}]` : '');
    }
  }
  return docs;
}

const BLIND_DEPTH_LIMIT = 1000;

function tryJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

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
      out.push({ index, value: doc.toJS({ maxAliasCount }) });
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
