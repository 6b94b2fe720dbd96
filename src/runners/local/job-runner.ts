/**
 * The job runner loop shared by `torc run`, the reconciler's local runner and the Slurm
 * worker. It talks to the server only through its ServerSession (server-session.ts: bulk
 * calls, the report queue, the outage clock) over a RunnerClient, and runs jobs with process.ts:
 *
 *   register compute node; loop {
 *     keep the reports of jobs that started / finished (complete_job, or retry_job when their
 *       failure handler retries) and deliver what is kept, oldest first
 *     → not all delivered (the server is away): jobs run on, nothing is claimed; wait, go again
 *     → progress (canceled → terminate running jobs, report them terminated; done → stop)
 *     → back after an outage: sync what this node holds with the server
 *     → claim: resource-aware (the FREE capacity right now) or queue depth (claimed ahead)
 *     → start_job + spawn
 *     → wait for a completion or the poll interval
 *   }  heartbeat on a timer; deactivate the node on the way out.
 *
 * Outages (issue 24): a report the server did not take is kept and delivered later, in order,
 * until the server acknowledges it or the outage outlasts `waitForServerSeconds`; then the run
 * stops ('server_unreachable'), terminates its jobs and lists what was never delivered. While
 * the server is away the runner claims nothing and starts nothing it claimed ahead (those go
 * back to ready at the sync). The server keeps this node's jobs while its lease is valid (a
 * restarted server renews every lease); a node whose lease ran out learns it on reconnect (its
 * heartbeat, sync or reports are refused), kills its jobs unreported and registers again.
 *
 * stop() (a worker's SIGTERM, Ctrl-C) terminates the running jobs. By default they are NOT
 * reported as terminated: deactivating the node returns them to ready with attempt + 1, so
 * another runner finishes them (issue 7: scancel/walltime → jobs return to ready). Pass
 * `report: 'terminated'` to record them as terminated instead. A canceled workflow's jobs are
 * always reported terminated (issue 6).
 */
import path from 'node:path';
import { worthClaiming } from '../../allocator/eligibility.js';
import type { SortMethod } from '../../allocator/types.js';
import type { ClaimedJobRecord, HeldJob, RunnerClient, WorkflowProgress } from '../../contract/client.js';
import { InputError } from '../../errors.js';
import { observeFiles } from '../file-times.js';
import { ResourceTracker, type Grant } from './tracker.js';
import {
  type JobOutcome, JobProcess, type ProcessOptions, queueJobProcess, startRecoveryScript, type TerminationReason, toCompleteResult,
} from './process.js';
import {
  endLabel, errorText, ServerSession, ServerUnreachableError, type EndReport, type EndReportHandlers, type StartReport,
} from './server-session.js';
import { defaultSpawner } from './spawner.js';
import { detectResources, type DetectedResources, type ResourceOverrides } from './resources.js';
import { Waker } from './waker.js';
import { diagnoseFailure, type Diagnosis } from '../../allocator/diagnosis.js';
import type { ResourceSample } from '../../contract/resources.js';
import type { ResourceMonitorConfig } from '../../spec/resource-monitor.js';
import { JobMonitor, type BackendChoice, type MonitorBackend, type MonitorReport, type Placement, type Tracking } from '../monitor/index.js';

export interface JobRunnerOptions {
  client: RunnerClient;
  workflowId: number;
  /** Job stdio goes to `<outputDir>/job_stdio/`. */
  outputDir: string;
  /** Queue-depth mode: at most this many jobs at once, resources ignored. Unset: resource-aware. */
  maxParallelJobs?: number | null;
  /** `--num-cpus/--memory-gb/--num-gpus`, applied on top of detection. */
  overrides?: ResourceOverrides;
  /** Resources already known (e.g. a Slurm allocation's); skips detection. */
  resources?: DetectedResources;
  /** Longest wait between loop turns when nothing finishes (default 5 s). */
  pollIntervalSeconds?: number;
  /** Heartbeat period (default 10 s) and the lease registered with the node (default 60 s). */
  heartbeatSeconds?: number;
  leaseSeconds?: number;
  /** SIGTERM → SIGKILL grace period (default 10 s). */
  graceSeconds?: number;
  /** The scheduler this runner serves (Slurm worker), sent with claims and the registration. */
  schedulerConfigId?: number | null;
  sortMethod?: SortMethod;
  strictSchedulerMatch?: boolean;
  /** Serve jobs of every scheduler (the reconciler's own local runner). */
  anyScheduler?: boolean;
  /** When the runner must be done (allocation end). Or timeLimitSeconds from start. */
  endTime?: Date | null;
  timeLimitSeconds?: number | null;
  /** Claims leave this much time before the end (compute_node_expiration_buffer_seconds). */
  expirationBufferSeconds?: number;
  /** Exit after this long with nothing running and nothing to claim; null = until the workflow is done. */
  waitForNewJobsSeconds?: number | null;
  /** Keep waiting for new jobs even when the workflow is complete (compute_node_ignore_workflow_completion). */
  ignoreWorkflowCompletion?: boolean;
  /** TORC_API_URL given to jobs. */
  apiUrl?: string | null;
  /** At most this many API calls in flight (default 4). */
  apiConcurrency?: number;
  /** Terminate jobs that run past their declared runtime (default true). */
  enforceRuntime?: boolean;
  /** Working directory of jobs and extra variables for every job. */
  cwd?: string;
  env?: Record<string, string>;
  /** Registration fields. */
  hostname?: string;
  computeNodeType?: string;
  /** Most jobs asked for in one resource claim (default 1000). */
  claimLimit?: number;
  /** Give up after this many refused (4xx) API calls in a row (default 30). */
  maxConsecutiveApiErrors?: number;
  /** Cap each job's memory at its requirement (a cgroup limit): a runaway job is OOM-killed, not the node. */
  enforceMemory?: boolean;
  /**
   * How jobs are measured (default auto: resource-aware, a cgroup per job where possible, else the
   * /proc walk; queue depth, the /proc walk unless memory is enforced).
   */
  monitorBackend?: BackendChoice;
  /** Overrides of the workflow's resource_monitor settings (default: the server's). */
  resourceMonitor?: Partial<ResourceMonitorConfig>;
  /**
   * The longest server outage to wait through, running jobs going on and reports kept (default:
   * the workflow's compute_node_wait_for_healthy_database_minutes, torc's 20 min); then the run
   * stops with reason 'server_unreachable' and lists what it could not deliver.
   */
  waitForServerSeconds?: number | null;
  onEvent?: (event: RunnerEvent) => void;
}

