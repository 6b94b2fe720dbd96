/**
 * The job state machine's multi-row moves: initialize, the unblock/cancel cascade after jobs
 * finish, cancel and reset. Every function runs inside the caller's write transaction and is
 * set-based SQL, so its cost follows the jobs it touches.
 */
import { JobStatus } from '../contract/status.js';
import type { WriteTx } from './db.js';

const S = JobStatus;

/** States after which a job no longer blocks its dependents. pending_failed still may be retried, so it blocks. */
export const FINISHED_STATES = [S.completed, S.failed, S.canceled, S.terminated, S.disabled] as const;
/** Finished without success: dependents with cancel_on_blocking_job_failure are canceled. */
export const UNSUCCESSFUL_STATES = [S.failed, S.canceled, S.terminated] as const;
/** States a job waits or runs in; a workflow with none of them is complete. */
export const UNFINISHED_STATES = [S.uninitialized, S.blocked, S.ready, S.pending, S.running] as const;

const list = (codes: readonly number[]) => codes.join(', ');
const FINISHED = list(FINISHED_STATES);
const UNSUCCESSFUL = list(UNSUCCESSFUL_STATES);

/** Temporary per-connection table of job ids for the cascade. */
export const TEMP_SCHEMA = 'CREATE TEMP TABLE IF NOT EXISTS cascade_ids (id INTEGER PRIMARY KEY)';

export interface CascadeOutcome {
  /** Dependents canceled because a blocker did not succeed (transitively). */
  canceled: number[];
  /** Dependents whose last blocker finished: blocked → ready. */
  newly_ready: number;
  /**
   * Successful finishes only: how many of the newly ready dependents each finished job made
   * ready, as if the finishes had come one by one in the order given (a dependent of several
   * counts for the last of them).
   */
  ready_by_blocker?: Map<number, number>;
}

/**
 * After `finishedIds` entered a finished state: cancel (transitively) the blocked dependents
 * that set cancel_on_blocking_job_failure when `unsuccessful`, then subtract the finished
 * blockers from the remaining dependents' counters and make those at zero ready.
 */
export async function cascadeFinished(tx: WriteTx, finishedIds: number[], unsuccessful: boolean, now: string): Promise<CascadeOutcome> {
  if (finishedIds.length === 0) return { canceled: [], newly_ready: 0 };
  if (!unsuccessful) return { canceled: [], ...(await unblockDependents(tx, finishedIds)) };
  await tx.run('DELETE FROM temp.cascade_ids');
  await tx.run('INSERT OR IGNORE INTO temp.cascade_ids (id) SELECT value FROM json_each(?)', [JSON.stringify(finishedIds)]);
  let canceled: number[] = [];
  if (unsuccessful) {
    const rows = await tx.all<{ id: number }>(
      `WITH RECURSIVE doomed(id) AS (
         SELECT d.job_id FROM job_dependencies d JOIN jobs j ON j.id = d.job_id
         WHERE d.blocked_by_job_id IN (SELECT id FROM temp.cascade_ids)
           AND j.status = ${S.blocked} AND j.cancel_on_blocking_job_failure = 1
         UNION
         SELECT d.job_id FROM doomed JOIN job_dependencies d ON d.blocked_by_job_id = doomed.id JOIN jobs j ON j.id = d.job_id
         WHERE j.status = ${S.blocked} AND j.cancel_on_blocking_job_failure = 1
       )
       SELECT id FROM doomed ORDER BY id`,
    );
    canceled = rows.map((r) => r.id);
    if (canceled.length > 0) {
      const ids = JSON.stringify(canceled);
      await tx.run(`UPDATE jobs SET status = ${S.canceled}, completed_at = ? WHERE id IN (SELECT value FROM json_each(?))`, [now, ids]);
      await tx.run('INSERT OR IGNORE INTO temp.cascade_ids (id) SELECT value FROM json_each(?)', [ids]);
    }
  }
  // Each blocked dependent loses one unfinished blocker per finished blocker it has.
  await tx.run(
    `UPDATE jobs SET unfinished_blockers = unfinished_blockers - (
       SELECT COUNT(*) FROM job_dependencies d
       WHERE d.job_id = jobs.id AND d.blocked_by_job_id IN (SELECT id FROM temp.cascade_ids))
     WHERE status = ${S.blocked}
       AND id IN (SELECT d.job_id FROM job_dependencies d WHERE d.blocked_by_job_id IN (SELECT id FROM temp.cascade_ids))`,
  );
  const ready = await tx.run(
    `UPDATE jobs SET status = ${S.ready}
     WHERE status = ${S.blocked} AND unfinished_blockers <= 0
       AND id IN (SELECT d.job_id FROM job_dependencies d WHERE d.blocked_by_job_id IN (SELECT id FROM temp.cascade_ids))`,
  );
  await tx.run('DELETE FROM temp.cascade_ids');
  return { canceled, newly_ready: ready.changes };
}

