/**
 * torc's own example files (../shared/torc/examples/{yaml,json,subgraphs,kdl}), unchanged:
 * every one validates and plans, through the real `torc validate` / `torc plan` and in
 * process, and each reads back to the same spec after being written in every format.
 * Skipped loudly when ../shared/torc is absent.
 */
import { isDeepStrictEqual } from 'node:util';
import { loadWorkflowFile, loadWorkflowText, planDocument, summarizePlan, type SpecFormat } from '../../src/spec/index.js';
import { serializeSpec } from '../../src/spec/serialize.js';
import { runTorc } from '../support/cli.js';
import { exampleName, torcExampleFiles, torcSharedTest } from '../support/torc-shared.js';

const test = torcSharedTest('test/spec/torc-examples.test.ts');
const FILES = torcExampleFiles();

test('there are torc examples in every format: YAML, JSON, JSON5 and KDL', (t) => {
  const ext = (e: string) => FILES.filter((f) => f.endsWith(e)).length;
  t.true(FILES.length >= 55, `${FILES.length} files`);
  t.true(ext('.yaml') >= 15 && ext('.json5') >= 15 && ext('.kdl') >= 15 && ext('.json') >= 2);
});

test('`torc validate` accepts every example file in one run (exit 0, one "ok" line per file)', async (t) => {
  const res = await runTorc(['validate', ...FILES], { timeoutMs: 300_000 });
  t.is(res.code, 0, res.stderr);
  for (const f of FILES) t.true(res.stdout.includes(`${f}: ok (`), `${exampleName(f)} not ok:\n${res.stderr}`);
  // slurm_staged_pipeline's resource_monitor.metrics is a field torc ignores: a warning, not an error.
  t.regex(res.stderr, /warning: .*slurm_staged_pipeline\.yaml: spec\.resource_monitor\.metrics: unknown field "metrics" ignored/);
});

test('every example plans in process: jobs, dependencies and the same plan from each format of one workflow', (t) => {
  const byWorkflow = new Map<string, Map<string, string>>();
  for (const file of FILES) {
    const docs = loadWorkflowFile(file);
    t.is(docs.length, 1, exampleName(file));
    const plan = planDocument(docs[0]!);
    const s = summarizePlan(plan);
    t.true(s.jobs > 0 && s.roots > 0 && s.leaves > 0, exampleName(file));
    const key = exampleName(file).replace(/^examples\/(yaml|json|kdl)\//, '').replace(/\.(ya?ml|json5?|kdl)$/, '');
    // Commands compared with line continuations and spacing folded (torc's files wrap them differently).
    const command = (c: string) => c.replace(/\\\n/g, ' ').replace(/\s+/g, ' ').trim();
    const fingerprint = JSON.stringify([plan.jobs.map((j) => [j.name, command(j.command), j.input_files, j.output_files]), [...plan.dep_targets], plan.resource_classes]);
    if (!byWorkflow.has(key)) byWorkflow.set(key, new Map());
    byWorkflow.get(key)!.set(exampleName(file), fingerprint);
  }
  // torc ships the same workflow in several formats; where its files agree, so must the plans
  // (the diamond, the sweeps, the subgraphs: YAML, JSON5 and KDL are the same workflow).
  for (const key of ['hyperparameter_sweep', 'hyperparameter_sweep_shared_params', 'examples/subgraphs/subgraphs_workflow', 'examples/subgraphs/subgraphs_workflow_no_slurm', 'workflow_actions_simple', 'failure_handler_simulation']) {
    const plans = byWorkflow.get(key)!;
    t.true(plans.size >= 3, `${key}: ${[...plans.keys()].join(', ')}`);
    t.is(new Set(plans.values()).size, 1, `${key}: ${[...plans.keys()].join(', ')} plan differently`);
  }
});

test('`torc plan` prints each format\'s summary', async (t) => {
  for (const ext of ['.yaml', '.json', '.json5', '.kdl']) {
    const file = FILES.find((f) => f.endsWith(ext) && f.includes('sample_workflow'))!;
    const res = await runTorc(['plan', file, '--format', 'json']);
    t.is(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { name: string; jobs: number; dependencies: number };
    t.deepEqual([out.name, out.jobs, out.dependencies], ['sample_data_processing_workflow', 3, 2], file);
  }
});

test('every example written as YAML, JSON, JSON5 and KDL reads back to the same spec', (t) => {
  const failures: string[] = [];
  for (const file of FILES) {
    const spec = loadWorkflowFile(file)[0]!.spec;
    for (const format of ['yaml', 'json', 'json5', 'kdl'] as SpecFormat[]) {
      const back = loadWorkflowText(serializeSpec(spec, format), { format })[0]!.spec;
      if (!isDeepStrictEqual(dropEmptyLists(back), dropEmptyLists(spec))) failures.push(`${exampleName(file)} as ${format}`);
    }
  }
  t.deepEqual(failures, []);
});

/** KDL has no empty list: a list without entries is no node at all. */
function dropEmptyLists(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropEmptyLists);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => !(Array.isArray(x) && x.length === 0)).map(([k, x]) => [k, dropEmptyLists(x)]));
}