export type StopReason = 'complete' | 'canceled' | 'idle' | 'time_limit' | 'stopped' | 'server_unreachable' | 'error';

export type RunnerEvent =
  | { type: 'registered'; compute_node_id: number; resources: DetectedResources; mode: 'resources' | 'queue_depth'; monitor: MonitorBackend | null; enforce_memory: boolean }
  | { type: 'progress'; progress: WorkflowProgress; running: number }
  | { type: 'claimed'; jobs: ClaimedJobRecord[]; reason: string | null }
  | { type: 'job_started'; job: ClaimedJobRecord; pid: number | null; gpus: string[]; stdout: string; stderr: string }
  | { type: 'job_terminating'; job: ClaimedJobRecord; reason: TerminationReason }
  | { type: 'job_finished'; job: ClaimedJobRecord; outcome: JobOutcome; reported: boolean; monitor?: MonitorReport | null; diagnosis?: Diagnosis | null }
  /** A failed attempt its failure handler retries: the job is ready again with `attempt`. */
  | { type: 'job_retried'; job: ClaimedJobRecord; outcome: JobOutcome; attempt: number; recovery_return_code: number | null }
  | { type: 'api_error'; operation: string; error: unknown }
  /** The server stopped answering: running jobs go on, nothing new is claimed, reports are kept (`kept` so far). */
  | { type: 'server_lost'; error: unknown; kept: number; wait_for_server_seconds: number }
  /** The server answers again after `outage_ms`; `kept` reports still to deliver (in order). */
  | { type: 'server_back'; outage_ms: number; kept: number }
  /** After an outage: what the server released (claimed, never started here) and revoked (no longer this node's). */
  | { type: 'synced'; released: number[]; revoked: number[] }
  | { type: 'warning'; message: string }
  | { type: 'stopped'; reason: StopReason; summary: RunSummary };

export interface RunSummary {
  reason: StopReason;
  compute_node_id: number | null;
  started: number;
  completed: number;
  failed: number;
  terminated: number;
  /** Ended by stop() (or a lost lease) and left for the server to requeue. */
  requeued: number;
  /** Failed attempts sent back to ready by their failure handler. */
  retried: number;
  /** Reports delivered after they had been kept through an outage. */
  replayed: number;
  /** Outages lived through (calls without an answer), and the longest (ms). */
  outages: number;
  longest_outage_ms: number;
  /** What the server was never told (the run gave up on it), one line per report. */
  undelivered: string[];
}

export interface StopOptions {
  /** 'requeue' (default): leave the killed jobs to deactivation, which returns them to ready. */
  report?: 'requeue' | 'terminated';
}

interface Running {
  job: ClaimedJobRecord;
  runId: number;
  /** The compute node this runner was when the job started (its reports name it). */
  nodeId: number;
  proc: JobProcess;
  grant: Grant;
  /** The failure handler's recovery script, while it runs. */
  recovery?: JobProcess;
  /** Its resource sampling, while it runs. */
  tracking: Tracking | null;
}

/** An ended attempt, as reported to the server (see ServerSession: end reports). */
interface Finished extends EndReport {
  entry: Running;
  outcome: JobOutcome;
  /** Set when the failure handler retries this attempt (report it with retry_job). */
  retry?: { max_retries: number; recovery_return_code: number | null };
  monitor: MonitorReport | null;
  diagnosis: Diagnosis | null;
}

/** End reports made by this runner's jobs (not the bare one of a job that could not start). */
function isFinished(r: EndReport): r is Finished {
  return (r as Finished).entry !== undefined;
}

/** Why a report is dropped when the run ends before the server took it (listed in the summary). */
const NEVER_DELIVERED = new Error('never delivered: the run ended before the server took it');

/** How long a stopping runner (SIGTERM, an error) still tries to deliver what it owes. */
const STOP_DRAIN_MS = 5000;

let runnerCount = 0;
/** Jobs shorter than this on average are claimed ahead in queue-depth mode. */
const SHORT_JOB_MS = 1000;
/** Queue depth: shortest time between two loop turns (the spawner's queue covers it). */
const MIN_TURN_MS = 20;
/** Queue depth claims ahead about this much work (ms of mean job time) per slot. */
const AHEAD_WORK_MS = 250;
/** …and never more jobs than this per slot, nor in all. */
const MAX_AHEAD_PER_SLOT = 100;
const MAX_AHEAD = 1000;

/**
 * How many jobs queue depth claims beyond its free slots, given the mean job time so far (null:
 * none ended yet). Short jobs: enough for ~AHEAD_WORK_MS of work per slot, so the spawner's queue
 * does not run dry between loop turns (a turn, with its server calls, takes milliseconds; a
 * `true` job less — with 8 per slot the queue ran dry and 5,000 `true` jobs took ~1.6× longer:
 * issue 9). Jobs of SHORT_JOB_MS or more gain nothing from it and would only hold back work
 * other runners could take: none.
 */
export function claimAheadDepth(meanJobMs: number | null, slots: number): number {
  if (meanJobMs === null || meanJobMs >= SHORT_JOB_MS) return 0;
  const perSlot = Math.min(MAX_AHEAD_PER_SLOT, Math.max(1, Math.floor(AHEAD_WORK_MS / Math.max(1, meanJobMs))));
  return Math.min(MAX_AHEAD, slots * perSlot);
}
/** Longest time the loop goes on an old view of the workflow's progress while claims keep finding jobs. */
const PROGRESS_REFRESH_MS = 1000;
/** Time-series samples are sent at least this often, or once this many wait (and always before their job's end). */
const SAMPLE_FLUSH_MS = 10_000;
const SAMPLE_FLUSH_COUNT = 500;
/** While the server does not answer and nothing is owed, how often the loop asks again. */
const OUTAGE_PROBE_MS = 1000;

