/**
 * torc's semantics over its own API (issue 15), checked against what torc's code does: retry
 * (no body, no handler, max_retries refusing at attempt_id ≥ max_retries, a failed job's
 * downstream taken back), cancel_on_blocking_job_failure true by default, jobs built record by
 * record (implied dependencies, cycles, update_job's rules, delete), manage_status_change,
 * reset_workflow_status vs reset_job_status, torc's list filters and page size.
 */
import test from 'ava';
import { startTestApi, type TestApi } from '../support/api.js';

async function workflow(api: TestApi, name = 'wf'): Promise<number> {
  const res = await api.http('POST', '/workflows', { body: { name, user: 'tester' } });
  return res.json.id;
}

async function node(api: TestApi, wf: number): Promise<number> {
  const res = await api.http('POST', '/compute_nodes', { body: { workflow_id: wf, hostname: 'h', pid: 1, num_cpus: 8, memory_gb: 16, num_gpus: 0, num_nodes: 1, start_time: 'now', compute_node_type: 'local' } });
  return res.json.id;
}

async function jobs(api: TestApi, wf: number, specs: Record<string, unknown>[]): Promise<Record<string, number>> {
  const res = await api.http('POST', '/bulk_jobs', { body: { jobs: specs.map((s) => ({ workflow_id: wf, command: 'true', ...s })) } });
  if (res.status !== 200) throw new Error(res.text);
  return Object.fromEntries((res.json.jobs as { name: string; id: number }[]).map((j) => [j.name, j.id]));
}

async function states(api: TestApi, wf: number): Promise<Record<string, string>> {
  const res = await api.http('GET', `/jobs?workflow_id=${wf}`);
  return Object.fromEntries((res.json.items as { name: string; status: string }[]).map((j) => [j.name, j.status]));
}

const result = (status = 'failed', return_code = 1) => ({ return_code, exec_time_minutes: 0.1, completion_time: '2026-01-01T00:00:00Z', status });

/** Claims every ready job on the node and starts them. */
async function startReady(api: TestApi, wf: number, nodeId: number): Promise<number[]> {
  const claimed = await api.http('POST', `/workflows/${wf}/claim_next_jobs?limit=100`);
  const ids = (claimed.json.jobs as { id: number }[]).map((j) => j.id);
  for (const id of ids) await api.http('PUT', `/jobs/${id}/start_job/1/${nodeId}`);
  return ids;
}

test('retry_job as torc calls it: no body, no failure handler; max_retries refuses at attempt_id >= max_retries (422)', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api);
  const { a } = await jobs(api, wf, [{ name: 'a' }]);
  await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  const n = await node(api, wf);
  await startReady(api, wf, n);
  const first = await api.http('POST', `/jobs/${a}/retry/1?max_retries=3`);
  t.is(first.status, 200, first.text);
  t.like(first.json, { status: 'ready', attempt_id: 2 });
  t.is((await api.http('GET', `/results?workflow_id=${wf}&all_runs=true`)).json.total_count, 0, "torc's retry records no result");
  await startReady(api, wf, n);
  t.like((await api.http('POST', `/jobs/${a}/retry/1?max_retries=3`)).json, { attempt_id: 3 });
  await startReady(api, wf, n);
  const refused = await api.http('POST', `/jobs/${a}/retry/1?max_retries=3`);
  t.is(refused.status, 422);
  t.regex(refused.json.message, /attempt_id 3 >= max_retries 3/);
  t.like(refused.json, { field: 'max_retries', code: 422, error: { field: 'max_retries' } });
  t.like((await api.http('GET', `/jobs/${a}`)).json, { status: 'running', attempt_id: 3 }, 'nothing changed');
});

