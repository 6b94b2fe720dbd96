import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { loadWorkflowDocuments, loadWorkflowFile, loadWorkflowText } from '../../src/spec/load.js';

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err.issues;
    throw err;
  }
  throw new Error('expected an InputError');
}

const BARE = `
name: demo
jobs:
  - name: a
    command: echo a
`;

test('a bare torc spec loads and gets a Workflow resource around it', (t) => {
  const [doc, ...rest] = loadWorkflowText(BARE);
  t.is(rest.length, 0);
  t.is(doc!.form, 'spec');
  t.is(doc!.spec.name, 'demo');
  t.is(doc!.resource.apiVersion, 'torc.dev/v1alpha1');
  t.is(doc!.resource.kind, 'Workflow');
  t.is(doc!.metadata.name, 'demo');
});

test('a full resource loads; spec.name defaults to metadata.name; other kinds in the stream are skipped', (t) => {
  const docs = loadWorkflowText(`
apiVersion: v1
kind: Namespace
metadata: {name: science}
---
apiVersion: torc.dev/v1alpha1
kind: Workflow
metadata: {name: sweep-1, namespace: science}
spec:
  jobs: [{name: a, command: "true"}]
---
apiVersion: torc.dev/v1alpha1
kind: Workflow
metadata: {name: second}
spec:
  name: Second One
  jobs: [{name: b, command: "true"}]
`);
  t.is(docs.length, 2);
  t.is(docs[0]!.form, 'resource');
  t.is(docs[0]!.spec.name, 'sweep-1');
  t.is(docs[0]!.metadata.namespace, 'science');
  t.is(docs[0]!.pathPrefix, 'documents[1].');
  t.is(docs[1]!.spec.name, 'Second One');
});

test('aliases job_sort_method and slurm_scheduler fold into the torc names', (t) => {
  const [doc] = loadWorkflowText(`
name: x
job_sort_method: gpus_memory_runtime
slurm_schedulers: [{name: gpu_cluster, account: p}]
jobs: [{name: a, command: "true", slurm_scheduler: gpu_cluster}]
`);
  t.is(doc!.spec.jobs_sort_method, 'gpus_memory_runtime');
  t.false('job_sort_method' in doc!.spec);
  t.is(doc!.spec.jobs[0]!.scheduler, 'gpu_cluster');
  t.false('slurm_scheduler' in doc!.spec.jobs[0]!);
});

test('conflicting alias values are an error naming the alias', (t) => {
  const issues = issuesOf(() => loadWorkflowText(`
name: x
jobs_sort_method: none
job_sort_method: gpus_memory_runtime
jobs: [{name: a, command: "true", scheduler: s1, slurm_scheduler: s2}]
slurm_schedulers: [{name: s1}, {name: s2}]
`));
  t.true(issues.some((i) => i.path === 'spec.job_sort_method' && /conflicts/.test(i.message)));
  t.true(issues.some((i) => i.path === 'spec.jobs[0].slurm_scheduler'));
});

test('unknown fields are errors with "did you mean"', (t) => {
  const issues = issuesOf(() => loadWorkflowText(`
name: x
jobs:
  - name: a
    command: "true"
    resource_requirments: small
    numCpus: 3
`));
  const typo = issues.find((i) => i.path === 'spec.jobs[0].resource_requirments');
  t.truthy(typo);
  t.regex(typo!.message, /unknown field "resource_requirments"; did you mean "resource_requirements"\?/);
  t.true(issues.some((i) => i.path === 'spec.jobs[0].numCpus'));
});

test('every schema error is listed with its path and what was expected', (t) => {
  const issues = issuesOf(() => loadWorkflowText(`
name: x
jobs:
  - {name: a, command: "true"}
  - {name: b, command: "true"}
  - {name: c, command: "true"}
  - {name: d, command: "true", resource_requirements: [small]}
  - {name: e}
resource_requirements:
  - {name: small, num_cpus: -1, memory: 4g}
jobs_sort_method: fastest
`));
  const byPath = new Map(issues.map((i) => [i.path, i.message]));
  t.regex(byPath.get('spec.jobs[3].resource_requirements')!, /expected string, got an array/);
  t.regex(byPath.get('spec.jobs[4].command')!, /required/);
  t.regex(byPath.get('spec.resource_requirements[0].num_cpus')!, /≥ 0/);
  t.regex(byPath.get('spec.jobs_sort_method')!, /expected one of "gpus_runtime_memory", "gpus_memory_runtime", "none", got "fastest"/);
});

