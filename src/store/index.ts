/**
 * The store: every read and change of workflow state, over one SQLite file.
 * Each method that changes more than one row is one write transaction. Methods throw
 * NotFoundError (unknown id), ConflictError (illegal in the current state; nothing changed)
 * and InputError (bad argument, naming it).
 */
import type { StreamedPlan } from '../spec/stream-plan.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { Plan } from '../spec/plan.js';
import type {
  ApplyOutcome,
  ClaimByResourcesRequest,
  ClaimNextOptions,
  ClaimResponse,
  ClaimedJobRecord,
  CompleteJobResult,
  ComputeNodeRegistration,
  RetryJobRequest,
  WorkflowProgress,
} from '../contract/client.js';
import { claimActionInTx, fireTriggers, insertAction, PENDING_SQL, resetActions, type ActionClaimer, type ActionClaimOutcome, type ActionInput } from './actions.js';
import { cancelJobInTx, runningCancelRequests, type CancelJobOutcome } from './job-cancel.js';
import { reinitializeInTx, type ReinitOptions, type ReinitOutcome } from './reinit.js';
import { retryJobInTx, type RetryOutcome } from './retry.js';
import { recoverInTx, type RecoverOutcome } from './recover.js';
import { dropOldSampleRuns, insertSamplesInTx, listSamples, type SampleFilter } from './samples.js';
import { checkResultMonitoring } from './results.js';
import type { RecoveryOptions } from '../allocator/recovery.js';
import type { ResourceSample } from '../contract/resources.js';
import { claimByResources, claimNext, newClaimStats, readHeldJobs, type ClaimStats } from './claim.js';
import { completeJobsInTx, startItemsInTx, startJobsInTx, type CompleteItem, type CompleteJobsOutcome, type ItemOutcome, type StartItem } from './job-runs.js';
import { checkPlan, insertPlan } from './create.js';
import { applyPlanInTx } from './replace.js';
import { Database, type OpenOptions, type Queryable, type WriteBatch, type WriteTx } from './db.js';
import { migrate } from './migrations.js';
import {
  createJobsInTx,
  deleteJobInTx,
  impliedDependencies,
  manageStatusChangeInTx,
  readJobs,
  updateJobInTx,
  withRelations,
  type JobInput,
  type JobWithRelations,
} from './job-records.js';
import {
  fileRelationships,
  isUninitialized,
  jobDependencies,
  jobIds,
  latestEventTimestamp,
  missingUserData,
  readyRequirements,
  requiredExistingFiles,
  userDataRelationships,
  type JobDependencyRow,
  type ReadyRequirements,
  type RelationshipRow,
} from './workflow-queries.js';
import { deleteRow, deleteRows, getRow, insertRow, listRows, tableOf, updateRow, type ListQuery, type RecordOf, type TableName } from './tables.js';
import { VISIBLE_TO_SQL } from './visibility.js';
import { checkRegistration, expiredNodes, insertComputeNode, renewLease, resumeLeases, retireNodes, syncNodeJobs, type HeldJobRef } from './nodes.js';
import {
  JOB_COLUMNS,
  toAction,
  toComputeNode,
  toEvent,
  toFailureHandler,
  toJob,
  toResult,
  toUserData,
  toWorkflow,
  type ActionRecord,
  type ComputeNodeRecord,
  type EventRecord,
  type FailureHandlerRecord,
  type FileRecord,
  type JobRecord,
  type Page,
  type PageOptions,
  type ResourceRequirementsRecord,
  type ResultRecord,
  type SlurmSchedulerRecord,
  type UserDataRecord,
  type WorkflowMeta,
  type WorkflowRecord,
} from './records.js';
import { COMPLETION_STATUSES, JOB_STATUS_NAMES, JobStatus, parseStatus, statusName, type JobStatusName } from '../contract/status.js';
import {
  TEMP_SCHEMA,
  UNFINISHED_STATES,
  cancelJobs,
  initializeJobs,
  resetJobs,
  type InitializeOutcome,
} from './transitions.js';

export * from './records.js';
export type { JobInput, JobRelationIds, JobWithRelations } from './job-records.js';
export type { JobDependencyRow, ReadyRequirements, RelationshipRow } from './workflow-queries.js';
export { TABLES, type AccessGroupRecord, type ListQuery, type LocalSchedulerRecord, type RecordOf, type TableName } from './tables.js';
export type { ClaimStats } from './claim.js';
export type { CompleteJobsOutcome, ItemOutcome } from './job-runs.js';
export type { InitializeOutcome } from './transitions.js';
export type { ApplyOutcome, ApplyAction } from '../contract/client.js';
export type { ActionClaimer, ActionClaimOutcome, ActionInput } from './actions.js';
export type { ReinitJob, ReinitOptions, ReinitOutcome } from './reinit.js';
export type { RetryOutcome } from './retry.js';
export type { CancelJobOutcome } from './job-cancel.js';
export type { RecoverOutcome } from './recover.js';
export type { SampleFilter } from './samples.js';
export { MAX_SAMPLES_PER_ATTEMPT, KEEP_SAMPLE_RUNS } from './samples.js';

/** Default and largest page size of list methods. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 10_000;

export interface StoreOptions extends OpenOptions {
  /** Milliseconds since the epoch; tests inject a clock to drive leases. */
  now?: () => number;
}

export interface JobFilter extends PageOptions {
  /** A status code or name (`ready`, `2`). */
  status?: number | string;
  /** Exact job name. */
  name?: string;
  /** torc's filters: jobs that read this file, that wait for this job, that run on this compute node. */
  needs_file_id?: number;
  upstream_job_id?: number;
  active_compute_node_id?: number;
  sort_by?: string;
  reverse_sort?: boolean;
}

/** Columns list_jobs may sort by (torc's sort_by). */
export const JOB_SORT_COLUMNS = ['id', 'name', 'status', 'command', 'attempt_id', 'resource_requirements_id', 'scheduler_id'] as const;

export interface WorkflowFilter extends PageOptions {
  name?: string;
  user?: string;
  description?: string;
  is_archived?: boolean;
  sort_by?: string;
  reverse_sort?: boolean;
  /** Only workflows this user may see (owns, or shares through an access group). */
  visible_to?: string;
}

export interface WorkflowChanges {
  name?: string;
  user?: string | null;
  description?: string | null;
  settings?: Partial<WorkflowRecord['settings']>;
}

export interface CompleteJobOutcome {
  job: JobRecord;
  /** Dependents that became ready because this was their last unfinished blocker. */
  newly_ready: number;
  /** Dependents canceled (transitively) because this job did not succeed. */
  canceled_dependents: number[];
}

export interface CancelOutcome {
  /** Jobs moved to canceled. */
  canceled: number;
  /** Jobs still running; their runners should terminate them and complete them as terminated/canceled. */
  running_job_ids: number[];
}

