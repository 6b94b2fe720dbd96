/**
 * The bulk forms over HTTP (issue 9): claim-and-start, start_jobs and complete_jobs, each one
 * request and one transaction, with per-job results that match what the single routes answer.
 */
import test from 'ava';
import { JobStatus } from '../../src/contract/status.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { makePlan } from '../support/plans.js';

const node = {
  hostname: 'h', pid: 1, num_cpus: 4, memory_gb: 8, num_gpus: 0, num_nodes: 1,
  scheduler_config_id: null, compute_node_type: 'local', lease_seconds: 60,
};
const result = { return_code: 0, exec_time_minutes: 0.1, completion_time: '2026-01-01T00:00:00Z' };

async function setup(t: Parameters<typeof startTestApi>[0], token?: string) {
  const api = await startTestApi(t, { token });
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd', after: ['a', 'b'] }] }))).id;
  await api.store.initializeJobs(wf);
  const nodeId = (await api.store.registerComputeNode(wf, node)).id;
  return { api, wf, nodeId };
}

const statuses = async (api: TestApi, wf: number) =>
  Object.fromEntries((await api.store.listJobs(wf)).items.map((j) => [j.name, j.status]));

test('claim_next_jobs with start_run_id hands out running jobs; a stale run id is 409 and claims nothing', async (t) => {
  const { api, wf, nodeId } = await setup(t);
  const stale = await api.http('POST', `/workflows/${wf}/claim_next_jobs?limit=2&compute_node_id=${nodeId}&start_run_id=7`);
  t.is(stale.status, 409);
  const noNode = await api.http('POST', `/workflows/${wf}/claim_next_jobs?limit=2&start_run_id=1`);
  t.is(noNode.status, 400);
  t.is(noNode.json.field, 'compute_node_id');
  t.like(await statuses(api, wf), { a: 'ready', b: 'ready' });
  const res = await api.client.claimNextJobs(wf, 2, nodeId, { start_run_id: 1 });
  t.deepEqual(res.jobs.map((j) => [j.name, j.status]), [['a', 'running'], ['b', 'running']]);
  t.like(await statuses(api, wf), { a: 'running', b: 'running', c: 'ready' });
});

test('start_jobs and complete_jobs: per-job results in request order; refused jobs change nothing', async (t) => {
  const { api, wf, nodeId } = await setup(t);
  const claimed = (await api.client.claimNextJobs(wf, 2, nodeId)).jobs.map((j) => j.id);
  const ids = Object.fromEntries((await api.store.listJobs(wf)).items.map((j) => [j.name, j.id]));
  const started = await api.client.startJobs(wf, [...claimed, ids.c!, 999_999], 1, nodeId);
  t.deepEqual(started.map((r) => [r.ok, r.status]), [[true, undefined], [true, undefined], [false, 409], [false, 404]]);
  t.like(await statuses(api, wf), { a: 'running', b: 'running', c: 'ready' });

  const done = await api.client.completeJobs(wf, 1, [
    { job_id: ids.a!, status: 'completed', ...result },
    { job_id: ids.b!, status: 'failed', ...result, return_code: 2 },
    { job_id: ids.c!, status: 'completed', ...result },
  ]);
  t.deepEqual(done.map((r) => [r.job_id, r.ok, r.status]), [[ids.a, true, undefined], [ids.b, true, undefined], [ids.c, false, 409]]);
  t.like(await statuses(api, wf), { a: 'completed', b: 'failed', c: 'ready', d: 'ready' });
  const results = (await api.store.listResults(wf)).items.map((r) => [r.job_id, r.status, r.return_code]);
  t.deepEqual(results, [[ids.a, 'completed', 0], [ids.b, 'failed', 2]]);
});

test('bulk routes: another workflow\'s jobs are not found, bad bodies are 400 naming the field, the token is required', async (t) => {
  const { api, wf, nodeId } = await setup(t, 'secret');
  const other = (await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'x' }] }))).id;
  await api.store.initializeJobs(other);
  const otherNode = (await api.store.registerComputeNode(other, node)).id;
  const x = (await api.store.claimNextJobs(other, 1, otherNode)).jobs[0]!.id;
  const cross = await api.http('POST', `/workflows/${wf}/start_jobs/1/${nodeId}`, { body: { job_ids: [x] }, token: 'secret' });
  t.is(cross.status, 200);
  t.like(cross.json.items[0], { job_id: x, ok: false, status: 404 });
  t.is((await api.store.getJob(x)).status, 'pending');

  const noToken = await api.http('POST', `/workflows/${wf}/start_jobs/1/${nodeId}`, { body: { job_ids: [x] } });
  t.is(noToken.status, 401);
  const empty = await api.http('POST', `/workflows/${wf}/start_jobs/1/${nodeId}`, { body: { job_ids: [] }, token: 'secret' });
  t.is(empty.status, 400);
  t.regex(JSON.stringify(empty.json), /job_ids/);
  const badItem = await api.http('POST', `/workflows/${wf}/complete_jobs/1`, { body: { jobs: [{ job_id: 1, status: 'completed' }] }, token: 'secret' });
  t.is(badItem.status, 400);
  t.regex(JSON.stringify(badItem.json), /return_code/);
  const badStatus = await api.http('POST', `/workflows/${wf}/complete_jobs/1`, {
    body: { jobs: [{ job_id: x, status: 'finished', ...result }] },
    token: 'secret',
  });
  t.is(badStatus.status, 200);
  t.like(badStatus.json.items[0], { ok: false, status: 400 });
});
