/**
 * Compute nodes and their leases. A runner registers a node, renews its lease with
 * heartbeats, and deactivates it on a clean exit. A node whose lease ran out is presumed
 * dead: its pending and running jobs go back to ready with attempt + 1 (the job may have
 * half-run, so the next try is a new attempt).
 */
import { ConflictError, InputError, NotFoundError, type InputIssue } from '../errors.js';
import type { ComputeNodeRegistration } from '../contract/client.js';
import type { WriteTx } from './db.js';
import { JobStatus } from '../contract/status.js';

const S = JobStatus;

export function checkRegistration(node: ComputeNodeRegistration): void {
  const issues: InputIssue[] = [];
  const count = (v: unknown, field: string, min = 0) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) issues.push({ path: field, message: `expected a number ≥ ${min}` });
  };
  if (typeof node?.hostname !== 'string' || node.hostname === '') issues.push({ path: 'hostname', message: 'expected a non-empty string' });
  if (!Number.isInteger(node?.pid)) issues.push({ path: 'pid', message: 'expected an integer' });
  count(node?.num_cpus, 'num_cpus');
  count(node?.memory_gb, 'memory_gb');
  count(node?.num_gpus, 'num_gpus');
  count(node?.num_nodes, 'num_nodes', 1);
  count(node?.lease_seconds, 'lease_seconds', 0.001);
  if (node?.scheduler_config_id !== null && node?.scheduler_config_id !== undefined && !Number.isInteger(node.scheduler_config_id)) {
    issues.push({ path: 'scheduler_config_id', message: 'expected an integer or null' });
  }
  if (node?.scheduler_job_id != null && (typeof node.scheduler_job_id !== 'string' || node.scheduler_job_id.length > 64)) {
    issues.push({ path: 'scheduler_job_id', message: 'expected a string of at most 64 characters or null' });
  }
  if (node?.output_dir != null && (typeof node.output_dir !== 'string' || !node.output_dir.startsWith('/') || node.output_dir.length > 4096 || node.output_dir.includes('\0'))) {
    issues.push({ path: 'output_dir', message: 'expected an absolute path of at most 4096 characters or null' });
  }
  if (typeof node?.compute_node_type !== 'string' || node.compute_node_type === '') {
    issues.push({ path: 'compute_node_type', message: 'expected a non-empty string' });
  }
  if (issues.length) throw new InputError(issues);
}