export class JobRunner {
  private readonly o: JobRunnerOptions;
  private readonly session: ServerSession;
  private readonly waker = new Waker();
  private readonly running = new Map<number, Running>();
  private finished: Finished[] = [];
  /** Claimed ahead (queue depth) and handed to the spawner's queue, not started yet. */
  private readonly queued = new Map<number, ClaimedJobRecord>();
  /** Jobs the server revoked while they waited in the spawner's queue: killed as soon as they start. */
  private readonly revoked = new Set<number>();
  /** An outage happened: before claiming again, agree with the server on what this node holds. */
  private needSync = false;
  /** The spawner's queue was withdrawn for the current outage. */
  private withdrawnForOutage = false;
  private tracker: ResourceTracker | undefined;
  private runId = 0;
  private endMs: number | null = null;
  private stopRequested = false;
  private leaseLost = false;
  private register: () => Promise<void> = async () => undefined;
  private stopReport: 'requeue' | 'terminated' = 'requeue';
  /** The spawner's queue of this runner: at most maxParallelJobs of its jobs run at once. */
  private readonly spawnGroup = `runner-${process.pid}-${++runnerCount}`;
  /**
   * How jobs are started, with the environment they inherit read once when the runner starts:
   * copying process.env (a getenv per variable) for every job was the runner's largest per-job
   * JS cost (issue 9).
   */
  private processOptions: ProcessOptions = { outputDir: '' };
  /** Moving average of how long this runner's jobs ran (ms); null before the first one ended. */
  private meanJobMs: number | null = null;
  /** Queue depth: jobs handed to the spawner and not ended (queued there or running). */
  private alive = 0;
  private unrecorded: Running[] = [];
  private readonly launching = new Set<Promise<void>>();
  private runPromise: Promise<RunSummary> | undefined;
  private monitor: JobMonitor | null = null;
  private samples: ResourceSample[] = [];
  private samplesSentAt = Date.now();
  private summary: RunSummary = {
    reason: 'stopped', compute_node_id: null, started: 0, completed: 0, failed: 0, terminated: 0, requeued: 0, retried: 0,
    replayed: 0, outages: 0, longest_outage_ms: 0, undelivered: [],
  };

  constructor(options: JobRunnerOptions) {
    const issues: { path: string; message: string }[] = [];
    const m = options.maxParallelJobs;
    if (m != null && !(Number.isInteger(m) && m > 0))
      issues.push({ path: '--max-parallel-jobs', message: `must be a positive integer, got ${m}` });
    for (const [key, flag] of [
      ['pollIntervalSeconds', '--poll-interval'],
      ['heartbeatSeconds', 'heartbeat_seconds'],
      ['leaseSeconds', 'lease_seconds'],
      ['graceSeconds', 'grace_seconds'],
      ['timeLimitSeconds', '--time-limit'],
      ['expirationBufferSeconds', 'compute_node_expiration_buffer_seconds'],
      ['waitForNewJobsSeconds', 'compute_node_wait_for_new_jobs_seconds'],
      ['waitForServerSeconds', '--wait-for-server'],
    ] as const) {
      const v = options[key];
      if (v != null && !(Number.isFinite(v) && v >= 0)) issues.push({ path: flag, message: `must be a non-negative number of seconds, got ${v}` });
    }
    if (!Number.isInteger(options.workflowId) || options.workflowId <= 0)
      issues.push({ path: 'workflow_id', message: `must be a positive integer, got ${options.workflowId}` });
    if (issues.length) throw new InputError(issues);
    this.o = options;
    const waitForServerSeconds = options.waitForServerSeconds ?? null;
    this.session = new ServerSession(options.client, options.workflowId, {
      apiConcurrency: options.apiConcurrency,
      maxConsecutiveApiErrors: options.maxConsecutiveApiErrors,
      waitForServerMs: waitForServerSeconds === null ? undefined : waitForServerSeconds * 1000,
      onApiError: (operation, error) => this.emit({ type: 'api_error', operation, error }),
      onOutage: (event) => {
        if (event.type === 'lost') {
          this.emit({ type: 'server_lost', error: event.error, kept: event.kept, wait_for_server_seconds: this.session.clock.waitForServerMs / 1000 });
        } else {
          this.withdrawnForOutage = false;
          this.emit({ type: 'server_back', outage_ms: event.outage_ms, kept: event.kept });
        }
        this.waker.wake();
      },
      ends: this.endHandlers,
      startRefused: (report, error) => this.startRefused(report, error),
      startMovedOn: (report, fromRun) => this.startMovedOn(report, fromRun),
    });
  }

  get mode(): 'resources' | 'queue_depth' {
    return this.o.maxParallelJobs != null ? 'queue_depth' : 'resources';
  }

  /** Queue depth claims ahead; resource-aware claims depend on what is free, so they do not. */
  private get prefetching(): boolean {
    return this.mode === 'queue_depth';
  }

  /** Jobs running right now, or ended and not reported yet (ids). */
  runningJobIds(): number[] {
    return [...this.running.keys(), ...this.session.undeliveredEnds().map((f) => f.job_id)];
  }

  /** Runs until the workflow is done or canceled, the runner idles out, runs out of time, or stop(). */
  run(): Promise<RunSummary> {
    this.runPromise ??= this.execute();
    return this.runPromise;
  }

  /** Terminates running jobs and ends run(); resolves with its summary. */
  stop(options: StopOptions = {}): Promise<RunSummary | undefined> {
    if (!this.stopRequested) this.stopReport = options.report ?? 'requeue';
    this.stopRequested = true;
    defaultSpawner().cancelQueued(this.spawnGroup);
    this.terminateAll('stopped');
    this.waker.wake();
    return this.runPromise ?? Promise.resolve(undefined);
  }

  // ---- the run ---------------------------------------------------------------------------

