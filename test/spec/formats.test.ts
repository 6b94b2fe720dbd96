/**
 * Spec formats: YAML, JSON, JSON5 and KDL read into the same spec; the format comes from the
 * file extension (or is detected); errors name line and column in the file's own syntax, for
 * syntax and for validation; KDL and every other format written back read to the same spec.
 */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { formatOfMediaType, formatOfPath, loadWorkflowFile, loadWorkflowText, planDocument, type SpecFormat, type WorkflowSpec } from '../../src/spec/index.js';
import { serializeSpec } from '../../src/spec/serialize.js';

/** One spec touching every KDL shape: entry nodes, properties, repeated singulars, multi-argument lists, blocks, JSON data. */
const YAML = `
name: shapes
user: me
description: every KDL shape
jobs_sort_method: gpus_memory_runtime
use_pending_failed: false
parameters:
  i: "1:2"
files:
  - {name: raw, path: /data/raw.csv}
  - name: out_{i}
    path: /data/out_{i}.csv
    use_parameters: [i]
user_data:
  - {name: meta, is_ephemeral: true, data: {source: "x", sizes: [1, 2], ok: true}}
resource_requirements:
  - {name: small, num_cpus: 1, num_gpus: 0, num_nodes: 1, memory: 2g, runtime: PT30M}
failure_handlers:
  - name: retry
    rules:
      - {exit_codes: [10, 11], max_retries: 2}
      - {match_all_exit_codes: true, max_retries: 1}
slurm_schedulers:
  - {name: sched, account: acct, nodes: 1, walltime: "01:00:00"}
slurm_defaults:
  exclusive: "true"
resource_monitor: {enabled: true, granularity: time_series, sample_interval_seconds: 2, generate_plots: false}
jobs:
  - name: prep
    command: cat \${files.input.raw}
    resource_requirements: small
    failure_handler: retry
    cancel_on_blocking_job_failure: false
    supports_termination: true
    output_user_data: [meta]
  - name: work_{i}
    command: echo {i} > \${files.output.out_{i}}
    depends_on: [prep]
    input_user_data: [meta]
    use_parameters: [i]
    scheduler: sched
  - name: report
    command: echo done
    depends_on_regexes: ["^work_"]
    env: {MODE: fast}
actions:
  - {trigger_type: on_workflow_start, action_type: run_commands, commands: [mkdir -p out, echo start]}
  - {trigger_type: on_jobs_ready, action_type: schedule_nodes, jobs: [report], scheduler: sched, scheduler_type: slurm, num_allocations: 1, start_one_worker_per_node: true}
`;

const KDL = `// the same workflow in torc's KDL shape
name "shapes"
user "me"
description "every KDL shape"
jobs_sort_method "gpus_memory_runtime"
use_pending_failed #false
parameters {
    i "1:2"
}
file "raw" path="/data/raw.csv"
file "out_{i}" {
    path "/data/out_{i}.csv"
    use_parameters "i"
}
user_data "meta" {
    is_ephemeral #true
    data "{\\"source\\":\\"x\\",\\"sizes\\":[1,2],\\"ok\\":true}"
}
resource_requirements "small" {
    num_cpus 1
    num_gpus 0
    num_nodes 1
    memory "2g"
    runtime "PT30M"
}
failure_handler "retry" {
    rule {
        exit_codes 10 11
        max_retries 2
    }
    rule {
        match_all_exit_codes #true
        max_retries 1
    }
}
slurm_scheduler "sched" {
    account "acct"
    nodes 1
    walltime "01:00:00"
}
slurm_defaults {
    exclusive "true"
}
resource_monitor {
    enabled #true
    granularity "time_series"
    sample_interval_seconds 2
    generate_plots #false
}
job "prep" {
    command "cat \${files.input.raw}"
    resource_requirements "small"
    failure_handler "retry"
    cancel_on_blocking_job_failure #false
    supports_termination #true
    output_user_data "meta"
}
job "work_{i}" {
    command "echo {i} > \${files.output.out_{i}}"
    depends_on_job "prep"
    input_user_data "meta"
    use_parameters "i"
    scheduler "sched"
}
job "report" {
    command "echo done"
    depends_on_regexes "^work_"
    env {
        MODE "fast"
    }
}
action {
    trigger_type "on_workflow_start"
    action_type "run_commands"
    command "mkdir -p out"
    command "echo start"
}
action {
    trigger_type "on_jobs_ready"
    action_type "schedule_nodes"
    job "report"
    scheduler "sched"
    scheduler_type "slurm"
    num_allocations 1
    start_one_worker_per_node #true
}
`;

