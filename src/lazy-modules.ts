/**
 * Packages most commands never use, loaded on first use instead of at start-up: every `torc`
 * command paid ~50 ms each for ajv and cron (with luxon) before it did anything (issue 9). Both
 * ship CommonJS, so a synchronous require keeps their call sites synchronous.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function loadAjv(): typeof import('ajv') {
  return require('ajv') as typeof import('ajv');
}

export function loadCron(): typeof import('cron') {
  return require('cron') as typeof import('cron');
}
