/**
 * The claim race: a real `torc server` process over a fresh SQLite file, one workflow with a
 * random mix of resource classes (GPU and two-node jobs among them) and a dependent stage, and
 * N claimers racing over HTTP. Each claimer is a registered compute node with 1–3 random
 * nodes; it keeps its own per-node ledger of what it runs, claims with its free capacity in the
 * per-node form, starts, holds each job briefly and completes it — like a real runner, without
 * processes. Recorded as it goes: jobs handed out twice, nodes over-committed, refused starts
 * and completions. Seeded, so a failure can be replayed with its seed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import type { ClaimedJobRecord } from '../../src/contract/client.js';
import { JobStatus } from '../../src/contract/status.js';
import { checkDatabaseFile, type InvariantReport } from './invariants.js';
import { rng } from './rng.js';
import { startTorcServer } from './server-proc.js';

const GIB = 1024 ** 3;

interface ClassSpec {
  name: string;
  num_cpus: number;
  memory_gb: number;
  num_gpus: number;
  num_nodes: number;
}

interface NodeShape {
  num_cpus: number;
  memory_gb: number;
  num_gpus: number;
}

export interface RaceOptions {
  jobs: number;
  claimers: number;
  seed: number;
  /** Most jobs one claim may return (default 16). */
  claimLimit?: number;
  /** Longest a job is "held" before it completes, ms (default 3). */
  holdMs?: number;
  /** Give up after this long (default 10 minutes). */
  deadlineMs?: number;
}

export interface RaceOutcome {
  seed: number;
  jobs: number;
  claimers: number;
  classes: ClassSpec[];
  /** HTTP requests the claimers sent. */
  requests: number;
  claims: number;
  seconds: number;
  /** Peak share of a node's CPUs in use, over all nodes (≤ 1 when nothing was over-committed). */
  peakCpuShare: number;
  problems: string[];
  counts: Record<string, number>;
  resultRows: number;
  invariants: InvariantReport;
}

/** Spec text: a class per group of parameterized jobs, plus a stage where each job waits for one of the first group. */
function raceSpec(jobs: number, classes: ClassSpec[], rand: () => number): string {
  const stage = Math.max(1, Math.floor(jobs / 10));
  // The classes share jobs − 2·stage at random; the first gets `stage` more, which post_i waits for.
  const share = jobs - 2 * stage;
  const weights = classes.map(() => 0.5 + rand());
  const sum = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((w) => Math.floor((share * w) / sum));
  counts[counts.length - 1]! += share - counts.reduce((a, b) => a + b, 0);
  counts[0]! += stage;
  const lines = ['name: claim-race', 'jobs_sort_method: gpus_runtime_memory', 'resource_requirements:'];
  for (const c of classes) {
    lines.push(`  - {name: ${c.name}, num_cpus: ${c.num_cpus}, memory: ${c.memory_gb}g, num_gpus: ${c.num_gpus}, num_nodes: ${c.num_nodes}, runtime: PT1H}`);
  }
  lines.push('jobs:');
  classes.forEach((c, k) => {
    lines.push(`  - {name: "${c.name}_{i}", command: "true", resource_requirements: ${c.name}, parameters: {i: "1:${counts[k]}"}}`);
  });
  lines.push(`  - {name: "post_{i}", command: "true", depends_on: ["${classes[0]!.name}_{i}"], parameters: {i: "1:${stage}"}}`);
  return `${lines.join('\n')}\n`;
}

function drawClasses(rand: () => number): ClassSpec[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const classes: ClassSpec[] = [];
  for (let k = 0; k < 6; k++) {
    classes.push({
      name: `c${k}`,
      num_cpus: 1 + Math.floor(rand() * 8),
      memory_gb: pick([1, 2, 4, 8, 16, 24]),
      num_gpus: k < 4 ? 0 : pick([1, 2]),
      num_nodes: k === 3 ? 2 : 1,
    });
  }
  return classes;
}

function drawNodes(rand: () => number, index: number): NodeShape[] {
  // The first two claimers can run anything (two big GPU nodes), so every job has a taker.
  if (index < 2) return [0, 1].map(() => ({ num_cpus: 32, memory_gb: 128, num_gpus: 4 }));
  const count = 1 + Math.floor(rand() * 3);
  return Array.from({ length: count }, () => ({
    num_cpus: 8 + Math.floor(rand() * 25),
    memory_gb: 32 + Math.floor(rand() * 97),
    num_gpus: rand() < 0.4 ? 1 + Math.floor(rand() * 4) : 0,
  }));
}

