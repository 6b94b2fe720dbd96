/**
 * Matches regexes (depends_on_regexes, input_file_regexes, …) against a set of names without
 * testing every regex against every name. Each distinct pattern is matched once (cached), and
 * only against candidate names found through its literal parts:
 *   `^a_5$`    exact name → hash lookup
 *   `^a_5_.*`  literal prefix → range of the sorted names
 *   `.*_5$`    literal suffix → range of the sorted reversed names
 *   `a_5_`     required literal → Aho–Corasick over all such literals, one pass over the names
 * Patterns with no usable literal (`.*`, alternations) fall back to a full scan, once each.
 * Regex dialect: JavaScript (no flags; escaping any punctuation is allowed, as in Rust's regex),
 * unanchored search like torc's `is_match`. A spec is hostile input, and a backtracking engine
 * takes exponential time on patterns like `^(a+)+$`, which would hang `torc validate` or the API
 * server: matching falls back to V8's linear-time engine once a match backtracks too much, and
 * patterns that engine cannot run (backreferences, lookaround: torc's Rust regex crate has
 * neither) are refused.
 */
import { setFlagsFromString } from 'node:v8';

export type MatchResult = { indices: number[] } | { error: string };

/** Backtracks a match may take before V8 reruns it on the linear-time engine. */
const BACKTRACKS_BEFORE_LINEAR = 10_000;
let linearEngine: boolean | undefined;

/** Turns on V8's linear-time fallback (once); false when this V8 has no linear engine. */
function linearEngineAvailable(): boolean {
  if (linearEngine === undefined) {
    try {
      setFlagsFromString('--enable-experimental-regexp-engine');
      setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
      setFlagsFromString(`--regexp-backtracks-before-fallback=${BACKTRACKS_BEFORE_LINEAR}`);
      new RegExp('a', 'l');
      linearEngine = true;
    } catch {
      linearEngine = false;
    }
  }
  return linearEngine;
}

/**
 * A spec's regex, ready to match; or an error message (naming the pattern) for a pattern that
 * is malformed, too large, or needs backtracking (backreferences, lookaround).
 */
export function compileSpecRegex(pattern: string): { re: RegExp } | { error: string } {
  try {
    // Only a pattern the linear engine can run is safe to match: compiling it with 'l' checks that.
    if (linearEngineAvailable()) new RegExp(pattern, 'l').test('');
    // The fast backtracking engine matches; excessive backtracking switches to the linear one.
    const re = new RegExp(pattern);
    // V8 compiles lazily: match once so that "too large" and similar failures surface here.
    re.test('');
    return { re };
  } catch (err) {
    // "Invalid regular expression: /PATTERN/FLAGS: why": the pattern is already quoted below.
    const message = (err as Error).message.replace(/^Invalid regular expression: \/[\s\S]*\/[a-z]*: /, '').replace(/^Invalid regular expression: /, '');
    if (/linear time/.test(message)) {
      return {
        error: `unsupported regex "${pattern}": backreferences and lookaround are not supported (torc's regex dialect matches in linear time)`,
      };
    }
    return { error: `invalid regex "${pattern}": ${message}` };
  }
}

interface PatternInfo {
  exact: string | null;
  prefix: string;
  suffix: string;
  /** Longest literal that every match must contain ('' if none). */
  required: string;
}

export class NameIndex {
  readonly byName = new Map<string, number>();
  private readonly cache = new Map<string, MatchResult>();
  private sorted?: Uint32Array;
  private reversed?: { order: Uint32Array; names: string[] };

  constructor(readonly names: readonly string[]) {
    names.forEach((n, i) => {
      if (!this.byName.has(n)) this.byName.set(n, i);
    });
  }

  /** Matches one pattern (cached). */
  match(pattern: string): MatchResult {
    const cached = this.cache.get(pattern);
    if (cached) return cached;
    this.matchAll([pattern]);
    return this.cache.get(pattern)!;
  }

