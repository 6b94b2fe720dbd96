/**
 * One resource sampler per runner process (processSampler()): a single timer samples every job
 * it tracks, each at its own interval — from the job's cgroup when it has one (a few small file
 * reads), else from one /proc pass shared by all jobs without one (proc-tree.ts). Per job it keeps
 * the summary torc stores with the result (peak and average CPU and memory) and hands each sample
 * to the job's onSample (the time series).
 *
 * CPU percent is of one core (200 = two cores busy): CPU time over wall time, per interval for a
 * sample and over the whole attempt for the average. With a cgroup the end is exact (its counters
 * outlive the processes) and the peak memory also takes the kernel's high-water mark, so a spike
 * between two samples is not missed: the kernel's peak counts page cache, so the file cache the
 * group still holds at the end is taken off it (never below the highest sample). The /proc walk
 * sees only what is alive at each sample.
 */
import type { ResourceSummary } from '../../contract/resources.js';
import type { CgroupReading, JobCgroup } from './cgroups.js';
import { ProcTreeWalker } from './proc-tree.js';

export interface Sample {
  /** Seconds since the epoch. */
  timestamp: number;
  cpu_percent: number;
  memory_bytes: number;
  num_processes: number;
}

export type MonitorBackend = 'cgroup-v2' | 'cgroup-v1' | 'proc';

export interface MonitorReport extends ResourceSummary {
  backend: MonitorBackend;
  samples: number;
  /** CPU time the job's processes used, as measured (null when too short to tell). */
  cpu_seconds: number | null;
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
  startMs: number;
  onSample?: (sample: Sample) => void;
  lastMs: number;
  /** CPU seconds counted so far (monotone). */
  cpuSeconds: number;
  /** /proc walk: the tree's last raw CPU reading, to take differences of. */
  lastTreeCpu: number;
  samples: number;
  memorySum: number;
  peakMemory: number;
  peakCpu: number;
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
    const job: Job = {
      pid: o.pid,
      cgroup: o.cgroup,
      intervalMs,
      nextDueMs: now + intervalMs,
      startMs,
      onSample: o.onSample,
      lastMs: startMs,
      cpuSeconds: 0,
      lastTreeCpu: 0,
      samples: 0,
      memorySum: 0,
      peakMemory: 0,
      peakCpu: 0,
    };
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
      const wallMs = now - job.startMs;
      // A job ended within a few milliseconds has no meaningful CPU percent (clock resolution, spawn cost).
      const avgCpu = wallMs >= MIN_CPU_WALL_MS ? ((r.cpu_ns / 1e9) / (wallMs / 1000)) * 100 : null;
      // Never below what was sampled; the kernel's peak less the file cache it still holds.
      const kernelPeak = r.memory_peak_bytes === null ? null : Math.max(0, r.memory_peak_bytes - r.file_bytes);
      const peakMemory = Math.max(job.peakMemory, kernelPeak ?? 0);
      report = {
        backend: job.cgroup.kind === 'v2' ? 'cgroup-v2' : 'cgroup-v1',
        samples: job.samples,
        oom_kills: r.oom_kills,
        memory_limit_bytes: job.cgroup.memoryLimitBytes,
        cpu_seconds: r.cpu_ns / 1e9,
        avg_cpu_percent: avgCpu === null ? null : round(avgCpu),
        peak_cpu_percent: avgCpu === null ? null : round(Math.max(job.peakCpu, avgCpu)),
        peak_memory_bytes: Math.round(peakMemory),
        avg_memory_bytes: Math.round(job.samples > 0 ? job.memorySum / job.samples : peakMemory),
      };
      if (!job.cgroup.remove()) this.lingering.add(job.cgroup);
    } else {
      this.walker!.untrack(job.pid);
      const wall = (job.lastMs - job.startMs) / 1000;
      const seen = job.samples > 0;
      report = {
        backend: 'proc',
        samples: job.samples,
        oom_kills: null,
        memory_limit_bytes: null,
        cpu_seconds: seen ? job.cpuSeconds : null,
        avg_cpu_percent: seen && wall > 0 ? round((job.cpuSeconds / wall) * 100) : null,
        peak_cpu_percent: seen ? round(job.peakCpu) : null,
        peak_memory_bytes: seen ? Math.round(job.peakMemory) : null,
        avg_memory_bytes: seen ? Math.round(job.memorySum / job.samples) : null,
      };
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
      if (job.cgroup) this.sampleCgroup(job, job.cgroup.read(), now);
      else {
        const t = trees!.get(job.pid);
        if (t) this.sampleTree(job, t.cpu_seconds, t.memory_bytes, t.num_processes, now);
      }
      this.stats.readings++;
    }
    for (const g of this.lingering) if (g.remove()) this.lingering.delete(g);
    this.stats.busyMs += performance.now() - started;
  }

  private sampleCgroup(job: Job, r: CgroupReading, now: number): void {
    const cpu = r.cpu_ns / 1e9;
    const delta = Math.max(0, cpu - job.cpuSeconds);
    job.cpuSeconds = Math.max(job.cpuSeconds, cpu);
    this.record(job, delta, r.memory_bytes, r.num_processes, now);
  }

  private sampleTree(job: Job, treeCpu: number, memory: number, processes: number, now: number): void {
    // The tree's CPU total drops when a process leaves it uncounted (reaped outside the job):
    // count only increases.
    const delta = job.samples === 0 ? treeCpu : Math.max(0, treeCpu - job.lastTreeCpu);
    job.lastTreeCpu = treeCpu;
    job.cpuSeconds += delta;
    this.record(job, delta, memory, processes, now);
  }

  private record(job: Job, cpuDelta: number, memory: number, processes: number, now: number): void {
    const wall = Math.max(1, now - job.lastMs) / 1000;
    const cpuPercent = (cpuDelta / wall) * 100;
    job.lastMs = now;
    job.samples++;
    job.memorySum += memory;
    job.peakMemory = Math.max(job.peakMemory, memory);
    job.peakCpu = Math.max(job.peakCpu, cpuPercent);
    try {
      job.onSample?.({ timestamp: now / 1000, cpu_percent: round(cpuPercent), memory_bytes: Math.round(memory), num_processes: processes });
    } catch {
      // A consumer's failure must not stop the sampling of other jobs.
    }
  }
}

/** Below this wall time an attempt's CPU percent is not reported. */
const MIN_CPU_WALL_MS = 100;

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

let shared: ResourceSampler | undefined;

/** The process-wide sampler: every runner in this process shares its one timer. */
export function processSampler(): ResourceSampler {
  return (shared ??= new ResourceSampler());
}