/**
 * The successful case of the cascade in ONE statement (a completion is the hottest write):
 * every blocked dependent loses one unfinished blocker per finished blocker it has, and those
 * at zero become ready. SET expressions see the old row, so both use the same count. Each
 * newly ready dependent also returns which of the finished jobs it waited for, to say which
 * one made it ready.
 */
async function unblockDependents(tx: WriteTx, finishedIds: number[]): Promise<{ newly_ready: number; ready_by_blocker: Map<number, number> }> {
  const finishedOf = (id: string) => `(SELECT ${id} FROM job_dependencies d WHERE d.job_id = jobs.id AND d.blocked_by_job_id IN (SELECT value FROM json_each(?1)))`;
  const lost = finishedOf('COUNT(*)');
  const rows = await tx.all<{ status: number; blockers: string | null }>(
    `UPDATE jobs SET unfinished_blockers = unfinished_blockers - ${lost},
       status = CASE WHEN unfinished_blockers - ${lost} <= 0 THEN ${S.ready} ELSE status END
     WHERE status = ${S.blocked}
       AND id IN (SELECT d.job_id FROM job_dependencies d WHERE d.blocked_by_job_id IN (SELECT value FROM json_each(?1)))
     RETURNING status, CASE WHEN status = ${S.ready} AND json_array_length(?1) > 1 THEN ${finishedOf('json_group_array(d.blocked_by_job_id)')} END AS blockers`,
    [JSON.stringify(finishedIds)],
  );
  const ready = rows.filter((r) => r.status === S.ready);
  const byBlocker = new Map<number, number>();
  if (finishedIds.length === 1) {
    if (ready.length > 0) byBlocker.set(finishedIds[0]!, ready.length);
  } else {
    const order = new Map(finishedIds.map((id, i) => [id, i]));
    for (const r of ready) {
      const last = (JSON.parse(r.blockers!) as number[]).reduce((a, b) => (order.get(b)! > order.get(a)! ? b : a));
      byBlocker.set(last, (byBlocker.get(last) ?? 0) + 1);
    }
  }
  return { newly_ready: ready.length, ready_by_blocker: byBlocker };
}

export interface InitializeOutcome {
  ready: number;
  blocked: number;
  /** Canceled because a blocker had already failed and the job set cancel_on_blocking_job_failure. */
  canceled: number;
}

