/**
 * torc's access groups (groups, their members, the workflows shared with them) and remote
 * workers (hosts that run a workflow's workers), stored so torc's clients can manage them.
 * The API enforces access with permissionOf (src/api/access-control.ts).
 */
import { NotFoundError } from '../errors.js';
import type { Store } from './index.js';
import type { AccessGroupRecord } from './tables.js';

export interface MembershipRecord {
  id: number;
  user_name: string;
  group_id: number;
  role: string;
  created_at: string;
}

export interface WorkflowGroupRecord {
  workflow_id: number;
  group_id: number;
  created_at: string;
}

export interface RemoteWorkerRecord {
  workflow_id: number;
  worker: string;
}

/** What a user may do with a workflow. */
export type Permission = 'none' | 'read' | 'write';

/**
 * A membership role that grants reading only (our addition: torc's roles `member` and `admin`
 * both give full access to the group's workflows, as in torc).
 */
export const READ_ONLY_ROLE = 'reader';

/** Path collections whose records belong to one workflow → their table (for record → workflow). */
const RECORD_TABLES: Record<string, string> = {
  jobs: 'jobs',
  files: 'files',
  user_data: 'user_data',
  resource_requirements: 'resource_requirements',
  slurm_schedulers: 'slurm_schedulers',
  local_schedulers: 'local_schedulers',
  failure_handlers: 'failure_handlers',
  results: 'results',
  events: 'events',
  compute_nodes: 'compute_nodes',
  scheduled_compute_nodes: 'slurm_allocations',
};

export class AccessStore {
  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  private get db() {
    return this.store.db;
  }

  private now(): string {
    return new Date(this.clock()).toISOString();
  }

  private async requireGroup(q: Pick<Store['db'], 'get'>, groupId: number): Promise<void> {
    if (!(await q.get('SELECT 1 FROM access_groups WHERE id = ?', [groupId]))) throw new NotFoundError(`access group ${groupId}`);
  }

  createGroup(name: string, description: string | null): Promise<AccessGroupRecord> {
    return this.store.createRecord('access_groups', { name, description, created_at: this.now() });
  }

  async addMember(groupId: number, userName: string, role: string): Promise<MembershipRecord> {
    return this.db.withWriteTransaction(async (tx) => {
      await this.requireGroup(tx, groupId);
      const res = await tx.run('INSERT INTO user_group_memberships (user_name, group_id, role, created_at) VALUES (?, ?, ?, ?)', [userName, groupId, role, this.now()]);
      return (await tx.get<MembershipRecord>('SELECT * FROM user_group_memberships WHERE id = ?', [res.lastID]))!;
    });
  }

  async removeMember(groupId: number, userName: string): Promise<void> {
    await this.db.withWriteTransaction(async (tx) => {
      await this.requireGroup(tx, groupId);
      const res = await tx.run('DELETE FROM user_group_memberships WHERE group_id = ? AND user_name = ?', [groupId, userName]);
      if (res.changes === 0) throw new NotFoundError(`member ${userName} of access group ${groupId}`);
    });
  }

  async members(groupId: number): Promise<MembershipRecord[]> {
    await this.requireGroup(this.db, groupId);
    return this.db.all<MembershipRecord>('SELECT * FROM user_group_memberships WHERE group_id = ? ORDER BY id', [groupId]);
  }

  groupsOfUser(userName: string): Promise<AccessGroupRecord[]> {
    return this.db.all<AccessGroupRecord>(
      'SELECT g.* FROM access_groups g JOIN user_group_memberships m ON m.group_id = g.id WHERE m.user_name = ? ORDER BY g.id',
      [userName],
    );
  }

