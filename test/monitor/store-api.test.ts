/**
 * Results, samples and recovery over the REST API (a real server on 127.0.0.1, a real SQLite
 * file): the summary a runner sends is stored and served under torc's names, a failed attempt
 * sent without a diagnosis is diagnosed by the server, samples are validated, bounded and paged,
 * and recovery raises a job's own requirements in one transaction.
 */
import test from 'ava';
import { MAX_SAMPLES_PER_ATTEMPT } from '../../src/store/index.js';
import { startTestApi } from '../support/api.js';
import { MB, makePlan } from '../support/plans.js';
import { checkInvariants } from '../support/invariants.js';

async function runningWorkflow(t: Parameters<typeof startTestApi>[0], jobs = 2) {
  const api = await startTestApi(t);
  const plan = makePlan({
    classes: [{ name: 'mem', memory_bytes: 100 * MB, runtime_seconds: 100 }],
    jobs: [...Array.from({ length: jobs }, (_, i) => ({ name: `j${i + 1}`, rc: 'mem' })), { name: 'after', after: ['j1'], cancelOnFailure: true }],
  });
  const wf = await api.store.createWorkflowFromPlan(plan);
  await api.store.initializeJobs(wf.id);
  const node = await api.client.registerComputeNode(wf.id, {
    hostname: 'h', pid: 1, num_cpus: 8, memory_gb: 4, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 'local', lease_seconds: 60,
  });
  const claimed = await api.client.claimNextJobs(wf.id, jobs, node.id, { start_run_id: 1 });
  return { api, wf, node, ids: claimed.jobs.map((j) => j.id) };
}

const base = { exec_time_minutes: 1, completion_time: '2026-01-01T00:00:00Z' };

test('complete_job: the resource summary and diagnosis a runner sends are stored and listed under torc\'s names; a failure sent without one is diagnosed by the server', async (t) => {
  const { api, wf, ids } = await runningWorkflow(t);
  await api.client.completeJob(ids[0]!, 'failed', 1, {
    ...base, return_code: 137, peak_memory_bytes: 100 * MB, avg_memory_bytes: 80 * MB, peak_cpu_percent: 180.5, avg_cpu_percent: 95.25,
    job_stdout: '/out/job_1_1.o', job_stderr: '/out/job_1_1.e',
  });
  // A torc runner: no diagnosis, and it ran past 90% of its runtime before being killed.
  await api.client.completeJob(ids[1]!, 'terminated', 1, { ...base, exec_time_minutes: 95 / 60, return_code: 143 });
  const results = (await api.client.listResults(wf.id)).items;
  t.like(results[0], {
    peak_memory_bytes: 100 * MB, avg_memory_bytes: 80 * MB, peak_cpu_percent: 180.5, avg_cpu_percent: 95.25,
    failure_diagnosis: 'likely_oom', diagnosis_reason: 'sigkill_peak_at_limit', job_stdout: '/out/job_1_1.o', attempt_id: 1,
  });
  t.like(results[1], { failure_diagnosis: 'likely_timeout', diagnosis_reason: 'near_runtime', peak_memory_bytes: null });
  const events = (await api.client.listEvents(wf.id)).items.filter((e) => e.category === 'job_failed');
  t.deepEqual(events.map((e) => (e.data as { failure_diagnosis: string }).failure_diagnosis), ['likely_oom', 'likely_timeout']);
  t.like(events[0]!.data, { name: 'j1', status: 'failed', return_code: 137, peak_memory_bytes: 100 * MB, memory_bytes: 100 * MB, job_stderr: '/out/job_1_1.e' });
  t.deepEqual((await checkInvariants(api.store.db)).violations, []);
});

test('complete_job: bad monitoring fields are refused naming them, and nothing is stored', async (t) => {
  const { api, wf, ids } = await runningWorkflow(t);
  const res = await api.http('POST', `/jobs/${ids[0]}/complete_job/failed/1`, {
    body: { ...base, return_code: 1, peak_memory_bytes: -5, failure_diagnosis: 'maybe_oom' },
  });
  t.is(res.status, 400);
  t.true(res.json.issues.some((i: { path: string }) => i.path === 'body.peak_memory_bytes'), res.text);
  t.true(res.json.issues.some((i: { path: string }) => i.path === 'body.failure_diagnosis'), res.text);
  t.is((await api.client.listResults(wf.id)).total_count, 0);
  t.is((await api.store.getJob(ids[0]!)).status, 'running', 'still running');
});

