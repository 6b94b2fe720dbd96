/**
 * One resource sampler per runner process (processSampler()): a single timer samples every job
 * it tracks, each at its own interval — from the job's cgroup when it has one (a few small file
 * reads), else from one /proc pass shared by all jobs without one (proc-tree.ts). Per job it keeps
 * the summary torc stores with the result (peak and average CPU and memory) and hands each sample
 * to the job's onSample (the time series).
 *
 * The summing up is usage.ts's. With a cgroup the end is exact (its counters
 * outlive the processes) and the peak memory also takes the kernel's high-water mark, so a spike
 * between two samples is not missed: the kernel's peak counts page cache, so the file cache the
 * group still holds at the end is taken off it (never below the highest sample). The /proc walk
 * sees only what is alive at each sample.
 */
import type { JobCgroup } from './cgroups.js';
import { ProcTreeWalker } from './proc-tree.js';
import { UsageAccumulator, type Sample, type UsageSummary } from './usage.js';

export type { Sample } from './usage.js';

export type MonitorBackend = 'cgroup-v2' | 'cgroup-v1' | 'proc';

export interface MonitorReport extends UsageSummary {
  backend: MonitorBackend;
  /** OOM kills its cgroup counted; null without a cgroup. */
  oom_kills: number | null;
  /** The memory limit its cgroup enforced, or null. */
  memory_limit_bytes: number | null;
}

export interface TrackOptions {
  /** The job's process (session and group leader). */
  pid: number;
  cgroup: JobCgroup | null;
  intervalSeconds: number;
  /** When the job started (default now). */
  startedAtMs?: number;
  onSample?: (sample: Sample) => void;
}

export interface Tracking {
  /**
   * Ends the tracking: a last reading, the summary; the cgroup is removed (later, if processes
   * linger). `endedAtMs`: when the job ended (default now), for the average CPU.
   */
  finish(endedAtMs?: number): MonitorReport;
}

interface Job {
  pid: number;
  cgroup: JobCgroup | null;
  intervalMs: number;
  nextDueMs: number;
  onSample?: (sample: Sample) => void;
  usage: UsageAccumulator;
  /** /proc walk: the tree's last raw CPU reading, to take differences of. */
  lastTreeCpu: number | null;
}

export interface SamplerStats {
  ticks: number;
  /** Jobs sampled, over all ticks. */
  readings: number;
  /** Time spent sampling (ms of this process's wall clock). */
  busyMs: number;
}

