/** Helpers for tests that run real processes: liveness, polling, and the time records jobs leave. */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Alive and not a zombie (an unreaped zombie holds no resources and runs nothing). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself contain spaces).
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** Polls `cond` until true; throws after `timeoutMs` (generous: the test machine is shared). */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 60_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function tempDir(prefix = 'torc-local-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * Shell that records the job's lifetime in `<dir>/<TORC_JOB_ID>.times` as
 * "start end CUDA_VISIBLE_DEVICES", around `body`.
 */
export function timedCommand(dir: string, body: string): string {
  const f = `${dir}/$TORC_JOB_ID.times`;
  return `s=$EPOCHREALTIME; ${body}; printf '%s %s %s\\n' "$s" "$EPOCHREALTIME" "\${CUDA_VISIBLE_DEVICES-unset}" > "${f}"`;
}

export interface Interval {
  job_id: number;
  start: number;
  end: number;
  gpus: string;
}

export function readIntervals(dir: string): Interval[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.times'))
    .map((f) => {
      const [start, end, gpus] = readFileSync(path.join(dir, f), 'utf8').trim().split(' ');
      return { job_id: Number(f.split('.')[0]), start: Number(start), end: Number(end), gpus: gpus ?? '' };
    });
}

/** For every job, the jobs whose intervals overlap its start instant (itself included). */
export function concurrentAtStarts(intervals: Interval[]): Interval[][] {
  return intervals.map((a) => intervals.filter((b) => b.start <= a.start && a.start < b.end));
}

/** Live (non-zombie) processes of a process group, from /proc. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] = state, fields[2] = process group.
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') members.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return members;
}