test('job_resource_samples: stored and paged per job, run and attempt; validated (400 naming the field, 404 for another workflow\'s job); bounded per attempt', async (t) => {
  const { api, wf, ids } = await runningWorkflow(t);
  const sample = (i: number, job = ids[0]!) => ({ job_id: job, run_id: 1, attempt_id: 1, timestamp: 1_700_000_000 + i, cpu_percent: i % 2 ? 100 : 50, memory_bytes: i * MB, num_processes: 1 + (i % 3) });
  await api.client.recordResourceSamples(wf.id, [sample(0), sample(1), sample(0, ids[1]!)]);
  const page = await api.client.listResourceSamples(wf.id, { job_id: ids[0]! });
  t.is(page.total_count, 2);
  t.deepEqual(page.items[1], sample(1));

  const bad = await api.http('POST', `/workflows/${wf.id}/job_resource_samples`, { body: { samples: [{ ...sample(2), cpu_percent: -1 }] } });
  t.is(bad.status, 400);
  t.regex(bad.text, /samples\[0\]\.cpu_percent/);
  const foreign = await api.http('POST', `/workflows/${wf.id}/job_resource_samples`, { body: { samples: [{ ...sample(2), job_id: 999 }] } });
  t.is(foreign.status, 404);
  t.regex(foreign.text, /samples\[0\]\.job_id/);

  // Past the bound an attempt's samples merge pairwise: the whole timeline at a coarser step.
  const many = Array.from({ length: MAX_SAMPLES_PER_ATTEMPT + 200 }, (_, i) => sample(10 + i));
  for (let i = 0; i < many.length; i += 300) await api.client.recordResourceSamples(wf.id, many.slice(i, i + 300));
  const all = await api.store.listResourceSamples(wf.id, { job_id: ids[0]!, limit: 10_000 });
  t.true(all.total <= MAX_SAMPLES_PER_ATTEMPT, `${all.total} rows`);
  t.is(all.items[0]!.timestamp, 1_700_000_000, 'the start is kept');
  t.true(all.items[all.items.length - 1]!.timestamp >= many[many.length - 2]!.timestamp, 'and the end');
  t.is(Math.max(...all.items.map((s) => s.memory_bytes)), many[many.length - 1]!.memory_bytes, 'the highest memory survives merging');
  t.is((await api.store.listResourceSamples(wf.id, { job_id: ids[1]!, limit: 10 })).total, 1, 'other jobs untouched');
});

test('recover: refused (409) while jobs run; then raises the OOM job\'s own memory, resets it and its canceled dependent in a new run; a dry run changes nothing', async (t) => {
  const { api, wf, ids } = await runningWorkflow(t);
  await api.client.completeJob(ids[0]!, 'failed', 1, { ...base, return_code: 137, peak_memory_bytes: 100 * MB });
  const busy = await api.http('POST', `/workflows/${wf.id}/recover`, { body: {} });
  t.is(busy.status, 409);
  t.regex(busy.text, /1 claimed or running job/);
  await api.client.completeJob(ids[1]!, 'completed', 1, { ...base, return_code: 0 });
  t.is((await api.store.getStatus(wf.id)).counts.canceled, 1, 'the dependent was canceled');

  const dry = await api.client.recoverWorkflow(wf.id, { memory_multiplier: 2 }, true);
  t.like(dry.steps[0], { job_id: ids[0], diagnosis: 'likely_oom', action: 'raise', to: { memory_bytes: 200 * MB } });
  t.is((await api.store.getWorkflow(wf.id)).run_id, 1);
  t.is((await api.store.getJob(ids[0]!)).status, 'failed');

  const done = await api.client.recoverWorkflow(wf.id, { memory_multiplier: 2 });
  t.is(done.run_id, 2);
  t.is(done.reset, 2, 'the job and its canceled dependent');
  const job = await api.store.getJob(ids[0]!);
  t.is(job.status, 'ready', 'ready again');
  const own = (await api.store.listResourceRequirements(wf.id)).find((r) => r.job_id === ids[0]);
  t.is(own?.memory_bytes, 200 * MB);
  t.is((await api.store.listResourceRequirements(wf.id)).find((r) => r.name === 'mem')!.memory_bytes, 100 * MB, 'the shared entry is unchanged');
  t.is((await api.store.getStatus(wf.id)).counts.blocked, 1);
  const bad = await api.http('POST', `/workflows/${wf.id}/recover`, { body: { memory_multiplier: 0.5 } });
  t.is(bad.status, 400);
  t.regex(bad.text, /memory_multiplier/);
  t.deepEqual((await checkInvariants(api.store.db)).violations, []);
});
