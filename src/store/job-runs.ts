/**
 * start_job and complete_job for one job or many, set-based: a constant number of statements
 * per call whatever the number of jobs (each statement is a thread-pool round trip in the
 * sqlite3 binding, and these are the hottest writes of every run — issue 9). The single-job
 * Store methods are the one-item case. Each item is checked on its own: valid items change
 * together in the caller's transaction, refused items change nothing and carry their error
 * (the same NotFoundError / ConflictError / InputError the single call throws). With a
 * workflow id (the bulk REST routes are per workflow), jobs of other workflows are not found.
 */
import { ConflictError, InputError, NotFoundError, type InputIssue } from '../errors.js';
import type { CompleteJobResult } from '../contract/client.js';
import type { WriteTx } from './db.js';
import { decideFailure } from '../allocator/failure-policy.js';
import type { PlanFailureRule } from '../spec/plan.js';
import { JOB_COLUMNS, toJob, type JobRecord } from './records.js';
import { inputHash } from './reinit.js';
import { JobStatus, statusName } from '../contract/status.js';
import { cascadeFinished, UNSUCCESSFUL_STATES } from './transitions.js';
import { insertResults } from './results.js';

const S = JobStatus;

/** One item's outcome; `duplicate`: the same report had been applied before, nothing changed. */
export type ItemOutcome<T> = { ok: true; value: T; duplicate?: boolean } | { ok: false; error: Error };

export interface CompleteItem {
  job_id: number;
  /** A completion status code (already validated). */
  status: number;
  run_id: number;
  result: CompleteJobResult;
}

export interface CompletedJob {
  job: JobRecord;
}

export interface CompleteJobsOutcome {
  items: ItemOutcome<CompletedJob>[];
  /** Dependents that became ready, over all items. */
  newly_ready: number;
  /** Dependents canceled (transitively) because an item did not succeed. */
  canceled_dependents: number[];
  /** Completed items only: the dependents each made ready (see CascadeOutcome.ready_by_blocker). */
  newly_ready_by_job?: Map<number, number>;
}

const J = JOB_COLUMNS.split(',').map((c) => `j.${c.trim()}`).join(', ');

interface JobRow extends Record<string, unknown> {
  id: number;
  workflow_id: number;
  status: number;
  attempt: number;
  compute_node_id: number | null;
  w_run_id: number;
}

const fail = (error: Error): ItemOutcome<never> => ({ ok: false, error });

/** A report about an attempt the job is past: it was requeued (lease, deactivation) or retried meanwhile. */
function staleAttempt(jobId: number, reported: number, current: number): ConflictError {
  return new ConflictError(
    reported < current
      ? `attempt ${reported} of job ${jobId} is stale: the job was requeued and is on attempt ${current}; this report is dropped`
      : `job ${jobId} has no attempt ${reported} yet (it is on attempt ${current})`,
  );
}

/** One start_job: the job, the run it belongs to, the compute node that runs it, and (when given) the attempt it starts. */
export interface StartItem {
  job_id: number;
  run_id: number;
  compute_node_id: number;
  attempt_id?: number;
}

/**
 * pending → running on `computeNodeId`, for each job. Call inside a write transaction.
 * `attempts[i]` (when given) is the attempt the runner starts: another one is refused as stale.
 * A start sent again (the job already runs on this node, same run and attempt) is acknowledged
 * as a duplicate and changes nothing.
 */
export function startJobsInTx(
  tx: WriteTx,
  jobIds: number[],
  runId: number,
  computeNodeId: number,
  now: string,
  workflowId?: number,
  attempts?: (number | undefined)[],
): Promise<ItemOutcome<JobRecord>[]> {
  return startItemsInTx(tx, jobIds.map((job_id, i) => ({ job_id, run_id: runId, compute_node_id: computeNodeId, attempt_id: attempts?.[i] })), now, workflowId);
}

/**
 * pending → running, each item on its own run and compute node (the start_job calls of many
 * runners sharing one group transaction). Call inside a write transaction.
 */
