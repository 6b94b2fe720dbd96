/**
 * Storing a Plan: one write transaction, rows inserted in batches through `json_each` (one
 * prepared statement per table, thousands of rows per call), ids assigned up front so that
 * the plan's indices map to row ids without reading anything back.
 */
import { InputError, type InputIssue } from '../errors.js';
import type { Plan, PlanJob } from '../spec/plan.js';
import type { StreamedPlan } from '../spec/stream-plan.js';
import type { WriteTx } from './db.js';
import type { WorkflowMeta } from './records.js';

/** Rows per batched INSERT: large enough to amortize the call, small enough to bound memory. */
const BATCH_ROWS = 5000;

/**
 * The first free id of an AUTOINCREMENT table. Rows inserted with explicit ids from here on
 * advance sqlite_sequence, so ids are never reused, even after deletes.
 */
async function firstFreeId(tx: WriteTx, table: string): Promise<number> {
  const row = await tx.get<{ next: number }>(
    `SELECT MAX(IFNULL((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), IFNULL((SELECT MAX(id) FROM ${table}), 0)) + 1 AS next`,
    [table],
  );
  return row!.next;
}

/** Runs `sql` (which reads `json_each(?)` as its last parameter) over rows in batches. */
async function insertBatched(tx: WriteTx, sql: string, rows: unknown[][], leading: (string | number | null)[] = []) {
  for (let i = 0; i < rows.length; i += BATCH_ROWS) {
    await tx.run(sql, [...leading, JSON.stringify(rows.slice(i, i + BATCH_ROWS))]);
  }
}

/**
 * SQLite's page cache is 2 MB by default; a large workflow's index B-trees (jobs by name above
 * all) then go to the file system for every insert: 1M jobs stored in 56 s instead of 20 s
 * (load 14). Raised to ~256 bytes per job (at most 1 GiB) for large plans; never lowered, so a
 * process that created a huge workflow keeps the larger cache until the store closes.
 */
async function growPageCache(tx: WriteTx, jobCount: number): Promise<void> {
  const wantKiB = Math.min(1024 * 1024, Math.ceil(jobCount / 4));
  if (wantKiB <= 2000) return;
  const row = await tx.get<{ cache_size: number }>('PRAGMA cache_size');
  const current = row!.cache_size;
  // Negative: KiB; positive: pages (page_size bytes each, 4 KiB by default).
  const currentKiB = current < 0 ? -current : current * 4;
  if (currentKiB < wantKiB) await tx.run(`PRAGMA cache_size = -${wantKiB}`);
}

function jobsOf(plan: Plan | StreamedPlan): Iterable<PlanJob> {
  return 'job_count' in plan ? plan.eachJob() : plan.jobs;
}

