/**
 * torc's plain records — files, user data, resource requirements, schedulers, failure handlers,
 * results, events, compute nodes, access groups — as table descriptions, and the create / get /
 * update / delete / list operations every one of them shares (torc's API has the same six
 * operations for each). Values arrive already converted to columns (the API turns "4g" into
 * bytes); jobs and workflows, which carry state, have their own code.
 */
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { Queryable, Row, SqlValue, WriteTx } from './db.js';

/** What reads need: the database's reader or a transaction. */
type Reader = Pick<Queryable, 'get' | 'all'>;
import {
  toComputeNode,
  toEvent,
  toFailureHandler,
  toResult,
  toUserData,
  type ComputeNodeRecord,
  type EventRecord,
  type FailureHandlerRecord,
  type FileRecord,
  type Page,
  type ResourceRequirementsRecord,
  type ResultRecord,
  type SlurmSchedulerRecord,
  type UserDataRecord,
} from './records.js';

export interface LocalSchedulerRecord {
  id: number;
  workflow_id: number;
  name: string;
  memory: string | null;
  num_cpus: number | null;
}

export interface AccessGroupRecord {
  id: number;
  name: string;
  description: string | null;
  created_at: string;
}

export interface TableSpec<T> {
  table: string;
  /** For messages: `file 3 not found`. */
  what: string;
  /** Columns a create or update may set (workflow_id included for per-workflow tables). */
  columns: readonly string[];
  /** Columns stored as JSON text. */
  json?: readonly string[];
  toRecord(row: Row): T;
  /** List filters: name → SQL condition on the table (alias `t`) with one `?`. */
  filters?: Record<string, string>;
  /** Columns a list may sort by (torc's sort_by). */
  sortable: readonly string[];
  /** Whether rows belong to a workflow (workflow_id column). */
  scoped: boolean;
}

const same = <T>(r: Row) => r as T;