test('a failed job retried: the dependents its failure canceled wait for it again; cancel_on_blocking_job_failure is true unless said', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api);
  const ids = await jobs(api, wf, [{ name: 'a' }, { name: 'b' }, { name: 'lenient', cancel_on_blocking_job_failure: false }]);
  const dependents = await api.http('PUT', `/jobs/${ids.b}`, { body: { depends_on_job_ids: [ids.a] } });
  t.is(dependents.status, 200, dependents.text);
  t.is(dependents.json.cancel_on_blocking_job_failure, true, "torc's default");
  await api.http('PUT', `/jobs/${ids.lenient}`, { body: { depends_on_job_ids: [ids.a] } });
  await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  const n = await node(api, wf);
  await startReady(api, wf, n);
  await api.http('POST', `/jobs/${ids.a}/complete_job/failed/1`, { body: result() });
  t.deepEqual(await states(api, wf), { a: 'failed', b: 'canceled', lenient: 'ready' });
  const retried = await api.http('POST', `/jobs/${ids.a}/retry/1`);
  t.is(retried.status, 200, retried.text);
  t.deepEqual(await states(api, wf), { a: 'ready', b: 'blocked', lenient: 'blocked' }, 'both wait for the retry');
  await startReady(api, wf, n);
  await api.http('POST', `/jobs/${ids.a}/complete_job/completed/1`, { body: result('completed', 0) });
  t.deepEqual(await states(api, wf), { a: 'completed', b: 'ready', lenient: 'ready' });
  const completed = await api.http('POST', `/jobs/${ids.a}/retry/1`);
  t.is(completed.status, 409, 'a completed job is not retried');
});

test('initialize: producers of files and user data run first; a cycle through files is refused (422) and nothing is initialized', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api);
  const file = async (name: string) => (await api.http('POST', '/files', { body: { workflow_id: wf, name, path: `${name}.txt` } })).json.id as number;
  const [raw, mid] = [await file('raw'), await file('mid')];
  const ud = (await api.http('POST', '/user_data', { body: { workflow_id: wf, name: 'cfg' } })).json.id as number;
  const ids = await jobs(api, wf, [
    { name: 'make', input_file_ids: [raw], output_file_ids: [mid] },
    { name: 'use', input_file_ids: [mid], output_user_data_ids: [ud] },
    { name: 'report', input_user_data_ids: [ud] },
  ]);
  t.deepEqual((await api.http('GET', `/workflows/${wf}/required_existing_files`)).json, { files: [String(raw)] });
  t.deepEqual((await api.http('GET', `/workflows/${wf}/missing_user_data`)).json, { user_data: [] });
  t.deepEqual((await api.http('GET', `/jobs?workflow_id=${wf}&needs_file_id=${mid}`)).json.items.map((j: { name: string }) => j.name), ['use']);
  const init = await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  t.like(init.json, { ready: 1, blocked: 2 });
  t.deepEqual(await states(api, wf), { make: 'ready', use: 'blocked', report: 'blocked' });
  t.deepEqual((await api.http('GET', `/jobs?workflow_id=${wf}&upstream_job_id=${ids.make}`)).json.items.map((j: { name: string }) => j.name), ['use']);
  const deps = (await api.http('GET', `/workflows/${wf}/job_dependencies`)).json.items.map((d: { job_name: string; depends_on_job_name: string }) => `${d.job_name}<-${d.depends_on_job_name}`);
  t.deepEqual(deps.sort(), ['report<-use', 'use<-make']);

  const wf2 = await workflow(api, 'cyclic');
  const f = async (name: string) => (await api.http('POST', '/files', { body: { workflow_id: wf2, name, path: name } })).json.id as number;
  const [x, y] = [await f('x'), await f('y')];
  await jobs(api, wf2, [
    { name: 'p', input_file_ids: [x], output_file_ids: [y] },
    { name: 'q', input_file_ids: [y], output_file_ids: [x] },
  ]);
  const cyclic = await api.http('POST', `/workflows/${wf2}/initialize_jobs`);
  t.is(cyclic.status, 422);
  t.regex(cyclic.json.message, /dependency cycle through job \d+ \("[pq]"\)/);
  t.deepEqual(await states(api, wf2), { p: 'uninitialized', q: 'uninitialized' });
});

