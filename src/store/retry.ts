/**
 * Retrying a failed attempt (torc's POST /jobs/{id}/retry/{run_id}). torc's runner calls it,
 * without a body, for a running job whose failure-handler rule retries it (before reporting the
 * failure); a user may call it for a job that already ended failed or terminated. The job goes
 * back to ready with attempt_id + 1, in one transaction. torc's check: with max_retries, a job
 * whose attempt_id ≥ max_retries is refused (422). Ours on top: with the attempt's result in
 * the body it is recorded, a job with a failure handler is retried only as its rules say (the
 * same pure function the runner used), and the rule's multipliers raise the job's own
 * requirements (capped by what runners offer). A retried running job never stopped blocking its
 * dependents; a retried failed one takes back what its failure did downstream (the dependents
 * it canceled or let run are reset and initialized again).
 */
import { ConflictError, InputError } from '../errors.js';
import { GIB } from '../allocator/fit.js';
import type { RetryJobRequest } from '../contract/client.js';
import { decideFailure, raisedNeed, type RaiseCaps, type RaisedNeed } from '../allocator/failure-policy.js';
import type { PlanFailureRule } from '../spec/plan.js';
import { parseSlurmWalltime } from '../spec/units.js';
import type { WriteTx } from './db.js';
import type { JobRecord, ResourceRequirementsRecord, WorkflowRecord } from './records.js';
import { JobStatus } from '../contract/status.js';
import { initializeJobs } from './transitions.js';
import { insertResults } from './results.js';

const S = JobStatus;
const RETRYABLE = ['running', 'failed', 'terminated'];

export interface RetryOutcome {
  job: JobRecord;
  /** The same retry had been applied before (its answer was lost): acknowledged, nothing changed. */
  duplicate?: boolean;
  /** The attempt the job will run next. */
  attempt: number;
  /** The failure-handler rule that retried it (a result was given and the job has a handler), else null. */
  rule_index: number | null;
  /** The job's requirements before and after, when the rule raised them. */
  resources: { from: { memory_bytes: number; runtime_seconds: number }; to: RaisedNeed } | null;
}