const JSON5_TEXT = `// JSON5: comments, unquoted keys, single quotes, trailing commas
{
  name: 'j5',
  jobs: [
    {name: "a", command: "echo a",},
    {name: "b", command: "echo b", depends_on: ["a",],},
  ],
}
`;

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    throw err;
  }
  return [];
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'torc-formats-'));
}

test('the format follows the extension (as torc) and the media type (REST)', (t) => {
  t.is(formatOfPath('a/wf.yaml'), 'yaml');
  t.is(formatOfPath('wf.YML'), 'yaml');
  t.is(formatOfPath('wf.json'), 'json');
  t.is(formatOfPath('wf.json5'), 'json5');
  t.is(formatOfPath('wf.kdl'), 'kdl');
  t.is(formatOfPath('wf.txt'), 'auto');
  t.is(formatOfPath('workflow'), 'auto');
  t.is(formatOfMediaType('application/kdl'), 'kdl');
  t.is(formatOfMediaType('application/json5'), 'json5');
  t.is(formatOfMediaType('application/x-yaml'), 'yaml');
  t.is(formatOfMediaType('text/plain'), 'auto');
  t.is(formatOfMediaType(''), 'auto');
  t.is(formatOfMediaType('image/png'), undefined);
});

test('KDL in torc shape reads to exactly the spec YAML gives, and plans the same', (t) => {
  const fromYaml = loadWorkflowText(YAML, { format: 'yaml' })[0]!;
  const fromKdl = loadWorkflowText(KDL, { format: 'kdl' })[0]!;
  t.is(fromKdl.format, 'kdl');
  t.deepEqual(fromKdl.spec, fromYaml.spec);
  const a = planDocument(fromYaml);
  const b = planDocument(fromKdl);
  t.is(b.spec_hash, a.spec_hash);
  t.deepEqual(b.jobs.map((j) => j.name), ['prep', 'work_1', 'work_2', 'report']);
  t.deepEqual([...b.dep_targets], [...a.dep_targets]);
});

test('KDL v1 text (booleans without #) is read as torc reads it', (t) => {
  const v1 = 'name "old"\njob "a" {\n    command "true"\n    supports_termination true\n}\n';
  const spec = loadWorkflowText(v1, { format: 'kdl' })[0]!.spec;
  t.is(spec.jobs[0]!.supports_termination, true);
});

test('JSON5 reads comments, unquoted keys, single quotes and trailing commas', (t) => {
  const doc = loadWorkflowText(JSON5_TEXT, { format: 'json5' })[0]!;
  t.is(doc.format, 'json5');
  t.deepEqual(doc.spec.jobs.map((j) => j.name), ['a', 'b']);
  t.deepEqual(doc.spec.jobs[1]!.depends_on, ['a']);
});

test('files are read by extension: a .json file is held to JSON, a .json5 file is JSON5, a .kdl file is KDL', (t) => {
  const dir = scratch();
  writeFileSync(join(dir, 'wf.json5'), JSON5_TEXT);
  writeFileSync(join(dir, 'wf.json'), JSON5_TEXT);
  writeFileSync(join(dir, 'wf.kdl'), KDL);
  t.is(loadWorkflowFile(join(dir, 'wf.json5'))[0]!.spec.name, 'j5');
  t.regex(issuesOf(() => loadWorkflowFile(join(dir, 'wf.json')))[0]!, /^invalid JSON at line 1, column 1/);
  t.is(loadWorkflowFile(join(dir, 'wf.kdl'))[0]!.spec.name, 'shapes');
});