  /** Matches many patterns together, sharing one Aho–Corasick pass for the unanchored ones. */
  matchAll(patterns: Iterable<string>): Map<string, MatchResult> {
    const out = new Map<string, MatchResult>();
    const byLiteral = new Map<string, { pattern: string; re: RegExp }[]>();
    for (const pattern of patterns) {
      if (out.has(pattern)) continue;
      const cached = this.cache.get(pattern);
      if (cached) {
        out.set(pattern, cached);
        continue;
      }
      const compiled = compileSpecRegex(pattern);
      if ('error' in compiled) {
        this.remember(out, pattern, compiled);
        continue;
      }
      const re = compiled.re;
      const info = analyzePattern(pattern);
      if (info?.exact != null) {
        const i = this.byName.get(info.exact);
        this.remember(out, pattern, { indices: i === undefined ? [] : [i] });
      } else if (info && (info.prefix || info.suffix)) {
        this.remember(out, pattern, { indices: this.testRange(re, info) });
      } else if (info && info.required.length >= 2) {
        const list = byLiteral.get(info.required) ?? [];
        list.push({ pattern, re });
        byLiteral.set(info.required, list);
      } else {
        const indices: number[] = [];
        for (let i = 0; i < this.names.length; i++) if (re.test(this.names[i]!)) indices.push(i);
        this.remember(out, pattern, { indices });
      }
    }
    if (byLiteral.size > 0) {
      const candidates = findLiterals(this.names, [...byLiteral.keys()]);
      for (const [literal, entries] of byLiteral) {
        const names = candidates.get(literal) ?? [];
        for (const { pattern, re } of entries) this.remember(out, pattern, { indices: names.filter((i) => re.test(this.names[i]!)) });
      }
    }
    return out;
  }

  private remember(out: Map<string, MatchResult>, pattern: string, result: MatchResult): void {
    this.cache.set(pattern, result);
    out.set(pattern, result);
  }

  private testRange(re: RegExp, info: PatternInfo): number[] {
    const hits: number[] = [];
    const byPrefix = info.prefix ? this.prefixRange(this.sortedOrder(), this.names, info.prefix) : null;
    const rev = info.suffix ? this.reversedOrder() : null;
    const bySuffix = rev ? this.prefixRange(rev.order, rev.names, reverse(info.suffix)) : null;
    const use = byPrefix && bySuffix ? (byPrefix.length <= bySuffix.length ? byPrefix : bySuffix) : (byPrefix ?? bySuffix)!;
    for (const i of use) if (re.test(this.names[i]!)) hits.push(i);
    return hits.sort((a, b) => a - b);
  }

  private sortedOrder(): Uint32Array {
    this.sorted ??= sortIndices(this.names);
    return this.sorted;
  }

  private reversedOrder(): { order: Uint32Array; names: string[] } {
    if (!this.reversed) {
      const names = this.names.map(reverse);
      this.reversed = { order: sortIndices(names), names };
    }
    return this.reversed;
  }

  /** Indices (from `order`, sorted by `keys`) of the keys starting with `prefix`. */
  private prefixRange(order: Uint32Array, keys: readonly string[], prefix: string): Uint32Array {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[order[mid]!]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < order.length && keys[order[end]!]!.startsWith(prefix)) end++;
    return order.subarray(lo, end);
  }
}

function reverse(s: string): string {
  let out = '';
  for (let i = s.length - 1; i >= 0; i--) out += s[i];
  return out;
}

function sortIndices(keys: readonly string[]): Uint32Array {
  const order = Uint32Array.from(keys.keys());
  return order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
}

// ---- pattern analysis ------------------------------------------------------------------

interface Atom {
  literal: string | null;
  quantifier: '' | 'optional' | 'repeat';
}

/**
 * Splits a pattern into top-level atoms to find its literal parts. Conservative: anything it
 * does not fully understand (alternation, escapes like \u or \p, anchors mid-pattern) returns
 * null, which means "scan every name".
 */
