/**
 * The import rule of src/ (README, Development; .dependency-cruiser.cjs): layers import only
 * the layers below them, runners reach the server through the contract, nothing imports in a
 * circle. Checked on the real tree, and on a small fixture tree that breaks each rule once, so
 * that a rule that silently stopped matching would fail here too.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}

async function cruise(cwd: string): Promise<{ violations: Violation[]; modules: number }> {
  // depcruise exits non-zero when it finds violations: the JSON report is on stdout either way.
  const out = await promisify(execFile)(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'json'], { cwd, maxBuffer: 64 * 1024 * 1024 }).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }),
  );
  const report = JSON.parse(out.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  return { violations: report.summary.violations, modules: report.summary.totalCruised };
}

test('src/ has no upward import and no cycle', async (t) => {
  const { violations, modules } = await cruise(ROOT);
  t.true(modules > 100, `cruised ${modules} modules`);
  t.deepEqual(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`), []);
});

test('the rule catches an upward import, a cycle, a runner reaching into the store, and the API importing the reconciler', async (t) => {
  const { violations } = await cruise(path.join(ROOT, 'test/fixtures/layers'));
  const found = violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
  t.deepEqual(found, [
    'api-imports-only-below: src/api/views.ts → src/reconciler/loop.ts',
    'no-circular: src/runners/second.ts → src/runners/worker.ts',
    'runners-through-the-contract: src/runners/k8s/operator.ts → src/store/index.ts',
    'store-imports-only-below: src/store/records.ts → src/runners/worker.ts',
  ]);
  t.true(violations.every((v) => v.rule.severity === 'error'));
});
