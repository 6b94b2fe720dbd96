/**
 * What the dashboard's JSON routes answer, over the store's dashboard reads (store/dashboard.ts)
 * and the live hub. Holds the per-workflow DAG models (a 100k-job workflow's grouping is
 * computed once, then reused while its jobs stay the same).
 */
import { NotFoundError } from '../../errors.js';
import { computeStatus } from '../../contract/workflow-status.js';
import { formatDuration, formatMemory } from '../../spec/units.js';
import {
  countsByWorkflow,
  dagResourceRequirements,
  dagStructure,
  jobDetailRecords,
  queryJobTable,
  recentUnsuccessful,
  statusesOfJobs,
  stdioOwner,
  throughputRecords,
  timelineRecords,
  usageRecords,
  workflowIdRange,
  workflowTimes,
  type JobTableQuery,
} from '../../store/dashboard.js';
import type { Store, WorkflowRecord } from '../../store/index.js';
import { runningCancelRequests } from '../../store/job-cancel.js';
import { JOB_STATUS_NAMES, statusName } from '../../contract/status.js';
import { VERSION } from '../../version.js';
import { buildDagModel, dagView, shownMembers, type DagModel } from './dag.js';
import { readGroupCounts } from './dag-counts.js';
import { LiveHub } from './hub.js';
import { readStdio, type StdioStream } from './stdio.js';
import { eventView, jobRowView, ms, namedCounts } from './views.js';

export interface DashboardOptions {
  /** Whether the API's changing routes need the bearer token (the page asks for it once). */
  authRequired: boolean;
  /** Users sign in with a name and password (--auth htpasswd:FILE). */
  users?: boolean;
  /** Reads need no sign-in (--public-read, or no auth at all). */
  publicRead?: boolean;
  logError?: (line: string) => void;
}

/** DAG models kept (the most recently used workflows). */
const DAG_CACHE_SIZE = 4;
/** Newest events in a workflow summary. */
const SUMMARY_EVENTS = 50;

export class DashboardService {
  readonly hub: LiveHub;
  private readonly dagCache = new Map<number, { key: string; model: DagModel }>();
  private readonly dagBuilding = new Map<string, Promise<DagModel>>();

  constructor(
    readonly store: Store,
    readonly options: DashboardOptions,
  ) {
    this.hub = new LiveHub(store, { logError: options.logError });
  }

  config() {
    return { version: VERSION, auth_required: this.options.authRequired, users: this.options.users === true,
      public_read: !this.options.authRequired || this.options.publicRead === true, resource_monitoring: true, api_base: '/torc-service/v1' };
  }

  /** `visibleTo`: only the workflows this user may see. */
  async listWorkflows(offset: number, limit: number, visibleTo?: string) {
    const page = await this.store.listWorkflows({ offset, limit, visible_to: visibleTo });
    const items = await this.summaries(page.items);
    return { items, offset, limit, total_count: page.total, has_more: offset + page.items.length < page.total };
  }

  async workflow(workflowId: number) {
    const wf = await this.store.getWorkflow(workflowId);
    const [summary] = await this.summaries([wf]);
    const [nodes, events, cancels, failures] = await Promise.all([
      this.store.listComputeNodes(workflowId, { limit: 100 }),
      this.recentEvents(workflowId),
      summary!.counts.running > 0 ? this.store.db.read((q) => runningCancelRequests(q, workflowId)) : [],
      this.store.db.read((q) => recentUnsuccessful(q, workflowId, SUMMARY_EVENTS)),
    ]);
    return {
      ...summary!,
      settings: {
        jobs_sort_method: wf.settings.jobs_sort_method,
        use_pending_failed: wf.settings.use_pending_failed,
        schedule: wf.settings.schedule ?? null,
        resource_monitor: wf.settings.resource_monitor ?? null,
      },
      compute_node_list: nodes.items.map((n) => ({
        id: n.id,
        hostname: n.hostname,
        compute_node_type: n.compute_node_type,
        num_cpus: n.num_cpus,
        memory_gb: n.memory_gb,
        num_gpus: n.num_gpus,
        is_active: n.is_active,
        started_ms: ms(n.created_at),
        scheduler_job_id: n.scheduler_job_id,
      })),
      recent_events: events,
      recent_failures: failures.map((f) => ({
        result_id: f.result_id,
        job_id: f.job_id,
        name: f.name,
        attempt_id: f.attempt,
        status: statusName(f.status),
        return_code: f.return_code,
        completion_ms: ms(f.completion_time),
      })),
      cancel_requested_job_ids: cancels,
    };
  }