export function analyzePattern(p: string): PatternInfo | null {
  const atoms: Atom[] = [];
  let anchorStart = false;
  let anchorEnd = false;
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === '^') {
      if (i !== 0) return null;
      anchorStart = true;
      i++;
      continue;
    }
    if (c === '$') {
      if (i !== p.length - 1) return null;
      anchorEnd = true;
      i++;
      continue;
    }
    if (c === '|') return null;
    if (c === '*' || c === '+' || c === '?' || c === '{') {
      const last = atoms[atoms.length - 1];
      if (!last) return null;
      let q: Atom['quantifier'] = c === '+' ? 'repeat' : 'optional';
      if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
        if (!m) return null;
        q = Number(m[1]) >= 1 ? 'repeat' : 'optional';
        i += m[0].length;
      } else {
        i++;
      }
      if (p[i] === '?') i++; // lazy
      last.quantifier = last.quantifier === 'optional' ? 'optional' : q;
      continue;
    }
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined || /[A-Za-z0-9]/.test(n)) {
        // \d \w \s \b are classes or assertions; \u \x \p \k \c take more characters.
        if (n !== undefined && /[dDwWsS]/.test(n)) {
          atoms.push({ literal: null, quantifier: '' });
          i += 2;
          continue;
        }
        return null;
      }
      atoms.push({ literal: n, quantifier: '' });
      i += 2;
      continue;
    }
    if (c === '[') {
      const end = closeClass(p, i);
      if (end === -1) return null;
      atoms.push({ literal: null, quantifier: '' });
      i = end + 1;
      continue;
    }
    if (c === '(') {
      const end = closeGroup(p, i);
      if (end === -1) return null;
      atoms.push({ literal: null, quantifier: '' });
      i = end + 1;
      continue;
    }
    if (c === ')' || c === ']' || c === '}') return null;
    atoms.push({ literal: c === '.' ? null : c, quantifier: '' });
    i++;
  }
  // Literal runs: atoms that must appear exactly once, in order.
  const runs: string[] = [];
  let run = '';
  for (const a of atoms) {
    if (a.literal !== null && a.quantifier !== 'optional') {
      run += a.literal;
      if (a.quantifier === 'repeat') {
        runs.push(run);
        run = '';
      }
    } else {
      runs.push(run);
      run = '';
    }
  }
  runs.push(run);
  const allPlain = atoms.every((a) => a.literal !== null && a.quantifier === '');
  const exact = anchorStart && anchorEnd && allPlain ? atoms.map((a) => a.literal).join('') : null;
  const firstPlain = atoms.findIndex((a) => a.literal === null || a.quantifier !== '');
  let prefix = '';
  if (anchorStart) {
    const stop = firstPlain === -1 ? atoms.length : firstPlain;
    prefix = atoms.slice(0, stop).map((a) => a.literal).join('');
    // a "+" atom is required once even though it ends the plain run
    const next = atoms[stop];
    if (next && next.literal !== null && next.quantifier === 'repeat') prefix += next.literal;
  }
  let suffix = '';
  if (anchorEnd) {
    let k = atoms.length;
    while (k > 0 && atoms[k - 1]!.literal !== null && atoms[k - 1]!.quantifier === '') k--;
    suffix = atoms.slice(k).map((a) => a.literal).join('');
  }
  const required = runs.reduce((a, b) => (b.length > a.length ? b : a), '');
  return { exact, prefix, suffix, required };
}

function closeClass(p: string, start: number): number {
  let i = start + 1;
  if (p[i] === '^') i++;
  if (p[i] === ']') i++;
  for (; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === ']') return i;
  }
  return -1;
}

function closeGroup(p: string, start: number): number {
  let depth = 0;
  for (let i = start; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') i++;
    else if (c === '[') {
      i = closeClass(p, i);
      if (i === -1) return -1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

// ---- Aho–Corasick ----------------------------------------------------------------------

/** For each literal, the indices (ascending) of the names that contain it. */
export function findLiterals(names: readonly string[], literals: readonly string[]): Map<string, number[]> {
  const next: Map<number, number>[] = [new Map()];
  const fail: number[] = [0];
  const output: number[][] = [[]];
  literals.forEach((lit, li) => {
    let node = 0;
    for (let k = 0; k < lit.length; k++) {
      const code = lit.charCodeAt(k);
      let child = next[node]!.get(code);
      if (child === undefined) {
        child = next.length;
        next.push(new Map());
        fail.push(0);
        output.push([]);
        next[node]!.set(code, child);
      }
      node = child;
    }
    output[node]!.push(li);
  });
  // Breadth-first failure links; each node's output includes its failure chain's outputs.
  const queue: number[] = [...next[0]!.values()];
  for (let q = 0; q < queue.length; q++) {
    const node = queue[q]!;
    for (const [code, child] of next[node]!) {
      let f = fail[node]!;
      while (f !== 0 && !next[f]!.has(code)) f = fail[f]!;
      const target = next[f]!.get(code);
      fail[child] = target !== undefined && target !== child ? target : 0;
      output[child] = output[child]!.concat(output[fail[child]!]!);
      queue.push(child);
    }
  }
  const hits: number[][] = literals.map(() => []);
  const lastName = new Int32Array(literals.length).fill(-1);
  names.forEach((name, ni) => {
    let node = 0;
    for (let k = 0; k < name.length; k++) {
      const code = name.charCodeAt(k);
      while (node !== 0 && !next[node]!.has(code)) node = fail[node]!;
      node = next[node]!.get(code) ?? 0;
      for (const li of output[node]!) {
        if (lastName[li] !== ni) {
          lastName[li] = ni;
          hits[li]!.push(ni);
        }
      }
    }
  });
  return new Map(literals.map((lit, li) => [lit, hits[li]!]));
}
