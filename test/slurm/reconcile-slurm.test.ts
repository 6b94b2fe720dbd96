/**
 * `torc reconcile FILE --runner slurm` on the real test Slurm: the reconciler's Slurm dispatch
 * submits allocations per scheduler, their workers claim over the reconcile's REST API, and the
 * reconcile ends when every job is done. Skipped, loudly, without Slurm.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTorc } from '../support/cli.js';
import { slurmApiHost, slurmTest } from '../support/slurm.js';

const slurm = slurmTest('test/slurm/reconcile-slurm.test.ts');

slurm('reconcile --runner slurm runs each job in an allocation of its own scheduler', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-reconcile-slurm-'));
  const seen = join(dir, 'seen');
  mkdirSync(seen);
  const record = `echo "$SLURM_JOB_ID" > ${seen}/$TORC_JOB_ID`;
  writeFileSync(
    join(dir, 'wf.yaml'),
    [
      'name: on-slurm',
      // Small memory requests so both allocations fit the one test node side by side; idle
      // workers leave quickly.
      'compute_node_wait_for_new_jobs_seconds: 5',
      'slurm_schedulers:',
      '  - {name: cpu, walltime: "00:05:00", nodes: 1, mem: 200M}',
      '  - {name: gpu, walltime: "00:05:00", nodes: 1, mem: 200M, gres: "gpu:1"}',
      'resource_requirements:',
      '  - {name: one, num_cpus: 1, memory: 10m, runtime: PT1M}',
      '  - {name: gpu1, num_cpus: 1, num_gpus: 1, memory: 10m, runtime: PT1M}',
      'jobs:',
      `  - {name: "c{i}", command: ${JSON.stringify(record)}, resource_requirements: one, scheduler: cpu, parameters: {i: "1:4"}}`,
      `  - {name: "g{i}", command: ${JSON.stringify(record)}, resource_requirements: gpu1, scheduler: gpu, parameters: {i: "1:2"}}`,
      '',
    ].join('\n'),
  );
  // Its REST API where the allocations' workers reach it, on whichever node they run.
  const res = await runTorc(['reconcile', 'wf.yaml', '--runner', 'slurm', '--host', slurmApiHost(), '--max-allocations', '1', '--format', 'json', '--poll-interval', '1'], {
    cwd: dir,
    timeoutMs: 240_000,
  });
  t.is(res.code, 0, res.stderr);
  t.regex(res.stderr, /submitted Slurm allocation/);
  const [summary] = JSON.parse(res.stdout) as { phase: string; counts: Record<string, number> }[];
  t.is(summary!.phase, 'Succeeded');
  const files = readdirSync(seen);
  t.is(files.length, 6);
  const ids = files.map((f) => readFileSync(join(seen, f), 'utf8').trim());
  for (const id of ids) t.regex(id, /^\d+$/, 'every job ran inside an allocation');
  t.true(new Set(ids).size >= 2, 'the two schedulers got allocations of their own');
});

// Without slurm_schedulers reconcile --runner slurm generates them: test/slurm/generate.test.ts.
slurm('reconcile --runner refuses an unknown runner, naming the flag', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'torc-reconcile-slurm-'));
  writeFileSync(join(dir, 'wf.yaml'), 'name: plain\njobs:\n  - {name: a, command: "true"}\n');
  const other = await runTorc(['reconcile', 'wf.yaml', '--runner', 'pbs'], { cwd: dir });
  t.is(other.code, 2);
  t.regex(other.stderr, /--runner/);
});

slurm('working_dir: the jobs of reconcile --runner slurm run there (sbatch --chdir), a relative one beside the spec file, wherever reconcile runs', async (t) => {
  t.timeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), 'torc-reconcile-slurm-wd-'));
  mkdirSync(join(dir, 'spec', 'run'), { recursive: true });
  mkdirSync(join(dir, 'elsewhere'));
  writeFileSync(
    join(dir, 'spec', 'wf.yaml'),
    [
      'name: slurm-working-dir',
      'working_dir: run',
      'compute_node_wait_for_new_jobs_seconds: 3',
      'slurm_schedulers:',
      '  - {name: cpu, walltime: "00:05:00", nodes: 1, mem: 200M}',
      'resource_requirements:',
      '  - {name: one, num_cpus: 1, memory: 10m, runtime: PT1M}',
      'files:',
      '  - {name: out, path: out.txt}',
      'jobs:',
      '  - {name: a, command: "echo $SLURM_JOB_ID $(pwd) > ${files.output.out}", resource_requirements: one, scheduler: cpu}',
      '',
    ].join('\n'),
  );
  const res = await runTorc(['reconcile', '../spec/wf.yaml', '--runner', 'slurm', '--host', slurmApiHost(), '--poll-interval', '1'], { cwd: join(dir, 'elsewhere'), timeoutMs: 200_000 });
  t.is(res.code, 0, res.stderr);
  const [slurmJobId, pwd] = readFileSync(join(dir, 'spec', 'run', 'out.txt'), 'utf8').trim().split(' ');
  t.regex(slurmJobId!, /^\d+$/, 'the job ran inside an allocation');
  t.is(pwd, join(dir, 'spec', 'run'));
  t.false(existsSync(join(dir, 'elsewhere', 'out.txt')), 'nothing of the jobs where reconcile ran');
  const script = readdirSync(join(dir, 'elsewhere', 'torc_output')).find((f) => f.startsWith('sbatch_'))!;
  t.regex(readFileSync(join(dir, 'elsewhere', 'torc_output', script), 'utf8'), new RegExp(`^#SBATCH --chdir=${join(dir, 'spec', 'run')}$`, 'm'));
});
