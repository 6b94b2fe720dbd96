/**
 * A job runner's session with the server: every call the runner makes goes through here. It
 * owns how the runner talks, so the run loop (job-runner.ts) only says what to tell:
 * - at most `apiConcurrency` calls in flight;
 * - what the server must learn (a job started, ended, was retried) goes into the ReportQueue
 *   (../report-queue.ts) and is delivered oldest first, in one bulk call per kind and run where
 *   the server has the bulk routes (found out once), until the server acknowledges it: a
 *   report that was not delivered is kept and tried again with backoff, a refused one (a 4xx:
 *   a stale attempt, a job canceled meanwhile) is dropped and the loop is told;
 * - every call feeds one OutageClock: the first failure after a success starts an outage, an
 *   answer ends it; the runner gives up when an outage passes `waitForServerMs` (torc's
 *   compute_node_wait_for_healthy_database_minutes), with the reports never delivered listed;
 * - calls the loop can live without (progress, claims) answer null when they fail, and a run of
 *   `maxConsecutiveApiErrors` refusals (4xx) ends the run: the server is answering, but no.
 * Reports carry job, run, attempt and compute node, so the server can acknowledge a duplicate
 * (the answer to the first delivery was lost) and refuse a stale one (the job was requeued).
 * The failure handler's rules are fetched once per handler and applied with the allocator's
 * decideFailure, as the server applies them again when the retry arrives.
 */
import pLimit from 'p-limit';
import { decideFailure } from '../../allocator/failure-policy.js';
import type {
  BulkItemResult,
  ClaimByResourcesRequest,
  ClaimResponse,
  CompleteJobResult,
  ComputeNodeRegistration,
  HeldJob,
  NodeSyncOutcome,
  RunnerClient,
  WorkflowProgress,
} from '../../contract/client.js';
import type { CompletionStatusName } from '../../contract/status.js';
import { ConflictError, InputError, NotFoundError } from '../../errors.js';
import type { PlanFailureRule } from '../../spec/plan.js';
import { resolveResourceMonitor, type ResourceMonitorConfig } from '../../spec/resource-monitor.js';
import type { ResourceSample } from '../../contract/resources.js';
import { ACKNOWLEDGED, backoffDelay, OutageClock, ReportQueue, type BackoffOptions, type Report, type Verdict } from '../report-queue.js';

/** torc's default compute_node_wait_for_healthy_database_minutes, in ms. */
const DEFAULT_WAIT_FOR_SERVER_MS = 20 * 60_000;

export interface ServerSessionOptions {
  /** At most this many API calls in flight (default 4). */
  apiConcurrency?: number;
  /** Give up after this many refused (4xx) calls in a row (default 30). */
  maxConsecutiveApiErrors?: number;
  /** The longest outage waited through, reports kept (default 20 min). */
  waitForServerMs?: number;
  backoff?: BackoffOptions;
  /** A failed call: every refusal, and the first failure of an outage (not each retry during it). */
  onApiError(operation: string, error: unknown): void;
  /** The server stopped answering / answers again (with how long it was away and the reports delivered since). */
  onOutage?(event: OutageEvent): void;
  /** What became of the end reports. */
  ends: EndReportHandlers;
  /** The server refused a start report (canceled, reset, the node's lease ran out): the job must not run here. */
  startRefused(report: StartReport, error: unknown): void;
  /**
   * A start refused because the run moved on was asked again in the current run (see
   * deliverStarts); `report.run_id` is that run now, `fromRun` the one the runner knew.
   */
  startMovedOn(report: StartReport, fromRun: number): void;
}

export type OutageEvent =
  | { type: 'lost'; error: unknown; kept: number }
  | { type: 'back'; outage_ms: number; kept: number };

/** Who reported what: the identity the server checks a report against. */
interface AttemptReport extends Report {
  job_id: number;
  run_id: number;
  /** The attempt the report is about. */
  attempt: number;
  /** The node that ran it (reports of a node that lost its lease are refused). */
  compute_node_id: number;
}

/** A job spawned here before its start was recorded (queue depth claims ahead). */
export interface StartReport extends AttemptReport {
  kind: 'start';
}

/** How an attempt ended, to be told to the server: completed/failed/terminated, or retried by its failure handler. */
export interface EndReport extends AttemptReport {
  kind: 'end';
  /** Completion status (completed, failed, terminated). */
  status: CompletionStatusName;
  result: CompleteJobResult;
  /** Set when the failure handler retries the attempt: report it with retry_job first. */
  retry?: { max_retries: number };
  /** Set once the server took it as a retry. */
  retried?: boolean;
}

