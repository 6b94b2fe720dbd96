/**
 * Leftovers of a reconcile process that died (kill -9, a crashed login node session):
 * - its compute node stays "active" with running jobs until its lease runs out; when it ran on
 *   this host and its pid is gone, we know at once and requeue its jobs;
 * - the job processes it started keep running in their own process groups; we kill them, so a
 *   requeued job never runs twice at the same time. Pid files under the output dir record
 *   them; a pid is only killed when /proc shows it still is that job (pids get reused).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../store/index.js';

export function pidDir(outputDir: string): string {
  return join(outputDir, '.torc', 'pids');
}

export function recordJobPid(outputDir: string, workflowId: number, jobId: number, pid: number): void {
  const dir = pidDir(outputDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${workflowId}-${jobId}.pid`), String(pid));
}

export function forgetJobPid(outputDir: string, workflowId: number, jobId: number): void {
  rmSync(join(pidDir(outputDir), `${workflowId}-${jobId}.pid`), { force: true });
}

function isJobProcess(pid: number, jobId: number): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    return env.includes(`TORC_JOB_ID=${jobId}`);
  } catch {
    return false;
  }
}

/** Kills the process groups of jobs left running by a dead runner; returns how many. */
export function killOrphanJobs(outputDir: string): number {
  let files: string[];
  try {
    files = readdirSync(pidDir(outputDir));
  } catch {
    return 0;
  }
  let killed = 0;
  for (const file of files) {
    const m = /^(\d+)-(\d+)\.pid$/.exec(file);
    if (!m) continue;
    const path = join(pidDir(outputDir), file);
    const pid = Number(readFileSync(path, 'utf8'));
    if (Number.isSafeInteger(pid) && pid > 1 && isJobProcess(pid, Number(m[2]))) {
      try {
        process.kill(-pid, 'SIGKILL');
        killed++;
      } catch {
        /* already gone */
      }
    }
    rmSync(path, { force: true });
  }
  return killed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deactivates this host's compute nodes whose process is gone; their jobs return to ready. */
export async function retireDeadLocalNodes(store: Store, workflowId: number): Promise<number> {
  const host = hostname();
  let requeued = 0;
  const nodes = await store.listComputeNodes(workflowId, { activeOnly: true, limit: 10_000 });
  for (const node of nodes.items) {
    if (node.hostname === host && node.pid !== process.pid && !pidAlive(node.pid)) {
      requeued += (await store.deactivateComputeNode(node.id)).requeued_jobs;
    }
  }
  return requeued;
}
