/**
 * The reads behind the web dashboard (src/api/dashboard). Each is bounded by an index or a
 * LIMIT so that a page of a 1M-job workflow costs milliseconds: jobs are paged by
 * (workflow_id, status, id) or (workflow_id, name), the timeline reads the newest results by
 * (workflow_id, id), and counts come from the status index. Rows keep status codes; the API
 * turns them into torc's names.
 */
import { InputError, NotFoundError } from '../errors.js';
import type { Database, Queryable } from './db.js';
import { JobStatus } from '../contract/status.js';

const S = JobStatus;

// ---- workflows ---------------------------------------------------------------------------

export interface WorkflowTimes {
  /** When the first runner registered for the workflow (ISO), or null before any ran. */
  started_at: string | null;
  /** When the last result was recorded (ISO), or null. */
  last_result_at: string | null;
  /** Compute nodes registered / still active. */
  compute_nodes: number;
  active_compute_nodes: number;
}

/** Start, last activity and runners of each workflow (three indexed lookups per workflow). */
export async function workflowTimes(q: Queryable, workflowIds: number[]): Promise<Map<number, WorkflowTimes>> {
  const out = new Map<number, WorkflowTimes>();
  if (workflowIds.length === 0) return out;
  const ids = JSON.stringify(workflowIds);
  const nodes = await q.all<{ workflow_id: number; started_at: string | null; n: number; active: number }>(
    `SELECT workflow_id, MIN(created_at) AS started_at, COUNT(*) AS n, SUM(active) AS active
     FROM compute_nodes WHERE workflow_id IN (SELECT value FROM json_each(?)) GROUP BY workflow_id`,
    [ids],
  );
  for (const id of workflowIds) out.set(id, { started_at: null, last_result_at: null, compute_nodes: 0, active_compute_nodes: 0 });
  for (const n of nodes) Object.assign(out.get(n.workflow_id)!, { started_at: n.started_at, compute_nodes: n.n, active_compute_nodes: n.active ?? 0 });
  for (const id of workflowIds) {
    const last = await q.get<{ completion_time: string }>('SELECT completion_time FROM results WHERE workflow_id = ? ORDER BY id DESC LIMIT 1', [id]);
    out.get(id)!.last_result_at = last?.completion_time ?? null;
  }
  return out;
}

/** Job counts by status code for each workflow (the status index; no job row is read). */
export async function countsByWorkflow(q: Queryable, workflowIds: number[]): Promise<Map<number, Map<number, number>>> {
  const out = new Map<number, Map<number, number>>();
  for (const id of workflowIds) {
    const rows = await q.all<{ status: number; n: number }>('SELECT status, COUNT(*) AS n FROM jobs WHERE workflow_id = ? GROUP BY status', [id]);
    out.set(id, new Map(rows.map((r) => [r.status, r.n])));
  }
  return out;
}

export interface UnsuccessfulAttempt {
  result_id: number;
  job_id: number;
  name: string;
  attempt: number;
  status: number;
  return_code: number;
  completion_time: string;
}

/** The newest attempts that did not complete (failed, terminated, …), among the newest 5,000 results. */
export async function recentUnsuccessful(q: Queryable, workflowId: number, limit: number): Promise<UnsuccessfulAttempt[]> {
  return q.all<UnsuccessfulAttempt>(
    `SELECT r.id AS result_id, r.job_id, j.name, r.attempt, r.status, r.return_code, r.completion_time
     FROM (SELECT * FROM results WHERE workflow_id = ? ORDER BY id DESC LIMIT 5000) r JOIN jobs j ON j.id = r.job_id
     WHERE r.status != ${S.completed} ORDER BY r.id DESC LIMIT ?`,
    [workflowId, limit],
  );
}

// ---- the job table -----------------------------------------------------------------------

export const JOB_TABLE_SORTS = ['id', 'name', 'status', 'started', 'completed'] as const;
export type JobTableSort = (typeof JOB_TABLE_SORTS)[number];

export interface JobTableQuery {
  /** Status codes to keep (none: all). */
  statuses?: number[];
  /** Case-insensitive substring of the name. */
  text?: string;
  sort?: JobTableSort;
  descending?: boolean;
  offset: number;
  limit: number;
}

