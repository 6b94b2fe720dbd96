/**
 * 50 runners claim concurrently from one Store over random job mixes (sizes, GPUs, multi-node
 * jobs, scheduler binding, dependencies). Each runner keeps its own per-node ledger and asks
 * with its free capacity, like a real runner. Checked: no job is claimed twice, no node is
 * ever over-committed, and every job is eventually claimed and completed.
 */
import test from 'ava';
import fc from 'fast-check';
import type { RunnerCapacity } from '../../src/allocator/types.js';
import { Store } from '../../src/store/index.js';
import { JobStatus } from '../../src/contract/status.js';
import { GB, makePlan, type JobSketch } from '../support/plans.js';
import { tempDbPath } from '../support/store.js';

const NODE = { num_cpus: 16, memory_bytes: 64 * GB, num_gpus: 2 };
const CLASSES = [
  { name: 'tiny', num_cpus: 1, memory_bytes: 1 * GB },
  { name: 'mid', num_cpus: 6, memory_bytes: 20 * GB },
  { name: 'wide', num_cpus: 12, memory_bytes: 8 * GB },
  { name: 'fat', num_cpus: 2, memory_bytes: 60 * GB },
  { name: 'gpu', num_cpus: 4, memory_bytes: 16 * GB, num_gpus: 1 },
  { name: 'gpu2', num_cpus: 8, memory_bytes: 32 * GB, num_gpus: 2 },
  { name: 'multi', num_cpus: 16, memory_bytes: 64 * GB, num_nodes: 2 },
];
const SCHEDULERS = ['s0', 's1'];

interface RunnerSpec {
  nodes: number;
  scheduler: number | null; // index into SCHEDULERS
  strict: boolean;
}

