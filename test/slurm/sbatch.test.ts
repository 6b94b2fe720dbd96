import test from 'ava';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../src/errors.js';
import type { PlanSlurmScheduler } from '../../src/spec/plan.js';
import { extraArgs, renderSbatchScript, sbatchDirectives, shellQuote, type SbatchScriptInput } from '../../src/runners/slurm/sbatch.js';

function scheduler(over: Partial<PlanSlurmScheduler> = {}): PlanSlurmScheduler {
  return {
    name: 'cpu',
    account: null,
    partition: null,
    nodes: 1,
    walltime: '01:00:00',
    mem: null,
    gres: null,
    qos: null,
    ntasks_per_node: null,
    tmp: null,
    extra: null,
    ...over,
  };
}

function input(over: Partial<SbatchScriptInput> = {}): SbatchScriptInput {
  return {
    scheduler: scheduler(),
    workflowId: 7,
    url: 'http://127.0.0.1:8080/torc-service/v1',
    schedulerConfigId: 3,
    outputDir: '/scratch/out',
    torcCommand: ['/usr/bin/node', '/opt/torc/bin/torc.js'],
    ...over,
  };
}

/** The `#SBATCH` lines of a script, without the prefix. */
function directives(script: string): string[] {
  return script.split('\n').filter((l) => l.startsWith('#SBATCH ')).map((l) => l.slice('#SBATCH '.length));
}

function throwsOn(t: import('ava').ExecutionContext, fn: () => unknown, field: string): void {
  const err = t.throws(fn, { instanceOf: InputError });
  t.is(err?.field, field, `error should name ${field}: ${err?.message}`);
}

test('minimal scheduler: job name, nodes, walltime and output files only', (t) => {
  const d = directives(renderSbatchScript(input()));
  t.deepEqual(d, [
    '--job-name=torc_wf7_cpu',
    '--nodes=1',
    '--time=01:00:00',
    '--output=/scratch/out/slurm_%j.o',
    '--error=/scratch/out/slurm_%j.e',
  ]);
});

test('account', (t) => {
  t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ account: 'proj-42' }) }))).includes('--account=proj-42'));
  throwsOn(t, () => sbatchDirectives(scheduler({ account: 'a b' }), 's'), 's.account');
  throwsOn(t, () => sbatchDirectives(scheduler({ account: 'x\n#SBATCH --uid=0' }), 's'), 's.account');
});

test('partition, single and list', (t) => {
  t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ partition: 'gpu' }) }))).includes('--partition=gpu'));
  t.deepEqual(sbatchDirectives(scheduler({ partition: 'short,standard' }))[1], ['--partition=short,standard']);
  throwsOn(t, () => sbatchDirectives(scheduler({ partition: 'gpu;rm -rf /' }), 's'), 's.partition');
});

test('nodes', (t) => {
  t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ nodes: 4 }) }))).includes('--nodes=4'));
  throwsOn(t, () => sbatchDirectives(scheduler({ nodes: 0 }), 's'), 's.nodes');
  throwsOn(t, () => sbatchDirectives(scheduler({ nodes: 1.5 }), 's'), 's.nodes');
});

test('walltime in each Slurm form, bad ones refused', (t) => {
  for (const w of ['30', '30:00', '04:00:00', '2-00:00:00', '1-12']) {
    t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ walltime: w }) }))).includes(`--time=${w}`), w);
  }
  throwsOn(t, () => sbatchDirectives(scheduler({ walltime: 'one hour' }), 's'), 's.walltime');
  throwsOn(t, () => sbatchDirectives(scheduler({ walltime: 'UNLIMITED' }), 's'), 's.walltime');
});

test('mem', (t) => {
  t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ mem: '180G' }) }))).includes('--mem=180G'));
  t.true(sbatchDirectives(scheduler({ mem: '4096' })).some((a) => a[0] === '--mem=4096'));
  throwsOn(t, () => sbatchDirectives(scheduler({ mem: '4 GB' }), 's'), 's.mem');
});

test('gres', (t) => {
  t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ gres: 'gpu:1' }) }))).includes('--gres=gpu:1'));
  t.true(sbatchDirectives(scheduler({ gres: 'gpu:a100:2,nvme:1' })).some((a) => a[0] === '--gres=gpu:a100:2,nvme:1'));
  throwsOn(t, () => sbatchDirectives(scheduler({ gres: 'gpu:1 $(id)' }), 's'), 's.gres');
});

test('qos', (t) => {
  t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ qos: 'high' }) }))).includes('--qos=high'));
  throwsOn(t, () => sbatchDirectives(scheduler({ qos: '`id`' }), 's'), 's.qos');
});