/** Call inside a write transaction with the job and its workflow as read in it. */
export async function retryJobInTx(tx: WriteTx, job: JobRecord, wf: WorkflowRecord, runId: number, req: Partial<RetryJobRequest>, now: string): Promise<RetryOutcome> {
  if (runId !== wf.run_id) throw new ConflictError(`run_id ${runId} is stale: workflow ${wf.id} is on run ${wf.run_id}`);
  const reported = req.attempt_id ?? job.attempt_id;
  if (job.status !== 'running' || reported !== job.attempt_id) {
    // Sent again after a lost answer: the attempt's result is stored and the job moved past it.
    const before = await tx.get<{ status: number; compute_node_id: number | null }>(
      'SELECT status, compute_node_id FROM results WHERE job_id = ? AND run_id = ? AND attempt = ? ORDER BY id DESC LIMIT 1',
      [job.id, runId, reported],
    );
    const status = req.status === 'terminated' ? S.terminated : S.failed;
    const sameNode = req.compute_node_id == null || before?.compute_node_id === req.compute_node_id;
    if (before && before.status === status && sameNode && job.attempt_id > reported) {
      return { job, attempt: job.attempt_id, rule_index: -1, resources: null, duplicate: true };
    }
    if (reported < job.attempt_id) {
      throw new ConflictError(`attempt ${reported} of job ${job.id} is stale: the job was requeued and is on attempt ${job.attempt_id}; this report is dropped`);
    }
    if (reported > job.attempt_id) throw new ConflictError(`job ${job.id} has no attempt ${reported} yet (it is on attempt ${job.attempt_id})`);
  }
  if (req.compute_node_id != null && job.status === 'running' && req.compute_node_id !== job.compute_node_id) {
    throw new ConflictError(`job ${job.id} runs on compute node ${job.compute_node_id ?? 'none'}, not ${req.compute_node_id}: it was requeued; this report is dropped`);
  }
  if (wf.status === 'canceled') throw new ConflictError(`workflow ${wf.id} is canceled: nothing is retried`);
  if (!RETRYABLE.includes(job.status)) {
    throw new ConflictError(`job ${job.id} is ${job.status}; only a running, failed or terminated job can be retried (reset_job_status with failed_only re-runs the others)`);
  }
  if (req.max_retries !== undefined && job.attempt_id >= req.max_retries) {
    throw new InputError(`job ${job.id} cannot be retried: attempt_id ${job.attempt_id} >= max_retries ${req.max_retries}`, 'max_retries');
  }
  const hasResult = req.return_code !== undefined;
  if (hasResult && req.return_code === 0) throw new InputError('an attempt that returned 0 succeeded; complete it instead', 'return_code');
  let rule: PlanFailureRule | null = null;
  let ruleIndex: number | null = null;
  if (hasResult && job.failure_handler_id !== null) {
    const handler = await tx.get<{ rules: string }>('SELECT rules FROM failure_handlers WHERE id = ?', [job.failure_handler_id]);
    const rules = handler ? (JSON.parse(handler.rules) as PlanFailureRule[]) : null;
    const decision = decideFailure(rules, req.return_code!, job.attempt_id);
    if (decision.action !== 'retry') {
      throw new ConflictError(`job ${job.id} attempt ${job.attempt_id} (return code ${req.return_code}) is not retried: ${decision.reason.replaceAll('_', ' ')}`);
    }
    rule = decision.rule;
    ruleIndex = decision.rule_index;
  }
  const status = req.status === 'terminated' ? S.terminated : S.failed;
  // A job that already ended has its result from complete_job; a running one's is recorded here when given.
  if (hasResult && job.status === 'running') {
    const need = await tx.get<{ memory_bytes: number; runtime_seconds: number }>('SELECT memory_bytes, runtime_seconds FROM resource_requirements WHERE id = ?', [
      job.resource_requirements_id,
    ]);
    const { status: _how, max_retries: _max, ...result } = req;
    await insertResults(
      tx,
      [{
        workflow_id: wf.id, job_id: job.id, name: job.name, run_id: runId, attempt: job.attempt_id, compute_node_id: job.compute_node_id, status,
        result: result as RetryJobRequest, memory_bytes: need?.memory_bytes ?? null, runtime_seconds: need?.runtime_seconds ?? null,
      }],
      now,
    );
  }
  const resources = rule ? await raiseRequirements(tx, job, wf, rule, now) : null;
  const returnCode = hasResult ? req.return_code! : job.return_code;
  const res = await tx.run(
    `UPDATE jobs SET status = ${S.ready}, attempt = attempt + 1, return_code = ?, compute_node_id = NULL,
       claimed_at = NULL, started_at = NULL, completed_at = NULL
     WHERE id = ? AND status IN (${S.running}, ${S.failed}, ${S.terminated})`,
    [returnCode, job.id],
  );
  if (res.changes !== 1) throw new Error(`retry of job ${job.id} changed ${res.changes} rows`);
  if (job.status !== 'running') {
    // Its failure canceled (or let run) jobs downstream: they wait for the retry again.
    await tx.run(
      `WITH RECURSIVE downstream(id) AS (
         SELECT job_id FROM job_dependencies WHERE blocked_by_job_id = ?
         UNION SELECT d.job_id FROM downstream JOIN job_dependencies d ON d.blocked_by_job_id = downstream.id)
       UPDATE jobs SET status = ${S.uninitialized}, unfinished_blockers = 0, compute_node_id = NULL, claimed_at = NULL, started_at = NULL, completed_at = NULL
       WHERE id IN (SELECT id FROM downstream) AND status NOT IN (${S.pending}, ${S.running})`,
      [job.id],
    );
    await initializeJobs(tx, wf.id, now);
  }
  const attempt = job.attempt_id + 1;
  await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'job_retried', ?)`, [
    wf.id,
    now,
    JSON.stringify({
      job_id: job.id,
      name: job.name,
      failed_attempt: job.attempt_id,
      attempt,
      return_code: returnCode,
      status: status === S.terminated ? 'terminated' : 'failed',
      rule_index: ruleIndex,
      max_retries: rule?.max_retries ?? req.max_retries ?? null,
    }),
  ]);
  return {
    job: { ...job, status: 'ready', attempt_id: attempt, return_code: returnCode, compute_node_id: null },
    attempt,
    rule_index: ruleIndex,
    resources,
  };
}

/**
 * What runners offer: the most memory of any active compute node of the workflow (any node
 * ever registered when none is active), and for a job bound to a Slurm scheduler its walltime.
 */
export async function offeredCaps(tx: WriteTx, job: JobRecord, wf: WorkflowRecord): Promise<RaiseCaps> {
  const active = await tx.get<{ gb: number | null }>('SELECT MAX(memory_gb) AS gb FROM compute_nodes WHERE workflow_id = ? AND active = 1', [wf.id]);
  const any = active?.gb ?? (await tx.get<{ gb: number | null }>('SELECT MAX(memory_gb) AS gb FROM compute_nodes WHERE workflow_id = ?', [wf.id]))?.gb;
  let runtime: number | null = null;
  if (job.scheduler_id !== null) {
    const s = await tx.get<{ walltime: string }>('SELECT walltime FROM slurm_schedulers WHERE id = ?', [job.scheduler_id]);
    try {
      runtime = s ? parseSlurmWalltime(s.walltime) : null;
    } catch {
      runtime = null;
    }
  }
  return { memory_bytes: any == null ? null : Math.floor(any * GIB), runtime_seconds: runtime };
}

/** Raises the job's own requirements per the rule's multipliers (setJobRequirements); recorded as a `job_resources_raised` event. */
async function raiseRequirements(tx: WriteTx, job: JobRecord, wf: WorkflowRecord, rule: PlanFailureRule, now: string): Promise<RetryOutcome['resources']> {
  if (rule.memory_multiplier === null && rule.runtime_multiplier === null) return null;
  const current = await tx.get<ResourceRequirementsRecord>('SELECT * FROM resource_requirements WHERE id = ?', [job.resource_requirements_id]);
  if (!current) return null;
  const caps = await offeredCaps(tx, job, wf);
  const from = { memory_bytes: current.memory_bytes, runtime_seconds: current.runtime_seconds };
  const to = raisedNeed(from, rule, caps);
  const event = (data: unknown) =>
    tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'job_resources_raised', ?)`, [wf.id, now, JSON.stringify(data)]);
  if (to === null) {
    await event({ job_id: job.id, name: job.name, from, to: from, caps, changed: false, reason: 'already at what runners offer' });
    return null;
  }
  await setJobRequirements(tx, job, current, to);
  await event({ job_id: job.id, name: job.name, from, to: { memory_bytes: to.memory_bytes, runtime_seconds: to.runtime_seconds }, caps, capped: to.capped, changed: true });
  return { from, to };
}

