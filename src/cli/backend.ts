/**
 * Where the workflow commands (`torc workflows …`, `torc jobs …`) read and change state: a
 * server through the typed REST client (`--url` / TORC_API_URL, as every runner), or a
 * database file directly (`--db PATH`, e.g. the `.torc/<name>.db` of a `torc reconcile`, also
 * while it runs: SQLite lets both processes use it). Both answer with the same API models,
 * built by the same view functions, so the output does not depend on the path taken.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import type {
  ComputeNodeModel,
  EventQuery,
  JobChanges,
  JobQuery,
  PageView,
  ResourceRequirementsModel,
  ResultModel,
  ResultQuery,
  ScheduledComputeNodeModel,
  TorcClient,
  WorkflowActionModel,
  WorkflowModel,
  WorkflowStatusModel,
} from '../api/client.js';
import { buildTorcExport, type ExportOptions } from '../api/export-view.js';
import { actionView, eventView, jobView, pageOfList, pageView, userDataView, workflowStatusView, workflowView } from '../api/views.js';
import { formatDuration, formatMemory } from '../spec/units.js';
import type { RecoveryOptions } from '../allocator/recovery.js';
import type { ResourceSample } from '../contract/resources.js';
import { parseStatus } from '../contract/status.js';
import type { RecoverOutcome, SampleFilter } from '../store/index.js';
import { SlurmAllocationStore } from '../store/slurm-allocations.js';
import { scheduledNodeView } from '../api/routes/scheduled-nodes.js';
import { ConflictError, InputError } from '../errors.js';
import type { AllocationRequest, WorkerCredentials } from './commands/slurm.js';
import type { WorkflowSpec } from '../spec/index.js';
import type { TorcExport } from '../spec/torc-export.js';
import type { FileObservation, JobRecord } from '../contract/client.js';
import type { FileRecord, ReinitOutcome } from '../store/index.js';
import { Store } from '../store/index.js';
import { clientFromFlags, type RunnerFlags } from './runner-flags.js';

export interface WorkflowBackend {
  listWorkflows(query: { offset?: number; limit?: number }): Promise<PageView<WorkflowModel>>;
  getWorkflow(id: number): Promise<WorkflowModel>;
  getWorkflowStatus(id: number): Promise<WorkflowStatusModel>;
  cancelWorkflow(id: number): Promise<{ workflow_id: number; canceled: number; running_job_ids: number[] }>;
  resetStatus(id: number, options: { failedOnly?: boolean }): Promise<{ workflow_id: number; run_id: number; updated_count: number }>;
  initializeJobs(id: number): Promise<{ workflow_id: number; ready: number; blocked: number; canceled: number }>;
  listFiles(id: number, query: { offset?: number; limit?: number }): Promise<PageView<FileRecord>>;
  processChangedJobInputs(id: number, options: { dryRun?: boolean; files?: FileObservation[] }): Promise<ReinitOutcome>;
  listJobs(id: number, query: JobQuery): Promise<PageView<JobRecord>>;
  /** A job with torc's id lists. */
  getJob(jobId: number): Promise<JobRecord>;
  updateJob(jobId: number, changes: JobChanges): Promise<JobRecord>;
  /** Results with nulls (as the store keeps them); every attempt unless `all_runs: false`. */
  listResults(id: number, query: ResultQuery): Promise<PageView<ResultModel>>;
  listEvents(id: number, query: EventQuery): Promise<PageView<object>>;
  getUserData(userDataId: number): Promise<object>;
  updateUserData(userDataId: number, changes: { name?: string; data?: unknown; is_ephemeral?: boolean }): Promise<object>;
  deleteWorkflow(id: number): Promise<WorkflowModel>;
  /** Ids of the files that must exist before the workflow starts. */
  listRequiredExistingFiles(id: number): Promise<number[]>;
  /** Claims a pending action (true), or says another claimer has it (false). */
  claimAction(id: number, actionId: number, claimer: string): Promise<boolean>;
  /** Whether Slurm workers can reach this backend (a server: --url), so submit can start allocations. */
  readonly servesSlurmWorkers: boolean;
  /** Submits Slurm allocations whose workers claim from the server (needs --url). */
  submitSlurmAllocations(id: number, req: AllocationRequest): Promise<{ slurm_job_ids: string[] }>;
  listActions(id: number): Promise<WorkflowActionModel[]>;
  /** torc's export document of a workflow. */
  exportWorkflow(id: number, options: ExportOptions): Promise<TorcExport>;
  /** Stores a new workflow from a spec (validated and planned as `torc validate` does). */
  createWorkflowFromSpec(spec: WorkflowSpec, source: string): Promise<{ workflow_id: number }>;
  // Resource monitoring and recovery (issue 22): reports, plots, recover.
  listResourceRequirements(id: number, query: { offset?: number; limit?: number }): Promise<PageView<ResourceRequirementsModel>>;
  listComputeNodes(id: number, query: { offset?: number; limit?: number }): Promise<PageView<ComputeNodeModel>>;
  listResourceSamples(id: number, query: SampleFilter & { offset?: number; limit?: number }): Promise<PageView<ResourceSample>>;
  recoverWorkflow(id: number, options: RecoveryOptions, dryRun: boolean): Promise<RecoverOutcome>;
  listScheduledComputeNodes(id: number, query: { offset?: number; limit?: number }): Promise<PageView<ScheduledComputeNodeModel>>;
  close(): Promise<void>;
}

