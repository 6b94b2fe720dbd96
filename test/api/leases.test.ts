/**
 * The server retires compute nodes whose lease ran out: a runner that vanished (no heartbeat,
 * no deactivation) does not keep its claimed or running jobs; they go back to ready with
 * attempt + 1 and another runner finishes them.
 */
import test from 'ava';
import { JobStatus } from '../../src/contract/status.js';
import { startTestApi } from '../support/api.js';
import { makePlan } from '../support/plans.js';
import { waitFor } from '../support/procs.js';

test('jobs of a node whose lease expired are requeued by the server and finish elsewhere', async (t) => {
  const lines: string[] = [];
  const api = await startTestApi(t, { leaseSweepMs: 50, logger: { info: (l) => lines.push(l), error: (l) => lines.push(l) } });
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }))).id;
  await api.client.initializeJobs(wf);
  const node = (base: string, lease: number) => ({
    hostname: base, pid: 1, num_cpus: 4, memory_gb: 4, num_gpus: 0, num_nodes: 1, scheduler_config_id: null,
    compute_node_type: 'test', lease_seconds: lease,
  });
  const lost = await api.client.registerComputeNode(wf, node('lost', 3));
  const claimed = await api.client.claimNextJobs(wf, 2, lost.id);
  await api.client.startJob(claimed.jobs[0]!.id, 1, lost.id);
  // No heartbeat: the lease runs out and the sweeper requeues both jobs (one running, one pending).
  await waitFor(async () => (await api.client.getProgress(wf)).counts.ready === 3, 60_000, 'the jobs to be requeued');
  const jobs = (await api.client.listJobs(wf)).items;
  for (const id of claimed.jobs.map((j) => j.id)) t.is(jobs.find((j) => j.id === id)!.attempt_id, 2, `job ${id} is on its second attempt`);
  t.false((await api.client.listComputeNodes(wf)).items[0]!.is_active);
  t.true(lines.some((l) => /leases expired: compute nodes/.test(l)));
  // The dead node's late calls are refused; a healthy node finishes the work.
  const late = await t.throwsAsync(() => api.client.heartbeat(lost.id));
  t.is(late?.name, 'ConflictError');
  const healthy = await api.client.registerComputeNode(wf, node('healthy', 600));
  const again = await api.client.claimNextJobs(wf, 10, healthy.id);
  t.is(again.jobs.length, 3);
  for (const j of again.jobs) {
    await api.client.startJob(j.id, 1, healthy.id);
    await api.client.completeJob(j.id, 'completed', 1, { return_code: 0, exec_time_minutes: 0, completion_time: new Date().toISOString() });
  }
  t.true((await api.client.getProgress(wf)).is_complete);
});
