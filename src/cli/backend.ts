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
  PageView,
  ResourceRequirementsModel,
  ResultModel,
  ScheduledComputeNodeModel,
  TorcClient,
  WorkflowActionModel,
  WorkflowModel,
  WorkflowStatusModel,
} from '../api/client.js';
import { buildTorcExport, type ExportOptions } from '../api/export-view.js';
import { actionView, computeNodeView, pageOfList, pageView, resourceRequirementsView, resultView, workflowStatusView, workflowView } from '../api/views.js';
import type { RecoveryOptions } from '../allocator/recovery.js';
import type { ResourceSample } from '../contract/resources.js';
import type { RecoverOutcome, SampleFilter } from '../store/index.js';
import { SlurmAllocationStore } from '../store/slurm-allocations.js';
import { scheduledNodeView } from '../api/routes/scheduled-nodes.js';
import { InputError } from '../errors.js';
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
  listJobs(id: number, query: { status?: string | number; offset?: number; limit?: number }): Promise<PageView<JobRecord>>;
  listActions(id: number): Promise<WorkflowActionModel[]>;
  /** torc's export document of a workflow. */
  exportWorkflow(id: number, options: ExportOptions): Promise<TorcExport>;
  /** Stores a new workflow from a spec (validated and planned as `torc validate` does). */
  createWorkflowFromSpec(spec: WorkflowSpec, source: string): Promise<{ workflow_id: number }>;
  // Resource monitoring and recovery (issue 22): reports, plots, recover.
  listResults(id: number, query: { offset?: number; limit?: number }): Promise<PageView<ResultModel>>;
  listResourceRequirements(id: number, query: { offset?: number; limit?: number }): Promise<PageView<ResourceRequirementsModel>>;
  listComputeNodes(id: number, query: { offset?: number; limit?: number }): Promise<PageView<ComputeNodeModel>>;
  listResourceSamples(id: number, query: SampleFilter & { offset?: number; limit?: number }): Promise<PageView<ResourceSample>>;
  recoverWorkflow(id: number, options: RecoveryOptions, dryRun: boolean): Promise<RecoverOutcome>;
  listScheduledComputeNodes(id: number, query: { offset?: number; limit?: number }): Promise<PageView<ScheduledComputeNodeModel>>;
  close(): Promise<void>;
}

export interface BackendFlags extends Pick<RunnerFlags, 'url' | 'tokenFile'> {
  db?: string;
}

export function addBackendOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'torc server URL (default: $TORC_API_URL)')
    .option('--token-file <file>', 'file holding the bearer token for the server')
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
    if (!existsSync(flags.db)) throw new InputError(`no database at ${flags.db}`, '--db');
    const store = await Store.open(flags.db);
    return { kind: 'db', backend: new StoreBackend(store), store, path: flags.db };
  }
  const { client, url, token } = await clientFromFlags(flags);
  return { kind: 'server', backend: new ClientBackend(client), client, url, hasToken: token !== undefined };
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
  constructor(private readonly c: TorcClient) {}
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
  listJobs(id: number, query: { status?: string | number; offset?: number; limit?: number }) {
    return this.c.listJobs(id, query);
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
  listResults(id: number, query: { offset?: number; limit?: number }) {
    return this.c.listResults(id, query);
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
  constructor(private readonly store: Store) {}
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
    return { workflow_id: id, ...(await this.store.initializeJobs(id)) };
  }
  async listFiles(id: number, query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    const all = await this.store.listFiles(id);
    return pageView({ items: all.slice(offset, offset + limit), total: all.length }, offset, limit, (f) => f);
  }
  processChangedJobInputs(id: number, options: { dryRun?: boolean; files?: FileObservation[] }) {
    return this.store.reinitialize(id, options);
  }
  async listJobs(id: number, query: { status?: string | number; offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    return pageView(await this.store.listJobs(id, { status: query.status, offset, limit }), offset, limit, (j) => j);
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
  async listResults(id: number, query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    await this.store.getWorkflow(id);
    return pageView(await this.store.listResults(id, { offset, limit }), offset, limit, resultView) as PageView<ResultModel>;
  }
  async listResourceRequirements(id: number, query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    await this.store.getWorkflow(id);
    return pageView(pageOfList(await this.store.listResourceRequirements(id), offset, limit), offset, limit, resourceRequirementsView);
  }
  async listComputeNodes(id: number, query: { offset?: number; limit?: number }) {
    const { offset, limit } = this.page(query);
    await this.store.getWorkflow(id);
    return pageView(await this.store.listComputeNodes(id, { offset, limit }), offset, limit, computeNodeView);
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

/** Every item of a paged list (pages of 1000). */
export async function allPages<T>(fetchPage: (offset: number, limit: number) => Promise<PageView<T>>): Promise<T[]> {
  const items: T[] = [];
  for (let offset = 0; ; ) {
    const page = await fetchPage(offset, 1000);
    items.push(...page.items);
    if (!page.has_more || page.items.length === 0) return items;
    offset += page.items.length;
  }
}
