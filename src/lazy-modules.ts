/**
 * Packages most commands never use, loaded on first use instead of at start-up: every `torc`
 * command paid ~50 ms each for ajv and cron (with luxon) before it did anything (issue 9), and
 * would pay ~30 ms for json5 and ~45 ms for the KDL parser that only JSON5 and KDL files need.
 * A synchronous require keeps their call sites synchronous (the KDL parser is ESM: Node ≥ 20.19
 * requires ESM synchronously).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function loadAjv(): typeof import('ajv') {
  return require('ajv') as typeof import('ajv');
}

export function loadCron(): typeof import('cron') {
  return require('cron') as typeof import('cron');
}

export function loadJson5(): typeof import('json5') {
  return require('json5') as typeof import('json5');
}

export function loadKdl(): typeof import('@bgotink/kdl') {
  return require('@bgotink/kdl') as typeof import('@bgotink/kdl');
}

export function loadKdlV1(): typeof import('@bgotink/kdl/v1-compat') {
  return require('@bgotink/kdl/v1-compat') as typeof import('@bgotink/kdl/v1-compat');
}
