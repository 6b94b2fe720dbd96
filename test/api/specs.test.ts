/**
 * POST /workflow_specs: a spec document in YAML or JSON becomes a stored workflow (201
 * {workflow_id}); a bad one is 422 listing every issue with its path, an oversized expansion
 * 413, and in every refused case nothing is stored. Then the seed's example runs end to end
 * over HTTP from that spec.
 */
import test from 'ava';
import { JobStatus } from '../../src/contract/status.js';
import { startTestApi, type TestApi } from '../support/api.js';

const SEED = `
name: seed
description: three jobs that each need half the runner
resource_requirements:
  - name: half
    num_cpus: 16
    num_gpus: 0
    memory: 64g
    runtime: PT30M
jobs:
  - name: job_{i}
    command: echo {i}
    resource_requirements: half
    parameters:
      i: "1:3"
  - name: report
    command: echo done
    depends_on_regexes: ["^job_"]
`;

async function postSpec(api: TestApi, text: string, contentType = 'application/yaml') {
  return api.http('POST', '/workflow_specs', { body: text, headers: { 'Content-Type': contentType } });
}

test('a YAML spec creates a workflow with its jobs: 201 {workflow_id}', async (t) => {
  const api = await startTestApi(t);
  const res = await postSpec(api, SEED);
  t.is(res.status, 201, res.text);
  const id = res.json.workflow_id;
  t.true(Number.isInteger(id));
  const wf = await api.client.getWorkflow(id);
  t.is(wf.name, 'seed');
  const jobs = await api.client.listJobs(id);
  t.deepEqual(jobs.items.map((j) => j.name), ['job_1', 'job_2', 'job_3', 'report']);
  t.true(jobs.items.every((j) => j.status === 'uninitialized'));
  const rr = await api.client.listResourceRequirements(id);
  const half = rr.items.find((r) => r.name === 'half')!;
  t.is(half.memory, '64g');
  t.is(half.runtime, 'PT30M');
  t.is(half.num_cpus, 16);
});

test('the same spec as JSON (and without a Content-Type) is accepted too, also through the typed client', async (t) => {
  const api = await startTestApi(t);
  const json = JSON.stringify({ name: 'as-json', jobs: [{ name: 'a', command: 'true' }] });
  t.is((await postSpec(api, json, 'application/json')).status, 201);
  const bare = await fetch(`${api.server.baseUrl}/workflow_specs`, { method: 'POST', body: json });
  t.is(bare.status, 201);
  const viaClient = await api.client.createWorkflowFromSpec(SEED);
  t.is((await api.client.getWorkflow(viaClient.workflow_id)).name, 'seed');
  t.is((await api.client.listWorkflows()).total_count, 3);
});

test('an invalid spec is 422 listing each issue with its path; nothing is stored', async (t) => {
  const api = await startTestApi(t);
  const bad = `
name: broken
resource_requirements:
  - {name: small, num_cpus: two, memory: 4g}
jobs:
  - name: a
    command: echo a
    resource_requirements: huge
  - name: b
    depends_on: [nobody]
`;
  const res = await postSpec(api, bad);
  t.is(res.status, 422, res.text);
  t.true(typeof res.json.field === 'string' && res.json.field.startsWith('spec.'));
  const paths = (res.json.issues ?? [{ path: res.json.field }]).map((i: { path: string }) => i.path);
  t.true(paths.some((p: string) => p.includes('num_cpus')), JSON.stringify(paths));
  t.true(paths.some((p: string) => p.includes('jobs[1]')), JSON.stringify(paths));
  // On the typed client, the same answer is an InputError with every issue.
  const err = await t.throwsAsync(() => api.client.createWorkflowFromSpec(bad));
  t.is(err?.name, 'InputError');
  t.is((await api.store.listWorkflows()).total, 0);
});