test('without a known extension the format is detected: JSON, JSON5, YAML, then KDL', (t) => {
  const dir = scratch();
  const cases: [string, string, SpecFormat][] = [
    ['a.txt', '{"name": "js", "jobs": [{"name": "a", "command": "x"}]}', 'json'],
    ['b.txt', JSON5_TEXT.replace(/^\/\/.*\n/, ''), 'json5'],
    ['c', 'name: ym\njobs: [{name: a, command: x}]\n', 'yaml'],
    ['d.spec', 'name "kd"\njob "a" {\n    command "x"\n}\n', 'kdl'],
  ];
  for (const [file, text, format] of cases) {
    writeFileSync(join(dir, file), text);
    t.is(loadWorkflowFile(join(dir, file))[0]!.format, format, file);
  }
});

test('syntax errors name line and column in the file\'s own syntax', (t) => {
  t.deepEqual(issuesOf(() => loadWorkflowText('{\n  name: "x",\n  jobs: [,],\n}\n', { format: 'json5' })), ["invalid JSON5 at line 3, column 10: invalid character ','"]);
  t.deepEqual(issuesOf(() => loadWorkflowText('name "x"\njob "a" {\n    command "echo" foo=\n}\n', { format: 'kdl' })), ['KDL syntax error at line 3, column 24: Expected a value']);
  t.regex(issuesOf(() => loadWorkflowText('name "x"\njob "a" {\n    command "x"\n', { format: 'kdl' }))[0]!, /^KDL syntax error at line 4, column 1: /);
  t.regex(issuesOf(() => loadWorkflowText('name: x\njobs:\n  - name: a\n   command: [\n', { format: 'yaml' }))[0]!, /^YAML syntax error at line \d+, column \d+/);
});

test('validation errors carry the line and column of the field in YAML, JSON and KDL', (t) => {
  const yaml = 'name: x\njobs:\n  - name: a\n    command: echo\n  - name: b\n    comand: echo\n';
  t.deepEqual(issuesOf(() => loadWorkflowText(yaml, { format: 'yaml' })), [
    'spec.jobs[1].command: required field is missing (line 5, column 5)',
    'spec.jobs[1].comand: unknown field "comand"; did you mean "command"? (line 6, column 5)',
  ]);
  const json = '{\n  "name": "x",\n  "jobs": [\n    {"name": "a", "command": 5}\n  ]\n}\n';
  t.deepEqual(issuesOf(() => loadWorkflowText(json, { format: 'json' })), ['spec.jobs[0].command: expected string, got integer 5 (line 4, column 19)']);
  const kdl = 'name "x"\njob "a" {\n    command "echo"\n    resource_requirement "small"\n}\n';
  t.deepEqual(issuesOf(() => loadWorkflowText(kdl, { format: 'kdl' })), [
    'spec.jobs[0].resource_requirement: unknown field "resource_requirement"; did you mean "resource_requirements"? (line 4, column 5)',
  ]);
  // A Workflow resource's paths start at the resource; multi-document files carry their prefix.
  const resource = 'apiVersion: torc.dev/v1alpha1\nkind: Workflow\nmetadata: {name: r}\nspec:\n  jobs:\n    - name: a\n      command: 7\n';
  t.deepEqual(issuesOf(() => loadWorkflowText(`name: ok\njobs: [{name: a, command: x}]\n---\n${resource}`)), [
    'documents[1].spec.jobs[0].command: expected string, got integer 7 (line 10, column 7)',
  ]);
});

