/**
 * The in-process client (the contract's RunnerClient and OperatorClient): the same calls as the
 * HTTP client, served straight by the store. The reconciler's own local runner and the
 * operator use it to skip the loopback round trips; external runners use src/api/client.ts
 * against the REST API, which calls the same Store methods.
 */
import { httpStatusOfError } from '../errors.js';
import type { CompletionStatusName } from '../contract/status.js';
import type { Plan } from '../spec/plan.js';
import { resolveResourceMonitor, type ResourceMonitorConfig } from '../spec/resource-monitor.js';
import type { ResourceSample } from '../contract/resources.js';
import { Store, type ItemOutcome } from './index.js';
import type {
  ApplyOutcome,
  BulkItemResult,
  ClaimByResourcesRequest,
  ClaimNextOptions,
  CompleteJobItem,
  ClaimResponse,
  CompleteJobResult,
  ComputeNodeRegistration,
  ClaimedJobRecord,
  DeclaringResource,
  FailureHandlerModel,
  HeldJob,
  NodeSyncOutcome,
  OperatorClient,
  OperatorConnection,
  RetryJobRequest,
  WorkflowProgress,
} from '../contract/client.js';

export class StoreRunnerClient implements OperatorClient {
  /** `onChange` is called after every state change, so a reconciler can wake up at once. */
  constructor(
    private readonly store: Store,
    private readonly onChange: () => void = () => {},
  ) {}

  getProgress(workflowId: number): Promise<WorkflowProgress> {
    return this.store.getStatus(workflowId);
  }

  async registerComputeNode(workflowId: number, node: ComputeNodeRegistration): Promise<{ id: number }> {
    const record = await this.store.registerComputeNode(workflowId, node);
    return { id: record.id };
  }

  heartbeat(computeNodeId: number): Promise<void> {
    return this.store.heartbeat(computeNodeId);
  }

  async deactivateComputeNode(computeNodeId: number): Promise<void> {
    await this.store.deactivateComputeNode(computeNodeId);
    this.onChange();
  }

  async claimJobsBasedOnResources(workflowId: number, req: ClaimByResourcesRequest): Promise<ClaimResponse> {
    const res = await this.store.claimJobsBasedOnResources(workflowId, req);
    if (res.jobs.length > 0) this.onChange();
    return res;
  }

  async claimNextJobs(workflowId: number, limit: number, computeNodeId?: number, options?: ClaimNextOptions): Promise<ClaimResponse> {
    const res = await this.store.claimNextJobs(workflowId, limit, computeNodeId, options);
    if (res.jobs.length > 0) this.onChange();
    return res;
  }

  async startJob(jobId: number, runId: number, computeNodeId: number, attemptId?: number): Promise<void> {
    await this.store.startJob(jobId, runId, computeNodeId, attemptId);
    this.onChange();
  }

  async completeJob(jobId: number, status: CompletionStatusName, runId: number, result: CompleteJobResult): Promise<void> {
    await this.store.completeJob(jobId, status, runId, result);
    this.onChange();
  }

  async startJobs(workflowId: number, jobIds: number[], runId: number, computeNodeId: number, attemptIds?: number[]): Promise<BulkItemResult[]> {
    const out = await this.store.startJobs(jobIds, runId, computeNodeId, workflowId, attemptIds);
    if (out.some((o) => o.ok)) this.onChange();
    return out.map((o, i) => bulkResult(jobIds[i]!, o));
  }

  async completeJobs(workflowId: number, runId: number, items: CompleteJobItem[]): Promise<BulkItemResult[]> {
    const out = await this.store.completeJobs(
      items.map(({ job_id, status, ...result }) => ({ job_id, status, run_id: runId, result })),
      workflowId,
    );
    if (out.items.some((o) => o.ok)) this.onChange();
    return out.items.map((o, i) => bulkResult(items[i]!.job_id, o));
  }

  getFailureHandler(failureHandlerId: number): Promise<FailureHandlerModel> {
    return this.store.getFailureHandler(failureHandlerId);
  }

  async retryJob(jobId: number, runId: number, request: RetryJobRequest): Promise<void> {
    await this.store.retryJob(jobId, runId, request);
    this.onChange();
  }

  async getResourceMonitor(workflowId: number): Promise<ResourceMonitorConfig> {
    return resolveResourceMonitor((await this.store.getWorkflow(workflowId)).settings.resource_monitor);
  }

  async recordResourceSamples(workflowId: number, samples: ResourceSample[]): Promise<void> {
    await this.store.recordResourceSamples(workflowId, samples);
  }

  async syncComputeNode(computeNodeId: number, held: HeldJob[]): Promise<NodeSyncOutcome> {
    const out = await this.store.syncComputeNode(computeNodeId, held);
    if (out.released.length > 0) this.onChange();
    return out;
  }

  async applyWorkflow(plan: Plan, resource: DeclaringResource): Promise<ApplyOutcome> {
    const outcome = await this.store.applyPlan(plan, { k8s_namespace: resource.namespace, k8s_name: resource.name, k8s_uid: resource.uid });
    await this.store.initializeJobs(outcome.workflow_id);
    this.onChange();
    return outcome;
  }

  async deleteWorkflows(resource: DeclaringResource): Promise<void> {
    for (const wf of await this.store.findWorkflowsByK8sName(resource.namespace, resource.name)) {
      if (wf.k8s_uid === resource.uid) await this.store.deleteWorkflow(wf.id).catch(() => undefined);
    }
  }

  async findActiveComputeNode(workflowId: number, computeNodeType: string): Promise<{ id: number } | null> {
    const active = await this.store.listComputeNodes(workflowId, { activeOnly: true, limit: 1000 });
    const node = active.items.find((n) => n.compute_node_type === computeNodeType);
    return node ? { id: node.id } : null;
  }

  listHeldJobs(workflowId: number): Promise<ClaimedJobRecord[]> {
    return this.store.listHeldJobs(workflowId);
  }

  async startScheduledRun(workflowId: number, tick: string): Promise<{ run_id: number }> {
    const { run_id } = await this.store.resetStatus(workflowId);
    await this.store.initializeJobs(workflowId);
    await this.store.appendEvent(workflowId, 'schedule_run_started', { tick, run_id });
    this.onChange();
    return { run_id };
  }
}

/** Opens the SQLite store at `path` as the operator's connection: the in-process client over it. */
export async function connectStore(path: string): Promise<OperatorConnection & { store: Store }> {
  const store = await Store.open(path);
  return { store, client: new StoreRunnerClient(store), close: () => store.close() };
}

/** A store item outcome as the bulk REST routes answer it (the status the single call would get). */
export function bulkResult(jobId: number, o: ItemOutcome<unknown>): BulkItemResult {
  if (o.ok) return o.duplicate ? { job_id: jobId, ok: true, duplicate: true } : { job_id: jobId, ok: true };
  const e = o.error;
  const status = httpStatusOfError(e) ?? 500;
  return { job_id: jobId, ok: false, status, message: e.message };
}