/** What became of each end report (called as it happens). */
/** Resource samples (time series) of this node's jobs, kept through an outage like starts and ends. */
export interface SamplesReport extends Report {
  kind: 'samples';
  samples: ResourceSample[];
}

export interface EndReportHandlers {
  /** The server took the retry: the job is ready again with attempt + 1. */
  retried(report: EndReport): void;
  /** The server recorded the completion. */
  completed(report: EndReport): void;
  /** Not recorded: refused for good (stale, canceled), or never delivered (the run gave up). */
  undelivered(report: EndReport, error: unknown): void;
}

/** The failure handler's verdict on an attempt it retries. */
export interface RetryPlan {
  max_retries: number;
  /** Runs before the retry is reported (rule.recovery_script), or null. */
  recovery_script: string | null;
}

/** The outage outlasted --wait-for-server: the run gives up, saying what was never delivered. */
export class ServerUnreachableError extends Error {
  constructor(
    readonly outageMs: number,
    readonly lastError: unknown,
  ) {
    super(`the server did not answer for ${formatMs(outageMs)} (last error: ${errorText(lastError)})`);
    this.name = 'ServerUnreachableError';
  }
}

export function endLabel(r: Pick<EndReport, 'job_id' | 'attempt' | 'status' | 'result' | 'retry'>, name?: string): string {
  const what = r.retry ? `${r.status}, to retry` : r.status;
  return `job ${r.job_id}${name ? ` (${name})` : ''} attempt ${r.attempt}: ${what}, return code ${r.result.return_code}`;
}

export class ServerSession {
  /** The runner's compute node, once registered. */
  computeNodeId: number | null = null;
  readonly clock: OutageClock;
  readonly reports: ReportQueue;
  private readonly limit: ReturnType<typeof pLimit>;
  private refusalsInRow = 0;
  /** Whether the server has the bulk start/complete routes (assumed until it says otherwise). */
  private bulkRoutes = true;
  private readonly handlerRules = new Map<number, Promise<PlanFailureRule[]>>();
  private samplesRefused = false;

  constructor(
    readonly client: RunnerClient,
    readonly workflowId: number,
    private readonly o: ServerSessionOptions,
  ) {
    this.limit = pLimit(Math.max(1, o.apiConcurrency ?? 4));
    this.clock = new OutageClock(o.waitForServerMs ?? DEFAULT_WAIT_FOR_SERVER_MS, {
      lost: (error) => o.onOutage?.({ type: 'lost', error, kept: this.reports.size }),
      back: (ms) => o.onOutage?.({ type: 'back', outage_ms: ms, kept: this.reports.size }),
    });
    this.reports = new ReportQueue(this.clock, o.backoff);
    this.reports.register<StartReport>('start', {
      deliver: (batch) => this.deliverStarts(batch),
      refused: (r, e) => o.startRefused(r, e),
    });
    this.reports.register<EndReport>('end', {
      deliver: (batch) => this.deliverEnds(batch),
      acknowledged: (r) => (r.retried ? o.ends.retried(r) : o.ends.completed(r)),
      refused: (r, e) => o.ends.undelivered(r, e),
    });
    this.reports.register<SamplesReport>('samples', {
      // Consecutive sample reports go as one call, one verdict for all of them.
      deliver: async (batch) => {
        const client = this.client;
        const v = await this.verdictOf('record_resource_samples', () => client.recordResourceSamples!(this.workflowId, batch.flatMap((r) => r.samples)));
        return batch.map(() => v);
      },
      maxBatch: 50,
      // A server without the route (torc's own) will not take any: stop sending. A refused
      // batch (422) is dropped alone.
      refused: (_r, e) => {
        if (!(e instanceof InputError)) this.samplesRefused = true;
      },
    });
  }

  // ---- the compute node ------------------------------------------------------------------

  /**
   * Registers the runner as a compute node (again, after a lost lease), waiting through an
   * outage up to its limit (ServerUnreachableError); a refusal is thrown at once.
   */
  async register(registration: ComputeNodeRegistration): Promise<number> {
    const node = await this.patiently('create_compute_node', () => this.client.registerComputeNode(this.workflowId, registration));
    this.computeNodeId = node.id;
    return node.id;
  }

