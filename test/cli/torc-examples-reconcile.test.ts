/**
 * torc's example files whose scripts exist run to the end with `torc reconcile`, unchanged:
 * the real CLI, a real SQLite file, real processes, in a scratch folder where `examples/`
 * points at torc's examples (their commands say `bash examples/scripts/…`).
 *
 * Runnable means every job's program is a shell tool or interpreter here and every script it
 * names exists; the others need network (wget), programs torc does not ship (train.py,
 * tests/scripts/*.sh, ./run_simulation) or write to /scratch. The split is computed from the
 * plans, and the test checks it against the list below so that neither can drift silently.
 * resource_monitoring_demo (three 60-second CPU and memory hogs, in three formats) runs only
 * with TORC_EXAMPLES_FULL=1. Skipped loudly when ../shared/torc is absent.
 */
import avaTest, { type ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadWorkflowFile, planDocument, type Plan } from '../../src/spec/index.js';
import { runTorc } from '../support/cli.js';
import { exampleName, TORC_SHARED, torcExampleFiles, torcSharedTest } from '../support/torc-shared.js';

const test = torcSharedTest('test/cli/torc-examples-reconcile.test.ts');
const FULL = process.env.TORC_EXAMPLES_FULL === '1';

const RUNNABLE = [
  'examples/json/failure_handler_simulation.json',
  'examples/json/hundred_jobs_parameterized.json5',
  'examples/json/hundred_jobs_workflow.json5',
  'examples/json/resource_monitoring_demo.json5',
  'examples/json/workflow_actions_simple.json5',
  'examples/json/workflow_actions_simple_slurm.json5',
  'examples/kdl/failure_handler_simulation.kdl',
  'examples/kdl/hundred_jobs_parameterized.kdl',
  'examples/kdl/mixed_workload.kdl',
  'examples/kdl/resource_monitoring_demo.kdl',
  'examples/kdl/simple_slurm.kdl',
  'examples/kdl/workflow_actions_data_pipeline.kdl',
  'examples/kdl/workflow_actions_simple.kdl',
  'examples/kdl/workflow_actions_simple_slurm.kdl',
  'examples/yaml/failure_handler_demo.yaml',
  'examples/yaml/failure_handler_simulation.yaml',
  'examples/yaml/hundred_jobs_parameterized.yaml',
  'examples/yaml/resource_monitoring_demo.yaml',
  'examples/yaml/simple_retry.yaml',
  'examples/yaml/workflow_actions_simple.yaml',
  'examples/yaml/workflow_actions_simple_slurm.yaml',
];
/** Long-running (minutes of CPU on a 2-core machine): only with TORC_EXAMPLES_FULL=1. */
const HEAVY = new Set(['examples/json/resource_monitoring_demo.json5', 'examples/kdl/resource_monitoring_demo.kdl', 'examples/yaml/resource_monitoring_demo.yaml']);
/** Their job script fails at random on purpose (torc's failure-handler demo): the run ends Succeeded or Failed. */
const RANDOM_FAILURES = /failure_handler|simple_retry/;

const PROGRAMS = new Set(['echo', 'sleep', 'bash', 'sh', 'python3', 'python', 'mkdir', 'true', 'cat']);

/** Why the example cannot run here, or undefined when every job can. */
function whyNotRunnable(plan: Plan, root: string): string | undefined {
  for (const job of plan.jobs) {
    const words = job.command.trim().split(/\s+/);
    if (!PROGRAMS.has(words[0]!)) return `job ${job.name} runs ${words[0]}`;
    const missing = words.filter((w) => /\.(sh|py)$/.test(w)).find((w) => !existsSync(join(root, w)));
    if (missing) return `job ${job.name} needs ${missing}`;
  }
  return undefined;
}

const plans = torcExampleFiles().map((file) => ({ file, plan: planDocument(loadWorkflowFile(file)[0]!) }));

test('the runnable examples are those whose programs and scripts exist here', (t) => {
  const runnable = plans.filter(({ plan }) => whyNotRunnable(plan, TORC_SHARED!) === undefined).map(({ file }) => exampleName(file));
  t.deepEqual(runnable.sort(), RUNNABLE);
});

if (!FULL && TORC_SHARED) console.warn(`torc examples: ${[...HEAVY].join(', ')} skipped (minutes of CPU); TORC_EXAMPLES_FULL=1 runs them`);

for (const name of RUNNABLE) {
  const run = HEAVY.has(name) && !FULL ? avaTest.skip : test;
  run(`${name} runs to the end with torc reconcile`, async (t: ExecutionContext) => {
    const dir = mkdtempSync(join(tmpdir(), 'torc-example-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    symlinkSync(join(TORC_SHARED!, 'examples'), join(dir, 'examples'));
    // Capacity as on a node big enough for the largest declared job (mixed_workload asks 50 CPUs): the jobs are echo.
    const res = await runTorc(
      ['reconcile', join(TORC_SHARED!, name.replace(/^examples\//, 'examples/')), '--db', join(dir, 'wf.db'), '--output-dir', join(dir, 'out'),
        '--no-server', '-q', '--format', 'json', '--num-cpus', '64', '--memory-gb', '256'],
      { cwd: dir, timeoutMs: 600_000 },
    );
    const [summary] = JSON.parse(res.stdout || '[]') as { phase: string; total: number; done: number; counts: Record<string, number> }[];
    t.truthy(summary, `${name}: ${res.stderr.slice(-2000)}`);
    const expected = plans.find((p) => exampleName(p.file) === name)!.plan.jobs.length;
    t.is(summary!.total, expected);
    t.is(summary!.done, expected, `every job finished: ${JSON.stringify(summary!.counts)}`);
    if (RANDOM_FAILURES.test(basename(name))) {
      t.true(['Succeeded', 'Failed'].includes(summary!.phase), summary!.phase);
      t.is(res.code, summary!.phase === 'Succeeded' ? 0 : 1);
    } else {
      t.is(summary!.phase, 'Succeeded', res.stderr.slice(-2000));
      t.is(res.code, 0);
    }
  });
}
