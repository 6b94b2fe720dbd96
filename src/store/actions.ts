/**
 * Workflow actions: their triggers and their claims. A trigger fires at most once per run
 * (the run id it fired in is recorded); a fired action is pending until claimed. The claim is
 * one write transaction, so of two claimers exactly one wins; a persistent action may be
 * claimed once by each claimer per run. A new run (reset, reinitialize) clears both.
 */
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { WriteTx } from './db.js';
import { toAction, toWorkflow, type ActionRecord } from './records.js';
import { JobStatus } from '../contract/status.js';
import { FINISHED_STATES, UNFINISHED_STATES } from './transitions.js';

const S = JobStatus;

export const TRIGGER_TYPES = ['on_workflow_start', 'on_workflow_complete', 'on_jobs_ready', 'on_jobs_complete'] as const;

/** States in which a job has been ready in this run (or was carried over completed). */
const REACHED_READY = [S.ready, S.pending, S.running, S.completed, S.failed, S.terminated, S.pending_failed].join(', ');
const FINISHED = FINISHED_STATES.join(', ');
const UNFINISHED = UNFINISHED_STATES.join(', ');

/** SQL that is true when the action's trigger condition holds, with what it binds. */
const CONDITION: Record<string, { sql: string; bind: 'workflow' | 'jobs' }> = {
  // Initialized: every job has left uninitialized.
  on_workflow_start: { sql: `NOT EXISTS (SELECT 1 FROM jobs WHERE workflow_id = ? AND status = ${S.uninitialized} LIMIT 1)`, bind: 'workflow' },
  on_workflow_complete: { sql: `NOT EXISTS (SELECT 1 FROM jobs WHERE workflow_id = ? AND status IN (${UNFINISHED}) LIMIT 1)`, bind: 'workflow' },
  // Every watched job: the first one that does not qualify ends the scan.
  on_jobs_ready: {
    sql: `NOT EXISTS (SELECT 1 FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND status NOT IN (${REACHED_READY}) LIMIT 1)`,
    bind: 'jobs',
  },
  on_jobs_complete: {
    sql: `NOT EXISTS (SELECT 1 FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND status NOT IN (${FINISHED}) LIMIT 1)`,
    bind: 'jobs',
  },
};

/**
 * Fires the triggers whose condition holds now and that have not fired in the current run;
 * returns the newly fired actions. A canceled workflow fires nothing.
 */
export async function fireTriggers(tx: WriteTx, workflowId: number, now: string): Promise<ActionRecord[]> {
  const wfRow = await tx.get('SELECT * FROM workflows WHERE id = ?', [workflowId]);
  if (!wfRow) throw new NotFoundError(`workflow ${workflowId}`);
  const wf = toWorkflow(wfRow);
  if (wf.status === 'canceled') return [];
  const waiting = await tx.all<{ id: number; trigger_type: string; job_ids: string }>(
    'SELECT id, trigger_type, job_ids FROM actions WHERE workflow_id = ? AND (triggered_run_id IS NULL OR triggered_run_id <> ?) ORDER BY id',
    [workflowId, wf.run_id],
  );
  const fired: number[] = [];
  for (const a of waiting) {
    const condition = CONDITION[a.trigger_type];
    if (!condition) continue; // a trigger this version does not know: never fires
    const row = await tx.get<{ ok: number }>(`SELECT (${condition.sql}) AS ok`, [condition.bind === 'workflow' ? workflowId : a.job_ids]);
    if (!row?.ok) continue;
    await tx.run('UPDATE actions SET triggered_run_id = ?, triggered_at = ? WHERE id = ?', [wf.run_id, now, a.id]);
    await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'action_triggered', ?)`, [
      workflowId,
      now,
      JSON.stringify({ action_id: a.id, trigger_type: a.trigger_type, run_id: wf.run_id }),
    ]);
    fired.push(a.id);
  }
  if (fired.length === 0) return [];
  const rows = await tx.all('SELECT * FROM actions WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id', [JSON.stringify(fired)]);
  return rows.map(toAction);
}

/** SQL condition (alias `a`, bound: run id) of a pending action: fired this run and, unless persistent, unclaimed. */
export const PENDING_SQL = 'a.triggered_run_id = ? AND (a.persistent = 1 OR a.executed = 0)';

export interface ActionClaimer {
  /** The claiming compute node (torc's body field), or null. */
  compute_node_id?: number | null;
  /** Who claims, when not a compute node (e.g. `reconciler@host:pid`). */
  claimer?: string | null;
}

export interface ActionClaimOutcome {
  action_id: number;
  success: true;
  claimer: string;
  action: ActionRecord;
}

/** The claim (call inside a write transaction). ConflictError when it is not, or no longer, claimable by this claimer. */
export async function claimActionInTx(tx: WriteTx, workflowId: number, actionId: number, who: ActionClaimer, now: string): Promise<ActionClaimOutcome> {
  const nodeId = who.compute_node_id ?? null;
  if (nodeId === null && (typeof who.claimer !== 'string' || who.claimer.trim() === '')) {
    throw new InputError('give compute_node_id or claimer', 'body');
  }
  const wfRow = await tx.get('SELECT * FROM workflows WHERE id = ?', [workflowId]);
  if (!wfRow) throw new NotFoundError(`workflow ${workflowId}`);
  const wf = toWorkflow(wfRow);
  const row = await tx.get('SELECT * FROM actions WHERE id = ? AND workflow_id = ?', [actionId, workflowId]);
  if (!row) throw new NotFoundError(`action ${actionId} of workflow ${workflowId}`);
  if (nodeId !== null) {
    const node = await tx.get<{ workflow_id: number }>('SELECT workflow_id FROM compute_nodes WHERE id = ?', [nodeId]);
    if (!node || node.workflow_id !== workflowId) throw new NotFoundError(`compute node ${nodeId} of workflow ${workflowId}`);
  }
  const claimer = who.claimer?.trim() || `compute_node:${nodeId}`;
  const action = toAction(row);
  if (wf.status === 'canceled') throw new ConflictError(`workflow ${workflowId} is canceled: its actions are not run`);
  if (action.triggered_run_id !== wf.run_id) {
    throw new ConflictError(`action ${actionId} is not pending: its trigger (${action.trigger_type}) has not fired in run ${wf.run_id}`);
  }
  const taken = await tx.get<{ claimer: string }>(
    action.persistent
      ? 'SELECT claimer FROM action_claims WHERE action_id = ? AND run_id = ? AND claimer = ?'
      : 'SELECT claimer FROM action_claims WHERE action_id = ? AND run_id = ? LIMIT 1',
    action.persistent ? [actionId, wf.run_id, claimer] : [actionId, wf.run_id],
  );
  if (taken) throw new ConflictError(`action ${actionId} was already claimed in run ${wf.run_id} by ${taken.claimer}`);
  await tx.run('INSERT INTO action_claims (action_id, run_id, claimer, compute_node_id, claimed_at) VALUES (?, ?, ?, ?, ?)', [
    actionId,
    wf.run_id,
    claimer,
    nodeId,
    now,
  ]);
  await tx.run('UPDATE actions SET executed = 1, executed_at = ?, executed_by = ?, claimed_by_compute_node_id = ? WHERE id = ?', [
    now,
    claimer,
    nodeId,
    actionId,
  ]);
  await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'action_claimed', ?)`, [
    workflowId,
    now,
    JSON.stringify({ action_id: actionId, run_id: wf.run_id, claimer }),
  ]);
  return {
    action_id: actionId,
    success: true,
    claimer,
    action: { ...action, executed: true, executed_at: now, executed_by: claimer, claimed_by_compute_node_id: nodeId },
  };
}