  /**
   * Renews the lease. 'refused': the server retired this node (not merely unreachable) and
   * requeued its jobs; 'failed': no answer, the lease decides.
   */
  async heartbeat(): Promise<'ok' | 'failed' | 'refused'> {
    const nodeId = this.computeNodeId!;
    try {
      await this.api(() => this.client.heartbeat(nodeId));
      this.answered();
      return 'ok';
    } catch (e) {
      if (!isPermanent(e)) {
        this.transientFailure('heartbeat', e);
        return 'failed';
      }
      this.o.onApiError('heartbeat', e);
      return nodeId === this.computeNodeId ? 'refused' : 'failed';
    }
  }

  /** A clean exit: the node's unfinished jobs go back to ready. One try: the lease covers a server that is away. */
  async deactivate(): Promise<void> {
    const nodeId = this.computeNodeId!;
    await this.tryApi('deactivate_compute_node', () => this.client.deactivateComputeNode(nodeId));
  }

  /**
   * After an outage: tells the server which jobs this node holds (see RunnerClient.syncComputeNode).
   * 'refused': the node is no longer active (its lease ran out); null: no answer (try again
   * later); a server or client without the call counts as agreed.
   */
  async sync(held: HeldJob[]): Promise<NodeSyncOutcome | 'refused' | null> {
    const client = this.client;
    if (!client.syncComputeNode) return { released: [], revoked: [] };
    const nodeId = this.computeNodeId!;
    try {
      const out = await this.api(() => client.syncComputeNode!(nodeId, held));
      this.answered();
      return out;
    } catch (e) {
      if (!isPermanent(e)) {
        this.transientFailure('sync_compute_node_jobs', e);
        return null;
      }
      this.o.onApiError('sync_compute_node_jobs', e);
      return e instanceof ConflictError || (e as { status?: number }).status === 409 ? 'refused' : { released: [], revoked: [] };
    }
  }

  // ---- reading and claiming --------------------------------------------------------------

  progress(): Promise<WorkflowProgress | null> {
    return this.tryApi('get_progress', () => this.client.getProgress(this.workflowId));
  }

  /** Queue depth: the next `limit` ready jobs, pending (the runner records their starts once they run). */
  claimNext(limit: number): Promise<ClaimResponse | null> {
    return this.tryApi('claim_next_jobs', () => this.client.claimNextJobs(this.workflowId, limit, this.computeNodeId!));
  }

  claimByResources(req: Omit<ClaimByResourcesRequest, 'compute_node_id'>): Promise<ClaimResponse | null> {
    return this.tryApi('claim_jobs_based_on_resources', () =>
      this.client.claimJobsBasedOnResources(this.workflowId, { ...req, compute_node_id: this.computeNodeId }),
    );
  }

  // ---- starts ------------------------------------------------------------------------------

  /**
   * Claimed jobs that did not come back running, started in one bulk call when the server has
   * it, before they are spawned. Per job: true (running), false (refused, or no answer: leave it
   * to the server, which gets it back with the next sync), absent (start it with startJob).
   */
  async startClaimed(jobs: { id: number; attempt: number }[], runId: number): Promise<Map<number, boolean>> {
    const state = new Map<number, boolean>();
    if (jobs.length < 2 || !this.client.startJobs || !this.bulkRoutes) return state;
    try {
      const results = await this.withRetries('start_jobs', () =>
        this.client.startJobs!(this.workflowId, jobs.map((j) => j.id), runId, this.computeNodeId!, jobs.map((j) => j.attempt)),
      );
      for (const r of results) state.set(r.job_id, r.ok);
    } catch (e) {
      // A server without the bulk routes: one by one from now on.
      if (isPermanent(e)) this.bulkRoutes = false;
      else for (const j of jobs) state.set(j.id, false);
    }
    return state;
  }

  /** start_job before the job is spawned; false when it failed (refused, or no answer): the job is not run here. */
  async startJob(jobId: number, runId: number, attempt: number): Promise<boolean> {
    try {
      await this.withRetries('start_job', () => this.client.startJob(jobId, runId, this.computeNodeId!, attempt));
      return true;
    } catch {
      return false;
    }
  }

