/**
 * THE claim transaction. Inside one BEGIN IMMEDIATE: read the workflow's claim classes (a
 * small table), let the allocator say which are eligible and how many rows of each could
 * possibly fit (fetchBudget), read only that many ready rows per class in queue order (an
 * index range scan on jobs_claim), let the allocator decide, and move the chosen rows
 * ready → pending. The cost follows the runner's capacity and the number of classes, never
 * the number of ready jobs.
 */
import { decideClaim, eligibleClasses, fetchBudget, checkLimit } from '../allocator/index.js';
import type { ClaimCandidate, ClaimClass, ClaimDecision, ClaimOptions, RunnerCapacity } from '../allocator/types.js';
import type { ClaimByResourcesRequest, ClaimedJobFile, ClaimedJobRecord, ClaimResponse } from '../runners/client.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { WriteTx } from './db.js';
import { JOB_COLUMNS, toJob, toWorkflow, type WorkflowRecord } from './records.js';
import { JobStatus } from './status.js';
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

/** Queue-depth candidates; an index range scan on jobs_status. */
export const QUEUE_CANDIDATES_SQL = `SELECT id FROM jobs WHERE workflow_id = ? AND status = ${S.ready} ORDER BY id LIMIT ?`;

interface ClassRow {
  id: number;
  scheduler_id: number | null;
  num_cpus: number;
  memory_bytes: number;
  num_gpus: number;
  num_nodes: number;
  runtime_seconds: number;
}

/** Why a workflow hands out nothing at all (canceled / complete), else null. */
async function closedReason(tx: WriteTx, wf: WorkflowRecord): Promise<string | null> {
  if (wf.status === 'canceled') return `workflow ${wf.id} is canceled`;
  const open = await tx.get(
    `SELECT 1 FROM jobs WHERE workflow_id = ? AND status IN (${UNFINISHED_STATES.join(', ')}) LIMIT 1`,
    [wf.id],
  );
  return open ? null : `workflow ${wf.id} is complete`;
}

async function loadWorkflow(tx: WriteTx, workflowId: number): Promise<WorkflowRecord> {
  const row = await tx.get('SELECT * FROM workflows WHERE id = ?', [workflowId]);
  if (!row) throw new NotFoundError(`workflow ${workflowId}`);
  return toWorkflow(row);
}

async function checkComputeNode(tx: WriteTx, workflowId: number, computeNodeId: number | null | undefined): Promise<number | null> {
  if (computeNodeId === undefined || computeNodeId === null) return null;
  const node = await tx.get<{ workflow_id: number; active: number }>('SELECT workflow_id, active FROM compute_nodes WHERE id = ?', [
    computeNodeId,
  ]);
  if (!node || node.workflow_id !== workflowId) throw new NotFoundError(`compute node ${computeNodeId} of workflow ${workflowId}`);
  if (!node.active) throw new ConflictError(`compute node ${computeNodeId} is no longer active (its lease expired or it was deactivated); register again`);
  return computeNodeId;
}

