import test from 'ava';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../src/errors.js';
import { allocationCapacity, allocationEndTime, expandNodeList, readAllocation, timeLimitSeconds } from '../../src/runners/slurm/allocation.js';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';

const MIB = 1024 ** 2;

/** The variables a batch script saw on the test Slurm (`sbatch --gres=gpu:1 --mem=100M`). */
const BATCH_ENV = {
  SLURMD_NODENAME: 'vm',
  SLURM_CPUS_ON_NODE: '1',
  SLURM_GPUS_ON_NODE: '1',
  SLURM_JOB_CPUS_PER_NODE: '1',
  SLURM_JOB_ID: '1',
  SLURM_JOB_NODELIST: 'vm',
  SLURM_JOB_NUM_NODES: '1',
  SLURM_MEM_PER_NODE: '100',
  SLURM_NNODES: '1',
};

test('batch script environment of the test Slurm: one node, its CPUs, memory and gres GPU', (t) => {
  const a = readAllocation(BATCH_ENV);
  t.like(a, { jobId: '1', thisNode: 'vm', nodes: ['vm'], perNodeWorker: false, cpusPerNode: [1], memoryBytesPerNode: 100 * MIB, gpusPerNode: 1 });
  t.deepEqual(a.gpuIds, ['0'], 'fake gres GPUs without CUDA_VISIBLE_DEVICES are numbered from 0');
  t.deepEqual(a.sources, { memory: 'SLURM_MEM_PER_NODE', gpus: 'SLURM_GPUS_ON_NODE' });
});

test('CUDA_VISIBLE_DEVICES exported by Slurm gives the device ids', (t) => {
  const a = readAllocation({ ...BATCH_ENV, SLURM_GPUS_ON_NODE: '2', CUDA_VISIBLE_DEVICES: '2,3' });
  t.is(a.gpusPerNode, 2);
  t.deepEqual(a.gpuIds, ['2', '3']);
  const b = readAllocation({ ...BATCH_ENV, SLURM_GPUS_ON_NODE: undefined, CUDA_VISIBLE_DEVICES: '0,1,2' });
  t.is(b.gpusPerNode, 3);
  t.is(b.sources.gpus, 'CUDA_VISIBLE_DEVICES');
  const none = readAllocation({ ...BATCH_ENV, SLURM_GPUS_ON_NODE: undefined });
  t.is(none.gpusPerNode, 0);
  t.deepEqual(none.gpuIds, []);
});

test('memory: per node, else per CPU times CPUs, else the whole node', (t) => {
  t.is(readAllocation({ ...BATCH_ENV, SLURM_MEM_PER_NODE: undefined, SLURM_MEM_PER_CPU: '50', SLURM_CPUS_ON_NODE: '2' }).memoryBytesPerNode, 100 * MIB);
  const whole = readAllocation({ ...BATCH_ENV, SLURM_MEM_PER_NODE: undefined }, { nodeMemoryBytes: 7 * 1024 * MIB });
  t.is(whole.memoryBytesPerNode, 7 * 1024 * MIB);
  t.is(whole.sources.memory, 'node');
  t.is(readAllocation({ ...BATCH_ENV, SLURM_MEM_PER_NODE: undefined }).memoryBytesPerNode, os.totalmem());
});

test('multi-node allocation: one worker serves every node, its own first, CPUs per node from SLURM_JOB_CPUS_PER_NODE', (t) => {
  const a = readAllocation({
    ...BATCH_ENV,
    SLURMD_NODENAME: 'n02',
    SLURM_JOB_NODELIST: 'n[01-03]',
    SLURM_JOB_NUM_NODES: '3',
    SLURM_JOB_CPUS_PER_NODE: '36(x2),8',
    SLURM_CPUS_ON_NODE: '36',
  });
  t.deepEqual(a.nodes, ['n02', 'n01', 'n03']);
  t.deepEqual(a.cpusPerNode, [36, 36, 8]);
  t.false(a.perNodeWorker);
});

