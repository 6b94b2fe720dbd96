/** `torc slurm …` and `torc worker` refusing bad input, through the real binary and a real server. */
import test from 'ava';
import { runTorc } from '../support/cli.js';
import { startTestApi } from '../support/api.js';

const SPEC = `
name: cli-errors
slurm_schedulers:
  - {name: cpu, walltime: "00:05:00"}
jobs:
  - {name: a, command: "true", scheduler: cpu}
`;

test('schedule-nodes: bad arguments exit 2 naming the flag; an unknown scheduler exits 1 listing the known ones', async (t) => {
  const api = await startTestApi(t);
  const { workflow_id } = await api.client.createWorkflowFromSpec(SPEC);
  const [sched] = await api.store.listSlurmSchedulers(workflow_id);
  const base = ['slurm', 'schedule-nodes', String(workflow_id), '--url', api.server.baseUrl];

  let r = await runTorc([...base, '--scheduler-config-id', String(sched!.id), '--num-hpc-jobs', '0']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--num-hpc-jobs: expected an integer ≥ 1/);

  r = await runTorc([...base, '--scheduler-config-id', 'x']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--scheduler-config-id/);

  r = await runTorc(['slurm', 'schedule-nodes', String(workflow_id), '--scheduler-config-id', '1'], { env: { TORC_API_URL: '' } });
  t.is(r.code, 2);
  t.regex(r.stderr, /--url: the API URL is required/);

  r = await runTorc([...base, '--scheduler-config-id', String(sched!.id + 100)]);
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`slurm scheduler ${sched!.id + 100} of workflow ${workflow_id} \\(its schedulers: ${sched!.id} \\(cpu\\)\\) not found`));

  r = await runTorc(['slurm', 'allocations', String(workflow_id), '--url', api.server.baseUrl, '--format', 'json']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), [], 'nothing was submitted');
});

test('worker: outside an allocation it exits 2 naming SLURM_JOB_ID; bad flags exit 2', async (t) => {
  const api = await startTestApi(t);
  const { workflow_id } = await api.client.createWorkflowFromSpec(SPEC);
  const env = { SLURM_JOB_ID: undefined, SLURM_JOBID: undefined };
  let r = await runTorc(['worker', String(workflow_id), '--url', api.server.baseUrl], { env });
  t.is(r.code, 2);
  t.regex(r.stderr, /SLURM_JOB_ID: not inside a Slurm allocation/);
  r = await runTorc(['worker', String(workflow_id), '--url', api.server.baseUrl, '--max-parallel-jobs', '0'], { env });
  t.is(r.code, 2);
  t.regex(r.stderr, /--max-parallel-jobs/);
  r = await runTorc(['worker', 'abc', '--url', api.server.baseUrl], { env });
  t.is(r.code, 2);
  t.regex(r.stderr, /workflow: expected an integer/);
});

test('scheduled_compute_nodes over HTTP: record an allocation, list it, refuse a scheduler of another workflow', async (t) => {
  const api = await startTestApi(t);
  const { workflow_id } = await api.client.createWorkflowFromSpec(SPEC);
  const [sched] = await api.store.listSlurmSchedulers(workflow_id);
  const made = await api.client.createScheduledComputeNode({ workflow_id, scheduler_config_id: sched!.id, scheduler_id: '123' });
  t.like(made, { workflow_id, scheduler_config_id: sched!.id, scheduler_id: 123, scheduler_type: 'slurm', status: 'pending', state: 'SUBMITTED' });
  const page = await api.client.listScheduledComputeNodes(workflow_id, { open_only: true });
  t.deepEqual(page.items.map((a) => a.scheduler_id), [123]);
  const other = await api.client.createWorkflowFromSpec(SPEC.replace('cli-errors', 'other'));
  const bad = await api.http('POST', '/scheduled_compute_nodes', { body: { workflow_id: other.workflow_id, scheduler_config_id: sched!.id, scheduler_id: '5' } });
  t.is(bad.status, 404);
  const malformed = await api.http('POST', '/scheduled_compute_nodes', { body: { workflow_id, scheduler_config_id: sched!.id, scheduler_id: '5; rm' } });
  t.is(malformed.status, 400);
  t.is((await api.client.listScheduledComputeNodes(workflow_id)).total_count, 1, 'nothing else was recorded');
});
