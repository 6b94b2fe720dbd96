/**
 * The streamed planner (src/spec/stream-plan.ts) against planWorkflow: the same jobs, the same
 * dependencies, the same spec hash, and the same rows once stored; specs it does not cover
 * (or that have errors) go to planWorkflow.
 */
import test from 'ava';
import { loadWorkflowText, planWorkflow, planWorkflowStreamed, type Plan, type WorkflowSpec } from '../../src/spec/index.js';
import { query } from '../support/sqlite.js';
import { tempDbPath } from '../support/store.js';
import { Store } from '../../src/store/index.js';

const spec = (text: string): WorkflowSpec => loadWorkflowText(text)[0]!.spec;

const SPECS: Record<string, string> = {
  'fan-out (the create benchmark)': `name: fan
resource_requirements:
  - {name: small, num_cpus: 1, memory: 2g, runtime: PT30M}
jobs:
  - name: setup
    command: echo setup
    resource_requirements: small
  - name: work_{i}
    command: python3 model.py --case {i} --out results/case_{i}.json
    resource_requirements: small
    depends_on: [setup]
    parameters:
      i: "1:40"
`,
  'templated depends_on, two parameters, formats, env, image, forward references, schedulers': `name: grid
default_image: img:1
slurm_schedulers:
  - {name: short, account: acct, walltime: "00:10:00"}
failure_handlers:
  - name: retry
    rules: [{exit_codes: [1], max_retries: 2}]
jobs:
  - name: "post_{a}_{b:03d}"
    command: summarize {a} {b}
    depends_on: ["run_{a}_{b:03d}", prep]
    parameters: {a: "[x, y]", b: "1:5"}
  - name: "run_{a}_{b:03d}"
    command: "run --a {a} --b {b:.2f}"
    invocation_script: bash -x
    env: {CASE: "{a}-{b}"}
    scheduler: short
    failure_handler: retry
    supports_termination: true
    depends_on: [prep, prep]
    parameters: {a: "[x, y]", b: "1:5"}
  - name: prep
    command: prep
    cancel_on_blocking_job_failure: false
  - name: zipped_{p}_{q}
    command: z {p} {q}
    image: other:2
    parameters: {p: "1:3", q: "[u, v, w]"}
    parameter_mode: zip
`,
};

async function rows(db: string) {
  const jobs = await query(db, `SELECT id, workflow_id, name, command, invocation_script, resource_requirements_id, scheduler_id, failure_handler_id,
    claim_class_id, cancel_on_blocking_job_failure, supports_termination, image, env, hash, status FROM jobs ORDER BY id`);
  const deps = await query(db, 'SELECT job_id, blocked_by_job_id FROM job_dependencies ORDER BY job_id, blocked_by_job_id');
  const classes = await query(db, 'SELECT * FROM claim_classes ORDER BY id');
  const wf = await query(db, 'SELECT name, spec_hash, settings FROM workflows');
  return { jobs, deps, classes, wf };
}

for (const [title, text] of Object.entries(SPECS)) {
  test(`streamed plan = planWorkflow: ${title}`, async (t) => {
    const plan: Plan = planWorkflow(spec(text));
    const streamed = planWorkflowStreamed(spec(text));
    if (!streamed) return t.fail('the streamed planner refused a spec it covers');
    t.is(streamed.job_count, plan.jobs.length);
    t.deepEqual([...streamed.eachJob()], plan.jobs);
    t.deepEqual(streamed.dep_offsets, plan.dep_offsets);
    t.deepEqual(streamed.dep_targets, plan.dep_targets);

    // Stored: the same rows, and initialize gives the same states.
    const dbs: string[] = [];
    for (const p of [plan, streamed]) {
      const db = await tempDbPath(t);
      const store = await Store.open(db);
      const applied = await store.applyPlan(p);
      t.is(applied.action, 'created');
      await store.initializeJobs(applied.workflow_id);
      // Applying the same spec again is recognised as unchanged, whichever planner made it.
      t.is((await store.applyPlan(p === plan ? streamed : plan)).action, 'unchanged');
      await store.close();
      dbs.push(db);
    }
    const [a, b] = await Promise.all(dbs.map(rows));
    t.deepEqual(b, a);
    t.is((a!.wf[0] as { spec_hash: string }).spec_hash, plan.spec_hash);
  });
}

test('specs the streamed planner does not cover, or with errors, are left to planWorkflow', (t) => {
  const base = SPECS['fan-out (the create benchmark)']!;
  const refused = {
    files: base.replace('jobs:', 'files:\n  - {name: f, path: f.txt}\njobs:'),
    'duplicate names': base.replace('name: work_{i}', 'name: setup'),
    'undefined blocker': base.replace('depends_on: [setup]', 'depends_on: [nope]'),
    'self dependency': base.replace('depends_on: [setup]', 'depends_on: ["work_{i}"]'),
    'merging entry': base.replace('name: work_{i}', 'name: work'),
    'undefined resource requirements': base.replace('resource_requirements: small\n    depends_on', 'resource_requirements: big\n    depends_on'),
    cycle: base.replace('command: echo setup', 'command: echo setup\n    depends_on: [work_1]'),
  };
  for (const [what, text] of Object.entries(refused)) t.is(planWorkflowStreamed(spec(text)), null, what);
});