const jobArb = fc.record({
  cls: fc.nat({ max: CLASSES.length - 1 }),
  scheduler: fc.option(fc.nat({ max: SCHEDULERS.length - 1 }), { nil: null, freq: 2 }),
  blockers: fc.array(fc.nat(), { maxLength: 2 }),
});
const runnerArb = fc.record({
  nodes: fc.integer({ min: 1, max: 3 }),
  scheduler: fc.option(fc.nat({ max: SCHEDULERS.length - 1 }), { nil: null }),
  strict: fc.boolean(),
});
const mixArb = fc.record({
  jobs: fc.array(jobArb, { minLength: 20, maxLength: 120 }),
  runners: fc.array(runnerArb, { minLength: 47, maxLength: 47 }),
  sortMethod: fc.constantFrom('none' as const, 'gpus_runtime_memory' as const, 'gpus_memory_runtime' as const),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Mix = typeof mixArb extends fc.Arbitrary<infer T> ? T : never;

async function runMix(path: string, mix: Mix): Promise<void> {
  const sketches: JobSketch[] = mix.jobs.map((j, i) => ({
    name: `j${i}`,
    rc: CLASSES[j.cls]!.name,
    scheduler: j.scheduler === null ? undefined : SCHEDULERS[j.scheduler],
    // Blockers only among earlier jobs: a DAG.
    after: i === 0 ? [] : [...new Set(j.blockers.map((b) => `j${b % i}`))],
  }));
  // Three guaranteed runners (one per scheduler and one unbound, two nodes each) so that every job can be placed.
  const runners: RunnerSpec[] = [
    { nodes: 2, scheduler: 0, strict: true },
    { nodes: 2, scheduler: 1, strict: true },
    { nodes: 2, scheduler: null, strict: false },
    ...mix.runners,
  ];
  const store = await Store.open(path);
  try {
    const wf = (await store.createWorkflowFromPlan(makePlan({ classes: CLASSES, schedulers: SCHEDULERS, jobs: sketches }))).id;
    await store.initializeJobs(wf);
    const schedIds = (await store.listSlurmSchedulers(wf)).map((s) => s.id);
    const runId = (await store.getWorkflow(wf)).run_id;
    const claimedBy = new Map<number, number>();
    const problems: string[] = [];
    let done = false;

    const runner = async (r: RunnerSpec, index: number) => {
      const node = await store.registerComputeNode(wf, {
        hostname: `r${index}`, pid: index, num_cpus: NODE.num_cpus, memory_gb: 64, num_gpus: NODE.num_gpus, num_nodes: r.nodes,
        scheduler_config_id: r.scheduler === null ? null : schedIds[r.scheduler]!, compute_node_type: 'test', lease_seconds: 3600,
      });
      const used = Array.from({ length: r.nodes }, () => ({ num_cpus: 0, memory_bytes: 0, num_gpus: 0, jobs: 0 }));
      const running: Promise<void>[] = [];
      while (!done) {
        const capacity: RunnerCapacity = {
          nodes: used.map((u, k) => ({
            name: `n${k}`,
            num_cpus: NODE.num_cpus - u.num_cpus,
            memory_bytes: NODE.memory_bytes - u.memory_bytes,
            num_gpus: NODE.num_gpus - u.num_gpus,
            busy: u.jobs > 0,
          })),
          time_limit_seconds: null,
          scheduler_config_id: r.scheduler === null ? null : schedIds[r.scheduler]!,
        };
        const res = await store.claimJobsBasedOnResources(wf, {
          capacity, sort_method: mix.sortMethod, strict_scheduler_match: r.strict, limit: 8, compute_node_id: node.id,
        });
        for (const job of res.jobs) {
          if (claimedBy.has(job.id)) problems.push(`job ${job.id} claimed by runner ${claimedBy.get(job.id)} and ${index}`);
          claimedBy.set(job.id, index);
          if (job.assigned_nodes.length !== job.resources.num_nodes) problems.push(`job ${job.id}: ${job.assigned_nodes.length} nodes`);
          const slots = job.assigned_nodes.map((n) => used[Number(n.slice(1))]!);
          for (const u of slots) {
            u.num_cpus += job.resources.num_cpus;
            u.memory_bytes += job.resources.memory_bytes;
            u.num_gpus += job.resources.num_gpus;
            u.jobs++;
            if (u.num_cpus > NODE.num_cpus || u.memory_bytes > NODE.memory_bytes || u.num_gpus > NODE.num_gpus) {
              problems.push(`runner ${index} over-committed by job ${job.id}: ${JSON.stringify(u)}`);
            }
          }
          await store.startJob(job.id, runId, node.id);
          running.push(
            (async () => {
              await sleep(Math.random() * 5);
              await store.completeJob(job.id, 'completed', runId, { return_code: 0, exec_time_minutes: 0, completion_time: 't' });
              for (const u of slots) {
                u.num_cpus -= job.resources.num_cpus;
                u.memory_bytes -= job.resources.memory_bytes;
                u.num_gpus -= job.resources.num_gpus;
                u.jobs--;
              }
            })(),
          );
        }
        if (res.jobs.length === 0) await sleep(2 + Math.random() * 8);
      }
      await Promise.all(running);
    };

    const watcher = async () => {
      const deadline = Date.now() + 90_000;
      while (!(await store.isComplete(wf))) {
        if (Date.now() > deadline) {
          problems.push(`not complete in time: ${JSON.stringify((await store.getStatus(wf)).counts)}`);
          break;
        }
        await sleep(20);
      }
      done = true;
    };
    await Promise.all([watcher(), ...runners.map(runner)]);

    if (problems.length) throw new Error(problems.slice(0, 10).join('\n'));
    const status = await store.getStatus(wf);
    if (status.counts.completed !== sketches.length) throw new Error(`completed ${status.counts.completed} of ${sketches.length}`);
    if (claimedBy.size !== sketches.length) throw new Error(`claimed ${claimedBy.size} of ${sketches.length}`);
    const results = await store.listResults(wf, { limit: 10_000 });
    if (results.total !== sketches.length) throw new Error(`${results.total} result rows for ${sketches.length} jobs`);
    const pending = await store.listJobs(wf, { status: 'pending' });
    if (pending.total !== 0) throw new Error('jobs left pending');
  } finally {
    await store.close();
  }
}

test('50 concurrent claimers over random job mixes: no double claim, no over-commit, every job claimed', async (t) => {
  t.timeout(300_000);
  let runs = 0;
  const outcome = await fc.check(
    fc.asyncProperty(mixArb, async (mix) => {
      runs++;
      await runMix(await tempDbPath(t), mix);
    }),
    // Each run is a whole simulation: few runs, and no long shrinking on this shared 2-core machine.
    { numRuns: 4, endOnFailure: true },
  );
  if (outcome.failed) t.fail(`seed ${outcome.seed}: ${String(outcome.errorInstance)}\n${JSON.stringify(outcome.counterexample)?.slice(0, 2000)}`);
  else t.is(runs, 4);
});