  private async execute(): Promise<RunSummary> {
    const o = this.o;
    this.processOptions = { outputDir: o.outputDir, apiUrl: o.apiUrl, graceSeconds: o.graceSeconds, cwd: o.cwd, baseEnv: { ...process.env } };
    const resources = o.resources ?? (await detectResources({ overrides: o.overrides }));
    this.tracker = new ResourceTracker(resources.capacity.nodes, resources.gpu_ids, this.mode === 'resources');
    // Before registering: a runner that cannot enforce what it was asked to never takes a job.
    const monitorConfig = { ...(await this.session.monitorConfig()), ...(o.resourceMonitor ?? {}) };
    // Queue depth is for many small jobs whose requirements are not used: a cgroup per job
    // (~0.5 ms of kernel work around each) is kept for resource-aware runs, where the peaks size the
    // jobs, and for memory enforcement; the /proc walk measures queue-depth jobs.
    const backend = (o.monitorBackend ?? 'auto') === 'auto' && this.mode === 'queue_depth' && !o.enforceMemory ? 'proc' : o.monitorBackend;
    this.monitor = new JobMonitor({ config: monitorConfig, enforceMemory: o.enforceMemory, backend });
    const start = Date.now();
    this.endMs = o.endTime ? o.endTime.getTime() : o.timeLimitSeconds != null ? start + o.timeLimitSeconds * 1000 : null;

    const registration = {
      hostname: o.hostname ?? resources.hostname,
      pid: process.pid,
      num_cpus: resources.num_cpus,
      memory_gb: resources.memory_bytes / 1024 ** 3,
      num_gpus: resources.gpu_ids.length,
      num_nodes: resources.capacity.nodes.length,
      scheduler_config_id: o.schedulerConfigId ?? null,
      compute_node_type: o.computeNodeType ?? 'local',
      lease_seconds: o.leaseSeconds ?? 60,
      // Where this runner's job output goes, so the dashboard can show it (stdioPaths).
      output_dir: path.resolve(o.outputDir),
    };
    this.register = async () => {
      const id = await this.session.register(registration);
      this.summary.compute_node_id = id;
      this.emit({ type: 'registered', compute_node_id: id, resources, mode: this.mode, monitor: this.monitor?.backend ?? null, enforce_memory: o.enforceMemory === true });
    };
    try {
      await this.register();
    } catch (e) {
      // The server never answered (within --wait-for-server): nothing was claimed, nothing is owed.
      if (!(e instanceof ServerUnreachableError)) throw e;
      return this.giveUpUnregistered(e);
    }

    let heartbeatInFlight = false;
    const heartbeat = setInterval(() => {
      if (heartbeatInFlight || this.leaseLost) return;
      heartbeatInFlight = true;
      void this.session
        .heartbeat()
        .then((answer) => {
          // Refused (not merely unreachable): the server retired this node and requeued its jobs.
          if (answer === 'refused') {
            this.leaseLost = true;
            this.waker.wake();
          }
        })
        .finally(() => (heartbeatInFlight = false));
    }, (o.heartbeatSeconds ?? 10) * 1000);
    heartbeat.unref();

    let failure: unknown;
    try {
      this.summary.reason = await this.loop();
    } catch (e) {
      if (e instanceof ServerUnreachableError) {
        this.summary.reason = 'server_unreachable';
      } else {
        failure = e;
        this.summary.reason = 'error';
      }
    } finally {
      clearInterval(heartbeat);
      // Whatever still runs (stop(), an error, giving up on the server) is terminated before the
      // node goes away; what still waits in the spawner's queue never starts.
      defaultSpawner().cancelQueued(this.spawnGroup);
      await Promise.all(this.terminateAll('stopped'));
      await this.settleFinished();
      // A job that started while the others were being terminated is terminated too.
      await Promise.all(this.terminateAll('stopped'));
      await this.settleFinished();
      await this.reap(true);
      await this.flushSamples(true);
      await this.deliverTheRest();
      if (this.summary.reason !== 'server_unreachable') await this.session.deactivate();
    }
    this.emit({ type: 'stopped', reason: this.summary.reason, summary: this.summaryNow() });
    if (failure !== undefined) throw failure;
    return this.summaryNow();
  }

  /**
   * The last deliveries: with the server's full patience when the run ended by itself (the
   * workflow complete or canceled), briefly when it was stopped or failed, one last try after
   * giving up on the server. What is left was never delivered: it goes into the summary.
   */
  private async deliverTheRest(): Promise<void> {
    const reason = this.summary.reason;
    const budget = reason === 'server_unreachable' ? 0 : reason === 'stopped' || reason === 'error' ? STOP_DRAIN_MS : Infinity;
    const left = await this.session.drain(budget);
    for (const r of left) {
      this.summary.undelivered.push(r.label);
      if (r.kind === 'end') this.endHandlers.undelivered(r as EndReport, NEVER_DELIVERED);
    }
  }

  private summaryNow(): RunSummary {
    const clock = this.session.clock;
    return {
      ...this.summary,
      replayed: this.session.reports.replayed,
      outages: clock.outages,
      longest_outage_ms: Math.max(clock.longestMs, clock.elapsedMs),
      undelivered: [...this.summary.undelivered],
    };
  }

  /** No registration within --wait-for-server: stop without having claimed anything. */
  private giveUpUnregistered(e: ServerUnreachableError): RunSummary {
    this.summary.reason = 'server_unreachable';
    this.emit({ type: 'warning', message: `could not register with the server: ${e.message}` });
    this.emit({ type: 'stopped', reason: this.summary.reason, summary: this.summaryNow() });
    return this.summaryNow();
  }

