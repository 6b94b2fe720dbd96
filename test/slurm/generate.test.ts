/**
 * Generated schedulers: `torc slurm generate` from an HPC profile (a user profile file, the
 * built-in data files) and from the running test cluster (`--detect`, with partitions this
 * test creates), `torc hpc list|detect|show`, and the generate → reconcile path on the real
 * Slurm. The real-Slurm tests are skipped, loudly, without Slurm.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { generateSchedulers, type ClassDemand } from '../../src/runners/slurm/generate.js';
import { detectClusterPartitions, gpusOf, parseProfile, slurmMemoryMb, type HpcPartition } from '../../src/runners/slurm/profiles.js';
import { parseKeyValues, parseQosLimits } from '../../src/runners/slurm/commands.js';
import { DEFAULT_NEED } from '../../src/spec/index.js';
import { runTorc } from '../support/cli.js';
import { multiNodeSlurmTest, slurmApiHost, slurmTest } from '../support/slurm.js';

const execFileP = promisify(execFile);
const slurm = slurmTest('test/slurm/generate.test.ts');
// Its partitions name the 3 nodes of the multi-node test cluster.
const threeNodes = await multiNodeSlurmTest('test/slurm/generate.test.ts', 3);
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const PROFILE = `
name: testhpc
display_name: Test HPC
detect: {env: {TORC_TEST_CLUSTER: testhpc}}
partitions:
  - {name: short, cpus_per_node: 32, memory: 128g, max_walltime: "04:00:00", max_nodes: 100}
  - {name: long, cpus_per_node: 32, memory: 128g, max_walltime: "2-00:00:00", max_nodes: 100}
  - {name: bigmem, cpus_per_node: 32, memory: 2t, max_walltime: "2-00:00:00", max_nodes: 4}
  - {name: gpu, cpus_per_node: 64, memory: 256g, max_walltime: "2-00:00:00", max_nodes: 10, gpus_per_node: 4}
  - {name: debug, cpus_per_node: 32, memory: 128g, max_walltime: "01:00:00", max_nodes: 2, explicit: true}
`;

function partitions(): HpcPartition[] {
  return parseProfile(parseYaml(PROFILE), 'testhpc.yaml').partitions;
}

const need = (over: Partial<typeof DEFAULT_NEED>) => ({ ...DEFAULT_NEED, ...over });

test('each class gets the smallest partition that fits: GPU class to the GPU partition, big memory to bigmem, long runtime to long', (t) => {
  const demands: ClassDemand[] = [
    { name: 'small', need: need({ num_cpus: 2, memory_bytes: 4 * GIB, runtime_seconds: 1800 }), jobs: 40 },
    { name: 'gpu', need: need({ num_cpus: 8, memory_bytes: 32 * GIB, num_gpus: 1, runtime_seconds: 3600 }), jobs: 6 },
    { name: 'huge', need: need({ num_cpus: 16, memory_bytes: 1024 * GIB, runtime_seconds: 3600 }), jobs: 1 },
    { name: 'slow', need: need({ num_cpus: 1, memory_bytes: GIB, runtime_seconds: 10 * 3600 }), jobs: 3 },
    { name: 'mpi', need: need({ num_cpus: 32, memory_bytes: 64 * GIB, num_nodes: 4, runtime_seconds: 3600 }), jobs: 2 },
  ];
  const out = generateSchedulers(demands, partitions(), { account: 'proj', bufferSeconds: 60 });
  const by = new Map(out.map((g) => [g.class_name, g]));
  t.is(by.get('small')!.scheduler.partition, 'short', 'no GPUs, least memory, shortest walltime that fits');
  t.is(by.get('gpu')!.scheduler.partition, 'gpu');
  t.is(by.get('huge')!.scheduler.partition, 'bigmem');
  t.is(by.get('slow')!.scheduler.partition, 'long', 'a 10-hour job does not fit short (4 h)');
  t.is(by.get('mpi')!.scheduler.nodes, 4, 'num_nodes: 4 gets 4 whole nodes');

  // Packing: 16 two-CPU jobs per 32-CPU node; 40 jobs = 3 waves of 30 min + buffer (1 min) + start-up slack (5 min).
  t.like(by.get('small')!, { jobs_per_node: 16, scheduler: { ntasks_per_node: 32, mem: `${64 * 1024}M`, walltime: '01:36:00', account: 'proj', gres: null } });
  // 4 one-GPU jobs per 4-GPU node (64 CPUs / 8 = 8, 256g / 32g = 8, 4 GPUs / 1 = 4).
  t.like(by.get('gpu')!, { jobs_per_node: 4, scheduler: { gres: 'gpu:4', ntasks_per_node: 32 } });
  // Within the partition's limit however many waves there are.
  const many = generateSchedulers([{ name: 'many', need: need({ num_cpus: 32, memory_bytes: GIB, runtime_seconds: 3 * 3600 }), jobs: 50 }], partitions());
  t.is(many[0]!.scheduler.partition, 'short');
  t.is(many[0]!.scheduler.walltime, '04:00:00');
});

test('no partition fits: an error naming the class; explicit-only partitions are never picked', (t) => {
  const err = t.throws(() => generateSchedulers([{ name: 'giant', need: need({ num_cpus: 500 }), jobs: 1 }], partitions()));
  t.regex(err!.message, /resource_requirements\["giant"\]/);
  t.regex(err!.message, /500 CPU/);
  const onlyDebug = partitions().filter((p) => p.name === 'debug');
  t.throws(() => generateSchedulers([{ name: 'x', need: need({}), jobs: 1 }], onlyDebug), { message: /debug \(explicit only\)/ });
});

test('profiles: errors name the file and field; gres strings count GPUs', (t) => {
  t.throws(() => parseProfile({ name: 'x', partitions: [{ name: 'p', cpus_per_node: 0, memory: '1g' }] }, 'x.yaml'), { message: /x\.yaml: partitions\[0\]\.cpus_per_node/ });
  t.throws(() => parseProfile({ name: 'x', partitions: [{ name: 'p', cpus_per_node: 4, memory: 'lots' }] }, 'x.yaml'), { message: /partitions\[0\]\.memory/ });
  t.throws(() => parseProfile({ name: 'x', partitions: [] }, 'x.yaml'), { message: /x\.yaml: partitions/ });
  t.throws(() => parseProfile({ name: 'x', detect: { hostname: '(' }, partitions: [{ name: 'p', cpus_per_node: 1, memory: '1g' }] }, 'x.yaml'), { message: /detect\.hostname/ });
  t.is(gpusOf('gpu:2'), 2);
  t.is(gpusOf('gpu:a100:4(S:0-1),nvme:1'), 4);
  t.is(gpusOf('(null)'), 0);
});

test('detect: partitions over the same nodes differ by their limits (MaxMemPerNode, MaxMemPerCPU, MaxCPUsPerNode, MaxTime, their QOS); without accounting the QOS is not read', async (t) => {
  const line = (name: string, extra: string) =>
    parseKeyValues(`PartitionName=${name} ${extra} Hidden=NO RootOnly=NO State=UP MaxNodes=UNLIMITED MinNodes=0 MaxCPUsPerNode=UNLIMITED MaxMemPerNode=UNLIMITED MaxTime=UNLIMITED QoS=N/A`);
  const limits = [
    line('all', ''),
    line('gpu', 'MaxTime=02:00:00'),
    line('short', 'MaxMemPerNode=2000 MaxTime=00:30:00 QoS=nogpu'),
    line('percpu', 'MaxMemPerCPU=1000 MaxCPUsPerNode=4 QoS=small'),
  ];
  const shapes = limits.map((l) => ({ partition: l.PartitionName!, cpus: 8, memoryMb: 19284, gres: 'gpu:2', nodes: 3 }));
  const asked: string[][] = [];
  const commands = (accounting: boolean) => ({
    partitions: async () => ({ limits, shapes }),
    qosLimits: async (names: readonly string[]) => {
      asked.push([...names]);
      return accounting ? new Map(parseQosLimits('nogpu|gres/gpu=0||\nsmall|cpu=2|mem=1500M,node=1|00:20:00\n').map((q) => [q.name, q])) : null;
    },
  });
  const by = new Map((await detectClusterPartitions(commands(true))).partitions.map((p) => [p.name, p]));
  t.deepEqual(asked, [['nogpu', 'small']], 'each QOS asked for once');
  t.like(by.get('all'), { cpus_per_node: 8, memory_bytes: 19284 * MIB, gpus_per_node: 2, max_walltime_seconds: null, max_nodes: 3 });
  t.like(by.get('gpu'), { gpus_per_node: 2, max_walltime_seconds: 7200 });
  t.like(by.get('short'), { gpus_per_node: 0, memory_bytes: 2000 * MIB, max_walltime_seconds: 1800 });
  // QOS cpu=2 per node; MaxMemPerCPU 1000 × 2 CPUs = 2000M, QOS mem=1500M per job; node=1; MaxWall 20 min.
  t.like(by.get('percpu'), { cpus_per_node: 2, memory_bytes: 1500 * MIB, gpus_per_node: 2, max_nodes: 1, max_walltime_seconds: 1200 });
  const without = new Map((await detectClusterPartitions(commands(false))).partitions.map((p) => [p.name, p]));
  t.like(without.get('short'), { gpus_per_node: 2, memory_bytes: 2000 * MIB }, 'no accounting: the partition limits only');
  t.is(slurmMemoryMb('4G'), 4096);
  t.is(slurmMemoryMb('2000'), 2000);
  t.is(slurmMemoryMb(undefined), null);
});

test('torc hpc list / detect / show and slurm generate --profile with a user profile; the output is a valid workflow', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'torc-hpc-'));
  mkdirSync(path.join(dir, 'profiles'));
  writeFileSync(path.join(dir, 'profiles', 'testhpc.yaml'), PROFILE);
  const env = { TORC_HPC_PROFILES: path.join(dir, 'profiles'), TORC_TEST_CLUSTER: 'testhpc' };
  const list = await runTorc(['hpc', 'list', '--format', 'json'], { env });
  t.is(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { name: string; detected: boolean; source: string }[];
  t.like(rows.find((r) => r.name === 'testhpc'), { detected: true });
  t.like(rows.find((r) => r.name === 'kestrel'), { detected: false, source: 'built-in' });
  const detect = await runTorc(['hpc', 'detect'], { env });
  t.is(detect.code, 0);
  t.regex(detect.stdout, /^testhpc \(Test HPC\)$/m);
  const show = await runTorc(['hpc', 'show', 'kestrel'], { env });
  t.regex(show.stdout, /gpu-h100/);
  t.regex(show.stdout, /NREL_CLUSTER=kestrel/);
  const unknown = await runTorc(['hpc', 'show', 'nope'], { env });
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown HPC profile "nope".*kestrel/);

  writeFileSync(
    path.join(dir, 'wf.yaml'),
    [
      'name: gen',
      'resource_requirements:',
      '  - {name: small, num_cpus: 2, memory: 4g, runtime: PT30M}',
      '  - {name: gpu, num_cpus: 8, num_gpus: 1, memory: 32g, runtime: PT1H}',
      '  - {name: huge, num_cpus: 8, memory: 1t, runtime: PT1H}',
      'slurm_schedulers:',
      '  - {name: mine, partition: long, walltime: "10:00:00"}',
      'jobs:',
      '  - {name: "s{i}", command: "true", resource_requirements: small, parameters: {i: "1:10"}}',
      '  - {name: g, command: "true", resource_requirements: gpu}',
      '  - {name: h, command: "true", resource_requirements: huge}',
      '  - {name: kept, command: "true", resource_requirements: small, scheduler: mine}',
      '',
    ].join('\n'),
  );
  const gen = await runTorc(['slurm', 'generate', 'wf.yaml', '--profile', 'testhpc', '--account', 'proj', '-o', 'out.yaml'], { cwd: dir, env });
  t.is(gen.code, 0, gen.stderr);
  t.regex(gen.stderr, /gpu: 1 job\(s\) → gen_gpu \(partition gpu,/);
  const out = parseYaml(readFileSync(path.join(dir, 'out.yaml'), 'utf8')) as { jobs: { name: string; scheduler?: string }[]; slurm_schedulers: { name: string; partition: string; account?: string }[] };
  const partitionOf = (job: string) => out.slurm_schedulers.find((s) => s.name === out.jobs.find((j) => j.name === job)!.scheduler)!.partition;
  t.is(partitionOf('s{i}'), 'short');
  t.is(partitionOf('g'), 'gpu');
  t.is(partitionOf('h'), 'bigmem');
  t.is(partitionOf('kept'), 'long', 'a job bound by hand keeps its scheduler');
  t.true(out.slurm_schedulers.filter((s) => s.name.startsWith('gen_')).every((s) => s.account === 'proj'));
  const check = await runTorc(['validate', 'out.yaml'], { cwd: dir });
  t.is(check.code, 0, `the generated file is a valid workflow: ${check.stderr}`);

  const both = await runTorc(['slurm', 'generate', 'wf.yaml', '--profile', 'testhpc', '--detect'], { cwd: dir, env });
  t.is(both.code, 2);
  t.regex(both.stderr, /--profile/);
});

/** Slurm refuses to delete a partition while jobs of it are still known (completing): retry until it is gone. */
async function deletePartition(name: string): Promise<void> {
  const exists = async () => (await execFileP('scontrol', ['show', 'partition', '-o'])).stdout.includes(`PartitionName=${name} `);
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 1000))) {
    await execFileP('scontrol', ['delete', `PartitionName=${name}`]).catch(() => undefined);
    if (!(await exists())) return;
  }
  throw new Error(`could not delete the test partition ${name}`);
}