export const TABLES = {
  files: {
    table: 'files',
    what: 'file',
    columns: ['workflow_id', 'name', 'path', 'st_mtime'],
    toRecord: same<FileRecord>,
    filters: {
      name: 't.name = ?',
      path: 't.path = ?',
      produced_by_job_id: 't.id IN (SELECT file_id FROM job_output_files WHERE job_id = ?)',
      is_output: '(EXISTS (SELECT 1 FROM job_output_files o WHERE o.file_id = t.id)) = ?',
    },
    sortable: ['id', 'name', 'path', 'st_mtime'],
    scoped: true,
  } satisfies TableSpec<FileRecord>,
  user_data: {
    table: 'user_data',
    what: 'user data',
    columns: ['workflow_id', 'name', 'data', 'is_ephemeral'],
    json: ['data'],
    toRecord: toUserData,
    filters: {
      name: 't.name = ?',
      is_ephemeral: 't.is_ephemeral = ?',
      consumer_job_id: 't.id IN (SELECT user_data_id FROM job_input_user_data WHERE job_id = ?)',
      producer_job_id: 't.id IN (SELECT user_data_id FROM job_output_user_data WHERE job_id = ?)',
    },
    sortable: ['id', 'name', 'is_ephemeral'],
    scoped: true,
  } satisfies TableSpec<UserDataRecord>,
  resource_requirements: {
    table: 'resource_requirements',
    what: 'resource requirements',
    columns: ['workflow_id', 'name', 'num_cpus', 'memory_bytes', 'num_gpus', 'num_nodes', 'runtime_seconds'],
    toRecord: same<ResourceRequirementsRecord>,
    filters: {
      job_id: 't.id = (SELECT resource_requirements_id FROM jobs WHERE id = ?)',
      name: 't.name = ?',
      memory: 't.memory_bytes = ?',
      num_cpus: 't.num_cpus = ?',
      num_gpus: 't.num_gpus = ?',
      num_nodes: 't.num_nodes = ?',
      runtime: 't.runtime_seconds = ?',
    },
    sortable: ['id', 'name', 'num_cpus', 'memory_bytes', 'num_gpus', 'num_nodes', 'runtime_seconds'],
    scoped: true,
  } satisfies TableSpec<ResourceRequirementsRecord>,
  slurm_schedulers: {
    table: 'slurm_schedulers',
    what: 'slurm scheduler',
    columns: ['workflow_id', 'name', 'account', 'partition', 'nodes', 'walltime', 'mem', 'gres', 'qos', 'ntasks_per_node', 'tmp', 'extra'],
    toRecord: same<SlurmSchedulerRecord>,
    filters: Object.fromEntries(['name', 'account', 'gres', 'mem', 'nodes', 'partition', 'qos', 'tmp', 'walltime'].map((c) => [c, `t.${c} = ?`])),
    sortable: ['id', 'name', 'account', 'partition', 'nodes', 'walltime', 'mem', 'gres', 'qos', 'tmp'],
    scoped: true,
  } satisfies TableSpec<SlurmSchedulerRecord>,
  local_schedulers: {
    table: 'local_schedulers',
    what: 'local scheduler',
    columns: ['workflow_id', 'name', 'memory', 'num_cpus'],
    toRecord: same<LocalSchedulerRecord>,
    filters: { memory: 't.memory = ?', num_cpus: 't.num_cpus = ?' },
    sortable: ['id', 'name', 'memory', 'num_cpus'],
    scoped: true,
  } satisfies TableSpec<LocalSchedulerRecord>,
  failure_handlers: {
    table: 'failure_handlers',
    what: 'failure handler',
    columns: ['workflow_id', 'name', 'rules'],
    json: ['rules'],
    toRecord: toFailureHandler,
    sortable: ['id', 'name'],
    scoped: true,
  } satisfies TableSpec<FailureHandlerRecord>,
  results: {
    table: 'results',
    what: 'result',
    columns: ['workflow_id', 'job_id', 'run_id', 'attempt', 'compute_node_id', 'return_code', 'exec_time_minutes', 'completion_time', 'status'],
    toRecord: toResult,
    filters: {
      job_id: 't.job_id = ?',
      run_id: 't.run_id = ?',
      return_code: 't.return_code = ?',
      status: 't.status = ?',
      compute_node_id: 't.compute_node_id = ?',
      // torc's default: the latest result of each job only (all_runs=true: every one).
      latest_only: '(t.id = (SELECT MAX(r2.id) FROM results r2 WHERE r2.job_id = t.job_id)) = ?',
    },
    sortable: ['id', 'job_id', 'run_id', 'attempt', 'return_code', 'exec_time_minutes', 'completion_time', 'status'],
    scoped: true,
  } satisfies TableSpec<ResultRecord>,
  events: {
    table: 'events',
    what: 'event',
    columns: ['workflow_id', 'timestamp', 'category', 'data'],
    json: ['data'],
    toRecord: toEvent,
    filters: {
      category: 't.category = ?',
      after_id: 't.id > ?',
      after_timestamp: 't.timestamp > ?',
    },
    sortable: ['id', 'timestamp', 'category'],
    scoped: true,
  } satisfies TableSpec<EventRecord>,
  compute_nodes: {
    table: 'compute_nodes',
    what: 'compute node',
    columns: ['workflow_id', 'hostname', 'pid', 'num_cpus', 'memory_gb', 'num_gpus', 'num_nodes', 'scheduler_config_id', 'compute_node_type'],
    toRecord: toComputeNode,
    filters: {
      hostname: 't.hostname = ?',
      is_active: 't.active = ?',
      scheduled_compute_node_id: 't.scheduler_job_id = (SELECT slurm_job_id FROM slurm_allocations WHERE id = ?)',
    },
    sortable: ['id', 'hostname', 'pid', 'num_cpus', 'memory_gb', 'num_gpus', 'num_nodes', 'created_at'],
    scoped: true,
  } satisfies TableSpec<ComputeNodeRecord>,
  access_groups: {
    table: 'access_groups',
    what: 'access group',
    columns: ['name', 'description', 'created_at'],
    toRecord: same<AccessGroupRecord>,
    sortable: ['id', 'name'],
    scoped: false,
  } satisfies TableSpec<AccessGroupRecord>,
} as const;

export type TableName = keyof typeof TABLES;
export type RecordOf<K extends TableName> = (typeof TABLES)[K] extends TableSpec<infer T> ? T : never;

export function tableOf<K extends TableName>(kind: K): TableSpec<RecordOf<K>> {
  return TABLES[kind] as unknown as TableSpec<RecordOf<K>>;
}

export interface ListQuery {
  offset: number;
  limit: number;
  /** Filter name (TableSpec.filters) → value; undefined values are ignored. */
  where?: Record<string, SqlValue | boolean | undefined>;
  sort_by?: string;
  reverse_sort?: boolean;
}

function encode(spec: TableSpec<unknown>, column: string, value: unknown): SqlValue {
  if (value === undefined || value === null) return null;
  if (spec.json?.includes(column)) return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value as SqlValue;
}

function checkColumns(spec: TableSpec<unknown>, values: Record<string, unknown>): string[] {
  const cols = Object.keys(values).filter((c) => values[c] !== undefined);
  for (const c of cols) if (!spec.columns.includes(c)) throw new Error(`${spec.table}: no settable column ${c}`);
  return cols;
}

