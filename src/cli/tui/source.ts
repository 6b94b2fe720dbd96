/**
 * Where `torc tui` reads from and acts on, behind one interface:
 * - a server (`--url`): the dashboard's routes and event streams through the typed client
 *   (src/api/client.ts), exactly what the web dashboard reads;
 * - a database file (`--db`): the same reads (the dashboard service over the store, the code
 *   behind those routes) and, for live updates, the file's commits (store/file-changes.ts).
 * Actions go through the workflow commands' backend (cli/backend.ts), so `c` and `r` do what
 * `torc workflows cancel` and `torc workflows reset-status --failed-only` do.
 */
import type { DashboardJobQuery, EventStream, StdioQuery, StreamState, TorcClient } from '../../api/client.js';
import { followStdio, type FollowSink } from '../../api/dashboard/follow.js';
import type {
  DashboardDag,
  DashboardJobDetail,
  DashboardJobPage,
  DashboardStdio,
  DashboardWorkflow,
  DashboardWorkflowPage,
} from '../../api/dashboard/service.js';
import { DashboardService } from '../../api/dashboard/service.js';
import { parseStatus } from '../../contract/status.js';
import { stdioOwner } from '../../store/dashboard.js';
import { watchCommits, type CommitWatch } from '../../store/file-changes.js';
import { MAX_SAMPLES_PER_ATTEMPT, type Store } from '../../store/index.js';
import type { ResourceSample } from '../../contract/resources.js';
import { openBackendParts, resetAndInitialize, type BackendFlags, type WorkflowBackend } from '../backend.js';

export type { FollowSink };

/** How the live connection stands, for the header. */
export type LiveState = StreamState | 'watching';

export interface Unsubscribe {
  (): void;
}

export interface TuiSource {
  /** The server's URL or the database path, for the header. */
  readonly where: string;
  /** Whether actions can be sent, and if not why (a server that needs a token none was given). */
  changeRefusal(): Promise<string | null>;
  /**
   * The time-series resource samples of one attempt of a job (run and attempt), in time order:
   * the monitoring route (GET /workflows/{id}/job_resource_samples) or the store's same read.
   */
  samples(workflowId: number, jobId: number, attempt: { runId: number; attemptId: number }): Promise<ResourceSample[]>;
  workflows(offset: number, limit: number): Promise<DashboardWorkflowPage>;
  workflow(id: number): Promise<DashboardWorkflow>;
  jobs(id: number, query: Required<Pick<DashboardJobQuery, 'offset' | 'limit'>> & DashboardJobQuery): Promise<DashboardJobPage>;
  dag(id: number): Promise<DashboardDag>;
  jobDetail(jobId: number): Promise<DashboardJobDetail>;
  stdio(jobId: number, query: StdioQuery): Promise<DashboardStdio>;
  /** Follows a running attempt's output from `offset`: sink.data…, then sink.end. */
  follow(jobId: number, query: { stream: 'stdout' | 'stderr'; attempt: number; offset: number }, sink: FollowSink): Unsubscribe;
  /** `onChange` after any workflow changed (and on each (re)connection). */
  watchWorkflows(onChange: () => void, onState: (s: LiveState) => void): Unsubscribe;
  /** `onChange` after the workflow changed (and on each (re)connection). */
  watchWorkflow(id: number, onChange: () => void, onState: (s: LiveState) => void): Unsubscribe;
  /** Each returns a sentence saying what was done. */
  cancelWorkflow(id: number): Promise<string>;
  cancelJob(jobId: number): Promise<string>;
  rerunFailed(id: number): Promise<string>;
  close(): Promise<void>;
}

export async function openSource(flags: BackendFlags): Promise<TuiSource> {
  const opened = await openBackendParts(flags);
  if (opened.kind === 'db') return FileSource.open(opened.store, opened.path, opened.backend);
  return new ServerSource(opened.client, opened.url, opened.hasToken, opened.backend);
}