const NO_GPU_QOS = 'torc_test_nogpu';

/**
 * A GPU, a big-memory and a small-memory partition over the test cluster's identical nodes
 * (every node has gpu:2 and the same memory), told apart only by their limits, as real
 * clusters do it: `short` (MaxMemPerNode=2000, MaxTime 30 min) and `bigmem` (no memory limit)
 * give no GPUs through their QOS (MaxTRESPerNode=gres/gpu=0), `gpu` (MaxTime 2 h) does.
 * Slurm 22.05 cannot take a node's GRES back once lowered (a gres with File= may only be set to
 * its current count or 0), so the test leaves node GRES alone. Teardown deletes the partitions
 * and the QOS; so does the returned restore, which the test calls before it gives the cluster
 * back (teardown runs after the exclusive lock is released).
 */
async function limitPartitions(t: import('ava').ExecutionContext): Promise<() => Promise<void>> {
  let restoring: Promise<void> | undefined;
  const restore = () =>
    (restoring ??= (async () => {
      for (const p of ['gpu', 'bigmem', 'short']) await deletePartition(p);
      await execFileP('sacctmgr', ['-i', 'delete', 'qos', NO_GPU_QOS]).catch(() => undefined);
    })());
  t.teardown(restore);
  for (const p of ['gpu', 'bigmem', 'short']) await execFileP('scontrol', ['delete', `PartitionName=${p}`]).catch(() => undefined);
  await execFileP('sacctmgr', ['-i', 'delete', 'qos', NO_GPU_QOS]).catch(() => undefined);
  await execFileP('sacctmgr', ['-i', 'add', 'qos', NO_GPU_QOS, 'MaxTRESPerNode=gres/gpu=0']);
  const create = (args: string[]) => execFileP('scontrol', ['create', ...args, 'State=UP']);
  await create(['PartitionName=gpu', 'Nodes=vm', 'MaxTime=120']);
  await create(['PartitionName=bigmem', 'Nodes=vm-n3', `QOS=${NO_GPU_QOS}`, 'MaxTime=120']);
  await create(['PartitionName=short', 'Nodes=vm-n2', `QOS=${NO_GPU_QOS}`, 'MaxMemPerNode=2000', 'MaxTime=30']);
  return restore;
}

