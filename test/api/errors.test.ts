/**
 * Each error class over HTTP: the status code, a JSON `{message, field?}` body, and nothing
 * changed in the store (jobs, results, nodes, events, run id) after the refused request.
 */
import test from 'ava';
import { startTestApi, storeSnapshot, type TestApi } from '../support/api.js';
import { makePlan } from '../support/plans.js';

const RESULT = { return_code: 0, exec_time_minutes: 1.5, completion_time: '2026-01-01T00:00:00Z' };

/** A workflow with job `a` running on node `node`, `b` waiting for it, and `c` pending (claimed, not started). */
async function scene(t: Parameters<typeof startTestApi>[0], options: { bodyLimitBytes?: number } = {}) {
  const api = await startTestApi(t, options);
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }, { name: 'c' }, { name: 'b', after: ['a'] }] }))).id;
  await api.client.initializeJobs(wf);
  const node = (
    await api.client.registerComputeNode(wf, {
      hostname: 'h', pid: 1, num_cpus: 4, memory_gb: 8, num_gpus: 0, num_nodes: 1, scheduler_config_id: null,
      compute_node_type: 'test', lease_seconds: 600,
    })
  ).id;
  const claimed = await api.client.claimNextJobs(wf, 2, node);
  const a = claimed.jobs.find((j) => j.name === 'a')!.id;
  const c = claimed.jobs.find((j) => j.name === 'c')!.id;
  const b = (await api.client.listJobs(wf, { name: 'b' })).items[0]!.id;
  await api.client.startJob(a, 1, node);
  return { api, wf, node, a, b, c };
}

async function expectRefused(
  t: Parameters<typeof startTestApi>[0],
  api: TestApi,
  wf: number,
  status: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ message: string; field?: string }> {
  const before = await storeSnapshot(api.store, wf);
  const res = await api.http(method, path, { body });
  t.is(res.status, status, `${method} ${path}: ${res.text}`);
  t.is(typeof res.json?.message, 'string');
  t.deepEqual(await storeSnapshot(api.store, wf), before, `${method} ${path} changed the store`);
  return res.json;
}

test('409: complete_job with a wrong run_id, or for a job that is not running, changes nothing', async (t) => {
  const { api, wf, node, a, b, c } = await scene(t);
  const stale = await expectRefused(t, api, wf, 409, 'POST', `/jobs/${a}/complete_job/completed/7`, RESULT);
  t.regex(stale.message, /run_id 7 is stale/);
  const pending = await expectRefused(t, api, wf, 409, 'POST', `/jobs/${c}/complete_job/completed/1`, RESULT);
  t.regex(pending.message, /pending, not running/);
  const blocked = await expectRefused(t, api, wf, 409, 'POST', `/jobs/${b}/complete_job/failed/1`, { ...RESULT, return_code: 1 });
  t.regex(blocked.message, /blocked, not running/);
  // The right call still works afterwards, exactly once: sent again (its answer lost) it is
  // acknowledged with the same job and applied once; a different outcome for it is refused.
  const first = await api.http('POST', `/jobs/${a}/complete_job/completed/1`, { body: { ...RESULT, attempt_id: 1, compute_node_id: node } });
  t.is(first.status, 200);
  const before = await storeSnapshot(api.store, wf);
  const again = await api.http('POST', `/jobs/${a}/complete_job/completed/1`, { body: { ...RESULT, attempt_id: 1, compute_node_id: node } });
  t.is(again.status, 200);
  t.deepEqual(again.json, first.json);
  t.deepEqual(await storeSnapshot(api.store, wf), before, 'a duplicate report changed the store');
  const otherOutcome = await expectRefused(t, api, wf, 409, 'POST', `/jobs/${a}/complete_job/failed/1`, { ...RESULT, return_code: 1 });
  t.regex(otherOutcome.message, /already reported completed/);
  t.is((await api.client.listResults(wf)).total_count, 1);
  t.is((await api.client.getJob(b)).status, 'ready');
});

