/**
 * Live updates for the dashboard. Subscribers (server-sent event streams) watch a workflow or
 * the list of workflows. While any exist, the store's change feed captures every job status
 * change, event and workflow change; a commit of this process schedules a drain a few tens of
 * milliseconds later (so a burst of commits becomes one message), which turns the changes
 * into messages:
 * - `update` to a workflow's watchers: its counts, phase and conditions (exact: kept from a
 *   snapshot plus every change since), the jobs whose status changed, the counts of the DAG
 *   groups they belong to, and new events;
 * - `workflows` to list watchers: which workflows changed.
 * Every message carries `seq`, which grows with each drain; a reply that says "as of seq N"
 * (the DAG route) lets the page ignore older messages that arrive late.
 */
import { NotFoundError } from '../../errors.js';
import { computeStatus, type WorkflowStatusView } from '../../contract/workflow-status.js';
import { ChangeFeed, ChangeKind, type Change } from '../../store/change-feed.js';
import { indexOfIds } from '../../store/dashboard.js';
import type { Queryable } from '../../store/db.js';
import type { Store } from '../../store/index.js';
import { toEvent } from '../../store/records.js';
import { JOB_STATUS_NAMES, statusName } from '../../contract/status.js';
import { STATUS_CODES, type DagModel } from './dag.js';
import { readGroupCounts } from './dag-counts.js';
import { eventView, namedCounts } from './views.js';

export type Send = (event: string, data: unknown) => void;

/** Most changes handled per drain; beyond it watchers are told to re-read (`resync`). */
const MAX_CHANGES_PER_DRAIN = 20_000;
/** Most job status changes listed in one `update`; beyond it the message says `jobs_truncated`. */
const MAX_JOBS_PER_UPDATE = 500;

interface Subscriber {
  send: Send;
  /** Job status changes of interest to a log follower (called for every change of its workflow). */
  onJob?: (jobId: number, status: number) => void;
}

interface DagState {
  model: DagModel;
  /** Cache key of the model (see DashboardService). */
  key: string;
  index: (id: number) => number;
  groupCounts: Int32Array;
}

interface Tracked {
  subscribers: Set<Subscriber>;
  counts: number[];
  canceled: boolean;
  dag?: DagState;
}

export interface WorkflowSnapshot {
  seq: number;
  counts: number[];
  canceled: boolean;
}

