/**
 * Failure policy in the store: the pure rule matching, and retry_job as one transaction
 * (result row, attempt + 1, events, raised requirements capped by what runners offer).
 */
import test from 'ava';
import { ConflictError } from '../../src/errors.js';
import { decideFailure, matchRule, raisedNeed } from '../../src/allocator/failure-policy.js';
import type { PlanFailureRule } from '../../src/spec/plan.js';
import { JobStatus } from '../../src/contract/status.js';
import { GB, makePlan } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

const rule = (r: Partial<PlanFailureRule>): PlanFailureRule => ({
  exit_codes: [], match_all_exit_codes: false, recovery_script: null, max_retries: 3, memory_multiplier: null, runtime_multiplier: null, ...r,
});
const attemptResult = (return_code: number) => ({ return_code, exec_time_minutes: 0.1, completion_time: '2026-01-01T00:00:00Z' });

test('rules: a listed exit code beats a catch-all whatever the order; max_retries bounds the attempt id, as in torc', (t) => {
  const rules = [rule({ match_all_exit_codes: true, max_retries: 1 }), rule({ exit_codes: [10, 11], max_retries: 3 })];
  t.is(matchRule(rules, 10), 1);
  t.is(matchRule(rules, 3), 0);
  t.is(matchRule([rule({ exit_codes: [1] })], 2), -1);
  // max_retries 3: attempts 1 and 2 are retried, attempt 3 is the last (torc: attempt_id >= max_retries).
  t.like(decideFailure(rules, 10, 1), { action: 'retry', rule_index: 1 });
  t.like(decideFailure(rules, 10, 2), { action: 'retry', rule_index: 1 });
  t.like(decideFailure(rules, 10, 3), { action: 'fail', reason: 'retries_exhausted', rule_index: 1 });
  t.like(decideFailure(rules, 3, 1), { action: 'fail', reason: 'retries_exhausted' });
  t.like(decideFailure([rule({ exit_codes: [1] })], 2, 1), { action: 'fail', reason: 'no_matching_rule' });
  t.like(decideFailure(null, 2, 1), { action: 'fail', reason: 'no_handler' });
});

test('raisedNeed multiplies, caps at what runners offer, never lowers, and says when nothing changes', (t) => {
  const need = { memory_bytes: 4 * GB, runtime_seconds: 600 };
  t.deepEqual(raisedNeed(need, { memory_multiplier: 2, runtime_multiplier: null }, { memory_bytes: 16 * GB, runtime_seconds: null }), {
    memory_bytes: 8 * GB, runtime_seconds: 600, capped: [],
  });
  t.deepEqual(raisedNeed(need, { memory_multiplier: 8, runtime_multiplier: 1.5 }, { memory_bytes: 10 * GB, runtime_seconds: 700 }), {
    memory_bytes: 10 * GB, runtime_seconds: 700, capped: ['memory_bytes', 'runtime_seconds'],
  });
  t.is(raisedNeed(need, { memory_multiplier: 2, runtime_multiplier: null }, { memory_bytes: 2 * GB, runtime_seconds: null }), null);
  t.is(raisedNeed(need, { memory_multiplier: null, runtime_multiplier: null }, { memory_bytes: null, runtime_seconds: null }), null);
});

async function oomScene(t: Parameters<typeof openTempStore>[0], nodeMemoryGb: number) {
  const store = await openTempStore(t);
  const plan = makePlan({
    classes: [{ name: 'mem', num_cpus: 1, memory_bytes: 4 * GB }],
    jobs: [{ name: 'oom', rc: 'mem' }, { name: 'sibling', rc: 'mem' }, { name: 'after', after: ['oom'] }],
  });
  plan.failure_handlers.push({ name: 'h', rules: [rule({ exit_codes: [137], max_retries: 3, memory_multiplier: 2 })] });
  plan.jobs[0]!.failure_handler = 0;
  const wf = (await store.createWorkflowFromPlan(plan)).id;
  await store.initializeJobs(wf);
  const node = await store.registerComputeNode(wf, {
    hostname: 'h', pid: 1, num_cpus: 8, memory_gb: nodeMemoryGb, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 't', lease_seconds: 600,
  });
  const jobs = new Map((await store.listJobs(wf)).items.map((j) => [j.name, j]));
  const oom = jobs.get('oom')!;
  const claimAndStart = async () => {
    const claimed = await store.claimJobsBasedOnResources(wf, {
      capacity: { nodes: [{ name: 'n', num_cpus: 1, memory_bytes: nodeMemoryGb * GB, num_gpus: 0 }], time_limit_seconds: null, scheduler_config_id: null },
      limit: 1,
      compute_node_id: node.id,
      any_scheduler: true,
    });
    const job = claimed.jobs.find((j) => j.id === oom.id);
    if (job) await store.startJob(job.id, 1, node.id);
    return job;
  };
  return { store, wf, node: node.id, oom, sibling: jobs.get('sibling')!, after: jobs.get('after')!, claimAndStart };
}