test('ntasks_per_node', (t) => {
  t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ ntasks_per_node: 36 }) }))).includes('--ntasks-per-node=36'));
  throwsOn(t, () => sbatchDirectives(scheduler({ ntasks_per_node: -1 }), 's'), 's.ntasks_per_node');
});

test('tmp', (t) => {
  t.true(directives(renderSbatchScript(input({ scheduler: scheduler({ tmp: '1T' }) }))).includes('--tmp=1T'));
  throwsOn(t, () => sbatchDirectives(scheduler({ tmp: 'lots' }), 's'), 's.tmp');
});

test('extra: options split like a shell, quoted values kept together', (t) => {
  const d = directives(renderSbatchScript(input({ scheduler: scheduler({ extra: `--exclusive --constraint=lustre --comment="two words"` }) })));
  t.true(d.includes('--exclusive --constraint=lustre "--comment=two words"'), d.join('\n'));
  t.deepEqual(extraArgs("--constraint='a|b' --exclusive"), ['--constraint=a|b', '--exclusive']);
  throwsOn(t, () => extraArgs("-C 'a|b'", 'e'), 'e');
  t.deepEqual(sbatchDirectives(scheduler({ extra: '   ' })).length, 3, 'blank extra adds nothing');
});

test('extra: bare words, newlines, unbalanced quotes and embedded quotes are refused', (t) => {
  throwsOn(t, () => sbatchDirectives(scheduler({ extra: '--exclusive other.sh' }), 's'), 's.extra');
  throwsOn(t, () => sbatchDirectives(scheduler({ extra: '--exclusive\nrm -rf ~' }), 's'), 's.extra');
  throwsOn(t, () => sbatchDirectives(scheduler({ extra: '--comment="open' }), 's'), 's.extra');
  throwsOn(t, () => sbatchDirectives(scheduler({ extra: `--comment="it's"` }), 's'), 's.extra');
});

test('every field at once, in a stable order', (t) => {
  const s = scheduler({
    name: 'gpu nodes',
    account: 'acct',
    partition: 'gpu',
    nodes: 2,
    walltime: '00:30:00',
    mem: '64G',
    gres: 'gpu:2',
    qos: 'normal',
    ntasks_per_node: 4,
    tmp: '10G',
    extra: '--exclusive',
  });
  t.deepEqual(sbatchDirectives(s, 'x', 1), [
    ['--job-name=torc_wf1_gpu_nodes'],
    ['--account=acct'],
    ['--partition=gpu'],
    ['--nodes=2'],
    ['--time=00:30:00'],
    ['--mem=64G'],
    ['--gres=gpu:2'],
    ['--qos=normal'],
    ['--ntasks-per-node=4'],
    ['--tmp=10G'],
    ['--exclusive'],
  ]);
});

test('output dir with spaces is double-quoted for sbatch; quotes, % and newlines are refused', (t) => {
  const d = directives(renderSbatchScript(input({ outputDir: '/data/my runs/' })));
  t.true(d.includes('"--output=/data/my runs/slurm_%j.o"'));
  throwsOn(t, () => renderSbatchScript(input({ outputDir: '/data/"x' })), '--output-dir');
  throwsOn(t, () => renderSbatchScript(input({ outputDir: '/data/100%' })), '--output-dir');
  throwsOn(t, () => renderSbatchScript(input({ outputDir: '/data\n/x' })), '--output-dir');
});

test('worker line: exec of torc worker with url, scheduler id, output dir and max parallel jobs', (t) => {
  const script = renderSbatchScript(input({ maxParallelJobs: 8 }));
  const body = script.split('\n').filter((l) => l && !l.startsWith('#'));
  t.deepEqual(body, [
    'exec /usr/bin/node /opt/torc/bin/torc.js worker 7 --url http://127.0.0.1:8080/torc-service/v1 --scheduler-config-id 3 --output-dir /scratch/out --max-parallel-jobs 8',
  ]);
  t.false(renderSbatchScript(input()).includes('--max-parallel-jobs'));
  t.regex(renderSbatchScript(input({ tokenFile: '/home/u/.torc token' })), / --token-file '\/home\/u\/\.torc token'$/m);
  t.regex(renderSbatchScript(input({ tokenFile: '/t', caFile: '/etc/torc/ca.pem' })), / --token-file \/t --ca-file \/etc\/torc\/ca\.pem$/m);
  t.false(renderSbatchScript(input()).includes('--ca-file'));
  throwsOn(t, () => renderSbatchScript(input({ maxParallelJobs: 0 })), '--max-parallel-jobs');
  throwsOn(t, () => renderSbatchScript(input({ url: 'ftp://x' })), '--url');
  throwsOn(t, () => renderSbatchScript(input({ schedulerConfigId: -1 })), '--scheduler-config-id');
});

