/**
 * The typed HTTP client of the torc-ts API (node:http with keep-alive), used by the CLI and every runner.
 * It implements RunnerClient plus the calls the CLI needs. Server errors come back as the same
 * error classes the server threw (InputError, NotFoundError, ConflictError, TooLargeError) with
 * the server's message and field; 401 and anything else unexpected as ApiError.
 * The dashboard's reads and its server-sent event streams (`torc tui` uses them) are here too.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TorcExport } from '../spec/torc-export.js';
import { ConflictError, InputError, NotFoundError, TooLargeError, type InputIssue } from '../errors.js';
import { COMPLETION_STATUS_NAMES, type CompletionStatusName } from '../contract/status.js';
import type {
  BulkItemResult,
  ClaimedJobRecord,
  ClaimByResourcesRequest,
  ClaimNextOptions,
  CompleteJobItem,
  ClaimResponse,
  CompleteJobResult,
  ComputeNodeRegistration,
  FailureHandlerModel,
  FileObservation,
  HeldJob,
  JobRecord,
  NodeSyncOutcome,
  RetryJobRequest,
  RunnerClient,
  WorkflowProgress,
} from '../contract/client.js';
import { GIB } from '../allocator/fit.js';
import type { RecoveryOptions } from '../allocator/recovery.js';
import type { DiagnosisReason, FailureDiagnosis, ResourceSample, ResourceSummary } from '../contract/resources.js';
import { resolveResourceMonitor, type ResourceMonitorConfig } from '../spec/resource-monitor.js';
import type { RecoverOutcome, SampleFilter } from '../store/index.js';
import { formatDuration } from '../spec/units.js';
import type { ComputeNodeRecord, EventRecord, FileRecord, ResultRecord, SlurmSchedulerRecord, UserDataRecord } from '../store/records.js';
import type { ReinitOutcome } from '../store/reinit.js';
import type { JobTableSort } from '../store/dashboard.js';
import type { CancelJobOutcome } from '../store/job-cancel.js';
import type {
  DashboardConfig,
  DashboardDag,
  DashboardJobDetail,
  DashboardJobPage,
  DashboardStdio,
  DashboardWorkflow,
  DashboardWorkflowPage,
} from './dashboard/service.js';
import { BASE_PATH } from './route.js';
import type { PageView, WorkflowActionModel, WorkflowStatusModel } from './views.js';

export type { PageView, WorkflowActionModel, WorkflowStatusModel };

/** An HTTP answer that is not one of the domain errors (401, 5xx, an unreachable server). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface WorkflowModel {
  id: number;
  name: string;
  user: string | null;
  description: string | null;
  timestamp: string;
  run_id: number;
  is_canceled: boolean;
  jobs_sort_method: string;
  use_pending_failed: boolean;
  compute_node_expiration_buffer_seconds: number;
  compute_node_wait_for_new_jobs_seconds: number;
  compute_node_ignore_workflow_completion: boolean;
  compute_node_wait_for_healthy_database_minutes: number;
  schedule: string | null;
  default_image: string | null;
  /** The spec's working_dir (absent when not set). */
  working_dir?: string | null;
  resource_monitor_config: string | null;
  spec_hash: string | null;
  k8s_namespace: string | null;
  k8s_name: string | null;
  k8s_uid: string | null;
}

export interface WorkflowCreate {
  name: string;
  user?: string | null;
  description?: string | null;
  jobs_sort_method?: string;
}

export type ComputeNodeModel = ComputeNodeRecord & { start_time: string };

/** A Slurm allocation as the API shows it (torc's scheduled_compute_nodes). */
export interface ScheduledComputeNodeModel {
  id: number;
  workflow_id: number;
  scheduler_config_id: number;
  /** The Slurm job id. */
  scheduler_id: number;
  scheduler_type: string;
  status: 'pending' | 'active' | 'complete';
  state: string;
  created_at: string;
  updated_at: string;
}

export type ResultModel = ResultRecord;

/** An event as the API shows it (torc's event_model, our category beside). */
export type EventModel = Omit<EventRecord, 'data'> & { data: Record<string, unknown> };

export interface ResourceRequirementsModel {
  id: number;
  workflow_id: number;
  name: string;
  num_cpus: number;
  num_gpus: number;
  num_nodes: number;
  memory: string;
  runtime: string;
  memory_bytes: number;
  runtime_seconds: number;
  /** The job whose own (raised) requirements these are, or null for a declared entry. */
  job_id: number | null;
}