test('409: a report of an older attempt or from another node than the one running the job changes nothing', async (t) => {
  const { api, wf, node, a } = await scene(t);
  const stale = await expectRefused(t, api, wf, 409, 'POST', `/jobs/${a}/complete_job/completed/1`, { ...RESULT, attempt_id: 2 });
  t.regex(stale.message, /no attempt 2 yet/);
  const other = await expectRefused(t, api, wf, 409, 'POST', `/jobs/${a}/complete_job/completed/1`, { ...RESULT, compute_node_id: node + 1 });
  t.regex(other.message, /runs on compute node \d+, not \d+/);
  // The lease runs out: the job is requeued (attempt 2); the old attempt's reports are stale.
  await api.client.deactivateComputeNode(node);
  const late = await expectRefused(t, api, wf, 409, 'POST', `/jobs/${a}/complete_job/completed/1`, { ...RESULT, attempt_id: 1, compute_node_id: node });
  t.regex(late.message, /attempt 1 of job \d+ is stale: the job was requeued and is on attempt 2/);
  await expectRefused(t, api, wf, 409, 'PUT', `/jobs/${a}/start_job/1/${node}?attempt_id=1`);
  t.is((await api.client.listResults(wf)).total_count, 0);
});

test('409: start_job on a stale run, on a job not pending, or on a deactivated node changes nothing', async (t) => {
  const { api, wf, node, a, b, c } = await scene(t);
  // The workflow is on run 1: run 2 is not (yet) valid.
  await expectRefused(t, api, wf, 409, 'PUT', `/jobs/${c}/start_job/2/${node}`);
  // `a` runs on `node`: the same start sent again is acknowledged and changes nothing; a start
  // of another attempt, or from another node, is refused.
  const before = await storeSnapshot(api.store, wf);
  const again = await api.http('POST', `/jobs/${a}/start_job/1/${node}?attempt_id=1`);
  t.is(again.status, 200);
  t.is(again.json.status, 'running');
  t.deepEqual(await storeSnapshot(api.store, wf), before);
  await expectRefused(t, api, wf, 409, 'POST', `/jobs/${a}/start_job/1/${node}?attempt_id=2`);
  const otherNode = (await api.client.registerComputeNode(wf, {
    hostname: 'h2', pid: 2, num_cpus: 4, memory_gb: 8, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 'test', lease_seconds: 600,
  })).id;
  await expectRefused(t, api, wf, 409, 'POST', `/jobs/${a}/start_job/1/${otherNode}`);
  await expectRefused(t, api, wf, 409, 'PUT', `/jobs/${b}/start_job/1/${node}`);
  // After a reset, calls carrying the old run id are stale.
  await api.client.resetStatus(wf);
  await api.client.initializeJobs(wf);
  const claimed = await api.client.claimNextJobs(wf, 1, node);
  await expectRefused(t, api, wf, 409, 'PUT', `/jobs/${claimed.jobs[0]!.id}/start_job/1/${node}`);
  t.is((await api.http('PUT', `/jobs/${claimed.jobs[0]!.id}/start_job/2/${node}`)).status, 200);
  const other = await scene(t);
  await other.api.client.deactivateComputeNode(other.node);
  await expectRefused(t, other.api, other.wf, 409, 'POST', `/compute_nodes/${other.node}/heartbeat`);
  await expectRefused(t, other.api, other.wf, 409, 'POST', `/workflows/${other.wf}/claim_next_jobs?limit=5&compute_node_id=${other.node}`);
});

test('404: unknown workflow, job or compute node changes nothing', async (t) => {
  const { api, wf, node, c } = await scene(t);
  await expectRefused(t, api, wf, 404, 'POST', `/jobs/999/complete_job/completed/1`, RESULT);
  await expectRefused(t, api, wf, 404, 'PUT', `/jobs/999/start_job/1/${node}`);
  await expectRefused(t, api, wf, 404, 'PUT', `/jobs/${c}/start_job/1/999`);
  await expectRefused(t, api, wf, 404, 'POST', `/workflows/999/claim_next_jobs?limit=3`);
  await expectRefused(t, api, wf, 404, 'POST', `/workflows/999/claim_jobs_based_on_resources/3`, { num_cpus: 1, memory_gb: 1 });
  await expectRefused(t, api, wf, 404, 'POST', `/workflows/${wf}/claim_next_jobs?limit=3&compute_node_id=999`);
  await expectRefused(t, api, wf, 404, 'POST', '/compute_nodes/999/heartbeat');
  await expectRefused(t, api, wf, 404, 'POST', '/compute_nodes', {
    workflow_id: 999, hostname: 'h', num_cpus: 1, memory_gb: 1,
  });
  await expectRefused(t, api, wf, 404, 'GET', '/jobs/999');
  await expectRefused(t, api, wf, 404, 'GET', '/jobs?workflow_id=999');
  await expectRefused(t, api, wf, 404, 'GET', '/results?workflow_id=999');
  await expectRefused(t, api, wf, 404, 'POST', '/workflows/999/initialize_jobs');
  await expectRefused(t, api, wf, 404, 'DELETE', '/workflows/999');
});

