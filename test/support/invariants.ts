/**
 * The database invariants every scenario must leave intact, checked with plain SQL on the
 * SQLite file (through a Store's reader, or a read-only connection after a CLI process ended):
 * - SQLite itself: PRAGMA integrity_check is ok, foreign_key_check finds nothing;
 * - jobs: a known status code; running jobs sit on an active compute node of their workflow
 *   (pending ones too, unless the scenario lets torc-style clients claim without a node);
 * - dependencies: a blocked job's counter equals its unfinished blockers, and it has at least
 *   one; a ready / pending / running job has no unfinished blocker;
 * - results: only for finished states, in the job's workflow, at most one per (job, run,
 *   attempt); a job that ended completed / failed / terminated has the result of that attempt,
 *   and the result of the current run and attempt agrees with the job's status;
 * - counts: status counts add up to the jobs.
 * Returns the violations (empty when all hold) so a test can print them all at once.
 */
import sqlite3 from 'sqlite3';
import { JobStatus } from '../../src/contract/status.js';

const S = JobStatus;
/** A job in one of these no longer blocks its dependents (store/transitions.ts). */
const FINISHED = [S.completed, S.failed, S.canceled, S.terminated, S.disabled];
/** Statuses a result row may carry (complete_job and retry). */
const RESULT_STATES = [S.completed, S.failed, S.canceled, S.terminated, S.pending_failed];
/** A job in one of these must have the result of its current attempt. */
const REPORTED = [S.completed, S.failed, S.terminated, S.pending_failed];

const list = (codes: number[]) => codes.join(', ');

