/**
 * Item 4, claim latency against the ready-queue size: one resource-aware claim
 * (claim_jobs_based_on_resources through the store, in this process: allocator + SQL in one
 * write transaction) for a runner with 8 CPUs / 32 GiB, with 1k, 10k and 100k ready jobs in
 * three resource classes. Peer: the torc-style claim query re-created from torc's documented
 * behaviour (select every fitting ready job, sorted, LIMIT, then greedy), in the same store.
 * Each run restores the queue (reset + initialize, not timed) so every claim sees N ready jobs ± a few.
 */
import path from 'node:path';
import { Store } from '../src/store/index.js';
import { JobStatus } from '../src/contract/status.js';
import { capacityFromPooled } from '../src/allocator/capacity.js';
import { tempDir } from './lib/proc.js';
import type { BenchContext, BenchSection } from './lib/section.js';
import { fmt, median, millis, summarize, table, times, verdict } from './lib/stats.js';
import { storeWorkflow } from './lib/workflows.js';

export interface ClaimLatencyOptions {
  sizes: number[];
  /** Claims timed per run. */
  claimsPerRun: number;
}

export function claimSpec(n: number): string {
  const small = Math.round(n * 0.6);
  const medium = Math.round(n * 0.3);
  const large = Math.max(1, n - small - medium);
  return `name: claims_${n}
resource_requirements:
  - {name: small, num_cpus: 1, memory: 1g, runtime: PT10M}
  - {name: medium, num_cpus: 4, memory: 8g, runtime: PT1H}
  - {name: large, num_cpus: 16, memory: 64g, runtime: PT4H}
jobs:
  - {name: "s_{i}", command: "true", resource_requirements: small, parameters: {i: "1:${small}"}}
  - {name: "m_{i}", command: "true", resource_requirements: medium, parameters: {i: "1:${medium}"}}
  - {name: "l_{i}", command: "true", resource_requirements: large, parameters: {i: "1:${large}"}}
`;
}

const CAPACITY = { num_cpus: 8, memory_gb: 32, num_gpus: 0, num_nodes: 1, time_limit: null, scheduler_config_id: null };

/** torc's claim as its docs describe it: every fitting ready row, sorted, LIMIT, then greedy sums; O(ready). */
async function torcStyleClaim(store: Store, workflowId: number, limit: number): Promise<number> {
  const mem = CAPACITY.memory_gb * 1024 ** 3;
  return store.db.withWriteTransaction(async (tx) => {
    const rows = await tx.all<{ id: number; num_cpus: number; memory_bytes: number; num_gpus: number }>(
      `SELECT j.id, r.num_cpus, r.memory_bytes, r.num_gpus FROM jobs j JOIN resource_requirements r ON r.id = j.resource_requirements_id
       WHERE j.workflow_id = ? AND j.status = ${JobStatus.ready} AND r.num_cpus <= ? AND r.memory_bytes <= ? AND r.num_gpus <= ?
       ORDER BY r.num_gpus DESC, r.runtime_seconds DESC, r.memory_bytes DESC LIMIT ?`,
      [workflowId, CAPACITY.num_cpus, mem, CAPACITY.num_gpus, limit],
    );
    let cpus = 0;
    let bytes = 0;
    const chosen: number[] = [];
    for (const r of rows) {
      if (cpus + r.num_cpus > CAPACITY.num_cpus || bytes + r.memory_bytes > mem) continue;
      cpus += r.num_cpus;
      bytes += r.memory_bytes;
      chosen.push(r.id);
    }
    await tx.run(`UPDATE jobs SET status = ${JobStatus.pending} WHERE id IN (SELECT value FROM json_each(?))`, [JSON.stringify(chosen)]);
    return chosen.length;
  });
}

async function restore(store: Store, workflowId: number): Promise<void> {
  await store.resetStatus(workflowId);
  await store.initializeJobs(workflowId);
}