/** Moves the decided rows ready → pending and returns them as claimed records. */
async function applyDecision(
  tx: WriteTx,
  decision: ClaimDecision,
  computeNodeId: number | null,
  now: string,
): Promise<ClaimedJobRecord[]> {
  if (decision.claimed.length === 0) return [];
  const ids = JSON.stringify(decision.claimed.map((c) => c.job_id));
  const res = await tx.run(
    `UPDATE jobs SET status = ${S.pending}, compute_node_id = ?, claimed_at = ?
     WHERE id IN (SELECT value FROM json_each(?)) AND status = ${S.ready}`,
    [computeNodeId, now, ids],
  );
  // Rows were read ready in this same write transaction, so every one must have moved.
  if (res.changes !== decision.claimed.length) {
    throw new Error(`claim moved ${res.changes} of ${decision.claimed.length} jobs; refusing a partial claim`);
  }
  const rows = await tx.all(
    `SELECT ${JOB_COLUMNS.split(',').map((c) => `j.${c.trim()}`).join(', ')},
       r.num_cpus AS r_num_cpus, r.memory_bytes AS r_memory_bytes, r.num_gpus AS r_num_gpus,
       r.num_nodes AS r_num_nodes, r.runtime_seconds AS r_runtime_seconds
     FROM jobs j JOIN resource_requirements r ON r.id = j.resource_requirements_id
     WHERE j.id IN (SELECT value FROM json_each(?))`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id as number, r]));
  // The jobs' files (PK range scans per job): the runner reports their times on completion.
  const fileRows = await tx.all<{ job_id: number; id: number; path: string; kind: 'input' | 'output' }>(
    `SELECT jf.job_id, f.id, f.path, 'input' AS kind FROM job_input_files jf JOIN files f ON f.id = jf.file_id
       WHERE jf.job_id IN (SELECT value FROM json_each(?1))
     UNION ALL
     SELECT jf.job_id, f.id, f.path, 'output' AS kind FROM job_output_files jf JOIN files f ON f.id = jf.file_id
       WHERE jf.job_id IN (SELECT value FROM json_each(?1))`,
    [ids],
  );
  const filesOf = new Map<number, ClaimedJobFile[]>();
  for (const f of fileRows) {
    const list = filesOf.get(f.job_id) ?? [];
    list.push({ id: f.id, path: f.path, kind: f.kind });
    filesOf.set(f.job_id, list);
  }
  // Keep the allocator's order: it is the order in which the runner should start them.
  return decision.claimed.map((c) => {
    const r = byId.get(c.job_id)!;
    return {
      ...toJob(r),
      resources: {
        num_cpus: r.r_num_cpus as number,
        memory_bytes: r.r_memory_bytes as number,
        num_gpus: r.r_num_gpus as number,
        num_nodes: r.r_num_nodes as number,
        runtime_seconds: r.r_runtime_seconds as number,
      },
      assigned_nodes: c.nodes,
      files: filesOf.get(c.job_id) ?? [],
    };
  });
}

/** claim_jobs_based_on_resources. Call inside a write transaction. */
export async function claimByResources(
  tx: WriteTx,
  workflowId: number,
  req: ClaimByResourcesRequest,
  stats: ClaimStats,
  now: string,
): Promise<ClaimResponse> {
  const wf = await loadWorkflow(tx, workflowId);
  const options: ClaimOptions = {
    sort_method: req.sort_method ?? wf.settings.jobs_sort_method ?? 'none',
    strict_scheduler_match: req.strict_scheduler_match ?? false,
    any_scheduler: req.any_scheduler ?? false,
    limit: req.limit,
  };
  checkLimit(options.limit, 'limit');
  // The API builds capacities with capacityFromPooled/capacityFromNodes; guard the shape anyway.
  if (!req.capacity || !Array.isArray(req.capacity.nodes)) throw new InputError('expected a runner capacity with a list of nodes', 'capacity');
  const computeNodeId = await checkComputeNode(tx, workflowId, req.compute_node_id);
  const closed = await closedReason(tx, wf);
  if (closed) return { jobs: [], reason: closed };
  stats.claims++;

  const classes = await readClasses(tx, workflowId);
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
  const jobs = await applyDecision(tx, decision, computeNodeId, now);
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
): Promise<ClaimResponse> {
  checkLimit(limit, 'limit');
  const wf = await loadWorkflow(tx, workflowId);
  const nodeId = await checkComputeNode(tx, workflowId, computeNodeId);
  const closed = await closedReason(tx, wf);
  if (closed) return { jobs: [], reason: closed };
  stats.claims++;
  const found = await tx.all<{ id: number }>(QUEUE_CANDIDATES_SQL, [workflowId, limit]);
  stats.class_queries++;
  stats.candidate_rows_read += found.length;
  const decision: ClaimDecision = { claimed: found.map((f) => ({ job_id: f.id, nodes: [] })), reason: found.length ? null : 'no ready jobs' };
  const jobs = await applyDecision(tx, decision, nodeId, now);
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
