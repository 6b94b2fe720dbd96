/**
 * Resource monitoring, diagnosis and recovery as a user meets them: `torc reconcile` runs real
 * jobs (test/fixtures/monitor/hog.mjs allocates and burns what it is told and reports what it
 * used itself), then `torc reports …`, `torc jobs list`, `torc recover` and the REST API read
 * the results. Nothing depends on timing: jobs are sized in bytes and CPU time, a runtime limit
 * is exceeded by a job that would otherwise sleep for ten minutes.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTorc } from '../support/cli.js';
import { tempDir } from '../support/procs.js';
import { processCgroups } from '../../src/runners/monitor/index.js';
import { Store } from '../../src/store/index.js';

const HOG = fileURLToPath(new URL('../fixtures/monitor/hog.mjs', import.meta.url));
const MIB = 1024 ** 2;
const cgroups = processCgroups();
if (!cgroups.ok) console.warn(`\n!!!!! no cgroup per job on this machine (${cgroups.why}): the --enforce-memory tests are SKIPPED !!!!!\n`);
const withCgroup = cgroups.ok ? test : test.skip;

async function workflowDir(yaml: string): Promise<string> {
  const dir = await tempDir('torc-monitor-');
  writeFileSync(path.join(dir, 'wf.yaml'), yaml);
  return dir;
}

const json = <T>(text: string): T => JSON.parse(text) as T;

test('a job allocating ~300 MB under a 100m requirement is flagged, its peak within 10% of truth; a CPU burner shows CPU time / wall time; the time series is stored', async (t) => {
  const dir = await workflowDir(`name: usage
resource_monitor: {granularity: time_series, sample_interval_seconds: 1}
resource_requirements:
  - {name: small, num_cpus: 1, memory: 100m, runtime: PT30M}
jobs:
  - name: big
    command: node ${HOG} --mb 300 --report big.json
    resource_requirements: small
  - name: burner
    command: node ${HOG} --cpu-ms 2500 --report burner.json
    resource_requirements: small
`);
  const run = await runTorc(['reconcile', 'wf.yaml', '--no-server', '--format', 'json'], { cwd: dir });
  t.is(run.code, 0, run.stderr);
  const db = ['--db', path.join(dir, '.torc', 'wf.db')];

  const report = await runTorc(['reports', 'check-resource-utilization', '1', ...db, '--format', 'json'], { cwd: dir });
  t.is(report.code, 0, report.stderr);
  const r = json<{ violations: { job_name: string; resource_type: string; specified: string; peak_used: string; over_utilization: string }[]; over_utilization_count: number; total_results: number }>(report.stdout);
  t.is(r.total_results, 2);
  const memory = r.violations.find((v) => v.job_name === 'big' && v.resource_type === 'Memory');
  t.truthy(memory, report.stdout);
  t.is(memory!.specified, '100.0 MB');
  t.regex(memory!.over_utilization, /^\+\d+\.\d%$/);

  const results = json<{ results: { job_name: string; peak_memory_bytes: number; peak_memory_gb: number; avg_memory_bytes: number; avg_memory_gb: number; avg_cpu_percent: number; peak_cpu_percent: number; job_stdout: string; job_stderr: string }[] }>(
    (await runTorc(['reports', 'results', '1', ...db], { cwd: dir })).stdout,
  ).results;
  const big = results.find((x) => x.job_name === 'big')!;
  const truth = json<{ rss_anon_bytes: number }>(readFileSync(path.join(dir, 'big.json'), 'utf8')).rss_anon_bytes;
  t.true(Math.abs(big.peak_memory_bytes - truth) <= 0.1 * truth, `peak ${(big.peak_memory_bytes / MIB).toFixed(1)} MiB, held ${(truth / MIB).toFixed(1)} MiB`);
  // torc's documented names, in GiB, alongside the API's bytes.
  t.is(big.peak_memory_gb, Math.round((big.peak_memory_bytes / 1024 ** 3) * 1e4) / 1e4);
  t.true(big.peak_memory_gb > 0.25 && big.avg_memory_gb > 0 && big.avg_memory_gb <= big.peak_memory_gb);
  t.true(existsSync(big.job_stdout) && existsSync(big.job_stderr), 'the report names the job\'s real output files');
  t.log(`300 MB job: peak_memory_bytes ${(big.peak_memory_bytes / MIB).toFixed(1)} MiB, the job held ${(truth / MIB).toFixed(1)} MiB`);

  const burner = results.find((x) => x.job_name === 'burner')!;
  const own = json<{ cpu_seconds: number; wall_seconds: number }>(readFileSync(path.join(dir, 'burner.json'), 'utf8'));
  const expected = (100 * own.cpu_seconds) / own.wall_seconds;
  t.true(Math.abs(burner.avg_cpu_percent - expected) <= 0.25 * expected, `avg ${burner.avg_cpu_percent}% vs the job's own CPU / wall ${expected.toFixed(1)}%`);
  t.true(burner.peak_cpu_percent >= burner.avg_cpu_percent);
  t.log(`CPU burner: avg_cpu_percent ${burner.avg_cpu_percent} (its own CPU time / wall time: ${expected.toFixed(1)}%)`);

  // The time series went to the store (time_series granularity) and reads back per job over the same API the server serves.
  const store = await Store.open(path.join(dir, '.torc', 'wf.db'));
  t.teardown(() => store.close());
  const samples = await store.listResourceSamples(1, { job_id: 2, limit: 1000 });
  t.true(samples.total >= 1, 'the burner was sampled');
  t.true(samples.items.every((s) => s.run_id === 1 && s.attempt_id === 1 && s.num_processes >= 1));
});

test('a job past its runtime is terminated and diagnosed likely_timeout; the end summary, jobs list, results and events say so, with the job\'s output paths and last stderr lines', async (t) => {
  const dir = await workflowDir(`name: slow
resource_requirements:
  - {name: quick, num_cpus: 1, memory: 50m, runtime: PT1S}
jobs:
  - name: sleeper
    command: bash -c 'echo "starting the long part" >&2; exec sleep 600'
    resource_requirements: quick
  - name: broken
    command: bash -c 'echo "first line" >&2; echo "it broke, no such input" >&2; exit 3'
`);
  const run = await runTorc(['reconcile', 'wf.yaml', '--no-server'], { cwd: dir });
  t.is(run.code, 1);
  // The end summary: each failed job, its diagnosis, its output files and how its stderr ends.
  t.regex(run.stdout, /✗ job sleeper \(id 1, attempt 1\) terminated, return code 143: likely_timeout \(runtime limit\)/);
  t.regex(run.stdout, /✗ job broken \(id 2, attempt 1\) failed, return code 3: unknown \(exit code\)/);
  t.regex(run.stdout, /stderr: .*job_stdio\/job_2_1\.e/);
  t.regex(run.stdout, /\| it broke, no such input/);
  t.regex(run.stdout, /\| starting the long part/);

  const db = ['--db', path.join(dir, '.torc', 'wf.db')];
  const jobs = json<{ name: string; status: number; failure_diagnosis: string | null }[]>((await runTorc(['jobs', 'list', '1', ...db, '--format', 'json'], { cwd: dir })).stdout);
  t.deepEqual(jobs.map((j) => [j.name, j.failure_diagnosis]), [['sleeper', 'likely_timeout'], ['broken', 'unknown']]);
  const table = (await runTorc(['jobs', 'list', '1', ...db], { cwd: dir })).stdout;
  t.regex(table, /diagnosis/);
  t.regex(table, /likely_timeout/);

  const summary = json<{ jobs_by_status: Record<string, number>; failed_jobs: { job_name: string; failure_diagnosis: string; stderr_tail: string[] }[] }>(
    (await runTorc(['reports', 'summary', '1', ...db, '--format', 'json'], { cwd: dir })).stdout,
  );
  t.is(summary.jobs_by_status.terminated, 1);
  t.deepEqual(summary.failed_jobs.find((f) => f.job_name === 'broken')!.stderr_tail, ['first line', 'it broke, no such input']);

  const store = await Store.open(path.join(dir, '.torc', 'wf.db'));
  t.teardown(() => store.close());
  const events = (await store.listEvents(1, { limit: 100 })).items.filter((e) => e.category === 'job_failed');
  t.deepEqual(
    events.map((e) => [(e.data as { name: string }).name, (e.data as { failure_diagnosis: string }).failure_diagnosis, (e.data as { diagnosis_reason: string }).diagnosis_reason]).sort(),
    [['broken', 'unknown', 'exit_code'], ['sleeper', 'likely_timeout', 'runtime_limit']],
  );
  const failedReport = json<{ failed_jobs: { job_name: string; likely_timeout?: boolean; timeout_reason?: string }[] }>(
    (await runTorc(['reports', 'check-resource-utilization', '1', ...db, '--include-failed', '--format', 'json'], { cwd: dir })).stdout,
  );
  t.like(failedReport.failed_jobs.find((f) => f.job_name === 'sleeper'), { likely_timeout: true, timeout_reason: 'runtime_limit' });

  // Recovery raises its runtime (and leaves the unknown failure alone): shown by a dry run, nothing changed.
  const dry = await runTorc(['recover', '1', ...db, '--dry-run'], { cwd: dir });
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /job sleeper \(id 1\): likely_timeout, runtime PT1S -> PT2S/);
  t.regex(dry.stdout, /job broken \(id 2\): unknown, left alone: unknown cause/);
  t.is((await store.getJob(1)).status, 'terminated', 'a dry run changes nothing');
});

withCgroup('--enforce-memory: a job over its memory is OOM-killed and diagnosed likely_oom; torc recover runs it again with 1.5× memory and it completes', async (t) => {
  // ~230 MB charged (a 220 MB buffer and node's own): over 200m, under 1.5 × 200m = 300m.
  const dir = await workflowDir(`name: oom
resource_requirements:
  - {name: tight, num_cpus: 1, memory: 200m, runtime: PT30M}
jobs:
  - name: grower
    command: node ${HOG} --mb 220
    resource_requirements: tight
  - name: after
    command: "true"
    depends_on: [grower]
    cancel_on_blocking_job_failure: true
`);
  const run = await runTorc(['reconcile', 'wf.yaml', '--no-server', '--enforce-memory'], { cwd: dir });
  t.is(run.code, 1);
  t.regex(run.stdout, /✗ job grower \(id 1, attempt 1\) failed, return code 137: likely_oom \(oom kill\)/);
  const db = path.join(dir, '.torc', 'wf.db');

  const recover = await runTorc(['recover', '1', '--db', db, '--no-server', '--enforce-memory'], { cwd: dir });
  t.is(recover.code, 0, `${recover.stdout}\n${recover.stderr}`);
  t.regex(recover.stderr, /job grower \(id 1\): likely_oom, memory 200m -> 300m/);
  const store = await Store.open(db);
  t.teardown(() => store.close());
  const jobs = (await store.listJobs(1)).items;
  t.deepEqual(jobs.map((j) => [j.name, j.status]), [['grower', 'completed'], ['after', 'completed']], 'it and the job behind it completed');
  const raised = (await store.listEvents(1, { limit: 100 })).items.find((e) => e.category === 'job_resources_raised');
  t.like(raised?.data, { job_id: 1, reason: 'recover', failure_diagnosis: 'likely_oom', from: { memory_bytes: 200 * MIB }, to: { memory_bytes: 300 * MIB } });
  const rr = (await store.listResourceRequirements(1)).find((r) => r.job_id === 1);
  t.is(rr?.memory_bytes, 300 * MIB, "the job's own requirements were raised, not the shared entry");
  t.is((await store.listResourceRequirements(1)).find((r) => r.name === 'tight')!.memory_bytes, 200 * MIB);
});

withCgroup('reconcile --recover does it by itself: OOM-killed, raised, run again, Succeeded', async (t) => {
  const dir = await workflowDir(`name: auto
resource_requirements:
  - {name: tight, num_cpus: 1, memory: 200m, runtime: PT30M}
jobs:
  - {name: grower, command: node ${HOG} --mb 220, resource_requirements: tight}
`);
  const run = await runTorc(['reconcile', 'wf.yaml', '--no-server', '--enforce-memory', '--recover', '--format', 'json'], { cwd: dir });
  t.is(run.code, 0, `${run.stdout}\n${run.stderr}`);
  t.regex(run.stderr, /recovery round 1/);
  t.regex(run.stderr, /likely_oom, memory 200m -> 300m/);
  const [row] = json<{ phase: string; failed_jobs: unknown[] }[]>(run.stdout);
  t.is(row!.phase, 'Succeeded');
  t.deepEqual(row!.failed_jobs, []);
});

test('reconcile --recover stops after --max-recoveries rounds and leaves unknown failures alone', async (t) => {
  const dir = await workflowDir(`name: stubborn
resource_requirements:
  - {name: quick, num_cpus: 1, memory: 50m, runtime: PT1S}
jobs:
  - {name: sleeper, command: "sleep 600", resource_requirements: quick}
  - {name: broken, command: "bash -c 'exit 3'"}
`);
  const run = await runTorc(['reconcile', 'wf.yaml', '--no-server', '--recover', '--max-recoveries', '2', '--runtime-multiplier', '1.5'], { cwd: dir });
  t.is(run.code, 1);
  t.is(run.stderr.match(/recovery round \d/g)?.length, 2, run.stderr);
  t.regex(run.stderr, /runtime PT1S -> PT2S/);
  t.regex(run.stderr, /runtime PT2S -> PT3S/);
  t.regex(run.stderr, /job broken \(id 2\): unknown, left alone/);
  const bad = await runTorc(['reconcile', 'wf.yaml', '--recover', '--memory-multiplier', '0.5'], { cwd: dir });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--memory-multiplier: expected a number greater than 1/);
});
