import test from 'ava';
import { capacityFromPooled } from '../../src/allocator/index.js';
import { ConflictError, InputError, NotFoundError } from '../../src/errors.js';
import { JobStatus } from '../../src/contract/status.js';
import { makePlan } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

const S = JobStatus;
const registration = (lease_seconds = 30) => ({
  hostname: 'worker-1', pid: 4242, num_cpus: 4, memory_gb: 8, num_gpus: 0, num_nodes: 1,
  scheduler_config_id: null, compute_node_type: 'local', lease_seconds,
});

test('an expired lease sends the node’s pending and running jobs back to ready with attempt + 1', async (t) => {
  let now = 1_000_000;
  const store = await openTempStore(t, { now: () => now });
  const wf = (await store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'p' }, { name: 'r' }, { name: 'd' }, { name: 'other' }] }))).id;
  await store.initializeJobs(wf);
  const runId = (await store.getWorkflow(wf)).run_id;
  const dying = await store.registerComputeNode(wf, registration(30));
  const healthy = await store.registerComputeNode(wf, registration(30));
  t.is(dying.lease_expires_ms, now + 30_000);
  t.true(dying.is_active);

  const claimed = (await store.claimNextJobs(wf, 3, dying.id)).jobs;
  t.deepEqual(claimed.map((j) => j.name), ['p', 'r', 'd']);
  const [p, r, d] = claimed;
  await store.startJob(r!.id, runId, dying.id);
  await store.startJob(d!.id, runId, dying.id);
  await store.completeJob(d!.id, 'completed', runId, { return_code: 0, exec_time_minutes: 1, completion_time: 'now' });
  const other = (await store.claimJobsBasedOnResources(wf, { capacity: capacityFromPooled({ num_cpus: 4, memory_gb: 8 }), limit: 5, compute_node_id: healthy.id })).jobs;
  t.deepEqual(other.map((j) => j.name), ['other']);
  t.is(other[0]!.compute_node_id, healthy.id);

  now += 20_000;
  await store.heartbeat(healthy.id);
  t.deepEqual(await store.expireLeases(), { expired_compute_node_ids: [], requeued_jobs: 0 });
  now += 20_000; // dying: 40 s without a heartbeat; healthy: 20 s.
  t.deepEqual(await store.expireLeases(), { expired_compute_node_ids: [dying.id], requeued_jobs: 2 });

  for (const id of [p!.id, r!.id]) {
    const job = await store.getJob(id);
    t.is(job.status, 'ready');
    t.is(job.attempt_id, 2);
    t.is(job.compute_node_id, null);
  }
  t.is((await store.getJob(d!.id)).status, 'completed', 'finished work is kept');
  t.is((await store.getJob(other[0]!.id)).status, 'pending', 'the healthy node keeps its claim');
  t.false((await store.getComputeNode(dying.id)).is_active);
  // The expired runner must register again; its heartbeats and claims are refused.
  await t.throwsAsync(() => store.heartbeat(dying.id), { instanceOf: ConflictError });
  await t.throwsAsync(() => store.claimNextJobs(wf, 1, dying.id), { instanceOf: ConflictError });
  await t.throwsAsync(() => store.startJob(p!.id, runId, dying.id), { instanceOf: ConflictError });
  // Later the healthy node stops heartbeating too.
  now += 60_000;
  const again = await store.expireLeases();
  t.deepEqual(again, { expired_compute_node_ids: [healthy.id], requeued_jobs: 1 });
  t.is((await store.listComputeNodes(wf, { activeOnly: true })).total, 0);
  t.is((await store.listComputeNodes(wf)).total, 2);
});

test('deactivating a node requeues its unfinished jobs; a canceled workflow’s orphans end canceled', async (t) => {
  const store = await openTempStore(t);
  const wf = (await store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }, { name: 'b' }] }))).id;
  await store.initializeJobs(wf);
  const node = await store.registerComputeNode(wf, registration());
  const runId = (await store.getWorkflow(wf)).run_id;
  const [a, b] = (await store.claimNextJobs(wf, 2, node.id)).jobs;
  await store.startJob(a!.id, runId, node.id);
  t.deepEqual(await store.deactivateComputeNode(node.id), { requeued_jobs: 2 });
  t.like(await store.getJob(a!.id), { status: 'ready', attempt_id: 2 });
  t.like(await store.getJob(b!.id), { status: 'ready', attempt_id: 2 });

  const node2 = await store.registerComputeNode(wf, registration());
  const [a2] = (await store.claimNextJobs(wf, 1, node2.id)).jobs;
  await store.startJob(a2!.id, runId, node2.id);
  const canceled = await store.cancelWorkflow(wf);
  t.deepEqual(canceled.running_job_ids, [a2!.id]);
  await store.deactivateComputeNode(node2.id);
  t.is((await store.getJob(a2!.id)).status, 'canceled');
  t.true((await store.getStatus(wf)).is_complete);
});

test('registration is validated field by field; unknown nodes are 404', async (t) => {
  const store = await openTempStore(t);
  const wf = (await store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }] }))).id;
  const err = await t.throwsAsync(() => store.registerComputeNode(wf, { ...registration(), hostname: '', num_cpus: -1 }), {
    instanceOf: InputError,
  });
  t.deepEqual(err.issues.map((i) => i.path), ['hostname', 'num_cpus']);
  await t.throwsAsync(() => store.registerComputeNode(wf + 1, registration()), { instanceOf: NotFoundError });
  await t.throwsAsync(() => store.heartbeat(77), { instanceOf: NotFoundError });
  await t.throwsAsync(() => store.deactivateComputeNode(77), { instanceOf: NotFoundError });
});