test('planning errors (references, cycles) carry positions too', (t) => {
  const kdl = 'name "x"\njob "a" {\n    command "echo"\n    resource_requirements "huge"\n}\njob "b" {\n    command "echo"\n    depends_on_job "zz"\n}\n';
  const doc = loadWorkflowText(kdl, { format: 'kdl' })[0]!;
  t.deepEqual(issuesOf(() => planDocument(doc)), [
    'spec.jobs[0].resource_requirements: undefined resource requirements "huge" (line 4, column 5)',
    'spec.jobs[1].depends_on[0]: undefined job "zz" (job "b") (line 8, column 20)',
  ]);
  const yaml = 'name: x\njobs:\n  - name: a\n    command: echo\n    depends_on: [b]\n  - name: b\n    command: echo\n    depends_on: [a]\n';
  t.regex(issuesOf(() => planDocument(loadWorkflowText(yaml)[0]!)).join('\n'), /^spec\.jobs\[\d\]: dependency cycle: .* \(line \d, column 5\)$/);
});

test('KDL mistakes are named: a scalar given twice, a value where a block belongs, user data that is not JSON', (t) => {
  const twice = 'name "x"\njob "a" {\n    command "one"\n    command "two"\n}\n';
  t.deepEqual(issuesOf(() => loadWorkflowText(twice, { format: 'kdl' })), ['spec.jobs[0].command: "command" is given twice (line 4, column 5)']);
  const args = 'name "x" "y"\njob "a" {\n    command "x"\n}\n';
  t.deepEqual(issuesOf(() => loadWorkflowText(args, { format: 'kdl' })), ['spec.name: "name" takes one value, got 2 (line 1, column 1)']);
  const data = 'name "x"\nuser_data "u" {\n    data "{not json"\n}\njob "a" {\n    command "x"\n}\n';
  t.regex(issuesOf(() => loadWorkflowText(data, { format: 'kdl' }))[0]!, /^spec\.user_data\[0\]\.data: user data is a JSON string in KDL; this one is not valid JSON: .* \(line 3, column 5\)$/);
  const typed = 'name "x"\nresource_requirements "r" {\n    num_cpus "four"\n    memory "1g"\n}\njob "a" {\n    command "x"\n}\n';
  t.deepEqual(issuesOf(() => loadWorkflowText(typed, { format: 'kdl' })), ['spec.resource_requirements[0].num_cpus: expected integer, got string "four" (line 3, column 5)']);
});

test('resource_monitor: torc\'s fields are checked; fields torc ignores are accepted with a warning', (t) => {
  const spec = 'name: m\nresource_monitor:\n  enabled: true\n  granularity: time_series\n  metrics: [cpu_percent]\njobs: [{name: a, command: x}]\n';
  const doc = loadWorkflowText(spec)[0]!;
  t.deepEqual(doc.warnings.map((w) => `${w.path}: ${w.message}`), [
    'spec.resource_monitor.metrics: unknown field "metrics" ignored (resource_monitor reads enabled, granularity, sample_interval_seconds, generate_plots) (line 5, column 3)',
  ]);
  t.deepEqual(issuesOf(() => loadWorkflowText(spec.replace('time_series', 'hourly'))), [
    'spec.resource_monitor.granularity: expected one of "summary", "time_series", got "hourly" (line 4, column 3)',
  ]);
});

test('every format written back reads to the same spec (the rich spec above)', (t) => {
  const spec: WorkflowSpec = loadWorkflowText(YAML)[0]!.spec;
  for (const format of ['yaml', 'json', 'json5', 'kdl'] as const) {
    const text = serializeSpec(spec, format);
    t.deepEqual(loadWorkflowText(text, { format })[0]!.spec, spec, format);
  }
  // KDL is written in torc's shape: entry nodes named by their argument, repeated singulars.
  const kdl = serializeSpec(spec, 'kdl');
  t.regex(kdl, /^job "work_\{i\}" \{$/m);
  t.regex(kdl, /^file raw path="\/data\/raw\.csv"$/m);
  t.regex(kdl, /^\s+input_user_data meta$/m);
  t.regex(kdl, /^\s+exit_codes 10 11$/m);
  t.regex(kdl, /^\s+command "mkdir -p out"$/m);
  t.regex(kdl, /^\s+data "\{\\"source\\":\\"x\\"/m);
});