  private async recentEvents(workflowId: number) {
    const first = await this.store.listEvents(workflowId, { limit: 0 });
    const offset = Math.max(0, first.total - SUMMARY_EVENTS);
    const page = await this.store.listEvents(workflowId, { offset, limit: SUMMARY_EVENTS });
    return page.items.map(eventView);
  }

  private async summaries(workflows: WorkflowRecord[]) {
    const ids = workflows.map((w) => w.id);
    const [counts, times] = await this.store.db.read(async (q) => [await countsByWorkflow(q, ids), await workflowTimes(q, ids)] as const);
    const now = Date.now();
    return workflows.map((w) => {
      const byCode = counts.get(w.id)!;
      const named = namedCounts(JOB_STATUS_NAMES.map((_, code) => byCode.get(code) ?? 0));
      const status = computeStatus({ counts: named, canceled: w.status === 'canceled' });
      const t = times.get(w.id)!;
      const started = ms(t.started_at);
      const finished = status.phase === 'Succeeded' || status.phase === 'Failed' || status.phase === 'Canceled';
      const ended = finished ? (ms(t.last_result_at) ?? started) : null;
      return {
        id: w.id,
        name: w.name,
        user: w.user,
        description: w.description,
        created_ms: ms(w.created_at),
        run_id: w.run_id,
        is_canceled: w.status === 'canceled',
        k8s_namespace: w.k8s_namespace,
        k8s_name: w.k8s_name,
        phase: status.phase,
        total: status.total,
        done: status.done,
        counts: status.counts,
        conditions: status.conditions,
        started_ms: started,
        ended_ms: ended,
        elapsed_ms: started === null ? null : Math.max(0, (ended ?? now) - started),
        compute_nodes: t.compute_nodes,
        active_compute_nodes: t.active_compute_nodes,
      };
    });
  }

  async jobs(workflowId: number, query: JobTableQuery) {
    const { rows, total } = await queryJobTable(this.store.db, workflowId, query);
    return { items: rows.map(jobRowView), offset: query.offset, limit: query.limit, total_count: total, has_more: query.offset + rows.length < total };
  }