export async function insertComputeNode(tx: WriteTx, workflowId: number, node: ComputeNodeRegistration, nowMs: number): Promise<number> {
  const res = await tx.run(
    `INSERT INTO compute_nodes (workflow_id, hostname, pid, num_cpus, memory_gb, num_gpus, num_nodes, scheduler_config_id,
       compute_node_type, lease_seconds, last_heartbeat_ms, lease_expires_ms, active, created_at, scheduler_job_id, output_dir)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    [
      workflowId,
      node.hostname,
      node.pid,
      node.num_cpus,
      node.memory_gb,
      node.num_gpus,
      node.num_nodes,
      node.scheduler_config_id ?? null,
      node.compute_node_type,
      node.lease_seconds,
      nowMs,
      nowMs + Math.round(node.lease_seconds * 1000),
      new Date(nowMs).toISOString(),
      node.scheduler_job_id ?? null,
      node.output_dir ?? null,
    ],
  );
  return res.lastID;
}

/** Renews the lease. An inactive node must register again: its jobs may already run elsewhere. */
export async function renewLease(tx: WriteTx, nodeId: number, nowMs: number): Promise<void> {
  const node = await tx.get<{ active: number }>('SELECT active FROM compute_nodes WHERE id = ?', [nodeId]);
  if (!node) throw new NotFoundError(`compute node ${nodeId}`);
  if (!node.active) throw new ConflictError(`compute node ${nodeId} is no longer active (its lease expired or it was deactivated); register again`);
  await tx.run(
    'UPDATE compute_nodes SET last_heartbeat_ms = ?, lease_expires_ms = ? + CAST(lease_seconds * 1000 AS INTEGER) WHERE id = ?',
    [nowMs, nowMs, nodeId],
  );
}

/** Marks nodes inactive and sends their pending/running jobs back to ready, attempt + 1. Returns the requeued job count. */
export async function retireNodes(tx: WriteTx, nodeIds: number[], nowIso: string): Promise<number> {
  if (nodeIds.length === 0) return 0;
  const ids = JSON.stringify(nodeIds);
  await tx.run('UPDATE compute_nodes SET active = 0 WHERE id IN (SELECT value FROM json_each(?))', [ids]);
  // In a canceled workflow nothing is handed out again: its orphans end canceled instead.
  await tx.run(
    `UPDATE jobs SET status = ${S.canceled}, compute_node_id = NULL, completed_at = ?
     WHERE compute_node_id IN (SELECT value FROM json_each(?)) AND status IN (${S.pending}, ${S.running})
       AND workflow_id IN (SELECT id FROM workflows WHERE status = 'canceled')`,
    [nowIso, ids],
  );
  const res = await tx.run(
    `UPDATE jobs SET status = ${S.ready}, attempt = attempt + 1, compute_node_id = NULL, claimed_at = NULL, started_at = NULL
     WHERE compute_node_id IN (SELECT value FROM json_each(?)) AND status IN (${S.pending}, ${S.running})`,
    [ids],
  );
  return res.changes;
}

/** Active nodes whose lease ran out before `nowMs`. */
export async function expiredNodes(tx: WriteTx, nowMs: number): Promise<number[]> {
  const rows = await tx.all<{ id: number }>('SELECT id FROM compute_nodes WHERE active = 1 AND lease_expires_ms < ? ORDER BY id', [nowMs]);
  return rows.map((r) => r.id);
}

/**
 * A restarted server heard no heartbeat while it was down, so that time is not held against
 * any runner: every active node gets a full lease from now (never a shorter one). Without it a
 * server down longer than the leases would requeue the jobs of every runner on its first sweep,
 * runners that merely waited for it (issue 24). Returns the nodes renewed.
 */
export async function resumeLeases(tx: WriteTx, nowMs: number): Promise<number> {
  const res = await tx.run(
    `UPDATE compute_nodes SET lease_expires_ms = MAX(lease_expires_ms, ? + CAST(lease_seconds * 1000 AS INTEGER)) WHERE active = 1`,
    [nowMs],
  );
  return res.changes;
}

export interface HeldJobRef {
  job_id: number;
  attempt_id: number;
}

/**
 * What a runner and the server agree the node holds, after an outage. Jobs the server has on the
 * node (pending or running) that the runner does not hold go back to ready at the same attempt
 * (they never ran there: a claim whose answer was lost, or claimed ahead and withdrawn while the
 * server was away), or to canceled in a canceled workflow. Held jobs that are not the node's at
 * that attempt any more are returned as revoked. The node's lease is renewed (it is alive).
 * ConflictError when the node is inactive: its lease ran out and all its jobs were requeued.
 */
export async function syncNodeJobs(tx: WriteTx, nodeId: number, held: HeldJobRef[], nowMs: number): Promise<{ released: number[]; revoked: number[] }> {
  const node = await tx.get<{ active: number; workflow_id: number }>('SELECT active, workflow_id FROM compute_nodes WHERE id = ?', [nodeId]);
  if (!node) throw new NotFoundError(`compute node ${nodeId}`);
  if (!node.active) {
    throw new ConflictError(`compute node ${nodeId} is no longer active (its lease expired or it was deactivated): its jobs were requeued; register again`);
  }
  await renewLease(tx, nodeId, nowMs);
  const mine = await tx.all<{ id: number; status: number; attempt: number }>(
    `SELECT id, status, attempt FROM jobs WHERE compute_node_id = ? AND status IN (${S.pending}, ${S.running})`,
    [nodeId],
  );
  const heldAt = new Map(held.map((h) => [h.job_id, h.attempt_id]));
  const mineAt = new Map(mine.map((j) => [j.id, j.attempt]));
  const released = mine.filter((j) => heldAt.get(j.id) !== j.attempt).map((j) => j.id);
  const revoked = held.filter((h) => mineAt.get(h.job_id) !== h.attempt_id).map((h) => h.job_id);
  if (released.length > 0) {
    const ids = JSON.stringify(released);
    const nowIso = new Date(nowMs).toISOString();
    await tx.run(
      `UPDATE jobs SET status = ${S.canceled}, compute_node_id = NULL, completed_at = ?
       WHERE id IN (SELECT value FROM json_each(?)) AND workflow_id IN (SELECT id FROM workflows WHERE status = 'canceled')`,
      [nowIso, ids],
    );
    await tx.run(
      `UPDATE jobs SET status = ${S.ready}, compute_node_id = NULL, claimed_at = NULL, started_at = NULL
       WHERE id IN (SELECT value FROM json_each(?)) AND status IN (${S.pending}, ${S.running})`,
      [ids],
    );
    await tx.run(`INSERT INTO events (workflow_id, timestamp, category, data) VALUES (?, ?, 'compute_node_synced', ?)`, [
      node.workflow_id,
      nowIso,
      JSON.stringify({ compute_node_id: nodeId, released, revoked }),
    ]);
  }
  return { released, revoked };
}
