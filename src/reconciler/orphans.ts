/**
 * Leftovers of a reconcile process that died (kill -9, a crashed login node session):
 * - its compute node stays "active" with running jobs until its lease runs out; when it ran on
 *   this host and its pid is gone, we know at once and requeue its jobs;
 * - the job processes it started keep running in their own process groups; we kill them, so a
 *   requeued job never runs twice at the same time. A pid log under the output dir records
 *   them: one appended line per started job (a file per job cost ~0.5 ms of synchronous file
 *   work per job on a busy machine, issue 9). A pid is only killed when /proc shows it still is
 *   that job, so the lines of jobs that ended (or of pids reused since) are harmless.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../store/index.js';
import { pidAlive } from '../pid.js';

export function pidDir(outputDir: string): string {
  return join(outputDir, '.torc', 'pids');
}

/** The pid log of one reconcile process: `<workflow id>-<process id>.log`, lines `<job id> <pid>`. */
export class PidLog {
  private fd: number | null = null;
  readonly path: string;

  constructor(
    private readonly outputDir: string,
    workflowId: number,
  ) {
    this.path = join(pidDir(outputDir), `${workflowId}-${process.pid}.log`);
  }

  record(jobId: number, pid: number): void {
    if (this.fd === null) {
      mkdirSync(pidDir(this.outputDir), { recursive: true });
      this.fd = openSync(this.path, 'a');
    }
    writeSync(this.fd, `${jobId} ${pid}\n`);
  }

  /** The run is over and nothing of it runs any more: the log goes. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.path, { force: true });
  }
}

function isJobProcess(pid: number, jobId: number): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    return env.includes(`TORC_JOB_ID=${jobId}`);
  } catch {
    return false;
  }
}

/** [job id, pid] pairs of one file: a pid log, or a `<workflow>-<job>.pid` file of an older version. */
function recorded(dir: string, file: string): [number, number][] {
  const pidFile = /^(\d+)-(\d+)\.pid$/.exec(file);
  if (!pidFile && !/^\d+-\d+\.log$/.test(file)) return [];
  const text = readFileSync(join(dir, file), 'utf8');
  if (pidFile) return [[Number(pidFile[2]), Number(text)]];
  return text.split('\n').flatMap((line) => {
    const m = /^(\d+) (\d+)$/.exec(line);
    return m ? [[Number(m[1]), Number(m[2])] as [number, number]] : [];
  });
}

/** Kills the process groups of jobs left running by a dead runner; returns how many. */
export function killOrphanJobs(outputDir: string): number {
  const dir = pidDir(outputDir);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return 0;
  }
  let killed = 0;
  for (const file of files) {
    // The log of a reconcile that is alive (another workflow in the same output dir) stays.
    const owner = /^\d+-(\d+)\.log$/.exec(file);
    if (owner && Number(owner[1]) !== process.pid && pidAlive(Number(owner[1]))) continue;
    let pairs: [number, number][];
    try {
      pairs = recorded(dir, file);
    } catch {
      continue;
    }
    for (const [jobId, pid] of pairs) {
      if (Number.isSafeInteger(pid) && pid > 1 && isJobProcess(pid, jobId)) {
        try {
          process.kill(-pid, 'SIGKILL');
          killed++;
        } catch {
          /* already gone */
        }
      }
    }
    rmSync(join(dir, file), { force: true });
  }
  return killed;
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