// Exclusive: it changes the cluster's partitions (other tests would see them and their jobs would hold their nodes).
threeNodes('generate --detect tells partitions over identical nodes apart by their limits: the GPU class to gpu, big memory to bigmem, small to short; reconcile runs each job there', async (t) => {
  t.timeout(300_000);
  const restore = await limitPartitions(t);
  try {
    await generateOnLimitPartitions(t);
  } finally {
    await restore();
  }
}, { exclusive: true });

async function generateOnLimitPartitions(t: import('ava').ExecutionContext): Promise<void> {
  const detected = await runTorc(['hpc', 'detect', '--cluster', '--format', 'json']);
  t.is(detected.code, 0, detected.stderr);
  const parts = new Map((JSON.parse(detected.stdout) as { partitions: HpcPartition[] }).partitions.map((p) => [p.name, p]));
  t.like(parts.get('gpu'), { gpus_per_node: 2, max_walltime_seconds: 7200 });
  t.like(parts.get('bigmem'), { gpus_per_node: 0, max_walltime_seconds: 7200 }, 'its QOS gives no GPUs');
  t.like(parts.get('short'), { gpus_per_node: 0, memory_bytes: 2000 * 1024 ** 2, max_walltime_seconds: 1800 });
  t.true(parts.get('bigmem')!.memory_bytes > 8 * GIB);

  const dir = mkdtempSync(path.join(tmpdir(), 'torc-generate-'));
  mkdirSync(path.join(dir, 'seen'));
  const record = 'echo "$SLURM_JOB_PARTITION $CUDA_VISIBLE_DEVICES" > seen/$TORC_JOB_NAME';
  writeFileSync(
    path.join(dir, 'wf.yaml'),
    [
      'name: generated',
      'compute_node_wait_for_new_jobs_seconds: 3',
      'compute_node_expiration_buffer_seconds: 30',
      'resource_requirements:',
      '  - {name: small, num_cpus: 1, memory: 100m, runtime: PT1M}',
      '  - {name: gpu, num_cpus: 1, num_gpus: 1, memory: 100m, runtime: PT1M}',
      '  - {name: big, num_cpus: 1, memory: 8g, runtime: PT1M}',
      'jobs:',
      `  - {name: "s{i}", command: ${JSON.stringify(record)}, resource_requirements: small, parameters: {i: "1:3"}}`,
      `  - {name: g, command: ${JSON.stringify(record)}, resource_requirements: gpu}`,
      `  - {name: b, command: ${JSON.stringify(record)}, resource_requirements: big}`,
      '',
    ].join('\n'),
  );
  const gen = await runTorc(['slurm', 'generate', 'wf.yaml', '--detect', '-o', 'gen.yaml'], { cwd: dir });
  t.is(gen.code, 0, gen.stderr);
  t.regex(gen.stderr, /partitions from the running cluster/);
  const out = parseYaml(readFileSync(path.join(dir, 'gen.yaml'), 'utf8')) as { jobs: { name: string; scheduler?: string }[]; slurm_schedulers: { name: string; partition: string; gres?: string; mem: string }[] };
  const schedulerOf = (job: string) => out.slurm_schedulers.find((s) => s.name === out.jobs.find((j) => j.name === job)!.scheduler)!;
  t.is(schedulerOf('g').partition, 'gpu', 'the only partition besides debug whose GPUs are given, and shorter than debug');
  t.is(schedulerOf('g').gres, 'gpu:1');
  t.is(schedulerOf('b').partition, 'bigmem', '8g does not fit short (MaxMemPerNode=2000); a GPU-less class goes where no GPUs are');
  t.is(schedulerOf('s{i}').partition, 'short', 'the small class gets the smallest partition');

  // generate → reconcile: the file as written runs on the cluster.
  const res = await runTorc(['reconcile', 'gen.yaml', '--runner', 'slurm', '--host', slurmApiHost(), '--format', 'json', '--poll-interval', '1'], { cwd: dir, timeoutMs: 240_000 });
  t.is(res.code, 0, res.stderr);
  const seen = new Map(readdirSync(path.join(dir, 'seen')).map((f) => [f, readFileSync(path.join(dir, 'seen', f), 'utf8').trim().split(' ')]));
  t.is(seen.size, 5);
  t.is(seen.get('b')![0], 'bigmem');
  for (const s of ['s1', 's2', 's3']) t.is(seen.get(s)![0], 'short');
  t.is(seen.get('g')![0], 'gpu');
  t.regex(seen.get('g')![1] ?? '', /^[01]$/, 'the GPU job sees one GPU of its node');
}

