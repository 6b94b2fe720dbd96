/**
 * An in-memory RunnerClient for runner tests: ready jobs, the allocator's real claim decision,
 * and torc's state transitions enforced (ready → pending → running → terminal; wrong run_id or
 * state → ConflictError), so that runner tests do not depend on the store. It also records
 * what happened (starts per job, heartbeats) for the tests to check.
 * Outages (issue 24): `down` makes every call fail as an unreachable server does;
 * loseAnswers() applies a call and then fails it, as a connection reset after the server
 * committed. Reports are idempotent as the store's are: a start or completion sent again for the
 * same attempt and node is acknowledged, one of an older attempt is refused.
 */
import { decideClaim, decideQueueDepth } from '../../src/allocator/claim.js';
import type { ClaimCandidate, ClaimClass, ResourceNeed } from '../../src/allocator/types.js';
import { ConflictError, NotFoundError } from '../../src/errors.js';
import { ApiError } from '../../src/api/client.js';
import type {
  ClaimByResourcesRequest,
  ClaimedJobRecord,
  ClaimResponse,
  CompleteJobResult,
  ComputeNodeRegistration,
  HeldJob,
  NodeSyncOutcome,
  RunnerClient,
  WorkflowProgress,
} from '../../src/contract/client.js';
import { COMPLETION_STATUS_NAMES, JOB_STATUS_NAMES, type CompletionStatusName, type JobStatusName } from '../../src/contract/status.js';

const UNFINISHED: readonly JobStatusName[] = ['uninitialized', 'blocked', 'ready', 'pending', 'running'];

export interface MemoryJobInput {
  name: string;
  command: string;
  invocation_script?: string | null;
  /** Default: 1 CPU, 1 MB, no GPU, 1 node, 1 hour (torc's default). */
  resources?: Partial<ResourceNeed>;
  scheduler_id?: number | null;
  env?: Record<string, string> | null;
  /** 'blocked' jobs wait for release(). Default 'ready'. */
  status?: 'ready' | 'blocked';
}

export interface MemoryNode extends ComputeNodeRegistration {
  id: number;
  active: boolean;
  heartbeats: number;
}

export interface CompletionRecord {
  job_id: number;
  status: CompletionStatusName;
  attempt_id: number;
  compute_node_id: number | null;
  result: CompleteJobResult;
}

type Operation = keyof RunnerClient;

const DEFAULT_NEED: ResourceNeed = { num_cpus: 1, memory_bytes: 1024 * 1024, num_gpus: 0, num_nodes: 1, runtime_seconds: 3600 };

export class MemoryRunnerClient implements RunnerClient {
  readonly workflowId: number;
  runId = 1;
  canceled = false;
  private readonly jobs = new Map<number, ClaimedJobRecord>();
  private readonly claimedBy = new Map<number, number | null>();
  private readonly nodes = new Map<number, MemoryNode>();
  private readonly injected = new Map<Operation, { count: number; error: () => Error }>();
  private readonly lost = new Map<Operation, number>();
  /** Every call fails as if the server were unreachable (and changes nothing). */
  down = false;
  /** Calls made while down (refused), by operation. */
  readonly callsWhileDown: Operation[] = [];
  /** Completions acknowledged as duplicates, per job. */
  readonly duplicates = new Map<number, number>();
  /** Sync calls and what they released / revoked. */
  readonly syncs: NodeSyncOutcome[] = [];
  /** Job id → how many times start_job accepted it. */
  readonly starts = new Map<number, number>();
  readonly completions: CompletionRecord[] = [];
  /** Every call, in order (operation names). */
  readonly calls: Operation[] = [];
  private nextJobId = 1;
  private nextNodeId = 1;

  constructor(workflowId = 1) {
    this.workflowId = workflowId;
  }

