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

/** What went wrong with the storage under the database. */
export type StorageFaultKind = 'disk_full' | 'damaged' | 'not_a_database' | 'io_error' | 'cannot_open' | 'read_only';

/**
 * The machine failed the store, not the request: the disk under the database is full, the
 * file is damaged or not a database, an I/O error. Its message is written for a person (what
 * happened, what was kept, what to do; see store/faults.ts). HTTP 503: the server is up but its
 * database is not healthy, so runners keep their reports and try again (torc's
 * compute_node_wait_for_healthy_database_minutes). CLI exit 1, the message without a stack.
 */
export class StorageFault extends Error {
  constructor(
    readonly kind: StorageFaultKind,
    /** The database file. */
    readonly path: string,
    message: string,
    /** SQLite's result code (SQLITE_FULL, …). */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageFault';
  }
}

/**
 * The HTTP status of an error of these classes: InputError 400 (a route may answer 422 for a
 * well-formed document judged invalid), NotFoundError 404, ConflictError 409, TooLargeError
 * 413, StorageFault 503; undefined for anything else. The one table from error class to status.
 */
export function httpStatusOfError(err: unknown): 400 | 404 | 409 | 413 | 503 | undefined {
  if (err instanceof InputError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof TooLargeError) return 413;
  if (err instanceof StorageFault) return 503;
  return undefined;
}