export async function runClaimLatencyBench(ctx: BenchContext, o: ClaimLatencyOptions): Promise<BenchSection> {
  const tmp = tempDir('claims');
  const store = await Store.open(path.join(tmp.dir, 'claims.db'));
  try {
    const capacity = capacityFromPooled(CAPACITY, 'capacity');
    const ours = new Map<number, number[]>();
    const torc = new Map<number, number[]>();
    for (const n of o.sizes) {
      const t0 = performance.now();
      const wf = await storeWorkflow(store, claimSpec(n));
      ctx.log(`claims: stored ${n} ready jobs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      ours.set(n, []);
      torc.set(n, []);
      for (let run = 0; run < ctx.runs; run++) {
        const lat: number[] = [];
        let claimed = 0;
        for (let i = 0; i < o.claimsPerRun; i++) {
          const a = performance.now();
          const res = await store.claimJobsBasedOnResources(wf, { capacity, limit: 8, sort_method: 'gpus_runtime_memory' });
          lat.push(performance.now() - a);
          claimed += res.jobs.length;
        }
        if (claimed === 0) throw new Error('claims returned nothing');
        ours.get(n)!.push(median(lat));
        await restore(store, wf);
        const tl: number[] = [];
        for (let i = 0; i < o.claimsPerRun; i++) {
          const a = performance.now();
          await torcStyleClaim(store, wf, 8);
          tl.push(performance.now() - a);
        }
        torc.get(n)!.push(median(tl));
        await restore(store, wf);
        ctx.log(`claims: ${n} ready, run ${run + 1}/${ctx.runs}: ours ${millis(ours.get(n)!.at(-1)!)}, torc-style ${millis(torc.get(n)!.at(-1)!)}`);
      }
    }
    const figures: Record<string, number> = {};
    const first = o.sizes[0]!;
    const last = o.sizes.at(-1)!;
    const rows = o.sizes.map((n) => {
      const s = summarize(ours.get(n)!);
      const t = summarize(torc.get(n)!);
      figures[`claims.${n}.ours_ms_median`] = s.median;
      figures[`claims.${n}.ours_ms_min`] = s.min;
      figures[`claims.${n}.ours_ms_max`] = s.max;
      figures[`claims.${n}.torc_style_ms_median`] = t.median;
      return [
        n.toLocaleString('en-US'),
        fmt(s, millis),
        times(s.median / median(ours.get(first)!)),
        fmt(t, millis),
        times(t.median / median(torc.get(first)!)),
        times(t.median / s.median),
      ];
    });
    const growth = median(ours.get(last)!) / median(ours.get(first)!);
    figures['claims.ours_growth'] = growth;
    const markdown = [
      `One resource-aware claim (8 CPUs, 32 GiB, limit 8, sort \`gpus_runtime_memory\`) through the store in this process; ready jobs in three classes ` +
        `(60% 1 CPU/1 GiB, 30% 4 CPUs/8 GiB, 10% 16 CPUs/64 GiB, which never fits). Figure per run: median of ${o.claimsPerRun} claims; table: median (min–max) of ${ctx.runs} runs. ` +
        'The torc-style column runs the query torc documents (all fitting ready rows, sorted, LIMIT, greedy) on the same database.',
      '',
      table(['ready jobs', 'ours', `ours ÷ ours at ${first.toLocaleString('en-US')}`, 'torc-style', `torc-style ÷ at ${first.toLocaleString('en-US')}`, 'torc-style ÷ ours'], rows),
      '',
      `Target (4): latency at ${last.toLocaleString('en-US')} ready ≤ 1.5× latency at ${first.toLocaleString('en-US')}: ${times(growth)} → ${verdict(growth <= 1.5, '≤ 1.5×')}.`,
      '',
      `Reproduce: \`npm run bench -- --only claims --claim-sizes ${o.sizes.join(',')} --runs ${ctx.runs}\`.`,
    ].join('\n');
    return {
      key: 'claims',
      title: '4. Claim latency against the ready-queue size',
      markdown,
      figures,
      targets: [{ name: `(4) claim latency at ${last.toLocaleString('en-US')} ready ≤ 1.5× at ${first.toLocaleString('en-US')}`, ok: growth <= 1.5, measured: times(growth) }],
    };
  } finally {
    await store.close();
    tmp.remove();
  }
}
