/**
 * THE claim transaction. Inside one BEGIN IMMEDIATE: read the workflow's claim classes (a
 * small table), let the allocator say which are eligible and how many rows of each could
 * possibly fit (fetchBudget), read only that many ready rows per class in queue order (an
 * index range scan on jobs_claim), let the allocator decide, and move the chosen rows
 * ready → pending. The cost follows the runner's capacity and the number of classes, never
 * the number of ready jobs.
 */
import { decideClaim, decideQueueDepth, eligibleClasses, fetchBudget, checkLimit } from '../allocator/index.js';
import type { ClaimCandidate, ClaimClass, ClaimDecision, ClaimOptions, ResourceNeed, RunnerCapacity } from '../allocator/types.js';
import type { ClaimByResourcesRequest, ClaimedJobFile, ClaimedJobRecord, ClaimResponse } from '../contract/client.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { Queryable, WriteTx } from './db.js';
import { JOB_COLUMNS, toJob, toWorkflow, type WorkflowRecord } from './records.js';
import { JobStatus } from '../contract/status.js';
import { UNFINISHED_STATES } from './transitions.js';

const S = JobStatus;

/** Counters a test (or a metrics endpoint) can read to see how much a claim touched. */
export interface ClaimStats {
  claims: number;
  /** Ready job rows returned by the per-class candidate SELECTs, summed over claims. */
  candidate_rows_read: number;
  /** Per-class candidate SELECTs run, summed over claims. */
  class_queries: number;
}

export function newClaimStats(): ClaimStats {
  return { claims: 0, candidate_rows_read: 0, class_queries: 0 };
}

/** Candidate rows of one class, in queue order; an index range scan on jobs_claim. */
export const CLASS_CANDIDATES_SQL = `SELECT id FROM jobs
  WHERE workflow_id = ? AND status = ${S.ready} AND claim_class_id = ? ORDER BY id LIMIT ?`;

interface ClassRow extends ResourceNeed {
  id: number;
  scheduler_id: number | null;
}

/** Whether every job of the workflow is finished (read only when a claim found nothing). */
async function completeReason(tx: WriteTx, wf: WorkflowRecord): Promise<string | null> {
  const open = await tx.get(
    `SELECT 1 FROM jobs WHERE workflow_id = ? AND status IN (${UNFINISHED_STATES.join(', ')}) LIMIT 1`,
    [wf.id],
  );
  return open ? null : `workflow ${wf.id} is complete`;
}

/**
 * Claim-and-start: the runner's run id. With it the claimed jobs go ready → running at once
 * (what start_job would do next), saving the runner a start transaction per claim.
 */
export interface ClaimStart {
  run_id: number;
}

/** The workflow and the claiming compute node (checked) in one read. */
async function loadWorkflowAndNode(
  tx: WriteTx,
  workflowId: number,
  computeNodeId: number | null | undefined,
): Promise<{ wf: WorkflowRecord; nodeId: number | null }> {
  const nodeId = computeNodeId ?? null;
  const row = await tx.get(
    `SELECT w.*, (SELECT workflow_id FROM compute_nodes WHERE id = ?2) AS n_workflow_id, (SELECT active FROM compute_nodes WHERE id = ?2) AS n_active
     FROM workflows w WHERE w.id = ?1`,
    [workflowId, nodeId],
  );
  if (!row) throw new NotFoundError(`workflow ${workflowId}`);
  if (nodeId !== null) {
    if (row.n_workflow_id !== workflowId) throw new NotFoundError(`compute node ${nodeId} of workflow ${workflowId}`);
    if (!row.n_active) throw new ConflictError(`compute node ${nodeId} is no longer active (its lease expired or it was deactivated); register again`);
  }
  return { wf: toWorkflow(row), nodeId };
}

function checkStart(wf: WorkflowRecord, nodeId: number | null, start: ClaimStart | undefined): void {
  if (!start) return;
  if (nodeId === null) throw new InputError('required to start the claimed jobs', 'compute_node_id');
  if (start.run_id !== wf.run_id) throw new ConflictError(`run_id ${start.run_id} is stale: workflow ${wf.id} is on run ${wf.run_id}`);
}

/**
 * The claimed job rows with their resources and files; read in one statement. Files come in
 * file id order: the (job_id, file_id) primary key is what the subqueries scan.
 */
