/**
 * The spec's working_dir: local jobs of `torc reconcile` run there and their relative file
 * paths mean paths there; a relative working_dir is beside the spec file (a spec given as text
 * keeps it relative, for the runner to resolve); a missing one is refused naming the field;
 * Kubernetes pods get it as their workingDir. The Slurm runner's --chdir: test/slurm/reconcile-slurm.test.ts.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWorkflowFile, loadWorkflowText, planDocument, workingDirectory } from '../../src/spec/index.js';
import { podWorkingDir } from '../../src/runners/k8s/pods.js';
import { runTorc } from '../support/cli.js';

const SPEC = (workingDir: string) =>
  [
    'name: wd',
    `working_dir: ${workingDir}`,
    'files:',
    '  - {name: input, path: in.txt}',
    '  - {name: output, path: out.txt}',
    'jobs:',
    '  - {name: a, command: "cat ${files.input.input} > ${files.output.output}; pwd >> ${files.output.output}"}',
    '',
  ].join('\n');

test('reconcile runs local jobs in working_dir: relative to the spec file, not where reconcile runs; required input files are looked for there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-wd-'));
  mkdirSync(join(dir, 'project', 'run'), { recursive: true });
  mkdirSync(join(dir, 'elsewhere'));
  writeFileSync(join(dir, 'project', 'wf.yaml'), SPEC('run'));
  writeFileSync(join(dir, 'project', 'run', 'in.txt'), 'hello\n');
  const res = await runTorc(['reconcile', '../project/wf.yaml'], { cwd: join(dir, 'elsewhere') });
  t.is(res.code, 0, res.stderr);
  t.is(readFileSync(join(dir, 'project', 'run', 'out.txt'), 'utf8'), `hello\n${join(dir, 'project', 'run')}\n`);
  t.false(existsSync(join(dir, 'elsewhere', 'out.txt')));
});

test('a working_dir that does not exist is refused naming spec.working_dir; so are control characters', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-wd-'));
  writeFileSync(join(dir, 'wf.yaml'), SPEC(join(dir, 'nope')));
  writeFileSync(join(dir, 'nope'), 'a file, not a directory');
  const res = await runTorc(['reconcile', 'wf.yaml', '--force'], { cwd: dir });
  t.is(res.code, 2, res.stderr);
  t.regex(res.stderr, /spec\.working_dir: .*nope is not a directory/);
  t.throws(() => planDocument(loadWorkflowText('name: x\nworking_dir: "a\\nb"\njobs:\n  - {name: a, command: "true"}\n')[0]!), { message: /working_dir.*control characters/ });
});

test('working_dir: absolute from a file spec, relative kept for a text spec (resolved by the runner); Kubernetes workingDir', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-wd-'));
  writeFileSync(join(dir, 'wf.yaml'), SPEC('sub/dir'));
  const fromFile = planDocument(loadWorkflowFile(join(dir, 'wf.yaml'))[0]!);
  t.is(fromFile.settings.working_dir, join(dir, 'sub', 'dir'));
  const fromText = planDocument(loadWorkflowText(SPEC('sub/dir'))[0]!);
  t.is(fromText.settings.working_dir, 'sub/dir');
  t.is(workingDirectory(fromText.settings, '/base'), '/base/sub/dir');
  t.is(workingDirectory({ working_dir: null }, '/base'), '/base');
  t.is(planDocument(loadWorkflowText('name: x\njobs:\n  - {name: a, command: "true"}\n')[0]!).settings.working_dir, null);

  const volume = { claimName: 'work', mountPath: '/work' };
  t.is(podWorkingDir('/data/run', volume), '/data/run');
  t.is(podWorkingDir('run', volume), '/work/run');
  t.is(podWorkingDir(null, volume), '/work');
  t.is(podWorkingDir(null, null), null);
  t.throws(() => podWorkingDir('run', null), { message: /spec\.working_dir|relative/ });
});
