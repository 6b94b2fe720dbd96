/**
 * Item 3, REST dispatch: a workflow of N no-op jobs behind `torc server` (its own process);
 * C concurrent external claimers (bench/workers/claimers.ts, another process) claim, start
 * and complete jobs over HTTP. Figure: jobs/s. Ceilings measured in the same run: the raw
 * SQLite write-transaction rate through the store's own connection wrapper (one-row UPDATE
 * per transaction), and the same claim/start/complete loop against the store in-process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Database } from '../src/store/db.js';
import { Store } from '../src/store/index.js';
import { JobStatus } from '../src/contract/status.js';
import { runWorker, tempDir, TORC_BIN } from './lib/proc.js';
import type { BenchContext, BenchSection, Target } from './lib/section.js';
import { fmt, perSecond, summarize, table, times, verdict } from './lib/stats.js';
import { createWorkflowFile, noopSpec } from './lib/workflows.js';

export interface DispatchOptions {
  /** Jobs in the workflow. */
  jobs: number;
  /** Jobs processed per run and mode (runs take consecutive slices of the same workflow). */
  jobsPerRun: number;
  claimers: number;
  /** Jobs asked for per claim. */
  batch: number;
  /** A larger claim batch for the bulk mode as well (0: none). */
  bulkBatch: number;
}

interface Mode {
  key: string;
  mode: 'per-job' | 'bulk';
  batch: number;
  label: string;
}

interface ServerProc {
  baseUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startTorcServer(dbPath: string): Promise<ServerProc> {
  const child = spawn(process.execPath, [TORC_BIN, 'server', '--db', dbPath, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`torc server exited ${code}: ${stderr}`)));
  });
  return {
    baseUrl,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Write transactions per second through src/store/db.ts, `concurrency` callers. With one caller
 * every transaction has its own commit (the ceiling the per-job rates are compared with);
 * concurrent callers share group commits (src/store/db.ts).
 */
export async function rawWriteRate(dbPath: string, transactions: number, concurrency = 8): Promise<number> {
  const db = await Database.open(dbPath);
  try {
    await db.withWriter((w) => w.exec('CREATE TABLE bench_t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)'));
    await db.withWriteTransaction((tx) =>
      tx.run('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) INSERT INTO bench_t (id, v) SELECT x, 0 FROM c'),
    );
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < transactions) {
          const i = next++;
          await db.withWriteTransaction((tx) => tx.run('UPDATE bench_t SET v = v + 1 WHERE id = ?', [(i % 1000) + 1]));
        }
      }),
    );
    return transactions / ((performance.now() - started) / 1000);
  } finally {
    await db.close();
  }
}

/** The claimers' loop against the store in this process (no HTTP): jobs/s. */
async function inProcessRate(store: Store, workflowId: number, jobs: number, claimers: number, batch: number): Promise<number> {
  const runId = (await store.getStatus(workflowId)).run_id;
  const nodes = await Promise.all(
    Array.from({ length: claimers }, (_, i) =>
      store.registerComputeNode(workflowId, {
        hostname: `bench-inproc-${i}`, pid: process.pid, num_cpus: 1, memory_gb: 1, num_gpus: 0, num_nodes: 1,
        scheduler_config_id: null, compute_node_type: 'bench', lease_seconds: 600,
      }),
    ),
  );
  let left = jobs;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    nodes.map(async (node) => {
      while (left > 0) {
        const want = Math.min(batch, left);
        left -= want;
        const claim = await store.claimNextJobs(workflowId, want, node.id);
        left += want - claim.jobs.length;
        if (claim.jobs.length === 0) return;
        for (const job of claim.jobs) {
          await store.startJob(job.id, runId, node.id);
          await store.completeJob(job.id, 'completed', runId, { return_code: 0, exec_time_minutes: 0, completion_time: new Date().toISOString() });
          done++;
        }
      }
    }),
  );
  const rate = done / ((performance.now() - started) / 1000);
  for (const n of nodes) await store.deactivateComputeNode(n.id);
  return rate;
}

