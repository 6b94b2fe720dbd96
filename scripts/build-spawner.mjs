#!/usr/bin/env node
/**
 * Compiles the native job spawner (src/runners/local/spawner.c) into
 * dist/runners/local/torc-spawner, next to the compiled spawner.js that looks for it.
 * Optional by design: without a C compiler (or if it fails) this says so in one line and exits 0,
 * and torc starts jobs with the perl helper, or with Node, instead.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src/runners/local/spawner.c');
const target = path.join(root, 'dist/runners/local/torc-spawner');
const cc = process.env.CC || 'cc';

mkdirSync(path.dirname(target), { recursive: true });
// Built beside the target and renamed over it: a running torc never sees a half-written binary.
const tmp = `${target}.${process.pid}.tmp`;
const result = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', tmp, source], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
if (result.status === 0) {
  if (result.stderr) process.stderr.write(result.stderr);
  renameSync(tmp, target);
} else {
  rmSync(tmp, { force: true });
  const why = result.error ? `${cc}: ${result.error.message}` : `${cc} failed: ${(result.stderr || '').trim().split('\n').slice(0, 3).join(' | ')}`;
  process.stderr.write(`torc: native job spawner not built (${why}); jobs will start through perl or Node instead\n`);
}
