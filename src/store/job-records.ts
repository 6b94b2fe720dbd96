/**
 * Jobs as torc's API builds them one record at a time (create_job, bulk_jobs, update_job,
 * delete_job): each job with its resource requirements (the workflow's `default` entry when it
 * names none), its claim class, its explicit dependencies and its file / user-data relations.
 * Dependencies implied by files and user data (a producer before every consumer) are added
 * when the workflow is initialized (impliedDependencies), as torc does. Every function runs in
 * the caller's write transaction.
 */
import { createHash } from 'node:crypto';
import { ConflictError, InputError, NotFoundError, type InputIssue } from '../errors.js';
import { DEFAULT_NEED } from '../spec/plan.js';
import type { JobRecord } from '../contract/client.js';
import { JobStatus, type JobStatusName } from '../contract/status.js';
import type { Queryable, WriteTx } from './db.js';
import { JOB_COLUMNS, toJob } from './records.js';
import { FINISHED_STATES, cascadeFinished } from './transitions.js';

const S = JobStatus;
type Reader = Pick<Queryable, 'get' | 'all'>;

/** A job as create_job / bulk_jobs / update_job take it (torc's job_model fields, ours beside). */
export interface JobInput {
  workflow_id: number;
  name: string;
  command: string;
  invocation_script?: string | null;
  cancel_on_blocking_job_failure?: boolean | null;
  supports_termination?: boolean | null;
  resource_requirements_id?: number | null;
  scheduler_id?: number | null;
  failure_handler_id?: number | null;
  depends_on_job_ids?: number[] | null;
  input_file_ids?: number[] | null;
  output_file_ids?: number[] | null;
  input_user_data_ids?: number[] | null;
  output_user_data_ids?: number[] | null;
  image?: string | null;
  env?: Record<string, string> | null;
  /** update_job only: uninitialized or disabled (other moves go through the state machine). */
  status?: JobStatusName | null;
}

/** torc's id lists of a job. */
export interface JobRelationIds {
  depends_on_job_ids: number[];
  input_file_ids: number[];
  output_file_ids: number[];
  input_user_data_ids: number[];
  output_user_data_ids: number[];
}

export type JobWithRelations = JobRecord & JobRelationIds;

const RELATIONS = [
  { field: 'depends_on_job_ids', table: 'job_dependencies', column: 'blocked_by_job_id', target: 'jobs', what: 'job' },
  { field: 'input_file_ids', table: 'job_input_files', column: 'file_id', target: 'files', what: 'file' },
  { field: 'output_file_ids', table: 'job_output_files', column: 'file_id', target: 'files', what: 'file' },
  { field: 'input_user_data_ids', table: 'job_input_user_data', column: 'user_data_id', target: 'user_data', what: 'user data' },
  { field: 'output_user_data_ids', table: 'job_output_user_data', column: 'user_data_id', target: 'user_data', what: 'user data' },
] as const;

type RelationField = (typeof RELATIONS)[number]['field'];

/** The id lists of the given jobs (one query per relation). */
export async function readRelations(q: Reader, jobIds: number[]): Promise<Map<number, JobRelationIds>> {
  const out = new Map<number, JobRelationIds>(
    jobIds.map((id) => [id, { depends_on_job_ids: [], input_file_ids: [], output_file_ids: [], input_user_data_ids: [], output_user_data_ids: [] }]),
  );
  if (jobIds.length === 0) return out;
  const ids = JSON.stringify(jobIds);
  for (const r of RELATIONS) {
    const rows = await q.all<{ job_id: number; other: number }>(
      `SELECT job_id, ${r.column} AS other FROM ${r.table} WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, ${r.column}`,
      [ids],
    );
    for (const row of rows) out.get(row.job_id)![r.field].push(row.other);
  }
  return out;
}

export async function withRelations(q: Reader, jobs: JobRecord[]): Promise<JobWithRelations[]> {
  const rel = await readRelations(q, jobs.map((j) => j.id));
  return jobs.map((j) => ({ ...j, ...rel.get(j.id)! }));
}

/** The workflow's `default` resource requirements (torc's implicit entry), created on first use. */
async function defaultRequirementsId(tx: WriteTx, workflowId: number): Promise<number> {
  const row = await tx.get<{ id: number }>("SELECT id FROM resource_requirements WHERE workflow_id = ? AND name = 'default' AND job_id IS NULL ORDER BY id LIMIT 1", [
    workflowId,
  ]);
  if (row) return row.id;
  const d = DEFAULT_NEED;
  const res = await tx.run(
    `INSERT INTO resource_requirements (workflow_id, name, num_cpus, memory_bytes, num_gpus, num_nodes, runtime_seconds) VALUES (?, 'default', ?, ?, ?, ?, ?)`,
    [workflowId, d.num_cpus, d.memory_bytes, d.num_gpus, d.num_nodes, d.runtime_seconds],
  );
  return res.lastID;
}