/** uninitialized → ready (no unfinished blocker) or blocked (counter = unfinished blockers). */
export async function initializeJobs(tx: WriteTx, workflowId: number, now: string): Promise<InitializeOutcome> {
  // One pass over the uninitialized jobs (each row written once: blockers counted and status
  // set together); the new ready jobs are the growth of the ready count, read from the
  // (workflow_id, status) index before and after.
  const countReady = async () =>
    (await tx.get<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE workflow_id = ? AND status = ${S.ready}`, [workflowId]))!.n;
  const readyBefore = await countReady();
  const updated = await tx.run(
    `UPDATE jobs SET (unfinished_blockers, status) = (
       SELECT c.n, CASE WHEN c.n = 0 THEN ${S.ready} ELSE ${S.blocked} END FROM (
         SELECT COUNT(*) AS n FROM job_dependencies d JOIN jobs b ON b.id = d.blocked_by_job_id
         WHERE d.job_id = jobs.id AND b.status NOT IN (${FINISHED})) c)
     WHERE workflow_id = ? AND status = ${S.uninitialized}`,
    [workflowId],
  );
  const ready = { changes: (await countReady()) - readyBefore };
  const blocked = { changes: updated.changes - ready.changes };
  // Jobs (re)initialized behind a blocker that already failed, and that asked to be canceled then.
  const doomed = await tx.all<{ id: number; status: number }>(
    `SELECT id, status FROM jobs j
     WHERE workflow_id = ? AND status IN (${S.ready}, ${S.blocked}) AND cancel_on_blocking_job_failure = 1
       AND EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs b ON b.id = d.blocked_by_job_id
                   WHERE d.job_id = j.id AND b.status IN (${UNSUCCESSFUL}))`,
    [workflowId],
  );
  let canceled = 0;
  let readyCount = ready.changes;
  let blockedCount = blocked.changes;
  if (doomed.length > 0) {
    const ids = doomed.map((d) => d.id);
    await tx.run(`UPDATE jobs SET status = ${S.canceled}, completed_at = ? WHERE id IN (SELECT value FROM json_each(?))`, [
      now,
      JSON.stringify(ids),
    ]);
    for (const d of doomed) d.status === S.ready ? readyCount-- : blockedCount--;
    const more = await cascadeFinished(tx, ids, true, now);
    canceled = ids.length + more.canceled.length;
    blockedCount -= more.canceled.length + more.newly_ready;
    readyCount += more.newly_ready;
  }
  return { ready: readyCount, blocked: blockedCount, canceled };
}

/**
 * Cancels every job that has not started: uninitialized/blocked/ready/pending → canceled.
 * Returns the running jobs, which their runners must terminate.
 */
export async function cancelJobs(tx: WriteTx, workflowId: number, now: string): Promise<{ canceled: number; running: number[] }> {
  const res = await tx.run(
    `UPDATE jobs SET status = ${S.canceled}, completed_at = ?
     WHERE workflow_id = ? AND status IN (${S.uninitialized}, ${S.blocked}, ${S.ready}, ${S.pending})`,
    [now, workflowId],
  );
  const running = await tx.all<{ id: number }>(`SELECT id FROM jobs WHERE workflow_id = ? AND status = ${S.running} ORDER BY id`, [
    workflowId,
  ]);
  return { canceled: res.changes, running: running.map((r) => r.id) };
}

/**
 * Back to uninitialized: every job, or (failedOnly) the jobs that finished without success
 * plus everything downstream of them (their inputs are about to change).
 */
export async function resetJobs(tx: WriteTx, workflowId: number, failedOnly: boolean): Promise<number> {
  const clear = `status = ${S.uninitialized}, unfinished_blockers = 0, return_code = NULL, compute_node_id = NULL,
    claimed_at = NULL, started_at = NULL, completed_at = NULL`;
  if (!failedOnly) {
    const res = await tx.run(`UPDATE jobs SET ${clear}, attempt = 1 WHERE workflow_id = ?`, [workflowId]);
    return res.changes;
  }
  const res = await tx.run(
    `WITH RECURSIVE affected(id) AS (
       SELECT id FROM jobs WHERE workflow_id = ? AND status IN (${UNSUCCESSFUL}, ${S.pending_failed})
       UNION
       SELECT d.job_id FROM affected JOIN job_dependencies d ON d.blocked_by_job_id = affected.id
     )
     UPDATE jobs SET ${clear} WHERE id IN (SELECT id FROM affected)`,
    [workflowId],
  );
  return res.changes;
}
