/** API errors of the fake, rendered as metav1.Status exactly as the real API server sends them. */

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason?: string; message: string; field?: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const notFound = (resource: string, name: string, group: string, kind: string) =>
  new ApiError(404, 'NotFound', `${resource} "${name}" not found`, { name, group, kind: resource.split('.')[0] ?? kind });

export const alreadyExists = (resource: string, name: string, group: string) =>
  new ApiError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, group, kind: resource.split('.')[0] });

export const conflict = (resource: string, name: string, group: string) =>
  new ApiError(409, 'Conflict',
    `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group, kind: resource.split('.')[0] });

/** 422 Invalid: `Workflow.torc.dev "x" is invalid: spec.jobs[0].name: Required value` (several causes in brackets). */
export function invalid(kind: string, name: string, group: string, causes: { field: string; message: string; reason?: string }[]): ApiError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const text = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${group ? `${kind}.${group}` : kind} "${name}" is invalid: ${text}`, {
    name, group, kind, causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

/** 400 for a body with unknown fields under fieldValidation=Strict (create / update). */
export const strictDecoding = (kind: string, version: string, unknown: string[]) =>
  new ApiError(400, 'BadRequest', `${kind} in version "${version}" cannot be handled as a ${kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);

export const gone = (message: string) => new ApiError(410, 'Expired', message);