test('retry: result recorded, ready with attempt + 1, memory doubled on a job-own class, dependents still blocked', async (t) => {
  const s = await oomScene(t, 16);
  const first = await s.claimAndStart();
  t.truthy(first);
  t.is(first!.resources.memory_bytes, 4 * GB);
  const out = await s.store.retryJob(s.oom.id, 1, { ...attemptResult(137), status: 'failed' });
  t.is(out.attempt, 2);
  t.deepEqual(out.resources?.to, { memory_bytes: 8 * GB, runtime_seconds: 3600, capped: [] });
  const job = await s.store.getJob(s.oom.id);
  t.like(job, { status: 'ready', attempt_id: 2, return_code: 137, compute_node_id: null });
  t.like(await s.store.getJob(s.after.id), { status: 'blocked' });
  // The sibling keeps the declared 4 GB; the retried job has a row (and claim class) of its own.
  const rrs = await s.store.listResourceRequirements(s.wf);
  const own = rrs.find((r) => r.id === job.resource_requirements_id)!;
  t.like(own, { memory_bytes: 8 * GB, job_id: s.oom.id });
  t.is(rrs.find((r) => r.id === s.sibling.resource_requirements_id)!.memory_bytes, 4 * GB);
  t.like((await s.store.listResults(s.wf)).items, [{ job_id: s.oom.id, attempt_id: 1, return_code: 137, status: 'failed' }]);
  const events = (await s.store.listEvents(s.wf)).items.map((e) => e.category);
  t.true(events.includes('job_retried') && events.includes('job_resources_raised'));
  // The second attempt is claimed with its new need.
  const second = await s.claimAndStart();
  t.is(second?.resources.memory_bytes, 8 * GB);
});

test('retry caps the raise at the largest compute node; retries exhausted or a stale run → 409, nothing changed', async (t) => {
  const s = await oomScene(t, 6);
  await s.claimAndStart();
  const out = await s.store.retryJob(s.oom.id, 1, attemptResult(137));
  t.deepEqual(out.resources?.to, { memory_bytes: 6 * GB, runtime_seconds: 3600, capped: ['memory_bytes'] });
  await s.claimAndStart();
  await t.throwsAsync(s.store.retryJob(s.oom.id, 2, attemptResult(137)), { instanceOf: ConflictError, message: /stale/ });
  await t.throwsAsync(s.store.retryJob(s.oom.id, 1, attemptResult(1)), { instanceOf: ConflictError, message: /no matching rule/ });
  t.like(await s.store.retryJob(s.oom.id, 1, attemptResult(137)), { attempt: 3 });
  await s.claimAndStart();
  const before = await s.store.listResults(s.wf);
  await t.throwsAsync(s.store.retryJob(s.oom.id, 1, attemptResult(137)), { instanceOf: ConflictError, message: /retries exhausted/ });
  t.like(await s.store.getJob(s.oom.id), { status: 'running', attempt_id: 3 });
  t.deepEqual(await s.store.listResults(s.wf), before);
  // The runner then reports it as final.
  await s.store.completeJob(s.oom.id, 'failed', 1, attemptResult(137));
  t.like(await s.store.getJob(s.oom.id), { status: 'failed' });
});

test('a canceled workflow retries nothing and hands out nothing, with the reason', async (t) => {
  const s = await oomScene(t, 16);
  await s.claimAndStart();
  await s.store.cancelWorkflow(s.wf);
  await t.throwsAsync(s.store.retryJob(s.oom.id, 1, attemptResult(137)), { instanceOf: ConflictError, message: /canceled/ });
  const claim = await s.store.claimNextJobs(s.wf, 10, s.node);
  t.deepEqual(claim, { jobs: [], reason: `workflow ${s.wf} is canceled` });
  const byResources = await s.store.claimJobsBasedOnResources(s.wf, {
    capacity: { nodes: [{ name: 'n', num_cpus: 8, memory_bytes: 16 * GB, num_gpus: 0 }], time_limit_seconds: null, scheduler_config_id: null },
    limit: 10,
    compute_node_id: s.node,
  });
  t.deepEqual(byResources, { jobs: [], reason: `workflow ${s.wf} is canceled` });
});
