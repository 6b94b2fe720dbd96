/**
 * The reconcile loop for one workflow: observed state (store, runners) → actions, until the
 * workflow is complete. Every pass is idempotent, so the process can be killed at any moment
 * and started again:
 *   1. requeue orphans: nodes whose lease ran out, and this host's nodes whose process died
 *      (full passes: the first, the resync and the last);
 *   2. initialize jobs that are still uninitialized (after a create, replace or reset);
 *   3. compute status (phase, counts, conditions) and report it when it changed;
 *   4. actions: fire triggers (once per run), claim and start what is pending (actions.ts);
 *   5. finished → wait for running actions, stop the runners.
 * Dispatch itself is done by the runners, each claiming through the one allocator: the local
 * runner in this process (in-process client), external runners over REST.
 * Passes run when something changes (a claim, a start, a completion wakes the loop; at most one
 * such pass per PASS_GAP_MS) and on a periodic resync (a timer), never two at a time.
 */
import type { Store } from '../store/index.js';
import { JobRunner, type RunnerEvent, type RunSummary } from '../runners/local/job-runner.js';
import type { ResourceOverrides } from '../runners/local/resources.js';
import type { BackendChoice } from '../runners/monitor/index.js';
import { StoreRunnerClient } from '../store/runner-client.js';
import { computeStatus, type WorkflowStatusView } from '../contract/workflow-status.js';
import { killOrphanJobs, PidLog, retireDeadLocalNodes } from './orphans.js';
import { ActionExecutor } from './actions.js';
import { CoalescedPass } from '../coalesced.js';
import { StorageFault } from '../errors.js';
import { waitForHealthyDatabaseMinutes } from '../spec/plan.js';

/** Shortest gap between passes woken by job changes (the resync and explicit passes do not wait). */
const PASS_GAP_MS = 200;

export interface ReconcilerOptions {
  store: Store;
  workflowId: number;
  /** Job stdio and bookkeeping go here. */
  outputDir: string;
  /** Working directory of jobs. */
  cwd?: string;
  /** Run a local runner in this process (default true). */
  localRunner?: boolean;
  maxParallelJobs?: number | null;
  overrides?: ResourceOverrides;
  /** Cap each job's memory at its requirement (cgroup limit). */
  enforceMemory?: boolean;
  monitorBackend?: BackendChoice;
  /** TORC_API_URL handed to jobs when the REST API is served. */
  apiUrl?: string | null;
  /** Seconds between periodic resyncs (default 5). */
  resyncSeconds?: number;
  pollIntervalSeconds?: number;
  graceSeconds?: number;
  onStatus?: (status: WorkflowStatusView) => void;
  onRunnerEvent?: (event: RunnerEvent) => void;
  /** Notes for a person: orphans requeued, nothing fits, … */
  onNotice?: (message: string) => void;
  /** Run the workflow's actions (default true). */
  actions?: boolean;
  /**
   * Dispatchers that place ready jobs elsewhere (the Slurm dispatch of `--runner slurm`): each
   * pass calls `pass()`, the end of the reconcile `stop()`.
   */
  dispatchers?: Dispatcher[];
}

export interface Dispatcher {
  pass(): Promise<unknown>;
  stop?(): Promise<unknown>;
}

export interface ReconcileResult {
  status: WorkflowStatusView;
  runner: RunSummary | null;
  /**
   * Set when ready jobs can never run: nothing is running anywhere, no other runner is
   * registered, and the local runner, with all its capacity free, could not claim any of them.
   */
  stuck: string | null;
}

/** Nothing can run or finish by itself: every unfinished job is blocked, and pending_failed jobs hold them. */
export function awaitingClassification(counts: Record<string, number>): boolean {
  const active = (counts.uninitialized ?? 0) + (counts.ready ?? 0) + (counts.pending ?? 0) + (counts.running ?? 0);
  return active === 0 && (counts.blocked ?? 0) > 0 && (counts.pending_failed ?? 0) > 0;
}

export class Reconciler {
  private readonly o: ReconcilerOptions;
  private runner: JobRunner | null = null;
  private readonly passes = new CoalescedPass(async () => {
    const fullPass = this.fullDue;
    this.fullDue = false;
    try {
      await this.passOnce(fullPass);
    } catch (err) {
      // The machine failed the database (a full disk, a damaged file): nothing here can go on;
      // run() stops the runner and throws it, with its message for a person.
      if (!(err instanceof StorageFault)) throw err;
      this.fault ??= err;
      this.finished = true;
      this.resolveDone();
    }
    this.lastPassAt = Date.now();
  }, () => !this.finished);
  /** A fault of the storage that ended the reconcile (thrown by run()). */
  private fault: StorageFault | null = null;
  private lastStatus: WorkflowStatusView | null = null;
  private lastKey = '';
  private finished = false;
  /** Reason of the local runner's last claim that returned nothing, while it ran nothing. */
  private idleClaimReason: string | null = null;
  private stuck: string | null = null;
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((r) => (this.resolveDone = r));
  /** In-process client over the store: every state change it makes wakes a pass. */
  private readonly client: StoreRunnerClient;
  private readonly actions: ActionExecutor | null;
  private fullDue = true;
  private lastPassAt = -Infinity;
  private wakeTimer: NodeJS.Timeout | null = null;