export class LiveHub {
  private readonly feed: ChangeFeed;
  private readonly tracked = new Map<number, Tracked>();
  private readonly tracking = new Map<number, Promise<Tracked>>();
  private readonly listSubscribers = new Set<Subscriber>();
  private seq = 0;
  private stopCommits?: () => void;
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private lifecycle: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly options: { coalesceMs?: number; logError?: (line: string) => void } = {},
  ) {
    this.feed = new ChangeFeed(store.db);
  }

  get watching(): boolean {
    return this.tracked.size > 0 || this.listSubscribers.size > 0;
  }

  /** Whether the workflow's counts are kept live (someone watches it). */
  isTracked(workflowId: number): boolean {
    return this.tracked.has(workflowId);
  }

  /**
   * Watches a workflow: `send` gets `hello` (the counts as of now) and then `update`s.
   * Throws NotFoundError for an unknown workflow. Returns the unsubscribe function.
   */
  async subscribeWorkflow(workflowId: number, subscriber: Subscriber): Promise<() => void> {
    await this.ensureStarted();
    let tracked: Tracked;
    try {
      tracked = await this.track(workflowId);
    } catch (err) {
      void this.stopIfIdle();
      throw err;
    }
    tracked.subscribers.add(subscriber);
    subscriber.send('hello', { seq: this.seq, workflow_id: workflowId, ...this.statusOf(tracked) });
    return () => {
      tracked.subscribers.delete(subscriber);
      if (tracked.subscribers.size === 0 && this.tracked.get(workflowId) === tracked) this.tracked.delete(workflowId);
      this.stopIfIdle();
    };
  }

  /** Watches every workflow: `send` gets `hello`, then `workflows` with the ids that changed. */
  async subscribeList(subscriber: Subscriber): Promise<() => void> {
    await this.ensureStarted();
    this.listSubscribers.add(subscriber);
    subscriber.send('hello', { seq: this.seq });
    return () => {
      this.listSubscribers.delete(subscriber);
      this.stopIfIdle();
    };
  }

  /**
   * The DAG group counts of a tracked workflow, kept live from now on (changed groups' counts
   * go out with each update). Read on the writer right after a drain, so they are the state as
   * of the returned seq. Undefined when the workflow is not tracked.
   */
  async dagState(workflowId: number, model: DagModel, key: string): Promise<{ seq: number; groupCounts: Int32Array } | undefined> {
    const tracked = this.tracked.get(workflowId);
    if (!tracked) return undefined;
    if (tracked.dag?.key === key) return { seq: this.seq, groupCounts: tracked.dag.groupCounts };
    return this.feed.take(MAX_CHANGES_PER_DRAIN, async (changes, overflow, q) => {
      await this.dispatch(changes, overflow, q);
      const groupCounts = await readGroupCounts(q, workflowId, model);
      const current = this.tracked.get(workflowId);
      if (current) current.dag = { model, key, index: indexOfIds(model.structure.ids), groupCounts };
      return { seq: this.seq, groupCounts };
    });
  }

  /** Ends every stream and removes the change feed's triggers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.tracked.values()) for (const s of t.subscribers) s.send('close', {});
    for (const s of this.listSubscribers) s.send('close', {});
    this.tracked.clear();
    this.listSubscribers.clear();
    if (this.timer) clearTimeout(this.timer);
    await this.draining;
    await this.stopIfIdle();
  }

  // ---- internals -------------------------------------------------------------------------

  private statusOf(t: Tracked): WorkflowStatusView & { counts: Record<string, number> } {
    const named = namedCounts(t.counts);
    return computeStatus({ counts: named, canceled: t.canceled });
  }

  private ensureStarted(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the dashboard is shutting down'));
    this.lifecycle = this.lifecycle.then(async () => {
      if (this.feed.isStarted) return;
      await this.feed.start();
      this.stopCommits = this.store.db.onCommit(() => this.schedule());
    });
    return this.lifecycle;
  }

  private stopIfIdle(): Promise<void> {
    this.lifecycle = this.lifecycle.then(async () => {
      if (this.watching || this.tracking.size > 0 || !this.feed.isStarted) return;
      this.stopCommits?.();
      this.stopCommits = undefined;
      try {
        await this.feed.stop();
      } catch (err) {
        // The store closed first: its connection (and with it the TEMP triggers) is gone.
        if (!/closed/.test(String(err))) this.options.logError?.(`dashboard: removing the change feed failed: ${String(err)}`);
      }
    });
    return this.lifecycle;
  }

  private track(workflowId: number): Promise<Tracked> {
    const existing = this.tracked.get(workflowId);
    if (existing) return Promise.resolve(existing);
    let pending = this.tracking.get(workflowId);
    if (!pending) {
      // Drain first, then read the counts on the writer: later changes apply on top exactly.
      pending = this.feed
        .take(MAX_CHANGES_PER_DRAIN, async (changes, overflow, q) => {
          await this.dispatch(changes, overflow, q);
          const t: Tracked = { subscribers: new Set(), ...(await readCounts(q, workflowId)) };
          this.tracked.set(workflowId, t);
          return t;
        })
        .finally(() => this.tracking.delete(workflowId));
      this.tracking.set(workflowId, pending);
    }
    return pending;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drainNow();
    }, this.options.coalesceMs ?? 50);
    this.timer.unref?.();
  }

  private drainNow(): Promise<void> {
    if (this.draining) return this.draining.then(() => this.drainNow());
    if (!this.feed.isStarted) return Promise.resolve();
    this.draining = this.feed
      .take(MAX_CHANGES_PER_DRAIN, (changes, overflow, q) => this.dispatch(changes, overflow, q))
      .catch((err: unknown) => {
        if (!this.closed) this.options.logError?.(`dashboard: reading changes failed: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => (this.draining = undefined));
    return this.draining;
  }

  /** Turns changes into messages. Runs on the writer connection (inside ChangeFeed.take). */
  private async dispatch(changes: Change[], overflow: boolean, q: Queryable): Promise<void> {
    if (!overflow && changes.length === 0) return;
    this.seq++;
    const seq = this.seq;
    if (overflow) {
      for (const [id, t] of this.tracked) {
        Object.assign(t, await readCounts(q, id));
        t.dag = undefined; // its counts are stale: the next DAG request re-reads them
        for (const s of t.subscribers) s.send('resync', { seq, ...this.statusOf(t) });
      }
      for (const s of this.listSubscribers) s.send('workflows', { seq, ids: null });
      return;
    }
    const changedWorkflows = new Set<number>();
    const perWorkflow = new Map<number, { jobs: { id: number; status: string }[]; truncated: boolean; groups: Set<number>; events: number[]; workflow: boolean }>();
    const slot = (wf: number) => {
      let s = perWorkflow.get(wf);
      if (!s) perWorkflow.set(wf, (s = { jobs: [], truncated: false, groups: new Set(), events: [], workflow: false }));
      return s;
    };
    for (const c of changes) {
      changedWorkflows.add(c.workflow_id);
      const t = this.tracked.get(c.workflow_id);
      if (!t) continue;
      const s = slot(c.workflow_id);
      if (c.kind === ChangeKind.JobStatus && c.old !== null && c.new !== null) {
        t.counts[c.old]!--;
        t.counts[c.new]!++;
        if (t.dag) {
          const i = t.dag.index(c.id);
          if (i >= 0) {
            const g = t.dag.model.groupOf[i]!;
            t.dag.groupCounts[g * STATUS_CODES + c.old]!--;
            t.dag.groupCounts[g * STATUS_CODES + c.new]!++;
            s.groups.add(g);
          }
        }
        if (s.jobs.length < MAX_JOBS_PER_UPDATE) s.jobs.push({ id: c.id, status: statusName(c.new) });
        else s.truncated = true;
        for (const sub of t.subscribers) sub.onJob?.(c.id, c.new);
      } else if (c.kind === ChangeKind.Event) {
        s.events.push(c.id);
      } else if (c.kind === ChangeKind.Workflow || c.kind === ChangeKind.WorkflowDeleted) {
        s.workflow = true;
      }
    }
    for (const [wf, s] of perWorkflow) {
      const t = this.tracked.get(wf)!;
      if (s.workflow) {
        const row = await q.get<{ status: string }>('SELECT status FROM workflows WHERE id = ?', [wf]);
        if (!row) {
          for (const sub of t.subscribers) sub.send('deleted', { seq, workflow_id: wf });
          continue;
        }
        t.canceled = row.status === 'canceled';
      }
      const events = s.events.length
        ? (await q.all('SELECT * FROM events WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id', [JSON.stringify(s.events.slice(-200))])).map((r) => eventView(toEvent(r)))
        : [];
      const groups: Record<string, Record<string, number>> = {};
      if (t.dag) {
        for (const g of s.groups) groups[g] = namedCounts(t.dag.groupCounts.subarray(g * STATUS_CODES, (g + 1) * STATUS_CODES), true);
      }
      const message = {
        seq,
        workflow_id: wf,
        ...this.statusOf(t),
        jobs: s.jobs,
        jobs_truncated: s.truncated,
        groups,
        dag_key: t.dag?.key ?? null,
        events,
        workflow_changed: s.workflow,
      };
      for (const sub of t.subscribers) sub.send('update', message);
    }
    if (this.listSubscribers.size > 0) {
      const ids = [...changedWorkflows];
      for (const s of this.listSubscribers) s.send('workflows', { seq, ids });
    }
  }
}

async function readCounts(q: Queryable, workflowId: number): Promise<{ counts: number[]; canceled: boolean }> {
  const wf = await q.get<{ status: string }>('SELECT status FROM workflows WHERE id = ?', [workflowId]);
  if (!wf) throw new NotFoundError(`workflow ${workflowId}`);
  const rows = await q.all<{ status: number; n: number }>('SELECT status, COUNT(*) AS n FROM jobs WHERE workflow_id = ? GROUP BY status', [workflowId]);
  const counts = new Array<number>(JOB_STATUS_NAMES.length).fill(0);
  for (const r of rows) counts[r.status] = r.n;
  return { counts, canceled: wf.status === 'canceled' };
}
