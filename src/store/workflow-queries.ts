/**
 * Read-only views of a workflow's graph that torc's API serves: job ids, the dependency and
 * file / user-data relationship tables, the files that must exist before it starts, the user
 * data still missing, and what its ready jobs need in total.
 */
import { JobStatus } from '../contract/status.js';
import { NotFoundError } from '../errors.js';
import type { Queryable } from './db.js';
import type { Page } from './records.js';

type Reader = Pick<Queryable, 'get' | 'all'>;
const S = JobStatus;

async function requireWorkflow(q: Reader, workflowId: number): Promise<void> {
  if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
}

export async function jobIds(q: Reader, workflowId: number): Promise<number[]> {
  await requireWorkflow(q, workflowId);
  return (await q.all<{ id: number }>('SELECT id FROM jobs WHERE workflow_id = ? ORDER BY id', [workflowId])).map((r) => r.id);
}

export interface JobDependencyRow {
  job_id: number;
  job_name: string;
  depends_on_job_id: number;
  depends_on_job_name: string;
  workflow_id: number;
}

export async function jobDependencies(q: Reader, workflowId: number, offset: number, limit: number): Promise<Page<JobDependencyRow>> {
  await requireWorkflow(q, workflowId);
  const from = `FROM job_dependencies d JOIN jobs j ON j.id = d.job_id JOIN jobs b ON b.id = d.blocked_by_job_id WHERE j.workflow_id = ?`;
  const items = await q.all<JobDependencyRow>(
    `SELECT d.job_id, j.name AS job_name, d.blocked_by_job_id AS depends_on_job_id, b.name AS depends_on_job_name, j.workflow_id
     ${from} ORDER BY d.job_id, d.blocked_by_job_id LIMIT ? OFFSET ?`,
    [workflowId, limit, offset],
  );
  const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n ${from}`, [workflowId]);
  return { items, total: total!.n };
}

/** One row per (file or user data, producer, consumer); a side with no job is null. */
export interface RelationshipRow {
  id: number;
  name: string;
  path?: string;
  producer_job_id: number | null;
  producer_job_name: string | null;
  consumer_job_id: number | null;
  consumer_job_name: string | null;
  workflow_id: number;
}

async function relationships(
  q: Reader,
  workflowId: number,
  offset: number,
  limit: number,
  t: { table: string; inputs: string; outputs: string; column: string; path: boolean },
): Promise<Page<RelationshipRow>> {
  await requireWorkflow(q, workflowId);
  // Every (producer, consumer) pair of each record, or the record with one side missing.
  const body = `
    SELECT x.id, x.name${t.path ? ', x.path' : ''}, o.job_id AS producer_job_id, i.job_id AS consumer_job_id, x.workflow_id
    FROM ${t.table} x
    LEFT JOIN ${t.outputs} o ON o.${t.column} = x.id
    LEFT JOIN ${t.inputs} i ON i.${t.column} = x.id
    WHERE x.workflow_id = ? AND (o.job_id IS NOT NULL OR i.job_id IS NOT NULL)`;
  const rows = await q.all<RelationshipRow>(
    `SELECT r.*, pj.name AS producer_job_name, cj.name AS consumer_job_name FROM (${body}) r
     LEFT JOIN jobs pj ON pj.id = r.producer_job_id LEFT JOIN jobs cj ON cj.id = r.consumer_job_id
     ORDER BY r.id, r.producer_job_id, r.consumer_job_id LIMIT ? OFFSET ?`,
    [workflowId, limit, offset],
  );
  const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM (${body})`, [workflowId]);
  return { items: rows, total: total!.n };
}

export const fileRelationships = (q: Reader, workflowId: number, offset: number, limit: number) =>
  relationships(q, workflowId, offset, limit, { table: 'files', inputs: 'job_input_files', outputs: 'job_output_files', column: 'file_id', path: true });

export const userDataRelationships = (q: Reader, workflowId: number, offset: number, limit: number) =>
  relationships(q, workflowId, offset, limit, {
    table: 'user_data',
    inputs: 'job_input_user_data',
    outputs: 'job_output_user_data',
    column: 'user_data_id',
    path: false,
  });

/**
 * Files that must exist before the workflow runs (torc's list_required_existing_files): inputs
 * no job of the workflow writes, and outputs of jobs that already completed.
 */
