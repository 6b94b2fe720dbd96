/**
 * Resource monitoring of job pods (issue 22), plugged into the operator as a workflow hook
 * (hooks.ts): one sampler per operator process. Every interval it asks each node that runs
 * observed job pods for its kubelet's stats summary, through the API server's node proxy
 * (GET /api/v1/nodes/NODE/proxy/stats/summary, RBAC nodes/proxy get), and reads each pod's
 * cumulative CPU (usageCoreNanoSeconds), working set and process count. What a pod used is summed
 * up like a local job's (usage.ts); when it ends, the hook's finishedPod gives the summary that
 * goes with its result, and time-series samples go to the server as they are taken.
 *
 * The hook: each reconcile of a workflow, its running pods of the current run are observed; when
 * one finishes, the operator asks finishedPod for its summary; a deleted workflow is forgotten.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { OperatorClient } from '../../contract/client.js';
import type { ResourceSample } from '../../contract/resources.js';
import { resolveResourceMonitor, type ResourceMonitorConfig } from '../../spec/resource-monitor.js';
import { UsageAccumulator, type UsageSummary } from '../monitor/usage.js';
import type { FinishedPod, ResultExtras, WorkflowHook, WorkflowHookContext } from './hooks.js';
import { objectKey } from './informer.js';
import { ANNOTATION_RUN_ID, ANNOTATION_WORKFLOW_ID, podJob, podOutcome } from './pods.js';

/** The slice of a kubelet Summary API answer read here. */
interface SummaryPod {
  podRef?: { name?: string; namespace?: string };
  cpu?: { usageCoreNanoSeconds?: number };
  memory?: { workingSetBytes?: number };
  containers?: { cpu?: { usageCoreNanoSeconds?: number }; memory?: { workingSetBytes?: number } }[];
  process_stats?: { process_count?: number };
}

export interface ObservedJob {
  workflow_id: number;
  job_id: number;
  run_id: number;
  attempt: number;
}

export interface PodMetricsOptions {
  core: Pick<CoreV1Api, 'connectGetNodeProxyWithPath'>;
  /** The workflow's resource_monitor settings (asked once per workflow). */
  configOf: (workflowId: number) => Promise<ResourceMonitorConfig>;
  /** Where time-series samples go (granularity time_series). */
  reportSamples?: (workflowId: number, samples: ResourceSample[]) => Promise<void>;
  onError?: (what: string, err: unknown) => void;
  now?: () => number;
}

interface Watched {
  namespace: string;
  name: string;
  node: string;
  job: ObservedJob;
  config: ResourceMonitorConfig;
  nextDueMs: number;
  usage: UsageAccumulator;
  /** When the pod was last seen running (ms); a pod no longer seen is not sampled, its usage kept for its result. */
  seenMs: number;
  ended: boolean;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/** A pod not seen running for this long whose result never came (its workflow changed run, say) is dropped. */
const ENDED_KEEP_MS = 10 * 60_000;

export class PodMetrics {
  private readonly watched = new Map<string, Watched>();
  private readonly configs = new Map<number, Promise<ResourceMonitorConfig>>();
  private timer: NodeJS.Timeout | null = null;
  private periodMs = 0;
  private round: Promise<void> | null = null;
  readonly now: () => number;

  constructor(private readonly o: PodMetricsOptions) {
    this.now = o.now ?? Date.now;
  }

  /** A job's pod runs on `node` since `startedAtMs`: sample it (again a no-op). */
  async observe(pod: { namespace: string; name: string; node: string }, job: ObservedJob, startedAtMs: number): Promise<void> {
    const k = key(pod.namespace, pod.name);
    const known = this.watched.get(k);
    if (known) {
      known.seenMs = this.now();
      return;
    }
    const config = await this.config(job.workflow_id);
    if (!config.enabled || this.watched.has(k)) return;
    const now = this.now();
    const intervalMs = Math.max(100, config.sample_interval_seconds * 1000);
    this.watched.set(k, {
      ...pod, job, config, nextDueMs: now, usage: new UsageAccumulator(Number.isFinite(startedAtMs) ? Math.min(now, startedAtMs) : now), seenMs: now, ended: false,
    });
    this.arm(intervalMs);
  }

