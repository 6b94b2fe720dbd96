/**
 * Re-applying a changed spec (`torc reconcile` on an edited file, a changed Workflow CR).
 * The new plan is stored as a fresh workflow and the old one is deleted, in ONE transaction.
 * A job keeps its completed state (and its results) when it is unchanged — same name and
 * same hash — and every job it waits for was kept too; everything else starts over, so a
 * changed job re-runs together with everything downstream of it.
 */
import type { ApplyOutcome } from '../contract/client.js';
import type { Plan } from '../spec/plan.js';
import type { StreamedPlan } from '../spec/stream-plan.js';
import type { WriteTx } from './db.js';
import { insertPlan, checkPlan } from './create.js';
import type { WorkflowMeta } from './records.js';
import { JobStatus } from '../contract/status.js';

export interface ReplaceOutcome {
  workflow_id: number;
  /** Jobs carried over as completed. */
  kept: number;
  /** Jobs that will run (new, changed, or downstream of a change). */
  rerun: number;
}

/** Call inside a write transaction. */
export async function replaceWorkflow(tx: WriteTx, oldId: number, plan: Plan, meta: WorkflowMeta, now: string): Promise<ReplaceOutcome> {
  checkPlan(plan);
  const newId = await insertPlan(tx, plan, meta, now);
  const old = new Map<string, { hash: string }>();
  for (const row of await tx.all<{ name: string; hash: string }>(
    `SELECT name, hash FROM jobs WHERE workflow_id = ? AND status = ${JobStatus.completed}`,
    [oldId],
  )) {
    old.set(row.name, { hash: row.hash });
  }
  const keep = carriedJobs(plan, (i) => old.get(plan.jobs[i]!.name)?.hash === plan.jobs[i]!.hash);
  const first = await tx.get<{ id: number }>('SELECT MIN(id) AS id FROM jobs WHERE workflow_id = ?', [newId]);
  const keptIds: number[] = [];
  keep.forEach((k, i) => {
    if (k) keptIds.push(first!.id + i);
  });
  if (keptIds.length > 0) {
    const ids = JSON.stringify(keptIds);
    await tx.run(
      `UPDATE jobs SET status = ${JobStatus.completed},
         (return_code, attempt, started_at, completed_at, input_hash) = (
           SELECT o.return_code, o.attempt, o.started_at, o.completed_at, o.input_hash FROM jobs o
           WHERE o.workflow_id = ? AND o.name = jobs.name)
       WHERE id IN (SELECT value FROM json_each(?))`,
      [oldId, ids],
    );
    await tx.run(
      `INSERT INTO results (workflow_id, job_id, run_id, attempt, compute_node_id, return_code, exec_time_minutes, completion_time, status)
       SELECT ?, n.id, r.run_id, r.attempt, NULL, r.return_code, r.exec_time_minutes, r.completion_time, r.status
       FROM results r JOIN jobs o ON o.id = r.job_id JOIN jobs n ON n.workflow_id = ? AND n.name = o.name
       WHERE r.workflow_id = ? AND n.id IN (SELECT value FROM json_each(?))
       ORDER BY r.id`,
      [newId, newId, oldId, ids],
    );
  }
  // Production times of files let reinitialize notice inputs changed since.
  await tx.run(
    `UPDATE files SET st_mtime = (SELECT o.st_mtime FROM files o WHERE o.workflow_id = ? AND o.name = files.name AND o.path = files.path)
     WHERE workflow_id = ?`,
    [oldId, newId],
  );
  await tx.run('DELETE FROM workflows WHERE id = ?', [oldId]);
  await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'workflow_replaced', ?)`, [
    newId,
    now,
    JSON.stringify({ previous_workflow_id: oldId, kept: keptIds.length, rerun: plan.jobs.length - keptIds.length }),
  ]);
  return { workflow_id: newId, kept: keptIds.length, rerun: plan.jobs.length - keptIds.length };
}

/**
 * Which jobs can be kept: `unchanged(i)` and every blocker kept, transitively. Iterative DFS
 * over the plan's CSR dependencies (no recursion: a 1M-job chain must not overflow the stack).
 */
export function carriedJobs(plan: Plan, unchanged: (i: number) => boolean): boolean[] {
  const n = plan.jobs.length;
  const UNKNOWN = 0, VISITING = 1, KEPT = 2, RERUN = 3;
  const state = new Uint8Array(n);
  const stack: number[] = [];
  for (let root = 0; root < n; root++) {
    if (state[root] !== UNKNOWN) continue;
    stack.push(root);
    while (stack.length > 0) {
      const i = stack[stack.length - 1]!;
      if (state[i] === UNKNOWN) {
        if (!unchanged(i)) {
          state[i] = RERUN;
          stack.pop();
          continue;
        }
        state[i] = VISITING;
        for (let k = plan.dep_offsets[i]!; k < plan.dep_offsets[i + 1]!; k++) {
          if (state[plan.dep_targets[k]!] === UNKNOWN) stack.push(plan.dep_targets[k]!);
        }
        continue;
      }
      stack.pop();
      if (state[i] !== VISITING) continue;
      let kept = true;
      for (let k = plan.dep_offsets[i]!; k < plan.dep_offsets[i + 1]! && kept; k++) kept = state[plan.dep_targets[k]!] === KEPT;
      state[i] = kept ? KEPT : RERUN;
    }
  }
  return Array.from(state, (s) => s === KEPT);
}


/**
 * Makes the store hold `plan` (level-triggered, idempotent): the workflow declared by the same
 * Kubernetes resource (meta.k8s_uid) — or, for files, the newest workflow of the same name not
 * owned by Kubernetes — is kept when its spec hash is unchanged, replaced (keeping unchanged
 * completed jobs) when it changed, and created when there is none. One transaction.
 */
export async function applyPlanInTx(tx: WriteTx, plan: Plan | StreamedPlan, meta: WorkflowMeta, now: string): Promise<ApplyOutcome> {
  const existing = meta.k8s_uid
    ? await tx.get<{ id: number; spec_hash: string | null }>('SELECT id, spec_hash FROM workflows WHERE k8s_uid = ? ORDER BY id DESC LIMIT 1', [
        meta.k8s_uid,
      ])
    : await tx.get<{ id: number; spec_hash: string | null }>(
        'SELECT id, spec_hash FROM workflows WHERE name = ? AND k8s_uid IS NULL ORDER BY id DESC LIMIT 1',
        [plan.name],
      );
  if (!existing) {
    // A streamed plan was checked by its planner (cycles; its indices are its own).
    if (!('job_count' in plan)) checkPlan(plan);
    const id = await insertPlan(tx, plan, meta, now);
    return { workflow_id: id, action: 'created', kept: 0, rerun: 'job_count' in plan ? plan.job_count : plan.jobs.length };
  }
  if (existing.spec_hash === streamedSpecHash(plan)) {
    return { workflow_id: existing.id, action: 'unchanged', kept: 0, rerun: 0 };
  }
  const out = await replaceWorkflow(tx, existing.id, 'job_count' in plan ? plan.materialize() : plan, meta, now);
  return { ...out, action: 'replaced' };
}

/** The plan's spec hash; a streamed plan's costs one pass over its jobs. */
function streamedSpecHash(plan: Plan | StreamedPlan): string {
  if (!('job_count' in plan)) return plan.spec_hash;
  const h = plan.hasher();
  for (const job of plan.eachJob()) h.job(job);
  return h.finish(plan.dep_offsets, plan.dep_targets);
}
