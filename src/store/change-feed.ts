/**
 * What changed, for live views (the dashboard's server-sent events). While started, TEMP
 * triggers on this process's writer connection copy every job status change (with the old
 * and the new status), every new event and every workflow change into an in-memory TEMP
 * table; `take` hands them over in commit order and empties it. Nothing is captured, and
 * nothing costs, while no one watches: the triggers exist only between start and stop.
 * Writes by other processes are not seen here (they are rare: `torc workflows … --db`).
 */
import type { Database, Queryable } from './db.js';

export const enum ChangeKind {
  JobStatus = 1,
  Event = 2,
  Workflow = 3,
  WorkflowDeleted = 4,
}

export interface Change {
  seq: number;
  kind: ChangeKind;
  /** Job, event or workflow id. */
  id: number;
  workflow_id: number;
  /** Job status changes: the status codes before and after. */
  old: number | null;
  new: number | null;
}

const INSTALL = `
  CREATE TEMP TABLE IF NOT EXISTS change_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, id INTEGER NOT NULL,
    workflow_id INTEGER NOT NULL, old INTEGER, new INTEGER);
  CREATE TEMP TRIGGER IF NOT EXISTS change_feed_job_status AFTER UPDATE OF status ON jobs
    WHEN OLD.status IS NOT NEW.status
    BEGIN INSERT INTO change_feed (kind, id, workflow_id, old, new) VALUES (1, NEW.id, NEW.workflow_id, OLD.status, NEW.status); END;
  CREATE TEMP TRIGGER IF NOT EXISTS change_feed_event AFTER INSERT ON events
    BEGIN INSERT INTO change_feed (kind, id, workflow_id) VALUES (2, NEW.id, NEW.workflow_id); END;
  CREATE TEMP TRIGGER IF NOT EXISTS change_feed_workflow_new AFTER INSERT ON workflows
    BEGIN INSERT INTO change_feed (kind, id, workflow_id) VALUES (3, NEW.id, NEW.id); END;
  CREATE TEMP TRIGGER IF NOT EXISTS change_feed_workflow AFTER UPDATE OF status, run_id, name, description ON workflows
    BEGIN INSERT INTO change_feed (kind, id, workflow_id) VALUES (3, NEW.id, NEW.id); END;
  CREATE TEMP TRIGGER IF NOT EXISTS change_feed_workflow_gone AFTER DELETE ON workflows
    BEGIN INSERT INTO change_feed (kind, id, workflow_id) VALUES (4, OLD.id, OLD.id); END;`;

const REMOVE = `
  DROP TRIGGER IF EXISTS temp.change_feed_job_status;
  DROP TRIGGER IF EXISTS temp.change_feed_event;
  DROP TRIGGER IF EXISTS temp.change_feed_workflow_new;
  DROP TRIGGER IF EXISTS temp.change_feed_workflow;
  DROP TRIGGER IF EXISTS temp.change_feed_workflow_gone;
  DROP TABLE IF EXISTS temp.change_feed;`;

export class ChangeFeed {
  private started = false;

  constructor(private readonly db: Database) {}

  get isStarted(): boolean {
    return this.started;
  }

  /** Installs the triggers; from the next write transaction on, changes are captured. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.db.withWriter((w) => w.exec(INSTALL));
    this.started = true;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.db.withWriter((w) => w.exec(REMOVE));
  }

  /**
   * Takes up to `max` captured changes in commit order (removing them), or reports an
   * overflow (more than `max` waiting: all are dropped, the caller re-reads what it shows).
   * Then runs `then` on the writer connection in the same turn, before any later write
   * transaction: what it reads is exactly the state after the changes taken.
   */
  take<T>(max: number, then: (changes: Change[], overflow: boolean, q: Queryable) => Promise<T>): Promise<T> {
    return this.db.withWriter(async (w) => {
      if (!this.started) return then([], false, w);
      const rows = await w.all<Change>('SELECT seq, kind, id, workflow_id, old, new FROM temp.change_feed ORDER BY seq LIMIT ?', [max + 1]);
      const overflow = rows.length > max;
      if (overflow) await w.run('DELETE FROM temp.change_feed');
      else if (rows.length > 0) await w.run('DELETE FROM temp.change_feed WHERE seq <= ?', [rows[rows.length - 1]!.seq]);
      return then(overflow ? [] : rows, overflow, w);
    });
  }
}