/** A new run: no trigger has fired and nothing is claimed (call inside the run's write transaction). */
export async function resetActions(tx: WriteTx, workflowId: number): Promise<void> {
  await tx.run(
    `UPDATE actions SET executed = 0, executed_at = NULL, executed_by = NULL, claimed_by_compute_node_id = NULL,
       triggered_run_id = NULL, triggered_at = NULL
     WHERE workflow_id = ?`,
    [workflowId],
  );
}

/** An action as torc's create_workflow_action takes it (its settings under action_config). */
export interface ActionInput {
  trigger_type: string;
  action_type: string;
  commands: string[];
  scheduler_id: number | null;
  scheduler_type: string | null;
  num_allocations: number;
  start_one_worker_per_node: boolean;
  max_parallel_jobs: number | null;
  job_ids: number[];
  persistent: boolean;
}

/** Adds an action to a workflow; its jobs and scheduler must be the workflow's. */
export async function insertAction(tx: WriteTx, workflowId: number, a: ActionInput): Promise<ActionRecord> {
  if (!(await tx.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
  if (a.job_ids.length > 0) {
    const found = await tx.all<{ id: number }>('SELECT id FROM jobs WHERE workflow_id = ? AND id IN (SELECT value FROM json_each(?))', [workflowId, JSON.stringify(a.job_ids)]);
    const ok = new Set(found.map((r) => r.id));
    const bad = a.job_ids.findIndex((id) => !ok.has(id));
    if (bad >= 0) throw new InputError(`no job ${a.job_ids[bad]} in workflow ${workflowId}`, `job_ids[${bad}]`);
  }
  if (a.scheduler_id !== null && !(await tx.get('SELECT 1 FROM slurm_schedulers WHERE id = ? AND workflow_id = ?', [a.scheduler_id, workflowId]))) {
    throw new InputError(`no slurm scheduler ${a.scheduler_id} in workflow ${workflowId}`, 'action_config.scheduler_id');
  }
  const res = await tx.run(
    `INSERT INTO actions (workflow_id, trigger_type, action_type, job_ids, commands, scheduler_id, scheduler_type,
       num_allocations, start_one_worker_per_node, max_parallel_jobs, persistent)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      workflowId,
      a.trigger_type,
      a.action_type,
      JSON.stringify(a.job_ids),
      JSON.stringify(a.commands),
      a.scheduler_id,
      a.scheduler_type,
      a.num_allocations,
      a.start_one_worker_per_node ? 1 : 0,
      a.max_parallel_jobs,
      a.persistent ? 1 : 0,
    ],
  );
  return toAction((await tx.get('SELECT * FROM actions WHERE id = ?', [res.lastID]))!);
}