  /** Keeps the starts of jobs that were spawned already (queue depth claims ahead), to be delivered in order. */
  recordStarts(starts: { job_id: number; run_id: number; attempt: number; name?: string }[]): void {
    const node = this.computeNodeId!;
    this.reports.push(
      ...starts.map(
        (s): StartReport => ({
          kind: 'start',
          job_id: s.job_id,
          run_id: s.run_id,
          attempt: s.attempt,
          compute_node_id: node,
          label: `job ${s.job_id}${s.name ? ` (${s.name})` : ''} attempt ${s.attempt}: started`,
        }),
      ),
    );
  }

  // ---- failure handling --------------------------------------------------------------------

  /**
   * Whether the job's failure handler retries this failed attempt (the server can: the client
   * has retry_job), decided with the allocator's failure policy on the handler's rules.
   */
  async retryPlan(failureHandlerId: number | null, returnCode: number, attempt: number): Promise<RetryPlan | undefined> {
    const client = this.client;
    if (failureHandlerId === null || !client.getFailureHandler || !client.retryJob) return undefined;
    let rules = this.handlerRules.get(failureHandlerId);
    if (!rules) {
      // Waits through an outage like a report: a failure must not lose its retry because the
      // server was away when the rules were first needed.
      rules = this.patiently('get_failure_handler', () => client.getFailureHandler!(failureHandlerId)).then((h) => h.rules);
      this.handlerRules.set(failureHandlerId, rules);
      rules.catch(() => this.handlerRules.delete(failureHandlerId));
    }
    const decision = decideFailure(await rules, returnCode, attempt);
    if (decision.action !== 'retry') return undefined;
    return { max_retries: decision.rule.max_retries, recovery_script: decision.rule.recovery_script ?? null };
  }

  // ---- ends --------------------------------------------------------------------------------

  /** Keeps end reports, to be delivered in order after everything kept before them. */
  reportEnds(reports: EndReport[]): void {
    this.reports.push(...reports);
  }

  /** The end reports not delivered yet, oldest first. */
  undeliveredEnds(): EndReport[] {
    return this.reports.pending().filter((r): r is EndReport => r.kind === 'end');
  }

  /** Delivers what is kept, if its backoff is over; true when nothing is left. */
  flush(): Promise<boolean> {
    return this.reports.flush();
  }

  /**
   * Delivers everything kept, trying again with backoff, for at most `budgetMs` and never past
   * the outage limit. What is still kept then is returned and removed (the run gives up on it).
   */
  async drain(budgetMs: number): Promise<Report[]> {
    const deadline = Date.now() + budgetMs;
    await this.reports.drain(() => Date.now() < deadline && !this.clock.exceeded);
    return this.reports.remove(() => true);
  }

  /**
   * Starts recorded in one bulk call per run and node where the server has the bulk route, else
   * one call per job. A start refused because the run moved on between the runner's last look
   * at the workflow and its claim-ahead (a reset, e.g. "rerun failed": the claim was of the new
   * run) is asked again in the current run, and the attempt's end reports kept behind it move
   * with it; killed instead, such a job stayed pending for good (this node's lease never runs
   * out) and the workflow never ended.
   */
  private async deliverStarts(batch: StartReport[]): Promise<Verdict[]> {
    const verdicts = await this.startVerdicts(batch);
    const refused = batch.filter((r) => verdicts.get(r)!.outcome === 'refused');
    const progress = refused.length > 0 ? await this.progress() : null;
    const moved = progress ? refused.filter((r) => r.run_id < progress.run_id) : [];
    if (progress && moved.length > 0) {
      const asked = moved.map((r) => ({ ...r, run_id: progress.run_id }));
      const again = await this.startVerdicts(asked);
      moved.forEach((r, i) => {
        const v = again.get(asked[i]!)!;
        // Refused in the current run too: the first refusal stands (the job is not run here).
        if (v.outcome === 'refused') return;
        const from = r.run_id;
        r.run_id = progress.run_id;
        for (const end of this.undeliveredEnds()) {
          if (end.job_id === r.job_id && end.attempt === r.attempt && end.run_id === from) end.run_id = progress.run_id;
        }
        this.o.startMovedOn(r, from);
        verdicts.set(r, v);
      });
    }
    return batch.map((r) => verdicts.get(r)!);
  }