slurm('reconcile --runner slurm without slurm_schedulers generates them from the cluster (and says so); an unrunnable class is refused naming it', async (t) => {
  t.timeout(240_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'torc-reconcile-gen-'));
  writeFileSync(
    path.join(dir, 'wf.yaml'),
    ['name: plain', 'compute_node_wait_for_new_jobs_seconds: 3', 'jobs:', '  - {name: a, command: "echo $SLURM_JOB_ID > a.txt"}', ''].join('\n'),
  );
  const res = await runTorc(['reconcile', 'wf.yaml', '--runner', 'slurm', '--host', slurmApiHost(), '--poll-interval', '1'], { cwd: dir, timeoutMs: 200_000 });
  t.is(res.code, 0, res.stderr);
  t.regex(res.stderr, /no slurm_schedulers; generated 1 from (this cluster's partitions|HPC profile)/);
  t.regex(readFileSync(path.join(dir, 'a.txt'), 'utf8'), /^\d+\n$/, 'the job ran in a Slurm allocation');

  writeFileSync(
    path.join(dir, 'huge.yaml'),
    ['name: huge', 'resource_requirements:', '  - {name: enormous, num_cpus: 4096, memory: 1g, runtime: PT1M}', 'jobs:', '  - {name: a, command: "true", resource_requirements: enormous}', ''].join('\n'),
  );
  const refused = await runTorc(['reconcile', 'huge.yaml', '--runner', 'slurm'], { cwd: dir });
  t.is(refused.code, 2);
  t.regex(refused.stderr, /resource_requirements\["enormous"\]/);
});