/** The claim class of (resource requirements, scheduler), created on first use. */
export async function claimClassId(tx: WriteTx, workflowId: number, rrId: number, schedulerId: number | null): Promise<number> {
  const row = await tx.get<{ id: number }>(
    'SELECT id FROM claim_classes WHERE workflow_id = ? AND resource_requirements_id = ? AND IFNULL(scheduler_id, 0) = IFNULL(?, 0)',
    [workflowId, rrId, schedulerId],
  );
  if (row) return row.id;
  return (await tx.run('INSERT INTO claim_classes (workflow_id, resource_requirements_id, scheduler_id) VALUES (?, ?, ?)', [workflowId, rrId, schedulerId])).lastID;
}

/** What a job runs, for the hash column (a re-applied spec compares it; here it only has to be stable). */
function jobHash(j: JobInput, rrId: number): string {
  const material = JSON.stringify([j.command, j.invocation_script ?? null, rrId, j.scheduler_id ?? null, j.image ?? null, j.env ?? null]);
  return createHash('sha256').update(material).digest('hex').slice(0, 32);
}

/** Ids among `ids` that are rows of `table` in the workflow. */
async function existing(q: Reader, table: string, workflowId: number, ids: number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const rows = await q.all<{ id: number }>(`SELECT id FROM ${table} WHERE workflow_id = ? AND id IN (SELECT value FROM json_each(?))`, [
    workflowId,
    JSON.stringify([...new Set(ids)]),
  ]);
  return new Set(rows.map((r) => r.id));
}

/** Checks every id a job refers to belongs to its workflow; issues name the field (`jobs[2].input_file_ids[0]`). */
async function checkReferences(q: Reader, workflowId: number, jobs: JobInput[], prefix: (i: number) => string): Promise<void> {
  const issues: InputIssue[] = [];
  const single: [keyof JobInput, string, string][] = [
    ['resource_requirements_id', 'resource_requirements', 'resource requirements'],
    ['scheduler_id', 'slurm_schedulers', 'slurm scheduler'],
    ['failure_handler_id', 'failure_handlers', 'failure handler'],
  ];
  for (const [field, table, what] of single) {
    const ids = jobs.map((j) => j[field]).filter((v): v is number => typeof v === 'number');
    const found = await existing(q, table, workflowId, ids);
    jobs.forEach((j, i) => {
      const v = j[field];
      if (typeof v === 'number' && !found.has(v)) issues.push({ path: `${prefix(i)}${field}`, message: `no ${what} ${v} in workflow ${workflowId}` });
    });
  }
  for (const r of RELATIONS) {
    const ids = jobs.flatMap((j) => j[r.field] ?? []);
    const found = await existing(q, r.target, workflowId, ids);
    jobs.forEach((j, i) =>
      (j[r.field] ?? []).forEach((v, k) => {
        if (!found.has(v)) issues.push({ path: `${prefix(i)}${r.field}[${k}]`, message: `no ${r.what} ${v} in workflow ${workflowId}` });
      }),
    );
  }
  if (issues.length > 0) throw new InputError(issues.slice(0, 20));
}

async function insertRelations(tx: WriteTx, jobId: number, job: Pick<JobInput, RelationField>, only?: RelationField[]): Promise<void> {
  for (const r of RELATIONS) {
    if (only && !only.includes(r.field)) continue;
    const ids = [...new Set((job[r.field] ?? []).filter((v) => r.field !== 'depends_on_job_ids' || v !== jobId))];
    if (ids.length === 0) continue;
    await tx.run(`INSERT OR IGNORE INTO ${r.table} (job_id, ${r.column}) SELECT ?, value FROM json_each(?)`, [jobId, JSON.stringify(ids)]);
  }
}

/**
 * Creates jobs (uninitialized) with their relations; all must belong to one workflow. Returns
 * them with their id lists, in request order.
 */
