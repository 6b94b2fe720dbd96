/**
 * The sampler on real processes (test/fixtures/monitor/hog.mjs allocates and burns what it is
 * told, and reports what it used itself): the /proc walk over a job's whole process tree, and the
 * job's own cgroup where this machine gives one (v1 here, as root). Nothing waits for time: a job
 * that must be seen while it runs waits for a file the test writes once the sampler has seen it.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSpawner } from '../../src/runners/local/spawner.js';
import { processCgroups } from '../../src/runners/monitor/index.js';
import { ResourceSampler, type Sample } from '../../src/runners/monitor/sampler.js';
import type { JobCgroup } from '../../src/runners/monitor/cgroups.js';
import { tempDir, waitFor } from '../support/procs.js';

const HOG = fileURLToPath(new URL('../fixtures/monitor/hog.mjs', import.meta.url));
const MIB = 1024 ** 2;
const cgroups = processCgroups();
if (!cgroups.ok) console.warn(`\n!!!!! no cgroup per job on this machine (${cgroups.why}): the cgroup sampler tests are SKIPPED !!!!!\n`);
const withCgroup = cgroups.ok ? test : test.skip;

interface HogReport {
  rss_anon_bytes: number;
  vmhwm_bytes: number;
  cpu_seconds: number;
  wall_seconds: number;
}

const readReport = (file: string): HogReport => JSON.parse(readFileSync(file, 'utf8')) as HogReport;

async function spawnJob(dir: string, shell: string, cgroup: JobCgroup | null) {
  const child = await defaultSpawner().spawn({
    argv: ['bash', '-c', shell],
    cwd: dir,
    env: { ...process.env },
    stdout: path.join(dir, 'out'),
    stderr: path.join(dir, 'err'),
    ...(cgroup ? { cgroups: cgroup.placement } : {}),
  });
  return child;
}

const within = (actual: number, truth: number, share: number) => Math.abs(actual - truth) <= share * truth;

test('/proc walk: a job\'s whole process tree (children included) is summed; its peak memory is within 10% of what its processes held', async (t) => {
  const dir = await tempDir('torc-sampler-');
  const release = path.join(dir, 'release');
  const shell =
    `node ${HOG} --mb 120 --ready-file ${dir}/a.ready --wait-file ${release} --report ${dir}/a.json & ` +
    `node ${HOG} --mb 180 --ready-file ${dir}/b.ready --wait-file ${release} --report ${dir}/b.json & wait`;
  const child = await spawnJob(dir, shell, null);
  const sampler = new ResourceSampler();
  const samples: Sample[] = [];
  const tracking = sampler.track({ pid: child.pid!, cgroup: null, intervalSeconds: 0.2, startedAtMs: child.startedAtMs, onSample: (s) => samples.push(s) });
  // Both children hold their memory; once a sample taken after that is in, they may go.
  await waitFor(() => existsSync(`${dir}/a.ready`) && existsSync(`${dir}/b.ready`), 120_000, 'both children allocated');
  const seen = samples.length;
  await waitFor(() => samples.length > seen, 120_000, 'a sample of the whole tree');
  writeFileSync(release, '');
  await child.exit;
  const report = tracking.finish();
  const truth = readReport(`${dir}/a.json`).rss_anon_bytes + readReport(`${dir}/b.json`).rss_anon_bytes;
  t.is(report.backend, 'proc');
  t.true(report.samples >= 1);
  t.true(within(report.peak_memory_bytes!, truth, 0.1), `peak ${(report.peak_memory_bytes! / MIB).toFixed(1)} MiB vs ${(truth / MIB).toFixed(1)} MiB held`);
  t.true(Math.max(...samples.map((s) => s.num_processes)) >= 3, 'bash and both children counted');
  t.log(`proc walk: peak ${(report.peak_memory_bytes! / MIB).toFixed(1)} MiB, the processes held ${(truth / MIB).toFixed(1)} MiB`);
});

withCgroup('cgroup: the peak memory of a job that allocates 300 MB is within 10% of what it held — taken from the kernel, so no sample has to catch it', async (t) => {
  if (!cgroups.ok) return;
  const dir = await tempDir('torc-sampler-');
  const group = cgroups.host.create(`test-peak-${process.pid}`, null);
  const child = await spawnJob(dir, `exec node ${HOG} --mb 300 --report ${dir}/r.json`, group);
  // A long interval: the job ends before any sample.
  const tracking = new ResourceSampler().track({ pid: child.pid!, cgroup: group, intervalSeconds: 3600, startedAtMs: child.startedAtMs });
  const exit = await child.exit;
  const report = tracking.finish(exit.endedAtMs);
  const truth = readReport(`${dir}/r.json`).rss_anon_bytes;
  t.is(report.samples, 0);
  t.true(within(report.peak_memory_bytes!, truth, 0.1), `peak ${(report.peak_memory_bytes! / MIB).toFixed(1)} MiB vs ${(truth / MIB).toFixed(1)} MiB`);
  t.false(existsSync(group.dirs[0]!), 'the empty group is removed');
  t.log(`cgroup ${cgroups.host.kind}: peak ${(report.peak_memory_bytes! / MIB).toFixed(1)} MiB, the job held ${(truth / MIB).toFixed(1)} MiB (${(((report.peak_memory_bytes! - truth) / truth) * 100).toFixed(1)}%)`);
});

withCgroup('cgroup: a CPU burner\'s CPU time matches what it used itself, and its average CPU is its CPU time over its wall time', async (t) => {
  if (!cgroups.ok) return;
  const dir = await tempDir('torc-sampler-');
  const group = cgroups.host.create(`test-cpu-${process.pid}`, null);
  const child = await spawnJob(dir, `exec node ${HOG} --cpu-ms 1500 --report ${dir}/r.json`, group);
  const tracking = new ResourceSampler().track({ pid: child.pid!, cgroup: group, intervalSeconds: 0.5, startedAtMs: child.startedAtMs });
  const exit = await child.exit;
  const report = tracking.finish(exit.endedAtMs);
  const own = readReport(`${dir}/r.json`);
  // The group also counts node's start-up before the job measured itself: a little more, never less.
  t.true(report.cpu_seconds! >= own.cpu_seconds * 0.98 && report.cpu_seconds! <= own.cpu_seconds + 1, `${report.cpu_seconds} s vs ${own.cpu_seconds} s`);
  // The invariant, whatever the machine's load: average = CPU time / wall time, measured independently.
  const expected = (100 * own.cpu_seconds) / own.wall_seconds;
  t.true(within(report.avg_cpu_percent!, expected, 0.25), `avg ${report.avg_cpu_percent}% vs ${expected.toFixed(1)}% (job's own CPU / wall)`);
  t.true(report.peak_cpu_percent! >= report.avg_cpu_percent!);
  t.log(`CPU burner: avg ${report.avg_cpu_percent}% (its own ${expected.toFixed(1)}%), peak ${report.peak_cpu_percent}%, ${report.samples} samples`);
});

withCgroup('cgroup limit: a job over its memory is OOM-killed by the kernel and the group counts the kill', async (t) => {
  if (!cgroups.ok) return;
  const dir = await tempDir('torc-sampler-');
  const group = cgroups.host.create(`test-oom-${process.pid}`, 120 * MIB);
  const child = await spawnJob(dir, `exec node ${HOG} --mb 200`, group);
  const tracking = new ResourceSampler().track({ pid: child.pid!, cgroup: group, intervalSeconds: 3600, startedAtMs: child.startedAtMs });
  const exit = await child.exit;
  const report = tracking.finish(exit.endedAtMs);
  t.is(exit.signal, 'SIGKILL');
  t.true(report.oom_kills! >= 1);
  t.is(report.memory_limit_bytes, 120 * MIB);
  t.true(report.peak_memory_bytes! <= 120 * MIB, 'never above its limit');
});
