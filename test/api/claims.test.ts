/**
 * The seed's scenarios through HTTP: resource-aware claims (torc's pooled body, our per-node
 * body and the seed's GET form), sort methods, runtime against time_limit, scheduler binding
 * (strict and not), queue depth, and two runners mixing strategies on one workflow.
 */
import test from 'ava';
import type { ClaimResponse } from '../../src/contract/client.js';
import { JobStatus } from '../../src/contract/status.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { GB, makePlan, type PlanSketch } from '../support/plans.js';

async function workflow(api: TestApi, sketch: PlanSketch): Promise<number> {
  const wf = await api.store.createWorkflowFromPlan(makePlan(sketch));
  const init = await api.http('POST', `/workflows/${wf.id}/initialize_jobs`);
  if (init.status !== 200) throw new Error(init.text);
  return wf.id;
}

const SEED_ABC: PlanSketch = {
  classes: [{ name: 'half', num_cpus: 16, memory_bytes: 64 * GB }],
  jobs: [{ name: 'A', rc: 'half' }, { name: 'B', rc: 'half' }, { name: 'C', rc: 'half' }],
};

const names = (res: { jobs: { name: string }[] }) => res.jobs.map((j) => j.name);

async function readyNames(api: TestApi, wf: number): Promise<string[]> {
  return (await api.client.listJobs(wf, { status: 'ready' })).items.map((j) => j.name);
}

test('seed: 32 CPUs / 128 GB runner, three 16-CPU / 64 GB jobs → exactly two claimed (torc pooled body), C stays ready', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api, SEED_ABC);
  const res = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10?sort_method=none`, {
    body: { num_cpus: 32, memory_gb: 128, num_gpus: 0, num_nodes: 1, time_limit: null, scheduler_config_id: null },
  });
  t.is(res.status, 200);
  t.deepEqual(names(res.json), ['A', 'B']);
  t.true(res.json.jobs.every((j: { status: string }) => j.status === 'pending'));
  t.deepEqual(await readyNames(api, wf), ['C']);
  t.is((await api.client.getProgress(wf)).counts.pending, 2);
  // A second claim with the same (now used) capacity still finds C: the server does not track runner usage.
  const again = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10`, { body: { num_cpus: 16, memory_gb: 64 } });
  t.deepEqual(names(again.json), ['C']);
  const none = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10`, { body: { num_cpus: 16, memory_gb: 64 } });
  t.deepEqual(none.json.jobs, []);
  t.is(typeof none.json.reason, 'string');
});

test('seed: the same claim through the seed GET form and through the typed client (per-node form)', async (t) => {
  const api = await startTestApi(t);
  const wf1 = await workflow(api, SEED_ABC);
  const viaGet = await api.http('GET', `/workflows/${wf1}/claim_jobs_based_on_resources?limit=10&num_cpus=32&memory_gb=128&sort_method=none`);
  t.is(viaGet.status, 200);
  t.deepEqual(names(viaGet.json), ['A', 'B']);
  t.deepEqual(await readyNames(api, wf1), ['C']);

  const wf2 = await workflow(api, SEED_ABC);
  const viaClient = await api.client.claimJobsBasedOnResources(wf2, {
    capacity: { nodes: [{ name: 'n0', num_cpus: 32, memory_bytes: 128 * GB, num_gpus: 0 }], time_limit_seconds: null, scheduler_config_id: null },
    sort_method: 'none',
    limit: 10,
  });
  t.deepEqual(names(viaClient), ['A', 'B']);
  t.deepEqual(viaClient.jobs.map((j) => j.assigned_nodes), [['n0'], ['n0']]);
  t.deepEqual(viaClient.jobs[0]!.resources, { num_cpus: 16, memory_bytes: 64 * GB, num_gpus: 0, num_nodes: 1, runtime_seconds: 3600 });
  t.deepEqual(await readyNames(api, wf2), ['C']);
});

test('seed: queue depth with limit 3 claims all three, resources ignored (POST and the seed GET form)', async (t) => {
  const api = await startTestApi(t);
  const wf1 = await workflow(api, SEED_ABC);
  const post = await api.http('POST', `/workflows/${wf1}/claim_next_jobs?limit=3`);
  t.is(post.status, 200);
  t.deepEqual(names(post.json), ['A', 'B', 'C']);
  t.deepEqual(await readyNames(api, wf1), []);

  const wf2 = await workflow(api, SEED_ABC);
  const get = await api.http('GET', `/workflows/${wf2}/claim_next_jobs?limit=2`);
  t.deepEqual(names(get.json), ['A', 'B']);
  const rest = await api.client.claimNextJobs(wf2, 5);
  t.deepEqual(names(rest), ['C']);
});

test('per-node packing: two 16-CPU nodes never take a 24-CPU job; two 12-CPU jobs land one per node', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api, {
    classes: [
      { name: 'c24', num_cpus: 24, memory_bytes: 8 * GB },
      { name: 'c12', num_cpus: 12, memory_bytes: 8 * GB },
    ],
    jobs: [{ name: 'wide', rc: 'c24' }, { name: 'x', rc: 'c12' }, { name: 'y', rc: 'c12' }],
  });
  const res = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10`, {
    body: {
      nodes: [
        { name: 'n1', num_cpus: 16, memory_gb: 64 },
        { name: 'n2', num_cpus: 16, memory_gb: 64 },
      ],
    },
  });
  t.is(res.status, 200);
  t.deepEqual(names(res.json).sort(), ['x', 'y']);
  t.deepEqual(res.json.jobs.map((j: { assigned_nodes: string[] }) => j.assigned_nodes[0]).sort(), ['n1', 'n2']);
  t.deepEqual(await readyNames(api, wf), ['wide']);
});