export interface PageQuery {
  offset?: number;
  limit?: number;
}

export interface JobQuery extends PageQuery {
  /** Status name or code. */
  status?: string | number;
  name?: string;
  upstream_job_id?: number;
  needs_file_id?: number;
  sort_by?: string;
  reverse_sort?: boolean;
  include_relationships?: boolean;
}

/** torc's list filters of results. */
export interface ResultQuery extends PageQuery {
  job_id?: number;
  run_id?: number;
  return_code?: number;
  status?: string;
  compute_node_id?: number;
  /** Every result; false: the latest of each job (torc's default). Default here: true. */
  all_runs?: boolean;
  sort_by?: string;
  reverse_sort?: boolean;
}

export interface EventQuery extends PageQuery {
  category?: string;
  after_id?: number;
  after_timestamp?: number;
  sort_by?: string;
  reverse_sort?: boolean;
}

/** A job's fields update_job may change. */
export interface JobChanges {
  name?: string;
  command?: string;
  invocation_script?: string;
  resource_requirements_id?: number;
  scheduler_id?: number;
  failure_handler_id?: number;
  cancel_on_blocking_job_failure?: boolean;
  supports_termination?: boolean;
}

/** The dashboard's job table: filtered, sorted and paged by the server. */
export interface DashboardJobQuery extends PageQuery {
  /** Status names (torc's strings); none: every status. */
  status?: string[];
  /** Case-insensitive substring of the job name. */
  q?: string;
  sort?: JobTableSort;
  order?: 'asc' | 'desc';
}

export interface StdioQuery {
  stream: 'stdout' | 'stderr';
  /** Default: the job's current attempt. */
  attempt?: number;
  offset?: number;
  /** Read the last max_bytes instead of from offset. */
  tail?: boolean;
  max_bytes?: number;
}

/** Where a server-sent event stream stands (it reconnects by itself after a drop). */
export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StreamHandlers {
  /** Event name → handler of its JSON data. Every (re)connection starts with `hello`. */
  events: Record<string, (data: any) => void>;
  onState?: (state: StreamState, detail?: string) => void;
}

export interface EventStream {
  close(): void;
}