test('400: bad status, bad result fields and bad capacities name the field and change nothing', async (t) => {
  const { api, wf, a } = await scene(t);
  const status = await expectRefused(t, api, wf, 400, 'POST', `/jobs/${a}/complete_job/ready/1`, RESULT);
  t.is(status.field, 'status');
  const unknown = await expectRefused(t, api, wf, 400, 'POST', `/jobs/${a}/complete_job/finished/1`, RESULT);
  t.is(unknown.field, 'status');
  const missing = await expectRefused(t, api, wf, 400, 'POST', `/jobs/${a}/complete_job/completed/1`, { exec_time_minutes: 1, completion_time: 'now' });
  t.is(missing.field, 'body.return_code');
  const typed = await expectRefused(t, api, wf, 400, 'POST', `/jobs/${a}/complete_job/completed/1`, { ...RESULT, return_code: '0' });
  t.is(typed.field, 'body.return_code');
  const negative = await expectRefused(t, api, wf, 400, 'POST', `/jobs/${a}/complete_job/completed/1`, { ...RESULT, exec_time_minutes: -1 });
  t.is(negative.field, 'body.exec_time_minutes');
  const claimPath = `/workflows/${wf}/claim_jobs_based_on_resources/5`;
  t.is((await expectRefused(t, api, wf, 400, 'POST', claimPath, { num_cpus: -4, memory_gb: 8 })).field, 'body.num_cpus');
  t.is((await expectRefused(t, api, wf, 400, 'POST', claimPath, { num_cpus: '4', memory_gb: 8 })).field, 'body.num_cpus');
  t.is((await expectRefused(t, api, wf, 400, 'POST', claimPath, { num_cpus: 4 })).field, 'body.memory_gb');
  t.is((await expectRefused(t, api, wf, 400, 'POST', claimPath, { nodes: [] })).field, 'body.nodes');
  t.is((await expectRefused(t, api, wf, 400, 'POST', claimPath, { nodes: [{ name: 'n', num_cpus: 1.5, memory_gb: 1 }] })).field, 'body.nodes[0].num_cpus');
  t.is((await expectRefused(t, api, wf, 400, 'POST', claimPath, { nodes: [{ name: 'n', num_cpus: 1, memory_gb: 1 }, { name: 'n', num_cpus: 1, memory_gb: 1 }] })).field, 'body.nodes[1].name');
  t.is((await expectRefused(t, api, wf, 400, 'POST', claimPath, [1, 2])).field, 'body');
  t.is((await expectRefused(t, api, wf, 400, 'POST', `/workflows/${wf}/claim_jobs_based_on_resources/0`, { num_cpus: 1, memory_gb: 1 })).field, 'limit');
  t.is((await expectRefused(t, api, wf, 400, 'POST', `/workflows/${wf}/claim_next_jobs?limit=0`)).field, 'limit');
  t.is((await expectRefused(t, api, wf, 400, 'POST', '/compute_nodes', { workflow_id: wf, hostname: '', num_cpus: 1, memory_gb: 1 })).field, 'body.hostname');
});

test('413: an oversized complete_job body changes nothing', async (t) => {
  const { api, wf, a } = await scene(t, { bodyLimitBytes: 2048 });
  const res = await expectRefused(t, api, wf, 413, 'POST', `/jobs/${a}/complete_job/completed/1`, { ...RESULT, completion_time: 'x'.repeat(4096) });
  t.is(res.field, 'body');
});
