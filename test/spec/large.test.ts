import test from 'ava';
import { loadWorkflowText } from '../../src/spec/load.js';
import { planDocument, summarizePlan } from '../../src/spec/index.js';

// No timing assertion here: speed is measured in bench/. This checks that a 100k-job
// parameterized spec goes through the whole pipeline and comes out right.
test('a 100k-job parameterized spec plans (files, regex fan-in, CSR dependencies)', (t) => {
  const yaml = `
name: big
resource_requirements:
  - {name: small, num_cpus: 1, memory: 512m, runtime: PT5M}
files:
  - {name: config, path: config.json}
  - name: "out_{i}"
    path: "out/{i:06d}.txt"
    parameters: {i: "1:100000"}
jobs:
  - name: setup
    command: "echo {} > \${files.output.config}"
  - name: "work_{i:06d}"
    command: "cat \${files.input.config} > \${files.output.out_{i}}"
    resource_requirements: small
    parameters: {i: "1:100000"}
  - name: "reduce_{k}"
    command: "true"
    depends_on_regexes: ["^work_0{k}"]
    parameters: {k: "0:9"}
  - name: final
    command: "true"
    depends_on_regexes: ["^reduce_"]
`;
  const plan = planDocument(loadWorkflowText(yaml)[0]!);
  t.is(plan.jobs.length, 100_012);
  t.is(plan.files.length, 100_001);
  t.is(plan.jobs[42]!.name, 'work_000042');
  t.is(plan.jobs[42]!.command, 'cat config.json > out/000042.txt');
  const summary = summarizePlan(plan);
  t.is(summary.depth, 4);
  t.is(summary.roots, 1);
  t.deepEqual(summary.leaf_names, ['work_100000', 'final']);
  // every work job waits for setup; reduce_k waits for the 10,000 work_0k….. jobs (work_100000 matches none)
  t.is(plan.dep_targets.length, 100_000 + 99_999 + 10);
  const reduce3 = plan.jobs.findIndex((j) => j.name === 'reduce_3');
  t.is(plan.dep_offsets[reduce3 + 1]! - plan.dep_offsets[reduce3]!, 10_000);
  // the hash covers what a job does, not its name: the eleven `true` jobs share one
  t.is(new Set(plan.jobs.map((j) => j.hash)).size, 100_002);
});
