/**
 * The real CLI on real files: every malformed spec in test/fixtures/bad is rejected with exit 2
 * and a message that names the file and the offending field.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BAD = 'test/fixtures/bad';

/** Expected path (or, for whole-file problems, a phrase) in the message for each fixture. */
const EXPECTED: Record<string, string> = {
  'absurd-cpus.yaml': 'spec.resource_requirements[0].num_cpus: expected a number ≤ 1048576, got 1e+300',
  'action-undefined-job.yaml': 'spec.actions[0].jobs[0]: undefined job "b"',
  'action-without-scheduler.yaml': 'spec.actions[0].scheduler',
  'aggregate-uses-parameter.yaml': 'spec.jobs[1].command',
  'alias-bomb.yaml': 'alias',
  'bad-cron.yaml': 'spec.schedule',
  'bad-env-name.yaml': 'spec.jobs[0].env.1BAD-NAME',
  'bad-format-spec.yaml': 'spec.jobs[0]: invalid format "{i:abc}"',
  'bad-memory-multiplier.yaml': 'spec.failure_handlers[0].rules[0].memory_multiplier',
  'bad-memory.yaml': 'spec.resource_requirements[0].memory: invalid memory size',
  'bad-metadata-name.yaml': 'metadata.name',
  'bad-parameter-mode.yaml': 'spec.jobs[0].parameter_mode',
  'bad-runtime.yaml': 'spec.resource_requirements[0].runtime: invalid ISO8601 duration',
  'bad-sort-method.yaml': 'spec.jobs_sort_method',
  'bad-walltime.yaml': 'spec.slurm_schedulers[0].walltime',
  'bare-no-name.yaml': 'spec.name',
  'conflicting-alias.yaml': 'spec.job_sort_method',
  'deep-nesting.yaml': 'nesting',
  'dependency-cycle.yaml': 'dependency cycle: ',
  'duplicate-file-names.yaml': 'spec.files[1].name: duplicate file name "f"',
  'duplicate-job-names.yaml': 'spec.jobs[1].name: duplicate job name "a"',
  'duplicate-key.yaml': 'duplicate key at line 2',
  'duplicate-resource-requirements.yaml': 'spec.resource_requirements[1].name',
  'duplicate-user-data-names.yaml': 'spec.user_data[1].name',
  'empty-jobs.yaml': 'spec.jobs: expected at least 1 item',
  'empty-parameter-list.yaml': 'spec.jobs[0].parameters.i',
  'failure-rule-without-codes.yaml': 'spec.failure_handlers[0].rules[0]',
  'file-cycle.yaml': 'dependency cycle: ',
  'invalid-regex.yaml': 'spec.jobs[1].depends_on_regexes[0]: invalid regex',
  'malformed.json': 'invalid JSON at line 2',
  'malformed.json5': 'invalid JSON5 at line 4, column 36',
  'malformed.kdl': 'KDL syntax error at line 4, column 24: Expected a value',
  'kdl-unknown-field.kdl': 'spec.jobs[0].resource_requirement: unknown field "resource_requirement"; did you mean "resource_requirements"? (line 4, column 5)',
  'kdl-undefined-job.kdl': 'spec.jobs[1].depends_on[0]: undefined job "prepp" (job "work"); did you mean "prep"? (line 7, column 20)',
  'missing-command.yaml': 'spec.jobs[1].command: required',
  'missing-jobs.yaml': 'spec.jobs: required',
  'missing-metadata.yaml': 'metadata: required',
  'negative-cpus.yaml': 'spec.resource_requirements[0].num_cpus',
  'not-a-mapping.yaml': 'expected a mapping',
  'regex-matches-nothing.yaml': 'spec.jobs[1].depends_on_regexes[0]: regex "^prep_" matches no other job',
  'rr-wrong-type.yaml': 'spec.jobs[3].resource_requirements: expected string',
  'second-document-broken.yaml': 'documents[1].spec.jobs[0].command',
  'self-dependency.yaml': 'spec.jobs[0].depends_on[0]',
  'slurm-defaults-managed.yaml': 'spec.slurm_defaults.partition',
  'string-instead-of-list.yaml': 'spec.jobs[1].depends_on: expected array',
  'too-many-jobs.yaml': 'spec.jobs[1]: the spec expands to more than 10000000 jobs',
  'undefined-depends-on.yaml': 'spec.jobs[1].depends_on[0]: undefined job "prepp"',
  'undefined-failure-handler.yaml': 'spec.jobs[0].failure_handler',
  'undefined-file-variable.yaml': 'spec.jobs[0].command: ${files.input.nope}',
  'undefined-input-file.yaml': 'spec.jobs[0].input_files[0]: undefined file "dta"; did you mean "data"?',
  'undefined-resource-requirements.yaml': 'spec.jobs[0].resource_requirements: undefined resource requirements "smal"; did you mean "small"?',
  'undefined-scheduler.yaml': 'spec.jobs[0].scheduler: undefined slurm scheduler "gpu_clustr"; did you mean "gpu_cluster"?',
  'undefined-user-data.yaml': 'spec.jobs[0].input_user_data[0]',
  'unknown-job-field.yaml': 'spec.jobs[0].resource_requirments: unknown field "resource_requirments"; did you mean "resource_requirements"?',
  'unknown-top-field.yaml': 'spec.jobz: unknown field "jobz"; did you mean "jobs"?',
  'unknown-use-parameters.yaml': 'spec.jobs[0].use_parameters[0]',
  'wrong-api-version.yaml': 'apiVersion: expected "torc.dev/v1alpha1"',
  'yaml-syntax-error.yaml': 'YAML syntax error at line 3',
  'zero-step-range.yaml': 'spec.jobs[0].parameters.i: invalid range "1:10:0"',
  'zip-length-mismatch.yaml': 'spec.jobs[0].parameter_mode',
};