/** Index checks the store relies on; the spec pipeline should never produce a plan that fails them. */
export function checkPlan(plan: Plan): void {
  const issues: InputIssue[] = [];
  const n = plan.jobs.length;
  const inRange = (v: number | null, len: number, path: string, nullable: boolean) => {
    if (v === null ? !nullable : !(Number.isInteger(v) && v >= 0 && v < len)) {
      issues.push({ path, message: `index ${v} is out of range (0..${len - 1})` });
    }
  };
  if (plan.dep_offsets.length !== n + 1) {
    issues.push({ path: 'plan.dep_offsets', message: `length ${plan.dep_offsets.length}, expected ${n + 1}` });
  } else if (plan.dep_offsets[n] !== plan.dep_targets.length) {
    issues.push({ path: 'plan.dep_offsets', message: 'last offset must equal dep_targets.length' });
  }
  plan.jobs.forEach((job, i) => {
    const p = `plan.jobs[${i}]`;
    inRange(job.resource_class, plan.resource_classes.length, `${p}.resource_class`, false);
    inRange(job.scheduler, plan.slurm_schedulers.length, `${p}.scheduler`, true);
    inRange(job.failure_handler, plan.failure_handlers.length, `${p}.failure_handler`, true);
    job.input_files.forEach((f, k) => inRange(f, plan.files.length, `${p}.input_files[${k}]`, false));
    job.output_files.forEach((f, k) => inRange(f, plan.files.length, `${p}.output_files[${k}]`, false));
    job.input_user_data.forEach((f, k) => inRange(f, plan.user_data.length, `${p}.input_user_data[${k}]`, false));
    job.output_user_data.forEach((f, k) => inRange(f, plan.user_data.length, `${p}.output_user_data[${k}]`, false));
  });
  plan.dep_targets.forEach((t, k) => {
    if (t >= n) issues.push({ path: `plan.dep_targets[${k}]`, message: `job index ${t} is out of range (0..${n - 1})` });
  });
  plan.actions.forEach((a, i) => {
    inRange(a.scheduler, plan.slurm_schedulers.length, `plan.actions[${i}].scheduler`, true);
    a.jobs.forEach((j, k) => inRange(j, n, `plan.actions[${i}].jobs[${k}]`, false));
  });
  if (issues.length > 0) throw new InputError(issues.slice(0, 20));
  const cycleAt = findCycle(plan);
  if (cycleAt !== null) {
    throw new InputError(`dependency cycle through job "${plan.jobs[cycleAt]!.name}"`, `plan.jobs[${cycleAt}].depends_on`);
  }
}

/** Kahn's algorithm over the CSR graph: a job index on a cycle, or null. O(jobs + edges). */
function findCycle(plan: Plan): number | null {
  const n = plan.jobs.length;
  const remaining = new Uint32Array(n);
  const dependentsCount = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    remaining[i] = plan.dep_offsets[i + 1]! - plan.dep_offsets[i]!;
    for (let k = plan.dep_offsets[i]!; k < plan.dep_offsets[i + 1]!; k++) dependentsCount[plan.dep_targets[k]! + 1]!++;
  }
  for (let i = 0; i < n; i++) dependentsCount[i + 1]! += dependentsCount[i]!;
  const dependents = new Uint32Array(plan.dep_targets.length);
  const fill = dependentsCount.slice(0, n);
  for (let i = 0; i < n; i++) {
    for (let k = plan.dep_offsets[i]!; k < plan.dep_offsets[i + 1]!; k++) dependents[fill[plan.dep_targets[k]!]!++] = i;
  }
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (remaining[i] === 0) queue.push(i);
  let seen = 0;
  while (queue.length > 0) {
    const b = queue.pop()!;
    seen++;
    for (let k = dependentsCount[b]!; k < dependentsCount[b + 1]!; k++) {
      const d = dependents[k]!;
      if (--remaining[d]! === 0) queue.push(d);
    }
  }
  if (seen === n) return null;
  for (let i = 0; i < n; i++) if (remaining[i]! > 0) return i;
  return null;
}

/**
 * Inserts the whole plan; returns the new workflow id. Call inside a write transaction. A
 * streamed plan's jobs are generated batch by batch (never all in memory) and its spec hash is
 * computed on the way and stored at the end.
 */
