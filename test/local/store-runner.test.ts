/**
 * The runner loop against the real store (SQLite in a temp dir) through a thin in-test
 * adapter, to catch contract drift between the runner and the store early.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunnerClient } from '../../src/contract/client.js';
import { JobRunner } from '../../src/runners/local/job-runner.js';
import { detectResources } from '../../src/runners/local/resources.js';
import type { Store } from '../../src/store/index.js';
import { makePlan } from '../support/plans.js';
import { isAlive, readIntervals, tempDir, timedCommand, waitFor } from '../support/procs.js';
import { openTempStore } from '../support/store.js';

function storeClient(store: Store): RunnerClient {
  return {
    getProgress: (wf) => store.getStatus(wf),
    registerComputeNode: async (wf, node) => ({ id: (await store.registerComputeNode(wf, node)).id }),
    heartbeat: (id) => store.heartbeat(id),
    deactivateComputeNode: async (id) => void (await store.deactivateComputeNode(id)),
    claimJobsBasedOnResources: (wf, req) => store.claimJobsBasedOnResources(wf, req),
    claimNextJobs: (wf, limit, node) => store.claimNextJobs(wf, limit, node),
    startJob: async (job, run, node) => void (await store.startJob(job, run, node)),
    completeJob: async (job, status, run, result) => void (await store.completeJob(job, status, run, result)),
  };
}

const resources = () =>
  detectResources({ env: { PATH: '/usr/bin:/bin' }, hostname: 'storehost', overrides: { num_cpus: 4, memory_gb: 4, num_gpus: 0 }, cgroupRoot: '/nonexistent', procCgroupFile: '/nonexistent' });

test.serial('a diamond runs to the end on the real store, dependencies respected', async (t) => {
  const store = await openTempStore(t);
  const dir = await tempDir();
  const cmd = (name: string) => timedCommand(dir, `sleep 0.1; echo ${name} > ${dir}/${name}.out`);
  const plan = makePlan({
    classes: [{ name: 'two', num_cpus: 2 }],
    jobs: [
      { name: 'a', command: cmd('a') },
      { name: 'b', command: cmd('b'), after: ['a'], rc: 'two' },
      { name: 'c', command: cmd('c'), after: ['a'], rc: 'two' },
      { name: 'd', command: cmd('d'), after: ['b', 'c'] },
    ],
  });
  const wf = await store.createWorkflowFromPlan(plan);
  await store.initializeJobs(wf.id);
  const runner = new JobRunner({ client: storeClient(store), workflowId: wf.id, outputDir: dir, resources: await resources(), pollIntervalSeconds: 0.2 });
  t.like(await runner.run(), { reason: 'complete', completed: 4 });

  const status = await store.getStatus(wf.id);
  t.true(status.is_complete);
  t.is(status.counts.completed, 4);
  for (const n of ['a', 'b', 'c', 'd']) t.is(await readFile(path.join(dir, `${n}.out`), 'utf8'), `${n}\n`);
  const byName = new Map((await store.listJobs(wf.id)).items.map((j) => [j.name, j.id]));
  const iv = new Map(readIntervals(dir).map((i) => [i.job_id, i]));
  const at = (n: string) => iv.get(byName.get(n)!)!;
  t.true(at('b').start >= at('a').end && at('c').start >= at('a').end);
  t.true(at('d').start >= Math.max(at('b').end, at('c').end));
});

test.serial('cancel on the real store: running jobs end terminated, the rest canceled', async (t) => {
  const store = await openTempStore(t);
  const dir = await tempDir();
  const plan = makePlan({
    jobs: [
      { name: 'long1', command: `echo $$ > ${dir}/$TORC_JOB_ID.pid; sleep 300` },
      { name: 'long2', command: `echo $$ > ${dir}/$TORC_JOB_ID.pid; sleep 300` },
      { name: 'after', command: 'true', after: ['long1'] },
    ],
  });
  const wf = await store.createWorkflowFromPlan(plan);
  await store.initializeJobs(wf.id);
  const runner = new JobRunner({ client: storeClient(store), workflowId: wf.id, outputDir: dir, resources: await resources(), pollIntervalSeconds: 0.2, graceSeconds: 0.5 });
  const run = runner.run();
  const pids = async () => (await Promise.all([1, 2].map((i) => readFile(path.join(dir, `${i}.pid`), 'utf8').catch(() => '')))).map(Number).filter(Boolean);
  await waitFor(async () => (await pids()).length === 2, 60_000, 'jobs to start');
  await store.cancelWorkflow(wf.id);
  t.like(await run, { reason: 'canceled', terminated: 2 });
  const jobs = (await store.listJobs(wf.id)).items;
  t.deepEqual(jobs.map((j) => [j.name, j.status]), [['long1', 'terminated'], ['long2', 'terminated'], ['after', 'canceled']]);
  for (const p of await pids()) t.false(isAlive(p));
});

test.serial('queue depth: jobs claimed right after a reset the runner has not seen yet start and end in the new run', async (t) => {
  const store = await openTempStore(t);
  const dir = await tempDir();
  const ran = path.join(dir, 'ran');
  const wf = await store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a', command: `echo a >> ${ran}` }, { name: 'b', command: `echo b >> ${ran}; exit 3` }] }));
  await store.initializeJobs(wf.id);
  const seenBefore = await store.getStatus(wf.id);
  // "Rerun": a new run. The runner's first look at the workflow is the one from before it, as
  // when the reset lands between the runner's look and its claim (a window a busy machine
  // widens): the jobs it then claims are of the new run, not of the run it knows.
  await store.resetStatus(wf.id);
  await store.initializeJobs(wf.id);
  const run = (await store.getStatus(wf.id)).run_id;
  t.is(run, seenBefore.run_id + 1);
  let looks = 0;
  const client: RunnerClient = { ...storeClient(store), getProgress: async (id) => (looks++ === 0 ? seenBefore : store.getStatus(id)) };
  // A runner that loses the jobs goes idle after 2 s instead of waiting for them for ever.
  const runner = new JobRunner({ client, workflowId: wf.id, outputDir: dir, resources: await resources(), maxParallelJobs: 2, pollIntervalSeconds: 0.2, waitForNewJobsSeconds: 2 });
  t.like(await runner.run(), { reason: 'complete', completed: 1, failed: 1 });
  const jobs = (await store.listJobs(wf.id)).items;
  t.deepEqual(jobs.map((j) => [j.name, j.status]), [['a', 'completed'], ['b', 'failed']]);
  const results = (await store.listResults(wf.id)).items;
  t.deepEqual(results.map((r) => r.run_id), [run, run], 'both ended in the new run');
  t.deepEqual((await readFile(ran, 'utf8')).trim().split('\n').sort(), ['a', 'b'], 'each ran once');
});
