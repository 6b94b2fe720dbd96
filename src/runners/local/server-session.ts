/**
 * A job runner's session with the server: every call the runner makes goes through here. It
 * owns how the runner talks, so the run loop (job-runner.ts) only says what to tell:
 * - at most `apiConcurrency` calls in flight; a call the loop can live without (progress,
 *   claims, deactivation) answers null on failure, until `maxConsecutiveApiErrors` in a row;
 * - starts and ends of jobs are reported in one bulk call (one server transaction) where the
 *   server has the bulk routes, one call per job where it does not (found out once);
 * - transient failures are tried again with backoff, a refusal (4xx) never;
 * - an end report that could not be delivered is kept, in order, and sent first with the
 *   next delivery, up to END_REPORT_TRIES deliveries (then, or at the last delivery, it is
 *   given up and the loop is told).
 * The failure handler's rules are fetched once per handler and applied with the allocator's
 * decideFailure, as the server applies them again when the retry arrives.
 */
import pLimit from 'p-limit';
import { decideFailure } from '../../allocator/failure-policy.js';
import type {
  BulkItemResult,
  ClaimByResourcesRequest,
  ClaimResponse,
  CompleteJobItem,
  CompleteJobResult,
  ComputeNodeRegistration,
  RunnerClient,
  WorkflowProgress,
} from '../../contract/client.js';
import type { CompletionStatusName } from '../../contract/status.js';
import { ConflictError, InputError, NotFoundError } from '../../errors.js';
import type { PlanFailureRule } from '../../spec/plan.js';
import { resolveResourceMonitor, type ResourceMonitorConfig } from '../../spec/resource-monitor.js';
import type { ResourceSample } from '../../contract/resources.js';

/** Deliveries an end report gets before it is given up. */
const END_REPORT_TRIES = 5;

export interface ServerSessionOptions {
  /** At most this many API calls in flight (default 4). */
  apiConcurrency?: number;
  /** Give up after this many API failures in a row (default 30). */
  maxConsecutiveApiErrors?: number;
  /** Every failed call, whether it is tried again or not. */
  onApiError(operation: string, error: unknown): void;
}

/** How an attempt ended, to be told to the server: completed/failed/terminated, or retried by its failure handler. */
export interface EndReport {
  job_id: number;
  run_id: number;
  /** Completion status (completed, failed, terminated). */
  status: CompletionStatusName;
  result: CompleteJobResult;
  /** Set when the failure handler retries the attempt: report it with retry_job first. */
  retry?: { max_retries: number };
  /** Deliveries tried so far. */
  tries: number;
}

/** What became of each end report in a delivery (called as it happens). */
export interface EndReportHandlers<R extends EndReport> {
  /** The server took the retry: the job is ready again with attempt + 1. */
  retried(report: R): void;
  /** The server recorded the completion. */
  completed(report: R): void;
  /** Given up: refused for good, or out of tries. */
  undelivered(report: R): void;
}

/** The failure handler's verdict on an attempt it retries. */
export interface RetryPlan {
  max_retries: number;
  /** Runs before the retry is reported (rule.recovery_script), or null. */
  recovery_script: string | null;
}

export class ServerSession<R extends EndReport = EndReport> {
  /** The runner's compute node, once registered. */
  computeNodeId: number | null = null;
  private readonly limit: ReturnType<typeof pLimit>;
  private apiErrorsInRow = 0;
  /** Whether the server has the bulk start/complete routes (assumed until it says otherwise). */
  private bulkRoutes = true;
  private readonly handlerRules = new Map<number, Promise<PlanFailureRule[]>>();
  /** End reports not delivered yet, oldest first: sent ahead of the next ones. */
  private held: R[] = [];
  private samplesRefused = false;

  constructor(
    readonly client: RunnerClient,
    readonly workflowId: number,
    private readonly o: ServerSessionOptions,
  ) {
    this.limit = pLimit(Math.max(1, o.apiConcurrency ?? 4));
  }

  // ---- the compute node ------------------------------------------------------------------