export class ResourceSampler {
  private readonly jobs = new Set<Job>();
  private timer: NodeJS.Timeout | null = null;
  private periodMs = 0;
  private walker: ProcTreeWalker | null = null;
  /** Groups whose processes outlived their job; removed once empty. */
  private readonly lingering = new Set<JobCgroup>();
  readonly stats: SamplerStats = { ticks: 0, readings: 0, busyMs: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  get tracked(): number {
    return this.jobs.size;
  }

  track(o: TrackOptions): Tracking {
    const now = this.now();
    const intervalMs = Math.max(100, o.intervalSeconds * 1000);
    const startMs = Math.min(now, o.startedAtMs ?? now);
    const job: Job = { pid: o.pid, cgroup: o.cgroup, intervalMs, nextDueMs: now + intervalMs, onSample: o.onSample, usage: new UsageAccumulator(startMs), lastTreeCpu: null };
    if (!job.cgroup) (this.walker ??= new ProcTreeWalker()).track(job.pid);
    this.jobs.add(job);
    this.arm();
    let report: MonitorReport | null = null;
    return { finish: (endedAtMs?: number) => (report ??= this.finish(job, endedAtMs)) };
  }

  /** Removes what is left (lingering groups); the timer stops by itself when nothing is tracked. */
  close(): void {
    for (const g of this.lingering) if (g.remove()) this.lingering.delete(g);
  }

  private finish(job: Job, endedAtMs?: number): MonitorReport {
    this.jobs.delete(job);
    const now = Math.min(this.now(), endedAtMs ?? Infinity);
    let report: MonitorReport;
    if (job.cgroup) {
      const r = job.cgroup.read();
      // The kernel's peak counts page cache: less the file cache the group still holds.
      const kernelPeak = r.memory_peak_bytes === null ? null : Math.max(0, r.memory_peak_bytes - r.file_bytes);
      report = {
        backend: job.cgroup.kind === 'v2' ? 'cgroup-v2' : 'cgroup-v1',
        oom_kills: r.oom_kills,
        memory_limit_bytes: job.cgroup.memoryLimitBytes,
        ...job.usage.summary(now, r.cpu_ns / 1e9, kernelPeak ?? r.memory_bytes),
      };
      if (!job.cgroup.remove()) this.lingering.add(job.cgroup);
    } else {
      this.walker!.untrack(job.pid);
      report = { backend: 'proc', oom_kills: null, memory_limit_bytes: null, ...job.usage.summary(now) };
    }
    if (this.jobs.size === 0) this.disarm();
    return report;
  }

  /** One timer for all jobs, ticking at the shortest interval among them. */
  private arm(): void {
    let shortest = Infinity;
    for (const j of this.jobs) shortest = Math.min(shortest, j.intervalMs);
    if (this.timer && shortest === this.periodMs) return;
    this.disarm();
    if (!Number.isFinite(shortest)) return;
    this.periodMs = shortest;
    this.timer = setInterval(() => this.sampleDue(), shortest);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.periodMs = 0;
  }

  /** One round: samples the jobs that are due (the timer calls this; tests with their own clock too). */
  sampleDue(): void {
    const started = performance.now();
    const now = this.now();
    // A job is due within half a period of its time, so timer jitter does not skip a whole period.
    const due = [...this.jobs].filter((j) => j.nextDueMs - this.periodMs / 2 <= now);
    if (due.length === 0) return;
    this.stats.ticks++;
    const trees = due.some((j) => !j.cgroup) ? this.walker!.scan() : null;
    for (const job of due) {
      job.nextDueMs = Math.max(job.nextDueMs + job.intervalMs, now + job.intervalMs / 2);
      if (job.cgroup) {
        const r = job.cgroup.sample();
        this.sampleCgroup(job, r.cpu_ns / 1e9, r.memory_bytes, r.num_processes, now);
      }
      else {
        const t = trees!.get(job.pid);
        if (t) this.sampleTree(job, t.cpu_seconds, t.memory_bytes, t.num_processes, now);
      }
      this.stats.readings++;
    }
    for (const g of this.lingering) if (g.remove()) this.lingering.delete(g);
    this.stats.busyMs += performance.now() - started;
  }

  private sampleCgroup(job: Job, cpuSeconds: number, memory: number, processes: number, now: number): void {
    // The group's counter is monotone and counts from zero.
    this.record(job, cpuSeconds - job.usage.cpuSeconds, memory, processes, now);
  }

  private sampleTree(job: Job, treeCpu: number, memory: number, processes: number, now: number): void {
    // The tree's CPU total drops when a process leaves it uncounted (reaped outside the job):
    // count only increases.
    const delta = job.lastTreeCpu === null ? treeCpu : Math.max(0, treeCpu - job.lastTreeCpu);
    job.lastTreeCpu = treeCpu;
    this.record(job, delta, memory, processes, now);
  }

  private record(job: Job, cpuDelta: number, memory: number, processes: number, now: number): void {
    const sample = job.usage.add(cpuDelta, memory, processes, now);
    try {
      job.onSample?.(sample);
    } catch {
      // A consumer's failure must not stop the sampling of other jobs.
    }
  }
}

let shared: ResourceSampler | undefined;

/** The process-wide sampler: every runner in this process shares its one timer. */
export function processSampler(): ResourceSampler {
  return (shared ??= new ResourceSampler());
}