test.before(() => {
  // `npm test` builds first; a lone `npx ava` run builds here if there is nothing to run.
  if (!existsSync('dist/cli/commands/validate.js')) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
});

async function validate(...files: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/torc.js', 'validate', ...files], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
  }
}

test('there are at least 30 bad fixtures and each has an expectation', (t) => {
  const files = readdirSync(BAD).sort();
  t.true(files.length >= 30);
  t.deepEqual(files, Object.keys(EXPECTED).sort());
});

test('every bad fixture is rejected by `torc validate` (exit 2), its message naming the file and the field', async (t) => {
  // One run over all fixtures (spawning one CLI per file costs minutes on this small shared
  // machine): exit 2 overall, and every file's own result is a rejection with the expected path.
  const files = Object.keys(EXPECTED).map((name) => join(BAD, name));
  const json = await validate('--format', 'json', ...files);
  t.is(json.code, 2);
  const results = JSON.parse(json.stdout) as { file: string; ok: boolean; errors: { path: string; message: string }[] }[];
  const failures: string[] = [];
  for (const r of results) {
    const expected = EXPECTED[r.file.slice(BAD.length + 1)]!;
    const lines = r.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
    if (r.ok || !lines.some((l) => l.includes(expected))) failures.push(`${r.file}: expected "${expected}" in ${JSON.stringify(lines)}`);
  }
  t.is(results.length, files.length);
  t.deepEqual(failures, []);
  // The human output names file and path on one line.
  const table = await validate(...files);
  t.is(table.code, 2);
  for (const [name, expected] of Object.entries(EXPECTED)) {
    const line = table.stderr.split('\n').find((l) => l.startsWith(`${join(BAD, name)}: `) && l.includes(expected));
    t.truthy(line, `${name}: "${expected}"`);
  }
});

test('a single bad file exits 2 on its own (syntax, size limit, reference)', async (t) => {
  for (const name of ['yaml-syntax-error.yaml', 'too-many-jobs.yaml', 'undefined-depends-on.yaml']) {
    const { code, stderr } = await validate(join(BAD, name));
    t.is(code, 2, name);
    t.true(stderr.includes(EXPECTED[name]!), stderr);
  }
});

test('validate lists the errors of every file in one run, and accepts the examples', async (t) => {
  const bad = await validate(join(BAD, 'bad-memory.yaml'), 'examples/diamond.yaml', join(BAD, 'missing-command.yaml'));
  t.is(bad.code, 2);
  t.true(bad.stderr.includes(`${join(BAD, 'bad-memory.yaml')}: spec.resource_requirements[0].memory`));
  t.true(bad.stderr.includes(`${join(BAD, 'missing-command.yaml')}: spec.jobs[1].command`));
  t.regex(bad.stdout, /examples\/diamond.yaml: ok/);
  t.regex(bad.stderr, /2 errors in 2 of 3 files/);
  const examples = readdirSync('examples').filter((f) => f.endsWith('.yaml')).map((f) => join('examples', f));
  const good = await validate(...examples);
  t.is(good.code, 0, good.stderr);
});

test('torc plan prints the summary as JSON, with the expanded jobs on request', async (t) => {
  const { stdout } = await run(process.execPath, ['bin/torc.js', 'plan', 'examples/diamond.yaml', '--format', 'json', '--jobs'], { timeout: 60_000 });
  const out = JSON.parse(stdout) as { jobs: number; depth: number; roots: number; leaves: number; expanded_jobs: { name: string; depends_on: string[] }[] };
  t.is(out.jobs, 4);
  t.is(out.depth, 3);
  t.is(out.roots, 1);
  t.is(out.leaves, 1);
  t.deepEqual(out.expanded_jobs.find((j) => j.name === 'postprocess')!.depends_on, ['work1', 'work2']);
  const table = await run(process.execPath, ['bin/torc.js', 'plan', 'examples/sweep.yaml'], { timeout: 60_000 });
  t.regex(table.stdout, /jobs: 101 +dependencies: 100 +depth: 2/);
});
