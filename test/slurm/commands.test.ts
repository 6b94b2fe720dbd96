/**
 * Parsing of Slurm's output, against output captured from the real Slurm 22.05 that
 * ../shared/slurm/start-slurm.sh starts (test/slurm/fixtures), through the injectable command
 * paths, and (when Slurm runs here) against the live commands.
 */
import test from 'ava';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SlurmCommandError,
  SlurmCommands,
  isEndedState,
  parseKeyValues,
  parseSbatchParsable,
  parseScontrolJobs,
  parseSlurmDate,
  parseSlurmDuration,
  parseSqueue,
} from '../../src/runners/slurm/commands.js';
import { slurmTest } from '../support/slurm.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixture = (name: string) => readFile(path.join(FIXTURES, name), 'utf8');

test('sbatch --parsable: plain id and id;cluster', (t) => {
  t.is(parseSbatchParsable('42\n'), '42');
  t.is(parseSbatchParsable('1234;torctest\n'), '1234');
  t.throws(() => parseSbatchParsable('sbatch: error: Batch job submission failed\n'), { message: /no job id/ });
});

test('squeue lines of every state seen on the test Slurm', async (t) => {
  const entries = parseSqueue(await fixture('squeue-mixed.txt'));
  const byId = new Map(entries.map((e) => [e.jobId, e]));
  t.deepEqual([...byId.keys()].sort(), ['1', '11', '12', '3', '4', '9']);
  t.is(byId.get('11')!.state, 'RUNNING');
  t.deepEqual(byId.get('11')!.endTime, new Date(2026, 10, 27, 9, 11, 41));
  t.is(byId.get('11')!.timeLeftSeconds, 59);
  t.is(byId.get('12')!.state, 'PENDING');
  t.is(byId.get('12')!.endTime, null, 'a pending job has no end time (N/A)');
  t.is(byId.get('12')!.reason, 'Resources');
  t.is(byId.get('9')!.state, 'TIMEOUT');
  t.is(byId.get('9')!.timeLeftSeconds, null, 'INVALID time left');
  t.is(byId.get('3')!.reason, 'NonZeroExitCode');
  for (const id of ['1', '3', '4', '9']) t.true(isEndedState(byId.get(id)!.state), id);
  for (const id of ['11', '12']) t.false(isEndedState(byId.get(id)!.state), id);
});

test('squeue node list (%N, last): what a job holds now; none while pending; older output without it', (t) => {
  // As printed on the 3-node test Slurm: a --no-kill allocation after vm-n3 went down.
  const [running, pending, old] = parseSqueue('2|RUNNING|2026-12-07T20:24:50|3:54|None|vm,vm-n2\n5|PENDING|N/A|5:00|Resources|\n7|RUNNING|N/A|1:00|None\n');
  t.is(running!.nodeList, 'vm,vm-n2');
  t.is(pending!.nodeList, null);
  t.is(old!.nodeList, null);
  t.is(old!.reason, 'None');
});

test('squeue time left with days', async (t) => {
  const [held] = parseSqueue(await fixture('squeue-held-days.txt'));
  t.is(held!.timeLeftSeconds, 86400 + 2 * 3600 + 4 * 60);
  t.is(held!.reason, 'JobHeldUser');
});

test('scontrol show job: running job, multi-line and one-line forms agree', async (t) => {
  const [multi] = parseScontrolJobs(await fixture('scontrol-running.txt'));
  const [one] = parseScontrolJobs(await fixture('scontrol-running-oneline.txt'));
  for (const job of [multi!, one!]) {
    t.is(job.jobId, '2');
    t.is(job.state, 'RUNNING');
    t.is(job.exitCode, 0);
    t.is(job.timeLimitSeconds, 120);
    t.is(job.nodeList, 'vm');
    t.is(job.numCpus, 2);
    t.is(job.fields.Command, '/tmp/slurmx/run.sh 30', 'values with spaces stay whole');
    t.is(job.fields.TRES, 'cpu=2,mem=100M,node=1,billing=2', "values with '=' stay whole");
    t.is(job.fields['NtasksPerN:B:S:C'], '2:0:*:*');
  }
  t.deepEqual(multi!.endTime, new Date(2026, 10, 27, 9, 9, 50));
});

