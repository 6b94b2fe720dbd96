import test from 'ava';
import { InputError, TooLargeError } from '../../src/errors.js';
import { loadWorkflowText } from '../../src/spec/load.js';
import { planWorkflow } from '../../src/spec/planner.js';
import { planDocument, summarizePlan, type Plan } from '../../src/spec/index.js';

function plan(yaml: string, options = {}): Plan {
  return planDocument(loadWorkflowText(yaml)[0]!, options);
}
function blockers(p: Plan, name: string): string[] {
  const j = p.jobs.findIndex((x) => x.name === name);
  return Array.from(p.dep_targets.subarray(p.dep_offsets[j]!, p.dep_offsets[j + 1]!), (b) => p.jobs[b]!.name).sort();
}
function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err.issues;
    throw err;
  }
  throw new Error('expected an InputError');
}

const DIAMOND = `
name: diamond
files:
  - {name: f1, path: in/f1.txt}
  - {name: f2, path: out/f2.txt}
  - {name: f3, path: out/f3.txt}
  - {name: f4, path: out/f4.txt}
  - {name: f5, path: out/f5.txt}
jobs:
  - name: preprocess
    command: "cat \${files.input.f1} > \${files.output.f2} && cp \${files.output.f2} \${files.output.f3}"
  - {name: work1, command: "cp \${files.input.f2} \${files.output.f4}"}
  - name: work2
    command: cp in out
    input_files: [f3]
    output_files: [f5]
  - {name: post, command: "cat \${files.input.f4} \${files.input.f5}"}
`;

test('files make implicit dependencies; ${files.*} is substituted and declares the file', (t) => {
  const p = plan(DIAMOND);
  t.deepEqual(p.jobs.map((j) => j.name), ['preprocess', 'work1', 'work2', 'post']);
  t.is(p.jobs[0]!.command, 'cat in/f1.txt > out/f2.txt && cp out/f2.txt out/f3.txt');
  t.deepEqual(p.jobs[0]!.input_files.map((f) => p.files[f]!.name), ['f1']);
  t.deepEqual(p.jobs[0]!.output_files.map((f) => p.files[f]!.name), ['f2', 'f3']);
  t.deepEqual(blockers(p, 'preprocess'), []);
  t.deepEqual(blockers(p, 'work1'), ['preprocess']);
  t.deepEqual(blockers(p, 'work2'), ['preprocess']);
  t.deepEqual(blockers(p, 'post'), ['work1', 'work2']);
  t.is(p.dep_offsets.length, 5);
  t.is(p.dep_targets.length, 4);
  const s = summarizePlan(p);
  t.is(s.depth, 3);
  t.is(s.roots, 1);
  t.deepEqual(s.leaf_names, ['post']);
});

test('jobs without resource_requirements get the implicit default class at index 0', (t) => {
  const p = plan(`
name: rc
resource_requirements:
  - {name: small, num_cpus: 2, memory: 4g, runtime: PT30M}
  - {name: large, num_cpus: 16, num_gpus: 2, memory: 128g, runtime: PT8H}
jobs:
  - {name: a, command: "true"}
  - {name: b, command: "true", resource_requirements: large}
`);
  t.deepEqual(p.resource_classes.map((r) => r.name), ['default', 'small', 'large']);
  t.deepEqual(p.resource_classes[0], { name: 'default', num_cpus: 1, memory_bytes: 1024 ** 2, num_gpus: 0, num_nodes: 1, runtime_seconds: 3600 });
  t.is(p.resource_classes[2]!.memory_bytes, 128 * 1024 ** 3);
  t.is(p.resource_classes[2]!.runtime_seconds, 8 * 3600);
  t.is(p.jobs[0]!.resource_class, 0);
  t.is(p.jobs[1]!.resource_class, 2);
});

