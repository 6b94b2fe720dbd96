/**
 * Hostile workflow files (syntax errors, wrong types, huge expansions, cycles, unknown
 * references, bad and catastrophic regexes, YAML alias bombs, deep nesting, huge strings,
 * non-UTF-8 and binary files): every one is refused with exit 2 / a 4xx naming the path (or
 * line), nothing crashes, and nothing is written to any database. The stress suite runs every
 * file through `torc reconcile`; this one a sample of each kind.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { runTorc } from '../support/cli.js';
import { existingDatabase, reconcileRefuses, restRefusesAll, validateProblems, writeHostileSpecs } from '../support/hostile-specs.js';

const dir = mkdtempSync(join(tmpdir(), 'torc-hostile-'));
const specs = writeHostileSpecs(dir);
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** One of each kind goes through a real `torc reconcile` here (the stress suite sends all). */
const RECONCILE_SAMPLE = [
  'syntax-tab-indent.yaml', 'bad-dependency-cycle.yaml', 'regex-catastrophic.yaml', 'huge-product.yaml', 'latin1.yaml', 'deep-anchors.yaml',
];

test(`torc validate refuses every hostile file (exit 2, path-precise message, no crash)`, async (t) => {
  t.true(specs.length >= 50, `${specs.length} files`);
  const run = await runTorc(['validate', '--format', 'json', ...specs.map((s) => join(dir, s.name))], { timeoutMs: 300_000 });
  t.deepEqual(validateProblems(specs, run), []);
  t.log(`${specs.length} hostile files (${specs.filter((s) => s.expect).length} with the path asserted): validate exit 2 on all`);
});

test('POST /workflow_specs answers 4xx naming the path for every hostile file and stores nothing', async (t) => {
  const statuses = await restRefusesAll(t, dir, specs);
  t.log(`${specs.length} hostile POSTs: statuses ${JSON.stringify(statuses)}; store unchanged`);
});

test('torc reconcile --db refuses a sample of each kind with exit 2 and creates or changes no database', async (t) => {
  const existingDb = await existingDatabase(t, dir);
  const sample = specs.filter((s) => RECONCILE_SAMPLE.includes(s.name));
  t.is(sample.length, RECONCILE_SAMPLE.length);
  const limit = pLimit(2);
  await Promise.all(sample.map((s) => limit(() => reconcileRefuses(t, dir, s, existingDb))));
  t.log(`${sample.length} hostile files through torc reconcile: exit 2, no database written`);
});