test('inside an srun step (one worker per node) the worker serves only its own node', (t) => {
  const a = readAllocation({ ...BATCH_ENV, SLURMD_NODENAME: 'n03', SLURM_JOB_NODELIST: 'n[01-03]', SLURM_JOB_NUM_NODES: '3', SLURM_STEP_ID: '0', SLURM_CPUS_ON_NODE: '8' });
  t.true(a.perNodeWorker);
  t.deepEqual(a.nodes, ['n03']);
  t.deepEqual(a.cpusPerNode, [8]);
});

test('outside Slurm, or with inconsistent variables, the error names the variable', (t) => {
  t.is(t.throws(() => readAllocation({}), { instanceOf: InputError })!.field, 'SLURM_JOB_ID');
  t.is(t.throws(() => readAllocation({ ...BATCH_ENV, SLURM_CPUS_ON_NODE: 'many' }), { instanceOf: InputError })!.field, 'SLURM_CPUS_ON_NODE');
  t.is(t.throws(() => readAllocation({ ...BATCH_ENV, SLURM_JOB_NUM_NODES: '2' }), { instanceOf: InputError })!.field, 'SLURM_JOB_NODELIST');
});

test('host lists expand like scontrol show hostnames', (t) => {
  t.deepEqual(expandNodeList('vm'), ['vm']);
  t.deepEqual(expandNodeList('node[01-03,07]'), ['node01', 'node02', 'node03', 'node07']);
  t.deepEqual(expandNodeList('a[1-2],b,c[9-10]'), ['a1', 'a2', 'b', 'c9', 'c10']);
  t.deepEqual(expandNodeList('r[1-2]-n[1-2]'), ['r1-n1', 'r1-n2', 'r2-n1', 'r2-n2']);
  t.throws(() => expandNodeList('n[a-b]'), { instanceOf: InputError });
});

test('capacity: every node with its resources, time limit = time left − buffer, never negative', (t) => {
  const a = readAllocation({ ...BATCH_ENV, SLURM_JOB_NODELIST: 'vm,vm2', SLURM_JOB_NUM_NODES: '2', SLURM_JOB_CPUS_PER_NODE: '4(x2)', SLURM_CPUS_ON_NODE: '4' });
  const now = new Date('2026-01-01T00:00:00Z');
  const end = new Date('2026-01-01T01:00:00Z');
  const cap = allocationCapacity(a, { endTime: end, bufferSeconds: 120, schedulerConfigId: 5, now });
  t.deepEqual(cap, {
    nodes: [
      { name: 'vm', num_cpus: 4, memory_bytes: 100 * MIB, num_gpus: 1 },
      { name: 'vm2', num_cpus: 4, memory_bytes: 100 * MIB, num_gpus: 1 },
    ],
    time_limit_seconds: 3600 - 120,
    scheduler_config_id: 5,
  });
  t.is(timeLimitSeconds(end, 120, new Date('2026-01-01T00:59:00Z')), 0, 'inside the buffer: nothing fits');
  t.is(timeLimitSeconds(null, 120, now), null, 'no known end: no limit');
  t.is(timeLimitSeconds(end, 0, new Date('2026-01-01T00:59:59.5Z')), 0);
});

test('end time from squeue: time left counts from when squeue was asked; %e when there is none', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'torc-slurm-end-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const squeue = path.join(dir, 'squeue');
  const write = (line: string) => writeFile(squeue, `#!/bin/bash\necho '${line}'\n`).then(() => chmod(squeue, 0o755));
  const cmds = new SlurmCommands({ paths: { squeue } });
  const asked = new Date('2026-03-01T10:00:00Z');
  await write('5|RUNNING|2026-03-01T10:30:00|0:59|None');
  t.deepEqual(await allocationEndTime(cmds, '5', () => asked), new Date(asked.getTime() + 59_000));
  await write('5|RUNNING|2026-03-01T10:30:00|UNLIMITED|None');
  t.deepEqual(await allocationEndTime(cmds, '5', () => asked), new Date(2026, 2, 1, 10, 30, 0));
  await write('5|RUNNING|N/A|UNLIMITED|None');
  t.is(await allocationEndTime(cmds, '5', () => asked), null);
  await write('');
  await t.throwsAsync(allocationEndTime(cmds, '5'), { message: /does not know Slurm job 5/ });
});