const CLAIMED_ROWS_SQL = `SELECT ${JOB_COLUMNS.split(',').map((c) => `jobs.${c.trim()}`).join(', ')},
   r.num_cpus AS r_num_cpus, r.memory_bytes AS r_memory_bytes, r.num_gpus AS r_num_gpus,
   r.num_nodes AS r_num_nodes, r.runtime_seconds AS r_runtime_seconds,
   (SELECT json_group_array(json_array(f.id, f.path)) FROM job_input_files jf JOIN files f ON f.id = jf.file_id WHERE jf.job_id = jobs.id) AS input_files,
   (SELECT json_group_array(json_array(f.id, f.path)) FROM job_output_files jf JOIN files f ON f.id = jf.file_id WHERE jf.job_id = jobs.id) AS output_files
 FROM jobs JOIN resource_requirements r ON r.id = jobs.resource_requirements_id`;

/** Pending and running jobs of a workflow, as claimed records (the operator places those without a pod). */
export async function readHeldJobs(q: Queryable, workflowId: number): Promise<ClaimedJobRecord[]> {
  const rows = await q.all<ClaimedRow>(
    `${CLAIMED_ROWS_SQL} WHERE jobs.workflow_id = ? AND jobs.status IN (${S.pending}, ${S.running}) ORDER BY jobs.status, jobs.id`,
    [workflowId],
  );
  return rows.map((r) => toClaimed(r, []));
}

/** Queue-depth candidates, read whole (they are the claimed rows); an index range scan on jobs_status. */
export const QUEUE_CANDIDATES_SQL = `${CLAIMED_ROWS_SQL} WHERE jobs.workflow_id = ? AND jobs.status = ${S.ready} ORDER BY jobs.id LIMIT ?`;

type ClaimedRow = Record<string, unknown> & { id: number; input_files: string; output_files: string };

function toClaimed(r: ClaimedRow, nodes: string[]): ClaimedJobRecord {
  const files: ClaimedJobFile[] = [
    ...(JSON.parse(r.input_files) as [number, string][]).map(([id, path]) => ({ id, path, kind: 'input' as const })),
    ...(JSON.parse(r.output_files) as [number, string][]).map(([id, path]) => ({ id, path, kind: 'output' as const })),
  ];
  return {
    ...toJob(r),
    resources: {
      num_cpus: r.r_num_cpus as number,
      memory_bytes: r.r_memory_bytes as number,
      num_gpus: r.r_num_gpus as number,
      num_nodes: r.r_num_nodes as number,
      runtime_seconds: r.r_runtime_seconds as number,
    },
    assigned_nodes: nodes,
    // The runner reports these files' times on completion.
    files,
  };
}

/**
 * Moves the decided rows ready → pending (or → running with `start`) and returns them as
 * claimed records, in the allocator's order (the order in which the runner should start them).
 * `rows`: the claimed rows already read (queue depth reads them as its candidates).
 */
async function applyDecision(
  tx: WriteTx,
  decision: ClaimDecision,
  computeNodeId: number | null,
  now: string,
  start: ClaimStart | undefined,
  rows?: ClaimedRow[],
): Promise<ClaimedJobRecord[]> {
  if (decision.claimed.length === 0) return [];
  const ids = JSON.stringify(decision.claimed.map((c) => c.job_id));
  const status = start ? S.running : S.pending;
  const res = await tx.run(
    `UPDATE jobs SET status = ${status}, compute_node_id = ?, claimed_at = ?${start ? ', started_at = ?' : ''}
     WHERE id IN (SELECT value FROM json_each(?)) AND status = ${S.ready}`,
    start ? [computeNodeId, now, now, ids] : [computeNodeId, now, ids],
  );
  // Rows were read ready in this same write transaction, so every one must have moved.
  if (res.changes !== decision.claimed.length) {
    throw new Error(`claim moved ${res.changes} of ${decision.claimed.length} jobs; refusing a partial claim`);
  }
  const read = rows ?? (await tx.all<ClaimedRow>(`${CLAIMED_ROWS_SQL} WHERE jobs.id IN (SELECT value FROM json_each(?))`, [ids]));
  const byId = new Map(read.map((r) => [r.id, r]));
  const statusName = start ? 'running' : 'pending';
  return decision.claimed.map((c) => ({ ...toClaimed(byId.get(c.job_id)!, c.nodes), status: statusName, compute_node_id: computeNodeId }));
}

