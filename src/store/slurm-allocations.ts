/**
 * Slurm allocations of workflows (table slurm_allocations, migration 2): the store side of the
 * Slurm runner's AllocationRegistry. Kept beside the Store rather than in it so the Slurm
 * runner's record keeping stays in one small module.
 */
import type { ReadyClassCount } from '../allocator/types.js';
import { InputError, NotFoundError } from '../errors.js';
import type { AllocationRecord, AllocationRegistry } from '../contract/slurm-allocations.js';
import type { Store } from './index.js';
import { retireNodes } from './nodes.js';
import { JobStatus } from '../contract/status.js';

type Row = Omit<AllocationRecord, 'ended'> & { ended: number };

const toRecord = (r: Row): AllocationRecord => ({ ...r, ended: r.ended !== 0 });

export class SlurmAllocationStore implements AllocationRegistry {
  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  private get db() {
    return this.store.db;
  }

  async recordAllocation(a: { workflow_id: number; scheduler_config_id: number; slurm_job_id: string; state: string }): Promise<AllocationRecord> {
    if (!/^\d+$/.test(a.slurm_job_id)) throw new InputError(`expected a Slurm job id, got "${a.slurm_job_id}"`, 'slurm_job_id');
    const now = new Date(this.clock()).toISOString();
    const id = await this.db.withWriteTransaction(async (tx) => {
      const sched = await tx.get<{ workflow_id: number }>('SELECT workflow_id FROM slurm_schedulers WHERE id = ?', [a.scheduler_config_id]);
      if (!sched || sched.workflow_id !== a.workflow_id) throw new NotFoundError(`slurm scheduler ${a.scheduler_config_id} of workflow ${a.workflow_id}`);
      const res = await tx.run(
        `INSERT INTO slurm_allocations (workflow_id, scheduler_config_id, slurm_job_id, state, ended, created_at, updated_at)
         VALUES (?, ?, ?, ?, 0, ?, ?)`,
        [a.workflow_id, a.scheduler_config_id, a.slurm_job_id, a.state, now, now],
      );
      return res.lastID;
    });
    return this.get(id);
  }

  async get(allocationId: number): Promise<AllocationRecord> {
    const row = await this.db.get<Row>('SELECT * FROM slurm_allocations WHERE id = ?', [allocationId]);
    if (!row) throw new NotFoundError(`slurm allocation ${allocationId}`);
    return toRecord(row);
  }

  async listAllocations(workflowId: number): Promise<AllocationRecord[]> {
    return (await this.db.all<Row>('SELECT * FROM slurm_allocations WHERE workflow_id = ? ORDER BY id', [workflowId])).map(toRecord);
  }

  async listOpenAllocations(workflowId: number): Promise<AllocationRecord[]> {
    return (await this.db.all<Row>('SELECT * FROM slurm_allocations WHERE workflow_id = ? AND ended = 0 ORDER BY id', [workflowId])).map(toRecord);
  }

  async updateAllocationState(allocationId: number, state: string, ended: boolean): Promise<void> {
    const now = new Date(this.clock()).toISOString();
    await this.db.withWriteTransaction(async (tx) => {
      const res = await tx.run('UPDATE slurm_allocations SET state = ?, ended = ?, updated_at = ? WHERE id = ?', [state, ended ? 1 : 0, now, allocationId]);
      if (res.changes === 0) throw new NotFoundError(`slurm allocation ${allocationId}`);
    });
  }

  /** Deletes allocation records (one, or every one of a workflow); returns them as they were. Nothing else changes. */
  async deleteAllocations(which: { id: number } | { workflow_id: number }): Promise<AllocationRecord[]> {
    return this.db.withWriteTransaction(async (tx) => {
      const rows =
        'id' in which
          ? await tx.all<Row>('SELECT * FROM slurm_allocations WHERE id = ?', [which.id])
          : await tx.all<Row>('SELECT * FROM slurm_allocations WHERE workflow_id = ? ORDER BY id', [which.workflow_id]);
      if ('id' in which && rows.length === 0) throw new NotFoundError(`slurm allocation ${which.id}`);
      await tx.run('DELETE FROM slurm_allocations WHERE id IN (SELECT value FROM json_each(?))', [JSON.stringify(rows.map((r) => r.id))]);
      return rows.map(toRecord);
    });
  }

  /** Retires the active compute nodes registered from this allocation; their unfinished jobs go back to ready. */
  async requeueAllocationJobs(workflowId: number, slurmJobId: string): Promise<number> {
    const now = new Date(this.clock()).toISOString();
    return this.db.withWriteTransaction(async (tx) => {
      const nodes = await tx.all<{ id: number }>(
        'SELECT id FROM compute_nodes WHERE workflow_id = ? AND scheduler_job_id = ? AND active = 1 ORDER BY id',
        [workflowId, slurmJobId],
      );
      return retireNodes(
        tx,
        nodes.map((n) => n.id),
        now,
      );
    });
  }

  async requeueLostNodeJobs(workflowId: number, slurmJobId: string, nodes: readonly string[]): Promise<{ hosts: string[]; requeued: number }> {
    const now = new Date(this.clock()).toISOString();
    return this.db.withWriteTransaction(async (tx) => {
      const lost = await tx.all<{ id: number; hostname: string }>(
        `SELECT id, hostname FROM compute_nodes
         WHERE workflow_id = ? AND scheduler_job_id = ? AND active = 1 AND hostname NOT IN (SELECT value FROM json_each(?)) ORDER BY id`,
        [workflowId, slurmJobId, JSON.stringify(nodes)],
      );
      if (lost.length === 0) return { hosts: [], requeued: 0 };
      const requeued = await retireNodes(
        tx,
        lost.map((n) => n.id),
        now,
      );
      return { hosts: [...new Set(lost.map((n) => n.hostname))], requeued };
    });
  }

  /** Ready jobs grouped by scheduler, runtime and node count: what the Slurm dispatch serves. */
  async readyClassCounts(workflowId: number): Promise<ReadyClassCount[]> {
    return this.db.all<ReadyClassCount>(
      `SELECT c.scheduler_id AS scheduler_id, r.runtime_seconds AS runtime_seconds, r.num_nodes AS num_nodes, COUNT(*) AS count
       FROM jobs j JOIN claim_classes c ON c.id = j.claim_class_id JOIN resource_requirements r ON r.id = c.resource_requirements_id
       WHERE j.workflow_id = ? AND j.status = ${JobStatus.ready}
       GROUP BY j.claim_class_id ORDER BY j.claim_class_id`,
      [workflowId],
    );
  }
}