export interface ClientOptions {
  /** Bearer token for mutating calls. */
  token?: string;
  /** HTTP Basic sign-in of a user (servers started with --auth); the token wins when both are given. */
  basic?: { user: string; password: string };
  /** PEM CA certificate(s) that signed an https server's certificate (--ca-file). */
  ca?: string | Buffer;
  /** Per request; default 60 s. */
  timeoutMs?: number;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export class TorcClient implements RunnerClient {
  private readonly base: string;

  /** `url`: the server's root (http://host:port) or its API base (…/torc-service/v1). */
  constructor(
    url: string,
    private readonly options: ClientOptions = {},
  ) {
    const trimmed = url.replace(/\/+$/, '');
    this.base = trimmed.endsWith(BASE_PATH) ? trimmed : `${trimmed}${BASE_PATH}`;
  }

  // ---- service -----------------------------------------------------------------------------

  async ping(): Promise<{ status: string }> {
    return this.call('GET', '/ping');
  }

  async version(): Promise<{ version: string; api_version: string }> {
    return this.call('GET', '/version');
  }

  async openApi(): Promise<Record<string, unknown>> {
    return this.call('GET', '/openapi.json');
  }

  // ---- workflows ---------------------------------------------------------------------------

  /** Creates a workflow with its jobs from a spec document (YAML or JSON text). */
  async createWorkflowFromSpec(text: string, contentType = 'application/yaml'): Promise<{ workflow_id: number }> {
    return this.call('POST', '/workflow_specs', { text, contentType });
  }

  /** torc's export document of a workflow (`torc workflows export`). */
  async exportWorkflow(workflowId: number, options: { includeResults?: boolean; includeEvents?: boolean } = {}): Promise<TorcExport> {
    const query = new URLSearchParams();
    if (options.includeResults) query.set('include_results', 'true');
    if (options.includeEvents) query.set('include_events', 'true');
    const q = query.size > 0 ? `?${query}` : '';
    return this.call('GET', `/workflows/${workflowId}/export${q}`);
  }

  /** torc's create_workflow: an empty workflow. */
  async createWorkflow(model: WorkflowCreate): Promise<WorkflowModel> {
    return workflowFromWire(await this.call('POST', '/workflows', { body: model }));
  }

  async listWorkflows(query: PageQuery = {}): Promise<PageView<WorkflowModel>> {
    const page = await this.call<PageView<WireModel>>('GET', '/workflows', { query: { ...query } });
    return { ...page, items: page.items.map(workflowFromWire) };
  }

  async getWorkflow(workflowId: number): Promise<WorkflowModel> {
    return workflowFromWire(await this.call('GET', `/workflows/${id(workflowId)}`));
  }

  async deleteWorkflow(workflowId: number): Promise<WorkflowModel> {
    return workflowFromWire(await this.call('DELETE', `/workflows/${id(workflowId)}`));
  }

  async getWorkflowStatus(workflowId: number): Promise<WorkflowStatusModel> {
    return this.call('GET', `/workflows/${id(workflowId)}/status`);
  }

  async isComplete(workflowId: number): Promise<{ is_complete: boolean; is_canceled: boolean }> {
    return this.call('GET', `/workflows/${id(workflowId)}/is_complete`);
  }

  async initializeJobs(workflowId: number): Promise<{ workflow_id: number; ready: number; blocked: number; canceled: number }> {
    return this.call('POST', `/workflows/${id(workflowId)}/initialize_jobs`);
  }

  async cancelWorkflow(workflowId: number): Promise<{ workflow_id: number; canceled: number; running_job_ids: number[] }> {
    return this.call('PUT', `/workflows/${id(workflowId)}/cancel`);
  }

  /** Jobs back to uninitialized (torc's reset_job_status; ours also starts a new run). */
  async resetStatus(workflowId: number, options: { failedOnly?: boolean } = {}): Promise<{ workflow_id: number; run_id: number; updated_count: number }> {
    return this.call('POST', `/workflows/${id(workflowId)}/reset_job_status`, { query: { failed_only: options.failedOnly ?? false } });
  }

  // ---- jobs --------------------------------------------------------------------------------

  async listJobs(workflowId: number, query: JobQuery = {}): Promise<PageView<JobRecord>> {
    const page = await this.call<PageView<WireModel>>('GET', '/jobs', { query: { workflow_id: workflowId, ...query } });
    return { ...page, items: page.items.map(jobFromWire) };
  }

  /** Every page of listJobs. */
  async allJobs(workflowId: number, query: Omit<JobQuery, 'offset' | 'limit'> = {}): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for (let offset = 0; ; ) {
      const page = await this.listJobs(workflowId, { ...query, offset, limit: 10_000 });
      out.push(...page.items);
      if (!page.has_more || page.items.length === 0) return out;
      offset += page.items.length;
    }
  }

  /** A job with torc's id lists. */
  async getJob(jobId: number): Promise<JobRecord> {
    return jobFromWire(await this.call('GET', `/jobs/${id(jobId)}`));
  }

  async updateJob(jobId: number, changes: JobChanges): Promise<JobRecord> {
    return jobFromWire(await this.call('PUT', `/jobs/${id(jobId)}`, { body: changes }));
  }

  async getUserData(userDataId: number): Promise<UserDataRecord> {
    return withNulls<UserDataRecord>(await this.call('GET', `/user_data/${id(userDataId)}`), ['data']);
  }

  async updateUserData(userDataId: number, changes: { name?: string; data?: unknown; is_ephemeral?: boolean }): Promise<UserDataRecord> {
    return withNulls<UserDataRecord>(await this.call('PUT', `/user_data/${id(userDataId)}`, { body: changes }), ['data']);
  }

  /** Ids of the files that must exist before the workflow starts (torc sends them as strings). */
  async listRequiredExistingFiles(workflowId: number): Promise<number[]> {
    const out = await this.call<{ files: string[] }>('GET', `/workflows/${id(workflowId)}/required_existing_files`);
    return out.files.map(Number);
  }

  // ---- RunnerClient ------------------------------------------------------------------------

  async getProgress(workflowId: number): Promise<WorkflowProgress> {
    const s = await this.getWorkflowStatus(workflowId);
    const progress: WorkflowProgress = { workflow_id: s.id, run_id: s.run_id, is_complete: s.is_complete, is_canceled: s.is_canceled, counts: { ...s.counts } };
    if (s.cancel_requested_job_ids?.length) progress.cancel_requested_job_ids = [...s.cancel_requested_job_ids];
    return progress;
  }