test('static checks: memory strings, durations, walltimes, duplicate names, parameters', (t) => {
  const issues = issuesOf(() => loadWorkflowText(`
name: x
resource_requirements:
  - {name: small, num_cpus: 1, memory: 4 gigs, runtime: 30 minutes}
  - {name: small, num_cpus: 1, memory: 1g}
slurm_schedulers:
  - {name: s, walltime: "25:61:00"}
parameters:
  i: "1:10:0"
jobs:
  - {name: "a{i}", command: "true", use_parameters: [j]}
  - {name: "b{k}", command: "true", parameters: {k: "[1,2", m: "[1]"}, parameter_mode: zip}
`));
  const paths = issues.map((i) => i.path);
  t.true(paths.includes('spec.resource_requirements[0].memory'));
  t.true(paths.includes('spec.resource_requirements[0].runtime'));
  t.true(paths.includes('spec.resource_requirements[1].name'));
  t.true(paths.includes('spec.slurm_schedulers[0].walltime'));
  t.true(paths.includes('spec.parameters.i'));
  t.true(paths.includes('spec.jobs[0].use_parameters[0]'));
  t.true(paths.includes('spec.jobs[1].parameters.k'));
});

test('nulls count as absent (torc-exported JSON writes them), except inside user_data data', (t) => {
  const [doc] = loadWorkflowText(JSON.stringify({
    name: 'x',
    jobs: [{ name: 'a', command: 'true', invocation_script: null, depends_on: null }],
    user_data: [{ name: 'u', data: { keep: null } }],
  }));
  t.false('invocation_script' in doc!.spec.jobs[0]!);
  t.deepEqual(doc!.spec.user_data![0]!.data, { keep: null });
});

test('a bare spec without a name is refused', (t) => {
  const issues = issuesOf(() => loadWorkflowText('jobs: [{name: a, command: "true"}]\n'));
  t.deepEqual(issues.map((i) => i.path), ['spec.name']);
});

test('a resource with a bad apiVersion or metadata is refused with the field named', (t) => {
  const issues = issuesOf(() => loadWorkflowText(`
apiVersion: torc.dev/v2
kind: Workflow
metadata: {name: Not_Valid}
spec: {jobs: [{name: a, command: "true"}]}
`));
  t.deepEqual(issues.map((i) => i.path).sort(), ['apiVersion', 'metadata.name']);
});

test('YAML syntax errors and duplicate keys give line and column', (t) => {
  const syntax = issuesOf(() => loadWorkflowText('name: x\njobs:\n  - name: a\n   command: [unclosed\n'));
  t.regex(syntax[0]!.message, /line \d+, column \d+/);
  const dup = issuesOf(() => loadWorkflowText('name: x\nname: y\njobs: []\n'));
  t.regex(dup[0]!.message, /duplicate key at line 2/);
});

