/**
 * The /proc walk: where a job has no cgroup, its processes are found by one pass over /proc per
 * sample for all jobs at once. A process belongs to a job when its session or process group is
 * the job's (the spawner starts every job as a session leader, and children inherit both, even
 * once reparented) or its parent belongs to it (a child that made its own session).
 *
 * Each pass reads the stat file of the jobs' processes and of processes not seen before; a
 * process once found to be foreign is not read again (its parent and session never become a
 * job's). CPU is utime + stime of each process plus the cutime + cstime of the children it
 * reaped, so the time of finished children stays counted; memory is the sum of each process's
 * private resident memory (statm: resident − shared), so the program and library pages that
 * every process of the tree maps are not counted once per process, and the figure is close to
 * what a cgroup would charge the job (its anonymous memory).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { keptFile, type KeptFile } from './kept-file.js';

/** Linux's USER_HZ, in which /proc reports CPU times (100 on every architecture Linux runs on today). */
const CLOCK_TICKS = 100;

export interface TreeReading {
  /** CPU seconds of the tree's live processes and the children they reaped. */
  cpu_seconds: number;
  memory_bytes: number;
  num_processes: number;
}

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  cpu_ticks: number;
  rss_pages: number;
  /** Clock ticks after boot when the process started. */
  start: number;
}

function readStat(procDir: string, pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`${procDir}/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  return parseStat(text);
}

function parseStat(text: string): ProcStat {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: f[0]!,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    cpu_ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    rss_pages: Number(f[21]),
    start: Number(f[19]),
  };
}

/** The page size, from this process's own resident set in two units (kB in status, pages in statm). */
function pageSize(procDir: string): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`${procDir}/self/status`, 'latin1'))?.[1]);
    const pages = Number(readFileSync(`${procDir}/self/statm`, 'latin1').split(' ')[1]);
    if (kb > 0 && pages > 0) {
      const ratio = (kb * 1024) / pages;
      // Round to the nearest power of two: the two reads are not simultaneous.
      return 2 ** Math.round(Math.log2(ratio));
    }
  } catch {
    // Not Linux: nothing to walk anyway.
  }
  return 4096;
}

export class ProcTreeWalker {
  private readonly leaders = new Set<number>();
  /** Tracked since the last pass (see track). */
  private readonly newLeaders = new Set<number>();
  /** Member pid → its job's leader. */
  private readonly memberOf = new Map<number, number>();
  /** Members' stat and statm, kept open between passes. */
  private readonly files = new Map<number, { stat: KeptFile; statm: KeptFile }>();
  /** Pids known not to belong to any job → when they started. */
  private readonly foreign = new Map<number, number>();
  private readonly page: number;

  constructor(private readonly procDir = '/proc') {
    this.page = pageSize(procDir);
  }

  /**
   * Tracks a job from the next pass on. Nothing is read now: most short jobs end before any pass,
   * and then they cost nothing here.
   */
  track(leader: number): void {
    this.newLeaders.add(leader);
  }

  untrack(leader: number): void {
    if (this.newLeaders.delete(leader)) return;
    if (!this.leaders.delete(leader)) return;
    for (const [pid, l] of this.memberOf) if (l === leader) this.forget(pid);
  }

  /**
   * Leaders tracked since the last pass join it. Processes judged foreign by an earlier pass may
   * belong to them: any that started no earlier than the earliest of them is looked at again.
   */
  private admitNewLeaders(): void {
    if (this.newLeaders.size === 0) return;
    let since = Infinity;
    for (const leader of this.newLeaders) {
      this.leaders.add(leader);
      this.memberOf.set(leader, leader);
      since = Math.min(since, readStat(this.procDir, leader)?.start ?? 0);
    }
    this.newLeaders.clear();
    for (const [pid, start] of this.foreign) if (start >= since) this.foreign.delete(pid);
  }

  private forget(pid: number): void {
    this.memberOf.delete(pid);
    const f = this.files.get(pid);
    if (f) {
      f.stat.close();
      f.statm.close();
      this.files.delete(pid);
    }
  }

  private filesOf(pid: number): { stat: KeptFile; statm: KeptFile } {
    let f = this.files.get(pid);
    if (!f) this.files.set(pid, (f = { stat: keptFile(`${this.procDir}/${pid}/stat`), statm: keptFile(`${this.procDir}/${pid}/statm`) }));
    return f;
  }

  get size(): number {
    return this.leaders.size + this.newLeaders.size;
  }

  /** One pass over /proc: a reading per tracked leader (leaders whose processes are all gone read zero). */
  scan(): Map<number, TreeReading> {
    this.admitNewLeaders();
    const out = new Map<number, TreeReading>();
    for (const l of this.leaders) out.set(l, { cpu_seconds: 0, memory_bytes: 0, num_processes: 0 });
    if (this.leaders.size === 0) return out;
    let names: string[];
    try {
      names = readdirSync(this.procDir);
    } catch {
      return out;
    }
    const alive = new Set<number>();
    const fresh: [number, ProcStat][] = [];
    for (const name of names) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      alive.add(pid);
      if (this.foreign.has(pid)) continue;
      const leader = this.memberOf.get(pid);
      if (leader !== undefined) {
        const text = this.filesOf(pid).stat.read();
        if (text) this.add(out.get(leader), pid, parseStat(text));
        // Gone since the directory was read (or its pid taken by another process): judged afresh next time.
        else if (pid !== leader) this.forget(pid);
        continue;
      }
      const stat = readStat(this.procDir, pid);
      if (stat) fresh.push([pid, stat]);
    }
    // New processes: by session or group at once, by parent until nothing changes (a parent may be new too).
    let pending = fresh;
    for (let changed = true; changed && pending.length > 0; ) {
      changed = false;
      const rest: [number, ProcStat][] = [];
      for (const [pid, stat] of pending) {
        const leader = this.leaders.has(stat.session) ? stat.session : this.leaders.has(stat.pgrp) ? stat.pgrp : this.memberOf.get(stat.ppid);
        if (leader === undefined) {
          rest.push([pid, stat]);
          continue;
        }
        this.memberOf.set(pid, leader);
        this.add(out.get(leader), pid, stat);
        changed = true;
      }
      pending = rest;
    }
    for (const [pid, stat] of pending) this.foreign.set(pid, stat.start);
    for (const pid of this.foreign.keys()) if (!alive.has(pid)) this.foreign.delete(pid);
    for (const [pid, leader] of this.memberOf) if (!alive.has(pid) && pid !== leader) this.forget(pid);
    return out;
  }

  private add(reading: TreeReading | undefined, pid: number, stat: ProcStat): void {
    if (!reading) return;
    // A zombie's time is already its own (and moves to its parent when reaped); it holds no memory.
    reading.cpu_seconds += stat.cpu_ticks / CLOCK_TICKS;
    if (stat.state === 'Z' || stat.state === 'X') return;
    reading.memory_bytes += this.privatePages(pid, stat) * this.page;
    reading.num_processes++;
  }

  /** statm's resident − shared; the whole resident set when statm cannot be read. */
  private privatePages(pid: number, stat: ProcStat): number {
    const text = this.filesOf(pid).statm.read();
    if (text === null) return stat.rss_pages;
    const f = text.split(' ');
    return Math.max(0, Number(f[1]) - Number(f[2]));
  }
}