test('sort methods order the claim; none keeps queue order', async (t) => {
  const api = await startTestApi(t);
  const sketch: PlanSketch = {
    classes: [
      { name: 'long', num_cpus: 1, memory_bytes: 4 * GB, runtime_seconds: 8 * 3600 },
      { name: 'fat', num_cpus: 1, memory_bytes: 64 * GB, runtime_seconds: 3600 },
      { name: 'gpu', num_cpus: 1, memory_bytes: 1 * GB, num_gpus: 1, runtime_seconds: 1800 },
    ],
    jobs: [{ name: 'long', rc: 'long' }, { name: 'fat', rc: 'fat' }, { name: 'gpu', rc: 'gpu' }],
  };
  const body = { num_cpus: 1, memory_gb: 128, num_gpus: 1 };
  const expected: Record<string, string[]> = {
    gpus_runtime_memory: ['gpu', 'long', 'fat'],
    gpus_memory_runtime: ['gpu', 'fat', 'long'],
    none: ['long', 'fat', 'gpu'],
  };
  for (const [method, order] of Object.entries(expected)) {
    const wf = await workflow(api, sketch);
    const claimed: string[] = [];
    // One CPU: one job per claim, so each claim shows the method's first choice among the rest.
    for (let i = 0; i < 3; i++) {
      const res = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/1?sort_method=${method}`, { body });
      t.is(res.status, 200);
      claimed.push(...names(res.json));
    }
    t.deepEqual(claimed, order, method);
  }
  const bad = await api.http('POST', `/workflows/1/claim_jobs_based_on_resources/1?sort_method=fastest`, { body });
  t.is(bad.status, 400);
  t.is(bad.json.field, 'sort_method');
});

test('a job whose runtime exceeds time_limit is never claimed', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api, {
    classes: [
      { name: 'long', runtime_seconds: 8 * 3600 },
      { name: 'short', runtime_seconds: 1800 },
    ],
    jobs: [{ name: 'long', rc: 'long' }, { name: 'short', rc: 'short' }],
  });
  const res = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10`, {
    body: { num_cpus: 64, memory_gb: 256, time_limit: 'PT1H' },
  });
  t.deepEqual(names(res.json), ['short']);
  const again = await api.http('GET', `/workflows/${wf}/claim_jobs_based_on_resources?limit=10&num_cpus=64&memory_gb=256&time_limit=PT4H`);
  t.deepEqual(again.json.jobs, []);
  t.regex(again.json.reason, /time limit/);
  t.deepEqual(await readyNames(api, wf), ['long']);
  const badLimit = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10`, {
    body: { num_cpus: 64, memory_gb: 256, time_limit: 'one hour' },
  });
  t.is(badLimit.status, 400);
  t.is(badLimit.json.field, 'body.time_limit');
});

test('scheduler binding: a runner gets its scheduler\'s jobs and unbound ones; strict mode only its own; none for another cluster', async (t) => {
  const api = await startTestApi(t);
  const sketch: PlanSketch = {
    schedulers: ['gpu_cluster', 'highmem_cluster'],
    jobs: [
      { name: 'model_training', scheduler: 'gpu_cluster' },
      { name: 'large_analysis', scheduler: 'highmem_cluster' },
      { name: 'preprocessing' },
    ],
  };
  const wf = await workflow(api, sketch);
  const schedulers = await api.client.listSlurmSchedulers(wf);
  const gpu = schedulers.items.find((s) => s.name === 'gpu_cluster')!.id;
  const highmem = schedulers.items.find((s) => s.name === 'highmem_cluster')!.id;
  const runner = (id: number | null) => ({ num_cpus: 32, memory_gb: 512, num_gpus: 8, scheduler_config_id: id });

  const strict = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10?strict_scheduler_match=true`, { body: runner(gpu) });
  t.deepEqual(names(strict.json), ['model_training']);

  const gpuRunner = await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/10`, { body: runner(gpu) });
  t.deepEqual(names(gpuRunner.json), ['preprocessing'], 'the unbound job is the fallback of a non-strict runner');

  const wf2 = await workflow(api, sketch);
  const ids2 = await api.client.listSlurmSchedulers(wf2);
  const gpu2 = ids2.items.find((s) => s.name === 'gpu_cluster')!.id;
  const unboundRunner = await api.http('POST', `/workflows/${wf2}/claim_jobs_based_on_resources/10`, { body: runner(null) });
  t.deepEqual(names(unboundRunner.json), ['preprocessing'], 'a runner without a scheduler takes only unbound jobs');
  const gpuRunner2 = await api.http('POST', `/workflows/${wf2}/claim_jobs_based_on_resources/10`, { body: runner(gpu2) });
  t.deepEqual(names(gpuRunner2.json), ['model_training'], 'bound jobs never go to another cluster');
  t.deepEqual(await readyNames(api, wf2), ['large_analysis']);
  t.not(highmem, gpu);
});

/** Registers a node, starts every claimed job on it and completes them. */
async function runAll(api: TestApi, wf: number, claimed: ClaimResponse, nodeId: number): Promise<void> {
  const { run_id } = await api.client.getProgress(wf);
  for (const job of claimed.jobs) await api.client.startJob(job.id, run_id, nodeId);
  for (const job of claimed.jobs) {
    await api.client.completeJob(job.id, 'completed', run_id, {
      return_code: 0,
      exec_time_minutes: 0.5,
      completion_time: new Date().toISOString(),
    });
  }
}

test('two runners mix strategies on one workflow: resource-aware takes the large jobs, queue depth the small ones; all finish once', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api, {
    settings: { jobs_sort_method: 'gpus_memory_runtime' },
    classes: [{ name: 'large', num_cpus: 16, memory_bytes: 100 * GB }],
    jobs: [
      ...Array.from({ length: 6 }, (_, i) => ({ name: `small_${i}` })),
      { name: 'large_0', rc: 'large' },
      { name: 'large_1', rc: 'large' },
      { name: 'final', after: ['large_0', 'large_1', 'small_0'] },
    ],
  });
  const registration = (type: string, cpus: number, mem: number) => ({
    hostname: 'localhost', pid: process.pid, num_cpus: cpus, memory_gb: mem, num_gpus: 0, num_nodes: 1,
    scheduler_config_id: null, compute_node_type: type, lease_seconds: 300,
  });
  const big = await api.client.registerComputeNode(wf, registration('resource-aware', 32, 256));
  const many = await api.client.registerComputeNode(wf, registration('queue-depth', 4, 8));
  // The resource-aware runner claims first with the workflow's sort method (largest memory first).
  const resourceClaim = await api.client.claimJobsBasedOnResources(wf, {
    capacity: { nodes: [{ name: 'big', num_cpus: 32, memory_bytes: 256 * GB, num_gpus: 0 }], time_limit_seconds: null, scheduler_config_id: null },
    limit: 10,
    compute_node_id: big.id,
  });
  // Both large jobs fill its 32 CPUs: no small job fits beside them.
  t.deepEqual(names(resourceClaim), ['large_0', 'large_1']);
  const queueClaim = await api.client.claimNextJobs(wf, 50, many.id);
  t.deepEqual(names(queueClaim), Array.from({ length: 6 }, (_, i) => `small_${i}`));
  const claimedIds = [...resourceClaim.jobs, ...queueClaim.jobs].map((j) => j.id);
  t.is(new Set(claimedIds).size, claimedIds.length, 'no job claimed twice');

  await runAll(api, wf, resourceClaim, big.id);
  await runAll(api, wf, queueClaim, many.id);
  const last = await api.client.claimNextJobs(wf, 50, many.id);
  t.deepEqual(names(last), ['final']);
  await runAll(api, wf, last, many.id);

  const status = await api.client.getWorkflowStatus(wf);
  t.true(status.is_complete);
  t.is(status.phase, 'Succeeded');
  t.is(status.counts.completed, 9);
  const results = await api.client.listResults(wf);
  t.is(results.total_count, 9);
  t.deepEqual(new Set(results.items.map((r) => r.job_id)).size, 9, 'every job completed exactly once');
  t.deepEqual((await api.client.isComplete(wf)).is_complete, true);
  const nodes = await api.client.listComputeNodes(wf);
  t.deepEqual(nodes.items.map((n) => n.compute_node_type), ['resource-aware', 'queue-depth']);
});

test('concurrent HTTP claimers of both kinds never get the same job, and together get every job', async (t) => {
  const api = await startTestApi(t);
  const wf = await workflow(api, {
    classes: [{ name: 'two', num_cpus: 2, memory_bytes: 2 * GB }],
    jobs: Array.from({ length: 300 }, (_, i) => ({ name: `j${i}`, rc: i % 3 === 0 ? 'two' : undefined })),
  });
  const seen: number[] = [];
  const claimer = async (k: number) => {
    for (;;) {
      const res =
        k % 2 === 0
          ? await api.http('POST', `/workflows/${wf}/claim_next_jobs?limit=7`)
          : await api.http('POST', `/workflows/${wf}/claim_jobs_based_on_resources/50`, {
              body: { nodes: [{ name: 'a', num_cpus: 8, memory_gb: 8 }, { name: 'b', num_cpus: 4, memory_gb: 4 }] },
            });
      t.is(res.status, 200);
      if (res.json.jobs.length === 0) return;
      seen.push(...res.json.jobs.map((j: { id: number }) => j.id));
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, k) => claimer(k)));
  t.is(seen.length, 300);
  t.is(new Set(seen).size, 300, 'no job claimed twice');
  t.is((await api.client.getProgress(wf)).counts.pending, 300);
});