  private async startVerdicts(batch: StartReport[]): Promise<Map<StartReport, Verdict>> {
    const client = this.client;
    const verdicts = new Map<StartReport, Verdict>();
    await this.bulkOrSingle(
      batch,
      (r) => `${r.run_id}/${r.compute_node_id}`,
      client.startJobs &&
        ((group) => client.startJobs!(this.workflowId, group.map((r) => r.job_id), group[0]!.run_id, group[0]!.compute_node_id, group.map((r) => r.attempt))),
      (r) => client.startJob(r.job_id, r.run_id, r.compute_node_id, r.attempt),
      ['start_jobs', 'start_job'],
      verdicts,
    );
    return verdicts;
  }

  /**
   * Retries with retry_job (a refused retry becomes a plain completion), then completions in
   * one bulk call per run where the server has it, else one call per job.
   */
  private async deliverEnds(batch: EndReport[]): Promise<Verdict[]> {
    const client = this.client;
    const verdicts = new Map<EndReport, Verdict>();
    const completions: EndReport[] = [];
    await Promise.all(
      batch.map(async (r) => {
        if (r.retry && client.retryJob) {
          const retry = r.retry;
          const v = await this.verdictOf('retry_job', () =>
            client.retryJob!(r.job_id, r.run_id, {
              ...this.identified(r),
              status: r.status === 'terminated' ? 'terminated' : 'failed',
              max_retries: retry.max_retries,
            }),
          );
          if (v.outcome !== 'refused') {
            if (v.outcome === 'acknowledged') r.retried = true;
            verdicts.set(r, v);
            return;
          }
          // Refused (canceled meanwhile, rules changed): the attempt is final after all.
          r.retry = undefined;
        }
        completions.push(r);
      }),
    );
    await this.bulkOrSingle(
      completions,
      (r) => String(r.run_id),
      client.completeJobs &&
        ((group) => client.completeJobs!(this.workflowId, group[0]!.run_id, group.map((r) => ({ job_id: r.job_id, status: r.status, ...this.identified(r) })))),
      (r) => client.completeJob(r.job_id, r.status, r.run_id, this.identified(r)),
      ['complete_jobs', 'complete_job'],
      verdicts,
    );
    return batch.map((r) => verdicts.get(r)!);
  }

  /**
   * Delivers reports grouped by `key`: a group of two or more in one bulk call where the
   * server has the bulk route (found out once: a refused bulk call means it has not), the rest
   * one call each. Sets one verdict per report.
   */
  private async bulkOrSingle<T extends AttemptReport>(
    reports: T[],
    key: (r: T) => string,
    bulk: ((group: T[]) => Promise<BulkItemResult[]>) | undefined,
    single: (r: T) => Promise<unknown>,
    [bulkOp, singleOp]: [string, string],
    verdicts: Map<T, Verdict>,
  ): Promise<void> {
    const oneByOne: T[] = [];
    for (const group of groupBy(reports, key)) {
      if (group.length < 2 || !bulk || !this.bulkRoutes) {
        oneByOne.push(...group);
        continue;
      }
      try {
        this.setBulkVerdicts(group, await this.api(() => bulk(group)), verdicts);
      } catch (e) {
        if (isPermanent(e)) {
          // A server without the bulk routes: one by one from now on.
          this.bulkRoutes = false;
          oneByOne.push(...group);
        } else {
          for (const r of group) verdicts.set(r, this.failedVerdict(bulkOp, e));
        }
      }
    }
    await Promise.all(oneByOne.map(async (r) => verdicts.set(r, await this.verdictOf(singleOp, () => single(r)))));
  }

  /** The result with the report's identity: its attempt and node. */
  private identified(r: EndReport): CompleteJobResult {
    return { ...r.result, attempt_id: r.attempt, compute_node_id: r.compute_node_id };
  }

  private setBulkVerdicts<T extends AttemptReport>(group: T[], results: BulkItemResult[], out: Map<T, Verdict>): void {
    const byId = new Map(results.map((res) => [res.job_id, res]));
    for (const r of group) {
      const res = byId.get(r.job_id);
      if (res?.ok) out.set(r, ACKNOWLEDGED);
      else if (res?.status !== undefined && res.status >= 400 && res.status < 500) out.set(r, { outcome: 'refused', error: new ConflictError(res.message ?? `HTTP ${res.status}`) });
      else out.set(r, this.failedVerdict('bulk item', new Error(res?.message ?? `no result for job ${r.job_id}`)));
    }
  }

