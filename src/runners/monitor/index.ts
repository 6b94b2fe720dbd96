/**
 * Resource monitoring for a runner (issue 22): which backend measures its jobs (a cgroup per
 * job where this process can make one, else the /proc walk), memory enforcement (a job capped at
 * its requirement through its cgroup's limit, so a runaway job is OOM-killed instead of taking
 * the node down), and the hand-over to the process-wide sampler.
 */
import { DEFAULT_NEED } from '../../spec/plan.js';
import type { ResourceMonitorConfig } from '../../spec/resource-monitor.js';
import { InputError } from '../../errors.js';
import { detectCgroups, type CgroupDetection, type CgroupHost, type JobCgroup } from './cgroups.js';
import { processSampler, type MonitorBackend, type MonitorReport, type ResourceSampler, type Sample, type Tracking } from './sampler.js';

export type { MonitorBackend, MonitorReport, Sample, Tracking } from './sampler.js';
export { processSampler, ResourceSampler } from './sampler.js';
export { detectCgroups } from './cgroups.js';

/** auto: a cgroup per job when possible, else /proc; cgroup: a cgroup or an error; proc: always the /proc walk. */
export type BackendChoice = 'auto' | 'cgroup' | 'proc';

export interface JobMonitorOptions {
  config: ResourceMonitorConfig;
  /** Cap each job's memory at its requirement (needs a cgroup). */
  enforceMemory?: boolean;
  backend?: BackendChoice;
  sampler?: ResourceSampler;
}

export interface JobToMonitor {
  workflow_id: number;
  job_id: number;
  attempt: number;
  /** The job's memory requirement per node (bytes). */
  memory_bytes: number;
}

/** Where a job will run: its cgroup (null: measured by the /proc walk, or not at all). */
export interface Placement {
  cgroup: JobCgroup | null;
}

let detection: CgroupDetection | undefined;
let seq = 0;

/** This process's cgroup support, found once; its groups are removed when the process exits. */
export function processCgroups(): CgroupDetection {
  if (detection) return detection;
  detection = detectCgroups();
  if (detection.ok) {
    const host = detection.host;
    process.once('exit', () => {
      processSampler().close();
      host.close();
    });
  }
  return detection;
}

export class JobMonitor {
  readonly host: CgroupHost | null;
  private readonly sampler: ResourceSampler;

  constructor(private readonly o: JobMonitorOptions) {
    const backend = o.backend ?? 'auto';
    this.sampler = o.sampler ?? processSampler();
    const wantCgroups = o.enforceMemory || (o.config.enabled && backend !== 'proc');
    if (!wantCgroups) {
      this.host = null;
      return;
    }
    const found = processCgroups();
    if (found.ok) {
      this.host = found.host;
      return;
    }
    this.host = null;
    if (o.enforceMemory) {
      throw new InputError(`memory enforcement needs a cgroup per job, and this machine gives none: ${found.why}`, '--enforce-memory');
    }
    if (backend === 'cgroup') throw new InputError(`no cgroup per job on this machine: ${found.why}`, 'TORC_MONITOR_BACKEND');
  }

  /** What measures the jobs: a cgroup kind, the /proc walk, or nothing (monitoring disabled, no enforcement). */
  get backend(): MonitorBackend | null {
    if (this.host) return this.host.kind === 'v2' ? 'cgroup-v2' : 'cgroup-v1';
    return this.o.config.enabled ? 'proc' : null;
  }

  get enforcing(): boolean {
    return this.o.enforceMemory === true;
  }

  /** The limit a job gets under enforcement: its requirement; the 1 MB placeholder of jobs that declare none is no limit. */
  memoryLimit(job: Pick<JobToMonitor, 'memory_bytes'>): number | null {
    if (!this.o.enforceMemory || !(job.memory_bytes > DEFAULT_NEED.memory_bytes)) return null;
    return job.memory_bytes;
  }

  /** Before the job is spawned: its cgroup, with its limit when enforcing. */
  prepare(job: JobToMonitor): Placement {
    if (!this.host) return { cgroup: null };
    const name = `job-${job.workflow_id}-${job.job_id}-${job.attempt}-${++seq}`;
    return { cgroup: this.host.create(name, this.memoryLimit(job)) };
  }

  /** The job never started: its cgroup goes. */
  discard(placement: Placement): void {
    placement.cgroup?.remove();
  }

  /** The job runs as `pid`: sample it until finish(). Null when nothing measures it. */
  start(placement: Placement, pid: number, startedAtMs: number, onSample?: (s: Sample) => void): Tracking | null {
    if (!placement.cgroup && !this.o.config.enabled) return null;
    return this.sampler.track({
      pid,
      cgroup: placement.cgroup,
      // Enforcement without monitoring: no samples, only the cgroup's final reading.
      intervalSeconds: this.o.config.enabled ? this.o.config.sample_interval_seconds : Infinity,
      startedAtMs,
      onSample: this.o.config.enabled && this.o.config.granularity === 'time_series' ? onSample : undefined,
    });
  }
}