test('syntax errors, alias bombs, several documents and cycles are 422; an absurd expansion is 413; nothing is stored', async (t) => {
  const api = await startTestApi(t);
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (const [i, c] of ['b', 'c', 'd', 'e', 'f', 'g', 'h'].entries()) {
    bomb.push(`${c}: &${c} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`);
  }
  const cases: [string, number][] = [
    ['name: x\njobs:\n  - name: a\n   command: [unclosed\n', 422],
    [`${bomb.join('\n')}\nname: x\njobs: []\n`, 422],
    ['name: one\njobs: [{name: a, command: x}]\n---\nname: two\njobs: [{name: b, command: y}]\n', 422],
    ['name: loop\njobs:\n  - {name: a, command: x, depends_on: [b]}\n  - {name: b, command: y, depends_on: [a]}\n', 422],
    ['- just\n- a list\n', 422],
    ['name: huge\njobs:\n  - name: j_{i}_{k}\n    command: x\n    parameters: {i: "1:2000", k: "1:2000"}\n', 413],
    ['   \n', 400],
  ];
  for (const [text, status] of cases) {
    const res = await postSpec(api, text);
    t.is(res.status, status, `${text.slice(0, 40)} → ${res.text.slice(0, 200)}`);
    t.is(typeof res.json.message, 'string');
  }
  t.is((await postSpec(api, 'name: x', 'image/png')).status, 415);
  t.is((await api.store.listWorkflows()).total, 0);
});

test('end to end over HTTP: spec → initialize → seed claims → start → complete → dependents run → complete', async (t) => {
  const api = await startTestApi(t);
  const { workflow_id: wf } = await api.client.createWorkflowFromSpec(SEED);
  const init = await api.client.initializeJobs(wf);
  t.deepEqual({ ready: init.ready, blocked: init.blocked }, { ready: 3, blocked: 1 });
  const node = await api.client.registerComputeNode(wf, {
    hostname: 'runner', pid: process.pid, num_cpus: 32, memory_gb: 128, num_gpus: 0, num_nodes: 1,
    scheduler_config_id: null, compute_node_type: 'test', lease_seconds: 120,
  });
  const { run_id } = await api.client.getProgress(wf);
  const result = { return_code: 0, exec_time_minutes: 0.1, completion_time: new Date().toISOString() };
  let rounds = 0;
  for (;;) {
    const claim = await api.http('GET', `/workflows/${wf}/claim_jobs_based_on_resources?limit=10&num_cpus=32&memory_gb=128&compute_node_id=${node.id}`);
    t.is(claim.status, 200);
    if (claim.json.jobs.length === 0) break;
    t.true(claim.json.jobs.length <= 2, 'never more than two half-size jobs at once');
    rounds++;
    for (const job of claim.json.jobs) await api.client.startJob(job.id, run_id, node.id);
    for (const job of claim.json.jobs) await api.client.completeJob(job.id, 'completed', run_id, result);
  }
  t.is(rounds, 3, 'A+B, then C with report still blocked, then report');
  const status = await api.client.getWorkflowStatus(wf);
  t.is(status.phase, 'Succeeded');
  t.true((await api.client.isComplete(wf)).is_complete);
  t.is((await api.client.listResults(wf)).total_count, 4);
  // Reset: everything back to uninitialized under a new run id; the old run id is refused.
  const reset = await api.client.resetStatus(wf);
  t.is(reset.updated_count, 4);
  t.is(reset.run_id, run_id + 1);
  await api.client.initializeJobs(wf);
  const again = await api.client.claimNextJobs(wf, 1, node.id);
  const stale = await t.throwsAsync(() => api.client.startJob(again.jobs[0]!.id, run_id, node.id));
  t.is(stale?.name, 'ConflictError');
});

test('a body declared JSON must be JSON: a trailing comma YAML would accept is 422 with its line, as torc validate says of a .json file', async (t) => {
  const api = await startTestApi(t);
  const text = '{"name": "x",\n "jobs": [{"name": "a", "command": "true"},]\n}';
  const json = await postSpec(api, text, 'application/json');
  t.is(json.status, 422, json.text);
  t.regex(json.json.message, /invalid JSON at line 2/);
  t.is((await api.store.listWorkflows()).total, 0);
  // Declared YAML (or undeclared), the same text is a valid YAML flow mapping.
  t.is((await postSpec(api, text, 'application/yaml')).status, 201);
});
