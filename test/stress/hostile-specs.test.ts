/**
 * Stress: every hostile workflow file (heavy ones included) through `torc validate`, POST
 * /workflow_specs and a real `torc reconcile --db` each: exit 2 / 4xx naming the path, no
 * crash, no database created or changed. See test/reliability/hostile-specs.test.ts.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { runTorc } from '../support/cli.js';
import { existingDatabase, reconcileRefuses, restRefusesAll, validateProblems, writeHostileSpecs } from '../support/hostile-specs.js';

const dir = mkdtempSync(join(tmpdir(), 'torc-hostile-stress-'));
const specs = writeHostileSpecs(dir, { heavy: true });
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('every hostile file: torc validate exit 2 with the path, POST /workflow_specs 4xx with the store unchanged', async (t) => {
  t.timeout(900_000);
  const run = await runTorc(['validate', '--format', 'json', ...specs.map((s) => join(dir, s.name))], { timeoutMs: 600_000 });
  t.deepEqual(validateProblems(specs, run), []);
  const statuses = await restRefusesAll(t, dir, specs);
  t.log(`${specs.length} hostile files: validate exit 2 on all; POST statuses ${JSON.stringify(statuses)}, store unchanged`);
});

test.serial('every hostile file through torc reconcile --db: exit 2, no database created or changed', async (t) => {
  t.timeout(1_800_000);
  const existingDb = await existingDatabase(t, dir);
  const limit = pLimit(2);
  await Promise.all(specs.map((s) => limit(() => reconcileRefuses(t, dir, s, existingDb))));
  t.log(`${specs.length} hostile files through torc reconcile (twice each: new and existing database): exit 2, nothing written`);
});
