/**
 * torc's access groups (groups, their members, the workflows shared with them) and remote
 * workers (hosts that run a workflow's workers), stored so torc's clients can manage them.
 * Access is recorded and answered (check_workflow_access), not yet enforced on other routes.
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