test('scontrol show job: finished states and exit codes', async (t) => {
  const [failed] = parseScontrolJobs(await fixture('scontrol-failed.txt'));
  t.like(failed, { state: 'FAILED', reason: 'NonZeroExitCode', exitCode: 3, exitSignal: 0 });
  const [cancelled] = parseScontrolJobs(await fixture('scontrol-cancelled.txt'));
  t.like(cancelled, { state: 'CANCELLED', exitCode: 0, exitSignal: 15 });
  const [timeout] = parseScontrolJobs(await fixture('scontrol-timeout.txt'));
  t.like(timeout, { state: 'TIMEOUT', reason: 'TimeLimit' });
  const [done] = parseScontrolJobs(await fixture('scontrol-completed-gres.txt'));
  t.like(done, { state: 'COMPLETED', exitCode: 0 });
  t.is(done!.fields.TresPerNode, 'gres:gpu:1');
  const [spaces] = parseScontrolJobs(await fixture('scontrol-completed-spaces.txt'));
  t.is(spaces!.jobName, 'a b');
  const [pending] = parseScontrolJobs(await fixture('scontrol-pending.txt'));
  t.like(pending, { state: 'PENDING', reason: 'Resources', startTime: null, nodeList: null });
  for (const j of [failed!, cancelled!, timeout!, done!]) t.true(isEndedState(j.state));
  t.false(isEndedState(pending!.state));
});

test('scontrol show job: several records in one output', async (t) => {
  const text = [await fixture('scontrol-failed.txt'), await fixture('scontrol-cancelled.txt'), await fixture('scontrol-running-oneline.txt')].join('');
  t.deepEqual(parseScontrolJobs(text).map((j) => [j.jobId, j.state]), [['3', 'FAILED'], ['4', 'CANCELLED'], ['2', 'RUNNING']]);
});

test('key=value parsing keeps the first of repeated keys and trims values', (t) => {
  t.deepEqual(parseKeyValues('A=1 B=two words C=x=y A=2'), { A: '1', B: 'two words', C: 'x=y' });
});

test('Slurm times and durations', (t) => {
  t.is(parseSlurmDate('N/A'), null);
  t.is(parseSlurmDate('Unknown'), null);
  t.deepEqual(parseSlurmDate('2026-01-02T03:04:05'), new Date(2026, 0, 2, 3, 4, 5));
  t.is(parseSlurmDuration('0:59'), 59);
  t.is(parseSlurmDuration('1:00:00'), 3600);
  t.is(parseSlurmDuration('2-00:00:00'), 172800);
  t.is(parseSlurmDuration('UNLIMITED'), null);
  t.is(parseSlurmDuration('INVALID'), null);
  t.true(isEndedState('CANCELLED+'));
  t.false(isEndedState('COMPLETING'));
});

/** A fake Slurm command: prints a fixture (stdout, stderr, exit code) and records its argv. */
async function fakeCommand(dir: string, name: string, opts: { stdout?: string; stderr?: string; code?: number }): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(path.join(dir, `${name}.out`), opts.stdout ?? '');
  await writeFile(path.join(dir, `${name}.err`), opts.stderr ?? '');
  await writeFile(
    file,
    `#!/bin/bash\nprintf '%s\\n' "$@" > "${dir}/${name}.argv"\ncat "${dir}/${name}.out"\ncat "${dir}/${name}.err" >&2\nexit ${opts.code ?? 0}\n`,
  );
  await chmod(file, 0o755);
  return file;
}