export interface BackendFlags extends Pick<RunnerFlags, 'url' | 'tokenFile' | 'caFile'> {
  db?: string;
  /** Create the --db file when it does not exist yet (torc workflows create). */
  createDb?: boolean;
}

export function addBackendOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'torc server URL (default: $TORC_API_URL)')
    .option('--token-file <file>', 'file holding the bearer token for the server')
    .option('--ca-file <file>', 'PEM CA certificate of an https server (default: $TORC_CA_FILE)')
    .option('--db <path>', 'use this database file directly instead of a server (e.g. .torc/<name>.db of torc reconcile)');
}

export async function openBackend(flags: BackendFlags): Promise<WorkflowBackend> {
  const opened = await openBackendParts(flags);
  return opened.backend;
}

/** The backend with what it talks to: the store it opened, or the client (and its URL). */
export type OpenedBackend =
  | { kind: 'db'; backend: WorkflowBackend; store: Store; path: string }
  | { kind: 'server'; backend: WorkflowBackend; client: TorcClient; url: string; hasToken: boolean };

export async function openBackendParts(flags: BackendFlags): Promise<OpenedBackend> {
  if (flags.db !== undefined) {
    if (flags.url !== undefined) throw new InputError('give either --db or --url, not both', '--db');
    if (flags.tokenFile !== undefined) throw new InputError('a token is for a server (--url); --db changes the file directly', '--token-file');
    if (flags.caFile !== undefined) throw new InputError('a CA is for an https server (--url); --db changes the file directly', '--ca-file');
    if (!existsSync(flags.db) && !flags.createDb) throw new InputError(`no database at ${flags.db}`, '--db');
    const store = await Store.open(flags.db);
    return { kind: 'db', backend: new StoreBackend(store), store, path: flags.db };
  }
  const { client, url, token } = await clientFromFlags(flags);
  return { kind: 'server', backend: new ClientBackend(client, url, { tokenFile: flags.tokenFile ?? null, caFile: flags.caFile ?? null }), client, url, hasToken: token !== undefined };
}

/**
 * Jobs back to run in a new run, then initialized (`torc workflows reset-status`, and "rerun
 * failed" in the dashboard and `torc tui` with failedOnly).
 */
export async function resetAndInitialize(backend: Pick<WorkflowBackend, 'resetStatus' | 'initializeJobs'>, workflowId: number, options: { failedOnly: boolean }) {
  const reset = await backend.resetStatus(workflowId, options);
  const initialized = await backend.initializeJobs(workflowId);
  return { reset, initialized };
}