export interface JobTableRow {
  id: number;
  name: string;
  status: number;
  attempt: number;
  return_code: number | null;
  started_at: string | null;
  completed_at: string | null;
  compute_node_id: number | null;
  hostname: string | null;
  resource_requirements: string | null;
}

/** Largest page of the job table. */
export const MAX_JOB_TABLE_LIMIT = 1000;

/** SQL LIKE pattern for a substring, with LIKE's wildcards escaped. */
function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * A page of a workflow's jobs, filtered and sorted in SQL. Sorting by id, name or status
 * walks an index; by start or completion time SQLite keeps only the top offset + limit rows
 * while it scans the workflow's jobs (no index on the times: every start would pay for one).
 */
export async function queryJobTable(db: Database, workflowId: number, query: JobTableQuery): Promise<{ rows: JobTableRow[]; total: number }> {
  const { offset, limit } = query;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new InputError(`expected a whole number ≥ 0, got ${offset}`, 'offset');
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_JOB_TABLE_LIMIT) {
    throw new InputError(`expected a whole number from 0 to ${MAX_JOB_TABLE_LIMIT}, got ${limit}`, 'limit');
  }
  const where = ['j.workflow_id = ?'];
  const params: (string | number)[] = [workflowId];
  if (query.statuses && query.statuses.length > 0) {
    where.push(`j.status IN (${query.statuses.map(() => '?').join(', ')})`);
    params.push(...query.statuses);
  }
  if (query.text) {
    where.push("j.name LIKE ? ESCAPE '\\'");
    params.push(likeSubstring(query.text));
  }
  const dir = query.descending ? 'DESC' : 'ASC';
  const sort = query.sort ?? 'id';
  const order: Record<JobTableSort, string> = {
    id: `j.id ${dir}`,
    name: `j.name ${dir}, j.id ${dir}`,
    status: `j.status ${dir}, j.id ${dir}`,
    // NULLs (not started / not finished) last either way.
    started: `j.started_at IS NULL, j.started_at ${dir}, j.id ${dir}`,
    completed: `j.completed_at IS NULL, j.completed_at ${dir}, j.id ${dir}`,
  };
  return db.read(async (q) => {
    if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
    const cond = where.join(' AND ');
    let pageCond = cond;
    let pageParams = params;
    // In id order, unless one status picks the (workflow_id, status, id) index, walk the
    // workflow's id range in the table itself: no sort of the whole workflow for a page.
    if (sort === 'id' && query.statuses?.length !== 1) {
      const range = await workflowIdRange(q, workflowId);
      if (!range) return { rows: [], total: 0 };
      pageCond = `${cond.replace('j.workflow_id = ?', '+j.workflow_id = ?')} AND j.id BETWEEN ? AND ?`;
      pageParams = [...params, range.lo, range.hi];
    }
    const rows = await q.all<JobTableRow>(
      `SELECT j.id, j.name, j.status, j.attempt, j.return_code, j.started_at, j.completed_at, j.compute_node_id,
              n.hostname, rr.name AS resource_requirements
       FROM (SELECT * FROM jobs j WHERE ${pageCond} ORDER BY ${order[sort]} LIMIT ? OFFSET ?) j
       LEFT JOIN compute_nodes n ON n.id = j.compute_node_id
       LEFT JOIN resource_requirements rr ON rr.id = j.resource_requirements_id
       ORDER BY ${order[sort]}`,
      [...pageParams, limit, offset],
    );
    const total = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs j WHERE ${cond}`, params);
    return { rows, total: total!.n };
  });
}

/**
 * The smallest and largest job id of a workflow: two seeks per status in the
 * (workflow_id, status, id) index, so no scan of the workflow's jobs. Undefined without jobs.
 */
export async function workflowIdRange(q: Queryable, workflowId: number): Promise<{ lo: number; hi: number } | undefined> {
  const r = await q.get<{ lo: number | null; hi: number | null }>(
    `SELECT MIN(lo) AS lo, MAX(hi) AS hi FROM (
       SELECT (SELECT MIN(id) FROM jobs WHERE workflow_id = ?1 AND status = s.value) AS lo,
              (SELECT MAX(id) FROM jobs WHERE workflow_id = ?1 AND status = s.value) AS hi
       FROM json_each(?2) s)`,
    [workflowId, JSON.stringify(Object.values(S))],
  );
  return r?.lo == null || r.hi == null ? undefined : { lo: r.lo, hi: r.hi };
}

// ---- one job -----------------------------------------------------------------------------

export interface JobNeighbour {
  id: number;
  name: string;
  status: number;
}

export interface JobDetailRecords {
  job: Record<string, unknown> & { id: number; workflow_id: number; status: number; attempt: number; compute_node_id: number | null };
  requirements: Record<string, unknown> | null;
  results: Record<string, unknown>[];
  nodes: Record<string, unknown>[];
  blockers: JobNeighbour[];
  blocker_count: number;
  dependents: JobNeighbour[];
  dependent_count: number;
  input_files: { id: number; name: string; path: string }[];
  output_files: { id: number; name: string; path: string }[];
  cancel_requested: boolean;
}

/** Neighbours shown on the job page; the rest are counted. */
export const MAX_NEIGHBOURS = 50;

export async function jobDetailRecords(db: Database, jobId: number): Promise<JobDetailRecords> {
  return db.read(async (q) => {
    const job = await q.get<JobDetailRecords['job']>(
      `SELECT id, workflow_id, name, command, invocation_script, status, attempt, resource_requirements_id, scheduler_id,
              failure_handler_id, cancel_on_blocking_job_failure, supports_termination, image, env, return_code,
              compute_node_id, claimed_at, started_at, completed_at
       FROM jobs WHERE id = ?`,
      [jobId],
    );
    if (!job) throw new NotFoundError(`job ${jobId}`);
    // The job's own raised requirements (a failure rule's multiplier) win over the declared entry.
    const requirements =
      (await q.get('SELECT * FROM resource_requirements WHERE job_id = ? ORDER BY id DESC LIMIT 1', [jobId])) ??
      (await q.get('SELECT * FROM resource_requirements WHERE id = ?', [job.resource_requirements_id as number])) ??
      null;
    const results = await q.all('SELECT * FROM results WHERE job_id = ? ORDER BY id', [jobId]);
    const nodeIds = new Set<number>(results.map((r) => r.compute_node_id as number).filter((v) => v !== null));
    if (job.compute_node_id !== null) nodeIds.add(job.compute_node_id);
    const nodes = nodeIds.size
      ? await q.all(
          'SELECT id, hostname, compute_node_type, num_cpus, memory_gb, num_gpus, active, output_dir, scheduler_job_id FROM compute_nodes WHERE id IN (SELECT value FROM json_each(?))',
          [JSON.stringify([...nodeIds])],
        )
      : [];
    const neighbours = (sql: string) => q.all<JobNeighbour>(sql, [jobId, MAX_NEIGHBOURS]);
    const count = async (sql: string) => (await q.get<{ n: number }>(sql, [jobId]))!.n;
    const blockers = await neighbours(
      'SELECT j.id, j.name, j.status FROM job_dependencies d JOIN jobs j ON j.id = d.blocked_by_job_id WHERE d.job_id = ? ORDER BY j.id LIMIT ?',
    );
    const dependents = await neighbours(
      'SELECT j.id, j.name, j.status FROM job_dependencies d JOIN jobs j ON j.id = d.job_id WHERE d.blocked_by_job_id = ? ORDER BY j.id LIMIT ?',
    );
    const files = (table: string) =>
      q.all<{ id: number; name: string; path: string }>(
        `SELECT f.id, f.name, f.path FROM ${table} x JOIN files f ON f.id = x.file_id WHERE x.job_id = ? ORDER BY f.id LIMIT ?`,
        [jobId, MAX_NEIGHBOURS],
      );
    const cancel = await q.get(
      'SELECT 1 FROM job_cancel_requests r JOIN workflows w ON w.id = r.workflow_id WHERE r.job_id = ? AND r.attempt = ? AND r.run_id = w.run_id',
      [jobId, job.attempt],
    );
    return {
      job,
      requirements,
      results,
      nodes,
      blockers,
      blocker_count: blockers.length < MAX_NEIGHBOURS ? blockers.length : await count('SELECT COUNT(*) AS n FROM job_dependencies WHERE job_id = ?'),
      dependents,
      dependent_count:
        dependents.length < MAX_NEIGHBOURS ? dependents.length : await count('SELECT COUNT(*) AS n FROM job_dependencies WHERE blocked_by_job_id = ?'),
      input_files: await files('job_input_files'),
      output_files: await files('job_output_files'),
      cancel_requested: cancel !== undefined && job.status === S.running,
    };
  });
}

// ---- stdio -------------------------------------------------------------------------------

export interface StdioOwner {
  job_id: number;
  workflow_id: number;
  attempt: number;
  /** The attempt is the job's current one and it runs now (its files may still grow). */
  running: boolean;
  compute_node_id: number | null;
  hostname: string | null;
  /** Where that node's runner writes job stdio, as it registered; null when it did not say. */
  output_dir: string | null;
}

/**
 * Which compute node ran (or runs) attempt `attempt` of the job, and where its runner writes
 * job output. The current attempt's node is on the job row; earlier attempts' on their results.
 */
export async function stdioOwner(db: Database, jobId: number, attempt?: number): Promise<StdioOwner> {
  return db.read(async (q) => {
    const job = await q.get<{ id: number; workflow_id: number; status: number; attempt: number; compute_node_id: number | null }>(
      'SELECT id, workflow_id, status, attempt, compute_node_id FROM jobs WHERE id = ?',
      [jobId],
    );
    if (!job) throw new NotFoundError(`job ${jobId}`);
    const want = attempt ?? job.attempt;
    let nodeId: number | null = null;
    const running = want === job.attempt && (job.status === S.running || job.status === S.pending);
    if (want === job.attempt && job.compute_node_id !== null) nodeId = job.compute_node_id;
    if (nodeId === null) {
      const r = await q.get<{ compute_node_id: number | null }>(
        'SELECT compute_node_id FROM results WHERE job_id = ? AND attempt = ? ORDER BY id DESC LIMIT 1',
        [jobId, want],
      );
      nodeId = r?.compute_node_id ?? null;
    }
    const node = nodeId === null ? undefined : await q.get<{ hostname: string; output_dir: string | null }>('SELECT hostname, output_dir FROM compute_nodes WHERE id = ?', [nodeId]);
    return {
      job_id: job.id,
      workflow_id: job.workflow_id,
      attempt: want,
      running,
      compute_node_id: nodeId,
      hostname: node?.hostname ?? null,
      output_dir: node?.output_dir ?? null,
    };
  });
}

// ---- timeline and throughput -------------------------------------------------------------

export interface TimelineBar {
  job_id: number;
  name: string;
  attempt: number;
  compute_node_id: number | null;
  /** Epoch ms. */
  start_ms: number;
  /** Epoch ms; null while it runs. */
  end_ms: number | null;
  status: number;
  return_code: number | null;
}

export interface TimelineRecords {
  bars: TimelineBar[];
  nodes: { id: number; hostname: string; compute_node_type: string; num_cpus: number; num_gpus: number; active: number; created_at: string }[];
  /** Finished attempts not shown (older than the newest `limit`). */
  omitted: number;
}

export const MAX_TIMELINE_BARS = 10_000;

/** The running jobs and the newest finished attempts (results) with their compute nodes. */
export async function timelineRecords(db: Database, workflowId: number, limit: number): Promise<TimelineRecords> {
  return db.read(async (q) => {
    if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
    const running = await q.all<{ id: number; name: string; attempt: number; compute_node_id: number | null; started_at: string; status: number }>(
      `SELECT id, name, attempt, compute_node_id, started_at, status FROM jobs
       WHERE workflow_id = ? AND status = ${S.running} AND started_at IS NOT NULL ORDER BY id LIMIT ?`,
      [workflowId, limit],
    );
    const finished = await q.all<{ job_id: number; name: string; attempt: number; compute_node_id: number | null; completion_time: string; exec_time_minutes: number; status: number; return_code: number }>(
      `SELECT r.job_id, j.name, r.attempt, r.compute_node_id, r.completion_time, r.exec_time_minutes, r.status, r.return_code
       FROM (SELECT * FROM results WHERE workflow_id = ? ORDER BY id DESC LIMIT ?) r JOIN jobs j ON j.id = r.job_id`,
      [workflowId, Math.max(0, limit - running.length)],
    );
    const totalResults = (await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM results WHERE workflow_id = ?', [workflowId]))!.n;
    const nodes = await q.all<TimelineRecords['nodes'][number]>(
      'SELECT id, hostname, compute_node_type, num_cpus, num_gpus, active, created_at FROM compute_nodes WHERE workflow_id = ? ORDER BY id LIMIT 1000',
      [workflowId],
    );
    const bars: TimelineBar[] = [];
    for (const r of finished) {
      const end = Date.parse(r.completion_time);
      if (!Number.isFinite(end)) continue;
      bars.push({
        job_id: r.job_id, name: r.name, attempt: r.attempt, compute_node_id: r.compute_node_id,
        start_ms: Math.round(end - r.exec_time_minutes * 60_000), end_ms: end, status: r.status, return_code: r.return_code,
      });
    }
    for (const j of running) {
      const start = Date.parse(j.started_at);
      if (Number.isFinite(start)) bars.push({ job_id: j.id, name: j.name, attempt: j.attempt, compute_node_id: j.compute_node_id, start_ms: start, end_ms: null, status: j.status, return_code: null });
    }
    return { bars, nodes, omitted: Math.max(0, totalResults - finished.length) };
  });
}

export interface ThroughputRecords {
  /** Epoch ms of the first bucket's start; buckets are `bucket_ms` wide. */
  start_ms: number;
  bucket_ms: number;
  /** Finished attempts per bucket, by status code. */
  buckets: { status: number; counts: number[] }[];
}

/** Finished attempts over time (results by completion time), in at most `maxBuckets` buckets. */
export async function throughputRecords(db: Database, workflowId: number, maxBuckets: number): Promise<ThroughputRecords> {
  return db.read(async (q) => {
    if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
    const span = await q.get<{ lo: number | null; hi: number | null }>(
      `SELECT MIN(unixepoch(completion_time, 'subsec')) AS lo, MAX(unixepoch(completion_time, 'subsec')) AS hi FROM results WHERE workflow_id = ?`,
      [workflowId],
    );
    if (span?.lo == null || span.hi == null) return { start_ms: 0, bucket_ms: 0, buckets: [] };
    const lo = Math.floor(span.lo * 1000);
    const width = Math.max(1000, Math.ceil((span.hi * 1000 - lo + 1) / maxBuckets));
    const rows = await q.all<{ b: number; status: number; n: number }>(
      `SELECT CAST((unixepoch(completion_time, 'subsec') * 1000 - ?) / ? AS INTEGER) AS b, status, COUNT(*) AS n
       FROM results WHERE workflow_id = ? GROUP BY b, status`,
      [lo, width, workflowId],
    );
    const n = Math.min(maxBuckets, Math.max(1, Math.ceil((span.hi * 1000 - lo + 1) / width)));
    const byStatus = new Map<number, number[]>();
    for (const r of rows) {
      let counts = byStatus.get(r.status);
      if (!counts) byStatus.set(r.status, (counts = new Array<number>(n).fill(0)));
      counts[Math.min(n - 1, Math.max(0, r.b))] += r.n;
    }
    return { start_ms: lo, bucket_ms: width, buckets: [...byStatus].map(([status, counts]) => ({ status, counts })) };
  });
}

// ---- the DAG -----------------------------------------------------------------------------

export interface DagStructure {
  /** Job ids in ascending order. */
  ids: Float64Array;
  names: string[];
  /** Resource requirements id per job, or null when not read (dagResourceRequirements reads it). */
  resourceRequirements: (number | null)[] | null;
  /** Dependency pairs as indices into `ids`: blocker[k] → dependent[k]. */
  blockers: Uint32Array;
  dependents: Uint32Array;
}

/**
 * The jobs and dependencies of a workflow. The structure changes only when jobs are added,
 * so callers may cache it (keyed by the id range and the job count). Rows come aggregated
 * into a few strings by SQLite: for 100k jobs that is ~5x faster than one JS object per row.
 */
export async function dagStructure(db: Database, workflowId: number): Promise<DagStructure> {
  return db.read(async (q) => {
    if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
    const range = await workflowIdRange(q, workflowId);
    const empty = { ids: new Float64Array(0), names: [], resourceRequirements: null, blockers: new Uint32Array(0), dependents: new Uint32Array(0) };
    if (!range) return empty;
    // Names come from the (workflow_id, name) index alone (no job row is read), in name order;
    // they are put in id order here.
    const jobs = await q.get<{ ids: string; names: string }>(
      'SELECT group_concat(id) AS ids, json_group_array(name) AS names FROM jobs INDEXED BY jobs_name WHERE workflow_id = ?',
      [workflowId],
    );
    const byName = numbers(jobs?.ids ?? null);
    const namesByName = JSON.parse(jobs?.names ?? '[]') as string[];
    const n = byName.length;
    const ids = new Float64Array(n);
    const names = new Array<string>(n);
    if (range.hi - range.lo + 1 === n) {
      for (let k = 0; k < n; k++) {
        const i = byName[k]! - range.lo;
        ids[i] = byName[k]!;
        names[i] = namesByName[k]!;
      }
    } else {
      const order = Uint32Array.from({ length: n }, (_, k) => k).sort((a, b) => byName[a]! - byName[b]!);
      for (let i = 0; i < n; i++) {
        ids[i] = byName[order[i]!]!;
        names[i] = namesByName[order[i]!]!;
      }
    }
    const deps = await q.get<{ j: string | null; b: string | null }>(
      'SELECT group_concat(job_id) AS j, group_concat(blocked_by_job_id) AS b FROM job_dependencies WHERE job_id BETWEEN ? AND ?',
      [range.lo, range.hi],
    );
    const js = numbers(deps?.j ?? null);
    const bs = numbers(deps?.b ?? null);
    const index = indexOfIds(ids);
    const blockers = new Uint32Array(js.length);
    const dependents = new Uint32Array(js.length);
    let k = 0;
    for (let i = 0; i < js.length; i++) {
      const ji = index(js[i]!);
      const bi = index(bs[i]!);
      if (ji < 0 || bi < 0) continue; // a row of another workflow inside the id range
      blockers[k] = bi;
      dependents[k] = ji;
      k++;
    }
    return { ids, names, resourceRequirements: null, blockers: blockers.subarray(0, k), dependents: dependents.subarray(0, k) };
  });
}

/** Resource requirements id of each job of a structure, in its id order (for grouping by level). */
export async function dagResourceRequirements(db: Database, workflowId: number, ids: Float64Array): Promise<(number | null)[]> {
  if (ids.length === 0) return [];
  const r = await db.get<{ rrs: string }>(
    `SELECT json_group_array(resource_requirements_id) AS rrs
     FROM (SELECT resource_requirements_id FROM jobs WHERE +workflow_id = ? AND id BETWEEN ? AND ? ORDER BY id)`,
    [workflowId, ids[0]!, ids[ids.length - 1]!],
  );
  return JSON.parse(r?.rrs ?? '[]') as (number | null)[];
}

/** "1,2,3" → Float64Array [1, 2, 3] (group_concat of non-negative integers), without splitting. */
function numbers(text: string | null): Float64Array {
  if (!text) return new Float64Array(0);
  let count = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 44) count++;
  const out = new Float64Array(count);
  let k = 0;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      out[k++] = v;
      v = 0;
    } else v = v * 10 + (c - 48);
  }
  out[k] = v;
  return out;
}

/** id → index in a sorted id array (−1 when absent); O(1) when the ids are one dense range. */
export function indexOfIds(ids: ArrayLike<number>): (id: number) => number {
  const n = ids.length;
  if (n === 0) return () => -1;
  const first = ids[0]!;
  if (ids[n - 1]! - first === n - 1) return (id) => (id >= first && id < first + n ? id - first : -1);
  return (id) => {
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid]!;
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
}

/**
 * The status code of every job of the workflow in id order, as one string of
 * characters '0' + code (see dagStructure for why aggregated), on the given connection.
 */
export async function jobStatusString(q: Queryable, workflowId: number): Promise<{ ids: Float64Array; statuses: string }> {
  const range = await workflowIdRange(q, workflowId);
  if (!range) return { ids: new Float64Array(0), statuses: '' };
  const r = await q.get<{ ids: string; s: string }>(
    `SELECT group_concat(id) AS ids, group_concat(char(48 + status), '') AS s
     FROM (SELECT id, status FROM jobs WHERE +workflow_id = ? AND id BETWEEN ? AND ? ORDER BY id)`,
    [workflowId, range.lo, range.hi],
  );
  return { ids: numbers(r?.ids ?? null), statuses: r?.s ?? '' };
}

/**
 * Jobs per status in each id range [lo, hi] of the workflow, counted in the
 * (workflow_id, status, id) index: out[r * 11 + code]. One statement for all ranges.
 */
export async function countStatusesInRanges(q: Queryable, workflowId: number, lo: ArrayLike<number>, hi: ArrayLike<number>): Promise<Int32Array> {
  const codes = Object.values(S);
  const out = new Int32Array(lo.length * codes.length);
  if (lo.length === 0) return out;
  const ranges = JSON.stringify(Array.from({ length: lo.length }, (_, r) => [lo[r], hi[r]]));
  const rows = await q.all<{ r: number; status: number; n: number }>(
    `SELECT r.key AS r, s.value AS status,
       (SELECT COUNT(*) FROM jobs WHERE workflow_id = ?1 AND status = s.value AND id BETWEEN r.value->>0 AND r.value->>1) AS n
     FROM json_each(?2) r, json_each(?3) s`,
    [workflowId, ranges, JSON.stringify(codes)],
  );
  for (const row of rows) out[row.r * codes.length + row.status] = row.n;
  return out;
}

/** Status codes of the given jobs. */
export async function statusesOfJobs(q: Queryable, ids: number[]): Promise<Map<number, number>> {
  if (ids.length === 0) return new Map();
  const rows = await q.all<{ id: number; status: number }>('SELECT id, status FROM jobs WHERE id IN (SELECT value FROM json_each(?))', [JSON.stringify(ids)]);
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** (id, name, status) of the given jobs. */
export async function jobsByIds(q: Queryable, ids: number[]): Promise<{ id: number; name: string; status: number }[]> {
  if (ids.length === 0) return [];
  return q.all('SELECT id, name, status FROM jobs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id', [JSON.stringify(ids)]);
}

/** One job's measured use (its latest result's summary) against what it asked for. */
export interface JobUsageRow {
  job_id: number;
  name: string;
  status: number;
  run_id: number;
  attempt: number;
  peak_memory_bytes: number | null;
  avg_memory_bytes: number | null;
  peak_cpu_percent: number | null;
  avg_cpu_percent: number | null;
  failure_diagnosis: string | null;
  /** The job's memory and CPUs as it ran (its own raised requirements, else its class's); null without a class. */
  memory_bytes: number | null;
  num_cpus: number | null;
}

export interface UsageRecords {
  /** Jobs with a result, and those whose latest result was measured. */
  jobs_with_results: number;
  measured: number;
  /** The measured jobs with the highest peak memory first, at most `limit`. */
  top: JobUsageRow[];
}

/** Resource use per job from each job's latest result (the dashboard's Resources tab). */
export async function usageRecords(db: Database, workflowId: number, limit: number): Promise<UsageRecords> {
  return db.read(async (q) => {
    if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
    const latest = 'SELECT MAX(id) FROM results WHERE workflow_id = ? GROUP BY job_id';
    const counts = (await q.get<{ n: number; measured: number }>(
      `SELECT COUNT(*) AS n, COALESCE(SUM(peak_memory_bytes IS NOT NULL OR peak_cpu_percent IS NOT NULL), 0) AS measured
       FROM results WHERE id IN (${latest})`,
      [workflowId],
    ))!;
    const top = await q.all<JobUsageRow>(
      `SELECT r.job_id, j.name, j.status, r.run_id, r.attempt, r.peak_memory_bytes, r.avg_memory_bytes, r.peak_cpu_percent, r.avg_cpu_percent,
              r.failure_diagnosis,
              COALESCE((SELECT memory_bytes FROM resource_requirements WHERE job_id = j.id ORDER BY id DESC LIMIT 1), rr.memory_bytes) AS memory_bytes,
              COALESCE((SELECT num_cpus FROM resource_requirements WHERE job_id = j.id ORDER BY id DESC LIMIT 1), rr.num_cpus) AS num_cpus
       FROM results r JOIN jobs j ON j.id = r.job_id LEFT JOIN resource_requirements rr ON rr.id = j.resource_requirements_id
       WHERE r.id IN (${latest}) AND (r.peak_memory_bytes IS NOT NULL OR r.peak_cpu_percent IS NOT NULL)
       ORDER BY r.peak_memory_bytes IS NULL, r.peak_memory_bytes DESC, r.job_id LIMIT ?`,
      [workflowId, limit],
    );
    return { jobs_with_results: counts.n, measured: counts.measured, top };
  });
}