/**
 * Gives the job its own requirements (`to`): the first change gives it a requirements row and a
 * claim class of its own, so the other jobs sharing its declared entry keep theirs; later
 * changes update that row.
 */
export async function setJobRequirements(
  tx: WriteTx,
  job: Pick<JobRecord, 'id' | 'workflow_id' | 'scheduler_id'>,
  current: ResourceRequirementsRecord,
  to: { memory_bytes: number; runtime_seconds: number },
): Promise<void> {
  if (current.job_id === job.id) {
    await tx.run('UPDATE resource_requirements SET memory_bytes = ?, runtime_seconds = ? WHERE id = ?', [to.memory_bytes, to.runtime_seconds, current.id]);
    return;
  }
  const rr = await tx.run(
    `INSERT INTO resource_requirements (workflow_id, name, num_cpus, memory_bytes, num_gpus, num_nodes, runtime_seconds, job_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [job.workflow_id, `${current.name}@job${job.id}`, current.num_cpus, to.memory_bytes, current.num_gpus, current.num_nodes, to.runtime_seconds, job.id],
  );
  const cls = await tx.run('INSERT INTO claim_classes (workflow_id, resource_requirements_id, scheduler_id) VALUES (?, ?, ?)', [
    job.workflow_id,
    rr.lastID,
    job.scheduler_id,
  ]);
  await tx.run('UPDATE jobs SET resource_requirements_id = ?, claim_class_id = ? WHERE id = ?', [rr.lastID, cls.lastID, job.id]);
}
