/**
 * Bulk reads for `torc workflows export`: every job's relations of a workflow in one query per
 * kind (the per-job reads would cost a round trip per job). Read-only; nothing else uses it.
 */
import type { Queryable } from './db.js';

/** What the reads need: a database or a transaction. */
type Reader = Pick<Queryable, 'all'>;

export interface JobRelations {
  /** job id → ids of the jobs it waits for (explicit and file/user-data implied alike). */
  depends_on: Map<number, number[]>;
  input_files: Map<number, number[]>;
  output_files: Map<number, number[]>;
  input_user_data: Map<number, number[]>;
  output_user_data: Map<number, number[]>;
}

const QUERIES: Record<keyof JobRelations, string> = {
  depends_on: 'SELECT d.job_id AS job, d.blocked_by_job_id AS other FROM job_dependencies d JOIN jobs j ON j.id = d.job_id WHERE j.workflow_id = ? ORDER BY d.job_id, d.blocked_by_job_id',
  input_files: 'SELECT r.job_id AS job, r.file_id AS other FROM job_input_files r JOIN jobs j ON j.id = r.job_id WHERE j.workflow_id = ? ORDER BY r.job_id, r.file_id',
  output_files: 'SELECT r.job_id AS job, r.file_id AS other FROM job_output_files r JOIN jobs j ON j.id = r.job_id WHERE j.workflow_id = ? ORDER BY r.job_id, r.file_id',
  input_user_data: 'SELECT r.job_id AS job, r.user_data_id AS other FROM job_input_user_data r JOIN jobs j ON j.id = r.job_id WHERE j.workflow_id = ? ORDER BY r.job_id, r.user_data_id',
  output_user_data: 'SELECT r.job_id AS job, r.user_data_id AS other FROM job_output_user_data r JOIN jobs j ON j.id = r.job_id WHERE j.workflow_id = ? ORDER BY r.job_id, r.user_data_id',
};

export async function readJobRelations(db: Reader, workflowId: number): Promise<JobRelations> {
  const out = {} as JobRelations;
  for (const kind of Object.keys(QUERIES) as (keyof JobRelations)[]) {
    const map = new Map<number, number[]>();
    for (const { job, other } of await db.all<{ job: number; other: number }>(QUERIES[kind], [workflowId])) {
      const list = map.get(job);
      if (list) list.push(other);
      else map.set(job, [other]);
    }
    out[kind] = map;
  }
  return out;
}