test('hostile YAML: an alias bomb is refused without expanding it', (t) => {
  const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [i, c] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].entries()) {
    const prev = String.fromCharCode('a'.charCodeAt(0) + i);
    bomb.push(`${c}: &${c} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const issues = issuesOf(() => loadWorkflowText(`${bomb.join('\n')}\nname: x\njobs: []\n`));
  t.regex(issues[0]!.message, /alias/i);
});

test('hostile input: absurd nesting is refused before parsing, for YAML and JSON', (t) => {
  const deep = `name: x\njobs: []\nuser_data: [{name: u, data: ${'['.repeat(100_000)}${']'.repeat(100_000)}}]\n`;
  t.regex(issuesOf(() => loadWorkflowText(deep))[0]!.message, /nesting/);
  const deepJson = `{"name": "x", "jobs": ${'['.repeat(5000)}${']'.repeat(5000)}}`;
  t.regex(issuesOf(() => loadWorkflowText(deepJson))[0]!.message, /nesting/);
  // block-style nesting is not made of brackets: it is caught after parsing
  const block = `name: x\njobs: []\nuser_data:\n  - name: u\n    data:\n${Array.from({ length: 80 }, (_, i) => `${' '.repeat(6 + 2 * i)}k:`).join('\n')} 1\n`;
  t.regex(issuesOf(() => loadWorkflowText(block))[0]!.message, /nesting is deeper than 64/);
});

test('files load by path (JSON by extension), text by content; a missing file names its path', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-load-'));
  const json = join(dir, 'wf.json');
  writeFileSync(json, JSON.stringify({ name: 'j', jobs: [{ name: 'a', command: 'true' }] }));
  t.is(loadWorkflowDocuments(json)[0]!.spec.name, 'j');
  t.is(loadWorkflowFile(json)[0]!.source, json);
  const badJson = join(dir, 'bad.json');
  writeFileSync(badJson, '{"name": "j",\n "jobs": [}');
  t.regex(issuesOf(() => loadWorkflowFile(badJson))[0]!.message, /invalid JSON at line 2/);
  const missing = issuesOf(() => loadWorkflowDocuments(join(dir, 'nope.yaml')));
  t.regex(missing[0]!.message, /no such file/);
});

test('an empty input or one without Workflows is an error', (t) => {
  t.regex(issuesOf(() => loadWorkflowText('\n# nothing\n'))[0]!.message, /empty/);
  t.regex(issuesOf(() => loadWorkflowText('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'))[0]!.message, /no Workflow documents/);
});

test('files that are not UTF-8 text (Latin-1, UTF-16, binary) are refused with where, not silently mangled', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-load-'));
  const write = (name: string, bytes: Buffer) => {
    writeFileSync(join(dir, name), bytes);
    return join(dir, name);
  };
  const latin1 = write('latin1.yaml', Buffer.from('name: x\nuser: caf\xe9\njobs: [{name: a, command: "true"}]\n', 'latin1'));
  t.regex(issuesOf(() => loadWorkflowFile(latin1))[0]!.message, /not UTF-8 text: byte 0xe9 at line 2, column 10/);
  const utf16 = write('utf16.yaml', Buffer.from('\ufeffname: x\njobs: []\n', 'utf16le'));
  t.regex(issuesOf(() => loadWorkflowFile(utf16))[0]!.message, /UTF-16/);
  const binary = write('binary.yaml', Buffer.from('\x7fELF\x02\x01\x01\x00\x00name: x\n', 'latin1'));
  t.regex(issuesOf(() => loadWorkflowFile(binary))[0]!.message, /NUL byte at line 1, column 8/);
  // UTF-8 with a byte order mark and non-ASCII text is fine.
  const good = write('good.yaml', Buffer.from('\ufeffname: café ✓\njobs: [{name: a, command: "echo é"}]\n'));
  t.is(loadWorkflowFile(good)[0]!.spec.name, 'café ✓');
});

test('commands, names and env entries that no program could receive (NUL, over 128 KiB) are refused by path', (t) => {
  const spec = JSON.stringify({
    name: 'x',
    jobs: [
      { name: 'a', command: 'echo a\u0000rm -rf ~' },
      { name: 'b', command: 'x'.repeat(200_000) },
      { name: 'n'.repeat(140_000), command: 'true' },
      { name: 'd', command: 'true', env: { BIG: 'v'.repeat(131_068), OK: 'v'.repeat(1000) } },
      { name: 'e', command: 'true', invocation_script: 's'.repeat(70_000), env: {} },
    ],
  });
  const paths = issuesOf(() => loadWorkflowText(spec)).map((i) => i.path);
  t.deepEqual(paths.sort(), ['spec.jobs[0].command', 'spec.jobs[1].command', 'spec.jobs[2].name', 'spec.jobs[3].env.BIG'].sort());
  t.is(loadWorkflowText(JSON.stringify({ name: 'ok', jobs: [{ name: 'a', command: 'x'.repeat(131_071) }] }))[0]!.spec.jobs.length, 1);
});