export async function startItemsInTx(tx: WriteTx, items: StartItem[], now: string, workflowId?: number): Promise<ItemOutcome<JobRecord>[]> {
  if (items.length === 0) return [];
  // One row per item (in item order): its job, the job's workflow run, and its compute node.
  const rows = await tx.all<JobRow & { k: number; n_workflow_id: number | null; n_active: number | null }>(
    `SELECT v.key AS k, ${J}, w.run_id AS w_run_id, n.workflow_id AS n_workflow_id, n.active AS n_active
     FROM json_each(?1) v
       LEFT JOIN jobs j ON j.id = v.value->>0
       LEFT JOIN workflows w ON w.id = j.workflow_id
       LEFT JOIN compute_nodes n ON n.id = v.value->>1`,
    [JSON.stringify(items.map((it) => [it.job_id, it.compute_node_id]))],
  );
  const byItem = new Map(rows.map((r) => [r.k, r]));
  const seen = new Set<number>();
  const outcomes = items.map(({ job_id: jobId, run_id: runId, compute_node_id: computeNodeId, attempt_id: attempt }, k): ItemOutcome<JobRecord> => {
    const r = byItem.get(k);
    if (!r || r.id === null) return fail(new NotFoundError(`job ${jobId}`));
    if (workflowId !== undefined && r.workflow_id !== workflowId) return fail(new NotFoundError(`job ${jobId} of workflow ${workflowId}`));
    if (seen.has(jobId)) return fail(new ConflictError(`job ${jobId} is listed twice`));
    seen.add(jobId);
    if (runId !== r.w_run_id) return fail(new ConflictError(`run_id ${runId} is stale: workflow ${r.workflow_id} is on run ${r.w_run_id}`));
    if (attempt !== undefined && attempt !== r.attempt) return fail(staleAttempt(jobId, attempt, r.attempt));
    if (r.status === S.running && r.compute_node_id === computeNodeId && r.n_active) return { ok: true, value: toJob(r), duplicate: true };
    if (r.status !== S.pending) return fail(new ConflictError(`job ${jobId} is ${statusName(r.status)}, not pending`));
    if (r.n_workflow_id === null || r.n_workflow_id !== r.workflow_id) return fail(new NotFoundError(`compute node ${computeNodeId} of workflow ${r.workflow_id}`));
    if (!r.n_active) return fail(new ConflictError(`compute node ${computeNodeId} is no longer active; register again`));
    return { ok: true, value: { ...toJob(r), status: 'running', compute_node_id: computeNodeId } };
  });
  const valid = items.filter((_, k) => outcomes[k]!.ok && !outcomes[k]!.duplicate).map((it) => [it.job_id, it.compute_node_id]);
  if (valid.length > 0) {
    await tx.run(
      `UPDATE jobs SET status = ${S.running}, compute_node_id = v.value->>1, started_at = ?1
       FROM json_each(?2) v WHERE jobs.id = v.value->>0 AND jobs.status = ${S.pending}`,
      [now, JSON.stringify(valid)],
    );
  }
  return outcomes;
}

/**
 * torc's use_pending_failed: in a workflow that sets it, a failure that no rule of the job's
 * failure handler covers (no handler, or no rule for the return code) is stored as
 * pending_failed instead of failed — it awaits classification (reset it to run again) and keeps
 * blocking its dependents instead of canceling them. Retries used up stay failed, as in torc.
 * Decided here, where every runner's completion passes, with the failure-policy rules the
 * retry route uses.
 */
async function withPendingFailed(tx: WriteTx, items: CompleteItem[], byId: Map<number, JobRow & { w_pending_failed: number | null }>): Promise<CompleteItem[]> {
  const candidates = new Set(items.filter((it) => it.status === S.failed && byId.get(it.job_id)?.w_pending_failed));
  if (candidates.size === 0) return items;
  const jobOf = (it: CompleteItem) => byId.get(it.job_id)! as unknown as { failure_handler_id: number | null; attempt: number };
  const handlerIds = [...new Set([...candidates].map((it) => jobOf(it).failure_handler_id).filter((id): id is number => id !== null))];
  const handlers = handlerIds.length
    ? await tx.all<{ id: number; rules: string }>('SELECT id, rules FROM failure_handlers WHERE id IN (SELECT value FROM json_each(?))', [JSON.stringify(handlerIds)])
    : [];
  const rulesById = new Map(handlers.map((h) => [h.id, JSON.parse(h.rules) as PlanFailureRule[]]));
  return items.map((it) => {
    if (!candidates.has(it)) return it;
    const { failure_handler_id, attempt } = jobOf(it);
    const rules = failure_handler_id === null ? null : (rulesById.get(failure_handler_id) ?? null);
    const decision = decideFailure(rules, it.result.return_code, attempt);
    return decision.action === 'fail' && decision.reason !== 'retries_exhausted' ? { ...it, status: S.pending_failed } : it;
  });
}

/**
 * The result rows already stored for the items whose job is not running (or not at the reported
 * attempt), keyed `job/run/attempt`: a report sent again is recognised by its result.
 */