/** One page holds all of an attempt's samples: the store keeps at most this many (thinning older ones). */
const SAMPLES_LIMIT = MAX_SAMPLES_PER_ATTEMPT;

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** What both sources do the same way: the actions, through the workflow commands' backend. */
abstract class Actions {
  constructor(protected readonly backend: WorkflowBackend) {}

  async cancelWorkflow(id: number): Promise<string> {
    const r = await this.backend.cancelWorkflow(id);
    return `Workflow ${id} canceled: ${plural(r.canceled, 'job')} canceled, ${plural(r.running_job_ids.length, 'running job')} being terminated.`;
  }

  async rerunFailed(id: number): Promise<string> {
    const { reset, initialized } = await resetAndInitialize(this.backend, id, { failedOnly: true });
    return `Workflow ${id}: ${plural(reset.updated_count, 'job')} reset for run ${reset.run_id}; ${initialized.ready} ready, ${initialized.blocked} blocked.`;
  }

  protected cancelJobMessage(jobId: number, r: { outcome: string; canceled_dependents: number[] }): string {
    const dependents = r.canceled_dependents.length ? ` (and ${plural(r.canceled_dependents.length, 'dependent')})` : '';
    return r.outcome === 'canceled' ? `Job ${jobId} canceled${dependents}.` : `Job ${jobId} is running: its runner was asked to terminate it.`;
  }
}

class ServerSource extends Actions implements TuiSource {
  private config?: ReturnType<TorcClient['dashboardConfig']>;

  constructor(
    private readonly client: TorcClient,
    readonly where: string,
    private readonly hasToken: boolean,
    backend: WorkflowBackend,
  ) {
    super(backend);
  }

  private settings() {
    return (this.config ??= this.client.dashboardConfig());
  }

  async changeRefusal(): Promise<string | null> {
    const config = await this.settings();
    if (config.auth_required && !this.hasToken) return 'this server needs its token (torc tui --token-file FILE)';
    return null;
  }

  async samples(workflowId: number, jobId: number, attempt: { runId: number; attemptId: number }): Promise<ResourceSample[]> {
    const query = { job_id: jobId, run_id: attempt.runId, attempt_id: attempt.attemptId, limit: SAMPLES_LIMIT };
    return (await this.client.listResourceSamples(workflowId, query)).items;
  }

  workflows(offset: number, limit: number) {
    return this.client.dashboardWorkflows({ offset, limit });
  }
  workflow(id: number) {
    return this.client.dashboardWorkflow(id);
  }
  jobs(id: number, query: DashboardJobQuery & { offset: number; limit: number }) {
    return this.client.dashboardJobs(id, query);
  }
  dag(id: number) {
    return this.client.dashboardDag(id);
  }
  jobDetail(jobId: number) {
    return this.client.jobDetail(jobId);
  }
  stdio(jobId: number, query: StdioQuery) {
    return this.client.jobStdio(jobId, query);
  }

  follow(jobId: number, query: { stream: 'stdout' | 'stderr'; attempt: number; offset: number }, sink: FollowSink): Unsubscribe {
    let over = false;
    const stream: EventStream = this.client.followJobStdio(jobId, query, {
      events: {
        data: (d: { offset: number; next_offset: number; size: number; text: string }) => sink.data(d),
        unavailable: (d: { reason: string; running: boolean }) => sink.unavailable(d.reason, d.running),
        end: (d: { running?: boolean }) => {
          // The stream is over: close it before the EventSource reconnects.
          over = true;
          stream.close();
          sink.end(d.running ?? false);
        },
      },
    });
    return () => {
      if (!over) stream.close();
    };
  }

  watchWorkflows(onChange: () => void, onState: (s: LiveState) => void): Unsubscribe {
    const stream = this.client.streamWorkflows({ events: { hello: onChange, workflows: onChange }, onState });
    return () => stream.close();
  }