  async registerComputeNode(workflowId: number, node: ComputeNodeRegistration): Promise<{ id: number }> {
    const created = await this.call<ComputeNodeModel>('POST', '/compute_nodes', { body: { workflow_id: workflowId, ...node } });
    return { id: created.id };
  }

  async heartbeat(computeNodeId: number): Promise<void> {
    await this.call('POST', `/compute_nodes/${id(computeNodeId)}/heartbeat`);
  }

  async deactivateComputeNode(computeNodeId: number): Promise<void> {
    await this.call('POST', `/compute_nodes/${id(computeNodeId)}/deactivate`);
  }

  /** Sends the per-node form, so the server packs single-node jobs onto one node each. */
  async claimJobsBasedOnResources(workflowId: number, req: ClaimByResourcesRequest): Promise<ClaimResponse> {
    const c = req.capacity;
    const body = {
      nodes: c.nodes.map((n) => ({
        name: n.name,
        num_cpus: n.num_cpus,
        // Division by a power of two is exact, so the server gets the same byte count back.
        memory_gb: n.memory_bytes / GIB,
        num_gpus: n.num_gpus,
        ...(n.busy ? { busy: true } : {}),
      })),
      time_limit: c.time_limit_seconds === null ? null : formatDuration(Math.max(0, Math.floor(c.time_limit_seconds))),
      scheduler_config_id: c.scheduler_config_id,
      compute_node_id: req.compute_node_id ?? null,
    };
    return claimFromWire(await this.call('POST', `/workflows/${id(workflowId)}/claim_jobs_based_on_resources/${id(req.limit)}`, {
      body,
      query: {
        sort_method: req.sort_method,
        strict_scheduler_match: req.strict_scheduler_match,
        any_scheduler: req.any_scheduler,
        start_run_id: req.start_run_id ?? undefined,
      },
    }));
  }

  async claimNextJobs(workflowId: number, limit: number, computeNodeId?: number, options: ClaimNextOptions = {}): Promise<ClaimResponse> {
    return claimFromWire(await this.call('POST', `/workflows/${id(workflowId)}/claim_next_jobs`, {
      query: { limit, compute_node_id: computeNodeId, start_run_id: options.start_run_id ?? undefined },
    }));
  }

  /** Bulk start_job (one request, one transaction): per-job results in request order. */
  async startJobs(workflowId: number, jobIds: number[], runId: number, computeNodeId: number, attemptIds?: number[]): Promise<BulkItemResult[]> {
    const out = await this.call<{ items: BulkItemResult[] }>('POST', `/workflows/${id(workflowId)}/start_jobs/${id(runId)}/${id(computeNodeId)}`, {
      body: attemptIds ? { job_ids: jobIds, attempt_ids: attemptIds } : { job_ids: jobIds },
    });
    return out.items;
  }

  /** Bulk complete_job (one request, one transaction, one cascade): per-job results in request order. */
  async completeJobs(workflowId: number, runId: number, items: CompleteJobItem[]): Promise<BulkItemResult[]> {
    const out = await this.call<{ items: BulkItemResult[] }>('POST', `/workflows/${id(workflowId)}/complete_jobs/${id(runId)}`, {
      body: { jobs: items },
    });
    return out.items;
  }

  async startJob(jobId: number, runId: number, computeNodeId: number, attemptId?: number): Promise<void> {
    await this.call('PUT', `/jobs/${id(jobId)}/start_job/${id(runId)}/${id(computeNodeId)}`, { query: { attempt_id: attemptId } });
  }

  /** After an outage: what the node holds, agreed with the server (RunnerClient.syncComputeNode). */
  async syncComputeNode(computeNodeId: number, held: HeldJob[]): Promise<NodeSyncOutcome> {
    return this.call('POST', `/compute_nodes/${id(computeNodeId)}/sync_jobs`, { body: { jobs: held } });
  }

  async completeJob(jobId: number, status: CompletionStatusName, runId: number, result: CompleteJobResult): Promise<void> {
    if (!(COMPLETION_STATUS_NAMES as readonly string[]).includes(status)) throw new InputError(`expected a completion status, got ${String(status)}`, 'status');
    await this.call('POST', `/jobs/${id(jobId)}/complete_job/${status}/${id(runId)}`, { body: result });
  }