  /** The pod ended: its summary (null when it was never sampled), and no more sampling. */
  finish(namespace: string, name: string, endedAtMs: number): UsageSummary | null {
    const w = this.watched.get(key(namespace, name));
    if (!w) return null;
    this.watched.delete(key(namespace, name));
    if (![...this.watched.values()].some((x) => !x.ended)) this.disarm();
    return w.usage.samples > 0 ? w.usage.summary(endedAtMs) : null;
  }

  /**
   * The pod is no longer seen running, but its result has not been asked for yet (the pod
   * finished between the operator's look at it and this one): sampling stops, the usage is kept
   * for a while for finish().
   */
  ended(namespace: string, name: string): void {
    const w = this.watched.get(key(namespace, name));
    if (w) w.ended = true;
  }

  /** Forgets ended pods whose result never came, and those `drop` names. */
  prune(drop: (w: { namespace: string; name: string; job: ObservedJob }) => boolean = () => false): void {
    const now = this.now();
    for (const [k, w] of this.watched) {
      if ((w.ended && now - w.seenMs > ENDED_KEEP_MS) || drop(w)) this.watched.delete(k);
    }
    if (![...this.watched.values()].some((w) => !w.ended)) this.disarm();
  }

  /** Pods being sampled now (tests, logs). */
  get sampling(): number {
    return [...this.watched.values()].filter((w) => !w.ended).length;
  }

  stop(): void {
    this.disarm();
    this.watched.clear();
    this.configs.clear();
  }

  /** One round now: the due pods, one summary request per node. The timer calls it; tests may too. */
  sampleDue(): Promise<void> {
    this.round ??= this.sampleOnce().finally(() => (this.round = null));
    return this.round;
  }

  private async config(workflowId: number): Promise<ResourceMonitorConfig> {
    let c = this.configs.get(workflowId);
    if (!c) {
      c = this.o.configOf(workflowId).catch((e: unknown) => {
        this.o.onError?.('resource_monitor settings', e);
        this.configs.delete(workflowId);
        return resolveResourceMonitor(null);
      });
      this.configs.set(workflowId, c);
    }
    return c;
  }

  private arm(intervalMs: number): void {
    if (this.timer && this.periodMs <= intervalMs) return;
    this.disarm();
    this.periodMs = intervalMs;
    this.timer = setInterval(() => void this.sampleDue(), intervalMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.periodMs = 0;
  }

  private async sampleOnce(): Promise<void> {
    const now = this.now();
    const due = [...this.watched.values()].filter((w) => !w.ended && w.nextDueMs - this.periodMs / 2 <= now);
    const nodes = new Set(due.map((w) => w.node));
    const samples = new Map<number, ResourceSample[]>();
    await Promise.all(
      [...nodes].map(async (node) => {
        let pods: SummaryPod[];
        try {
          const raw: unknown = await this.o.core.connectGetNodeProxyWithPath({ name: node, path: 'stats/summary' });
          const summary = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { pods?: SummaryPod[] };
          pods = summary.pods ?? [];
        } catch (e) {
          this.o.onError?.(`stats summary of node ${node}`, e);
          return;
        }
        const at = this.now();
        for (const p of pods) {
          const w = this.watched.get(key(p.podRef?.namespace ?? '', p.podRef?.name ?? ''));
          if (!w || w.node !== node || !due.includes(w)) continue;
          w.nextDueMs = Math.max(w.nextDueMs + w.config.sample_interval_seconds * 1000, at + (w.config.sample_interval_seconds * 1000) / 2);
          const cpuNs = p.cpu?.usageCoreNanoSeconds ?? sum(p.containers?.map((c) => c.cpu?.usageCoreNanoSeconds));
          const memory = p.memory?.workingSetBytes ?? sum(p.containers?.map((c) => c.memory?.workingSetBytes));
          const processes = p.process_stats?.process_count ?? p.containers?.length ?? 0;
          const sample = w.usage.add(cpuNs / 1e9 - w.usage.cpuSeconds, memory, processes, at);
          if (w.config.granularity === 'time_series') {
            const list = samples.get(w.job.workflow_id) ?? [];
            list.push({ job_id: w.job.job_id, run_id: w.job.run_id, attempt_id: w.job.attempt, ...sample });
            samples.set(w.job.workflow_id, list);
          }
        }
      }),
    );
    const report = this.o.reportSamples;
    if (!report) return;
    for (const [workflowId, list] of samples) {
      await report(workflowId, list).catch((e: unknown) => this.o.onError?.('resource samples', e));
    }
  }
}

function sum(values: (number | undefined)[] | undefined): number {
  return (values ?? []).reduce<number>((a, v) => a + (v ?? 0), 0);
}

/** A usage summary as the result fields torc stores. */
export function usageResult(usage: UsageSummary | null): ResultExtras {
  if (!usage) return {};
  return {
    peak_cpu_percent: usage.peak_cpu_percent, avg_cpu_percent: usage.avg_cpu_percent,
    peak_memory_bytes: usage.peak_memory_bytes, avg_memory_bytes: usage.avg_memory_bytes,
  };
}

/**
 * The operator hook: running pods of a workflow's current run are sampled; a finished pod's
 * result gets its summary. Add it to OperatorOptions.hooks (`torc operator` does).
 */
export class PodMetricsHook implements WorkflowHook {
  readonly name = 'pod-metrics';
  readonly sampler: PodMetrics;
  /** The operator's client, from the last reconcile (the same connection while leading). */
  private client: OperatorClient | null = null;
  /** Per workflow key: the pods observed at its last reconcile. */
  private readonly observed = new Map<string, Set<string>>();