  private async loop(): Promise<StopReason> {
    const o = this.o;
    const pollMs = (o.pollIntervalSeconds ?? 5) * 1000;
    const waitMs = o.waitForNewJobsSeconds != null ? o.waitForNewJobsSeconds * 1000 : null;
    let idleSince: number | null = null;
    // The workflow's progress (a count over all its jobs) is fetched when it can have changed
    // what the loop does: at the start, after a claim that found nothing (done? canceled?), and
    // at least every PROGRESS_REFRESH_MS. While claims keep returning jobs the workflow is
    // plainly not done, and a count per job would cost O(jobs) each (issue 9).
    let progress: WorkflowProgress | null = null;
    let progressAt = -Infinity;
    let claimFoundNothing = true;
    let lastTurn = -Infinity;
    for (;;) {
      if (this.stopRequested) return 'stopped';
      if (this.leaseLost) await this.recoverLostLease();
      if (this.session.clock.exceeded) return 'server_unreachable';
      if (this.prefetching) {
        // The spawner keeps the slots busy from its queue, so turns can be spaced out: every
        // turn costs a few transactions, and a spaced turn records many starts and ends at once.
        const gap = lastTurn + MIN_TURN_MS - Date.now();
        if (gap > 0) await new Promise((r) => setTimeout(r, gap));
        lastTurn = Date.now();
        if (this.stopRequested) return 'stopped';
        // The spawner refills the slots from its queue by itself; a turn records the starts and
        // the completions since the last one (one call each). The ended jobs are taken before
        // the started ones: every job that ended was started earlier, so its start is kept
        // (this turn or before) ahead of its completion.
        const ended = this.takeFinished();
        this.recordStarts(this.takeUnrecorded());
        await this.report(ended);
      } else {
        // Reap first, so that the progress below already counts our completions (the last
        // completion ends the run at once; dependents it made ready are claimed this turn).
        await this.reap();
      }
      // Everything owed is delivered, in order, before anything new is claimed.
      const delivered = await this.session.flush();
      if (this.session.clock.down) this.outageSeen();
      if (!delivered) {
        // The server has not taken it all: the jobs here run on, nothing new is claimed.
        const patience = this.session.clock.remainingMs;
        await this.waker.wait(Math.max(MIN_TURN_MS, Math.min(pollMs, this.session.reports.retryInMs() || pollMs, patience)));
        continue;
      }
      const fresh = this.needSync || claimFoundNothing || progress === null || Date.now() - progressAt >= PROGRESS_REFRESH_MS;
      if (fresh) {
        progress = await this.session.progress();
        progressAt = Date.now();
        if (progress) {
          this.runId = progress.run_id;
          this.emit({ type: 'progress', progress, running: this.running.size + this.session.undeliveredEnds().length });
          // Jobs a user canceled one by one (POST /jobs/{id}/cancel): end them as terminated.
          for (const id of progress.cancel_requested_job_ids ?? []) {
            const entry = this.running.get(id);
            if (entry) void this.terminate(entry, 'canceled');
          }
          if (progress.is_canceled) {
            defaultSpawner().cancelQueued(this.spawnGroup);
            await Promise.all(this.terminateAll('canceled'));
            await this.settleFinished();
            await this.reap();
            return 'canceled';
          }
        }
      }
      if (this.stopRequested) return 'stopped';
      if (this.session.clock.down || progress === null) {
        // No answer: wait for the server (or a job to end), probing now and then.
        this.outageSeen();
        await this.waker.wait(Math.max(MIN_TURN_MS, Math.min(pollMs, OUTAGE_PROBE_MS, this.session.clock.remainingMs)));
        continue;
      }
      // Back after an outage: agree on what this node holds before claiming anything new.
      if (this.needSync && !(await this.syncHeld())) continue;
      const done = progress.is_complete && !o.ignoreWorkflowCompletion;
      if (done && this.nothingOpen()) return 'complete';

      let claimed = 0;
      let asked = 0;
      if (!done) [claimed, asked] = this.prefetching ? await this.claimAhead() : await this.claimAndStart();
      claimFoundNothing = asked > 0 && claimed === 0;
      // Nothing claimed on an old view of the workflow: look again at once (it may be done).
      if (claimFoundNothing && !fresh) continue;

      const now = Date.now();
      const remaining = this.remainingSeconds();
      if (remaining !== null && remaining <= 0 && this.running.size === 0 && this.session.reports.size === 0) return 'time_limit';
      if (claimed === 0 && this.nothingOpen()) {
        idleSince ??= now;
        if (waitMs !== null && now - idleSince >= waitMs) return 'idle';
      } else {
        idleSince = null;
      }
      // A claim that filled its whole limit may have left more behind: go again at once.
      if (claimed > 0 && claimed >= asked) continue;
      // Started or ended while this turn ran, or not delivered yet: report them now.
      if (this.unrecorded.length > 0 || this.finished.length > 0 || this.session.reports.size > 0) continue;
      const untilIdle = idleSince !== null && waitMs !== null ? Math.max(1, idleSince + waitMs - now) : pollMs;
      await this.waker.wait(Math.min(pollMs, untilIdle));
    }
  }

  /**
   * A call went unanswered: the server may have done what it was asked and lost the answer (a
   * claim), so runner and server must agree on what this node holds before it claims again; and
   * jobs claimed ahead but not started stay unstarted (withdrawn from the spawner's queue: the
   * sync gives them back to ready) — while the server is away this node only finishes what runs.
   */
  private outageSeen(): void {
    this.needSync = true;
    if (this.withdrawnForOutage) return;
    this.withdrawnForOutage = true;
    defaultSpawner().cancelQueued(this.spawnGroup);
  }

  /**
   * After an outage: tell the server every job this node holds (running, claimed ahead, ended
   * but not acknowledged). It releases the rest (claimed here but never started) and names the
   * held jobs that are not this node's any more (the workflow was reset or canceled, the job
   * requeued): those are killed and nothing is reported for them. A node the server retired
   * (its lease ran out during the outage) starts over as a new node. False: try again later.
   */
  private async syncHeld(): Promise<boolean> {
    const held = new Map<number, HeldJob>();
    const hold = (job_id: number, attempt_id: number) => held.set(job_id, { job_id, attempt_id });
    for (const e of this.running.values()) hold(e.job.id, e.job.attempt_id);
    for (const job of this.queued.values()) hold(job.id, job.attempt_id);
    for (const r of this.session.reports.pending()) if (r.kind === 'start' || r.kind === 'end') hold((r as StartReport | EndReport).job_id, (r as StartReport | EndReport).attempt);
    const out = await this.session.sync([...held.values()]);
    if (out === null) return false;
    if (out === 'refused') {
      this.leaseLost = true;
      return false;
    }
    this.needSync = false;
    for (const id of out.revoked) {
      const entry = this.running.get(id);
      if (entry) void this.terminate(entry, 'lease_lost');
      else if (this.queued.has(id)) this.revoked.add(id);
    }
    if (out.released.length > 0 || out.revoked.length > 0) this.emit({ type: 'synced', released: out.released, revoked: out.revoked });
    return true;
  }

  /** Nothing runs, waits in the spawner's queue, or waits to be reported. */
  private nothingOpen(): boolean {
    return this.running.size === 0 && this.finished.length === 0 && this.alive === 0 && this.session.reports.size === 0;
  }

  /**
   * The server retired this node (its lease ran out, e.g. the runner was paused or cut off
   * longer than its lease) and gave its jobs to others: our copies must not run on beside
   * theirs, and nothing of the old node is reported (the server would refuse it as stale).
   * Kill them without reporting, then join again as a new node.
   */
  private async recoverLostLease(): Promise<void> {
    const oldNode = this.session.computeNodeId;
    this.emit({ type: 'warning', message: `compute node ${oldNode} lost its lease; its jobs were requeued by the server: killing them here, reporting nothing` });
    defaultSpawner().cancelQueued(this.spawnGroup);
    await Promise.all(this.terminateAll('lease_lost'));
    await this.settleFinished();
    await this.reap();
    for (const r of this.session.reports.remove((r) => (r as StartReport | EndReport).compute_node_id === oldNode)) {
      if (r.kind === 'end') this.endHandlers.undelivered(r as EndReport, new Error('dropped: the node lost its lease, the job was requeued'));
    }
    await this.register();
    this.leaseLost = false;
    this.needSync = false;
  }