export async function runClaimRace(options: RaceOptions): Promise<RaceOutcome> {
  const rand = rng(options.seed);
  const dir = mkdtempSync(join(tmpdir(), 'torc-race-'));
  const dbPath = join(dir, 'race.db');
  const server = await startTorcServer(dbPath);
  const { proc, url } = server;
  const problems: string[] = [];
  let requests = 0;
  let claims = 0;
  let peakCpuShare = 0;
  const started = Date.now();
  try {
    const admin = new TorcClient(url, { timeoutMs: 300_000 });
    const classes = drawClasses(rand);
    const { workflow_id: wf } = await admin.createWorkflowFromSpec(raceSpec(options.jobs, classes, rand));
    await admin.initializeJobs(wf);
    const runId = (await admin.getProgress(wf)).run_id;
    const claimedBy = new Map<number, number>();
    const completed = new Set<number>();
    let done = false;

    const claimer = async (index: number) => {
      const client = new TorcClient(url, { timeoutMs: 120_000 });
      const shapes = drawNodes(rand, index);
      const node = await client.registerComputeNode(wf, {
        hostname: `claimer${index}`, pid: 1000 + index, num_cpus: shapes[0]!.num_cpus, memory_gb: shapes[0]!.memory_gb,
        num_gpus: shapes[0]!.num_gpus, num_nodes: shapes.length, scheduler_config_id: null, compute_node_type: 'race', lease_seconds: 3600,
      });
      requests++;
      const used = shapes.map(() => ({ num_cpus: 0, memory_bytes: 0, num_gpus: 0, jobs: 0 }));
      /** Jobs this claimer holds right now. */
      const holding = new Set<Promise<void>>();
      let idle = 0;
      while (!done) {
        const capacity = {
          nodes: shapes.map((s, k) => ({
            name: `n${k}`,
            num_cpus: s.num_cpus - used[k]!.num_cpus,
            memory_bytes: s.memory_gb * GIB - used[k]!.memory_bytes,
            num_gpus: s.num_gpus - used[k]!.num_gpus,
            busy: used[k]!.jobs > 0,
          })),
          time_limit_seconds: null,
          scheduler_config_id: null,
        };
        if (!capacity.nodes.some((n) => n.num_cpus > 0 && n.memory_bytes > 0)) {
          // Full: wait for one of ours to finish.
          await Promise.race([...holding, new Promise((r) => setTimeout(r, 50))]);
          continue;
        }
        const res = await client.claimJobsBasedOnResources(wf, { capacity, limit: options.claimLimit ?? 16, compute_node_id: node.id });
        requests++;
        claims++;
        for (const job of res.jobs) hold(index, node.id, job);
        if (res.jobs.length === 0) {
          // Exponential-ish backoff while others hold the rest; check completion now and then.
          idle++;
          await new Promise((r) => setTimeout(r, Math.min(50, 2 * idle) * (0.5 + rand())));
        } else {
          idle = 0;
        }
      }
      await Promise.all([...holding]);

      function hold(who: number, nodeId: number, job: ClaimedJobRecord) {
        const other = claimedBy.get(job.id);
        if (other !== undefined) problems.push(`job ${job.id} handed to claimer ${other} and again to ${who}`);
        claimedBy.set(job.id, who);
        if (job.assigned_nodes.length !== job.resources.num_nodes) problems.push(`job ${job.id}: ${job.assigned_nodes.length} nodes for a ${job.resources.num_nodes}-node job`);
        const slots = job.assigned_nodes.map((n) => Number(n.slice(1)));
        for (const k of slots) {
          const u = used[k]!;
          u.num_cpus += job.resources.num_cpus;
          u.memory_bytes += job.resources.memory_bytes;
          u.num_gpus += job.resources.num_gpus;
          u.jobs++;
          const s = shapes[k]!;
          peakCpuShare = Math.max(peakCpuShare, u.num_cpus / s.num_cpus);
          if (u.num_cpus > s.num_cpus || u.memory_bytes > s.memory_gb * GIB || u.num_gpus > s.num_gpus) {
            problems.push(`claimer ${who} node n${k} over capacity with job ${job.id}: ${JSON.stringify(u)} > ${JSON.stringify(s)}`);
          }
        }
        const p: Promise<void> = (async () => {
            try {
              await client.startJob(job.id, runId, nodeId);
              requests++;
              await new Promise((r) => setTimeout(r, rand() * (options.holdMs ?? 3)));
              await client.completeJob(job.id, 'completed', runId, { return_code: 0, exec_time_minutes: 0, completion_time: new Date().toISOString() });
              requests++;
              if (completed.has(job.id)) problems.push(`job ${job.id} completed twice`);
              completed.add(job.id);
            } catch (err) {
              problems.push(`job ${job.id} (claimer ${who}): ${(err as Error).message}`);
            } finally {
              for (const k of slots) {
                const u = used[k]!;
                u.num_cpus -= job.resources.num_cpus;
                u.memory_bytes -= job.resources.memory_bytes;
                u.num_gpus -= job.resources.num_gpus;
                u.jobs--;
              }
            }
          })();
        holding.add(p);
        void p.then(() => holding.delete(p));
      }
    };

    const watcher = async () => {
      const deadline = Date.now() + (options.deadlineMs ?? 600_000);
      while (!(await admin.isComplete(wf)).is_complete) {
        if (Date.now() > deadline || problems.length > 50) {
          problems.push(`not complete after ${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify((await admin.getProgress(wf)).counts)}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      done = true;
    };
    await Promise.all([watcher(), ...Array.from({ length: options.claimers }, (_, i) => claimer(i))]);

    const progress = await admin.getProgress(wf);
    const total = Object.values(progress.counts).reduce((a, b) => a + b, 0);
    if (claimedBy.size !== total) problems.push(`${claimedBy.size} of ${total} jobs were claimed`);
    if (completed.size !== total) problems.push(`${completed.size} of ${total} jobs completed`);
    const results = await admin.listResults(wf, { limit: 1 });
    if (results.total_count !== total) problems.push(`${results.total_count} result rows for ${total} jobs`);
    const exit = await server.stop();
    if (exit.code !== 0) problems.push(`torc server exited ${exit.code}: ${exit.stderr.slice(0, 500)}`);
    const invariants = await checkDatabaseFile(dbPath);
    return {
      seed: options.seed,
      jobs: total,
      claimers: options.claimers,
      classes,
      requests,
      claims,
      seconds: (Date.now() - started) / 1000,
      peakCpuShare,
      problems,
      counts: progress.counts,
      resultRows: results.total_count,
      invariants,
    };
  } finally {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