test('jobs record by record: references checked (422 naming the field), update_job follows torc’s rules, delete frees dependents', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api);
  const other = await workflow(api, 'other');
  const foreign = (await api.http('POST', '/files', { body: { workflow_id: other, name: 'f', path: 'f' } })).json.id;
  const bad = await api.http('POST', '/bulk_jobs', { body: { jobs: [{ workflow_id: wf, name: 'a', command: 'x' }, { workflow_id: wf, name: 'b', command: 'y', input_file_ids: [foreign] }] } });
  t.is(bad.status, 422);
  t.is(bad.json.field, 'jobs[1].input_file_ids[0]');
  t.is((await api.http('GET', `/jobs?workflow_id=${wf}`)).json.total_count, 0, 'nothing stored');
  const mixed = await api.http('POST', '/bulk_jobs', { body: { jobs: [{ workflow_id: wf, name: 'a', command: 'x' }, { workflow_id: other, name: 'b', command: 'y' }] } });
  t.is(mixed.status, 422);

  const ids = await jobs(api, wf, [{ name: 'a' }, { name: 'b', depends_on_job_ids: [] }]);
  const big = (await api.http('POST', '/resource_requirements', { body: { workflow_id: wf, name: 'big', num_cpus: 4, memory: '8g', runtime: 'PT2H' } })).json;
  t.like(big, { memory: '8g', runtime: 'PT2H', num_nodes: 1 });
  await api.http('PUT', `/jobs/${ids.b}`, { body: { depends_on_job_ids: [ids.a] } });
  await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  const renamed = await api.http('PUT', `/jobs/${ids.a}`, { body: { name: 'renamed' } });
  t.is(renamed.status, 422, 'name changes only while uninitialized');
  t.is(renamed.json.field, 'name');
  const moved = await api.http('PUT', `/jobs/${ids.a}`, { body: { resource_requirements_id: big.id } });
  t.is(moved.status, 200, 'requirements change at any time');
  const claim = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10`, { body: { num_cpus: 2, memory_gb: 16, num_gpus: 0, num_nodes: 1 } });
  t.deepEqual(claim.json.jobs, [], 'the claim sees the new requirements (4 CPUs do not fit 2)');
  t.is((await api.http('DELETE', `/resource_requirements/${big.id}`)).status, 409, 'requirements a job uses cannot go');
  t.is((await api.http('DELETE', `/jobs/${ids.a}`)).status, 200);
  t.deepEqual(await states(api, wf), { b: 'ready' }, 'its dependent no longer waits');
});

test('manage_status_change: no completion statuses, no stale run (422); back to uninitialized resets what ran downstream; disabled unblocks', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api);
  const ids = await jobs(api, wf, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  await api.http('PUT', `/jobs/${ids.b}`, { body: { depends_on_job_ids: [ids.a] } });
  await api.http('PUT', `/jobs/${ids.c}`, { body: { depends_on_job_ids: [ids.b] } });
  await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  t.is((await api.http('PUT', `/jobs/${ids.a}/manage_status_change/completed/1`)).status, 422);
  t.is((await api.http('PUT', `/jobs/${ids.a}/manage_status_change/running/7`)).status, 422, 'stale run_id');
  t.is((await api.http('PUT', `/jobs/${ids.b}/manage_status_change/ready/1`)).status, 422, 'b waits for a');
  t.like((await api.http('PUT', `/jobs/${ids.a}/manage_status_change/running/1`)).json, { status: 'running' });
  const n = await node(api, wf);
  await api.http('POST', `/jobs/${ids.a}/complete_job/completed/1`, { body: { ...result('completed', 0), compute_node_id: n } });
  t.deepEqual(await states(api, wf), { a: 'completed', b: 'ready', c: 'blocked' });
  const results = (await api.http('GET', `/results?workflow_id=${wf}`)).json.items;
  t.is(results[0].compute_node_id, n, "the result names the node torc's client reported");
  t.like((await api.http('PUT', `/jobs/${ids.a}/manage_status_change/uninitialized/1`)).json, { status: 'uninitialized' });
  t.deepEqual(await states(api, wf), { a: 'uninitialized', b: 'uninitialized', c: 'uninitialized' }, 'everything downstream goes back');
  await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  t.like((await api.http('PUT', `/jobs/${ids.a}/manage_status_change/disabled/1`)).json, { status: 'disabled' });
  t.deepEqual(await states(api, wf), { a: 'disabled', b: 'ready', c: 'blocked' }, 'a disabled job holds nothing up');
});

test('reset_workflow_status (torc’s: flags only, 422 while jobs run unless force) and reset_job_status; update_workflow_status never lowers run_id', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api);
  await jobs(api, wf, [{ name: 'a' }, { name: 'b' }]);
  await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  await startReady(api, wf, await node(api, wf));
  await api.http('PUT', `/workflows/${wf}/cancel`);
  t.is((await api.http('POST', `/workflows/${wf}/reset_status`)).status, 422, 'jobs are running');
  const forced = await api.http('POST', `/workflows/${wf}/reset_status?force=true`);
  t.like(forced.json, { is_canceled: false, run_id: 1 });
  t.deepEqual(await states(api, wf), { a: 'running', b: 'running' }, 'jobs untouched');
  const jobsReset = await api.http('POST', `/workflows/${wf}/reset_job_status`);
  t.like(jobsReset.json, { updated_count: 2, status: 'uninitialized', reset_type: 'all', run_id: 2 });
  t.is((await api.http('PUT', `/workflows/${wf}/status`, { body: { run_id: 1 } })).status, 422);
  t.like((await api.http('PUT', `/workflows/${wf}/status`, { body: { run_id: 5, is_archived: true } })).json, { run_id: 5, is_archived: true });
  t.deepEqual((await api.http('GET', '/workflows?is_archived=true')).json.items.map((w: { id: number }) => w.id), [wf]);
});

test('lists as torc’s: a page of up to 10,000 without a limit; results default to the latest of each job; sort_by checked', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api);
  await jobs(api, wf, Array.from({ length: 150 }, (_, i) => ({ name: `j${String(i).padStart(3, '0')}` })));
  const page = (await api.http('GET', `/jobs?workflow_id=${wf}`)).json;
  t.like(page, { count: 150, total_count: 150, has_more: false, max_limit: 10_000, limit: 10_000 });
  const sorted = (await api.http('GET', `/jobs?workflow_id=${wf}&sort_by=name&reverse_sort=true&limit=2`)).json.items.map((j: { name: string }) => j.name);
  t.deepEqual(sorted, ['j149', 'j148']);
  const bad = await api.http('GET', `/jobs?workflow_id=${wf}&sort_by=password`);
  t.is(bad.status, 400);
  t.is(bad.json.field, 'sort_by');
  const [first] = page.items as { id: number }[];
  const n = await node(api, wf);
  for (const [attempt, status] of [[1, 'failed'], [2, 'completed']] as const) {
    await api.http('POST', '/results', { body: { workflow_id: wf, job_id: first!.id, run_id: 1, attempt_id: attempt, compute_node_id: n, return_code: attempt === 1 ? 1 : 0, exec_time_minutes: 1, completion_time: 'now', status } });
  }
  t.deepEqual((await api.http('GET', `/results?workflow_id=${wf}`)).json.items.map((r: { attempt_id: number }) => r.attempt_id), [2]);
  t.deepEqual((await api.http('GET', `/results?workflow_id=${wf}&all_runs=true`)).json.items.map((r: { attempt_id: number }) => r.attempt_id), [1, 2]);
  t.deepEqual((await api.http('GET', `/results?workflow_id=${wf}&all_runs=true&status=failed`)).json.items.map((r: { status: string }) => r.status), ['failed']);
});

test('a job completed as pending_failed keeps its dependents blocked until reset_job_status with failed_only takes both back; then the workflow runs to completion', async (t) => {
  // What the stateful REST fuzz's drain does with a pending_failed job (seed 502380).
  const api = await startTestApi(t);
  const wf = await workflow(api);
  const ids = await jobs(api, wf, [{ name: 'a' }, { name: 'b' }]);
  await api.http('PUT', `/jobs/${ids.b}`, { body: { depends_on_job_ids: [ids.a] } });
  await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  const n = await node(api, wf);
  t.deepEqual(await startReady(api, wf, n), [ids.a]);
  t.is((await api.http('POST', `/jobs/${ids.a}/complete_job/pending_failed/1`, { body: result('pending_failed', 137) })).status, 200);
  t.deepEqual(await states(api, wf), { a: 'pending_failed', b: 'blocked' });
  t.deepEqual((await api.http('POST', `/workflows/${wf}/claim_next_jobs?limit=10`)).json.jobs, [], 'nothing to run until it is classified');
  const wrongRoute = await api.http('POST', `/workflows/${wf}/reset_status?failed_only=true`);
  t.is(wrongRoute.status, 400, 'the workflow reset takes no failed_only');
  t.is(wrongRoute.json.field, 'failed_only');
  const reset = await api.http('POST', `/workflows/${wf}/reset_job_status?failed_only=true`);
  t.like(reset.json, { updated_count: 2, reset_type: 'failed_only', run_id: 2 });
  await api.http('POST', `/workflows/${wf}/initialize_jobs`);
  for (const expected of [[ids.a], [ids.b]]) {
    const claimed = await api.http('POST', `/workflows/${wf}/claim_next_jobs?limit=10&compute_node_id=${n}`);
    t.deepEqual(claimed.json.jobs.map((j: { id: number }) => j.id), expected);
    for (const id of expected) {
      t.is((await api.http('PUT', `/jobs/${id}/start_job/2/${n}`)).status, 200);
      t.is((await api.http('POST', `/jobs/${id}/complete_job/completed/2`, { body: result('completed', 0) })).status, 200);
    }
  }
  t.true((await api.http('GET', `/workflows/${wf}/is_complete`)).json.is_complete);
});
