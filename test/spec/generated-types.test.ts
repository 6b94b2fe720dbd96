import test from 'ava';
import { readFileSync } from 'node:fs';
import { renderWorkflowTypes, GENERATED_PATH } from '../../scripts/gen-types.js';
import { renderValidators, VALIDATORS_PATH } from '../../scripts/gen-validators.js';

test('src/spec/generated/workflow.ts matches a fresh generation from the CRD (run `npm run gen:types`)', async (t) => {
  const committed = readFileSync(GENERATED_PATH, 'utf8');
  const fresh = await renderWorkflowTypes();
  t.is(committed, fresh, 'the generated types are stale: run `npm run gen:types` and commit the result');
});

test('src/spec/generated/validators.ts matches a fresh generation from the CRD (run `npm run gen:types`)', (t) => {
  const committed = readFileSync(VALIDATORS_PATH, 'utf8');
  t.is(committed, renderValidators(), 'the generated validators are stale: run `npm run gen:types` and commit the result');
});