/** claim_jobs_based_on_resources. Call inside a write transaction. */
export async function claimByResources(
  tx: WriteTx,
  workflowId: number,
  req: ClaimByResourcesRequest,
  stats: ClaimStats,
  now: string,
  start?: ClaimStart,
): Promise<ClaimResponse> {
  checkLimit(req.limit, 'limit');
  // The API builds capacities with capacityFromPooled/capacityFromNodes; guard the shape anyway.
  if (!req.capacity || !Array.isArray(req.capacity.nodes)) throw new InputError('expected a runner capacity with a list of nodes', 'capacity');
  const { wf, nodeId: computeNodeId } = await loadWorkflowAndNode(tx, workflowId, req.compute_node_id);
  const options: ClaimOptions = {
    sort_method: req.sort_method ?? wf.settings.jobs_sort_method ?? 'none',
    strict_scheduler_match: req.strict_scheduler_match ?? false,
    any_scheduler: req.any_scheduler ?? false,
    limit: req.limit,
  };
  if (wf.status === 'canceled') return { jobs: [], reason: `workflow ${wf.id} is canceled` };
  checkStart(wf, computeNodeId, start);
  stats.claims++;

  const classes = await readClasses(tx, workflowId);
  if (classes.length === 0) {
    const complete = await completeReason(tx, wf);
    if (complete) return { jobs: [], reason: complete };
  }
  const capacity: RunnerCapacity = req.capacity;
  const eligible = eligibleClasses(capacity, classes, options);
  const budget = fetchBudget(capacity, eligible, options);
  const candidates: ClaimCandidate[] = [];
  for (const cls of eligible) {
    const rows = budget.get(cls.key) ?? 0;
    if (rows <= 0) continue;
    const found = await tx.all<{ id: number }>(CLASS_CANDIDATES_SQL, [workflowId, Number(cls.key), rows]);
    stats.class_queries++;
    stats.candidate_rows_read += found.length;
    for (const f of found) candidates.push({ job_id: f.id, class_key: cls.key, order: f.id });
  }
  const decision = decideClaim(capacity, classes, candidates, options);
  const jobs = await applyDecision(tx, decision, computeNodeId, now, start);
  return { jobs, reason: jobs.length ? decision.reason : (decision.reason ?? 'no ready jobs') };
}

/** claim_next_jobs: the next `limit` ready jobs in queue order, resources ignored. */
export async function claimNext(
  tx: WriteTx,
  workflowId: number,
  limit: number,
  computeNodeId: number | null | undefined,
  stats: ClaimStats,
  now: string,
  start?: ClaimStart,
): Promise<ClaimResponse> {
  checkLimit(limit, 'limit');
  const { wf, nodeId } = await loadWorkflowAndNode(tx, workflowId, computeNodeId);
  if (wf.status === 'canceled') return { jobs: [], reason: `workflow ${wf.id} is canceled` };
  checkStart(wf, nodeId, start);
  stats.claims++;
  // The candidates are read whole (resources, files): they are the claimed rows.
  const found = await tx.all<ClaimedRow>(QUEUE_CANDIDATES_SQL, [workflowId, limit]);
  stats.class_queries++;
  stats.candidate_rows_read += found.length;
  if (found.length === 0) return { jobs: [], reason: (await completeReason(tx, wf)) ?? 'no ready jobs' };
  const decision = decideQueueDepth(found.map((f) => ({ job_id: f.id, class_key: '', order: f.id })), limit);
  const jobs = await applyDecision(tx, decision, nodeId, now, start, found);
  return { jobs, reason: decision.reason };
}

/**
 * The workflow's claim classes that have ready jobs (key = claim_classes.id) with their needs.
 * The EXISTS is one index seek per class, and keeps the allocator's reasons about real jobs.
 */
export async function readClasses(tx: WriteTx, workflowId: number): Promise<ClaimClass[]> {
  const rows = await tx.all<ClassRow>(
    `SELECT c.id, c.scheduler_id, r.num_cpus, r.memory_bytes, r.num_gpus, r.num_nodes, r.runtime_seconds
     FROM claim_classes c JOIN resource_requirements r ON r.id = c.resource_requirements_id
     WHERE c.workflow_id = ?
       AND EXISTS (SELECT 1 FROM jobs j WHERE j.workflow_id = c.workflow_id AND j.status = ${S.ready} AND j.claim_class_id = c.id)
     ORDER BY c.id`,
    [workflowId],
  );
  return rows.map((r) => ({
    key: String(r.id),
    scheduler_id: r.scheduler_id,
    need: {
      num_cpus: r.num_cpus,
      memory_bytes: r.memory_bytes,
      num_gpus: r.num_gpus,
      num_nodes: r.num_nodes,
      runtime_seconds: r.runtime_seconds,
    },
  }));
}