test('one worker per node: one srun step per node (a failed node ends only its own), and the allocation survives a node failure (--no-kill)', (t) => {
  const script = renderSbatchScript(input({ startOneWorkerPerNode: true, scheduler: scheduler({ nodes: 3 }) }));
  const body = script.split('\n').filter((l) => l && !l.startsWith('#'));
  t.is(body[0], 'for node in $(scontrol show hostnames "$SLURM_JOB_NODELIST"); do');
  t.regex(body[1]!, /^ {2}srun --nodes=1 --ntasks=1 --nodelist="\$node" --cpus-per-task="\$SLURM_CPUS_ON_NODE" --mem=0 --no-kill /);
  t.regex(body[1]!, / worker 7 --url .* &$/);
  t.deepEqual(body.slice(2), ['done', 'wait']);
  t.regex(script, /^#SBATCH --no-kill$/m);
  // One node: nothing to survive; one worker in a step all the same.
  t.notRegex(renderSbatchScript(input({ startOneWorkerPerNode: true, scheduler: scheduler({ nodes: 1 }) })), /--no-kill$/m);
  t.notRegex(renderSbatchScript(input({ scheduler: scheduler({ nodes: 3 }) })), /--no-kill/);
});

test('--chdir: the jobs run in the given working directory (absolute, checked like the output dir)', (t) => {
  t.regex(renderSbatchScript(input({ workingDir: '/home/u/project' })), /^#SBATCH --chdir=\/home\/u\/project$/m);
  t.regex(renderSbatchScript(input({ workingDir: '/home/u/my project' })), /^#SBATCH "--chdir=\/home\/u\/my project"$/m);
  t.notRegex(renderSbatchScript(input()), /--chdir/);
  throwsOn(t, () => renderSbatchScript(input({ workingDir: 'relative/dir' })), '--chdir');
  throwsOn(t, () => renderSbatchScript(input({ workingDir: '/a%j' })), '--chdir');
  throwsOn(t, () => renderSbatchScript(input({ workingDir: '/a\nb' })), '--chdir');
});

test('shellQuote round-trips hostile strings through bash', async (t) => {
  const hostile = [`a'b`, '$(touch /tmp/pwned)', '`id`', 'x; rm -rf /', 'a b\tc', '"q"', '\\', '', '-n', '*'];
  const out = await new Promise<string>((resolve, reject) =>
    execFile('bash', ['-c', `printf '%s\\0' ${hostile.map(shellQuote).join(' ')}`], (e, so) => (e ? reject(e) : resolve(so))),
  );
  t.deepEqual(out.split('\0').slice(0, -1), hostile);
});

test('the rendered script passes hostile values to the worker verbatim when bash runs it', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'torc-sbatch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // A stand-in for torc that records its argv and environment.
  const fake = path.join(dir, 'fake torc');
  await writeFile(fake, `#!/bin/bash\nprintf '%s\\0' "$@" > "${dir}/argv"\nprintf '%s' "$TORC_TOKEN" > "${dir}/env"\n`);
  await chmod(fake, 0o755);
  const outputDir = path.join(dir, "out $(touch pwned) 'x'");
  const script = renderSbatchScript(
    input({ outputDir, torcCommand: [fake], url: 'http://h:1/a?b=$(id)&c=`id`', env: { TORC_TOKEN: `t'o"k$HOME` } }),
  );
  const file = path.join(dir, 'job.sh');
  await writeFile(file, script);
  await new Promise<void>((resolve, reject) => execFile('bash', [file], { cwd: dir }, (e) => (e ? reject(e) : resolve())));
  const argv = (await readFile(path.join(dir, 'argv'), 'utf8')).split('\0').slice(0, -1);
  t.deepEqual(argv, ['worker', '7', '--url', 'http://h:1/a?b=$(id)&c=`id`', '--scheduler-config-id', '3', '--output-dir', outputDir]);
  t.is(await readFile(path.join(dir, 'env'), 'utf8'), `t'o"k$HOME`);
  await t.throwsAsync(readFile(path.join(dir, 'pwned')), undefined, 'nothing was executed from a value');
});

test('environment names are checked', (t) => {
  throwsOn(t, () => renderSbatchScript(input({ env: { 'A=B; id': 'x' } })), 'env');
});
