/**
 * Error classes shared by every layer. Each carries enough to be shown to a user precisely:
 * the CLI maps them to exit codes, the REST API to HTTP status codes (httpStatusOfError below,
 * used by api/errors.ts and by the bulk routes' per-item results).
 */

/** One problem found in user input, located by a path such as `spec.jobs[3].resource_requirements`. */
export interface InputIssue {
  path: string;
  message: string;
}

/** Bad user input (a spec, a CLI argument, a request body). CLI exit 2, HTTP 400/422. */
export class InputError extends Error {
  readonly issues: InputIssue[];
  constructor(issues: InputIssue[] | string, path?: string) {
    const list = typeof issues === 'string' ? [{ path: path ?? '', message: issues }] : issues;
    super(list.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('\n'));
    this.name = 'InputError';
    this.issues = list;
  }
  /** The first offending field, for single-field error bodies (`{message, field}`). */
  get field(): string | undefined {
    return this.issues[0]?.path || undefined;
  }
}

/** The named thing does not exist. HTTP 404. */
export class NotFoundError extends Error {
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}

/** The request is well-formed but illegal in the current state (wrong run_id, job not running). HTTP 409. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** Input is too large to accept (expansion over the limit, oversized body). HTTP 413. */
export class TooLargeError extends Error {
  readonly field?: string;
  constructor(message: string, field?: string) {
    super(message);
    this.name = 'TooLargeError';
    this.field = field;
  }
}

/**
 * The HTTP status of an error of these classes: InputError 400 (a route may answer 422 for a
 * well-formed document judged invalid), NotFoundError 404, ConflictError 409, TooLargeError
 * 413; undefined for anything else. The one table from error class to status.
 */
export function httpStatusOfError(err: unknown): 400 | 404 | 409 | 413 | undefined {
  if (err instanceof InputError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof TooLargeError) return 413;
  return undefined;
}