  /** Seconds a newly claimed job may still run, or null without an end time. */
  private remainingSeconds(): number | null {
    if (this.endMs === null) return null;
    return Math.floor((this.endMs - Date.now()) / 1000) - (this.o.expirationBufferSeconds ?? 0);
  }

  // ---- claiming --------------------------------------------------------------------------

  /** Resource-aware: claims what fits the free resources now and starts it; returns [claimed, limit asked]. */
  private async claimAndStart(): Promise<[number, number]> {
    const o = this.o;
    const remaining = this.remainingSeconds();
    if (remaining !== null && remaining <= 0) return [0, 0];
    const runId = this.runId;
    const capacity = this.tracker!.capacity({ time_limit_seconds: remaining, scheduler_config_id: o.schedulerConfigId ?? null });
    if (!worthClaiming(capacity.nodes)) return [0, 0];
    const limit = o.claimLimit ?? 1000;
    // Claim and start in one call: the jobs come back running (a client or server that does
    // not know start_run_id returns them pending, and they are started below).
    const response = await this.session.claimByResources({
      capacity,
      sort_method: o.sortMethod,
      strict_scheduler_match: o.strictSchedulerMatch ?? false,
      any_scheduler: o.anyScheduler,
      limit,
      start_run_id: runId,
    });
    if (!response) return [0, limit];
    this.emit({ type: 'claimed', jobs: response.jobs, reason: response.reason });
    const pending = response.jobs.filter((job) => job.status !== 'running').map((job) => ({ id: job.id, attempt: job.attempt_id }));
    const started = await this.session.startClaimed(pending, runId);
    await Promise.all(
      response.jobs.map((job) => {
        if (job.status === 'running') return this.launch(job, runId, 'done');
        const st = started.get(job.id);
        return this.launch(job, runId, st === undefined ? 'now' : st ? 'done' : 'refused');
      }),
    );
    return [response.jobs.length, limit];
  }

  /**
   * Queue depth claims ahead (pending) while jobs are short (claimAheadDepth), so that an ended
   * job's slot is refilled from the spawner's queue without a server round trip (issue 9: the
   * claim sat between every exit and the next spawn). Returns [claimed, limit asked].
   */
  private async claimAhead(): Promise<[number, number]> {
    const o = this.o;
    const remaining = this.remainingSeconds();
    if (remaining !== null && remaining <= 0) return [0, 0];
    const ahead = claimAheadDepth(this.meanJobMs, o.maxParallelJobs!);
    const limit = o.maxParallelJobs! + ahead - this.alive;
    if (limit <= 0) return [0, 0];
    const runId = this.runId;
    const response = await this.session.claimNext(limit);
    if (!response) return [0, limit];
    this.emit({ type: 'claimed', jobs: response.jobs, reason: response.reason });
    for (const job of response.jobs) this.submit(job, runId);
    return [response.jobs.length, limit];
  }

  /** Hands a claimed-ahead job to the spawner's queue; the loop records its start once it runs. */
  private submit(job: ClaimedJobRecord, runId: number): void {
    this.alive++;
    this.queued.set(job.id, job);
    const launching = this.launch(job, runId, 'queued')
      .catch((e: unknown) => {
        this.emit({ type: 'warning', message: `job ${job.id} could not start: ${(e as Error).message}` });
      })
      .finally(() => this.queued.delete(job.id));
    this.launching.add(launching);
    void launching.finally(() => this.launching.delete(launching));
  }

  /** Jobs spawned from the queue whose start is not recorded yet (taken after takeFinished: see loop). */
  private takeUnrecorded(): Running[] {
    const list = this.unrecorded;
    this.unrecorded = [];
    return list;
  }

  /** The starts of jobs spawned from the queue, kept to be delivered in order (startRefused when the server says no). */
  private recordStarts(spawned: Running[]): void {
    if (spawned.length === 0) return;
    this.session.recordStarts(spawned.map((e) => ({ job_id: e.job.id, run_id: e.runId, attempt: e.job.attempt_id, name: e.job.name })));
  }

  /**
   * A refused start (the workflow was canceled or reset, or this node's lease ran out) means the
   * job must not run here: it is killed unreported, like the copies of a lost lease.
   */
  private startRefused(report: StartReport, error: unknown): void {
    const entry = this.running.get(report.job_id);
    if (!entry || entry.job.attempt_id !== report.attempt || entry.runId !== report.run_id) return;
    this.emit({ type: 'warning', message: `${report.label}: the server refused it (${errorText(error)}); killing it, reporting nothing` });
    void this.terminate(entry, 'lease_lost');
  }

  /** Started in a newer run than the one it was claimed under (the run moved on): its end is reported with that run. */
  private startMovedOn(report: StartReport, fromRun: number): void {
    this.runId = Math.max(this.runId, report.run_id);
    const entry = this.running.get(report.job_id);
    if (entry && entry.job.attempt_id === report.attempt && entry.runId === fromRun) entry.runId = report.run_id;
  }

  // ---- one job: start, end -----------------------------------------------------------------

