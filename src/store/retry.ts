/**
 * Retrying a failed attempt (torc's POST /jobs/{id}/retry/{run_id}). The runner reports the
 * attempt through this instead of complete_job when the job's failure handler retries it; in
 * one transaction the attempt's result is recorded, the rules are checked again (the same pure
 * function the runner used), the job's own requirements are raised when the rule says so
 * (capped by what any runner of the workflow offers), and the job goes back to ready with
 * attempt + 1. Dependents are untouched: the job never stopped blocking them.
 */
import { ConflictError, InputError } from '../errors.js';
import { GIB } from '../allocator/fit.js';
import type { RetryJobRequest } from '../contract/client.js';
import { decideFailure, raisedNeed, type RaiseCaps, type RaisedNeed } from '../allocator/failure-policy.js';
import type { PlanFailureRule } from '../spec/plan.js';
import { parseSlurmWalltime } from '../spec/units.js';
import type { WriteTx } from './db.js';
import type { JobRecord, ResourceRequirementsRecord, WorkflowRecord } from './records.js';
import { JobStatus, statusName } from '../contract/status.js';
import { insertResults } from './results.js';

const S = JobStatus;

export interface RetryOutcome {
  job: JobRecord;
  /** The same retry had been applied before (its answer was lost): acknowledged, nothing changed. */
  duplicate?: boolean;
  /** The attempt the job will run next. */
  attempt: number;
  rule_index: number;
  /** The job's requirements before and after, when the rule raised them. */
  resources: { from: { memory_bytes: number; runtime_seconds: number }; to: RaisedNeed } | null;
}

/** Call inside a write transaction with the job and its workflow as read in it. */
export async function retryJobInTx(tx: WriteTx, job: JobRecord, wf: WorkflowRecord, runId: number, req: RetryJobRequest, now: string): Promise<RetryOutcome> {
  if (runId !== wf.run_id) throw new ConflictError(`run_id ${runId} is stale: workflow ${wf.id} is on run ${wf.run_id}`);
  const reported = req.attempt_id ?? job.attempt;
  if (job.status !== S.running || reported !== job.attempt) {
    // Sent again after a lost answer: the attempt's result is stored and the job moved past it.
    const before = await tx.get<{ status: number; compute_node_id: number | null }>(
      'SELECT status, compute_node_id FROM results WHERE job_id = ? AND run_id = ? AND attempt = ? ORDER BY id DESC LIMIT 1',
      [job.id, runId, reported],
    );
    const status = req.status === 'terminated' ? S.terminated : S.failed;
    const sameNode = req.compute_node_id == null || before?.compute_node_id === req.compute_node_id;
    if (before && before.status === status && sameNode && job.attempt > reported) {
      return { job, attempt: job.attempt, rule_index: -1, resources: null, duplicate: true };
    }
    if (reported < job.attempt) {
      throw new ConflictError(`attempt ${reported} of job ${job.id} is stale: the job was requeued and is on attempt ${job.attempt}; this report is dropped`);
    }
    if (reported > job.attempt) throw new ConflictError(`job ${job.id} has no attempt ${reported} yet (it is on attempt ${job.attempt})`);
  }
  if (req.compute_node_id != null && job.status === S.running && req.compute_node_id !== job.compute_node_id) {
    throw new ConflictError(`job ${job.id} runs on compute node ${job.compute_node_id ?? 'none'}, not ${req.compute_node_id}: it was requeued; this report is dropped`);
  }
  if (wf.status === 'canceled') throw new ConflictError(`workflow ${wf.id} is canceled: nothing is retried`);
  if (job.status !== S.running) {
    throw new ConflictError(
      `job ${job.id} is ${statusName(job.status)}; only a running job's failed attempt can be retried (reset_status with failed_only re-runs finished ones)`,
    );
  }
  if (job.failure_handler_id === null) throw new ConflictError(`job ${job.id} has no failure handler`);
  const handler = await tx.get<{ rules: string }>('SELECT rules FROM failure_handlers WHERE id = ?', [job.failure_handler_id]);
  const rules = handler ? (JSON.parse(handler.rules) as PlanFailureRule[]) : null;
  if (req.return_code === 0) throw new InputError('an attempt that returned 0 succeeded; complete it instead', 'return_code');
  const decision = decideFailure(rules, req.return_code, job.attempt);
  if (decision.action !== 'retry') {
    throw new ConflictError(`job ${job.id} attempt ${job.attempt} (return code ${req.return_code}) is not retried: ${decision.reason.replaceAll('_', ' ')}`);
  }
  if (req.max_retries !== undefined && job.attempt > req.max_retries) {
    throw new ConflictError(`job ${job.id} attempt ${job.attempt} is past max_retries ${req.max_retries}`);
  }
  const status = req.status === 'terminated' ? S.terminated : S.failed;
  const need = await tx.get<{ memory_bytes: number; runtime_seconds: number }>('SELECT memory_bytes, runtime_seconds FROM resource_requirements WHERE id = ?', [
    job.resource_requirements_id,
  ]);
  const { status: _how, max_retries: _max, ...result } = req;
  await insertResults(
    tx,
    [{
      workflow_id: wf.id, job_id: job.id, name: job.name, run_id: runId, attempt: job.attempt, compute_node_id: job.compute_node_id, status, result,
      memory_bytes: need?.memory_bytes ?? null, runtime_seconds: need?.runtime_seconds ?? null,
    }],
    now,
  );
  const resources = await raiseRequirements(tx, job, wf, decision.rule, now);
  const res = await tx.run(
    `UPDATE jobs SET status = ${S.ready}, attempt = attempt + 1, return_code = ?, compute_node_id = NULL,
       claimed_at = NULL, started_at = NULL, completed_at = NULL
     WHERE id = ? AND status = ${S.running}`,
    [req.return_code, job.id],
  );
  if (res.changes !== 1) throw new Error(`retry of job ${job.id} changed ${res.changes} rows`);
  const attempt = job.attempt + 1;
  await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'job_retried', ?)`, [
    wf.id,
    now,
    JSON.stringify({
      job_id: job.id,
      name: job.name,
      failed_attempt: job.attempt,
      attempt,
      return_code: req.return_code,
      status: statusName(status),
      rule_index: decision.rule_index,
      max_retries: decision.rule.max_retries,
    }),
  ]);
  return {
    job: { ...job, status: S.ready, attempt, return_code: req.return_code, compute_node_id: null },
    attempt,
    rule_index: decision.rule_index,
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
