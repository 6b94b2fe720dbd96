/**
 * What a job used, summed up from its samples: peak and average CPU and memory (torc's result
 * fields). Shared by the process sampler (sampler.ts) and the Kubernetes pod metrics
 * (k8s/pod-metrics.ts), which differ only in where their readings come from.
 *
 * CPU percent is of one core (200 = two cores busy): CPU time over wall time, per interval for a
 * sample, over the whole attempt for the average.
 */
import type { ResourceSummary } from '../../contract/resources.js';

export interface Sample {
  /** Seconds since the epoch. */
  timestamp: number;
  cpu_percent: number;
  memory_bytes: number;
  num_processes: number;
}

/** Below this wall time an attempt's CPU percent is not reported: clock resolution and spawn cost would be all of it. */
export const MIN_CPU_WALL_MS = 100;

export interface UsageSummary extends ResourceSummary {
  samples: number;
  /** CPU time used, as measured (null when too short to tell). */
  cpu_seconds: number | null;
}

export class UsageAccumulator {
  samples = 0;
  /** CPU seconds counted so far (monotone). */
  cpuSeconds = 0;
  lastMs: number;
  private memorySum = 0;
  private peakMemory = 0;
  private peakCpu = 0;

  constructor(readonly startMs: number) {
    this.lastMs = startMs;
  }

  /** One sample: the CPU seconds used since the previous one, the memory and processes now. */
  add(cpuDelta: number, memory: number, processes: number, nowMs: number): Sample {
    const wall = Math.max(1, nowMs - this.lastMs) / 1000;
    const cpuPercent = (Math.max(0, cpuDelta) / wall) * 100;
    this.cpuSeconds += Math.max(0, cpuDelta);
    this.lastMs = nowMs;
    this.samples++;
    this.memorySum += memory;
    this.peakMemory = Math.max(this.peakMemory, memory);
    this.peakCpu = Math.max(this.peakCpu, cpuPercent);
    return { timestamp: nowMs / 1000, cpu_percent: round(cpuPercent), memory_bytes: Math.round(memory), num_processes: processes };
  }

  /**
   * The summary at `endMs`. `cpuTotal`: the attempt's whole CPU time when known exactly (a
   * cgroup's counter outlives its processes), else the CPU seen up to the last sample counts over
   * the time up to it. `peakFloor`: a high-water mark kept elsewhere (the kernel's), taken when higher.
   */
  summary(endMs: number, cpuTotal: number | null = null, peakFloor: number | null = null): UsageSummary {
    const exact = cpuTotal !== null;
    const wallMs = exact ? endMs - this.startMs : this.lastMs - this.startMs;
    const cpu = exact ? cpuTotal : this.samples > 0 ? this.cpuSeconds : null;
    const avgCpu = cpu !== null && wallMs >= MIN_CPU_WALL_MS ? (cpu / (wallMs / 1000)) * 100 : null;
    const peakMemory = Math.max(this.peakMemory, peakFloor ?? 0);
    const measured = this.samples > 0 || peakFloor !== null;
    return {
      samples: this.samples,
      cpu_seconds: cpu,
      avg_cpu_percent: avgCpu === null ? null : round(avgCpu),
      peak_cpu_percent: avgCpu === null ? (this.samples > 0 ? round(this.peakCpu) : null) : round(Math.max(this.peakCpu, avgCpu)),
      peak_memory_bytes: measured ? Math.round(peakMemory) : null,
      avg_memory_bytes: this.samples > 0 ? Math.round(this.memorySum / this.samples) : measured ? Math.round(peakMemory) : null,
    };
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