  /**
   * Starts a claimed job here. `start`: 'now' calls start_job first; 'done' (claimed running)
   * spawn at once; 'queued' (claimed ahead: recordStarts follows) waits in the spawner's queue
   * of this runner until one of its maxParallelJobs slots is free; 'refused' gives it up.
   */
  private async launch(job: ClaimedJobRecord, runId: number, start: 'now' | 'done' | 'queued' | 'refused'): Promise<void> {
    const o = this.o;
    const tracker = this.tracker!;
    const grant = tracker.reserve(job);
    if (grant.overcommitted && this.mode === 'resources')
      this.emit({ type: 'warning', message: `job ${job.id} was claimed beyond the free resources of this runner` });
    if (start === 'refused' || (start === 'now' && !(await this.session.startJob(job.id, runId, job.attempt_id)))) {
      // Left pending on the server: the next sync, deactivation or the lease returns it to ready.
      tracker.release(job.id);
      return;
    }
    let proc: JobProcess | null;
    let placement: Placement = { cgroup: null };
    try {
      placement = this.monitor?.prepare({ workflow_id: o.workflowId, job_id: job.id, attempt: job.attempt_id, memory_bytes: job.resources.memory_bytes }) ?? placement;
      proc = await queueJobProcess(
        {
          workflow_id: o.workflowId,
          job_id: job.id,
          name: job.name,
          command: job.command,
          invocation_script: job.invocation_script,
          attempt: job.attempt_id,
          env: { ...(o.env ?? {}), ...(job.env ?? {}), ...resourceEnv(job) },
          gpus: grant.gpus,
          runtime_limit_seconds: o.enforceRuntime === false || !(job.resources.runtime_seconds > 0) ? null : job.resources.runtime_seconds,
          cgroups: placement.cgroup?.placement,
        },
        this.processOptions,
        start === 'queued' ? { group: this.spawnGroup, limit: o.maxParallelJobs! } : undefined,
      );
    } catch (e) {
      // The process could not even be set up (output dir not writable): the job failed.
      this.monitor?.discard(placement);
      tracker.release(job.id);
      this.emit({ type: 'warning', message: `job ${job.id} could not start: ${(e as Error).message}` });
      if (start === 'queued') this.alive--;
      this.reportUnstartable(job, runId, start === 'queued');
      this.summary.failed++;
      return;
    }
    if (proc === null) {
      // Withdrawn from the spawner's queue (stop, cancel, lost lease) before it started: still
      // pending on the server, which requeues or cancels it.
      this.monitor?.discard(placement);
      tracker.release(job.id);
      this.alive--;
      return;
    }
    const tracking =
      proc.pid === null
        ? null
        : (this.monitor?.start(placement, proc.pid, proc.startedAt.getTime(), (sample) =>
            this.samples.push({ job_id: job.id, run_id: runId, attempt_id: job.attempt_id, ...sample }),
          ) ?? null);
    if (proc.pid === null) this.monitor?.discard(placement);
    const entry: Running = { job, runId, nodeId: this.session.computeNodeId!, proc, grant, tracking };
    this.running.set(job.id, entry);
    this.summary.started++;
    this.emit({ type: 'job_started', job, pid: proc.pid, gpus: grant.gpus ?? [], stdout: proc.paths.stdout, stderr: proc.paths.stderr });
    void proc.done.then((outcome) => this.ended(entry, outcome, start === 'queued'));
    if (start === 'queued') {
      this.unrecorded.push(entry);
      this.waker.wake(); // its start gets recorded on the next turn
    }
    if (this.stopRequested) this.terminate(entry, 'stopped');
    // The server took it back while it waited in the spawner's queue (a sync after an outage).
    if (this.revoked.delete(job.id)) void this.terminate(entry, 'lease_lost');
  }

  /**
   * A job's process ended. A failure its handler retries runs the recovery script now, while
   * the job still holds its resources and is still running on the server (so nothing else
   * starts it meanwhile); then the attempt waits in `finished` for the next report.
   */
  private async ended(entry: Running, outcome: JobOutcome, queued: boolean): Promise<void> {
    // The attempt's last reading, before a recovery script runs.
    const monitor = entry.tracking?.finish(Date.parse(outcome.completion_time)) ?? null;
    const diagnosis = diagnose(entry.job, outcome, monitor);
    const retry = await this.planRetry(entry, outcome).catch((e: unknown) => {
      this.emit({ type: 'warning', message: `job ${entry.job.id}: failure handling failed: ${(e as Error).message}` });
      return undefined;
    });
    const result = {
      ...toCompleteResult(outcome),
      ...(monitor
        ? { peak_cpu_percent: monitor.peak_cpu_percent, avg_cpu_percent: monitor.avg_cpu_percent, peak_memory_bytes: monitor.peak_memory_bytes, avg_memory_bytes: monitor.avg_memory_bytes }
        : {}),
      ...(diagnosis ?? {}),
      job_stdout: entry.proc.paths.stdout,
      job_stderr: entry.proc.paths.stderr,
    };
    const report = {
      job_id: entry.job.id,
      run_id: entry.runId,
      attempt: entry.job.attempt_id,
      compute_node_id: entry.nodeId,
      status: outcome.status,
      result,
      retry,
    };
    this.finished.push({ kind: 'end', label: endLabel(report, entry.job.name), entry, outcome, ...report, monitor, diagnosis });
    const ms = Date.now() - entry.proc.startedAt.getTime();
    this.meanJobMs = this.meanJobMs === null ? ms : 0.9 * this.meanJobMs + 0.1 * ms;
    if (queued) this.alive--;
    this.waker.wake();
  }

  /** Whether the failure handler retries this attempt; runs its recovery script first. */
  private async planRetry(entry: Running, outcome: JobOutcome): Promise<Finished['retry']> {
    const job = entry.job;
    const retriable =
      (outcome.status === 'failed' && outcome.termination_reason === null) ||
      (outcome.status === 'terminated' && outcome.termination_reason === 'runtime_limit');
    if (!retriable) return undefined;
    const plan = await this.session.retryPlan(job.failure_handler_id, outcome.return_code, job.attempt_id);
    if (!plan) return undefined;
    let recovery_return_code: number | null = null;
    if (plan.recovery_script) {
      // Its failure does not stop the retry (as in torc); its return code is reported.
      const recovery = await startRecoveryScript(entry.proc, outcome.return_code, plan.recovery_script, this.processOptions);
      entry.recovery = recovery;
      if (this.stopRequested) void recovery.terminate('stopped');
      recovery_return_code = (await recovery.done).return_code;
      entry.recovery = undefined;
    }
    return { max_retries: plan.max_retries, recovery_return_code };
  }

  private terminate(entry: Running, reason: TerminationReason): Promise<JobOutcome> {
    if (entry.recovery && !entry.recovery.exited) void entry.recovery.terminate(reason);
    if (!entry.proc.exited && entry.proc.terminationReason === null) this.emit({ type: 'job_terminating', job: entry.job, reason });
    return entry.proc.terminate(reason);
  }

  private terminateAll(reason: TerminationReason): Promise<JobOutcome>[] {
    return [...this.running.values()].map((e) => this.terminate(e, reason));
  }

