/**
 * Reinitialize (torc's process_changed_job_inputs + initialize): find the completed jobs whose
 * inputs changed since they ran, send them and everything downstream back to uninitialized in
 * a new run, and initialize. What changed:
 * - a file: the caller observed a modification time other than the one recorded when the job
 *   completed (the runner reports them), or the file is missing (an input, or an output of the
 *   job), or it appeared where none was recorded;
 * - the job's command, invocation script, env or input user data: its input hash (taken at
 *   completion) differs from the one computed now.
 * The store never reads the file system itself: the caller (CLI, reconciler) stats the files
 * where the jobs ran and passes what it saw.
 */
import { createHash } from 'node:crypto';
import { ConflictError, InputError, NotFoundError, type InputIssue } from '../errors.js';
import type { FileObservation } from '../contract/client.js';
import { resetActions } from './actions.js';
import type { Queryable, WriteTx } from './db.js';
import { toWorkflow } from './records.js';
import { JobStatus } from '../contract/status.js';
import { initializeJobs, type InitializeOutcome } from './transitions.js';

const S = JobStatus;

/** Files whose recorded and observed times differ by less than this are unchanged (file systems round). */
const MTIME_TOLERANCE_SECONDS = 0.01;

export interface ReinitOptions {
  /** Report what would be reset, change nothing. */
  dryRun?: boolean;
  /** What the caller saw on disk; files not listed are not checked. */
  files?: FileObservation[];
}

export interface ReinitJob {
  id: number;
  name: string;
  /** Why: changed inputs of its own, or `downstream of NAME`. */
  reasons: string[];
}

export interface ReinitOutcome {
  workflow_id: number;
  dry_run: boolean;
  /** The run the reset jobs run in (unchanged when nothing was reset or on a dry run). */
  run_id: number;
  jobs: ReinitJob[];
  /** torc's field: names of the jobs reset. */
  reinitialized_jobs: string[];
  initialized: InitializeOutcome | null;
}

interface InputJob {
  id: number;
  command: string;
  invocation_script: string | null;
  env: string | null;
}

/** Hash of what a job reads besides files; `userData` as [name, stored JSON text] in id order. */
export function inputHash(job: InputJob, userData: [string, string | null][]): string {
  const env = job.env === null ? null : Object.entries(JSON.parse(job.env) as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([job.command, job.invocation_script, env, userData])).digest('hex').slice(0, 32);
}

function checkObservations(files: FileObservation[] | undefined): FileObservation[] {
  if (files === undefined) return [];
  if (!Array.isArray(files)) throw new InputError('expected a list of {id, st_mtime}', 'files');
  const issues: InputIssue[] = [];
  files.forEach((f, i) => {
    if (!Number.isSafeInteger(f?.id) || f.id < 1) issues.push({ path: `files[${i}].id`, message: 'expected a file id' });
    if (f?.st_mtime !== null && !(typeof f?.st_mtime === 'number' && Number.isFinite(f.st_mtime) && f.st_mtime >= 0)) {
      issues.push({ path: `files[${i}].st_mtime`, message: 'expected seconds since the epoch, or null for a missing file' });
    }
  });
  if (issues.length > 0) throw new InputError(issues.slice(0, 20));
  return files;
}

function changed(recorded: number | null, observed: number | null): string | null {
  if (recorded === null && observed === null) return null;
  if (observed === null) return 'missing';
  if (recorded === null) return 'appeared';
  return Math.abs(recorded - observed) > MTIME_TOLERANCE_SECONDS ? 'changed' : null;
}