  /** torc's model carries the rules as a JSON string; the contract's has them parsed. */
  async getFailureHandler(failureHandlerId: number): Promise<FailureHandlerModel> {
    return failureHandlerFromWire(await this.call('GET', `/failure_handlers/${id(failureHandlerId)}`));
  }

  async retryJob(jobId: number, runId: number, request: RetryJobRequest): Promise<void> {
    const { max_retries, ...body } = request;
    await this.call('POST', `/jobs/${id(jobId)}/retry/${id(runId)}`, { body, query: { max_retries } });
  }

  // ---- resource monitoring and recovery (issue 22) ----------------------------------------

  /** The workflow's resource_monitor settings with torc's defaults (works against torc's server too). */
  async getResourceMonitor(workflowId: number): Promise<ResourceMonitorConfig> {
    const wf = await this.getWorkflow(workflowId);
    let raw: unknown = null;
    try {
      raw = wf.resource_monitor_config ? JSON.parse(wf.resource_monitor_config) : null;
    } catch {
      raw = null;
    }
    return resolveResourceMonitor(raw);
  }

  async recordResourceSamples(workflowId: number, samples: ResourceSample[]): Promise<void> {
    await this.call('POST', `/workflows/${id(workflowId)}/job_resource_samples`, { body: { samples } });
  }

  async listResourceSamples(workflowId: number, query: PageQuery & SampleFilter = {}): Promise<PageView<ResourceSample>> {
    return this.call('GET', `/workflows/${id(workflowId)}/job_resource_samples`, { query: { ...query } });
  }

  async recoverWorkflow(workflowId: number, options: Partial<RecoveryOptions>, dryRun = false): Promise<RecoverOutcome> {
    return this.call('POST', `/workflows/${id(workflowId)}/recover`, { query: { dry_run: dryRun }, body: options });
  }

  // ---- failure policy, reinitialize, actions (issue 6) ------------------------------------

  async listFailureHandlers(workflowId: number, query: PageQuery = {}): Promise<PageView<FailureHandlerModel>> {
    const page = await this.call<PageView<WireModel>>('GET', `/workflows/${id(workflowId)}/failure_handlers`, { query: { ...query } });
    return { ...page, items: page.items.map(failureHandlerFromWire) };
  }

  async listFiles(workflowId: number, query: PageQuery = {}): Promise<PageView<FileRecord>> {
    const page = await this.call<PageView<WireModel>>('GET', '/files', { query: { workflow_id: workflowId, ...query } });
    return { ...page, items: page.items.map((f) => withNulls<FileRecord>(f, ['st_mtime'])) };
  }

  /** torc's process_changed_job_inputs: reinitialize with the files' times as seen by the caller. */
  async processChangedJobInputs(workflowId: number, options: { dryRun?: boolean; files?: FileObservation[] } = {}): Promise<ReinitOutcome> {
    return this.call('POST', `/workflows/${id(workflowId)}/process_changed_job_inputs`, {
      query: { dry_run: options.dryRun ?? false },
      body: { files: options.files ?? [] },
    });
  }

  async listActions(workflowId: number): Promise<WorkflowActionModel[]> {
    return this.call('GET', `/workflows/${id(workflowId)}/actions`);
  }

  async listPendingActions(workflowId: number, triggerType?: string): Promise<WorkflowActionModel[]> {
    return this.call('GET', `/workflows/${id(workflowId)}/actions/pending`, { query: { trigger_type: triggerType } });
  }

  /** Atomic: resolves for the one winner; the others get ConflictError. */
  async claimAction(
    workflowId: number,
    actionId: number,
    who: { compute_node_id?: number | null; claimer?: string },
  ): Promise<{ action_id: number; success: true; claimer: string; action: WorkflowActionModel }> {
    return this.call('POST', `/workflows/${id(workflowId)}/actions/${id(actionId)}/claim`, { body: who });
  }

  // ---- compute nodes and records -------------------------------------------------------------

  async listComputeNodes(workflowId: number, query: PageQuery & { is_active?: boolean } = {}): Promise<PageView<ComputeNodeModel>> {
    const page = await this.call<PageView<WireModel>>('GET', '/compute_nodes', { query: { workflow_id: workflowId, ...query } });
    return { ...page, items: page.items.map((n) => withNulls<ComputeNodeModel>(n, ['scheduler_config_id', 'scheduler_job_id'])) };
  }