  /** Registers the runner as a compute node (again, after a lost lease); a failure is thrown. */
  async register(registration: ComputeNodeRegistration): Promise<number> {
    const node = await this.api(() => this.client.registerComputeNode(this.workflowId, registration));
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
      return 'ok';
    } catch (e) {
      this.o.onApiError('heartbeat', e);
      return isPermanent(e) && nodeId === this.computeNodeId ? 'refused' : 'failed';
    }
  }

  /** A clean exit: the node's unfinished jobs go back to ready. */
  async deactivate(): Promise<void> {
    const nodeId = this.computeNodeId!;
    await this.tryApi('deactivate_compute_node', () => this.client.deactivateComputeNode(nodeId));
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
   * it. Per job: true (running), false (refused: leave it to the server), absent (start it
   * with startJob).
   */
  async startClaimed(jobIds: number[], runId: number): Promise<Map<number, boolean>> {
    const state = new Map<number, boolean>();
    if (jobIds.length < 2 || !this.client.startJobs || !this.bulkRoutes) return state;
    try {
      const results = await this.withRetries('start_jobs', () => this.client.startJobs!(this.workflowId, jobIds, runId, this.computeNodeId!));
      for (const r of results) state.set(r.job_id, r.ok);
    } catch (e) {
      // A server without the bulk routes: one by one from now on.
      if (isPermanent(e)) this.bulkRoutes = false;
    }
    return state;
  }

  /** start_job; false when it failed (refused, or unreachable after retries): the job stays pending on the server. */
  async startJob(jobId: number, runId: number): Promise<boolean> {
    try {
      await this.withRetries('start_job', () => this.client.startJob(jobId, runId, this.computeNodeId!));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Records the starts of jobs that were spawned already (queue depth claims ahead), in one
   * call per run where the server has the bulk route. Returns the ids the server refused
   * (canceled, reset, lease gone): those must not run here.
   */
  async recordStarts(starts: { job_id: number; run_id: number }[]): Promise<Set<number>> {
    const refused = new Set<number>();
    if (starts.length === 0) return refused;
    const client = this.client;
    const single = async (s: { job_id: number; run_id: number }) => {
      try {
        await this.withRetries('start_job', () => client.startJob(s.job_id, s.run_id, this.computeNodeId!));
      } catch (e) {
        if (isPermanent(e)) refused.add(s.job_id);
      }
    };
    if (starts.length >= 2 && client.startJobs && this.bulkRoutes) {
      for (const runId of new Set(starts.map((s) => s.run_id))) {
        const group = starts.filter((s) => s.run_id === runId);
        try {
          const results = await this.withRetries('start_jobs', () =>
            client.startJobs!(this.workflowId, group.map((s) => s.job_id), runId, this.computeNodeId!),
          );
          const byId = new Map(results.map((r) => [r.job_id, r]));
          for (const s of group) if (!byId.get(s.job_id)?.ok) refused.add(s.job_id);
          continue;
        } catch (e) {
          if (!isPermanent(e)) continue; // unreachable: the lease decides
          this.bulkRoutes = false;
        }
        await Promise.all(group.map(single));
      }
      return refused;
    }
    await Promise.all(starts.map(single));
    return refused;
  }

  /** A claimed job whose process could not even be set up: recorded failed (return code 127), its start first when `recordStart`. */
  async reportUnstartable(jobId: number, runId: number, recordStart: boolean): Promise<void> {
    if (recordStart) await this.tryApi('start_job', () => this.client.startJob(jobId, runId, this.computeNodeId!));
    await this.tryApi('complete_job', () =>
      this.client.completeJob(jobId, 'failed', runId, { return_code: 127, exec_time_minutes: 0, completion_time: new Date().toISOString() }),
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
      rules = this.api(() => client.getFailureHandler!(failureHandlerId)).then((h) => h.rules);
      this.handlerRules.set(failureHandlerId, rules);
      rules.catch(() => this.handlerRules.delete(failureHandlerId));
    }
    const decision = decideFailure(await rules, returnCode, attempt);
    if (decision.action !== 'retry') return undefined;
    return { max_retries: decision.rule.max_retries, recovery_script: decision.rule.recovery_script ?? null };
  }

  // ---- ends --------------------------------------------------------------------------------

  /** End reports kept from earlier deliveries. */
  get undelivered(): readonly R[] {
    return this.held;
  }

  /**
   * Delivers the kept end reports, then `reports`: retries with retry_job (a refused retry
   * becomes a plain completion), completions in one bulk call per run where the server has it.
   * What fails for now is kept for the next delivery; `final`: the last chance, nothing kept.
   */
  async deliverEnds(reports: R[], final: boolean, on: EndReportHandlers<R>): Promise<void> {
    const batch = this.held.concat(reports);
    this.held = [];
    const again: R[] = [];
    const keepOrGiveUp = (r: R, error: unknown) => {
      r.tries++;
      if (!final && !isPermanent(error) && r.tries < END_REPORT_TRIES) again.push(r);
      else on.undelivered(r);
    };
    const completions: R[] = [];
    await Promise.all(
      batch.map(async (r) => {
        if (r.retry) {
          const retry = r.retry;
          try {
            await this.withRetries('retry_job', () =>
              this.client.retryJob!(r.job_id, r.run_id, {
                ...r.result,
                status: r.status === 'terminated' ? 'terminated' : 'failed',
                max_retries: retry.max_retries,
              }),
            );
            on.retried(r);
            return;
          } catch (e) {
            if (!isPermanent(e)) return keepOrGiveUp(r, e);
            // Refused (canceled meanwhile, rules changed): the attempt is final after all.
            r.retry = undefined;
          }
        }
        completions.push(r);
      }),
    );
    await this.deliverCompletions(completions, keepOrGiveUp, on);
    this.held.push(...again);
  }

  /** complete_job for each report: one bulk call per run when the server has it, else one call per job. */
  private async deliverCompletions(reports: R[], keepOrGiveUp: (r: R, error: unknown) => void, on: EndReportHandlers<R>): Promise<void> {
    const client = this.client;
    let single = reports;
    if (reports.length >= 2 && client.completeJobs && this.bulkRoutes) {
      single = [];
      for (const runId of new Set(reports.map((r) => r.run_id))) {
        const group = reports.filter((r) => r.run_id === runId);
        const items: CompleteJobItem[] = group.map((r) => ({ job_id: r.job_id, status: r.status, ...r.result }));
        let results: BulkItemResult[];
        try {
          results = await this.withRetries('complete_jobs', () => client.completeJobs!(this.workflowId, runId, items));
        } catch (e) {
          if (isPermanent(e)) {
            // A server without the bulk routes: one by one from now on.
            this.bulkRoutes = false;
            single.push(...group);
          } else {
            for (const r of group) keepOrGiveUp(r, e);
          }
          continue;
        }
        const byId = new Map(results.map((res) => [res.job_id, res]));
        for (const r of group) {
          const res = byId.get(r.job_id);
          if (res?.ok) on.completed(r);
          // Refused (409 stale run, 404): final; anything else is tried again.
          else keepOrGiveUp(r, { status: res?.status ?? 500 });
        }
      }
    }
    await Promise.all(
      single.map(async (r) => {
        try {
          await this.withRetries('complete_job', () => client.completeJob(r.job_id, r.status, r.run_id, r.result));
        } catch (e) {
          keepOrGiveUp(r, e);
          return;
        }
        on.completed(r);
      }),
    );
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
   * Sends time-series samples: the one place sample reports leave the runner. A batch the
   * server does not take is dropped (reported as an API error): samples must never hold up jobs.
   */
  async reportResourceSamples(samples: ResourceSample[]): Promise<void> {
    const client = this.client;
    if (samples.length === 0 || !client.recordResourceSamples || this.samplesRefused) return;
    try {
      await this.api(() => client.recordResourceSamples!(this.workflowId, samples));
    } catch (e) {
      this.o.onApiError('record_resource_samples', e);
      // A server without the route (torc's own) will not take any: stop sending.
      if (isPermanent(e) && !(e instanceof InputError)) this.samplesRefused = true;
    }
  }

  // ---- how calls are made ------------------------------------------------------------------

  private api<T>(fn: () => Promise<T>): Promise<T> {
    return this.limit(fn);
  }

  /** A call whose failure is reported and survived (null), unless failures pile up. */
  private async tryApi<T>(operation: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      const result = await this.api(fn);
      this.apiErrorsInRow = 0;
      return result;
    } catch (e) {
      this.o.onApiError(operation, e);
      if (++this.apiErrorsInRow >= (this.o.maxConsecutiveApiErrors ?? 30))
        throw new Error(`giving up after ${this.apiErrorsInRow} failed API calls in a row (last: ${operation}: ${(e as Error).message})`);
      return null;
    }
  }

  /** Transient failures are retried a few times with backoff; a refusal (4xx) is not. Each failure is reported. */
  private async withRetries<T>(operation: string, fn: () => Promise<T>, tries = 3): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await this.api(fn);
      } catch (e) {
        this.o.onApiError(operation, e);
        if (isPermanent(e) || i + 1 >= tries) throw e;
        await new Promise((r) => setTimeout(r, 100 * 2 ** i));
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