export async function requiredExistingFiles(q: Reader, workflowId: number): Promise<number[]> {
  await requireWorkflow(q, workflowId);
  const rows = await q.all<{ id: number }>(
    `SELECT DISTINCT i.file_id AS id FROM job_input_files i JOIN jobs j ON j.id = i.job_id
     WHERE j.workflow_id = ?1 AND i.file_id NOT IN (SELECT o.file_id FROM job_output_files o)
     UNION
     SELECT DISTINCT o.file_id FROM job_output_files o JOIN jobs j ON j.id = o.job_id
     WHERE j.workflow_id = ?1 AND j.status = ${S.completed}
     ORDER BY id`,
    [workflowId],
  );
  return rows.map((r) => r.id);
}

/**
 * User data still without a value that should have one (torc's list_missing_user_data): inputs
 * no job writes, and outputs of jobs that already completed.
 */
export async function missingUserData(q: Reader, workflowId: number): Promise<number[]> {
  await requireWorkflow(q, workflowId);
  const rows = await q.all<{ id: number }>(
    `SELECT DISTINCT i.user_data_id AS id FROM job_input_user_data i JOIN jobs j ON j.id = i.job_id JOIN user_data u ON u.id = i.user_data_id
     WHERE j.workflow_id = ?1 AND u.data IS NULL AND i.user_data_id NOT IN (SELECT o.user_data_id FROM job_output_user_data o)
     UNION
     SELECT DISTINCT o.user_data_id FROM job_output_user_data o JOIN jobs j ON j.id = o.job_id JOIN user_data u ON u.id = o.user_data_id
     WHERE j.workflow_id = ?1 AND j.status = ${S.completed} AND u.data IS NULL
     ORDER BY id`,
    [workflowId],
  );
  return rows.map((r) => r.id);
}

export interface ReadyRequirements {
  num_jobs: number;
  num_cpus: number;
  num_gpus: number;
  memory_bytes: number;
  max_num_nodes: number;
  max_runtime_seconds: number;
}

/** What the workflow's ready jobs (of one scheduler, when given) need together: sums, and the largest node count and runtime. */
export async function readyRequirements(q: Reader, workflowId: number, schedulerId: number | null): Promise<ReadyRequirements> {
  await requireWorkflow(q, workflowId);
  const row = await q.get<Record<keyof ReadyRequirements, number | null>>(
    `SELECT COUNT(*) AS num_jobs, SUM(r.num_cpus * r.num_nodes) AS num_cpus, SUM(r.num_gpus * r.num_nodes) AS num_gpus,
       SUM(r.memory_bytes * r.num_nodes) AS memory_bytes, MAX(r.num_nodes) AS max_num_nodes, MAX(r.runtime_seconds) AS max_runtime_seconds
     FROM jobs j JOIN resource_requirements r ON r.id = j.resource_requirements_id
     WHERE j.workflow_id = ? AND j.status = ${S.ready} ${schedulerId === null ? '' : 'AND j.scheduler_id = ?'}`,
    schedulerId === null ? [workflowId] : [workflowId, schedulerId],
  );
  return {
    num_jobs: row?.num_jobs ?? 0,
    num_cpus: row?.num_cpus ?? 0,
    num_gpus: row?.num_gpus ?? 0,
    memory_bytes: row?.memory_bytes ?? 0,
    max_num_nodes: row?.max_num_nodes ?? 0,
    max_runtime_seconds: row?.max_runtime_seconds ?? 0,
  };
}

/** torc's is_workflow_uninitialized: every job uninitialized or disabled. */
export async function isUninitialized(q: Reader, workflowId: number): Promise<boolean> {
  await requireWorkflow(q, workflowId);
  return !(await q.get(`SELECT 1 FROM jobs WHERE workflow_id = ? AND status NOT IN (${S.uninitialized}, ${S.disabled}) LIMIT 1`, [workflowId]));
}

/** Epoch ms of the workflow's newest event, or null. */
export async function latestEventTimestamp(q: Reader, workflowId: number): Promise<number | null> {
  await requireWorkflow(q, workflowId);
  const row = await q.get<{ ts: string | null }>('SELECT MAX(timestamp) AS ts FROM events WHERE workflow_id = ?', [workflowId]);
  return row?.ts ? Date.parse(row.ts) : null;
}