/** Call inside a write transaction. */
export async function reinitializeInTx(tx: WriteTx, workflowId: number, options: ReinitOptions, now: string): Promise<ReinitOutcome> {
  const observations = checkObservations(options.files);
  const wfRow = await tx.get('SELECT * FROM workflows WHERE id = ?', [workflowId]);
  if (!wfRow) throw new NotFoundError(`workflow ${workflowId}`);
  const wf = toWorkflow(wfRow);
  const dryRun = options.dryRun ?? false;

  const reasons = new Map<number, string[]>();
  const note = (id: number, why: string) => {
    const list = reasons.get(id) ?? [];
    if (!list.includes(why)) list.push(why);
    reasons.set(id, list);
  };

  // Files.
  const files = new Map(
    (await tx.all<{ id: number; name: string; st_mtime: number | null }>('SELECT id, name, st_mtime FROM files WHERE workflow_id = ?', [workflowId])).map(
      (f) => [f.id, f],
    ),
  );
  const issues: InputIssue[] = [];
  observations.forEach((o, i) => {
    if (!files.has(o.id)) issues.push({ path: `files[${i}].id`, message: `file ${o.id} is not a file of workflow ${workflowId}` });
  });
  if (issues.length > 0) throw new InputError(issues.slice(0, 20));
  for (const o of observations) {
    const f = files.get(o.id)!;
    const how = changed(f.st_mtime, o.st_mtime);
    if (how === null) continue;
    const readers = await tx.all<{ id: number }>(
      `SELECT j.id FROM job_input_files jf JOIN jobs j ON j.id = jf.job_id WHERE jf.file_id = ? AND j.status = ${S.completed}`,
      [o.id],
    );
    for (const r of readers) note(r.id, `input file ${f.name} ${how}`);
    if (how === 'missing') {
      const writers = await tx.all<{ id: number }>(
        `SELECT j.id FROM job_output_files jf JOIN jobs j ON j.id = jf.job_id WHERE jf.file_id = ? AND j.status = ${S.completed}`,
        [o.id],
      );
      for (const w of writers) note(w.id, `output file ${f.name} missing`);
    }
  }

  // Command, invocation script, env and input user data.
  const completed = await tx.all<InputJob & { input_hash: string }>(
    `SELECT id, command, invocation_script, env, input_hash FROM jobs WHERE workflow_id = ? AND status = ${S.completed} AND input_hash IS NOT NULL`,
    [workflowId],
  );
  if (completed.length > 0) {
    const userData = new Map<number, [string, string | null][]>();
    for (const row of await tx.all<{ job_id: number; name: string; data: string | null }>(
      `SELECT ju.job_id, u.name, u.data FROM job_input_user_data ju JOIN user_data u ON u.id = ju.user_data_id
       WHERE u.workflow_id = ? ORDER BY ju.job_id, u.id`,
      [workflowId],
    )) {
      const list = userData.get(row.job_id) ?? [];
      list.push([row.name, row.data]);
      userData.set(row.job_id, list);
    }
    for (const job of completed) {
      if (inputHash(job, userData.get(job.id) ?? []) !== job.input_hash) note(job.id, 'command or input user data changed');
    }
  }

  // Everything downstream of a changed job goes too.
  const direct = [...reasons.keys()];
  const affected =
    direct.length === 0
      ? []
      : await tx.all<{ id: number; name: string; status: number }>(
          `WITH RECURSIVE affected(id) AS (
             SELECT value FROM json_each(?)
             UNION
             SELECT d.job_id FROM affected JOIN job_dependencies d ON d.blocked_by_job_id = affected.id
           )
           SELECT j.id, j.name, j.status FROM jobs j JOIN affected a ON a.id = j.id ORDER BY j.id`,
          [JSON.stringify(direct)],
        );
  const names = new Map(affected.map((j) => [j.id, j.name]));
  const jobs: ReinitJob[] = [];
  for (const j of affected) {
    if (reasons.has(j.id)) {
      jobs.push({ id: j.id, name: j.name, reasons: reasons.get(j.id)! });
    } else if (j.status !== S.uninitialized && j.status !== S.blocked && j.status !== S.ready) {
      const upstream = await tx.all<{ id: number }>('SELECT blocked_by_job_id AS id FROM job_dependencies WHERE job_id = ? ORDER BY blocked_by_job_id', [j.id]);
      const via = upstream.map((u) => names.get(u.id)).filter((n): n is string => n !== undefined);
      jobs.push({ id: j.id, name: j.name, reasons: via.map((n) => `downstream of ${n}`) });
    }
  }
  const outcome: ReinitOutcome = {
    workflow_id: workflowId,
    dry_run: dryRun,
    run_id: wf.run_id,
    jobs,
    reinitialized_jobs: jobs.map((j) => j.name),
    initialized: null,
  };
  if (dryRun) return outcome;

  if (affected.length === 0) {
    for (const o of observations) await tx.run('UPDATE files SET st_mtime = ? WHERE id = ?', [o.st_mtime, o.id]);
    return outcome;
  }
  // A new run makes the running jobs' reports stale: they would be lost. Refuse (nothing changed).
  const busy = await tx.get<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE workflow_id = ? AND status IN (${S.pending}, ${S.running})`, [workflowId]);
  if (busy!.n > 0) {
    throw new ConflictError(`workflow ${workflowId} has ${busy!.n} pending or running job(s); wait for them (or cancel) before reinitializing`);
  }
  for (const o of observations) await tx.run('UPDATE files SET st_mtime = ? WHERE id = ?', [o.st_mtime, o.id]);
  await tx.run(
    `UPDATE jobs SET status = ${S.uninitialized}, unfinished_blockers = 0, return_code = NULL, compute_node_id = NULL,
       claimed_at = NULL, started_at = NULL, completed_at = NULL, attempt = 1, input_hash = NULL
     WHERE id IN (SELECT value FROM json_each(?))`,
    [JSON.stringify(affected.map((j) => j.id))],
  );
  await tx.run(`UPDATE workflows SET run_id = run_id + 1, status = 'active' WHERE id = ?`, [workflowId]);
  await resetActions(tx, workflowId);
  outcome.run_id = wf.run_id + 1;
  outcome.initialized = await initializeJobs(tx, workflowId, now);
  await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'workflow_reinitialized', ?)`, [
    workflowId,
    now,
    JSON.stringify({ run_id: outcome.run_id, jobs: jobs.slice(0, 1000) }),
  ]);
  return outcome;
}
