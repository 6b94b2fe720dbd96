/**
 * A harness for end-to-end tests on the real test Slurm: a real API server over a temp store
 * (listening where every test node reaches it: slurmApiHost), a scratch dir, the workflow
 * created from a spec (`@DIR@` = the scratch dir), `torc slurm schedule-nodes` through the real
 * binary, the reconciler's Slurm dispatch, and what jobs recorded in `<dir>/seen/<job>.<attempt>`
 * as "SLURM_JOB_ID gpus=… allocation=…" (see RECORD in test/slurm/e2e.test.ts). Teardown cancels
 * every allocation left open.
 */
import type { ExecutionContext } from 'ava';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../../src/api/app.js';
import { TorcClient } from '../../src/api/client.js';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { SlurmDispatcher } from '../../src/reconciler/slurm-dispatch.js';
import { SlurmAllocationStore } from '../../src/store/slurm-allocations.js';
import { runTorc, REPO_ROOT, TORC_BIN } from './cli.js';
import { openTempStore } from './store.js';
import { slurmApiHost } from './slurm.js';

const commands = new SlurmCommands();

export interface Seen {
  job_id: number;
  attempt: number;
  slurm_job_id: string;
  /** CUDA_VISIBLE_DEVICES as the job saw it. */
  gpus: string;
  /** The GPUs Slurm gave the whole allocation (SLURM_JOB_GPUS, the real device indices). */
  allocation_gpus: string;
}

/** A server guarded by a token and/or serving HTTPS; the harness's own client uses both. */
export interface HarnessServer {
  token?: string;
  tls?: { cert: Buffer; key: Buffer; ca: Buffer };
}

/** A server over a temp store, a scratch dir, and what jobs recorded. */
export async function harness(t: ExecutionContext, spec: string, guard: HarnessServer = {}) {
  const store = await openTempStore(t);
  const server = await startServer({ store, port: 0, host: slurmApiHost(), token: guard.token, tls: guard.tls });
  const dir = await (async () => {
    const d = path.join(os.tmpdir(), `torc-slurm-e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    await mkdir(path.join(d, 'seen'), { recursive: true });
    return d;
  })();
  const client = new TorcClient(server.baseUrl, { token: guard.token, ca: guard.tls?.ca });
  const registry = new SlurmAllocationStore(store);
  t.teardown(async () => {
    // Never leave allocations behind on the shared test Slurm.
    for (const wf of (await store.listWorkflows()).items) {
      for (const a of await registry.listOpenAllocations(wf.id)) await commands.cancel(a.slurm_job_id).catch(() => undefined);
    }
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { workflow_id: workflowId } = await client.createWorkflowFromSpec(spec.replaceAll('@DIR@', dir));
  await client.initializeJobs(workflowId);
  const schedulers = new Map((await store.listSlurmSchedulers(workflowId)).map((s) => [s.name, s]));
  const seen = async (): Promise<Seen[]> => {
    const out: Seen[] = [];
    for (const f of await readdir(path.join(dir, 'seen'))) {
      const [slurmJobId, gpus, allocationGpus] = (await readFile(path.join(dir, 'seen', f), 'utf8')).trim().split(' ');
      const [jobId, attempt] = f.split('.').map(Number);
      out.push({
        job_id: jobId!,
        attempt: attempt!,
        slurm_job_id: slurmJobId!,
        gpus: (gpus ?? '').replace(/^gpus=/, ''),
        allocation_gpus: (allocationGpus ?? '').replace(/^allocation=/, ''),
      });
    }
    return out;
  };
  const scheduleNodes = async (schedulerName: string, count: number, extra: string[] = []) => {
    const res = await runTorc(
      ['slurm', 'schedule-nodes', String(workflowId), '--url', server.baseUrl, '--scheduler-config-id', String(schedulers.get(schedulerName)!.id),
        '--num-hpc-jobs', String(count), '--output-dir', path.join(dir, 'out'), '--format', 'json', ...extra],
      { cwd: REPO_ROOT },
    );
    t.is(res.code, 0, res.stderr);
    return JSON.parse(res.stdout) as { script: string; allocations: { slurm_job_id: string }[] };
  };
  const statusOf = async (name: string) => (await store.listJobs(workflowId, { name })).items[0]!;
  const slurmLogs = async () => {
    const out = path.join(dir, 'out');
    const files = (await readdir(out).catch(() => [] as string[])).filter((f) => f.startsWith('slurm_'));
    return (await Promise.all(files.map(async (f) => `--- ${f}\n${await readFile(path.join(out, f), 'utf8')}`))).join('\n');
  };
  const dispatcher = (maxAllocationsPerScheduler: number, notices: string[] = []) =>
    new SlurmDispatcher({
      store,
      workflowId,
      policy: { maxAllocationsPerScheduler },
      launch: { url: server.baseUrl, outputDir: path.join(dir, 'out'), torcCommand: [process.execPath, TORC_BIN] },
      onNotice: (m) => notices.push(m),
    });
  return { store, server, dir, client, registry, workflowId, schedulers, seen, scheduleNodes, statusOf, slurmLogs, dispatcher };
}