  /** Lets already-resolved completions land in `finished` (they are queued from promise callbacks). */
  private async settleFinished(): Promise<void> {
    await Promise.all([...this.launching]);
    await Promise.all([...this.running.values()].map((e) => e.proc.done));
    // Failure handling (a handler fetch, a recovery script) may still be on its way to `finished`.
    const waitingFor = () => [...this.running.values()].filter((e) => !this.finished.some((f) => f.entry === e));
    for (let i = 0; i < 200 && waitingFor().length > 0; i++) await new Promise((r) => setTimeout(r, i < 10 ? 0 : 25));
    await new Promise((r) => setImmediate(r));
  }

  // ---- reporting ends ----------------------------------------------------------------------

  /** Keeps the reports of the jobs that finished, to be delivered in order. */
  private async reap(final = false): Promise<void> {
    await this.report(this.takeFinished(), final);
  }

  /** The jobs that ended since the last turn, their slots and resources freed (nothing reported yet). */
  private takeFinished(): Finished[] {
    const batch = this.finished;
    this.finished = [];
    for (const f of batch) {
      this.running.delete(f.entry.job.id);
      this.tracker!.release(f.entry.job.id);
    }
    return batch;
  }

  /**
   * Reports ended jobs: requeued ones not at all (deactivation or the lost lease returns them
   * to ready), retried ones with retry_job, the rest completed with their files' times.
   */
  private async report(batch: Finished[], final = false): Promise<void> {
    // A job's samples reach the server before its end does (reports and plots read them then).
    await this.flushSamples(batch.length > 0 || final);
    const toDeliver: Finished[] = [];
    await Promise.all(
      batch.map(async (f) => {
        const reason = f.outcome.termination_reason;
        if (reason === 'lease_lost' || (reason === 'stopped' && this.stopReport === 'requeue')) {
          this.summary.requeued++;
          this.emit({ type: 'job_finished', job: f.entry.job, outcome: f.outcome, reported: false, monitor: f.monitor, diagnosis: f.diagnosis });
          return;
        }
        // The run its start was recorded in (recordStarts may have moved it on since it ended).
        f.run_id = f.entry.runId;
        const files = f.entry.job.files;
        if (f.outcome.status === 'completed' && files && files.length > 0) {
          f.result.files = await observeFiles(files, this.o.cwd ?? process.cwd());
        }
        toDeliver.push(f);
      }),
    );
    // Kept in the order they ended (Promise.all above keeps the batch's order).
    this.session.reportEnds(batch.filter((f) => toDeliver.includes(f)));
  }

  /** A claimed job whose process could not even be set up: recorded failed (return code 127), its start first when `recordStart`. */
  private reportUnstartable(job: ClaimedJobRecord, runId: number, recordStart: boolean): void {
    if (recordStart) this.session.recordStarts([{ job_id: job.id, run_id: runId, attempt: job.attempt_id, name: job.name }]);
    const report = {
      job_id: job.id,
      run_id: runId,
      attempt: job.attempt_id,
      compute_node_id: this.session.computeNodeId!,
      status: 'failed' as const,
      result: { return_code: 127, exec_time_minutes: 0, completion_time: new Date().toISOString() },
    };
    this.session.reportEnds([{ kind: 'end', label: endLabel(report, job.name), ...report }]);
  }

  private readonly endHandlers: EndReportHandlers = {
    retried: (r) => {
      if (!isFinished(r)) return;
      this.summary.retried++;
      this.emit({ type: 'job_retried', job: r.entry.job, outcome: r.outcome, attempt: r.entry.job.attempt_id + 1, recovery_return_code: r.retry?.recovery_return_code ?? null });
    },
    completed: (r) => {
      if (!isFinished(r)) return;
      const status = r.outcome.status;
      if (status === 'completed') this.summary.completed++;
      else if (status === 'terminated') this.summary.terminated++;
      else this.summary.failed++;
      this.emit({ type: 'job_finished', job: r.entry.job, outcome: r.outcome, reported: true, monitor: r.monitor, diagnosis: r.diagnosis });
    },
    undelivered: (r, error) => {
      // Refused by the server (stale: the job was requeued meanwhile), or never delivered (the
      // summary lists those).
      if (error !== NEVER_DELIVERED) this.emit({ type: 'warning', message: `${r.label}: not recorded (${errorText(error)})` });
      if (isFinished(r)) this.emit({ type: 'job_finished', job: r.entry.job, outcome: r.outcome, reported: false, monitor: r.monitor, diagnosis: r.diagnosis });
    },
  };

  /** Sends the waiting time-series samples: `force`, or when enough wait or enough time passed. */
  private async flushSamples(force: boolean): Promise<void> {
    if (this.samples.length === 0) return;
    if (!force && this.samples.length < SAMPLE_FLUSH_COUNT && Date.now() - this.samplesSentAt < SAMPLE_FLUSH_MS) return;
    const batch = this.samples;
    this.samples = [];
    this.samplesSentAt = Date.now();
    await this.session.reportResourceSamples(batch);
  }

  private emit(event: RunnerEvent): void {
    try {
      this.o.onEvent?.(event);
    } catch {
      // A display callback must never break the runner.
    }
  }
}

/** Why an unsuccessful attempt failed, from how it ended and what its monitoring saw (allocator/diagnosis.ts). */
function diagnose(job: ClaimedJobRecord, outcome: JobOutcome, monitor: MonitorReport | null): Diagnosis | null {
  if (outcome.status === 'completed') return null;
  return diagnoseFailure({
    return_code: outcome.return_code,
    termination_reason: outcome.termination_reason,
    oom_kills: monitor?.oom_kills ?? null,
    peak_memory_bytes: monitor?.peak_memory_bytes ?? null,
    memory_limit_bytes: monitor?.memory_limit_bytes ?? job.resources.memory_bytes,
    exec_time_seconds: outcome.exec_time_minutes * 60,
    runtime_seconds: job.resources.runtime_seconds > 0 ? job.resources.runtime_seconds : null,
  });
}

/** The job's own requirements, for jobs that size themselves (threads, heap) to what they were given. */
function resourceEnv(job: ClaimedJobRecord): Record<string, string> {
  const r = job.resources;
  return {
    TORC_JOB_NUM_CPUS: String(r.num_cpus),
    TORC_JOB_MEMORY_BYTES: String(r.memory_bytes),
    TORC_JOB_NUM_GPUS: String(r.num_gpus),
    TORC_JOB_RUNTIME_SECONDS: String(r.runtime_seconds),
  };
}
