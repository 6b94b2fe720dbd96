/**
 * Canceling one job (the dashboard's "cancel job"). A job that has not started is canceled at
 * once, in one transaction, with the same cascade as any unsuccessful finish (dependents that
 * set cancel_on_blocking_job_failure are canceled, the others are unblocked). A running job
 * cannot be stopped by the store: a cancel request is recorded for its current attempt, the
 * workflow's status lists it, and the runner running it terminates it and reports it
 * terminated, as a canceled workflow's running jobs are.
 */
import { ConflictError, NotFoundError } from '../errors.js';
import type { Queryable, WriteTx } from './db.js';
import { JobStatus, statusName } from '../contract/status.js';
import { cascadeFinished } from './transitions.js';

const S = JobStatus;

/** States a job is canceled from at once: it has not started (or waits to be classified). */
const CANCELABLE_NOW: readonly number[] = [S.uninitialized, S.blocked, S.ready, S.pending, S.pending_failed];

export interface CancelJobOutcome {
  job_id: number;
  /** `canceled`: done; `cancel_requested`: the job runs, its runner will terminate it. */
  outcome: 'canceled' | 'cancel_requested';
  /** Dependents canceled with it (cancel_on_blocking_job_failure), transitively. */
  canceled_dependents: number[];
}

export async function cancelJobInTx(tx: WriteTx, jobId: number, now: string): Promise<CancelJobOutcome> {
  const job = await tx.get<{ id: number; workflow_id: number; name: string; status: number; attempt: number }>(
    'SELECT id, workflow_id, name, status, attempt FROM jobs WHERE id = ?',
    [jobId],
  );
  if (!job) throw new NotFoundError(`job ${jobId}`);
  const event = (category: string, data: unknown) =>
    tx.run('INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, ?, ?)', [job.workflow_id, now, category, JSON.stringify(data)]);
  if (job.status === S.running) {
    // Keyed by run and attempt: a reset or retry runs the job again, and that run must not be ended by this request.
    await tx.run(
      `INSERT INTO job_cancel_requests (job_id, workflow_id, run_id, attempt, requested_at)
       SELECT ?, ?, run_id, ?, ? FROM workflows WHERE id = ?
       ON CONFLICT (job_id) DO UPDATE SET run_id = excluded.run_id, attempt = excluded.attempt, requested_at = excluded.requested_at`,
      [job.id, job.workflow_id, job.attempt, now, job.workflow_id],
    );
    await event('job_cancel_requested', { job_id: job.id, name: job.name, attempt: job.attempt });
    return { job_id: job.id, outcome: 'cancel_requested', canceled_dependents: [] };
  }
  if (!CANCELABLE_NOW.includes(job.status)) {
    throw new ConflictError(`job ${job.id} is already ${statusName(job.status)}; only jobs that have not finished can be canceled`);
  }
  await tx.run(`UPDATE jobs SET status = ${S.canceled}, compute_node_id = NULL, completed_at = ? WHERE id = ?`, [now, job.id]);
  await tx.run('DELETE FROM job_cancel_requests WHERE job_id = ?', [job.id]);
  // Only blocked dependents are touched; uninitialized ones count finished blockers when initialized.
  const { canceled } = await cascadeFinished(tx, [job.id], true, now);
  await event('job_canceled', { job_id: job.id, name: job.name, previous_status: statusName(job.status), canceled_dependents: canceled.length });
  return { job_id: job.id, outcome: 'canceled', canceled_dependents: canceled };
}

/** Running jobs of the workflow whose current attempt (in the current run) a user asked to cancel. */
export async function runningCancelRequests(q: Queryable, workflowId: number): Promise<number[]> {
  const rows = await q.all<{ job_id: number }>(
    `SELECT r.job_id FROM job_cancel_requests r
       JOIN jobs j ON j.id = r.job_id JOIN workflows w ON w.id = r.workflow_id
     WHERE r.workflow_id = ? AND j.status = ${S.running} AND j.attempt = r.attempt AND r.run_id = w.run_id ORDER BY r.job_id`,
    [workflowId],
  );
  return rows.map((r) => r.job_id);
}