  constructor(core: PodMetricsOptions['core'], opts: { onError?: (what: string, err: unknown) => void; now?: () => number } = {}) {
    this.sampler = new PodMetrics({
      core,
      configOf: async (workflowId) => (this.client?.getResourceMonitor ? this.client.getResourceMonitor(workflowId) : resolveResourceMonitor(null)),
      reportSamples: async (workflowId, samples) => this.client?.recordResourceSamples?.(workflowId, samples),
      onError: opts.onError,
      now: opts.now,
    });
  }

  async reconcile(ctx: WorkflowHookContext): Promise<void> {
    this.client = ctx.client;
    const seen = new Set<string>();
    for (const pod of ctx.activePods) {
      const outcome = podOutcome(pod);
      const pj = podJob(pod);
      if (outcome.state !== 'running' || !outcome.node || !pj || !isOfRun(pod, ctx.workflowId, ctx.runId)) continue;
      const namespace = pod.metadata!.namespace!;
      const name = pod.metadata!.name!;
      seen.add(objectKey(pod));
      const since = outcome.startedAt ? Date.parse(outcome.startedAt) : NaN;
      await this.sampler.observe({ namespace, name, node: outcome.node }, { workflow_id: ctx.workflowId, job_id: pj.jobId, run_id: ctx.runId, attempt: pj.attempt }, since);
    }
    for (const k of this.observed.get(ctx.key) ?? []) {
      if (!seen.has(k)) this.sampler.ended(...splitKey(k));
    }
    this.observed.set(ctx.key, seen);
    // Pods of a run the workflow left, and ended pods nobody asked about.
    this.sampler.prune((w) => w.job.workflow_id === ctx.workflowId && w.job.run_id !== ctx.runId);
  }

  finishedPod(f: FinishedPod): ResultExtras {
    return usageResult(this.sampler.finish(f.pod.metadata!.namespace!, f.pod.metadata!.name!, f.finishedAtMs));
  }

  forget(wfKey: string): void {
    for (const k of this.observed.get(wfKey) ?? []) this.sampler.finish(...splitKey(k), this.sampler.now());
    this.observed.delete(wfKey);
    if (this.observed.size === 0) this.sampler.stop();
  }
}

function splitKey(k: string): [string, string] {
  const i = k.indexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
}

function isOfRun(pod: V1Pod, workflowId: number, runId: number): boolean {
  const a = pod.metadata?.annotations ?? {};
  return Number(a[ANNOTATION_WORKFLOW_ID]) === workflowId && Number(a[ANNOTATION_RUN_ID]) === runId;
}
