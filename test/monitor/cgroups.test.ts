/**
 * The cgroup backends over a fake cgroupfs tree (test/support/fake-cgroupfs.ts): cgroup v2 (this
 * machine has no writable v2 memory controller: its cgroup2 mount at /sys/fs/cgroup/unified has
 * no memory controller) and v1, and then v1 for real on this machine when it can be written.
 */
import test from 'ava';
import { mkdtempSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { detectCgroups, parseMountInfo, parseProcCgroup, statValue, type CgroupHost } from '../../src/runners/monitor/cgroups.js';
import { ResourceSampler } from '../../src/runners/monitor/sampler.js';
import { diagnoseFailure } from '../../src/allocator/diagnosis.js';
import { fakeCgroupTree, type FakeTree } from '../support/fake-cgroupfs.js';

const MIB = 1024 ** 2;

function v2Tree(opts: { busyParent?: boolean; rootControllers?: string } = {}): FakeTree {
  const t = fakeCgroupTree(mkdtempSync(path.join(os.tmpdir(), 'torc-cgv2-')), 'v2');
  t.put('proc/self/mountinfo', '22 1 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n');
  t.put('proc/self/cgroup', '0::/workload.slice/runner\n');
  t.put('sys/fs/cgroup/cgroup.controllers', `${opts.rootControllers ?? 'cpuset cpu io memory pids'}\n`);
  t.put('sys/fs/cgroup/cgroup.subtree_control', `${opts.rootControllers ?? 'cpu memory'}\n`);
  t.put('sys/fs/cgroup/workload.slice/cgroup.procs', '');
  t.put('sys/fs/cgroup/workload.slice/cgroup.controllers', `${opts.rootControllers ?? 'cpu memory'}\n`);
  t.put('sys/fs/cgroup/workload.slice/cgroup.subtree_control', `${opts.rootControllers ?? 'cpu memory'}\n`);
  t.put('sys/fs/cgroup/workload.slice/runner/cgroup.controllers', `${opts.rootControllers ?? 'cpu memory'}\n`);
  t.put('sys/fs/cgroup/workload.slice/runner/cgroup.subtree_control', '');
  t.put('sys/fs/cgroup/workload.slice/runner/cgroup.procs', opts.busyParent ? '4242\n' : '');
  return t;
}

test('mountinfo and /proc/self/cgroup are read as the kernel writes them (escaped mount points, v1 and v2 lines)', (t) => {
  const mounts = parseMountInfo(
    '33 23 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n' +
      '41 23 0:38 /sub /mnt/with\\040space rw - cgroup2 cgroup2 rw\n' +
      '50 23 0:40 / /proc rw - proc proc rw\n',
  );
  t.deepEqual(mounts.map((m) => [m.fsType, m.mountPoint, m.root]), [
    ['cgroup', '/sys/fs/cgroup/cpu,cpuacct', '/'],
    ['cgroup2', '/mnt/with space', '/sub'],
  ]);
  t.true(mounts[0]!.superOptions.includes('cpuacct'));
  t.deepEqual([...parseProcCgroup('4:memory:/a/b\n2:cpu,cpuacct:/\n0::/c\n')], [['memory', '/a/b'], ['cpu,cpuacct', '/'], ['', '/c']]);
  const stat = 'cache 10\nrss 20\ntotal_cache 30\ntotal_rss 40\ninactive_file 5\ntotal_inactive_file 6';
  t.deepEqual(['cache', 'rss', 'total_rss', 'inactive_file', 'total_inactive_file', 'absent'].map((k) => statValue(stat, k)), [10, 20, 40, 5, 6, null]);
});

test('cgroup v2: a job group under a base of this runner, its memory limit (swap off), placement for the spawner, counters read back', (t) => {
  const tree = v2Tree();
  const found = detectCgroups({ fsRoot: tree.root, fs: tree.fs, env: {}, pid: 77 });
  if (!found.ok) return t.fail(found.why);
  const host: CgroupHost = found.host;
  t.is(host.kind, 'v2');
  // The runner's own group handed memory down to the base, the base to its job groups.
  t.regex(tree.get('sys/fs/cgroup/workload.slice/runner/cgroup.subtree_control'), /memory/);
  const job = host.create('job-1-2-1-1', 120 * MIB);
  const dir = job.dirs[0]!;
  t.true(dir.startsWith(tree.abs('sys/fs/cgroup/workload.slice/runner/torc-77-')));
  t.is(tree.fs.read(path.join(dir, 'memory.max')), String(120 * MIB));
  t.is(tree.fs.read(path.join(dir, 'memory.swap.max')), '0');
  t.deepEqual(job.placement, [{ join: path.join(dir, 'cgroup.procs'), home: tree.abs('sys/fs/cgroup/workload.slice/runner/cgroup.procs') }]);

  // The kernel's side: a process joined, used memory and CPU, and was OOM-killed.
  tree.fs.write(path.join(dir, 'cgroup.procs'), '5001');
  tree.fs.write(path.join(dir, 'memory.current'), String(110 * MIB));
  tree.fs.write(path.join(dir, 'memory.stat'), `anon ${100 * MIB}\nfile ${12 * MIB}\ninactive_file ${10 * MIB}\n`);
  tree.fs.write(path.join(dir, 'memory.peak'), String(125 * MIB));
  tree.fs.write(path.join(dir, 'cpu.stat'), 'usage_usec 1500000\nuser_usec 1400000\nsystem_usec 100000\n');
  tree.fs.write(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
  const r = job.read();
  t.is(r.memory_bytes, 100 * MIB, 'working set: current less inactive file cache');
  t.is(r.memory_peak_bytes, 125 * MIB);
  t.is(r.cpu_ns, 1.5e9);
  t.is(r.num_processes, 1);
  t.is(r.oom_kills, 1);
  t.false(job.remove(), 'a group that holds processes stays');

  // The sampler over it, with its own clock: one sample, then the end.
  let now = 1_000_000;
  const sampler = new ResourceSampler(() => now);
  const tracking = sampler.track({ pid: 5001, cgroup: job, intervalSeconds: 1, startedAtMs: now });
  now += 1000;
  sampler.sampleDue();
  now += 1000;
  tree.put(path.relative(tree.root, path.join(dir, 'cgroup.procs')), ''); // the job's processes are gone
  const report = tracking.finish(now);
  t.is(report.backend, 'cgroup-v2');
  t.is(report.samples, 1);
  t.is(report.oom_kills, 1);
  t.is(report.cpu_seconds, 1.5);
  t.is(report.avg_cpu_percent, 75, '1.5 s of CPU in 2 s');
  t.is(report.peak_cpu_percent, 150, 'the one sample saw 1.5 s in 1 s');
  t.is(report.peak_memory_bytes, 113 * MIB, "the kernel's peak less the file cache still charged");
  t.is(report.memory_limit_bytes, 120 * MIB);
  t.deepEqual(
    diagnoseFailure({ return_code: 137, oom_kills: report.oom_kills, peak_memory_bytes: report.peak_memory_bytes, memory_limit_bytes: report.memory_limit_bytes }),
    { failure_diagnosis: 'likely_oom', diagnosis_reason: 'oom_kill' },
  );
  t.false(existsSync(dir), 'the group is removed once empty');
  host.close();
  t.deepEqual(tree.fs.subdirs(tree.abs('sys/fs/cgroup/workload.slice/runner')), [], 'the base goes with the host');
});

test('groups left behind by a runner that died (kill -9) are removed by the next one; a live runner\'s are kept', (t) => {
  const tree = v2Tree();
  const runner = 'sys/fs/cgroup/workload.slice/runner';
  for (const base of ['torc-111-1', 'torc-222-1']) {
    tree.fs.mkdir(tree.abs(`${runner}/${base}`));
    tree.fs.mkdir(tree.abs(`${runner}/${base}/job-1-1-1-1`));
  }
  const found = detectCgroups({ fsRoot: tree.root, fs: tree.fs, env: {}, pid: 333, isAlive: (pid) => pid === 222 });
  if (!found.ok) return t.fail(found.why);
  const left = tree.fs.subdirs(tree.abs(runner)).sort();
  t.deepEqual(left.filter((d) => !d.startsWith('torc-333-')), ['torc-222-1'], 'the dead runner\'s groups are gone, the live one\'s stay');
  found.host.close();
});

test('cgroup v2: a group that holds processes cannot hand memory down (no-internal-process rule): no cgroups, the reason says what to do', (t) => {
  const tree = v2Tree({ busyParent: true });
  const found = detectCgroups({ fsRoot: tree.root, fs: tree.fs, env: {}, pid: 1 });
  t.false(found.ok);
  if (!found.ok) {
    t.regex(found.why, /cgroup v2: cannot give the memory controller .* holds processes/);
    t.regex(found.why, /TORC_CGROUP_PARENT/);
  }
});

test('cgroup v2: TORC_CGROUP_PARENT names a delegated empty group, used even when the runner\'s own group is busy', (t) => {
  const tree = v2Tree({ busyParent: true });
  tree.put('sys/fs/cgroup/workload.slice/torc-jobs/cgroup.procs', '');
  tree.put('sys/fs/cgroup/workload.slice/torc-jobs/cgroup.controllers', 'cpu memory\n');
  tree.put('sys/fs/cgroup/workload.slice/torc-jobs/cgroup.subtree_control', '');
  const found = detectCgroups({ fsRoot: tree.root, fs: tree.fs, env: { TORC_CGROUP_PARENT: '/sys/fs/cgroup/workload.slice/torc-jobs' }, pid: 9 });
  if (!found.ok) return t.fail(found.why);
  const job = found.host.create('job-a', null);
  t.true(job.dirs[0]!.startsWith(tree.abs('sys/fs/cgroup/workload.slice/torc-jobs/torc-9-')));
  t.is(tree.fs.read(path.join(job.dirs[0]!, 'memory.max')), 'max\n', 'no limit unless asked');
  t.is(job.placement[0]!.home, tree.abs('sys/fs/cgroup/workload.slice/runner/cgroup.procs'), 'the spawner goes back to its own group');
  found.host.close();
});

test('cgroup v2 without a memory controller: not used (v1 is looked for next)', (t) => {
  const tree = v2Tree({ rootControllers: 'cpu pids' });
  const found = detectCgroups({ fsRoot: tree.root, fs: tree.fs, env: {}, pid: 3 });
  t.false(found.ok);
  if (!found.ok) t.regex(found.why, /no memory controller/);
});

test('cgroup v1 (fake tree): memory and cpuacct groups, limit with memsw, OOM kills from memory.oom_control, cpuacct.usage', (t) => {
  const tree = fakeCgroupTree(mkdtempSync(path.join(os.tmpdir(), 'torc-cgv1-')), 'v1');
  tree.put(
    'proc/self/mountinfo',
    '32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n',
  );
  tree.put('proc/self/cgroup', '4:memory:/sandbox/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n');
  tree.put('sys/fs/cgroup/unified/cgroup.controllers', '\n');
  tree.put('sys/fs/cgroup/memory/sandbox/abc/cgroup.procs', '1\n');
  tree.put('sys/fs/cgroup/cpuacct/cgroup.procs', '1\n');
  const found = detectCgroups({ fsRoot: tree.root, fs: tree.fs, env: {}, pid: 5 });
  if (!found.ok) return t.fail(found.why);
  t.is(found.host.kind, 'v1');
  const job = found.host.create('j', 64 * MIB);
  const [mem, cpu] = job.dirs;
  t.true(mem!.startsWith(tree.abs('sys/fs/cgroup/memory/sandbox/abc/torc-5-')));
  t.true(cpu!.startsWith(tree.abs('sys/fs/cgroup/cpuacct/torc-5-')));
  t.is(tree.fs.read(path.join(mem!, 'memory.limit_in_bytes')), String(64 * MIB));
  t.is(tree.fs.read(path.join(mem!, 'memory.memsw.limit_in_bytes')), String(64 * MIB));
  t.deepEqual(job.placement.map((p) => p.home), [tree.abs('sys/fs/cgroup/memory/sandbox/abc/cgroup.procs'), tree.abs('sys/fs/cgroup/cpuacct/cgroup.procs')]);
  tree.fs.write(path.join(mem!, 'memory.usage_in_bytes'), String(70 * MIB));
  tree.fs.write(path.join(mem!, 'memory.max_usage_in_bytes'), String(64 * MIB));
  tree.fs.write(path.join(mem!, 'memory.stat'), `total_cache ${4 * MIB}\ntotal_inactive_file ${6 * MIB}\n`);
  tree.fs.write(path.join(mem!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
  tree.fs.write(path.join(cpu!, 'cpuacct.usage'), '250000000');
  const r = job.read();
  t.deepEqual(r, { memory_bytes: 64 * MIB, memory_peak_bytes: 64 * MIB, file_bytes: 4 * MIB, cpu_ns: 2.5e8, num_processes: 0, oom_kills: 2 });
  t.true(job.remove());
  found.host.close();
});

test('this machine: the cgroup support it gives a runner (v1 memory + cpuacct here, as root)', (t) => {
  const found = detectCgroups();
  if (!found.ok) {
    t.log(`!!!!! no cgroup per job on this machine (${found.why}): the runners fall back to the /proc walk !!!!!`);
    t.pass();
    return;
  }
  t.log(`cgroup ${found.host.kind} per job`);
  const job = found.host.create('torc-test-probe', 256 * MIB);
  const r = job.read();
  t.is(r.num_processes, 0);
  t.is(r.oom_kills, 0);
  t.true(job.remove());
  found.host.close();
});