export async function runDispatchBench(ctx: BenchContext, o: DispatchOptions): Promise<BenchSection> {
  const tmp = tempDir('dispatch');
  try {
    const modes: Mode[] = [
      { key: 'http_per_job', mode: 'per-job', batch: o.batch, label: `HTTP, torc's per-job calls: claim_next_jobs (batch ${o.batch}), then start_job and complete_job per job` },
      { key: 'http_bulk', mode: 'bulk', batch: o.batch, label: `HTTP, bulk: claim_next_jobs?start_run_id (claim + start, batch ${o.batch}), then one complete_jobs` },
    ];
    if (o.bulkBatch > 0 && o.bulkBatch !== o.batch) {
      modes.push({ key: `http_bulk_${o.bulkBatch}`, mode: 'bulk', batch: o.bulkBatch, label: `HTTP, bulk as above with batch ${o.bulkBatch}` });
    }
    const needed = o.jobsPerRun * ctx.runs * modes.length;
    if (needed > o.jobs) throw new Error(`--rest-jobs ${o.jobs} is too small for ${ctx.runs} runs × ${modes.length} modes × ${o.jobsPerRun} jobs`);
    const dbPath = path.join(tmp.dir, 'dispatch.db');
    let t0 = performance.now();
    const workflowId = await createWorkflowFile(dbPath, noopSpec(o.jobs, 'dispatch'));
    ctx.log(`dispatch: stored ${o.jobs} jobs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const raw: number[] = [];
    const inproc: number[] = [];
    const completeP99: number[] = [];
    const rates = new Map<string, number[]>(modes.map((m) => [m.key, []]));
    const server = await startTorcServer(dbPath);
    try {
      for (let round = 0; round < ctx.runs; round++) {
        raw.push(await rawWriteRate(path.join(tmp.dir, `raw${round}.db`), 3000, 1));
        let line = `dispatch: round ${round + 1}/${ctx.runs} raw ${perSecond(raw.at(-1)!)} tx`;
        for (const m of modes) {
          const r = await runWorker<{ done: number; ms: number; completeP99Ms: number | null }>('claimers', [
            server.baseUrl, String(workflowId), String(o.jobsPerRun), String(o.claimers), String(m.batch), m.mode,
          ]);
          if (r.done !== o.jobsPerRun) throw new Error(`claimers (${m.key}) did ${r.done} of ${o.jobsPerRun} jobs`);
          rates.get(m.key)!.push(r.done / (r.ms / 1000));
          if (m.mode === 'per-job' && r.completeP99Ms !== null) completeP99.push(r.completeP99Ms);
          line += `, ${m.key} ${perSecond(rates.get(m.key)!.at(-1)!)}`;
        }
        ctx.log(line);
      }
    } finally {
      await server.stop();
    }
    // The same loop without HTTP, on a copy of the workload (its own workflow in the same file).
    const store = await Store.open(dbPath);
    try {
      t0 = performance.now();
      const { storeWorkflow } = await import('./lib/workflows.js');
      const inprocWf = await storeWorkflow(store, noopSpec(o.jobsPerRun * ctx.runs, 'dispatch_inproc'));
      ctx.log(`dispatch: stored in-process copy in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      for (let round = 0; round < ctx.runs; round++) inproc.push(await inProcessRate(store, inprocWf, o.jobsPerRun, o.claimers, o.batch));
    } finally {
      await store.close();
    }

    const figures: Record<string, number> = {};
    const put = (k: string, xs: number[]) => {
      const s = summarize(xs);
      figures[`dispatch.${k}.median`] = s.median;
      figures[`dispatch.${k}.min`] = s.min;
      figures[`dispatch.${k}.max`] = s.max;
      return s;
    };
    const targets0: Target[] = [];
    const rawS = put('raw_write_tx_per_s', raw);
    const inS = put('store_in_process_jobs_per_s', inproc);
    const rows: string[][] = [
      ['raw SQLite write transactions (one-row UPDATE each, one commit each; ceiling)', fmt(rawS, perSecond), '—'],
      [`store in-process: claim (batch ${o.batch}) + start + complete per job, ${o.claimers} loops`, fmt(inS, perSecond), times(inS.median / rawS.median)],
    ];
    targets0.push({ name: `(3) store in-process claim + start + complete ≥ 10,000 jobs/s`, ok: inS.median >= 10_000, measured: perSecond(inS.median) });
    const targets: Target[] = targets0;
    let best = 0;
    let bestLabel = '';
    for (const m of modes) {
      const ms = put(`${m.key}_jobs_per_s`, rates.get(m.key)!);
      rows.push([m.label, fmt(ms, perSecond), times(ms.median / rawS.median)]);
      targets.push({ name: `(3) ≥ 2,000 jobs/s, ${o.claimers} HTTP claimers: ${m.mode === 'per-job' ? "torc's per-job calls" : 'bulk routes'}, batch ${m.batch}`, ok: ms.median >= 2000, measured: perSecond(ms.median) });
      if (m.mode === 'per-job') {
        const ratio = ms.median / rawS.median;
        targets.push({ name: `(3) torc's per-job calls ≥ 0.25× the raw write-transaction rate of the same round`, ok: ratio >= 0.25, measured: times(ratio) });
      }
      if (ms.median > best) {
        best = ms.median;
        bestLabel = `${m.mode === 'per-job' ? "torc's per-job calls" : 'bulk routes'}, batch ${m.batch}`;
      }
    }
    const p99 = completeP99.length ? put('http_per_job_complete_p99_ms', completeP99) : null;
    if (p99) {
      targets.push({ name: '(3) a dependent is ready ≤ 50 ms (p99) after its last blocker completes (complete_job latency, per-job calls)', ok: p99.median <= 50, measured: `${p99.median.toFixed(1)} ms` });
    }
    const markdown = [
      `A workflow of ${o.jobs.toLocaleString('en-US')} no-op jobs in \`torc server\` (own process, SQLite file); ${o.claimers} concurrent claimers in another process ` +
        `(bench/workers/claimers.ts, each its own compute node and HTTP keep-alive connection) process ${o.jobsPerRun.toLocaleString('en-US')} jobs per run; runs take ` +
        `consecutive slices of the same workflow, so the ready queue shrinks from ${o.jobs.toLocaleString('en-US')} as they go. Median (min–max) of ${ctx.runs} runs; ` +
        'the last column is the rate ÷ the raw write-transaction rate of the same round.',
      '',
      table(['what', 'rate', '÷ raw tx rate'], rows),
      '',
      `Target (3): ≥ 2,000 jobs/s: best ${perSecond(best)} (${bestLabel}) → ${verdict(best >= 2000, '≥ 2,000/s')}.`,
      ...(p99
        ? [
            '',
            `Dependents are unblocked in the transaction that records the completion, so a dependent is ready when complete_job returns: ` +
              `complete_job latency p99 with torc's per-job calls ${fmt(p99, (x) => `${x.toFixed(1)} ms`)} → ${verdict(p99.median <= 50, '≤ 50 ms')}.`,
          ]
        : []),
      '',
      `Reproduce: \`npm run bench -- --only dispatch --rest-jobs ${o.jobs} --rest-jobs-per-run ${o.jobsPerRun} --claimers ${o.claimers} --claim-batch ${o.batch} --bulk-batch ${o.bulkBatch} --runs ${ctx.runs}\`.`,
    ].join('\n');
    return { key: 'dispatch', title: `3. REST dispatch: ${o.claimers} HTTP claimers on a ${o.jobs.toLocaleString('en-US')}-job workflow`, markdown, figures, targets };
  } finally {
    tmp.remove();
  }
}
