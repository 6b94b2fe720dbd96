/**
 * `torc recover` in the store: one transaction that diagnoses the workflow's unsuccessful jobs
 * (the diagnosis their last result carries), asks the allocator's recovery policy what each
 * gets, raises their own requirements (a `job_resources_raised` event each, reason "recover"),
 * and sends them — with everything downstream of them — back to run in a new run. A dry run only
 * answers the plan. Refused while jobs are claimed or running: a new run would make their
 * runners' reports stale.
 */
import { ConflictError } from '../errors.js';
import { planRecovery, type FailedJob, type RecoveryOptions, type RecoveryStep } from '../allocator/recovery.js';
import type { FailureDiagnosis } from '../contract/resources.js';
import { JobStatus } from '../contract/status.js';
import { resetActions } from './actions.js';
import type { WriteTx } from './db.js';
import { toJob, JOB_COLUMNS, type ResourceRequirementsRecord, type WorkflowRecord } from './records.js';
import { offeredCaps, setJobRequirements } from './retry.js';
import { dropOldSampleRuns } from './samples.js';
import { initializeJobs } from './transitions.js';

const S = JobStatus;

export interface RecoverOutcome {
  workflow_id: number;
  /** The run the recovered jobs run in (unchanged on a dry run or when nothing is recovered). */
  run_id: number;
  dry_run: boolean;
  steps: RecoveryStep[];
  /** Jobs sent back to run: the recovered ones and their downstream. */
  reset: number;
}

export async function recoverInTx(tx: WriteTx, wf: WorkflowRecord, options: RecoveryOptions, dryRun: boolean, now: string): Promise<RecoverOutcome> {
  const busy = await tx.get<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE workflow_id = ? AND status IN (${S.pending}, ${S.running})`, [wf.id]);
  if (!dryRun && busy!.n > 0) {
    throw new ConflictError(`workflow ${wf.id} has ${busy!.n} claimed or running job(s): recover it once they have finished`);
  }
  const rows = await tx.all<Record<string, unknown> & { rr_memory: number; rr_runtime: number; diagnosis: FailureDiagnosis | null }>(
    `SELECT ${JOB_COLUMNS.split(',').map((c) => `j.${c.trim()}`).join(', ')}, rr.memory_bytes AS rr_memory, rr.runtime_seconds AS rr_runtime,
       (SELECT r.failure_diagnosis FROM results r WHERE r.job_id = j.id ORDER BY r.id DESC LIMIT 1) AS diagnosis
     FROM jobs j JOIN resource_requirements rr ON rr.id = j.resource_requirements_id
     WHERE j.workflow_id = ? AND j.status IN (${S.failed}, ${S.terminated}, ${S.pending_failed}) ORDER BY j.id`,
    [wf.id],
  );
  const steps: RecoveryStep[] = [];
  for (const row of rows) {
    const job = toJob(row);
    const failed: FailedJob = { job_id: job.id, name: job.name, diagnosis: row.diagnosis, need: { memory_bytes: row.rr_memory, runtime_seconds: row.rr_runtime } };
    steps.push(...planRecovery([failed], options, await offeredCaps(tx, job, wf)));
  }
  const chosen = steps.filter((s) => s.action !== 'skip');
  if (dryRun || chosen.length === 0) return { workflow_id: wf.id, run_id: wf.run_id, dry_run: dryRun, steps, reset: 0 };

  const event = (category: string, data: unknown) =>
    tx.run('INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, ?, ?)', [wf.id, now, category, JSON.stringify(data)]);
  for (const step of chosen) {
    if (step.action !== 'raise') continue;
    const job = toJob(rows.find((r) => r.id === step.job_id)!);
    const current = (await tx.get<ResourceRequirementsRecord>('SELECT * FROM resource_requirements WHERE id = ?', [job.resource_requirements_id]))!;
    await setJobRequirements(tx, job, current, step.to);
    await event('job_resources_raised', {
      job_id: job.id,
      name: job.name,
      from: step.from,
      to: { memory_bytes: step.to.memory_bytes, runtime_seconds: step.to.runtime_seconds },
      capped: step.to.capped,
      changed: true,
      reason: 'recover',
      failure_diagnosis: step.diagnosis,
    });
  }
  const clear = `status = ${S.uninitialized}, unfinished_blockers = 0, return_code = NULL, compute_node_id = NULL, claimed_at = NULL, started_at = NULL, completed_at = NULL`;
  const res = await tx.run(
    `WITH RECURSIVE affected(id) AS (
       SELECT value FROM json_each(?)
       UNION
       SELECT d.job_id FROM affected JOIN job_dependencies d ON d.blocked_by_job_id = affected.id
     )
     UPDATE jobs SET ${clear} WHERE id IN (SELECT id FROM affected)`,
    [JSON.stringify(chosen.map((s) => s.job_id))],
  );
  const runId = wf.run_id + 1;
  await tx.run(`UPDATE workflows SET run_id = ?, status = 'active' WHERE id = ?`, [runId, wf.id]);
  await resetActions(tx, wf.id);
  await dropOldSampleRuns(tx, wf.id, runId);
  await initializeJobs(tx, wf.id, now);
  await event('workflow_recovered', {
    run_id: runId,
    reset: res.changes,
    jobs: chosen.map((s) => ({ job_id: s.job_id, name: s.name, failure_diagnosis: s.diagnosis, action: s.action })),
    skipped: steps.filter((s) => s.action === 'skip').map((s) => ({ job_id: s.job_id, name: s.name, failure_diagnosis: s.diagnosis, reason: s.action === 'skip' ? s.reason : null })),
  });
  return { workflow_id: wf.id, run_id: runId, dry_run: false, steps, reset: res.changes };
}
