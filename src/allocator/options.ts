/** Validation of claim options: the limit and the sort method come straight from requests. */
import { InputError, type InputIssue } from '../errors.js';
import type { ClaimOptions, SortMethod } from './types.js';

export const SORT_METHODS: readonly SortMethod[] = ['gpus_runtime_memory', 'gpus_memory_runtime', 'none'];

export function isSortMethod(value: unknown): value is SortMethod {
  return typeof value === 'string' && (SORT_METHODS as readonly string[]).includes(value);
}

/** A positive whole number of jobs; `field` names it in the error. */
export function checkLimit(limit: unknown, field = 'limit'): number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new InputError(`expected a whole number ≥ 1, got ${String(limit)}`, field);
  }
  return limit;
}

export function checkClaimOptions(options: ClaimOptions): void {
  const issues: InputIssue[] = [];
  if (!isSortMethod(options.sort_method)) {
    issues.push({ path: 'sort_method', message: `expected one of ${SORT_METHODS.join(', ')}, got ${String(options.sort_method)}` });
  }
  if (typeof options.strict_scheduler_match !== 'boolean') {
    issues.push({ path: 'strict_scheduler_match', message: 'expected true or false' });
  }
  if (options.any_scheduler !== undefined && typeof options.any_scheduler !== 'boolean') {
    issues.push({ path: 'any_scheduler', message: 'expected true or false' });
  }
  try {
    checkLimit(options.limit);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    issues.push(...err.issues);
  }
  if (issues.length) throw new InputError(issues);
}