  /** The DAG model of a workflow, built once per shape of its jobs (see store dagStructure). */
  private async dagModel(workflowId: number): Promise<{ key: string; model: DagModel }> {
    const { range, total } = await this.store.db.read(async (q) => {
      if (!(await q.get('SELECT 1 FROM workflows WHERE id = ?', [workflowId]))) throw new NotFoundError(`workflow ${workflowId}`);
      return { range: await workflowIdRange(q, workflowId), total: (await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM jobs WHERE workflow_id = ?', [workflowId]))!.n };
    });
    const key = `${range?.lo ?? 0}-${range?.hi ?? 0}-${total}`;
    const cached = this.dagCache.get(workflowId);
    if (cached?.key === key) {
      this.dagCache.delete(workflowId);
      this.dagCache.set(workflowId, cached); // most recently used last
      return cached;
    }
    const buildKey = `${workflowId}:${key}`;
    let building = this.dagBuilding.get(buildKey);
    if (!building) {
      building = (async () => {
        const structure = await dagStructure(this.store.db, workflowId);
        return buildDagModel(structure, async () => ({
          resourceRequirements: await dagResourceRequirements(this.store.db, workflowId, structure.ids),
          resourceNames: new Map((await this.store.listResourceRequirements(workflowId)).map((r) => [r.id, r.name])),
        }));
      })().finally(() => this.dagBuilding.delete(buildKey));
      this.dagBuilding.set(buildKey, building);
    }
    const model = await building;
    this.dagCache.set(workflowId, { key, model });
    while (this.dagCache.size > DAG_CACHE_SIZE) this.dagCache.delete(this.dagCache.keys().next().value!);
    return { key, model };
  }

  async dag(workflowId: number, expand: number[]) {
    const { key, model } = await this.dagModel(workflowId);
    const expanded = new Set(expand.filter((g) => g < model.groups.length));
    const shown = shownMembers(model, expanded);
    let groupCounts: Int32Array;
    let seq: number | null = null;
    const live = await this.hub.dagState(workflowId, model, key);
    if (live) ({ groupCounts, seq } = live);
    else groupCounts = await this.store.db.read((q) => readGroupCounts(q, workflowId, model));
    const shownStatus = await this.store.db.read((q) => statusesOfJobs(q, shown.map((i) => model.structure.ids[i]!)));
    const statusAt = (i: number) => shownStatus.get(model.structure.ids[i]!) ?? 0;
    const view = dagView(model, groupCounts, statusAt, expanded);
    return {
      workflow_id: workflowId,
      dag_key: key,
      seq,
      grouping: model.grouping,
      total_jobs: model.groupOf.length,
      total_dependencies: model.structure.blockers.length,
      group_count: model.groups.length,
      groups: model.groups.map((g) => ({ index: g.index, label: g.label, size: g.size })),
      nodes: view.nodes.map((n) => ({
        key: n.key,
        kind: n.kind,
        group: n.group,
        label: n.label,
        size: n.size,
        job_id: n.job_id ?? null,
        status: n.status === undefined ? null : statusName(n.status),
        counts: n.counts ? namedCounts(n.counts, true) : null,
        expanded: n.expanded ?? null,
        internal_edges: n.internal_edges ?? null,
        example: n.example ?? null,
      })),
      edges: view.edges,
    };
  }

  async timeline(workflowId: number, limit: number) {
    const t = await timelineRecords(this.store.db, workflowId, limit);
    return {
      workflow_id: workflowId,
      now_ms: Date.now(),
      omitted: t.omitted,
      nodes: t.nodes.map((n) => ({ id: n.id, hostname: n.hostname, compute_node_type: n.compute_node_type, num_cpus: n.num_cpus, num_gpus: n.num_gpus, is_active: n.active === 1, started_ms: ms(n.created_at) })),
      bars: t.bars.map((b) => ({ ...b, status: statusName(b.status) })),
    };
  }

  async throughput(workflowId: number, buckets: number) {
    const t = await throughputRecords(this.store.db, workflowId, buckets);
    return { workflow_id: workflowId, start_ms: t.start_ms, bucket_ms: t.bucket_ms, series: t.buckets.map((b) => ({ status: statusName(b.status), counts: b.counts })) };
  }

  async resources(workflowId: number, limit: number) {
    const u = await usageRecords(this.store.db, workflowId, limit);
    return {
      workflow_id: workflowId,
      jobs_with_results: u.jobs_with_results,
      measured: u.measured,
      jobs: u.top.map(({ status, attempt, ...r }) => ({ ...r, status: statusName(status), attempt_id: attempt })),
    };
  }

  async jobDetail(jobId: number) {
    const d = await jobDetailRecords(this.store.db, jobId);
    const wf = await this.store.getWorkflow(d.job.workflow_id);
    const nodes = new Map(d.nodes.map((n) => [n.id as number, n]));
    const hostname = (id: unknown) => (id == null ? null : ((nodes.get(id as number)?.hostname as string | undefined) ?? null));
    const hasOutputDir = (id: unknown) => id != null && nodes.get(id as number)?.output_dir != null;
    const j = d.job;
    const rr = d.requirements;
    const attempts = d.results.map((r) => {
      const end = ms(r.completion_time as string);
      return {
        attempt_id: r.attempt as number,
        run_id: r.run_id as number,
        status: statusName(r.status as number),
        return_code: r.return_code as number,
        exec_time_minutes: r.exec_time_minutes as number,
        start_ms: end === null ? null : Math.round(end - (r.exec_time_minutes as number) * 60_000),
        completion_ms: end,
        compute_node_id: (r.compute_node_id as number | null) ?? null,
        hostname: hostname(r.compute_node_id),
        stdio_recorded: hasOutputDir(r.compute_node_id),
        peak_memory_bytes: (r.peak_memory_bytes as number | null) ?? null,
        avg_memory_bytes: (r.avg_memory_bytes as number | null) ?? null,
        peak_cpu_percent: (r.peak_cpu_percent as number | null) ?? null,
        avg_cpu_percent: (r.avg_cpu_percent as number | null) ?? null,
        failure_diagnosis: (r.failure_diagnosis as string | null) ?? null,
        diagnosis_reason: (r.diagnosis_reason as string | null) ?? null,
      };
    });
    const neighbour = (n: { id: number; name: string; status: number }) => ({ id: n.id, name: n.name, status: statusName(n.status) });
    return {
      job: {
        id: j.id,
        workflow_id: j.workflow_id,
        name: j.name as string,
        command: j.command as string,
        invocation_script: (j.invocation_script as string | null) ?? null,
        status: statusName(j.status),
        attempt_id: j.attempt,
        return_code: (j.return_code as number | null) ?? null,
        compute_node_id: j.compute_node_id,
        hostname: hostname(j.compute_node_id),
        stdio_recorded: hasOutputDir(j.compute_node_id),
        image: (j.image as string | null) ?? null,
        env: j.env ? (JSON.parse(j.env as string) as Record<string, string>) : null,
        cancel_on_blocking_job_failure: j.cancel_on_blocking_job_failure === 1,
        supports_termination: j.supports_termination === 1,
        claimed_ms: ms(j.claimed_at as string | null),
        started_ms: ms(j.started_at as string | null),
        completed_ms: ms(j.completed_at as string | null),
        cancel_requested: d.cancel_requested,
      },
      workflow: { id: wf.id, name: wf.name, run_id: wf.run_id, is_canceled: wf.status === 'canceled' },
      requirements: rr
        ? {
            name: rr.name as string,
            num_cpus: rr.num_cpus as number,
            num_gpus: rr.num_gpus as number,
            num_nodes: rr.num_nodes as number,
            memory: formatMemory(rr.memory_bytes as number),
            memory_bytes: rr.memory_bytes as number,
            runtime: formatDuration(rr.runtime_seconds as number),
            runtime_seconds: rr.runtime_seconds as number,
            raised_for_this_job: rr.job_id != null,
          }
        : null,
      attempts,
      blockers: d.blockers.map(neighbour),
      blocker_count: d.blocker_count,
      dependents: d.dependents.map(neighbour),
      dependent_count: d.dependent_count,
      input_files: d.input_files,
      output_files: d.output_files,
    };
  }

  async stdio(jobId: number, stream: StdioStream, start: { attempt?: number; offset?: number; tail?: boolean }, maxBytes: number) {
    const owner = await stdioOwner(this.store.db, jobId, start.attempt);
    return { job_id: jobId, stream, ...(await readStdio(owner, stream, start, maxBytes)) };
  }

  async cancelJob(jobId: number) {
    return this.store.cancelJob(jobId);
  }

  close(): Promise<void> {
    return this.hub.close();
  }
}

// ---- the routes' answers, as typed values (the typed client returns these) -----------------

export type DashboardConfig = ReturnType<DashboardService['config']>;
export type DashboardWorkflowPage = Awaited<ReturnType<DashboardService['listWorkflows']>>;
export type DashboardWorkflowSummary = DashboardWorkflowPage['items'][number];
export type DashboardWorkflow = Awaited<ReturnType<DashboardService['workflow']>>;
export type DashboardJobPage = Awaited<ReturnType<DashboardService['jobs']>>;
export type DashboardJobRow = DashboardJobPage['items'][number];
export type DashboardDag = Awaited<ReturnType<DashboardService['dag']>>;
export type DashboardJobDetail = Awaited<ReturnType<DashboardService['jobDetail']>>;
export type DashboardStdio = Awaited<ReturnType<DashboardService['stdio']>>;
