/**
 * How errors become HTTP responses. Every error body is `{message, field?}` (plus `issues` when
 * an InputError lists several problems), and torc's error_response fields beside: `error`
 * (an object with the same message and field) and `code` (the HTTP status). Bad input is always
 * 4xx; only a bug is a 500.
 */
import { httpStatusOfError, InputError, TooLargeError, type InputIssue } from '../errors.js';

/**
 * The request itself is malformed (bad JSON, a path or query parameter of the wrong type, a
 * body that does not match the route's schema): always 400. Other InputErrors answer the
 * route's `inputErrorStatus`: 400 by default, 422 where a well-formed document is judged
 * semantically (a workflow spec that does not validate).
 */
export class BadRequestError extends InputError {
  constructor(issues: InputIssue[] | string, path?: string) {
    super(issues, path);
    this.name = 'BadRequestError';
  }
}

/** Missing or wrong bearer token on a mutating route: 401. */
export class UnauthorizedError extends Error {
  constructor(message = 'missing or invalid bearer token') {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

/** Signed in, may see the workflow, but not do this (e.g. a reader changing it, a user managing groups): 403. */
export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** Too many failed sign-ins from one address: 429 until the window passes. */
export class TooManyAttemptsError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed sign-ins from this address; try again in ${retryAfterSeconds} s`);
    this.name = 'TooManyAttemptsError';
  }
}

/** The body's media type is not one the route reads: 415. */
export class UnsupportedMediaTypeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedMediaTypeError';
  }
}

export interface ErrorBody {
  message: string;
  field?: string;
  issues?: InputIssue[];
  /** torc's error_response: the error as an object, and the status. */
  error: { message: string; field?: string };
  code: number;
}

function body(status: number, message: string, field?: string, issues?: InputIssue[]): ErrorBody {
  const error = field === undefined ? { message } : { message, field };
  return { message, ...(field === undefined ? {} : { field }), ...(issues ? { issues } : {}), error, code: status };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  /** True when the error is a bug (logged with its stack), not a client mistake. */
  internal: boolean;
}

/** Maps any thrown value to a status code and a JSON body. */
export function toErrorResponse(err: unknown, inputErrorStatus = 400): ErrorResponse {
  const known = httpStatusOfError(err);
  if (known !== undefined) {
    const field = (err instanceof InputError || err instanceof TooLargeError) && err.field ? err.field : undefined;
    const issues = err instanceof InputError && err.issues.length > 1 ? err.issues : undefined;
    const status = err instanceof InputError && !(err instanceof BadRequestError) ? inputErrorStatus : known;
    return { status, body: body(status, (err as Error).message, field, issues), internal: false };
  }
  if (err instanceof UnauthorizedError) return { status: 401, body: body(401, err.message), internal: false };
  if (err instanceof ForbiddenError) return { status: 403, body: body(403, err.message), internal: false };
  if (err instanceof TooManyAttemptsError) return { status: 429, body: body(429, err.message), internal: false };
  if (err instanceof UnsupportedMediaTypeError) return { status: 415, body: body(415, err.message), internal: false };
  // A UNIQUE constraint is a conflict with what is stored (e.g. recording the same thing twice);
  // the SQL itself is not shown.
  if ((err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT' && /UNIQUE/.test((err as Error).message)) {
    return { status: 409, body: body(409, 'a record with the same key already exists'), internal: false };
  }
  // A foreign key: the record refers to one that is not there, or is still referred to.
  if ((err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT' && /FOREIGN KEY/.test((err as Error).message)) {
    return { status: 409, body: body(409, 'the record refers to a record that does not exist, or is still used by another'), internal: false };
  }
  // A malformed percent-escape in the URL (decodeURIComponent) is the client's mistake.
  if (err instanceof URIError) return { status: 400, body: body(400, `malformed URL: ${err.message}`), internal: false };
  const status = httpStatusOf(err);
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, body: body(status, (err as Error).message || 'bad request'), internal: false };
  }
  return { status: 500, body: body(500, 'internal server error'), internal: true };
}

/** Errors raised by koa / http-errors carry `status` (and `expose`) for client mistakes. */
function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const s = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' && Number.isInteger(s) ? s : undefined;
}