export async function insertPlan(tx: WriteTx, plan: Plan | StreamedPlan, meta: WorkflowMeta, now: string): Promise<number> {
  const jobs = jobsOf(plan);
  const jobCount = 'job_count' in plan ? plan.job_count : plan.jobs.length;
  const hasher = 'job_count' in plan ? plan.hasher() : null;
  await growPageCache(tx, jobCount);
  const wf = await tx.run(
    `INSERT INTO workflows (name, user, description, k8s_namespace, k8s_name, k8s_uid, spec_hash, settings, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      plan.name,
      plan.user,
      plan.description,
      meta.k8s_namespace ?? null,
      meta.k8s_name ?? null,
      meta.k8s_uid ?? null,
      'spec_hash' in plan ? plan.spec_hash : null,
      JSON.stringify(plan.settings),
      now,
    ],
  );
  const workflowId = wf.lastID;

  const rrBase = await firstFreeId(tx, 'resource_requirements');
  await insertBatched(
    tx,
    `INSERT INTO resource_requirements (id, workflow_id, name, num_cpus, memory_bytes, num_gpus, num_nodes, runtime_seconds)
     SELECT value->>0, ?, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(?)`,
    plan.resource_classes.map((r, i) => [rrBase + i, r.name, r.num_cpus, r.memory_bytes, r.num_gpus, r.num_nodes, r.runtime_seconds]),
    [workflowId],
  );

  const schedBase = await firstFreeId(tx, 'slurm_schedulers');
  await insertBatched(
    tx,
    `INSERT INTO slurm_schedulers (id, workflow_id, name, account, partition, nodes, walltime, mem, gres, qos, ntasks_per_node, tmp, extra)
     SELECT value->>0, ?, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10, value->>11
     FROM json_each(?)`,
    plan.slurm_schedulers.map((s, i) => [
      schedBase + i, s.name, s.account, s.partition, s.nodes, s.walltime, s.mem, s.gres, s.qos, s.ntasks_per_node, s.tmp, s.extra,
    ]),
    [workflowId],
  );

  const fhBase = await firstFreeId(tx, 'failure_handlers');
  await insertBatched(
    tx,
    `INSERT INTO failure_handlers (id, workflow_id, name, rules) SELECT value->>0, ?, value->>1, value->>2 FROM json_each(?)`,
    plan.failure_handlers.map((h, i) => [fhBase + i, h.name, JSON.stringify(h.rules)]),
    [workflowId],
  );

  const fileBase = await firstFreeId(tx, 'files');
  await insertBatched(
    tx,
    `INSERT INTO files (id, workflow_id, name, path) SELECT value->>0, ?, value->>1, value->>2 FROM json_each(?)`,
    plan.files.map((f, i) => [fileBase + i, f.name, f.path]),
    [workflowId],
  );

  const udBase = await firstFreeId(tx, 'user_data');
  await insertBatched(
    tx,
    `INSERT INTO user_data (id, workflow_id, name, data, is_ephemeral) SELECT value->>0, ?, value->>1, value->>2, value->>3 FROM json_each(?)`,
    plan.user_data.map((u, i) => [udBase + i, u.name, u.data === undefined ? null : JSON.stringify(u.data), u.is_ephemeral ? 1 : 0]),
    [workflowId],
  );

  // One claim class per distinct (resource class, scheduler) pair used by a job, numbered in
  // order of first use; a batch's new classes are inserted before the batch's jobs.
  const classIndex = new Map<string, number>();
  let classRowsStored = 0;
  const classRows: [number, number | null][] = [];
  const classBase = await firstFreeId(tx, 'claim_classes');
  const jobBase = await firstFreeId(tx, 'jobs');
  const jobSql = `INSERT INTO jobs (id, workflow_id, name, command, invocation_script, resource_requirements_id, scheduler_id,
       failure_handler_id, claim_class_id, cancel_on_blocking_job_failure, supports_termination, image, env, hash)
     SELECT value->>0, ?, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9,
       value->>10, value->>11, value->>12
     FROM json_each(?)`;
  let batch: unknown[][] = [];
  const flush = async () => {
    if (classRows.length > classRowsStored) {
      await insertBatched(
        tx,
        `INSERT INTO claim_classes (id, workflow_id, resource_requirements_id, scheduler_id) SELECT value->>0, ?, value->>1, value->>2 FROM json_each(?)`,
        classRows.slice(classRowsStored).map(([rc, s], k) => [classBase + classRowsStored + k, rrBase + rc, s === null ? null : schedBase + s]),
        [workflowId],
      );
      classRowsStored = classRows.length;
    }
    if (batch.length > 0) await tx.run(jobSql, [workflowId, JSON.stringify(batch)]);
    batch = [];
  };
  let i = 0;
  for (const j of jobs) {
    const key = `${j.resource_class}/${j.scheduler ?? ''}`;
    let c = classIndex.get(key);
    if (c === undefined) {
      c = classRows.length;
      classIndex.set(key, c);
      classRows.push([j.resource_class, j.scheduler]);
    }
    hasher?.job(j);
    batch.push([
      jobBase + i,
      j.name,
      j.command,
      j.invocation_script,
      rrBase + j.resource_class,
      j.scheduler === null ? null : schedBase + j.scheduler,
      j.failure_handler === null ? null : fhBase + j.failure_handler,
      classBase + c,
      j.cancel_on_blocking_job_failure ? 1 : 0,
      j.supports_termination ? 1 : 0,
      j.image,
      j.env === null ? null : JSON.stringify(j.env),
      j.hash,
    ]);
    i++;
    if (batch.length === BATCH_ROWS) await flush();
  }
  await flush();

  // Dependencies straight from the CSR, one batch at a time.
  // OR IGNORE: a plan that lists a blocker twice still means one dependency.
  const depSql = `INSERT OR IGNORE INTO job_dependencies (job_id, blocked_by_job_id) SELECT value->>0, value->>1 FROM json_each(?)`;
  let deps: [number, number][] = [];
  for (let j = 0; j < jobCount; j++) {
    for (let k = plan.dep_offsets[j]!; k < plan.dep_offsets[j + 1]!; k++) {
      deps.push([jobBase + j, jobBase + plan.dep_targets[k]!]);
      if (deps.length === BATCH_ROWS) {
        await tx.run(depSql, [JSON.stringify(deps)]);
        deps = [];
      }
    }
  }
  if (deps.length > 0) await tx.run(depSql, [JSON.stringify(deps)]);
  if (hasher) {
    await tx.run('UPDATE workflows SET spec_hash = ? WHERE id = ?', [hasher.finish(plan.dep_offsets, plan.dep_targets), workflowId]);
  }

  const links = (pick: (j: PlanJob) => number[], base: number) => {
    const rows: [number, number][] = [];
    if (plan.files.length === 0 && plan.user_data.length === 0) return rows;
    let i = 0;
    for (const j of jobsOf(plan)) {
      new Set(pick(j)).forEach((x) => rows.push([jobBase + i, base + x]));
      i++;
    }
    return rows;
  };
  for (const [table, column, pick, base] of [
    ['job_input_files', 'file_id', (j: PlanJob) => j.input_files, fileBase],
    ['job_output_files', 'file_id', (j: PlanJob) => j.output_files, fileBase],
    ['job_input_user_data', 'user_data_id', (j: PlanJob) => j.input_user_data, udBase],
    ['job_output_user_data', 'user_data_id', (j: PlanJob) => j.output_user_data, udBase],
  ] as const) {
    await insertBatched(
      tx,
      `INSERT INTO ${table} (job_id, ${column}) SELECT value->>0, value->>1 FROM json_each(?)`,
      links(pick, base),
    );
  }

  await insertBatched(
    tx,
    `INSERT INTO actions (workflow_id, trigger_type, action_type, job_ids, commands, scheduler_id, scheduler_type,
       num_allocations, start_one_worker_per_node, max_parallel_jobs, persistent)
     SELECT ?, value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9
     FROM json_each(?)`,
    plan.actions.map((a) => [
      a.trigger_type,
      a.action_type,
      JSON.stringify(a.jobs.map((j) => jobBase + j)),
      JSON.stringify(a.commands),
      a.scheduler === null ? null : schedBase + a.scheduler,
      a.scheduler_type,
      a.num_allocations,
      a.start_one_worker_per_node ? 1 : 0,
      a.max_parallel_jobs,
      a.persistent ? 1 : 0,
    ]),
    [workflowId],
  );
  return workflowId;
}