/** What the checks need: a Store's `db` (its reader) or openReadOnly()'s connection. */
export interface SqlReader {
  all<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

export interface InvariantOptions {
  /**
   * Pending jobs may have no compute node: torc's own clients claim without registering one.
   * Off by default: every runner of ours claims with its node.
   */
  allowUnownedPending?: boolean;
  /**
   * Results may be written as plain records (torc's create_result / update_result, which torc
   * serves as such): two for one attempt, or one that disagrees with its job, are then possible.
   * Off by default: every runner of ours reports through complete_job / retry_job.
   */
  allowRawResults?: boolean;
  /** How many violations of each kind to list (default 5). */
  examples?: number;
}

export interface InvariantReport {
  violations: string[];
  /** What was checked, for the test's log line. */
  checked: { workflows: number; jobs: number; results: number; dependencies: number; compute_nodes: number };
}

/** Runs every check; `db` is a Store's `db` or a connection from openReadOnly(). */
export async function checkInvariants(db: SqlReader, options: InvariantOptions = {}): Promise<InvariantReport> {
  const max = options.examples ?? 5;
  const violations: string[] = [];
  const expectNone = async (what: string, sql: string) => {
    const rows = await db.all(sql);
    if (rows.length > 0) violations.push(`${what}: ${rows.slice(0, max).map((r) => JSON.stringify(r)).join('; ')}${rows.length > max ? ` (+${rows.length - max} more)` : ''}`);
  };

  const integrity = await db.all<{ integrity_check: string }>('PRAGMA integrity_check');
  if (integrity.length !== 1 || integrity[0]!.integrity_check !== 'ok') violations.push(`integrity_check: ${JSON.stringify(integrity.slice(0, max))}`);
  await expectNone('foreign_key_check', 'PRAGMA foreign_key_check');

  await expectNone('unknown job status', `SELECT id, status FROM jobs WHERE status NOT BETWEEN ${S.uninitialized} AND ${S.pending_failed}`);
  const owned = options.allowUnownedPending ? [S.running] : [S.pending, S.running];
  await expectNone(
    'pending/running job without an active compute node of its workflow',
    `SELECT j.id, j.status, j.compute_node_id, c.active, c.workflow_id AS node_workflow FROM jobs j
     LEFT JOIN compute_nodes c ON c.id = j.compute_node_id
     WHERE j.status IN (${list(owned)})
       AND (c.id IS NULL OR c.active = 0 OR c.workflow_id != j.workflow_id)`,
  );

  const unfinishedBlockers = `(SELECT COUNT(*) FROM job_dependencies d JOIN jobs b ON b.id = d.blocked_by_job_id
     WHERE d.job_id = j.id AND b.status NOT IN (${list(FINISHED)}))`;
  await expectNone(
    "blocked job whose counter differs from its unfinished blockers, or that has none",
    `SELECT j.id, j.unfinished_blockers AS counter, ${unfinishedBlockers} AS actual FROM jobs j
     WHERE j.status = ${S.blocked} AND (j.unfinished_blockers != ${unfinishedBlockers} OR ${unfinishedBlockers} = 0)`,
  );
  await expectNone(
    'ready/pending/running job with an unfinished blocker',
    `SELECT j.id, j.status, ${unfinishedBlockers} AS unfinished FROM jobs j
     WHERE j.status IN (${S.ready}, ${S.pending}, ${S.running}) AND ${unfinishedBlockers} > 0`,
  );
  await expectNone(
    'dependency across workflows',
    `SELECT d.job_id, d.blocked_by_job_id FROM job_dependencies d JOIN jobs a ON a.id = d.job_id JOIN jobs b ON b.id = d.blocked_by_job_id
     WHERE a.workflow_id != b.workflow_id`,
  );

  await expectNone('result with a non-final status', `SELECT id, job_id, status FROM results WHERE status NOT IN (${list(RESULT_STATES)})`);
  await expectNone(
    'result filed under another workflow than its job',
    `SELECT r.id, r.job_id, r.workflow_id, j.workflow_id AS job_workflow FROM results r JOIN jobs j ON j.id = r.job_id WHERE r.workflow_id != j.workflow_id`,
  );
  if (!options.allowRawResults) await expectNone(
    'more than one result for one attempt of a job',
    `SELECT job_id, run_id, attempt, COUNT(*) AS n FROM results GROUP BY job_id, run_id, attempt HAVING n > 1`,
  );
  await expectNone(
    'job reported finished without the result of its attempt',
    `SELECT j.id, j.status, j.attempt FROM jobs j
     WHERE j.status IN (${list(REPORTED)})
       AND NOT EXISTS (SELECT 1 FROM results r WHERE r.job_id = j.id AND r.attempt = j.attempt AND r.status = j.status)`,
  );
  if (!options.allowRawResults) await expectNone(
    "result of the current run and attempt that disagrees with the job's status",
    `SELECT r.id, r.job_id, r.status AS result_status, j.status AS job_status FROM results r
     JOIN jobs j ON j.id = r.job_id JOIN workflows w ON w.id = j.workflow_id
     WHERE r.run_id = w.run_id AND r.attempt = j.attempt AND r.status != j.status`,
  );
  await expectNone(
    'compute node whose lease ends before its last heartbeat',
    'SELECT id, last_heartbeat_ms, lease_expires_ms FROM compute_nodes WHERE lease_expires_ms < last_heartbeat_ms',
  );

  const [counts] = await db.all<{ workflows: number; jobs: number; results: number; dependencies: number; compute_nodes: number }>(
    `SELECT (SELECT COUNT(*) FROM workflows) AS workflows, (SELECT COUNT(*) FROM jobs) AS jobs, (SELECT COUNT(*) FROM results) AS results,
            (SELECT COUNT(*) FROM job_dependencies) AS dependencies, (SELECT COUNT(*) FROM compute_nodes) AS compute_nodes`,
  );
  const byStatus = await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM jobs GROUP BY workflow_id, status');
  const summed = byStatus.reduce((a, r) => a + r.n, 0);
  if (summed !== counts!.jobs) violations.push(`status counts add up to ${summed}, not ${counts!.jobs} jobs`);
  return { violations, checked: counts! };
}

/** A read-only connection to a database file that no process of this test holds open. */
export async function openReadOnly(path: string): Promise<SqlReader & { close(): Promise<void> }> {
  const handle = await new Promise<sqlite3.Database>((resolve, reject) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (err) => (err ? reject(err) : resolve(db)));
  });
  return {
    all: <T>(sql: string) => new Promise<T[]>((resolve, reject) => handle.all(sql, (err, rows) => (err ? reject(err) : resolve(rows as T[])))),
    close: () => new Promise<void>((resolve, reject) => handle.close((err) => (err ? reject(err) : resolve()))),
  };
}

/** Opens the file read-only, checks, closes. */
export async function checkDatabaseFile(path: string, options?: InvariantOptions): Promise<InvariantReport> {
  const db = await openReadOnly(path);
  try {
    return await checkInvariants(db, options);
  } finally {
    await db.close();
  }
}

/**
 * Every row of every table, hashed: equal fingerprints mean nothing was written. For small
 * test databases (reads everything).
 */
export async function databaseFingerprint(db: SqlReader): Promise<{ hash: string; rows: Record<string, number> }> {
  const { createHash } = await import('node:crypto');
  const tables = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  const hash = createHash('sha256');
  const rows: Record<string, number> = {};
  for (const { name } of tables) {
    const lines = (await db.all(`SELECT * FROM "${name.replaceAll('"', '""')}"`)).map((r) => JSON.stringify(r)).sort();
    rows[name] = lines.length;
    hash.update(`${name}\n${lines.join('\n')}\n`);
  }
  return { hash: hash.digest('hex'), rows };
}