test('parameters expand names, commands, files and depends_on (torc docs example)', (t) => {
  const p = plan(`
name: sweep
jobs:
  - name: generate_{config}
    command: python generate.py --config={config}
    output_files: ["data_{config}"]
    parameters: {config: "['A','B','C']"}
  - name: process_{config}
    command: python process.py --input=data_{config}.pkl
    input_files: ["data_{config}"]
    depends_on: ["generate_{config}"]
    parameters: {config: "['A','B','C']"}
  - name: job_{i:03d}
    command: echo {i}
    parameters: {i: "1:3"}
files:
  - name: data_{config}
    path: /data/{config}.pkl
    parameters: {config: "['A','B','C']"}
`);
  t.deepEqual(p.jobs.map((j) => j.name), ['generate_A', 'generate_B', 'generate_C', 'process_A', 'process_B', 'process_C', 'job_001', 'job_002', 'job_003']);
  t.is(p.jobs[1]!.command, 'python generate.py --config=B');
  t.is(p.jobs[8]!.command, 'echo 3');
  t.deepEqual(p.files.map((f) => f.path), ['/data/A.pkl', '/data/B.pkl', '/data/C.pkl']);
  t.deepEqual(blockers(p, 'process_B'), ['generate_B']);
});

test('workflow parameters via use_parameters; local parameters override them', (t) => {
  const p = plan(`
name: shared
parameters:
  lr: "[0.0001,0.001,0.01]"
  batch_size: "[16,32]"
jobs:
  - name: train_lr{lr:.4f}_bs{batch_size}
    command: python train.py --lr={lr} --batch-size={batch_size}
    use_parameters: [lr, batch_size]
  - name: special_lr{lr:.4f}
    command: python special.py --lr={lr}
    parameters: {lr: "[0.01,0.1]"}
`);
  t.deepEqual(p.jobs.map((j) => j.name), [
    'train_lr0.0001_bs16', 'train_lr0.0001_bs32', 'train_lr0.0010_bs16', 'train_lr0.0010_bs32', 'train_lr0.0100_bs16', 'train_lr0.0100_bs32',
    'special_lr0.0100', 'special_lr0.1000',
  ]);
  t.is(p.jobs[2]!.command, 'python train.py --lr=0.001 --batch-size=16');
});

test('combinations that give the same name make one job gathering its lists (the aggregate pattern)', (t) => {
  const p = plan(`
name: agg
parameters: {i: "1:3", kind: "['a','b']"}
jobs:
  - {name: "work_{i}_{kind}", command: "true", use_parameters: [i, kind]}
  - {name: "report_{kind}", command: "echo {kind}", depends_on: ["work_{i}_{kind}"], use_parameters: [i, kind]}
  - {name: aggregate, command: "true", depends_on: ["report_{kind}"], use_parameters: [kind]}
`);
  t.deepEqual(p.jobs.map((j) => j.name).slice(6), ['report_a', 'report_b', 'aggregate']);
  t.deepEqual(blockers(p, 'report_b'), ['work_1_b', 'work_2_b', 'work_3_b']);
  t.deepEqual(blockers(p, 'aggregate'), ['report_a', 'report_b']);
  const issues = issuesOf(() => plan(`
name: bad
parameters: {i: "1:3"}
jobs:
  - {name: "work_{i}", command: "true", use_parameters: [i]}
  - {name: agg, command: "echo {i}", depends_on: ["work_{i}"], use_parameters: [i]}
`));
  t.is(issues[0]!.path, 'spec.jobs[1].command');
  t.regex(issues[0]!.message, /put \{i\} in the name/);
});

test('zip mode pairs parameters', (t) => {
  const p = plan(`
name: zip
jobs:
  - name: train_{dataset}_{model}
    command: "true"
    parameters: {dataset: "['cifar10','mnist']", model: "['resnet','cnn']"}
    parameter_mode: zip
`);
  t.deepEqual(p.jobs.map((j) => j.name), ['train_cifar10_resnet', 'train_mnist_cnn']);
});