test('injected commands: arguments passed and outputs parsed', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'torc-slurm-cmd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cmds = new SlurmCommands({
    paths: {
      sbatch: await fakeCommand(dir, 'sbatch', { stdout: '77;torctest\n' }),
      squeue: await fakeCommand(dir, 'squeue', { stdout: await fixture('squeue-mixed.txt') }),
      scontrol: await fakeCommand(dir, 'scontrol', { stdout: await fixture('scontrol-running-oneline.txt') }),
      scancel: await fakeCommand(dir, 'scancel', {}),
    },
  });
  t.is(await cmds.submit('/x/job.sh'), '77');
  t.deepEqual((await readFile(path.join(dir, 'sbatch.argv'), 'utf8')).trim().split('\n'), ['--parsable', '/x/job.sh']);
  const q = await cmds.queue(['11', '12']);
  t.is(q.get('11')!.state, 'RUNNING');
  t.deepEqual((await readFile(path.join(dir, 'squeue.argv'), 'utf8')).trim().split('\n'), ['-h', '-t', 'all', '-j', '11,12', '-o', '%i|%T|%e|%L|%r|%N']);
  t.is((await cmds.showJob('2'))!.state, 'RUNNING');
  await cmds.cancel('2');
  t.deepEqual((await readFile(path.join(dir, 'scancel.argv'), 'utf8')).trim().split('\n'), ['2']);
  t.deepEqual(await cmds.queue([]), new Map(), 'no ids, no call');
  await t.throwsAsync(cmds.cancel('-u root'), { message: /invalid Slurm job id/ });
});

test('injected commands: unknown ids are absent, real failures throw with the message', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'torc-slurm-cmd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const invalid = await fixture('squeue-invalid.stderr');
  const cmds = new SlurmCommands({
    paths: {
      squeue: await fakeCommand(dir, 'squeue', { stderr: invalid, code: 1 }),
      scontrol: await fakeCommand(dir, 'scontrol', { stderr: await fixture('scontrol-invalid.stderr'), code: 1 }),
      sbatch: await fakeCommand(dir, 'sbatch', { stderr: 'sbatch: error: invalid partition specified: nope\n', code: 1 }),
      sinfo: path.join(dir, 'no-such-sinfo'),
    },
  });
  t.deepEqual(await cmds.queue(['99998']), new Map());
  t.is(await cmds.showJob('99998'), null);
  const err = await t.throwsAsync(cmds.submit('/x/job.sh'), { instanceOf: SlurmCommandError });
  t.regex(err!.message, /invalid partition specified: nope/);
  t.is(err!.exitCode, 1);
  t.false(await cmds.isResponsive(), 'a missing sinfo means no Slurm');
});

const slurm = slurmTest('test/slurm/commands.test.ts');

slurm('live Slurm: submit, see it in squeue and scontrol, cancel, see it ended', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'torc-slurm-live-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'sleep.sh');
  await writeFile(script, `#!/bin/bash\n#SBATCH --time=00:02:00\n#SBATCH --mem=10M\n#SBATCH --output=${dir}/o_%j.txt\nsleep 60\n`);
  const cmds = new SlurmCommands();
  t.true(await cmds.isResponsive());
  const id = await cmds.submit(script);
  t.regex(id, /^\d+$/);
  const entry = (await cmds.queue([id])).get(id);
  t.truthy(entry, 'squeue knows the new job');
  t.false(isEndedState(entry!.state));
  const job = await cmds.showJob(id);
  t.is(job!.jobId, id);
  t.is(job!.timeLimitSeconds, 120);
  await cmds.cancel(id);
  const deadline = Date.now() + 60_000;
  let state = '';
  while (Date.now() < deadline) {
    state = (await cmds.showJob(id))!.state;
    if (isEndedState(state)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  t.is(state, 'CANCELLED');
  t.is((await cmds.queue([id])).get(id)!.state, 'CANCELLED', 'squeue -t all still lists the finished job');
  t.is(await cmds.showJob('4000000000'), null, 'an id Slurm never had');
});