  addJobs(inputs: MemoryJobInput[]): ClaimedJobRecord[] {
    return inputs.map((input) => {
      const id = this.nextJobId++;
      const job: ClaimedJobRecord = {
        id,
        workflow_id: this.workflowId,
        name: input.name,
        command: input.command,
        invocation_script: input.invocation_script ?? null,
        status: input.status === 'blocked' ? 'blocked' : 'ready',
        attempt_id: 1,
        resource_requirements_id: null,
        scheduler_id: input.scheduler_id ?? null,
        failure_handler_id: null,
        cancel_on_blocking_job_failure: false,
        supports_termination: false,
        image: null,
        env: input.env ?? null,
        return_code: null,
        compute_node_id: null,
        resources: { ...DEFAULT_NEED, ...(input.resources ?? {}) },
        assigned_nodes: [],
      };
      this.jobs.set(id, job);
      return { ...job };
    });
  }

  job(id: number): ClaimedJobRecord {
    const job = this.jobs.get(id);
    if (!job) throw new NotFoundError(`job ${id}`);
    return { ...job, resources: { ...job.resources }, assigned_nodes: [...job.assigned_nodes] };
  }

  allJobs(): ClaimedJobRecord[] {
    return [...this.jobs.keys()].map((id) => this.job(id));
  }

  node(id: number): MemoryNode {
    const node = this.nodes.get(id);
    if (!node) throw new NotFoundError(`compute node ${id}`);
    return { ...node };
  }

  /** A blocked job becomes ready (as if its dependencies completed). */
  release(jobId: number): void {
    const job = this.mustJob(jobId);
    if (job.status !== 'blocked') throw new ConflictError(`job ${jobId} is not blocked`);
    job.status = 'ready';
  }

  /** Cancels the workflow: jobs that have not started are canceled; running ones are left to their runner. */
  cancel(): void {
    this.canceled = true;
    for (const job of this.jobs.values()) {
      if (job.status === 'ready' || job.status === 'blocked' || job.status === 'pending')
        job.status = 'canceled';
    }
  }

  /** The next `count` calls of `operation` are applied and then fail (the answer is lost on the way back). */
  loseAnswers(operation: Operation, count: number): void {
    this.lost.set(operation, count);
  }

  /** The next `count` calls of `operation` fail with `error` (default: a transient Error). */
  injectFailures(operation: Operation, count: number, error: () => Error = () => new Error(`injected ${operation} failure`)): void {
    this.injected.set(operation, { count, error });
  }

  async getProgress(workflowId: number): Promise<WorkflowProgress> {
    this.enter('getProgress', workflowId);
    const counts: Record<string, number> = Object.fromEntries(JOB_STATUS_NAMES.map((n) => [n, 0]));
    let unfinished = 0;
    for (const job of this.jobs.values()) {
      counts[job.status]!++;
      if (UNFINISHED.includes(job.status)) unfinished++;
    }
    return { workflow_id: workflowId, run_id: this.runId, is_complete: unfinished === 0, is_canceled: this.canceled, counts };
  }

  async registerComputeNode(workflowId: number, node: ComputeNodeRegistration): Promise<{ id: number }> {
    this.enter('registerComputeNode', workflowId);
    const id = this.nextNodeId++;
    this.nodes.set(id, { ...node, id, active: true, heartbeats: 0 });
    return { id };
  }

  async heartbeat(computeNodeId: number): Promise<void> {
    this.enter('heartbeat');
    this.activeNode(computeNodeId).heartbeats++;
  }

  async deactivateComputeNode(computeNodeId: number): Promise<void> {
    this.enter('deactivateComputeNode');
    this.expireLease(computeNodeId);
  }

  /** The server retires the node (its lease ran out): as deactivate, but server-side, so it works while `down`. */
  expireLease(computeNodeId: number): void {
    const node = this.mustNode(computeNodeId);
    node.active = false;
    for (const job of this.jobs.values()) if (this.heldBy(job, computeNodeId)) this.requeue(job);
  }