  private async verdictOf(operation: string, fn: () => Promise<unknown>): Promise<Verdict> {
    try {
      await this.api(fn);
      return ACKNOWLEDGED;
    } catch (e) {
      if (!isPermanent(e)) return this.failedVerdict(operation, e);
      this.o.onApiError(operation, e);
      return { outcome: 'refused', error: e };
    }
  }

  private failedVerdict(operation: string, error: unknown): Verdict {
    // The queue starts the outage clock; say it once per outage.
    if (!this.clock.down) this.o.onApiError(operation, error);
    return { outcome: 'failed', error };
  }

  // ---- resource monitoring -------------------------------------------------------------------

  /** The workflow's resource_monitor settings; torc's defaults when the server cannot say. */
  async monitorConfig(): Promise<ResourceMonitorConfig> {
    const client = this.client;
    if (!client.getResourceMonitor) return resolveResourceMonitor(null);
    const config = await this.tryApi('get_resource_monitor', () => client.getResourceMonitor!(this.workflowId));
    return config ?? resolveResourceMonitor(null);
  }

  /**
   * Sends time-series samples: the one place sample reports leave the runner. They are kept
   * and delivered in order with the starts and ends (issue 24: an outage loses none of them);
   * a server that refuses them for good (no such route) gets no more.
   */
  async reportResourceSamples(samples: ResourceSample[]): Promise<void> {
    if (samples.length === 0 || !this.client.recordResourceSamples || this.samplesRefused) return;
    const report: SamplesReport = { kind: 'samples', label: `${samples.length} resource sample(s)`, samples };
    this.reports.push(report);
    await this.reports.flush();
  }

  // ---- how calls are made ------------------------------------------------------------------

  private api<T>(fn: () => Promise<T>): Promise<T> {
    return this.limit(fn);
  }

  /**
   * An answer from the server. While reports wait to be tried again, only their delivery ends
   * the outage (a server that answers reads but cannot store a report is not healthy).
   */
  private answered(): void {
    if (!this.reports.stalled) this.clock.answered();
  }

  /** No answer (unreachable, timeout, 5xx): the outage clock runs; reported once per outage. */
  private transientFailure(operation: string, error: unknown): void {
    if (!this.clock.down) this.o.onApiError(operation, error);
    this.clock.failed(error);
  }

  /**
   * A call whose failure is survived (null). No answer counts toward the outage; refusals in a
   * row end the run after maxConsecutiveApiErrors (the server answers, but keeps saying no).
   */
  private async tryApi<T>(operation: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      const result = await this.api(fn);
      this.refusalsInRow = 0;
      this.answered();
      return result;
    } catch (e) {
      if (!isPermanent(e)) {
        this.transientFailure(operation, e);
        return null;
      }
      this.o.onApiError(operation, e);
      if (++this.refusalsInRow >= (this.o.maxConsecutiveApiErrors ?? 30))
        throw new Error(`giving up after ${this.refusalsInRow} refused API calls in a row (last: ${operation}: ${errorText(e)})`);
      return null;
    }
  }

  /** A call tried again with backoff until it is answered or the outage outlasts the patience (ServerUnreachableError). */
  private patiently<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.withRetries(operation, fn, Infinity);
  }

  /**
   * Transient failures are tried again with backoff, at most `tries` times and never past the
   * outage limit (then ServerUnreachableError); a refusal (4xx) is thrown at once.
   */
  private async withRetries<T>(operation: string, fn: () => Promise<T>, tries = 3): Promise<T> {
    for (let failures = 1; ; failures++) {
      try {
        const result = await this.api(fn);
        this.answered();
        return result;
      } catch (e) {
        if (isPermanent(e)) {
          this.o.onApiError(operation, e);
          throw e;
        }
        this.transientFailure(operation, e);
        if (failures >= tries) throw e;
        if (this.clock.exceeded) throw new ServerUnreachableError(this.clock.elapsedMs, e);
        await sleep(Math.min(backoffDelay(failures, this.o.backoff), Math.max(10, this.clock.remainingMs)));
      }
    }
  }
}

/** A refusal (the server answered no: 4xx, or the in-process store's error of that kind), never worth trying again. */
export function isPermanent(e: unknown): boolean {
  if (e instanceof ConflictError || e instanceof NotFoundError || e instanceof InputError) return true;
  const status = (e as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

function groupBy<T>(items: T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** 90 s → "1m30s", 1500 → "1.5s". */
export function formatMs(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m${s}s` : `${m}m`;
}
