import test from 'ava';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../src/errors.js';
import { detectResources, parseCudaVisibleDevices, readCgroupLimits } from '../../src/runners/local/resources.js';
import { tempDir } from '../support/procs.js';

const GIB = 1024 ** 3;

/** A directory holding a fake `nvidia-smi` that prints `output` (or exits `code`). */
async function fakeNvidiaSmi(output: string, code = 0): Promise<string> {
  const dir = await tempDir('torc-smi-');
  const bin = path.join(dir, 'nvidia-smi');
  await writeFile(bin, `#!/bin/sh\n[ "$1" = "--query-gpu=index,memory.total" ] || exit 9\nprintf '%s' '${output}'\nexit ${code}\n`);
  await chmod(bin, 0o755);
  return dir;
}

/** No cgroup limits: point detection at an empty tree. */
async function noCgroup() {
  const dir = await tempDir('torc-cg-');
  return { cgroupRoot: dir, procCgroupFile: path.join(dir, 'none') };
}

test('GPUs from nvidia-smi when it is on PATH', async (t) => {
  const bin = await fakeNvidiaSmi('0, 81559 MiB\n1, 81559 MiB\n');
  const r = await detectResources({ env: { PATH: `${bin}:${process.env.PATH}` }, hostname: 'box', ...(await noCgroup()) });
  t.deepEqual(r.gpu_ids, ['0', '1']);
  t.deepEqual(r.gpu_memory_bytes, [81559 * 1024 ** 2, 81559 * 1024 ** 2]);
  t.is(r.sources.gpus, 'nvidia-smi');
  t.deepEqual(r.capacity.nodes, [{ name: 'box', num_cpus: os.availableParallelism(), memory_bytes: os.totalmem(), num_gpus: 2 }]);
  t.is(r.capacity.time_limit_seconds, null);
});

test('a failing nvidia-smi falls back to none', async (t) => {
  const bin = await fakeNvidiaSmi('NVIDIA-SMI has failed', 9);
  const r = await detectResources({ env: { PATH: `${bin}:${process.env.PATH}` }, ...(await noCgroup()) });
  t.deepEqual(r.gpu_ids, []);
  t.is(r.sources.gpus, 'none');
});

test('CUDA_VISIBLE_DEVICES without nvidia-smi, and it restricts nvidia-smi when both are there', async (t) => {
  const cg = await noCgroup();
  const plain = await detectResources({ env: { PATH: '/usr/bin:/bin', CUDA_VISIBLE_DEVICES: '2,3' }, ...cg });
  t.deepEqual(plain.gpu_ids, ['2', '3']);
  t.is(plain.sources.gpus, 'CUDA_VISIBLE_DEVICES');
  t.is(plain.capacity.nodes[0]!.num_gpus, 2);

  const bin = await fakeNvidiaSmi('0, 1 MiB\n1, 1 MiB\n2, 1 MiB\n3, 1 MiB\n');
  const both = await detectResources({ env: { PATH: `${bin}:/usr/bin:/bin`, CUDA_VISIBLE_DEVICES: 'GPU-aa,GPU-bb' }, ...cg });
  t.deepEqual(both.gpu_ids, ['GPU-aa', 'GPU-bb']);
});

test('no nvidia-smi and no CUDA_VISIBLE_DEVICES: no GPUs', async (t) => {
  const r = await detectResources({ env: { PATH: '/usr/bin:/bin' }, ...(await noCgroup()) });
  t.deepEqual(r.gpu_ids, []);
  t.is(r.capacity.nodes[0]!.num_gpus, 0);
});

test('CUDA_VISIBLE_DEVICES parsing', (t) => {
  t.is(parseCudaVisibleDevices(undefined), null);
  t.is(parseCudaVisibleDevices(' '), null);
  t.deepEqual(parseCudaVisibleDevices('-1'), []);
  t.deepEqual(parseCudaVisibleDevices('NoDevFiles'), []);
  t.deepEqual(parseCudaVisibleDevices('0, 2,'), ['0', '2']);
  t.deepEqual(parseCudaVisibleDevices('1,-1,3'), ['1']);
});

test('overrides win and are validated with the flag named', async (t) => {
  const cg = await noCgroup();
  const r = await detectResources({ env: { PATH: '/usr/bin:/bin', CUDA_VISIBLE_DEVICES: '4,5' }, overrides: { num_cpus: 3, memory_gb: 1.5, num_gpus: 1 }, ...cg });
  t.is(r.num_cpus, 3);
  t.is(r.memory_bytes, 1.5 * GIB);
  t.deepEqual(r.gpu_ids, ['4']);
  t.deepEqual(r.sources, { cpus: 'override', memory: 'override', gpus: 'override' });

  const more = await detectResources({ env: { PATH: '/usr/bin:/bin' }, overrides: { num_gpus: 3 }, ...cg });
  t.deepEqual(more.gpu_ids, ['0', '1', '2']);

  const err = await t.throwsAsync(detectResources({ overrides: { num_cpus: 0, num_gpus: -1, memory_gb: Number.NaN } }), { instanceOf: InputError });
  t.deepEqual(err!.issues.map((i) => i.path), ['--num-cpus', '--memory-gb', '--num-gpus']);
});

test('a cgroup v2 memory / CPU limit lower than the machine wins', async (t) => {
  const root = await tempDir('torc-cg-');
  await mkdir(path.join(root, 'job', 'step'), { recursive: true });
  await writeFile(path.join(root, 'memory.max'), 'max\n');
  await writeFile(path.join(root, 'job', 'memory.max'), `${256 * 1024 ** 2}\n`);
  await writeFile(path.join(root, 'job', 'step', 'memory.max'), 'max\n');
  await writeFile(path.join(root, 'job', 'cpu.max'), '150000 100000\n');
  const proc = path.join(root, 'self-cgroup');
  await writeFile(proc, '0::/job/step\n');
  t.deepEqual(await readCgroupLimits(root, proc), { memory_bytes: 256 * 1024 ** 2, cpus: 2 });
  const r = await detectResources({ env: { PATH: '/usr/bin:/bin' }, cgroupRoot: root, procCgroupFile: proc });
  t.is(r.memory_bytes, 256 * 1024 ** 2);
  t.is(r.sources.memory, 'cgroup');
  t.is(r.num_cpus, Math.min(2, os.availableParallelism()));
});

test('a cgroup v1 memory limit is read; "unlimited" is ignored', async (t) => {
  const root = await tempDir('torc-cg-');
  await mkdir(path.join(root, 'memory', 'a'), { recursive: true });
  await writeFile(path.join(root, 'memory', 'memory.limit_in_bytes'), '9223372036854771712\n');
  await writeFile(path.join(root, 'memory', 'a', 'memory.limit_in_bytes'), `${GIB}\n`);
  const proc = path.join(root, 'self-cgroup');
  await writeFile(proc, '4:memory:/a\n1:cpu:/\n0::/\n');
  t.is((await readCgroupLimits(root, proc)).memory_bytes, GIB);
  await writeFile(proc, '4:memory:/\n');
  t.is((await readCgroupLimits(root, proc)).memory_bytes, null);
});