export async function createJobsInTx(tx: WriteTx, jobs: JobInput[], prefix: (i: number) => string): Promise<JobWithRelations[]> {
  if (jobs.length === 0) return [];
  const workflowId = jobs[0]!.workflow_id;
  const other = jobs.findIndex((j) => j.workflow_id !== workflowId);
  if (other >= 0) {
    throw new InputError(`every job of one call must belong to one workflow: ${workflowId} and ${jobs[other]!.workflow_id}`, `${prefix(other)}workflow_id`);
  }
  if (!(await tx.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
  await checkReferences(tx, workflowId, jobs, prefix);
  const needsDefault = jobs.some((j) => j.resource_requirements_id === undefined || j.resource_requirements_id === null);
  const defaultRr = needsDefault ? await defaultRequirementsId(tx, workflowId) : null;
  const ids: number[] = [];
  for (const job of jobs) {
    const rrId = job.resource_requirements_id ?? defaultRr!;
    const cls = await claimClassId(tx, workflowId, rrId, job.scheduler_id ?? null);
    const res = await tx.run(
      `INSERT INTO jobs (workflow_id, name, command, invocation_script, resource_requirements_id, scheduler_id, failure_handler_id,
         claim_class_id, cancel_on_blocking_job_failure, supports_termination, image, env, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        workflowId,
        job.name,
        job.command,
        job.invocation_script ?? null,
        rrId,
        job.scheduler_id ?? null,
        job.failure_handler_id ?? null,
        cls,
        // torc's default: a job is canceled when a job it waits for fails.
        (job.cancel_on_blocking_job_failure ?? true) ? 1 : 0,
        job.supports_termination ? 1 : 0,
        job.image ?? null,
        job.env ? JSON.stringify(job.env) : null,
        jobHash(job, rrId),
      ],
    );
    await insertRelations(tx, res.lastID, job);
    ids.push(res.lastID);
  }
  return readJobs(tx, ids);
}

export async function readJobs(q: Reader, ids: number[]): Promise<JobWithRelations[]> {
  const rows = await q.all(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?))`, [JSON.stringify(ids)]);
  const byId = new Map(rows.map((r) => [r.id as number, toJob(r)]));
  return withRelations(q, ids.flatMap((id) => byId.get(id) ?? []));
}

const RESTRICTED = ['name', 'command', 'status', ...RELATIONS.map((r) => r.field)] as const;

const sameIds = (a: number[], b: number[] | null | undefined) => b === undefined || b === null || JSON.stringify([...new Set(b)].sort((x, y) => x - y)) === JSON.stringify(a);

/**
 * torc's update_job: name, command, status and the id lists change only while the job is
 * uninitialized (422 otherwise); requirements, scheduler, failure handler and the flags change
 * at any time. A field left out (or null) keeps its value.
 */
export async function updateJobInTx(tx: WriteTx, jobId: number, input: Partial<JobInput>): Promise<JobWithRelations> {
  const [job] = await readJobs(tx, [jobId]).catch(() => [undefined]);
  if (!job) throw new NotFoundError(`job ${jobId}`);
  if (input.workflow_id !== undefined && input.workflow_id !== job.workflow_id) {
    throw new InputError(`job ${jobId} belongs to workflow ${job.workflow_id}; it cannot move`, 'workflow_id');
  }
  const changed = RESTRICTED.filter((f) => {
    const v = input[f];
    if (v === undefined || v === null) return false;
    if (Array.isArray(v)) return !sameIds((job as unknown as Record<string, number[]>)[f]!, v);
    return v !== job[f as 'name' | 'command' | 'status'];
  });
  if (changed.length > 0 && job.status !== 'uninitialized') {
    throw new InputError(`job ${jobId} is ${job.status}: ${changed.join(', ')} can change only while it is uninitialized (reset it first)`, changed[0]);
  }
  if (input.status !== undefined && input.status !== null && input.status !== job.status && input.status !== 'disabled') {
    throw new InputError(`update_job sets status only to disabled (or leaves it); got ${input.status} (initialize_jobs and manage_status_change move jobs)`, 'status');
  }
  await checkReferences(tx, job.workflow_id, [{ ...job, ...definedOnly(input) } as JobInput], () => '');
  const rrId = input.resource_requirements_id ?? job.resource_requirements_id!;
  const schedulerId = input.scheduler_id === undefined || input.scheduler_id === null ? job.scheduler_id : input.scheduler_id;
  const cls = await claimClassId(tx, job.workflow_id, rrId, schedulerId);
  const next = { ...job, ...definedOnly(input) };
  await tx.run(
    `UPDATE jobs SET name = ?, command = ?, invocation_script = ?, resource_requirements_id = ?, scheduler_id = ?, failure_handler_id = ?,
       claim_class_id = ?, cancel_on_blocking_job_failure = ?, supports_termination = ?, image = ?, env = ?, status = ? WHERE id = ?`,
    [
      next.name,
      next.command,
      next.invocation_script,
      rrId,
      schedulerId,
      next.failure_handler_id,
      cls,
      next.cancel_on_blocking_job_failure ? 1 : 0,
      next.supports_termination ? 1 : 0,
      next.image,
      next.env ? JSON.stringify(next.env) : null,
      S[next.status ?? job.status],
      jobId,
    ],
  );
  const relationChanges = RELATIONS.filter((r) => changed.includes(r.field));
  for (const r of relationChanges) await tx.run(`DELETE FROM ${r.table} WHERE job_id = ?`, [jobId]);
  await insertRelations(tx, jobId, input, relationChanges.map((r) => r.field));
  if (relationChanges.some((r) => r.field === 'depends_on_job_ids')) await refuseCycles(tx, job.workflow_id);
  return (await readJobs(tx, [jobId]))[0]!;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/**
 * Deletes a job with its relations and results. Its blocked dependents stop waiting for it
 * (those with nothing else to wait for become ready), so nothing is left stuck.
 */
export async function deleteJobInTx(tx: WriteTx, jobId: number, now: string): Promise<JobWithRelations> {
  const [job] = await readJobs(tx, [jobId]).catch(() => [undefined]);
  if (!job) throw new NotFoundError(`job ${jobId}`);
  if (job.status === 'pending' || job.status === 'running') {
    throw new ConflictError(`job ${jobId} is ${job.status}: a runner holds it (cancel the workflow or wait for it to finish)`);
  }
  if (!(FINISHED_STATES as readonly number[]).includes(S[job.status])) await cascadeFinished(tx, [jobId], false, now);
  await tx.run('DELETE FROM jobs WHERE id = ?', [jobId]);
  return job;
}

/**
 * torc's initialize step: a job that reads a file or user data another job of the workflow
 * writes waits for that job. Adds those dependencies (idempotent: a planned workflow has them
 * already) and refuses a workflow whose dependencies form a cycle. Returns how many were added.
 */
export async function impliedDependencies(tx: WriteTx, workflowId: number): Promise<number> {
  let added = 0;
  for (const [inputs, outputs, column] of [
    ['job_input_files', 'job_output_files', 'file_id'],
    ['job_input_user_data', 'job_output_user_data', 'user_data_id'],
  ] as const) {
    const res = await tx.run(
      `INSERT OR IGNORE INTO job_dependencies (job_id, blocked_by_job_id)
       SELECT i.job_id, o.job_id FROM ${inputs} i
       JOIN ${outputs} o ON o.${column} = i.${column}
       JOIN jobs j ON j.id = i.job_id
       WHERE j.workflow_id = ? AND o.job_id != i.job_id`,
      [workflowId],
    );
    added += res.changes;
  }
  if (added > 0) await refuseCycles(tx, workflowId);
  return added;
}

/** Kahn's algorithm over the workflow's dependencies; InputError naming a job on a cycle. */
export async function refuseCycles(q: Reader, workflowId: number): Promise<void> {
  const edges = await q.all<{ job_id: number; blocker: number }>(
    'SELECT d.job_id, d.blocked_by_job_id AS blocker FROM job_dependencies d JOIN jobs j ON j.id = d.job_id WHERE j.workflow_id = ?',
    [workflowId],
  );
  const remaining = new Map<number, number>();
  const dependents = new Map<number, number[]>();
  for (const e of edges) {
    remaining.set(e.job_id, (remaining.get(e.job_id) ?? 0) + 1);
    if (!remaining.has(e.blocker)) remaining.set(e.blocker, 0);
    const list = dependents.get(e.blocker);
    if (list) list.push(e.job_id);
    else dependents.set(e.blocker, [e.job_id]);
  }
  const queue = [...remaining].filter(([, n]) => n === 0).map(([id]) => id);
  let seen = 0;
  while (queue.length > 0) {
    const b = queue.pop()!;
    seen++;
    for (const d of dependents.get(b) ?? []) {
      const n = remaining.get(d)! - 1;
      remaining.set(d, n);
      if (n === 0) queue.push(d);
    }
  }
  if (seen === remaining.size) return;
  const onCycle = [...remaining].find(([, n]) => n > 0)![0];
  const name = (await q.get<{ name: string }>('SELECT name FROM jobs WHERE id = ?', [onCycle]))?.name;
  throw new InputError(`dependency cycle through job ${onCycle} ("${name}"): its files, user data or depends_on_job_ids lead back to it`, 'depends_on_job_ids');
}

const NAMES_OF_FINISHED = new Set<JobStatusName>(['completed', 'failed', 'canceled', 'terminated', 'pending_failed', 'disabled']);
/** Statuses only complete_job may set: they need a result. */
const COMPLETION_ONLY = new Set<JobStatusName>(['completed', 'failed', 'canceled', 'terminated', 'pending_failed']);

async function unfinishedBlockers(q: Reader, jobId: number): Promise<number> {
  const row = await q.get<{ n: number }>(
    `SELECT COUNT(*) AS n FROM job_dependencies d JOIN jobs b ON b.id = d.blocked_by_job_id
     WHERE d.job_id = ? AND b.status NOT IN (${FINISHED_STATES.join(', ')})`,
    [jobId],
  );
  return row!.n;
}

/**
 * torc's manage_status_change: moves a job to a status that needs no result, keeping the
 * dependency bookkeeping right. Completion statuses are refused (complete_job records the
 * result they need); so is a stale run_id (InputError → 422, as torc answers). Back to
 * uninitialized from a finished status resets everything downstream too (torc's completion
 * reversal); ready needs no unfinished blocker; disabled stops blocking dependents.
 */
export async function manageStatusChangeInTx(tx: WriteTx, jobId: number, target: JobStatusName, runId: number, now: string): Promise<JobRecord> {
  if (COMPLETION_ONLY.has(target)) throw new InputError(`${target} is set by complete_job, which records the result; manage_status_change does not`, 'status');
  const row = await tx.get(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`, [jobId]);
  if (!row) throw new NotFoundError(`job ${jobId}`);
  const job = toJob(row);
  if (job.status === target) return job;
  const wf = await tx.get<{ run_id: number }>('SELECT run_id FROM workflows WHERE id = ?', [job.workflow_id]);
  if (wf!.run_id !== runId) throw new InputError(`run_id ${runId} is stale: workflow ${job.workflow_id} is on run ${wf!.run_id}`, 'run_id');
  const from = job.status;
  const fromFinished = NAMES_OF_FINISHED.has(from);
  const refuse = (why: string) => {
    throw new InputError(`job ${jobId} cannot go from ${from} to ${target}: ${why}`, 'status');
  };
  const set = (sql: string, params: unknown[] = []) => tx.run(`UPDATE jobs SET ${sql} WHERE id = ?`, [...(params as never[]), jobId]);
  switch (target) {
    case 'uninitialized': {
      await set(`status = ${S.uninitialized}, unfinished_blockers = 0, compute_node_id = NULL, claimed_at = NULL, started_at = NULL, completed_at = NULL`);
      if (fromFinished) {
        // Downstream jobs ran on (or were canceled because of) what this job did: reset them too.
        await tx.run(
          `WITH RECURSIVE downstream(id) AS (
             SELECT job_id FROM job_dependencies WHERE blocked_by_job_id = ?
             UNION SELECT d.job_id FROM downstream JOIN job_dependencies d ON d.blocked_by_job_id = downstream.id)
           UPDATE jobs SET status = ${S.uninitialized}, unfinished_blockers = 0, compute_node_id = NULL, claimed_at = NULL, started_at = NULL, completed_at = NULL
           WHERE id IN (SELECT id FROM downstream) AND status NOT IN (${S.pending}, ${S.running})`,
          [jobId],
        );
      }
      break;
    }
    case 'blocked': {
      if (fromFinished) refuse('a finished job goes back through uninitialized');
      const n = await unfinishedBlockers(tx, jobId);
      if (n === 0) refuse('nothing it waits for is unfinished (it would never become ready)');
      await set(`status = ${S.blocked}, unfinished_blockers = ?, compute_node_id = NULL`, [n]);
      break;
    }
    case 'ready': {
      if (fromFinished) refuse('a finished job goes back through uninitialized');
      if ((await unfinishedBlockers(tx, jobId)) > 0) refuse('jobs it waits for are unfinished');
      await set(`status = ${S.ready}, unfinished_blockers = 0, compute_node_id = NULL, claimed_at = NULL, started_at = NULL`);
      break;
    }
    case 'pending': {
      if (from !== 'ready' && from !== 'running') refuse('only a ready (or running) job can be pending');
      await set(`status = ${S.pending}, claimed_at = ?`, [now]);
      break;
    }
    case 'running': {
      if (from !== 'ready' && from !== 'pending') refuse('only a ready or pending job can start');
      await set(`status = ${S.running}, started_at = ?`, [now]);
      break;
    }
    case 'disabled': {
      if (fromFinished) refuse('a finished job goes back through uninitialized');
      await set(`status = ${S.disabled}, completed_at = ?`, [now]);
      // A disabled job no longer holds anything up.
      if (from !== 'uninitialized') await cascadeFinished(tx, [jobId], false, now);
      break;
    }
  }
  return toJob((await tx.get(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`, [jobId]))!);
}