  /** Pending (claimed) or running on the node. */
  private heldBy(job: ClaimedJobRecord, computeNodeId: number): boolean {
    return (
      (job.status === 'running' && job.compute_node_id === computeNodeId) ||
      (job.status === 'pending' && this.claimedBy.get(job.id) === computeNodeId)
    );
  }

  async claimJobsBasedOnResources(workflowId: number, req: ClaimByResourcesRequest): Promise<ClaimResponse> {
    this.enter('claimJobsBasedOnResources', workflowId);
    this.claimingNode(req.compute_node_id);
    if (this.canceled) return { jobs: [], reason: 'workflow is canceled' };
    const ready = this.readyJobs();
    const classes = new Map<string, ClaimClass>();
    const candidates: ClaimCandidate[] = ready.map((job) => {
      const key = JSON.stringify([job.resources, job.scheduler_id]);
      if (!classes.has(key)) classes.set(key, { key, need: job.resources, scheduler_id: job.scheduler_id });
      return { job_id: job.id, class_key: key, order: job.id };
    });
    const decision = decideClaim(req.capacity, [...classes.values()], candidates, {
      sort_method: req.sort_method ?? 'none',
      strict_scheduler_match: req.strict_scheduler_match ?? false,
      any_scheduler: req.any_scheduler,
      limit: req.limit,
    });
    const out = { jobs: decision.claimed.map((c) => this.claim(c.job_id, c.nodes, req.compute_node_id ?? null)), reason: decision.reason };
    this.leave('claimJobsBasedOnResources');
    return out;
  }

  async claimNextJobs(workflowId: number, limit: number, computeNodeId?: number): Promise<ClaimResponse> {
    this.enter('claimNextJobs', workflowId);
    this.claimingNode(computeNodeId);
    if (this.canceled) return { jobs: [], reason: 'workflow is canceled' };
    const candidates = this.readyJobs().map((job) => ({ job_id: job.id, class_key: '', order: job.id }));
    const decision = decideQueueDepth(candidates, limit);
    const out = { jobs: decision.claimed.map((c) => this.claim(c.job_id, [], computeNodeId ?? null)), reason: decision.reason };
    this.leave('claimNextJobs');
    return out;
  }

  async startJob(jobId: number, runId: number, computeNodeId: number, attemptId?: number): Promise<void> {
    this.enter('startJob');
    const job = this.mustJob(jobId);
    this.checkRun(runId);
    this.activeNode(computeNodeId);
    if (attemptId !== undefined && attemptId !== job.attempt_id) throw new ConflictError(`attempt ${attemptId} of job ${jobId} is stale (on ${job.attempt_id})`);
    if (job.status === 'running' && job.compute_node_id === computeNodeId) return this.leave('startJob');
    if (job.status !== 'pending') throw new ConflictError(`job ${jobId} is ${job.status}, not pending`);
    job.status = 'running';
    job.compute_node_id = computeNodeId;
    this.starts.set(jobId, (this.starts.get(jobId) ?? 0) + 1);
    this.leave('startJob');
  }

  async completeJob(jobId: number, status: CompletionStatusName, runId: number, result: CompleteJobResult): Promise<void> {
    this.enter('completeJob');
    const job = this.mustJob(jobId);
    this.checkRun(runId);
    if (!(COMPLETION_STATUS_NAMES as readonly string[]).includes(status)) throw new ConflictError(`status ${status} is not a completion status`);
    const attempt = result.attempt_id ?? job.attempt_id;
    const node = result.compute_node_id ?? job.compute_node_id;
    const before = this.completions.find((c) => c.job_id === jobId && c.attempt_id === attempt && c.compute_node_id === node);
    if (before && before.status === status) {
      this.duplicates.set(jobId, (this.duplicates.get(jobId) ?? 0) + 1);
      return this.leave('completeJob');
    }
    if (attempt !== job.attempt_id) throw new ConflictError(`attempt ${attempt} of job ${jobId} is stale (on ${job.attempt_id})`);
    if (job.status !== 'running') throw new ConflictError(`job ${jobId} is ${job.status}, not running`);
    if (node !== job.compute_node_id) throw new ConflictError(`job ${jobId} runs on node ${job.compute_node_id}, not ${node}`);
    job.status = status;
    job.return_code = result.return_code;
    this.completions.push({ job_id: jobId, status, attempt_id: job.attempt_id, compute_node_id: job.compute_node_id, result });
    this.leave('completeJob');
  }