  constructor(options: ReconcilerOptions) {
    this.o = options;
    this.client = new StoreRunnerClient(options.store, () => this.wake());
    this.actions =
      options.actions === false
        ? null
        : new ActionExecutor({
            store: options.store,
            workflowId: options.workflowId,
            outputDir: options.outputDir,
            cwd: options.cwd ?? process.cwd(),
            apiUrl: options.apiUrl ?? null,
            client: this.client,
            onNotice: options.onNotice,
          });
  }

  /**
   * Something changed (a claim, a start, a completion; `full`: the periodic resync). Passes
   * triggered by changes run at most once per PASS_GAP_MS: a pass counts every job of the
   * workflow, and the local runner alone makes three changes per job (issue 9: thousands of
   * passes per second otherwise). The status a pass reports is at most that much behind.
   */
  private wake(full = false): void {
    if (full) this.fullDue = true;
    if (this.wakeTimer || this.finished) return;
    const delay = Math.max(0, this.lastPassAt + PASS_GAP_MS - Date.now());
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      void this.pass(false).catch((err) => this.o.onNotice?.(`reconcile pass failed: ${String(err)}`));
    }, delay);
  }

  /**
   * One idempotent pass. Safe to call at any time; overlapping calls coalesce. A full pass
   * (the default; the resync) also retires runners that are gone, which no job change can cause.
   */
  pass(full = true): Promise<void> {
    if (full) this.fullDue = true;
    return this.passes.trigger();
  }

  private async passOnce(full: boolean): Promise<void> {
    const { store, workflowId } = this.o;
    if (full) {
      const expired = await store.expireLeases();
      const dead = await retireDeadLocalNodes(store, workflowId);
      if (expired.requeued_jobs + dead > 0) {
        this.o.onNotice?.(`requeued ${expired.requeued_jobs + dead} job(s) of runners that are gone`);
      }
    }
    const progress = await store.getStatus(workflowId);
    if (progress.counts.uninitialized! > 0) {
      await store.initializeJobs(workflowId);
    }
    const latest = progress.counts.uninitialized! > 0 ? await store.getStatus(workflowId) : progress;
    const status = computeStatus({ counts: latest.counts, canceled: latest.is_canceled, previous: this.lastStatus?.conditions });
    const key = JSON.stringify([status.phase, status.counts]);
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastStatus = status;
      this.o.onStatus?.(status);
    }
    // Before finishing: on_workflow_complete fires in this same pass.
    if (this.actions) await this.actions.step();
    for (const d of this.o.dispatchers ?? []) await d.pass();
    if (latest.is_complete && !this.finished) {
      this.finished = true;
      this.resolveDone();
    } else if (!this.finished) {
      const stuck = await this.stuckReason(latest.counts);
      if (stuck) {
        this.stuck = stuck;
        this.finished = true;
        this.resolveDone();
      }
    }
  }

  /** Why the workflow cannot go on by itself (with what to do about it), or null while it can. */
  private async stuckReason(counts: Record<string, number>): Promise<string | null> {
    if (await this.cannotProgress(counts)) {
      return (
        `${counts.ready} ready job(s) cannot run on this machine: ${this.idleClaimReason}\n` +
        '  offer more with --num-cpus/--memory-gb/--num-gpus, or let other runners join (torc run WF --url …); re-run to continue'
      );
    }
    if (awaitingClassification(counts) && (this.runner?.runningJobIds().length ?? 0) === 0) {
      return (
        `${counts.blocked} blocked job(s) wait on ${counts.pending_failed} pending_failed job(s) (use_pending_failed: failures no ` +
        'failure-handler rule covers wait to be classified)\n' +
        '  re-run to run them again (with their downstream), or reset them: torc workflows reset-status WF --failed-only'
      );
    }
    return null;
  }

  private async cannotProgress(counts: Record<string, number>): Promise<boolean> {
    if (!this.runner || this.idleClaimReason === null || !/fit/.test(this.idleClaimReason)) return false;
    if (counts.ready === 0 || counts.pending! > 0 || counts.running! > 0) return false;
    if (this.runner.runningJobIds().length > 0) return false;
    const nodes = await this.o.store.listComputeNodes(this.o.workflowId, { activeOnly: true, limit: 2 });
    return nodes.total <= 1; // only our own runner
  }

  get status(): WorkflowStatusView | null {
    return this.lastStatus;
  }

  /** Runs until the workflow is complete (or canceled and drained). */
  async run(): Promise<ReconcileResult> {
    const { store, workflowId, outputDir } = this.o;
    const killed = killOrphanJobs(outputDir);
    const pidLog = new PidLog(outputDir, workflowId);
    if (killed > 0) this.o.onNotice?.(`killed ${killed} job process(es) left running by an earlier run`);
    await this.pass();
    // Set-up actions (on_workflow_start) finish before the local runner starts jobs.
    await this.actions?.idle();
    if (this.finished) {
      await this.actions?.stop();
      return { status: this.lastStatus!, runner: null, stuck: null };
    }

    const wake = () => this.wake();
    // A fixed period, not a calendar schedule: a plain timer (cron is for `schedule`).
    const resync = setInterval(() => this.wake(true), Math.max(1, Math.round(this.o.resyncSeconds ?? 5)) * 1000);
    let runnerSummary: RunSummary | null = null;
    try {
      if (this.o.localRunner !== false) {
        const settings = (await store.getWorkflow(workflowId)).settings;
        this.runner = new JobRunner({
          waitForServerSeconds: 60 * waitForHealthyDatabaseMinutes(settings),
          client: this.client,
          workflowId,
          outputDir,
          cwd: this.o.cwd,
          maxParallelJobs: this.o.maxParallelJobs ?? null,
          overrides: this.o.overrides,
          enforceMemory: this.o.enforceMemory,
          monitorBackend: this.o.monitorBackend,
          anyScheduler: true,
          apiUrl: this.o.apiUrl ?? null,
          pollIntervalSeconds: this.o.pollIntervalSeconds,
          graceSeconds: this.o.graceSeconds,
          computeNodeType: 'local',
          waitForNewJobsSeconds: null,
          onEvent: (event) => {
            if (event.type === 'claimed') {
              const wasIdle = this.idleClaimReason;
              this.idleClaimReason = event.jobs.length === 0 && this.runner?.runningJobIds().length === 0 ? event.reason : null;
              if (this.idleClaimReason && !wasIdle) wake();
            }
            if (event.type === 'job_started' && event.pid) pidLog.record(event.job.id, event.pid);
            // The runner's reports cannot be stored (a full disk, a damaged file): stop rather
            // than have it wait for a database that will not heal by itself.
            if (event.type === 'server_lost' && event.error instanceof StorageFault) {
              this.fault ??= event.error;
              this.finished = true;
              this.resolveDone();
            }
            this.o.onRunnerEvent?.(event);
          },
        });
        const runnerDone = this.runner.run();
        // The runner stops by itself when the workflow is complete. If it stops for another
        // reason (repeated errors) nothing here would make progress: report it and finish.
        const early = await Promise.race([runnerDone, this.done.then(() => null)]);
        if (early) {
          runnerSummary = early;
          await this.pass().catch((err: unknown) => {
            if (!(err instanceof StorageFault)) throw err;
            this.fault ??= err;
          });
          if (!this.finished && early.reason !== 'complete' && early.reason !== 'canceled') {
            this.stuck = `the local runner stopped (${early.reason})`;
            this.finished = true;
            this.resolveDone();
          }
        }
      }
      await this.done;
      await this.pass();
      await this.actions?.idle();
    } finally {
      clearInterval(resync);
      if (this.wakeTimer) clearTimeout(this.wakeTimer);
      this.wakeTimer = null;
      if (this.runner) runnerSummary = (await this.runner.stop()) ?? runnerSummary;
      const lost = runnerSummary?.undelivered.length ?? 0;
      if (lost > 0) this.o.onNotice?.(`${lost} report(s) of jobs that ran here could not be stored; those jobs run again next time`);
      // Every job this process started has ended: nothing left for a later run to kill.
      pidLog.close();
      await this.actions?.stop();
      for (const d of this.o.dispatchers ?? []) await d.stop?.();
    }
    if (this.fault) throw this.fault;
    return { status: this.lastStatus!, runner: runnerSummary, stuck: this.stuck };
  }

  /** Stops the local runner (its running jobs are terminated and left for requeue). */
  async stop(): Promise<void> {
    if (this.runner) await this.runner.stop();
    this.finished = true;
    this.resolveDone();
  }
}