  async addWorkflow(workflowId: number, groupId: number): Promise<WorkflowGroupRecord> {
    return this.db.withWriteTransaction(async (tx) => {
      if (!(await tx.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
      await this.requireGroup(tx, groupId);
      await tx.run('INSERT INTO workflow_access_groups (workflow_id, group_id, created_at) VALUES (?, ?, ?)', [workflowId, groupId, this.now()]);
      return (await tx.get<WorkflowGroupRecord>('SELECT * FROM workflow_access_groups WHERE workflow_id = ? AND group_id = ?', [workflowId, groupId]))!;
    });
  }

  async removeWorkflow(workflowId: number, groupId: number): Promise<void> {
    await this.db.withWriteTransaction(async (tx) => {
      const res = await tx.run('DELETE FROM workflow_access_groups WHERE workflow_id = ? AND group_id = ?', [workflowId, groupId]);
      if (res.changes === 0) throw new NotFoundError(`access group ${groupId} of workflow ${workflowId}`);
    });
  }

  async groupsOfWorkflow(workflowId: number): Promise<AccessGroupRecord[]> {
    await this.store.getWorkflow(workflowId);
    return this.db.all<AccessGroupRecord>(
      'SELECT g.* FROM access_groups g JOIN workflow_access_groups w ON w.group_id = g.id WHERE w.workflow_id = ? ORDER BY g.id',
      [workflowId],
    );
  }

  /** torc's rule: the workflow's owner, or a member of a group it is shared with. */
  async hasAccess(workflowId: number, userName: string): Promise<boolean> {
    const wf = await this.store.getWorkflow(workflowId);
    if (wf.user === userName) return true;
    const shared = await this.db.get(
      'SELECT 1 FROM workflow_access_groups w JOIN user_group_memberships m ON m.group_id = w.group_id WHERE w.workflow_id = ? AND m.user_name = ? LIMIT 1',
      [workflowId, userName],
    );
    return shared !== undefined;
  }

  /**
   * What a user may do with a workflow: its owner writes; a member of a group it is shared with
   * writes (reads only with the `reader` role); anyone else gets 'none'. A missing workflow is
   * 'none' too, so callers answer both with the same 404.
   */
  async permissionOf(workflowId: number, userName: string): Promise<Permission> {
    const row = await this.db.get<{ user: string | null; role: string | null }>(
      `SELECT w.user AS user,
              (SELECT MAX(CASE WHEN m.role = ? THEN 1 ELSE 2 END) FROM workflow_access_groups wg
                 JOIN user_group_memberships m ON m.group_id = wg.group_id
                WHERE wg.workflow_id = w.id AND m.user_name = ?) AS role
         FROM workflows w WHERE w.id = ?`,
      [READ_ONLY_ROLE, userName, workflowId],
    );
    if (!row) return 'none';
    if (row.user === userName) return 'write';
    const best = row.role as unknown as number | null;
    return best === 2 ? 'write' : best === 1 ? 'read' : 'none';
  }

  /** The workflow a record belongs to (`collection` as in the API's paths); undefined when there is no such record. */
  async workflowOfRecord(collection: string, id: number): Promise<number | undefined> {
    const table = RECORD_TABLES[collection];
    if (!table) throw new Error(`no workflow records under /${collection}`);
    const row = await this.db.get<{ workflow_id: number }>(`SELECT workflow_id FROM ${table} WHERE id = ?`, [id]);
    return row?.workflow_id;
  }

  /** Adds workers (ones already there are kept); returns the workflow's workers named in the call. */
  async addRemoteWorkers(workflowId: number, workers: string[]): Promise<RemoteWorkerRecord[]> {
    await this.db.withWriteTransaction(async (tx) => {
      if (!(await tx.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
      await tx.run('INSERT OR IGNORE INTO remote_workers (workflow_id, worker) SELECT ?, value FROM json_each(?)', [workflowId, JSON.stringify(workers)]);
    });
    return [...new Set(workers)].map((worker) => ({ workflow_id: workflowId, worker }));
  }

  async remoteWorkers(workflowId: number): Promise<RemoteWorkerRecord[]> {
    await this.store.getWorkflow(workflowId);
    return this.db.all<RemoteWorkerRecord>('SELECT workflow_id, worker FROM remote_workers WHERE workflow_id = ? ORDER BY worker', [workflowId]);
  }

  async removeRemoteWorker(workflowId: number, worker: string): Promise<RemoteWorkerRecord> {
    return this.db.withWriteTransaction(async (tx) => {
      const res = await tx.run('DELETE FROM remote_workers WHERE workflow_id = ? AND worker = ?', [workflowId, worker]);
      if (res.changes === 0) throw new NotFoundError(`remote worker ${worker} of workflow ${workflowId}`);
      return { workflow_id: workflowId, worker };
    });
  }
}
