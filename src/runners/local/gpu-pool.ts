/**
 * Which GPU devices of this machine are free. A job needing g GPUs gets g devices, the free
 * ones first in device order, so concurrent jobs get disjoint CUDA_VISIBLE_DEVICES whenever
 * enough are free. Only in queue-depth mode (resources ignored by design) can a job find too
 * few free; it then shares the least-used devices rather than get fewer than it asked for.
 */
export interface GpuGrant {
  devices: string[];
  /** True when some device is also held by another job. */
  shared: boolean;
}

export class GpuPool {
  /** Device id → number of jobs holding it. */
  private readonly holders = new Map<string, number>();
  private readonly grants = new Map<number, string[]>();

  /** `devices`: the ids a job's CUDA_VISIBLE_DEVICES may name (indices or UUIDs). */
  constructor(devices: readonly string[]) {
    for (const d of devices) {
      if (this.holders.has(d)) throw new RangeError(`GPU device "${d}" listed twice`);
      this.holders.set(d, 0);
    }
  }

  get size(): number {
    return this.holders.size;
  }

  /** Devices no job holds, in device order. */
  freeDevices(): string[] {
    return [...this.holders].filter(([, n]) => n === 0).map(([d]) => d);
  }

  /** Gives job `jobId` `count` devices (at most the pool's size). */
  acquire(jobId: number, count: number): GpuGrant {
    if (this.grants.has(jobId)) throw new Error(`job ${jobId} already holds GPUs`);
    const ranked = [...this.holders].map(([id, n], order) => ({ id, n, order }));
    ranked.sort((a, b) => a.n - b.n || a.order - b.order);
    const chosen = ranked.slice(0, Math.max(0, Math.min(count, ranked.length)));
    for (const c of chosen) this.holders.set(c.id, c.n + 1);
    // Keep device order in the variable regardless of how they were picked.
    const devices = chosen.sort((a, b) => a.order - b.order).map((c) => c.id);
    this.grants.set(jobId, devices);
    return { devices, shared: chosen.some((c) => c.n > 0) };
  }

  /** Gives a job's devices back; a job holding none is ignored. */
  release(jobId: number): void {
    const devices = this.grants.get(jobId);
    if (!devices) return;
    this.grants.delete(jobId);
    for (const d of devices) this.holders.set(d, Math.max(0, (this.holders.get(d) ?? 1) - 1));
  }
}