async function earlierResults(
  tx: WriteTx,
  items: CompleteItem[],
  byId: Map<number, JobRow>,
): Promise<Map<string, { status: number; compute_node_id: number | null }>> {
  const ids = items
    .filter((it) => {
      const r = byId.get(it.job_id);
      return r !== undefined && (r.status !== S.running || (it.result.attempt_id ?? r.attempt) !== r.attempt);
    })
    .map((it) => it.job_id);
  if (ids.length === 0) return new Map();
  const rows = await tx.all<{ job_id: number; run_id: number; attempt: number; status: number; compute_node_id: number | null }>(
    'SELECT job_id, run_id, attempt, status, compute_node_id FROM results WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY id',
    [JSON.stringify(ids)],
  );
  return new Map(rows.map((r) => [`${r.job_id}/${r.run_id}/${r.attempt}`, r]));
}

/**
 * running → completed / failed / canceled / terminated / pending_failed with a result row,
 * then the unblock / cancel cascade of every finished item at once. Call inside a write
 * transaction; items must carry valid status codes and results (checked by the caller).
 */
export async function completeJobsInTx(tx: WriteTx, reported: CompleteItem[], now: string, workflowId?: number): Promise<CompleteJobsOutcome> {
  if (reported.length === 0) return { items: [], newly_ready: 0, canceled_dependents: [] };
  const ids = JSON.stringify(reported.map((i) => i.job_id));
  // One read for every item: the job, its workflow's run and use_pending_failed, and (for the
  // input hash of a completed job) its input user data in id order.
  const rows = await tx.all<JobRow & { input_ud: string; w_pending_failed: number | null; rr_memory: number | null; rr_runtime: number | null }>(
    `SELECT ${J}, w.run_id AS w_run_id, json_extract(w.settings, '$.use_pending_failed') AS w_pending_failed,
       rr.memory_bytes AS rr_memory, rr.runtime_seconds AS rr_runtime,
       (SELECT json_group_array(json_array(u.name, u.data) ORDER BY u.id)
          FROM job_input_user_data ju JOIN user_data u ON u.id = ju.user_data_id WHERE ju.job_id = j.id) AS input_ud
     FROM jobs j JOIN workflows w ON w.id = j.workflow_id LEFT JOIN resource_requirements rr ON rr.id = j.resource_requirements_id
     WHERE j.id IN (SELECT value FROM json_each(?))`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const items = await withPendingFailed(tx, reported, byId);
  const earlier = await earlierResults(tx, items, byId);
  const seen = new Set<number>();
  const outcomes: ItemOutcome<CompletedJob>[] = items.map((item) => {
    const r = byId.get(item.job_id);
    if (!r) return fail(new NotFoundError(`job ${item.job_id}`));
    if (workflowId !== undefined && r.workflow_id !== workflowId) return fail(new NotFoundError(`job ${item.job_id} of workflow ${workflowId}`));
    if (seen.has(item.job_id)) return fail(new ConflictError(`job ${item.job_id} is listed twice`));
    seen.add(item.job_id);
    if (item.run_id !== r.w_run_id) return fail(new ConflictError(`run_id ${item.run_id} is stale: workflow ${r.workflow_id} is on run ${r.w_run_id}`));
    const attempt = item.result.attempt_id ?? r.attempt;
    const node = item.result.compute_node_id;
    if (r.status !== S.running || attempt !== r.attempt) {
      // Reported before (its answer was lost)? Then acknowledge it as it was recorded.
      const before = earlier.get(`${item.job_id}/${item.run_id}/${attempt}`);
      if (before && before.status === item.status && (node == null || before.compute_node_id === node)) {
        return { ok: true, value: { job: toJob(r) }, duplicate: true };
      }
      if (before) return fail(new ConflictError(`attempt ${attempt} of job ${item.job_id} was already reported ${statusName(before.status)}`));
      if (attempt !== r.attempt) return fail(staleAttempt(item.job_id, attempt, r.attempt));
      return fail(new ConflictError(`job ${item.job_id} is ${statusName(r.status)}, not running`));
    }
    // A job started without a node (torc's manage_status_change) takes the node its result names (below).
    if (node != null && r.compute_node_id != null && node !== r.compute_node_id) {
      return fail(new ConflictError(`job ${item.job_id} runs on compute node ${r.compute_node_id ?? 'none'}, not ${node}: it was requeued; this report is dropped`));
    }
    return { ok: true, value: { job: { ...toJob(r), status: statusName(item.status), return_code: item.result.return_code } } };
  });

  // Files a completed job observed must be its own inputs or outputs.
  const withFiles = items.filter((it, k) => outcomes[k]!.ok && !outcomes[k]!.duplicate && it.status === S.completed && it.result.files && it.result.files.length > 0);
  if (withFiles.length > 0) {
    const own = await tx.all<{ job_id: number; file_id: number }>(
      `SELECT job_id, file_id FROM job_input_files WHERE job_id IN (SELECT value FROM json_each(?1))
       UNION SELECT job_id, file_id FROM job_output_files WHERE job_id IN (SELECT value FROM json_each(?1))`,
      [JSON.stringify(withFiles.map((i) => i.job_id))],
    );
    const ownSet = new Set(own.map((o) => `${o.job_id}/${o.file_id}`));
    items.forEach((it, k) => {
      if (!withFiles.includes(it)) return;
      const issues: InputIssue[] = it.result.files!.flatMap((f, i) =>
        ownSet.has(`${it.job_id}/${f.id}`) ? [] : [{ path: `files[${i}].id`, message: `file ${f.id} is not an input or output of job ${it.job_id}` }],
      );
      if (issues.length > 0) outcomes[k] = fail(new InputError(issues.slice(0, 20)));
    });
  }

  const valid = items.flatMap((it, k) => (outcomes[k]!.ok && !outcomes[k]!.duplicate ? [{ it, row: byId.get(it.job_id)! }] : []));
  if (valid.length === 0) return { items: outcomes, newly_ready: 0, canceled_dependents: [] };
  // A job started without a compute node (manage_status_change): the node its result names, when it is one of the workflow's.
  const named = valid.filter(({ it, row }) => row.compute_node_id == null && typeof it.result.compute_node_id === 'number');
  const knownNodes = new Set<string>();
  if (named.length > 0) {
    const rows = await tx.all<{ id: number; workflow_id: number }>('SELECT id, workflow_id FROM compute_nodes WHERE id IN (SELECT value FROM json_each(?))', [
      JSON.stringify(named.map(({ it }) => it.result.compute_node_id)),
    ]);
    for (const r of rows) knownNodes.add(`${r.workflow_id}/${r.id}`);
  }
  const nodeOf = (it: CompleteItem, row: JobRow) =>
    (row.compute_node_id as number | null) ?? (knownNodes.has(`${row.workflow_id}/${it.result.compute_node_id}`) ? it.result.compute_node_id! : null);
  const updates = valid.map(({ it, row }) => [
    it.job_id,
    it.status,
    it.result.return_code,
    // What a completed job ran on, for reinitialize: its input hash (and its files' times below).
    it.status === S.completed ? inputHash(row as unknown as Parameters<typeof inputHash>[0], JSON.parse(row.input_ud) as [string, string | null][]) : null,
  ]);
  await tx.run(
    `UPDATE jobs SET status = v.value->>1, return_code = v.value->>2, completed_at = ?1, input_hash = v.value->>3
     FROM json_each(?2) v WHERE jobs.id = v.value->>0 AND jobs.status = ${S.running}`,
    [now, JSON.stringify(updates)],
  );
  const observations = valid.flatMap(({ it }) => (it.status === S.completed ? (it.result.files ?? []) : []));
  if (observations.length > 0) {
    await tx.run(
      `UPDATE files SET st_mtime = (SELECT value->>'st_mtime' FROM json_each(?1) WHERE value->>'id' = files.id)
       WHERE id IN (SELECT value->>'id' FROM json_each(?1))`,
      [JSON.stringify(observations.map((f) => ({ id: f.id, st_mtime: f.st_mtime })))],
    );
  }
  await insertResults(
    tx,
    valid.map(({ it, row }) => ({
      workflow_id: row.workflow_id,
      job_id: it.job_id,
      name: row.name as string,
      run_id: it.run_id,
      attempt: row.attempt as number,
      compute_node_id: nodeOf(it, row),
      status: it.status,
      result: it.result,
      memory_bytes: row.rr_memory,
      runtime_seconds: row.rr_runtime,
    })),
    now,
  );
  // pending_failed may still be retried: it keeps blocking its dependents.
  const unsuccessful = valid.filter(({ it }) => (UNSUCCESSFUL_STATES as readonly number[]).includes(it.status)).map(({ it }) => it.job_id);
  const succeeded = valid.filter(({ it }) => it.status === S.completed).map(({ it }) => it.job_id);
  const bad = await cascadeFinished(tx, unsuccessful, true, now);
  const good = await cascadeFinished(tx, succeeded, false, now);
  return { items: outcomes, newly_ready: bad.newly_ready + good.newly_ready, canceled_dependents: bad.canceled, newly_ready_by_job: good.ready_by_blocker };
}