  /** Every result (all_runs defaults to true here; torc's default is the latest of each job). */
  async listResults(workflowId: number, query: ResultQuery = {}): Promise<PageView<ResultModel>> {
    const page = await this.call<PageView<WireModel>>('GET', '/results', { query: { workflow_id: workflowId, all_runs: true, ...query } });
    // 0 stands for no compute node (torc's model requires one).
    return { ...page, items: page.items.map((r) => withNulls<ResultModel>({ ...r, compute_node_id: r.compute_node_id || undefined }, RESULT_NULLABLE)) };
  }

  /** torc's event models: epoch-ms timestamps, the category in data (and beside it). */
  async listEvents(workflowId: number, query: EventQuery = {}): Promise<PageView<EventModel>> {
    return this.call('GET', '/events', { query: { workflow_id: workflowId, ...query } });
  }

  async createEvent(workflowId: number, category: string, data: unknown = null): Promise<EventRecord> {
    return this.call('POST', '/events', { body: { workflow_id: workflowId, category, data } });
  }

  async listResourceRequirements(workflowId: number, query: PageQuery = {}): Promise<PageView<ResourceRequirementsModel>> {
    const page = await this.call<PageView<WireModel>>('GET', '/resource_requirements', { query: { workflow_id: workflowId, ...query } });
    return { ...page, items: page.items.map((r) => withNulls<ResourceRequirementsModel>(r, ['job_id'])) };
  }

  async listSlurmSchedulers(workflowId: number, query: PageQuery = {}): Promise<PageView<SlurmSchedulerRecord>> {
    const page = await this.call<PageView<WireModel>>('GET', '/slurm_schedulers', { query: { workflow_id: workflowId, ...query } });
    // torc's model requires an account: one declared without is sent as ''.
    const fields = ['account', 'partition', 'mem', 'gres', 'qos', 'ntasks_per_node', 'tmp', 'extra'];
    return { ...page, items: page.items.map((s) => withNulls<SlurmSchedulerRecord>({ ...s, account: s.account || undefined }, fields)) };
  }

  /** Records a Slurm allocation submitted for the workflow (`torc slurm schedule-nodes`). */
  async createScheduledComputeNode(body: { workflow_id: number; scheduler_config_id: number; scheduler_id: string | number; state?: string }): Promise<ScheduledComputeNodeModel> {
    return this.call('POST', '/scheduled_compute_nodes', { body: { scheduler_type: 'slurm', ...body } });
  }

  async listScheduledComputeNodes(workflowId: number, query: PageQuery & { open_only?: boolean } = {}): Promise<PageView<ScheduledComputeNodeModel>> {
    return this.call('GET', '/scheduled_compute_nodes', { query: { workflow_id: workflowId, ...query } });
  }

  // ---- the dashboard's reads (torc's string statuses, epoch-ms times) ---------------------

  async dashboardConfig(): Promise<DashboardConfig> {
    return this.call('GET', '/dashboard/config');
  }

  async dashboardWorkflows(query: PageQuery = {}): Promise<DashboardWorkflowPage> {
    return this.call('GET', '/dashboard/workflows', { query: { ...query } });
  }

  async dashboardWorkflow(workflowId: number): Promise<DashboardWorkflow> {
    return this.call('GET', `/dashboard/workflows/${id(workflowId)}`);
  }

  async dashboardJobs(workflowId: number, query: DashboardJobQuery = {}): Promise<DashboardJobPage> {
    const { status, ...rest } = query;
    return this.call('GET', `/dashboard/workflows/${id(workflowId)}/jobs`, { query: { ...rest, status: status?.length ? status.join(',') : undefined } });
  }

  /** The grouped DAG; `expand` lists the groups whose jobs to show one by one. */
  async dashboardDag(workflowId: number, expand: number[] = []): Promise<DashboardDag> {
    return this.call('GET', `/dashboard/workflows/${id(workflowId)}/dag`, { query: { expand: expand.length ? expand.map(id).join(',') : undefined } });
  }

  async jobDetail(jobId: number): Promise<DashboardJobDetail> {
    return this.call('GET', `/jobs/${id(jobId)}/detail`);
  }

  async jobStdio(jobId: number, query: StdioQuery): Promise<DashboardStdio> {
    return this.call('GET', `/jobs/${id(jobId)}/stdio`, { query: { ...query } });
  }

  /** Cancels one job: not started, it is canceled now; running, its runner terminates it. */
  async cancelJob(jobId: number): Promise<CancelJobOutcome> {
    return this.call('POST', `/jobs/${id(jobId)}/cancel`);
  }