export interface ResetOutcome {
  run_id: number;
  /** Jobs moved back to uninitialized. */
  reset: number;
}

export interface ExpireOutcome {
  expired_compute_node_ids: number[];
  requeued_jobs: number;
}

function pageOf(options: PageOptions | undefined): { offset: number; limit: number } {
  const offset = options?.offset ?? 0;
  const limit = options?.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new InputError(`expected a whole number ≥ 0, got ${offset}`, 'offset');
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_PAGE_LIMIT) {
    throw new InputError(`expected a whole number from 0 to ${MAX_PAGE_LIMIT}, got ${limit}`, 'limit');
  }
  return { offset, limit };
}

function checkId(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InputError(`expected a positive whole number, got ${String(value)}`, field);
  }
  return value;
}

export class Store {
  /** How much the claim transactions read; see claim.ts. */
  readonly claimStats: ClaimStats = newClaimStats();

  private constructor(
    readonly db: Database,
    private readonly clock: () => number,
  ) {}

  /**
   * start_job and successful complete_job are the hottest writes (every runner, once per job):
   * concurrent callers share one set-based call (a constant number of statements) in the
   * group transaction, each still getting its own result or error (see WriteBatch).
   */
  private readonly startBatch: WriteBatch<StartItem, JobRecord> = {
    name: 'start_job',
    key: (item) => item.job_id,
    run: (tx, items) => startItemsInTx(tx, items, this.nowIso()),
  };

  private readonly completeBatch: WriteBatch<CompleteItem, CompleteJobOutcome> = {
    name: 'complete_job',
    key: (item) => item.job_id,
    run: async (tx, items) => {
      const out = await completeJobsInTx(tx, items, this.nowIso());
      // Successful completions cancel nothing; each caller hears of the dependents its job made ready.
      return out.items.map((o) =>
        o.ok ? { ok: true, value: { job: o.value.job, newly_ready: out.newly_ready_by_job?.get(o.value.job.id) ?? 0, canceled_dependents: [] } } : o,
      );
    },
  };

  /** Opens (creating if needed) and migrates the database at `path`. */
  static async open(path: string, options: StoreOptions = {}): Promise<Store> {
    const db = await Database.open(path, options);
    try {
      await migrate(db);
      await db.withWriter((w) => w.exec(TEMP_SCHEMA));
    } catch (err) {
      await db.close();
      throw err;
    }
    return new Store(db, options.now ?? Date.now);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private nowIso(): string {
    return new Date(this.clock()).toISOString();
  }

  private write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    return this.db.withWriteTransaction(fn);
  }

  // ---- workflows -------------------------------------------------------------------------

  /** Stores the whole plan in one transaction; jobs start uninitialized. */
  async createWorkflowFromPlan(plan: Plan, meta: WorkflowMeta = {}): Promise<WorkflowRecord> {
    checkPlan(plan);
    const id = await this.write((tx) => insertPlan(tx, plan, meta, this.nowIso()));
    return this.getWorkflow(id);
  }

  /**
   * Level-triggered store-or-update (see replace.ts): creates the workflow, leaves it alone when
   * its spec hash is unchanged, or replaces it (new workflow id) keeping unchanged completed
   * jobs whose blockers were all kept. Jobs that will run are uninitialized: call
   * initializeJobs next. One transaction.
   */
  async applyPlan(plan: Plan | StreamedPlan, meta: WorkflowMeta = {}): Promise<ApplyOutcome> {
    return this.write((tx) => applyPlanInTx(tx, plan, meta, this.nowIso()));
  }

  async getWorkflow(workflowId: number): Promise<WorkflowRecord> {
    const row = await this.db.get('SELECT * FROM workflows WHERE id = ?', [workflowId]);
    if (!row) throw new NotFoundError(`workflow ${workflowId}`);
    return toWorkflow(row);
  }