  async syncComputeNode(computeNodeId: number, held: HeldJob[]): Promise<NodeSyncOutcome> {
    this.enter('syncComputeNode');
    const node = this.activeNode(computeNodeId);
    node.heartbeats++;
    const heldAt = new Map(held.map((h) => [h.job_id, h.attempt_id]));
    const released: number[] = [];
    const mineAt = new Map<number, number>();
    for (const job of this.jobs.values()) {
      if (!this.heldBy(job, computeNodeId)) continue;
      mineAt.set(job.id, job.attempt_id);
      if (heldAt.get(job.id) === job.attempt_id) continue;
      released.push(job.id);
      job.status = 'ready';
      job.compute_node_id = null;
      this.claimedBy.delete(job.id);
    }
    const revoked = held.filter((h) => mineAt.get(h.job_id) !== h.attempt_id).map((h) => h.job_id);
    const out = { released, revoked };
    this.syncs.push(out);
    this.leave('syncComputeNode');
    return out;
  }

  /** After a call was applied: its answer may be lost on the way back. */
  private leave(operation: Operation): void {
    const n = this.lost.get(operation) ?? 0;
    if (n > 0) {
      this.lost.set(operation, n - 1);
      throw new ApiError(0, `connection reset after ${operation} was applied`);
    }
  }

  private enter(operation: Operation, workflowId?: number): void {
    if (this.down) {
      this.callsWhileDown.push(operation);
      throw new ApiError(0, `cannot reach the server: ECONNREFUSED (${operation})`);
    }
    this.calls.push(operation);
    if (workflowId !== undefined && workflowId !== this.workflowId) throw new NotFoundError(`workflow ${workflowId}`);
    const inj = this.injected.get(operation);
    if (inj && inj.count > 0) {
      inj.count--;
      throw inj.error();
    }
  }

  private readyJobs(): ClaimedJobRecord[] {
    return [...this.jobs.values()].filter((j) => j.status === 'ready').sort((a, b) => a.id - b.id);
  }

  private claim(jobId: number, nodes: string[], computeNodeId: number | null): ClaimedJobRecord {
    const job = this.mustJob(jobId);
    job.status = 'pending';
    job.assigned_nodes = nodes;
    this.claimedBy.set(jobId, computeNodeId);
    return this.job(jobId);
  }

  private requeue(job: ClaimedJobRecord): void {
    job.status = 'ready';
    job.attempt_id++;
    job.compute_node_id = null;
    job.assigned_nodes = [];
    this.claimedBy.delete(job.id);
  }

  private checkRun(runId: number): void {
    if (runId !== this.runId) throw new ConflictError(`run_id ${runId} is not the current run ${this.runId}`);
  }

  private mustJob(id: number): ClaimedJobRecord {
    const job = this.jobs.get(id);
    if (!job) throw new NotFoundError(`job ${id}`);
    return job;
  }

  private mustNode(id: number): MemoryNode {
    const node = this.nodes.get(id);
    if (!node) throw new NotFoundError(`compute node ${id}`);
    return node;
  }

  /**
   * A claim names the node it claims for; a retired one is refused, as the store does (a job
   * claimed for it would be pending on a node nothing ever requeues again).
   */
  private claimingNode(id: number | null | undefined): void {
    if (id != null) this.activeNode(id);
  }

  private activeNode(id: number): MemoryNode {
    const node = this.mustNode(id);
    if (!node.active) throw new ConflictError(`compute node ${id} is inactive`);
    return node;
  }
}
