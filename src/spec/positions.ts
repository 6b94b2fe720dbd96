/**
 * Source positions for issues: an issue names a field by path (`spec.jobs[3].memory`); a
 * locator says where that field is written in the file (line and column in the file's own
 * syntax), so validation errors point at the text as well as at the field.
 */
import type { InputIssue } from '../errors.js';

export interface SourcePosition {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

/** Path segments (keys and indices) from the document's root. */
export type PathSegments = (string | number)[];

/** Where the value at `segments` (or, failing that, its nearest written ancestor) starts. */
export type Locator = (segments: PathSegments) => SourcePosition | undefined;

/** Line starts of a text, for offset → line/column in O(log lines). */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  position(offset: number): SourcePosition {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo]! + 1 };
  }
}

export function formatPosition(p: SourcePosition): string {
  return `line ${p.line}, column ${p.column}`;
}

/**
 * `spec.jobs[3]["odd key"].name` → ['spec', 'jobs', 3, 'odd key', 'name']; undefined for a
 * path that is not in that form (a CLI flag, a free text).
 */
export function issuePathSegments(path: string): PathSegments | undefined {
  const out: PathSegments = [];
  const token = /(?:^|\.)([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  let at = 0;
  while (at < path.length) {
    token.lastIndex = at;
    const m = token.exec(path);
    if (!m) return undefined;
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3]!) as string);
    at = token.lastIndex;
  }
  return out;
}

/**
 * Adds ` (line L, column C)` to each issue whose path the locator finds. `root` maps the
 * issue path's segments to the document's own (a bare spec's paths start with `spec`, which
 * is the document itself); `prefix` is the document's prefix in multi-document files.
 */
export function withPositions(issues: InputIssue[], locate: Locator, form: 'resource' | 'spec', prefix = ''): InputIssue[] {
  return issues.map((issue) => {
    if (!issue.path.startsWith(prefix)) return issue;
    let segments = issuePathSegments(issue.path.slice(prefix.length));
    if (!segments) return issue;
    if (form === 'spec') {
      if (segments[0] !== 'spec') return issue;
      segments = segments.slice(1);
    }
    const at = locate(segments);
    return at ? { path: issue.path, message: `${issue.message} (${formatPosition(at)})` } : issue;
  });
}