  /** Workflows in creation order. */
  async listWorkflows(options: WorkflowFilter = {}): Promise<Page<WorkflowRecord>> {
    const { offset, limit } = pageOf(options);
    const where: string[] = [];
    const params: (string | number)[] = [];
    for (const field of ['name', 'user', 'description'] as const) {
      if (options[field] !== undefined) {
        where.push(`${field} = ?`);
        params.push(options[field]!);
      }
    }
    if (options.is_archived !== undefined) {
      where.push("IFNULL(json_extract(settings, '$.is_archived'), 0) = ?");
      params.push(options.is_archived ? 1 : 0);
    }
    if (options.visible_to !== undefined) {
      where.push(VISIBLE_TO_SQL);
      params.push(options.visible_to, options.visible_to);
    }
    let order = 'id';
    if (options.sort_by !== undefined) {
      const sortable = ['id', 'name', 'user', 'description', 'timestamp'];
      if (!sortable.includes(options.sort_by)) throw new InputError(`cannot sort by "${options.sort_by}" (one of ${sortable.join(', ')})`, 'sort_by');
      order = options.sort_by === 'id' || options.sort_by === 'timestamp' ? 'id' : `${options.sort_by}, id`;
    }
    if (options.reverse_sort) order = order.split(', ').map((c) => `${c} DESC`).join(', ');
    const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    return this.db.read(async (q) => {
      const rows = await q.all(`SELECT * FROM workflows w ${cond} ORDER BY ${order} LIMIT ? OFFSET ?`, [...params, limit, offset]);
      const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM workflows w ${cond}`, params);
      return { items: rows.map(toWorkflow), total: total!.n };
    });
  }

  /** torc's update_workflow: name, user, description and settings; a field left out keeps its value. */
  async updateWorkflow(workflowId: number, changes: WorkflowChanges): Promise<WorkflowRecord> {
    return this.write(async (tx) => {
      const wf = await this.requireWorkflow(tx, workflowId);
      const settings = { ...wf.settings, ...Object.fromEntries(Object.entries(changes.settings ?? {}).filter(([, v]) => v !== undefined)) };
      await tx.run('UPDATE workflows SET name = ?, user = ?, description = ?, settings = ? WHERE id = ?', [
        changes.name ?? wf.name,
        changes.user === undefined ? wf.user : changes.user,
        changes.description === undefined ? wf.description : changes.description,
        JSON.stringify(settings),
        workflowId,
      ]);
      return toWorkflow((await tx.get('SELECT * FROM workflows WHERE id = ?', [workflowId]))!);
    });
  }

  /**
   * torc's update_workflow_status: a new run_id (never lower: runners of an older run must stay
   * stale), canceled (as cancelWorkflow) or active again, archived.
   */
  async updateWorkflowStatus(workflowId: number, changes: { run_id?: number; is_canceled?: boolean; is_archived?: boolean }): Promise<WorkflowProgress> {
    await this.write(async (tx) => {
      const wf = await this.requireWorkflow(tx, workflowId);
      if (changes.run_id !== undefined && changes.run_id !== wf.run_id) {
        if (!Number.isSafeInteger(changes.run_id) || changes.run_id < wf.run_id) {
          throw new InputError(`run_id may only go up (workflow ${workflowId} is on run ${wf.run_id}), got ${changes.run_id}`, 'run_id');
        }
        await tx.run('UPDATE workflows SET run_id = ? WHERE id = ?', [changes.run_id, workflowId]);
        await resetActions(tx, workflowId);
      }
      if (changes.is_canceled === true && wf.status !== 'canceled') {
        await tx.run(`UPDATE workflows SET status = 'canceled' WHERE id = ?`, [workflowId]);
        await cancelJobs(tx, workflowId, this.nowIso());
      } else if (changes.is_canceled === false && wf.status === 'canceled') {
        await tx.run(`UPDATE workflows SET status = 'active' WHERE id = ?`, [workflowId]);
      }
      if (changes.is_archived !== undefined) {
        await tx.run(`UPDATE workflows SET settings = json_set(settings, '$.is_archived', json(?)) WHERE id = ?`, [changes.is_archived ? 'true' : 'false', workflowId]);
      }
    });
    return this.getStatus(workflowId);
  }

  /** Workflows declared by a Kubernetes resource (namespace/name), newest first. */
  async findWorkflowsByK8sName(namespace: string, name: string): Promise<WorkflowRecord[]> {
    const rows = await this.db.all('SELECT * FROM workflows WHERE k8s_namespace = ? AND k8s_name = ? ORDER BY id DESC', [namespace, name]);
    return rows.map(toWorkflow);
  }

  /** Deletes the workflow and everything in it. */
  async deleteWorkflow(workflowId: number): Promise<void> {
    await this.write(async (tx) => {
      const res = await tx.run('DELETE FROM workflows WHERE id = ?', [workflowId]);
      if (res.changes === 0) throw new NotFoundError(`workflow ${workflowId}`);
    });
  }

  /** uninitialized → ready / blocked; jobs behind an already failed blocker that asked for it → canceled. */
  async initializeJobs(workflowId: number): Promise<InitializeOutcome> {
    return this.write(async (tx) => {
      await this.requireWorkflow(tx, workflowId);
      // Jobs built record by record (torc's API) wait for the producers of what they read.
      await impliedDependencies(tx, workflowId);
      return initializeJobs(tx, workflowId, this.nowIso());
    });
  }

  /** Cancels every job that has not started and marks the workflow canceled; running jobs are returned, not touched. */
  async cancelWorkflow(workflowId: number): Promise<CancelOutcome> {
    return this.write(async (tx) => {
      await this.requireWorkflow(tx, workflowId);
      await tx.run(`UPDATE workflows SET status = 'canceled' WHERE id = ?`, [workflowId]);
      const now = this.nowIso();
      const { canceled, running } = await cancelJobs(tx, workflowId, now);
      await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'workflow_canceled', ?)`, [
        workflowId,
        now,
        JSON.stringify({ canceled, running_job_ids: running }),
      ]);
      return { canceled, running_job_ids: running };
    });
  }

  /**
   * Back to uninitialized (call initializeJobs next): every job, or with failedOnly the jobs
   * that failed / were canceled / terminated and everything downstream of them. Increments
   * run_id, so stale start/complete calls of the previous run get 409, and re-activates a
   * canceled workflow.
   */
  async resetStatus(workflowId: number, options: { failedOnly?: boolean } = {}): Promise<ResetOutcome> {
    return this.write(async (tx) => {
      const wf = await this.requireWorkflow(tx, workflowId);
      const reset = await resetJobs(tx, workflowId, options.failedOnly ?? false);
      await tx.run(`UPDATE workflows SET run_id = run_id + 1, status = 'active' WHERE id = ?`, [workflowId]);
      // A new run: its actions fire again.
      await resetActions(tx, workflowId);
      await dropOldSampleRuns(tx, workflowId, wf.run_id + 1);
      return { run_id: wf.run_id + 1, reset };
    });
  }

  /**
   * torc's reset_workflow_status: the workflow is active (not canceled) and not archived again;
   * its jobs are untouched (reset_job_status resets them). Refused (InputError) while jobs are
   * pending or running, unless `force`.
   */
  async resetWorkflowStatus(workflowId: number, force = false): Promise<WorkflowProgress> {
    await this.write(async (tx) => {
      await this.requireWorkflow(tx, workflowId);
      if (!force) {
        const held = await tx.get(`SELECT 1 FROM jobs WHERE workflow_id = ? AND status IN (${JobStatus.pending}, ${JobStatus.running}) LIMIT 1`, [workflowId]);
        if (held) throw new InputError(`cannot reset the status of workflow ${workflowId}: jobs are pending or running (force=true overrides)`, 'force');
      }
      await tx.run(`UPDATE workflows SET status = 'active', settings = json_set(settings, '$.is_archived', json('false')) WHERE id = ?`, [workflowId]);
    });
    return this.getStatus(workflowId);
  }

  /** Counts by status name (every name present), completion and cancellation. */
  async getStatus(workflowId: number): Promise<WorkflowProgress> {
    return this.db.read(async (q) => {
      const wfRow = await q.get('SELECT * FROM workflows WHERE id = ?', [workflowId]);
      if (!wfRow) throw new NotFoundError(`workflow ${workflowId}`);
      const wf = toWorkflow(wfRow);
      const rows = await q.all<{ status: number; n: number }>(
        'SELECT status, COUNT(*) AS n FROM jobs WHERE workflow_id = ? GROUP BY status',
        [workflowId],
      );
      const counts: Record<string, number> = Object.fromEntries(JOB_STATUS_NAMES.map((n) => [n, 0]));
      let open = 0;
      for (const r of rows) {
        counts[statusName(r.status)] = r.n;
        if ((UNFINISHED_STATES as readonly number[]).includes(r.status)) open += r.n;
      }
      const progress: WorkflowProgress = {
        workflow_id: wf.id,
        run_id: wf.run_id,
        is_complete: open === 0,
        is_canceled: wf.status === 'canceled',
        is_archived: wf.settings.is_archived ?? false,
        counts,
      };
      if (counts.running! > 0) {
        const cancels = await runningCancelRequests(q, workflowId);
        if (cancels.length > 0) progress.cancel_requested_job_ids = cancels;
      }
      return progress;
    });
  }

  async isComplete(workflowId: number): Promise<boolean> {
    return (await this.getStatus(workflowId)).is_complete;
  }

  // ---- jobs ------------------------------------------------------------------------------

  async getJob(jobId: number): Promise<JobRecord> {
    const row = await this.db.get(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`, [jobId]);
    if (!row) throw new NotFoundError(`job ${jobId}`);
    return toJob(row);
  }

  /** Jobs of a workflow in queue (id) order, optionally by status and/or exact name. */
  async listJobs(workflowId: number, filter: JobFilter = {}): Promise<Page<JobRecord>> {
    const { offset, limit } = pageOf(filter);
    const where = ['workflow_id = ?'];
    const params: (string | number)[] = [workflowId];
    if (filter.status !== undefined) {
      const code = parseStatus(filter.status);
      if (code === undefined) throw new InputError(`unknown job status "${filter.status}"`, 'status');
      where.push('status = ?');
      params.push(code);
    }
    if (filter.name !== undefined) {
      where.push('name = ?');
      params.push(filter.name);
    }
    if (filter.needs_file_id !== undefined) {
      where.push('id IN (SELECT job_id FROM job_input_files WHERE file_id = ?)');
      params.push(filter.needs_file_id);
    }
    if (filter.upstream_job_id !== undefined) {
      where.push('id IN (SELECT job_id FROM job_dependencies WHERE blocked_by_job_id = ?)');
      params.push(filter.upstream_job_id);
    }
    if (filter.active_compute_node_id !== undefined) {
      where.push(`compute_node_id = ? AND status IN (${JobStatus.pending}, ${JobStatus.running})`);
      params.push(filter.active_compute_node_id);
    }
    let order = 'id';
    if (filter.sort_by !== undefined) {
      if (!(JOB_SORT_COLUMNS as readonly string[]).includes(filter.sort_by)) {
        throw new InputError(`cannot sort by "${filter.sort_by}" (one of ${JOB_SORT_COLUMNS.join(', ')})`, 'sort_by');
      }
      const column = filter.sort_by === 'attempt_id' ? 'attempt' : filter.sort_by;
      order = column === 'id' ? 'id' : `${column}, id`;
    }
    if (filter.reverse_sort) order = order.split(', ').map((c) => `${c} DESC`).join(', ');
    const cond = where.join(' AND ');
    return this.db.read(async (q) => {
      if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
      const rows = await q.all(`SELECT ${JOB_COLUMNS} FROM jobs WHERE ${cond} ORDER BY ${order} LIMIT ? OFFSET ?`, [...params, limit, offset]);
      const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE ${cond}`, params);
      return { items: rows.map(toJob), total: total!.n };
    });
  }

  /**
   * The workflow's pending and running jobs (pending first, each in queue order) as a claim
   * returns them: with their needs and files, no nodes assigned.
   */
  async listHeldJobs(workflowId: number): Promise<ClaimedJobRecord[]> {
    return this.db.read(async (q) => {
      if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
      return readHeldJobs(q, workflowId);
    });
  }

  /** Ids of the jobs that `jobId` waits for. */
  async listJobBlockers(jobId: number): Promise<number[]> {
    await this.getJob(jobId);
    const rows = await this.db.all<{ id: number }>(
      'SELECT blocked_by_job_id AS id FROM job_dependencies WHERE job_id = ? ORDER BY blocked_by_job_id',
      [jobId],
    );
    return rows.map((r) => r.id);
  }

  /** Resource-aware claim (torc's claim_jobs_based_on_resources): ready → pending. */
  async claimJobsBasedOnResources(workflowId: number, req: ClaimByResourcesRequest): Promise<ClaimResponse> {
    const start = startOption(req.start_run_id, 'start_run_id');
    return this.write((tx) => claimByResources(tx, workflowId, req, this.claimStats, this.nowIso(), start));
  }

  /**
   * Queue-depth claim (torc's claim_next_jobs): the next `limit` ready jobs, resources ignored.
   * With options.start_run_id the jobs are started in the same transaction (ready → running).
   */
  async claimNextJobs(workflowId: number, limit: number, computeNodeId?: number | null, options: ClaimNextOptions = {}): Promise<ClaimResponse> {
    const start = startOption(options.start_run_id, 'start_run_id');
    return this.write((tx) => claimNext(tx, workflowId, limit, computeNodeId, this.claimStats, this.nowIso(), start));
  }

  /**
   * pending → running on `computeNodeId`. ConflictError (nothing changed) on a stale run_id or
   * attempt, or a job not pending. The same start sent again (the job runs on this node at that
   * run and attempt) is acknowledged and changes nothing.
   */
  async startJob(jobId: number, runId: number, computeNodeId: number, attemptId?: number): Promise<JobRecord> {
    checkId(computeNodeId, 'compute_node_id');
    if (attemptId !== undefined) checkId(attemptId, 'attempt_id');
    return this.db.batched(this.startBatch, { job_id: jobId, run_id: runId, compute_node_id: computeNodeId, attempt_id: attemptId });
  }

  /**
   * start_job for many jobs in one transaction (the bulk form runners use after a claim).
   * Each job is checked on its own: the valid ones start, each refused one changes nothing and
   * comes back with the error start_job would have thrown.
   */
  async startJobs(jobIds: number[], runId: number, computeNodeId: number, workflowId?: number, attemptIds?: number[]): Promise<ItemOutcome<JobRecord>[]> {
    checkId(computeNodeId, 'compute_node_id');
    checkBulkSize(jobIds, 'job_ids');
    jobIds.forEach((id, i) => checkId(id, `job_ids[${i}]`));
    if (attemptIds !== undefined) {
      if (!Array.isArray(attemptIds) || attemptIds.length !== jobIds.length) {
        throw new InputError(`expected one attempt per job (${jobIds.length}), got ${Array.isArray(attemptIds) ? attemptIds.length : String(attemptIds)}`, 'attempt_ids');
      }
      attemptIds.forEach((a, i) => checkId(a, `attempt_ids[${i}]`));
    }
    return this.write((tx) => startJobsInTx(tx, jobIds, runId, computeNodeId, this.nowIso(), workflowId, attemptIds));
  }

  /**
   * running → completed / failed / canceled / terminated / pending_failed, with a result row.
   * A finished job unblocks its dependents; an unsuccessful one first cancels (transitively)
   * the dependents that set cancel_on_blocking_job_failure. ConflictError (nothing changed)
   * on a stale run_id or a job not running.
   */
  async completeJob(jobId: number, status: number | string, runId: number, result: CompleteJobResult): Promise<CompleteJobOutcome> {
    const code = completionStatus(status, 'status');
    checkResult(result);
    if (code === JobStatus.completed) return this.db.batched(this.completeBatch, { job_id: jobId, status: code, run_id: runId, result });
    return this.write(async (tx) => {
      const out = await completeJobsInTx(tx, [{ job_id: jobId, status: code, run_id: runId, result }], this.nowIso());
      const item = out.items[0]!;
      if (!item.ok) throw item.error;
      return { job: item.value.job, newly_ready: out.newly_ready, canceled_dependents: out.canceled_dependents };
    });
  }

  /**
   * complete_job for many jobs in one transaction (a runner reports every job that finished
   * since its last turn at once). Items are checked one by one: bad input (status, result
   * fields) and refusals come back as that item's error and change nothing; the valid items
   * are completed together, with one cascade for all of them.
   */
  async completeJobs(
    items: { job_id: number; status: number | string; run_id: number; result: CompleteJobResult }[],
    workflowId?: number,
  ): Promise<CompleteJobsOutcome> {
    checkBulkSize(items, 'jobs');
    const checked: (CompleteItem | Error)[] = items.map((item, i) => {
      try {
        if (!Number.isSafeInteger(item?.job_id)) throw new InputError('expected a job id', `jobs[${i}].job_id`);
        const code = completionStatus(item.status, `jobs[${i}].status`);
        checkResult(item.result);
        return { job_id: item.job_id, status: code, run_id: item.run_id, result: item.result };
      } catch (e) {
        return e as Error;
      }
    });
    const good = checked.filter((c): c is CompleteItem => !(c instanceof Error));
    const out = await this.write((tx) => completeJobsInTx(tx, good, this.nowIso(), workflowId));
    let k = 0;
    return { ...out, items: checked.map((c) => (c instanceof Error ? { ok: false as const, error: c } : out.items[k++]!)) };
  }

  /**
   * A failed attempt that the job's failure handler retries: its result is recorded and the
   * job goes back to ready with attempt + 1, its own requirements raised when the matching rule
   * has multipliers. One transaction; ConflictError (nothing changed) when the job is not
   * running, the run_id is stale, the workflow is canceled or the rules do not retry it.
   */
  async retryJob(jobId: number, runId: number, req: Partial<RetryJobRequest> = {}): Promise<RetryOutcome> {
    // torc's runner sends no body; a result, when given, must be whole.
    if (req.return_code !== undefined || req.exec_time_minutes !== undefined || req.completion_time !== undefined) checkResult(req as RetryJobRequest);
    if (req.status !== undefined && req.status !== 'failed' && req.status !== 'terminated') {
      throw new InputError(`expected failed or terminated, got ${String(req.status)}`, 'status');
    }
    if (req.max_retries !== undefined && !(Number.isSafeInteger(req.max_retries) && req.max_retries >= 0)) {
      throw new InputError(`expected a whole number ≥ 0, got ${String(req.max_retries)}`, 'max_retries');
    }
    return this.write(async (tx) => {
      const job = await this.requireJob(tx, jobId);
      const wf = await this.requireWorkflow(tx, job.workflow_id);
      return retryJobInTx(tx, job, wf, runId, req, this.nowIso());
    });
  }

  /**
   * Cancels one job: not started → canceled now, with the cascade of an unsuccessful finish;
   * running → a cancel request its runner acts on (see job-cancel.ts). ConflictError when it
   * already finished.
   */
  async cancelJob(jobId: number): Promise<CancelJobOutcome> {
    return this.write((tx) => cancelJobInTx(tx, jobId, this.nowIso()));
  }

  /**
   * `torc recover`: the workflow's failed / terminated / pending_failed jobs get what the
   * recovery policy says for their diagnosis (more memory, more runtime, a plain retry, or
   * nothing) and run again, with their downstream, in a new run (recover.ts). One transaction;
   * ConflictError while jobs are claimed or running.
   */
  async recoverWorkflow(workflowId: number, options: RecoveryOptions, dryRun = false): Promise<RecoverOutcome> {
    return this.write(async (tx) => recoverInTx(tx, await this.requireWorkflow(tx, workflowId), options, dryRun, this.nowIso()));
  }

  /** Stores time-series samples of the workflow's jobs (samples.ts: validated, bounded per attempt). */
  async recordResourceSamples(workflowId: number, samples: ResourceSample[]): Promise<{ stored: number }> {
    return this.write(async (tx) => {
      await this.requireWorkflow(tx, workflowId);
      return insertSamplesInTx(tx, workflowId, samples);
    });
  }

  async listResourceSamples(workflowId: number, filter: SampleFilter & PageOptions = {}): Promise<Page<ResourceSample>> {
    const { offset, limit } = pageOf(filter);
    return this.db.read(async (q) => {
      await this.requireWorkflow(q, workflowId);
      return listSamples(q, workflowId, filter, offset, limit);
    });
  }

  async getFailureHandler(failureHandlerId: number): Promise<FailureHandlerRecord> {
    const row = await this.db.get('SELECT * FROM failure_handlers WHERE id = ?', [failureHandlerId]);
    if (!row) throw new NotFoundError(`failure handler ${failureHandlerId}`);
    return toFailureHandler(row);
  }

  /**
   * Finds the completed jobs whose inputs changed (files as observed by the caller, command,
   * input user data) and sends them and their downstream back to run in a new run, then
   * initializes. With dryRun it only reports. See reinit.ts.
   */
  async reinitialize(workflowId: number, options: ReinitOptions = {}): Promise<ReinitOutcome> {
    return this.write((tx) => reinitializeInTx(tx, workflowId, options, this.nowIso()));
  }

  // ---- actions ---------------------------------------------------------------------------

  /** Fires the triggers whose condition holds now (once per run); returns the newly fired actions. */
  async fireActionTriggers(workflowId: number): Promise<ActionRecord[]> {
    return this.write((tx) => fireTriggers(tx, workflowId, this.nowIso()));
  }

  /**
   * fireActionTriggers when some action of the workflow has not fired in this run yet: a read
   * first, so the many workflows without actions pay no write transaction (job completions call it).
   */
  async fireWaitingActionTriggers(workflowId: number): Promise<ActionRecord[]> {
    const waiting = await this.db.get(
      `SELECT 1 FROM actions a JOIN workflows w ON w.id = a.workflow_id
       WHERE a.workflow_id = ? AND (a.triggered_run_id IS NULL OR a.triggered_run_id <> w.run_id) LIMIT 1`,
      [workflowId],
    );
    return waiting ? this.fireActionTriggers(workflowId) : [];
  }

  /** Actions whose trigger fired in the current run and that are not claimed (persistent ones stay listed). */
  async listPendingActions(workflowId: number, triggerTypes?: string[]): Promise<ActionRecord[]> {
    return this.db.read(async (q) => {
      const wf = await this.requireWorkflow(q, workflowId);
      if (wf.status === 'canceled') return [];
      const rows = await q.all(`SELECT a.* FROM actions a WHERE a.workflow_id = ? AND ${PENDING_SQL} ORDER BY a.id`, [workflowId, wf.run_id]);
      const all = rows.map(toAction);
      return triggerTypes && triggerTypes.length > 0 ? all.filter((a) => triggerTypes.includes(a.trigger_type)) : all;
    });
  }

  /** torc's create_workflow_action. */
  async createAction(workflowId: number, action: ActionInput): Promise<ActionRecord> {
    return this.write((tx) => insertAction(tx, workflowId, action));
  }

  /** Atomic claim of a pending action: of concurrent claimers exactly one wins, the others get ConflictError. */
  async claimAction(workflowId: number, actionId: number, who: ActionClaimer): Promise<ActionClaimOutcome> {
    return this.write((tx) => claimActionInTx(tx, workflowId, actionId, who, this.nowIso()));
  }

  // ---- compute nodes ---------------------------------------------------------------------

  async registerComputeNode(workflowId: number, node: ComputeNodeRegistration): Promise<ComputeNodeRecord> {
    checkRegistration(node);
    const id = await this.write(async (tx) => {
      await this.requireWorkflow(tx, workflowId);
      return insertComputeNode(tx, workflowId, node, this.clock());
    });
    return this.getComputeNode(id);
  }

  async getComputeNode(computeNodeId: number): Promise<ComputeNodeRecord> {
    const row = await this.db.get('SELECT * FROM compute_nodes WHERE id = ?', [computeNodeId]);
    if (!row) throw new NotFoundError(`compute node ${computeNodeId}`);
    return toComputeNode(row);
  }

  async listComputeNodes(workflowId: number, options?: PageOptions & { activeOnly?: boolean }): Promise<Page<ComputeNodeRecord>> {
    const { offset, limit } = pageOf(options);
    const cond = options?.activeOnly ? 'workflow_id = ? AND active = 1' : 'workflow_id = ?';
    return this.db.read(async (q) => {
      const rows = await q.all(`SELECT * FROM compute_nodes WHERE ${cond} ORDER BY id LIMIT ? OFFSET ?`, [workflowId, limit, offset]);
      const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM compute_nodes WHERE ${cond}`, [workflowId]);
      return { items: rows.map(toComputeNode), total: total!.n };
    });
  }

  /** Renews the node's lease. ConflictError when the node is no longer active (it must register again). */
  async heartbeat(computeNodeId: number): Promise<void> {
    return this.write((tx) => renewLease(tx, computeNodeId, this.clock()));
  }

  /** A clean exit: the node becomes inactive and its pending/running jobs go back to ready (attempt + 1). */
  async deactivateComputeNode(computeNodeId: number): Promise<{ requeued_jobs: number }> {
    return this.write(async (tx) => {
      const node = await tx.get('SELECT id FROM compute_nodes WHERE id = ?', [computeNodeId]);
      if (!node) throw new NotFoundError(`compute node ${computeNodeId}`);
      return { requeued_jobs: await retireNodes(tx, [computeNodeId], this.nowIso()) };
    });
  }

  /**
   * torc's update_compute_node: `is_active: false` retires the node (its unfinished jobs go
   * back to ready), as a clean exit does; its recorded resources may change. A retired node
   * cannot come back (register again).
   */
  async updateComputeNode(computeNodeId: number, values: Record<string, unknown>, isActive?: boolean): Promise<ComputeNodeRecord> {
    return this.write(async (tx) => {
      const node = await getRow(tx, tableOf('compute_nodes'), computeNodeId);
      if (isActive === true && !node.is_active) throw new ConflictError(`compute node ${computeNodeId} is no longer active; register again`);
      if (isActive === false && node.is_active) await retireNodes(tx, [computeNodeId], this.nowIso());
      return updateRow(tx, tableOf('compute_nodes'), computeNodeId, values);
    });
  }

  /** Deletes compute nodes (one, or all of a workflow); active ones are retired first, so their jobs go back to ready. */
  async deleteComputeNodes(which: { id: number } | { workflow_id: number }): Promise<ComputeNodeRecord[]> {
    return this.write(async (tx) => {
      const rows =
        'id' in which
          ? [await getRow(tx, tableOf('compute_nodes'), which.id)]
          : (await tx.all('SELECT * FROM compute_nodes WHERE workflow_id = ? ORDER BY id', [which.workflow_id])).map(toComputeNode);
      if ('workflow_id' in which) await this.requireWorkflow(tx, which.workflow_id);
      await retireNodes(tx, rows.filter((n) => n.is_active).map((n) => n.id), this.nowIso());
      await tx.run('DELETE FROM compute_nodes WHERE id IN (SELECT value FROM json_each(?))', [JSON.stringify(rows.map((n) => n.id))]);
      return rows;
    });
  }

  /**
   * After an outage: the jobs the server has on the node that the runner does not hold go back
   * to ready; held jobs that are no longer the node's come back as revoked (see nodes.ts).
   * ConflictError when the node is no longer active.
   */
  async syncComputeNode(computeNodeId: number, held: HeldJobRef[]): Promise<{ released: number[]; revoked: number[] }> {
    checkBulkSize(held, 'jobs');
    held.forEach((h, i) => {
      checkId(h?.job_id, `jobs[${i}].job_id`);
      checkId(h?.attempt_id, `jobs[${i}].attempt_id`);
    });
    return this.write((tx) => syncNodeJobs(tx, computeNodeId, held, this.clock()));
  }

  /** A server starting: every active node gets a full lease from now (the time it was down is not held against runners). */
  async resumeLeases(): Promise<number> {
    return this.write((tx) => resumeLeases(tx, this.clock()));
  }

  /** Retires every active node whose lease ran out before `nowMs`; their pending/running jobs go back to ready (attempt + 1). */
  async expireLeases(nowMs: number = this.clock()): Promise<ExpireOutcome> {
    return this.write(async (tx) => {
      const ids = await expiredNodes(tx, nowMs);
      const requeued = await retireNodes(tx, ids, new Date(nowMs).toISOString());
      return { expired_compute_node_ids: ids, requeued_jobs: requeued };
    });
  }

  // ---- results, events and the workflow's definitions -----------------------------------

  async listResults(workflowId: number, options?: PageOptions & { jobId?: number }): Promise<Page<ResultRecord>> {
    const { offset, limit } = pageOf(options);
    const cond = options?.jobId !== undefined ? 'workflow_id = ? AND job_id = ?' : 'workflow_id = ?';
    const params = options?.jobId !== undefined ? [workflowId, options.jobId] : [workflowId];
    return this.db.read(async (q) => {
      const rows = await q.all(`SELECT * FROM results WHERE ${cond} ORDER BY id LIMIT ? OFFSET ?`, [...params, limit, offset]);
      const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM results WHERE ${cond}`, params);
      return { items: rows.map(toResult), total: total!.n };
    });
  }

  async appendEvent(workflowId: number, category: string, data: unknown = null): Promise<EventRecord> {
    const id = await this.write(async (tx) => {
      await this.requireWorkflow(tx, workflowId);
      const res = await tx.run('INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, ?, ?)', [
        workflowId,
        this.nowIso(),
        category,
        data === undefined ? null : JSON.stringify(data),
      ]);
      return res.lastID;
    });
    const row = await this.db.get('SELECT * FROM events WHERE id = ?', [id]);
    return toEvent(row!);
  }

  async listEvents(workflowId: number, options?: PageOptions & { afterId?: number }): Promise<Page<EventRecord>> {
    const { offset, limit } = pageOf(options);
    const after = options?.afterId ?? 0;
    return this.db.read(async (q) => {
      const rows = await q.all('SELECT * FROM events WHERE workflow_id = ? AND id > ? ORDER BY id LIMIT ? OFFSET ?', [
        workflowId,
        after,
        limit,
        offset,
      ]);
      const total = await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE workflow_id = ? AND id > ?', [workflowId, after]);
      return { items: rows.map(toEvent), total: total!.n };
    });
  }

  async listResourceRequirements(workflowId: number): Promise<ResourceRequirementsRecord[]> {
    return this.db.all('SELECT * FROM resource_requirements WHERE workflow_id = ? ORDER BY id', [workflowId]);
  }

  async listSlurmSchedulers(workflowId: number): Promise<SlurmSchedulerRecord[]> {
    return this.db.all('SELECT * FROM slurm_schedulers WHERE workflow_id = ? ORDER BY id', [workflowId]);
  }

  async listFailureHandlers(workflowId: number): Promise<FailureHandlerRecord[]> {
    return (await this.db.all('SELECT * FROM failure_handlers WHERE workflow_id = ? ORDER BY id', [workflowId])).map(toFailureHandler);
  }

  async listFiles(workflowId: number): Promise<FileRecord[]> {
    return this.db.all('SELECT * FROM files WHERE workflow_id = ? ORDER BY id', [workflowId]);
  }

  /** Records when a job produced the file (seconds since the epoch). */
  async setFileMtime(fileId: number, stMtime: number): Promise<void> {
    return this.write(async (tx) => {
      const res = await tx.run('UPDATE files SET st_mtime = ? WHERE id = ?', [stMtime, fileId]);
      if (res.changes === 0) throw new NotFoundError(`file ${fileId}`);
    });
  }

  async listUserData(workflowId: number): Promise<UserDataRecord[]> {
    return (await this.db.all('SELECT * FROM user_data WHERE workflow_id = ? ORDER BY id', [workflowId])).map(toUserData);
  }

  async listActions(workflowId: number): Promise<ActionRecord[]> {
    return (await this.db.all('SELECT * FROM actions WHERE workflow_id = ? ORDER BY id', [workflowId])).map(toAction);
  }

  /** Files and user data a job reads and writes (ids). */
  async getJobIo(jobId: number): Promise<{ input_files: number[]; output_files: number[]; input_user_data: number[]; output_user_data: number[] }> {
    await this.getJob(jobId);
    const ids = async (sql: string) => (await this.db.all<{ id: number }>(sql, [jobId])).map((r) => r.id);
    return {
      input_files: await ids('SELECT file_id AS id FROM job_input_files WHERE job_id = ? ORDER BY file_id'),
      output_files: await ids('SELECT file_id AS id FROM job_output_files WHERE job_id = ? ORDER BY file_id'),
      input_user_data: await ids('SELECT user_data_id AS id FROM job_input_user_data WHERE job_id = ? ORDER BY user_data_id'),
      output_user_data: await ids('SELECT user_data_id AS id FROM job_output_user_data WHERE job_id = ? ORDER BY user_data_id'),
    };
  }

  // ---- jobs record by record, as torc's API builds them (job-records.ts) -------------------

  /** create_job / bulk_jobs: uninitialized jobs with their relations, all of one workflow. */
  async createJobs(jobs: JobInput[], prefix: (i: number) => string = (i) => `jobs[${i}].`): Promise<JobWithRelations[]> {
    checkBulkSize(jobs, 'jobs');
    return this.write((tx) => createJobsInTx(tx, jobs, prefix));
  }

  async getJobWithRelations(jobId: number): Promise<JobWithRelations> {
    return this.db.read(async (q) => {
      const [job] = await readJobs(q, [jobId]);
      if (!job) throw new NotFoundError(`job ${jobId}`);
      return job;
    });
  }

  /** listJobs with torc's id lists on every job (include_relationships). */
  async listJobsWithRelations(workflowId: number, filter: JobFilter = {}): Promise<Page<JobWithRelations>> {
    const page = await this.listJobs(workflowId, filter);
    return { items: await withRelations(this.db, page.items), total: page.total };
  }

  async updateJob(jobId: number, input: Partial<JobInput>): Promise<JobWithRelations> {
    return this.write((tx) => updateJobInTx(tx, jobId, input));
  }

  async deleteJob(jobId: number): Promise<JobWithRelations> {
    return this.write((tx) => deleteJobInTx(tx, jobId, this.nowIso()));
  }

  /** Deletes every job of the workflow (with their results); returns how many. */
  async deleteJobs(workflowId: number): Promise<number> {
    return this.write(async (tx) => {
      await this.requireWorkflow(tx, workflowId);
      const held = await tx.get(`SELECT id FROM jobs WHERE workflow_id = ? AND status IN (${JobStatus.pending}, ${JobStatus.running}) LIMIT 1`, [workflowId]);
      if (held) throw new ConflictError(`workflow ${workflowId} has pending or running jobs: cancel it first`);
      return (await tx.run('DELETE FROM jobs WHERE workflow_id = ?', [workflowId])).changes;
    });
  }

  /** torc's manage_status_change (see job-records.ts). */
  async manageStatusChange(jobId: number, status: JobStatusName, runId: number): Promise<JobRecord> {
    return this.write((tx) => manageStatusChangeInTx(tx, jobId, status, runId, this.nowIso()));
  }

  // ---- the workflow's graph, read-only (workflow-queries.ts) ------------------------------

  listJobIds(workflowId: number): Promise<number[]> {
    return this.db.read((q) => jobIds(q, workflowId));
  }

  listJobDependencies(workflowId: number, page: PageOptions = {}): Promise<Page<JobDependencyRow>> {
    const { offset, limit } = pageOf(page);
    return this.db.read((q) => jobDependencies(q, workflowId, offset, limit));
  }

  listJobFileRelationships(workflowId: number, page: PageOptions = {}): Promise<Page<RelationshipRow>> {
    const { offset, limit } = pageOf(page);
    return this.db.read((q) => fileRelationships(q, workflowId, offset, limit));
  }

  listJobUserDataRelationships(workflowId: number, page: PageOptions = {}): Promise<Page<RelationshipRow>> {
    const { offset, limit } = pageOf(page);
    return this.db.read((q) => userDataRelationships(q, workflowId, offset, limit));
  }

  /** Ids of the files that must exist before the workflow runs. */
  listRequiredExistingFiles(workflowId: number): Promise<number[]> {
    return this.db.read((q) => requiredExistingFiles(q, workflowId));
  }

  listMissingUserData(workflowId: number): Promise<number[]> {
    return this.db.read((q) => missingUserData(q, workflowId));
  }

  getReadyJobRequirements(workflowId: number, schedulerId: number | null = null): Promise<ReadyRequirements> {
    return this.db.read((q) => readyRequirements(q, workflowId, schedulerId));
  }

  isWorkflowUninitialized(workflowId: number): Promise<boolean> {
    return this.db.read((q) => isUninitialized(q, workflowId));
  }

  getLatestEventTimestamp(workflowId: number): Promise<number | null> {
    return this.db.read((q) => latestEventTimestamp(q, workflowId));
  }

  // ---- torc's plain records (tables.ts): create, get, update, delete, list ----------------

  async createRecord<K extends TableName>(kind: K, values: Record<string, unknown>): Promise<RecordOf<K>> {
    return this.write((tx) => insertRow(tx, tableOf(kind), values));
  }

  async getRecord<K extends TableName>(kind: K, id: number): Promise<RecordOf<K>> {
    return getRow(this.db, tableOf(kind), id);
  }

  async updateRecord<K extends TableName>(kind: K, id: number, values: Record<string, unknown>): Promise<RecordOf<K>> {
    return this.write((tx) => updateRow(tx, tableOf(kind), id, values));
  }

  /** Deletes the record and returns it as it was; ConflictError while jobs still use it. */
  async deleteRecord<K extends TableName>(kind: K, id: number): Promise<RecordOf<K>> {
    return this.write((tx) => deleteRow(tx, tableOf(kind), id));
  }

  /** Deletes every record of this kind of the workflow; returns how many. */
  async deleteRecords(kind: TableName, workflowId: number): Promise<number> {
    return this.write((tx) => deleteRows(tx, tableOf(kind), workflowId));
  }

  async listRecords<K extends TableName>(kind: K, workflowId: number | null, query: Partial<ListQuery> = {}): Promise<Page<RecordOf<K>>> {
    const { offset, limit } = pageOf(query);
    return this.db.read((q) => listRows(q, tableOf(kind), workflowId, { ...query, offset, limit }));
  }

  /** torc's create_user_data: the record, and optionally its link as an input / output of a job of its workflow. */
  async createUserData(values: Record<string, unknown>, links: { consumer_job_id?: number; producer_job_id?: number } = {}): Promise<UserDataRecord> {
    return this.write(async (tx) => {
      const ud = await insertRow(tx, tableOf('user_data'), values);
      for (const [field, table] of [['consumer_job_id', 'job_input_user_data'], ['producer_job_id', 'job_output_user_data']] as const) {
        const jobId = links[field];
        if (jobId === undefined) continue;
        const job = await tx.get<{ workflow_id: number }>('SELECT workflow_id FROM jobs WHERE id = ?', [jobId]);
        if (!job || job.workflow_id !== ud.workflow_id) throw new NotFoundError(`job ${jobId} of workflow ${ud.workflow_id}`);
        await tx.run(`INSERT OR IGNORE INTO ${table} (job_id, user_data_id) VALUES (?, ?)`, [jobId, ud.id]);
      }
      return ud;
    });
  }

  // ---- helpers ---------------------------------------------------------------------------

  private async requireWorkflow(q: Queryable, workflowId: number): Promise<WorkflowRecord> {
    const row = await q.get('SELECT * FROM workflows WHERE id = ?', [workflowId]);
    if (!row) throw new NotFoundError(`workflow ${workflowId}`);
    return toWorkflow(row);
  }

  private async requireJob(q: Queryable, jobId: number): Promise<JobRecord> {
    const row = await q.get(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`, [jobId]);
    if (!row) throw new NotFoundError(`job ${jobId}`);
    return toJob(row);
  }
}

function startOption(runId: number | null | undefined, field: string): { run_id: number } | undefined {
  if (runId === undefined || runId === null) return undefined;
  return { run_id: checkId(runId, field) };
}

/** Most jobs one bulk call may carry. */
export const MAX_BULK_JOBS = 10_000;

function checkBulkSize(list: unknown, field: string): void {
  if (!Array.isArray(list)) throw new InputError('expected a list', field);
  if (list.length > MAX_BULK_JOBS) throw new InputError(`at most ${MAX_BULK_JOBS} jobs per call, got ${list.length}`, field);
}

function completionStatus(status: number | string, field: string): number {
  const code = parseStatus(status);
  if (code === undefined || !COMPLETION_STATUSES.includes(code)) {
    throw new InputError(`expected one of ${COMPLETION_STATUSES.map((c) => statusName(c)).join(', ')}, got ${String(status)}`, field);
  }
  return code;
}

function checkResult(result: CompleteJobResult): void {
  const issues = [];
  if (!Number.isInteger(result?.return_code)) issues.push({ path: 'return_code', message: 'expected an integer' });
  if (typeof result?.exec_time_minutes !== 'number' || !Number.isFinite(result.exec_time_minutes) || result.exec_time_minutes < 0) {
    issues.push({ path: 'exec_time_minutes', message: 'expected a number ≥ 0' });
  }
  if (typeof result?.completion_time !== 'string' || result.completion_time === '') {
    issues.push({ path: 'completion_time', message: 'expected a timestamp string' });
  }
  if (result?.attempt_id !== undefined && !(Number.isSafeInteger(result.attempt_id) && result.attempt_id >= 1)) {
    issues.push({ path: 'attempt_id', message: 'expected the attempt number (1 or more)' });
  }
  if (result?.compute_node_id != null && !(Number.isSafeInteger(result.compute_node_id) && result.compute_node_id >= 1)) {
    issues.push({ path: 'compute_node_id', message: 'expected a compute node id or null' });
  }
  if (result?.files !== undefined) {
    if (!Array.isArray(result.files) || result.files.length > 100_000) {
      issues.push({ path: 'files', message: 'expected a list of at most 100000 {id, st_mtime}' });
    } else {
      result.files.forEach((f, i) => {
        if (!Number.isSafeInteger(f?.id) || f.id < 1) issues.push({ path: `files[${i}].id`, message: 'expected a file id' });
        if (f?.st_mtime !== null && !(typeof f?.st_mtime === 'number' && Number.isFinite(f.st_mtime) && f.st_mtime >= 0)) {
          issues.push({ path: `files[${i}].st_mtime`, message: 'expected seconds since the epoch, or null for a missing file' });
        }
      });
    }
  }
  if (issues.length) throw new InputError(issues.slice(0, 20));
  checkResultMonitoring(result);
}