class ClientBackend implements WorkflowBackend {
  readonly servesSlurmWorkers = true;
  constructor(
    private readonly c: TorcClient,
    private readonly url: string,
    private readonly credentials: WorkerCredentials,
  ) {}
  async claimAction(id: number, actionId: number, claimer: string) {
    try {
      await this.c.claimAction(id, actionId, { claimer });
      return true;
    } catch (e) {
      if (e instanceof ConflictError) return false;
      throw e;
    }
  }
  async submitSlurmAllocations(id: number, req: AllocationRequest) {
    const { submitAllocations } = await import('./commands/slurm.js');
    const { result } = await submitAllocations(this.c, this.url, this.credentials, id, req);
    return { slurm_job_ids: result.allocations.map((a) => a.slurm_job_id) };
  }
  listWorkflows(query: { offset?: number; limit?: number }) {
    return this.c.listWorkflows(query);
  }
  getWorkflow(id: number) {
    return this.c.getWorkflow(id);
  }
  getWorkflowStatus(id: number) {
    return this.c.getWorkflowStatus(id);
  }
  cancelWorkflow(id: number) {
    return this.c.cancelWorkflow(id);
  }
  resetStatus(id: number, options: { failedOnly?: boolean }) {
    return this.c.resetStatus(id, options);
  }
  initializeJobs(id: number) {
    return this.c.initializeJobs(id);
  }
  listFiles(id: number, query: { offset?: number; limit?: number }) {
    return this.c.listFiles(id, query);
  }
  processChangedJobInputs(id: number, options: { dryRun?: boolean; files?: FileObservation[] }) {
    return this.c.processChangedJobInputs(id, options);
  }
  listJobs(id: number, query: JobQuery) {
    return this.c.listJobs(id, query);
  }
  getJob(jobId: number) {
    return this.c.getJob(jobId);
  }
  updateJob(jobId: number, changes: JobChanges) {
    return this.c.updateJob(jobId, changes);
  }
  listResults(id: number, query: ResultQuery) {
    return this.c.listResults(id, query);
  }
  listEvents(id: number, query: EventQuery) {
    return this.c.listEvents(id, query);
  }
  getUserData(userDataId: number) {
    return this.c.getUserData(userDataId);
  }
  updateUserData(userDataId: number, changes: { name?: string; data?: unknown; is_ephemeral?: boolean }) {
    return this.c.updateUserData(userDataId, changes);
  }
  deleteWorkflow(id: number) {
    return this.c.deleteWorkflow(id);
  }
  listRequiredExistingFiles(id: number) {
    return this.c.listRequiredExistingFiles(id);
  }
  listActions(id: number) {
    return this.c.listActions(id);
  }
  exportWorkflow(id: number, options: ExportOptions) {
    return this.c.exportWorkflow(id, { includeResults: options.results, includeEvents: options.events });
  }
  createWorkflowFromSpec(spec: WorkflowSpec) {
    return this.c.createWorkflowFromSpec(JSON.stringify(spec), 'application/json');
  }
  listResourceRequirements(id: number, query: { offset?: number; limit?: number }) {
    return this.c.listResourceRequirements(id, query);
  }
  listComputeNodes(id: number, query: { offset?: number; limit?: number }) {
    return this.c.listComputeNodes(id, query);
  }
  listResourceSamples(id: number, query: SampleFilter & { offset?: number; limit?: number }) {
    return this.c.listResourceSamples(id, query);
  }
  recoverWorkflow(id: number, options: RecoveryOptions, dryRun: boolean) {
    return this.c.recoverWorkflow(id, options, dryRun);
  }
  listScheduledComputeNodes(id: number, query: { offset?: number; limit?: number }) {
    return this.c.listScheduledComputeNodes(id, query);
  }
  async close() {}
}