/** SQLite's foreign-key failure: the row is referenced, or references what is not there. */
export function isForeignKeyError(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT' && /FOREIGN KEY/.test((err as Error).message);
}

export async function requireWorkflowRow(q: Reader, workflowId: number): Promise<void> {
  if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
}

export async function getRow<T>(q: Reader, spec: TableSpec<T>, id: number): Promise<T> {
  const row = await q.get(`SELECT * FROM ${spec.table} WHERE id = ?`, [id]);
  if (!row) throw new NotFoundError(`${spec.what} ${id}`);
  return spec.toRecord(row);
}

export async function insertRow<T>(tx: WriteTx, spec: TableSpec<T>, values: Record<string, unknown>): Promise<T> {
  if (spec.scoped) await requireWorkflowRow(tx, values.workflow_id as number);
  const cols = checkColumns(spec, values);
  const res = await tx.run(
    `INSERT INTO ${spec.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
    cols.map((c) => encode(spec, c, values[c])),
  );
  return getRow(tx, spec, res.lastID);
}

/** Sets the given columns (undefined: unchanged; null: cleared). A row may not move to another workflow. */
export async function updateRow<T>(tx: WriteTx, spec: TableSpec<T>, id: number, values: Record<string, unknown>): Promise<T> {
  const before = (await getRow(tx, spec, id)) as { workflow_id?: number };
  if (spec.scoped && values.workflow_id !== undefined && values.workflow_id !== before.workflow_id) {
    throw new InputError(`${spec.what} ${id} belongs to workflow ${before.workflow_id}; it cannot move to ${String(values.workflow_id)}`, 'workflow_id');
  }
  const cols = checkColumns(spec, values).filter((c) => c !== 'workflow_id');
  if (cols.length > 0) {
    await tx.run(`UPDATE ${spec.table} SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`, [...cols.map((c) => encode(spec, c, values[c])), id]);
  }
  return getRow(tx, spec, id);
}

/** Deletes one row and returns it as it was; ConflictError when other records still use it. */
export async function deleteRow<T>(tx: WriteTx, spec: TableSpec<T>, id: number): Promise<T> {
  const before = await getRow(tx, spec, id);
  try {
    await tx.run(`DELETE FROM ${spec.table} WHERE id = ?`, [id]);
  } catch (err) {
    if (isForeignKeyError(err)) throw new ConflictError(`${spec.what} ${id} is still used by other records (jobs); delete or change those first`);
    throw err;
  }
  return before;
}

/** Deletes every row of a workflow; returns how many. */
export async function deleteRows(tx: WriteTx, spec: TableSpec<unknown>, workflowId: number): Promise<number> {
  await requireWorkflowRow(tx, workflowId);
  try {
    return (await tx.run(`DELETE FROM ${spec.table} WHERE workflow_id = ?`, [workflowId])).changes;
  } catch (err) {
    if (isForeignKeyError(err)) throw new ConflictError(`the ${spec.table.replaceAll('_', ' ')} of workflow ${workflowId} are still used by other records (jobs); delete those first`);
    throw err;
  }
}

/** A page of a workflow's rows (or of all rows of an unscoped table), filtered and sorted as torc's list_* are. */
export async function listRows<T>(q: Reader, spec: TableSpec<T>, workflowId: number | null, query: ListQuery): Promise<Page<T>> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (spec.scoped) {
    await requireWorkflowRow(q, workflowId!);
    where.push('t.workflow_id = ?');
    params.push(workflowId!);
  }
  for (const [name, value] of Object.entries(query.where ?? {})) {
    if (value === undefined) continue;
    const cond = spec.filters?.[name];
    if (!cond) throw new Error(`${spec.table}: no filter ${name}`);
    where.push(cond);
    params.push(typeof value === 'boolean' ? (value ? 1 : 0) : value);
  }
  let order = 't.id';
  if (query.sort_by !== undefined) {
    if (!spec.sortable.includes(query.sort_by)) throw new InputError(`cannot sort by "${query.sort_by}" (one of ${spec.sortable.join(', ')})`, 'sort_by');
    order = `t.${query.sort_by}${query.sort_by === 'id' ? '' : ', t.id'}`;
  }
  if (query.reverse_sort) order = order.split(', ').map((c) => `${c} DESC`).join(', ');
  const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const rows = await q.all(`SELECT t.* FROM ${spec.table} t ${cond} ORDER BY ${order} LIMIT ? OFFSET ?`, [...params, query.limit, query.offset]);
  const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${spec.table} t ${cond}`, params);
  return { items: rows.map((r) => spec.toRecord(r)), total: total!.n };
}