  watchWorkflow(id: number, onChange: () => void, onState: (s: LiveState) => void): Unsubscribe {
    const stream = this.client.streamWorkflow(id, { events: { hello: onChange, update: onChange, resync: onChange, deleted: onChange }, onState });
    return () => stream.close();
  }

  async cancelJob(jobId: number): Promise<string> {
    return this.cancelJobMessage(jobId, await this.client.cancelJob(jobId));
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

/** The database file directly: the dashboard service's reads, live from the file's commits. */
class FileSource extends Actions implements TuiSource {
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly store: Store,
    readonly where: string,
    private readonly service: DashboardService,
    backend: WorkflowBackend,
    private commits?: CommitWatch,
  ) {
    super(backend);
  }

  static async open(store: Store, file: string, backend: WorkflowBackend): Promise<FileSource> {
    const service = new DashboardService(store, { authRequired: false });
    const source = new FileSource(store, file, service, backend);
    source.commits = await watchCommits(store.db, file, () => {
      for (const listener of [...source.listeners]) listener();
    });
    return source;
  }

  private listen(listener: () => void): Unsubscribe {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async changeRefusal(): Promise<string | null> {
    return null;
  }
  async samples(workflowId: number, jobId: number, attempt: { runId: number; attemptId: number }): Promise<ResourceSample[]> {
    const query = { job_id: jobId, run_id: attempt.runId, attempt_id: attempt.attemptId, limit: SAMPLES_LIMIT };
    return (await this.store.listResourceSamples(workflowId, query)).items;
  }
  workflows(offset: number, limit: number) {
    return this.service.listWorkflows(offset, limit);
  }
  workflow(id: number) {
    return this.service.workflow(id);
  }
  jobs(id: number, query: DashboardJobQuery & { offset: number; limit: number }) {
    return this.service.jobs(id, {
      statuses: (query.status ?? []).flatMap((s) => {
        const code = parseStatus(s);
        return code === undefined ? [] : [code];
      }),
      text: query.q || undefined,
      sort: query.sort ?? 'id',
      descending: query.order === 'desc',
      offset: query.offset,
      limit: query.limit,
    });
  }
  dag(id: number) {
    return this.service.dag(id, []);
  }
  jobDetail(jobId: number) {
    return this.service.jobDetail(jobId);
  }
  stdio(jobId: number, query: StdioQuery) {
    return this.service.stdio(jobId, query.stream, { attempt: query.attempt, offset: query.offset, tail: query.tail }, query.max_bytes ?? 64 * 1024);
  }

  follow(jobId: number, query: { stream: 'stdout' | 'stderr'; attempt: number; offset: number }, sink: FollowSink): Unsubscribe {
    let follow: { stop(): void } | undefined;
    let stopped = false;
    void stdioOwner(this.store.db, jobId, query.attempt).then(
      (owner) => {
        if (stopped) return;
        follow = followStdio(
          this.store.db,
          owner,
          query.stream,
          query.offset,
          sink,
          async (check) => this.listen(() => check()),
          () => true,
        );
      },
      (err: unknown) => {
        sink.unavailable((err as Error).message, false);
        sink.end(false);
      },
    );
    return () => {
      stopped = true;
      follow?.stop();
    };
  }

  watchWorkflows(onChange: () => void, onState: (s: LiveState) => void): Unsubscribe {
    onState('watching');
    return this.listen(onChange);
  }

  watchWorkflow(_id: number, onChange: () => void, onState: (s: LiveState) => void): Unsubscribe {
    onState('watching');
    return this.listen(onChange);
  }

  async cancelJob(jobId: number): Promise<string> {
    return this.cancelJobMessage(jobId, await this.store.cancelJob(jobId));
  }

  async close(): Promise<void> {
    this.commits?.close();
    this.listeners.clear();
    await this.service.close();
    await this.backend.close();
  }
}