test('depends_on_regexes match every other job, anchored or not', (t) => {
  const p = plan(`
name: rx
jobs:
  - {name: "prep_{i}", command: "true", parameters: {i: "1:12"}}
  - {name: "sim_{i}_a", command: "true", parameters: {i: "1:12"}, depends_on_regexes: ["^prep_{i}$"]}
  - {name: "sum_{i}", command: "true", parameters: {i: "1:2"}, depends_on_regexes: ["sim_{i}_"]}
  - {name: all, command: "true", depends_on_regexes: [".*"]}
`);
  t.deepEqual(blockers(p, 'sim_2_a'), ['prep_2']);
  t.deepEqual(blockers(p, 'sum_1'), ['sim_1_a']);
  t.is(blockers(p, 'all').length, p.jobs.length - 1, 'a job never waits for itself');
});

test('user data: ${user_data.input.x} becomes its JSON and links producer to consumer', (t) => {
  const p = plan(`
name: ud
user_data:
  - {name: cfg, data: {alpha: 1}}
  - {name: "out_{k}", data: "{k}", parameters: {k: "['x']"}}
jobs:
  - {name: writer, command: "write", output_user_data: [cfg]}
  - {name: reader, command: "read '\${user_data.input.cfg}'"}
`);
  t.is(p.jobs[1]!.command, `read '{"alpha":1}'`);
  t.deepEqual(blockers(p, 'reader'), ['writer']);
  t.deepEqual(p.user_data.map((u) => [u.name, u.data]), [['cfg', { alpha: 1 }], ['out_x', 'x']]);
});

test('undefined references are errors with paths and suggestions', (t) => {
  const issues = issuesOf(() => plan(`
name: refs
resource_requirements: [{name: small, num_cpus: 1, memory: 1g}]
failure_handlers: [{name: retry, rules: [{match_all_exit_codes: true}]}]
files: [{name: input_a, path: a}]
jobs:
  - {name: a, command: "true", resource_requirements: smal, failure_handler: retyr, scheduler: gpu}
  - {name: b, command: "cat \${files.input.input_b}", depends_on: [aa], input_files: [input_c]}
  - {name: c, command: "true", depends_on_regexes: ["^zzz", "(unclosed"]}
`));
  const byPath = new Map(issues.map((i) => [i.path, i.message]));
  t.regex(byPath.get('spec.jobs[0].resource_requirements')!, /undefined resource requirements "smal"; did you mean "small"/);
  t.regex(byPath.get('spec.jobs[0].failure_handler')!, /did you mean "retry"/);
  t.regex(byPath.get('spec.jobs[0].scheduler')!, /undefined slurm scheduler "gpu"/);
  t.regex(byPath.get('spec.jobs[1].command')!, /undefined file "input_b"; did you mean "input_a"/);
  t.regex(byPath.get('spec.jobs[1].depends_on[0]')!, /undefined job "aa"/);
  t.regex(byPath.get('spec.jobs[1].input_files[0]')!, /undefined file "input_c"/);
  t.regex(byPath.get('spec.jobs[2].depends_on_regexes[0]')!, /matches no other job/);
  t.regex(byPath.get('spec.jobs[2].depends_on_regexes[1]')!, /invalid regex/);
});

test('duplicate job names after expansion name both places', (t) => {
  const issues = issuesOf(() => plan(`
name: dup
jobs:
  - {name: "job_{i}", command: "true", parameters: {i: "1:3"}}
  - {name: job_2, command: "true"}
`));
  t.is(issues[0]!.path, 'spec.jobs[1].name');
  t.regex(issues[0]!.message, /duplicate job name "job_2" \(also produced by spec.jobs\[0\]\)/);
});

test('a dependency cycle is refused and printed a → b → a', (t) => {
  const issues = issuesOf(() => plan(`
name: cyc
jobs:
  - {name: a, command: "true", depends_on: [c]}
  - {name: b, command: "true", depends_on: [a]}
  - {name: c, command: "true", depends_on: [b]}
  - {name: d, command: "true"}
`));
  t.regex(issues[0]!.message, /dependency cycle: (a → b → c → a|b → c → a → b|c → a → b → c)/);
  const self = issuesOf(() => plan('name: s\njobs: [{name: a, command: "true", depends_on: [a]}]\n'));
  t.regex(self[0]!.message, /depends on itself/);
});