/** The same answers as the REST routes, straight from the store. */
class StoreBackend implements WorkflowBackend {
  readonly servesSlurmWorkers = false;
  constructor(private readonly store: Store) {}
  async claimAction(id: number, actionId: number, claimer: string) {
    try {
      await this.store.claimAction(id, actionId, { claimer });
      return true;
    } catch (e) {
      if (e instanceof ConflictError) return false;
      throw e;
    }
  }
  submitSlurmAllocations(): Promise<{ slurm_job_ids: string[] }> {
    throw new InputError('Slurm workers claim their jobs from a server: submit with --url (torc server), not --db', '--db');
  }
  private page(query: { offset?: number; limit?: number }) {
    return { offset: query.offset ?? 0, limit: query.limit ?? 100 };
  }
  async listWorkflows(query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    return pageView(await this.store.listWorkflows({ offset, limit }), offset, limit, workflowView) as PageView<WorkflowModel>;
  }
  async getWorkflow(id: number) {
    return workflowView(await this.store.getWorkflow(id)) as WorkflowModel;
  }
  async getWorkflowStatus(id: number) {
    return workflowStatusView(await this.store.getStatus(id));
  }
  async cancelWorkflow(id: number) {
    return { workflow_id: id, ...(await this.store.cancelWorkflow(id)) };
  }
  async resetStatus(id: number, options: { failedOnly?: boolean }) {
    const out = await this.store.resetStatus(id, options);
    return { workflow_id: id, run_id: out.run_id, updated_count: out.reset };
  }
  async initializeJobs(id: number) {
    const out = await this.store.initializeJobs(id);
    await this.store.fireWaitingActionTriggers(id);
    return { workflow_id: id, ...out };
  }
  async listFiles(id: number, query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    const all = await this.store.listFiles(id);
    return pageView({ items: all.slice(offset, offset + limit), total: all.length }, offset, limit, (f) => f);
  }
  processChangedJobInputs(id: number, options: { dryRun?: boolean; files?: FileObservation[] }) {
    return this.store.reinitialize(id, options);
  }
  async listJobs(id: number, query: JobQuery) {
    const { offset, limit } = this.page(query);
    const { include_relationships, ...filter } = query;
    const page = include_relationships ? await this.store.listJobsWithRelations(id, { ...filter, offset, limit }) : await this.store.listJobs(id, { ...filter, offset, limit });
    return pageView(page, offset, limit, (j) => j);
  }
  getJob(jobId: number) {
    return this.store.getJobWithRelations(jobId);
  }
  updateJob(jobId: number, changes: JobChanges) {
    return this.store.updateJob(jobId, changes);
  }
  async listResults(id: number, query: ResultQuery) {
    const { offset, limit } = this.page(query);
    const status = query.status === undefined ? undefined : parseStatus(query.status);
    if (query.status !== undefined && status === undefined) throw new InputError(`unknown job status "${query.status}"`, '--status');
    const where = { job_id: query.job_id, run_id: query.run_id, return_code: query.return_code, status, compute_node_id: query.compute_node_id, latest_only: query.all_runs === false ? true : undefined };
    const page = await this.store.listRecords('results', id, { offset, limit, where, sort_by: query.sort_by, reverse_sort: query.reverse_sort });
    return pageView(page, offset, limit, (r): ResultModel => r);
  }
  async listEvents(id: number, query: EventQuery) {
    const { offset, limit } = this.page(query);
    const where = {
      category: query.category,
      after_id: query.after_id,
      after_timestamp: query.after_timestamp === undefined ? undefined : new Date(query.after_timestamp).toISOString(),
    };
    const page = await this.store.listRecords('events', id, { offset, limit, where, sort_by: query.sort_by, reverse_sort: query.reverse_sort });
    return pageView(page, offset, limit, eventView);
  }
  async getUserData(userDataId: number) {
    return userDataView(await this.store.getRecord('user_data', userDataId));
  }
  async updateUserData(userDataId: number, changes: { name?: string; data?: unknown; is_ephemeral?: boolean }) {
    return userDataView(await this.store.updateRecord('user_data', userDataId, changes));
  }
  async deleteWorkflow(id: number) {
    const wf = await this.store.getWorkflow(id);
    await this.store.deleteWorkflow(id);
    return workflowView(wf) as WorkflowModel;
  }
  listRequiredExistingFiles(id: number) {
    return this.store.listRequiredExistingFiles(id);
  }
  async listActions(id: number) {
    const wf = await this.store.getWorkflow(id);
    return (await this.store.listActions(id)).map((a) => actionView(a, wf.run_id));
  }
  exportWorkflow(id: number, options: ExportOptions) {
    return buildTorcExport(this.store, id, options);
  }
  async createWorkflowFromSpec(spec: WorkflowSpec, source: string) {
    // Loaded here, not at start-up: only import needs the spec pipeline (issue 9: start-up cost).
    const { loadWorkflowText, planDocument } = await import('../spec/index.js');
    const [doc] = loadWorkflowText(JSON.stringify(spec), { format: 'json', sourceName: source });
    const wf = await this.store.createWorkflowFromPlan(planDocument(doc!));
    return { workflow_id: wf.id };
  }
  async listResourceRequirements(id: number, query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    await this.store.getWorkflow(id);
    return pageView(pageOfList(await this.store.listResourceRequirements(id), offset, limit), offset, limit, (r): ResourceRequirementsModel => ({
      ...r,
      memory: formatMemory(r.memory_bytes),
      runtime: formatDuration(r.runtime_seconds),
    }));
  }
  async listComputeNodes(id: number, query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    await this.store.getWorkflow(id);
    return pageView(await this.store.listComputeNodes(id, { offset, limit }), offset, limit, (n): ComputeNodeModel => ({ ...n, start_time: n.created_at }));
  }
  async listResourceSamples(id: number, query: SampleFilter & { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    return pageView(await this.store.listResourceSamples(id, { ...query, offset, limit }), offset, limit, (s) => s);
  }
  recoverWorkflow(id: number, options: RecoveryOptions, dryRun: boolean) {
    return this.store.recoverWorkflow(id, options, dryRun);
  }
  async listScheduledComputeNodes(id: number, query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    await this.store.getWorkflow(id);
    const all = await new SlurmAllocationStore(this.store).listAllocations(id);
    return pageView(pageOfList(all, offset, limit), offset, limit, scheduledNodeView) as PageView<ScheduledComputeNodeModel>;
  }
  close() {
    return this.store.close();
  }
}

/** Every item of a paged list (pages of 1000), or the first `max`. */
export async function allPages<T>(fetchPage: (offset: number, limit: number) => Promise<PageView<T>>, max = Infinity): Promise<T[]> {
  const items: T[] = [];
  for (let offset = 0; ; ) {
    const page = await fetchPage(offset, Math.min(1000, max - items.length));
    items.push(...page.items);
    if (!page.has_more || page.items.length === 0 || items.length >= max) return items;
    offset += page.items.length;
  }
}