  // ---- server-sent event streams -------------------------------------------------------------

  /** A workflow's changes: `hello` (counts as of now), then `update`, `resync`, `deleted`. */
  streamWorkflow(workflowId: number, handlers: StreamHandlers): EventStream {
    return this.openStream(`/workflows/${id(workflowId)}/events/stream`, handlers);
  }

  /** Which workflows changed: `hello`, then `workflows` with their ids (null: re-read all). */
  streamWorkflows(handlers: StreamHandlers): EventStream {
    return this.openStream('/dashboard/stream', handlers);
  }

  /** What is appended to a running attempt's output: `data` chunks, `unavailable`, then `end`. */
  followJobStdio(jobId: number, query: Pick<StdioQuery, 'stream' | 'attempt' | 'offset'>, handlers: StreamHandlers): EventStream {
    const q = new URLSearchParams({ stream: query.stream });
    if (query.attempt !== undefined) q.set('attempt', id(query.attempt));
    if (query.offset !== undefined) q.set('offset', id(query.offset));
    return this.openStream(`/jobs/${id(jobId)}/stdio/follow?${q}`, handlers);
  }

  /**
   * An EventSource (the `eventsource` package: reconnects by itself, as a browser's does) with
   * the bearer token in its header, never in the URL. Loaded on first use: only live views need it.
   */
  private openStream(path: string, handlers: StreamHandlers): EventStream {
    let closed = false;
    let source: { close(): void } | undefined;
    const state = (s: StreamState, detail?: string) => {
      if (!closed || s === 'closed') handlers.onState?.(s, detail);
    };
    state('connecting');
    const token = this.options.token;
    void import('eventsource').then(
      ({ EventSource }) => {
        if (closed) return;
        const es = new EventSource(`${this.base}${path}`, {
          fetch: (input, init) => fetch(input, { ...init, headers: token ? { ...init.headers, Authorization: `Bearer ${token}` } : init.headers }),
        });
        source = es;
        es.onopen = () => state('open');
        es.onerror = (e) => state(es.readyState === es.CLOSED ? 'closed' : 'reconnecting', e.message ?? (e.code ? `HTTP ${e.code}` : undefined));
        for (const [name, handler] of Object.entries(handlers.events)) {
          es.addEventListener(name, (m) => {
            if (closed) return;
            let data: unknown;
            try {
              data = JSON.parse(String((m as { data?: unknown }).data));
            } catch {
              return;
            }
            handler(data);
          });
        }
      },
      (err: unknown) => state('closed', (err as Error).message),
    );
    return {
      close: () => {
        if (closed) return;
        closed = true;
        source?.close();
      },
    };
  }

  // ---- transport ---------------------------------------------------------------------------

  private httpsAgent: HttpsAgent | undefined;

  /** Keep-alive connections: one shared agent for http, one per client for https (its CA). */
  private agentFor(url: URL): HttpAgent {
    if (url.protocol !== 'https:') return SHARED_HTTP_AGENT;
    this.httpsAgent ??= new HttpsAgent({ ...KEEP_ALIVE, ...(this.options.ca ? { ca: this.options.ca } : {}) });
    return this.httpsAgent;
  }

  private async call<T = any>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; text?: string; contentType?: string } = {},
  ): Promise<T> {
    const url = new URL(`${this.base}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { Accept: 'application/json' };
    // Sent on every request: the seed's GET claim forms mutate too.
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    else if (this.options.basic) headers.Authorization = `Basic ${Buffer.from(`${this.options.basic.user}:${this.options.basic.password}`).toString('base64')}`;
    let body: string | undefined;
    if (opts.text !== undefined) {
      body = opts.text;
      headers['Content-Type'] = opts.contentType ?? 'application/yaml';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
    let res: { ok: boolean; status: number; text(): Promise<string> };
    try {
      const signal = AbortSignal.timeout(this.options.timeoutMs ?? 60_000);
      res = await send(url, { method, headers, body, signal, agent: this.agentFor(url) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(0, `cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    let payload: unknown;
    try {
      payload = text === '' ? undefined : JSON.parse(text);
    } catch {
      payload = undefined;
    }
    if (res.ok) return payload as T;
    throw errorFrom(res.status, payload, `${method} ${url.pathname}`, text);
  }
}