test('expansions over the limit are refused before anything is allocated, naming the job', (t) => {
  const err = t.throws(() => plan(`
name: huge
jobs:
  - {name: ok, command: "true"}
  - {name: "j_{a}_{b}", command: "true", parameters: {a: "1:1000000", b: "1:1000000"}}
`), { instanceOf: TooLargeError });
  t.is(err.field, 'spec.jobs[1]');
  t.regex(err.message, /more than 10000000 jobs/);
  t.throws(() => plan('name: s\njobs: [{name: "j{i}", command: "true", parameters: {i: "1:20"}}]\n', { maxJobs: 10 }), { instanceOf: TooLargeError });
});

test('slurm_defaults merge into every scheduler without overriding its own settings', (t) => {
  const p = plan(`
name: sd
slurm_defaults: {account: proj, qos: high, mail-type: END}
slurm_schedulers:
  - {name: gpu_cluster, partition: gpu, account: mine}
  - {name: plain}
jobs: [{name: a, command: "true", slurm_scheduler: gpu_cluster}]
`);
  t.is(p.slurm_schedulers[0]!.account, 'mine');
  t.is(p.slurm_schedulers[0]!.qos, 'high');
  t.is(p.slurm_schedulers[1]!.account, 'proj');
  t.is(p.slurm_schedulers[1]!.walltime, '01:00:00');
  t.is(p.slurm_schedulers[1]!.extra, '--mail-type=END');
  t.is(p.jobs[0]!.scheduler, 0);
});

test('job hashes follow what a job does; the spec hash follows everything', (t) => {
  const base = plan(DIAMOND);
  const again = plan(DIAMOND);
  t.is(base.spec_hash, again.spec_hash);
  t.deepEqual(base.jobs.map((j) => j.hash), again.jobs.map((j) => j.hash));
  const changed = plan(DIAMOND.replace('cp in out', 'cp in out2'));
  t.not(changed.jobs[2]!.hash, base.jobs[2]!.hash);
  t.is(changed.jobs[1]!.hash, base.jobs[1]!.hash);
  t.not(changed.spec_hash, base.spec_hash);
  const flag = plan(DIAMOND.replace('name: work2', 'name: work2\n    cancel_on_blocking_job_failure: false'));
  t.is(flag.jobs[2]!.hash, base.jobs[2]!.hash, 'cancel_on_blocking_job_failure does not change what the job does');
  t.not(flag.spec_hash, base.spec_hash);
});

test('actions resolve their jobs and scheduler; settings get torc defaults', (t) => {
  const p = plan(`
name: act
slurm_schedulers: [{name: gpu_cluster}]
jobs:
  - {name: "train_{i}", command: "true", parameters: {i: "1:3"}}
actions:
  - {trigger_type: on_jobs_complete, action_type: run_commands, job_name_regexes: ["^train_"], commands: [echo done]}
  - {trigger_type: on_workflow_start, action_type: schedule_nodes, scheduler: gpu_cluster, scheduler_type: slurm, num_allocations: 2}
`);
  t.deepEqual(p.actions[0]!.jobs, [0, 1, 2]);
  t.is(p.actions[1]!.scheduler, 0);
  t.is(p.actions[1]!.num_allocations, 2);
  t.is(p.settings.jobs_sort_method, 'gpus_runtime_memory');
  t.is(p.settings.compute_node_wait_for_new_jobs_seconds, 90);
});

test('planWorkflow accepts a spec object directly (aliases folded there too)', (t) => {
  const p = planWorkflow({
    name: 'direct',
    job_sort_method: 'none',
    slurm_schedulers: [{ name: 's' }],
    jobs: [{ name: 'a', command: 'true', slurm_scheduler: 's', image: 'busybox', env: { A: '1' } }],
    default_image: 'alpine',
  });
  t.is(p.settings.jobs_sort_method, 'none');
  t.is(p.jobs[0]!.scheduler, 0);
  t.is(p.jobs[0]!.image, 'busybox');
  t.deepEqual(p.jobs[0]!.env, { A: '1' });
});