/**
 * Idle connections are closed after 4 s, before a server's keep-alive timeout (Node's default
 * is 5 s; torc-ts's server keeps them 65 s) can close one under a request being sent on it.
 * Idle sockets do not keep the process alive (the agent unrefs them).
 */
const KEEP_ALIVE = { keepAlive: true, timeout: 4000 } as const;
const SHARED_HTTP_AGENT = new HttpAgent(KEEP_ALIVE);

/**
 * One request over node:http(s) with a keep-alive agent. Global fetch (undici) cost more CPU
 * per request than the server spent answering it (bench/NOTES.md, issue 18), and cannot be
 * given a CA per request.
 */
function send(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal; agent: HttpAgent },
): Promise<{ ok: boolean; status: number; text(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    if (init.body !== undefined) init.headers['Content-Length'] = String(Buffer.byteLength(init.body));
    const req = request(url, { method: init.method, headers: init.headers, agent: init.agent, signal: init.signal }, (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, text: async () => text });
      });
    });
    req.on('error', (err) => reject(Object.assign(new Error(err.message), { cause: err })));
    req.end(init.body);
  });
}

/** Path segments are numbers we format ourselves; refuse anything else before it reaches a URL. */
function id(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new InputError(`expected a whole number ≥ 0, got ${String(n)}`, 'id');
  return String(n);
}

/** Rebuilds the server's error as the class it was thrown as. */
export function errorFrom(status: number, payload: unknown, what: string, raw = ''): Error {
  const p = (payload ?? {}) as { message?: unknown; field?: unknown; issues?: unknown };
  const message = typeof p.message === 'string' ? p.message : `${what}: HTTP ${status}${raw ? `: ${raw.slice(0, 200)}` : ''}`;
  const field = typeof p.field === 'string' ? p.field : undefined;
  switch (status) {
    case 400:
    case 422: {
      const issues = Array.isArray(p.issues) ? (p.issues as InputIssue[]) : undefined;
      if (issues && issues.length > 0) return new InputError(issues);
      // The server's message already starts with the field; keep the issue's message bare.
      const bare = field && message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
      return new InputError(bare, field);
    }
    case 404:
      return withMessage(new NotFoundError(''), message);
    case 409:
      return new ConflictError(message);
    case 413:
      return new TooLargeError(message, field);
    default:
      return new ApiError(status, message);
  }
}

function withMessage<E extends Error>(err: E, message: string): E {
  err.message = message;
  return err;
}

type WireModel = Record<string, unknown>;

/** Puts back as null the listed fields the server left out (torc's models omit unset fields). */
function withNulls<T>(o: WireModel, fields: readonly string[]): T {
  const out: WireModel = { ...o };
  for (const f of fields) if (out[f] === undefined) out[f] = null;
  return out as T;
}

/** A result's fields the wire leaves out when null: its node, and what monitoring measured and diagnosed. */
const RESULT_NULLABLE = [
  'compute_node_id', 'peak_memory_bytes', 'avg_memory_bytes', 'peak_cpu_percent', 'avg_cpu_percent', 'failure_diagnosis', 'diagnosis_reason', 'job_stdout', 'job_stderr',
] as const;

const JOB_NULLABLE = ['invocation_script', 'resource_requirements_id', 'scheduler_id', 'failure_handler_id', 'image', 'env', 'return_code', 'compute_node_id'] as const;

function jobFromWire<T extends JobRecord = JobRecord>(o: WireModel): T {
  return withNulls<T>(o, JOB_NULLABLE);
}

function claimFromWire(o: WireModel): ClaimResponse {
  const jobs = (o.jobs as WireModel[] | undefined) ?? [];
  return { jobs: jobs.map((j) => jobFromWire<ClaimedJobRecord>(j)), reason: (o.reason as string | undefined) ?? null };
}

function workflowFromWire(o: WireModel): WorkflowModel {
  return withNulls<WorkflowModel>(o, ['description', 'schedule', 'default_image', 'resource_monitor_config', 'spec_hash', 'k8s_namespace', 'k8s_name', 'k8s_uid']);
}

function failureHandlerFromWire(o: WireModel): FailureHandlerModel {
  const rules = typeof o.rules === 'string' ? (JSON.parse(o.rules) as FailureHandlerModel['rules']) : (o.rules as FailureHandlerModel['rules']);
  return { id: o.id as number, workflow_id: o.workflow_id as number, name: o.name as string, rules };
}
