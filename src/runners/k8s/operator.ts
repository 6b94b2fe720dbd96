/**
 * The Kubernetes operator: Workflow custom resources in, pods out.
 *
 * Level-triggered and idempotent: every pass reads the informer caches (workflows, pods,
 * nodes) and the store, and moves each workflow one step toward what its CR declares:
 *   1. a CR being deleted → its pods deleted, its store rows removed, our finalizer dropped;
 *   2. otherwise our finalizer is ensured and the spec applied to the store when the CR's
 *      generation changed (invalid spec, or jobs exchanging files with no --work-pvc to share
 *      them → status Failed + a condition and a Warning event saying why);
 *   3. pods → job transitions: Running → start, finished → complete (exit code; OOMKilled →
 *      137), gone while running → terminated; pods of stale attempts are deleted;
 *   4. dispatch: free capacity per node (allocatable − requests of every non-terminal pod,
 *      plus pods we created that the cache has not shown yet) → one claim through the client
 *      (the server's allocator decides) → one pod per claimed job, on the node it was placed
 *      on, with a deterministic name (a re-created pod hits AlreadyExists and is adopted,
 *      never duplicated);
 *   5. the status subresource, patched only when it changed; Events on changes of phase.
 * Passes are triggered by informer events and a periodic tick, and never overlap. With leader
 * election, only the replica holding the Lease connects to the server and acts. Like every
 * runner it talks to the server through the client contract (OperatorClient), never the store.
 */
import { hostname } from 'node:os';
import {
  CoordinationV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, Watch, setHeaderOptions,
  type KubeConfig, type V1Node, type V1Pod, type V1Toleration,
} from '@kubernetes/client-node';
import { placeClaimed, worthClaiming } from '../../allocator/index.js';
import type { ClaimedJobRecord, OperatorClient, OperatorConnection } from '../../contract/client.js';
import { JobStatus, statusName } from '../../contract/status.js';
import { InputError } from '../../errors.js';
import { CoalescedPass } from '../../coalesced.js';
import { loadWorkflowText, planDocument, type Plan } from '../../spec/index.js';
import { isAlreadyExists, isConflict, isNotFound, kubeStatus } from './api-errors.js';
import { clusterCapacity, type CapacityOptions } from './capacity.js';
import { EventRecorder } from './events.js';
import { Informer, objectKey, type InformerEvent } from './informer.js';
import { LeaderElector } from './leader.js';
import { OperatorMetrics } from './metrics.js';
import { sharedStorageRefusal } from './shared-files.js';
import {
  ANNOTATION_RUN_ID, ANNOTATION_WORKFLOW_ID, WORKFLOW_API_VERSION, WORKFLOW_KIND, buildJobPod, jobPodName, podJob, podOutcome,
} from './pods.js';
import {
  WORKFLOW_GROUP, WORKFLOW_PLURAL, WORKFLOW_VERSION, patchWorkflowStatus, statusChanged, workflowCrStatus, type WorkflowCrStatus,
} from './status.js';

export const FINALIZER = 'torc.dev/cleanup';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** A Workflow custom resource as the API returns it. */
export interface WorkflowCr {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string | Date;
    finalizers?: string[];
    labels?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Partial<WorkflowCrStatus>;
}

export interface OperatorOptions<C extends OperatorConnection = OperatorConnection> {
  kubeConfig: KubeConfig;
  /** Connects to the server (e.g. connectStore: the SQLite store in this process). With leader election: only while leading. */
  connect: () => Promise<C>;
  /** Namespace to watch; null = all namespaces. */
  namespace: string | null;
  /** Image for jobs without one (and without the workflow's default_image). */
  defaultImage?: string;
  capacity?: CapacityOptions;
  tolerations?: V1Toleration[];
  /** TORC_API_URL for job pods. */
  apiUrl?: string | null;
  /** Shared working directory of job pods: a ReadWriteMany PVC (see pods.ts). */
  workVolume?: { claimName: string; mountPath: string } | null;
  leaderElection?: { namespace: string; name?: string; leaseDurationSeconds?: number; renewDeadlineSeconds?: number; retryPeriodSeconds?: number } | null;
  /** This replica's name (pod name); default hostname-pid. */
  identity?: string;
  /** Periodic pass (dispatch / reap) interval, seconds (default 2). */
  tickSeconds?: number;
  /** Full resync of the caches, seconds (default 30). */
  resyncSeconds?: number;
  /** Most pods created per workflow and pass (default 200). */
  maxPodsPerPass?: number;
  /** Lease of the operator's compute node records in the store (default 300 s): pods keep running while the operator restarts. */
  computeNodeLeaseSeconds?: number;
  metrics?: OperatorMetrics;
  log?: (message: string) => void;
  /** Started with the connection while leading (e.g. the REST API), closed when leadership ends. */
  serve?: (connection: C) => Promise<{ close(): Promise<void> }>;
  /** Called when a held lease is lost (not on stop()); the CLI exits so that Kubernetes restarts it. */
  onLostLeadership?: () => void;
  /** Called when starting to lead failed (store, informers, serve); the replica has given up the lease. */
  onFatal?: (err: unknown) => void;
}

interface WorkflowState {
  uid: string;
  namespace: string;
  name: string;
  /** CR generation last applied to the store (or found invalid). */
  generation: number;
  workflowId: number | null;
  invalid: string | null;
  /** The condition and reason reporting `invalid` (default SpecValid / InvalidSpec). */
  refusal?: { condition: string; reason: string };
  computeNodeId: number | null;
  lastHeartbeat: number;
}

export class Operator<C extends OperatorConnection = OperatorConnection> {
  private readonly o: OperatorOptions<C>;
  private readonly identity: string;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  readonly metrics: OperatorMetrics;
  private readonly events: EventRecorder;
  private readonly elector: LeaderElector | null;
  private connection: C | null = null;
  private client: OperatorClient | null = null;
  private workflows: Informer<WorkflowCr> | null = null;
  private pods: Informer<V1Pod> | null = null;
  private nodes: Informer<V1Node> | null = null;
  private readonly state = new Map<string, WorkflowState>();
  /** Pods created by us that the cache has not shown yet (they hold capacity already). */
  private readonly assumed = new Map<string, V1Pod>();
  private leading = false;
  private stopped = true;
  private readonly coalesced = new CoalescedPass(() => this.passOnce(), () => this.isLeader);
  private served: { close(): Promise<void> } | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private scheduled = false;
  /** Count of passes done (tests wait on it). */
  passes = 0;

  constructor(options: OperatorOptions<C>) {
    this.o = options;
    this.identity = options.identity ?? `${hostname()}-${process.pid}`;
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.metrics = options.metrics ?? new OperatorMetrics();
    this.events = new EventRecorder(this.core, { component: 'torc-operator', instance: this.identity, onError: (e) => this.warn('event', e) });
    const le = options.leaderElection;
    this.elector = le
      ? new LeaderElector(options.kubeConfig.makeApiClient(CoordinationV1Api), {
        namespace: le.namespace, name: le.name ?? 'torc-operator', identity: this.identity,
        leaseDurationSeconds: le.leaseDurationSeconds, renewDeadlineSeconds: le.renewDeadlineSeconds, retryPeriodSeconds: le.retryPeriodSeconds,
        onStartedLeading: () => { void this.lead(); },
        onStoppedLeading: () => {
          if (this.stopped) return;
          void this.unlead('lost the leader lease').then(() => this.o.onLostLeadership?.());
        },
        onError: (e) => this.warn('leader election', e),
      })
      : null;
  }

  get isLeader(): boolean {
    return this.leading && (this.elector ? this.elector.isLeader : true);
  }

  private log(msg: string): void {
    this.o.log?.(msg);
  }

  private warn(what: string, err: unknown): void {
    const s = kubeStatus(err);
    this.log(`${what}: ${s ? `${s.code} ${s.reason} ${s.message}` : err instanceof Error ? err.message : String(err)}`);
  }

  /** Starts (leader election first when configured). Resolves once running or waiting for the lease. */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.elector) void this.elector.start();
    else await this.lead();
  }

  /** Stops acting; with `release` (default) hands the Lease over at once. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    await this.unlead('stopping');
    if (this.elector) await this.elector.stop({ release: opts.release ?? true });
  }

  private async lead(): Promise<void> {
    if (this.leading || this.stopped) return;
    this.leading = true;
    this.metrics.leader.set(1);
    this.log(`${this.identity}: leading`);
    try {
      this.connection = await this.o.connect();
      this.client = this.connection.client;
      const watch = new Watch(this.o.kubeConfig);
      const ns = this.o.namespace;
      const onEvent = (what: string) => (ev: InformerEvent, obj: unknown) => this.onCacheEvent(what, ev, obj);
      const onError = (what: string) => (e: unknown) => this.warn(`${what} informer`, e);
      this.nodes = new Informer<V1Node>({ path: '/api/v1/nodes', watch, list: () => this.core.listNode(), onEvent: onEvent('node'), onError: onError('nodes') });
      this.pods = new Informer<V1Pod>({ path: '/api/v1/pods', watch, list: () => this.core.listPodForAllNamespaces(), onEvent: onEvent('pod'), onError: onError('pods') });
      const wfPath = ns ? `/apis/${WORKFLOW_GROUP}/${WORKFLOW_VERSION}/namespaces/${ns}/${WORKFLOW_PLURAL}` : `/apis/${WORKFLOW_GROUP}/${WORKFLOW_VERSION}/${WORKFLOW_PLURAL}`;
      const base = { group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL };
      this.workflows = new Informer<WorkflowCr>({
        path: wfPath, watch, onEvent: onEvent('workflow'), onError: onError('workflows'),
        list: () => (ns ? this.custom.listNamespacedCustomObject({ ...base, namespace: ns }) : this.custom.listClusterCustomObject(base)),
      });
      await Promise.all([this.nodes.start(), this.pods.start(), this.workflows.start()]);
      if (!this.leading) return;
      if (this.o.serve) this.served = await this.o.serve(this.connection);
      this.tickTimer = setInterval(() => this.schedule(), (this.o.tickSeconds ?? 2) * 1000);
      this.resyncTimer = setInterval(() => this.schedule(), (this.o.resyncSeconds ?? 30) * 1000);
      this.schedule();
    } catch (err) {
      this.warn('start', err);
      await this.unlead('failed to start');
      // Hand the lease to a replica that can do the work.
      this.stopped = true;
      await this.elector?.stop({ release: true });
      this.o.onFatal?.(err);
    }
  }

  private async unlead(why: string): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.metrics.leader.set(0);
    this.log(`${this.identity}: not leading (${why})`);
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.tickTimer = this.resyncTimer = null;
    await Promise.all([this.workflows?.stop(), this.pods?.stop(), this.nodes?.stop()]);
    await this.coalesced.current;
    this.workflows = this.pods = this.nodes = null;
    const served = this.served;
    this.served = null;
    await served?.close().catch((e) => this.warn('closing the REST API', e));
    this.state.clear();
    this.assumed.clear();
    const connection = this.connection;
    this.connection = null;
    this.client = null;
    await connection?.close();
  }

  private onCacheEvent(what: string, _ev: InformerEvent, obj: unknown): void {
    if (what === 'pod') {
      const p = obj as V1Pod;
      this.assumed.delete(objectKey(p));
    }
    this.schedule();
  }

  /** Coalesces triggers into one pass soon. */
  private schedule(): void {
    if (this.scheduled || !this.leading) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pass();
    });
  }

  /** One reconcile pass over every workflow; overlapping calls coalesce. */
  pass(): Promise<void> {
    return this.coalesced.trigger();
  }


  private async passOnce(): Promise<void> {
    if (!this.isLeader || !this.client || !this.workflows) return;
    const seen = new Set<string>();
    for (const cr of this.workflows.list()) {
      seen.add(cr.metadata.uid);
      try {
        await this.reconcileWorkflow(cr);
        this.metrics.reconciles.inc({ result: 'ok' });
      } catch (err) {
        this.metrics.reconciles.inc({ result: 'error' });
        this.warn(`workflow ${cr.metadata.namespace}/${cr.metadata.name}`, err);
      }
      if (!this.isLeader) return;
    }
    await this.forgetVanished(seen);
    this.passes++;
  }

  // ---- one workflow ----------------------------------------------------------------------

  private ref(cr: WorkflowCr) {
    return { apiVersion: WORKFLOW_API_VERSION, kind: WORKFLOW_KIND, name: cr.metadata.name, namespace: cr.metadata.namespace, uid: cr.metadata.uid };
  }

  private ownedPods(uid: string): V1Pod[] {
    return (this.pods?.list() ?? []).filter((p) => (p.metadata?.ownerReferences ?? []).some((r) => r.uid === uid));
  }

  private async reconcileWorkflow(cr: WorkflowCr): Promise<void> {
    const client = this.client!;
    if (cr.metadata.deletionTimestamp) {
      if ((cr.metadata.finalizers ?? []).includes(FINALIZER)) await this.cleanup(cr);
      return;
    }
    if (!(cr.metadata.finalizers ?? []).includes(FINALIZER)) {
      await this.custom.patchNamespacedCustomObject({
        group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL, namespace: cr.metadata.namespace, name: cr.metadata.name,
        body: { metadata: { finalizers: [...(cr.metadata.finalizers ?? []), FINALIZER], resourceVersion: cr.metadata.resourceVersion } },
      }, mergePatch).catch((err) => {
        if (!isConflict(err) && !isNotFound(err)) throw err;
      });
      return; // the update comes back through the watch
    }
    const st = await this.applySpec(cr);
    if (st.invalid !== null || st.workflowId === null) return;
    const { run_id: runId, is_canceled: canceled } = await client.getProgress(st.workflowId);
    await this.ensureComputeNode(st);
    await this.syncPods(cr, st, runId, canceled);
    const progress = await client.getProgress(st.workflowId);
    // The claim sorts by the workflow's own jobs_sort_method.
    if (!progress.is_complete && !progress.is_canceled) await this.dispatch(cr, st, runId);
    await this.reportStatus(cr, st, runId);
  }

  private async applySpec(cr: WorkflowCr): Promise<WorkflowState> {
    const uid = cr.metadata.uid;
    const generation = cr.metadata.generation ?? 1;
    let st = this.state.get(uid);
    if (st && st.generation === generation) return st;
    st = { uid, namespace: cr.metadata.namespace, name: cr.metadata.name, generation, workflowId: st?.workflowId ?? null, invalid: null, computeNodeId: st?.computeNodeId ?? null, lastHeartbeat: 0 };
    let plan: Plan | null = null;
    try {
      const doc = { apiVersion: cr.apiVersion ?? `${WORKFLOW_GROUP}/${WORKFLOW_VERSION}`, kind: WORKFLOW_KIND, metadata: { name: cr.metadata.name, namespace: cr.metadata.namespace }, spec: cr.spec };
      const [parsed] = loadWorkflowText(JSON.stringify(doc), { sourceName: `${cr.metadata.namespace}/${cr.metadata.name}` });
      plan = planDocument(parsed!);
      const noSharedStorage = this.o.workVolume ? null : sharedStorageRefusal(plan, cr.metadata.namespace);
      if (noSharedStorage) {
        st.invalid = noSharedStorage;
        st.refusal = { condition: 'SharedStorage', reason: 'NoSharedStorage' };
      }
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      st.invalid = err.message;
    }
    if (st.invalid !== null || !plan) {
      this.state.set(uid, st);
      await this.events.record(this.ref(cr), 'Warning', st.refusal?.reason ?? 'InvalidSpec', st.invalid ?? '');
      await this.reportInvalid(cr, st);
      return st;
    }
    const outcome = await this.client!.applyWorkflow(plan, { namespace: cr.metadata.namespace, name: cr.metadata.name, uid });
    if (st.workflowId !== outcome.workflow_id) st.computeNodeId = null;
    st.workflowId = outcome.workflow_id;
    this.state.set(uid, st);
    if (outcome.action !== 'unchanged') {
      await this.events.record(this.ref(cr), 'Normal', 'Applied', `workflow ${outcome.workflow_id} ${outcome.action} (generation ${generation}; ${plan.jobs.length} jobs, ${outcome.kept} kept, ${outcome.rerun} to run)`);
    }
    return st;
  }

  /** The operator's compute node record for this workflow: reused across restarts, so running jobs stay ours. */
  private async ensureComputeNode(st: WorkflowState): Promise<void> {
    const client = this.client!;
    const lease = this.o.computeNodeLeaseSeconds ?? 300;
    if (st.computeNodeId !== null) {
      if (Date.now() - st.lastHeartbeat > (lease * 1000) / 10) {
        try {
          await client.heartbeat(st.computeNodeId);
          st.lastHeartbeat = Date.now();
          return;
        } catch {
          st.computeNodeId = null; // expired or gone: register again
        }
      } else return;
    }
    const mine = await client.findActiveComputeNode(st.workflowId!, 'k8s');
    if (mine) {
      st.computeNodeId = mine.id;
      await client.heartbeat(mine.id);
    } else {
      const rec = await client.registerComputeNode(st.workflowId!, {
        hostname: this.identity, pid: process.pid, num_cpus: 0, memory_gb: 0, num_gpus: 0, num_nodes: 1,
        scheduler_config_id: null, compute_node_type: 'k8s', lease_seconds: lease,
      });
      st.computeNodeId = rec.id;
    }
    st.lastHeartbeat = Date.now();
  }

  /** Pod states → job transitions; stale pods deleted; claimed jobs without a pod placed again. */
  private async syncPods(cr: WorkflowCr, st: WorkflowState, runId: number, canceled: boolean): Promise<void> {
    const client = this.client!;
    const active = new Map<number, ClaimedJobRecord>();
    for (const j of await client.listHeldJobs(st.workflowId!)) active.set(j.id, j);
    const withPod = new Set<number>();
    const labels = { namespace: cr.metadata.namespace, workflow: cr.metadata.name };
    for (const pod of this.ownedPods(cr.metadata.uid)) {
      const pj = podJob(pod);
      if (!pj) continue;
      if (!this.isCurrent(pod, st.workflowId!, runId)) {
        // From an earlier run or an edited spec's predecessor: history (the store has its
        // results); removed so that its name is free for this run's attempt.
        if (!pod.metadata?.deletionTimestamp) await this.deletePod(pod);
        continue;
      }
      const job = active.get(pj.jobId);
      const outcome = podOutcome(pod);
      if (!job || job.attempt !== pj.attempt) {
        // A pod of an attempt the store no longer runs (canceled, requeued, reset): stop it.
        if (outcome.state !== 'finished' && !pod.metadata?.deletionTimestamp) await this.deletePod(pod);
        continue;
      }
      withPod.add(job.id);
      // A canceled workflow's running jobs are stopped; their pods then report terminated.
      if (canceled && outcome.state !== 'finished' && !pod.metadata?.deletionTimestamp) {
        await this.deletePod(pod);
        continue;
      }
      if (outcome.state === 'pending') continue;
      if (job.status === JobStatus.pending) {
        await client.startJob(job.id, runId, st.computeNodeId!);
        job.status = JobStatus.running;
      }
      if (outcome.state === 'finished') {
        const started = outcome.startedAt ? Date.parse(outcome.startedAt) : NaN;
        const finished = outcome.finishedAt ? Date.parse(outcome.finishedAt) : Date.now();
        const seconds = Number.isFinite(started) ? Math.max(0, (finished - started) / 1000) : 0;
        await client.completeJob(job.id, outcome.status, runId, {
          return_code: outcome.returnCode, exec_time_minutes: seconds / 60, completion_time: new Date(finished).toISOString(),
        });
        const name = statusName(outcome.status);
        this.metrics.jobsFinished.inc({ ...labels, status: name });
        this.metrics.jobDuration.observe({ status: name }, seconds);
        if (outcome.status !== JobStatus.completed) {
          await this.events.record(this.ref(cr), 'Warning', outcome.reason === 'OOMKilled' ? 'JobOOMKilled' : 'JobFailed',
            `job ${job.name} (attempt ${job.attempt}, pod ${pod.metadata?.name}) ${name}: exit code ${outcome.returnCode}, ${outcome.reason}${outcome.message ? `: ${outcome.message}` : ''}`);
        }
      }
    }
    for (const job of active.values()) {
      if (withPod.has(job.id)) continue;
      const name = jobPodName(cr.metadata.name, job);
      if (this.assumed.has(`${cr.metadata.namespace}/${name}`)) continue;
      if (job.status === JobStatus.running) {
        // Its pod is gone (deleted, or the node and its pods vanished) while the job ran.
        await client.completeJob(job.id, JobStatus.terminated, runId, { return_code: 143, exec_time_minutes: 0, completion_time: new Date().toISOString() });
        this.metrics.jobsFinished.inc({ ...labels, status: 'terminated' });
        await this.events.record(this.ref(cr), 'Warning', 'PodDeleted', `job ${job.name} (attempt ${job.attempt}): its pod ${name} disappeared while running`);
      } else {
        // Claimed, but the pod was never created (the operator stopped in between): place it again.
        await this.replace(cr, st, job, runId);
      }
    }
    this.metrics.runningPods.set(labels, active.size);
  }

  /** Whether a pod belongs to the store workflow and run the CR is on now. */
  private isCurrent(pod: V1Pod, workflowId: number, runId: number): boolean {
    const a = pod.metadata?.annotations ?? {};
    return Number(a[ANNOTATION_WORKFLOW_ID]) === workflowId && Number(a[ANNOTATION_RUN_ID]) === runId;
  }

  /** A job claimed before whose pod was never created: the allocator places it on today's capacity. */
  private async replace(cr: WorkflowCr, st: WorkflowState, job: ClaimedJobRecord, runId: number): Promise<void> {
    const nodes = placeClaimed(this.capacity(), job.resources);
    if (!nodes) return; // no room now; the next pass tries again
    await this.createPod(cr, st, { ...job, assigned_nodes: nodes }, runId);
  }

  private capacity() {
    const cached = this.pods?.list() ?? [];
    const keys = new Set(cached.map(objectKey));
    const pods = [...cached, ...[...this.assumed.entries()].filter(([k]) => !keys.has(k)).map(([, p]) => p)];
    return clusterCapacity(this.nodes?.list() ?? [], pods, this.o.capacity);
  }

  private async dispatch(cr: WorkflowCr, st: WorkflowState, runId: number): Promise<void> {
    const labels = { namespace: cr.metadata.namespace, workflow: cr.metadata.name };
    const capacity = this.capacity();
    if (!worthClaiming(capacity.nodes)) return;
    this.metrics.claims.inc(labels);
    const res = await this.client!.claimJobsBasedOnResources(st.workflowId!, {
      capacity, limit: this.o.maxPodsPerPass ?? 200, any_scheduler: true, compute_node_id: st.computeNodeId,
    });
    this.metrics.jobsClaimed.inc(labels, res.jobs.length);
    for (const job of res.jobs) {
      if (!this.isLeader) return;
      await this.createPod(cr, st, job, runId);
    }
  }

  private async createPod(cr: WorkflowCr, st: WorkflowState, job: ClaimedJobRecord, runId: number): Promise<void> {
    const labels = { namespace: cr.metadata.namespace, workflow: cr.metadata.name };
    let pod: V1Pod;
    try {
      pod = buildJobPod(job, {
        workflow: { name: cr.metadata.name, namespace: cr.metadata.namespace, uid: cr.metadata.uid },
        workflowId: st.workflowId!, runId, defaultImage: this.o.defaultImage ?? 'busybox:1.36', apiUrl: this.o.apiUrl ?? null,
        tolerations: this.o.tolerations, workVolume: this.o.workVolume ?? null,
      });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      // A job that cannot become a pod fails (visibly) instead of blocking the workflow.
      await this.client!.startJob(job.id, runId, st.computeNodeId!);
      await this.client!.completeJob(job.id, JobStatus.failed, runId, { return_code: 1, exec_time_minutes: 0, completion_time: new Date().toISOString() });
      await this.events.record(this.ref(cr), 'Warning', 'JobNotRunnable', err.message);
      return;
    }
    const key = `${cr.metadata.namespace}/${pod.metadata!.name}`;
    this.assumed.set(key, { ...pod, status: { phase: 'Pending' } });
    try {
      await this.core.createNamespacedPod({ namespace: cr.metadata.namespace, body: pod });
      this.metrics.podsCreated.inc(labels);
    } catch (err) {
      if (!isAlreadyExists(err)) {
        this.assumed.delete(key);
        throw err;
      }
      // Created before (a restart, a relist): adopt it when it runs this very attempt.
      const existing = await this.core.readNamespacedPod({ namespace: cr.metadata.namespace, name: pod.metadata!.name! });
      const pj = podJob(existing);
      const owned = (existing.metadata?.ownerReferences ?? []).some((r) => r.uid === cr.metadata.uid);
      if (owned && pj?.jobId === job.id && pj.attempt === job.attempt) return;
      this.assumed.delete(key);
      if (owned && !this.isCurrent(existing, st.workflowId!, runId)) {
        // The name is held by this workflow's previous run: free it; the job (claimed, no pod)
        // is placed again on a later pass.
        if (!existing.metadata?.deletionTimestamp) await this.deletePod(existing);
        return;
      }
      throw new Error(`pod ${key} exists but belongs to another job or workflow`);
    }
  }

  private async deletePod(pod: V1Pod): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ namespace: pod.metadata!.namespace!, name: pod.metadata!.name! });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async reportStatus(cr: WorkflowCr, st: WorkflowState, runId: number): Promise<void> {
    const progress = await this.client!.getProgress(st.workflowId!);
    this.metrics.readyJobs.set({ namespace: cr.metadata.namespace, workflow: cr.metadata.name }, progress.counts.ready ?? 0);
    const next = workflowCrStatus({
      generation: cr.metadata.generation ?? 1, workflowId: st.workflowId!, runId, counts: progress.counts,
      canceled: progress.is_canceled, previous: cr.status ?? null,
    });
    if (!statusChanged(cr.status, next)) return;
    const updated = await patchWorkflowStatus(this.custom, { namespace: cr.metadata.namespace, name: cr.metadata.name }, cr.status, next)
      .catch((err) => {
        if (isNotFound(err)) return null;
        throw err;
      });
    if (updated && cr.status?.phase !== next.phase) {
      const terminal = next.phase === 'Succeeded' || next.phase === 'Failed' || next.phase === 'Canceled';
      await this.events.record(this.ref(cr), next.phase === 'Failed' ? 'Warning' : 'Normal', `Workflow${next.phase}`,
        `${next.done} of ${next.total} jobs finished${terminal ? `: ${next.counts.completed} completed, ${next.counts.failed} failed, ${next.counts.terminated} terminated, ${next.counts.canceled} canceled` : ''}`);
    }
    // Keep our cached copy current, so the next pass compares against what we wrote.
    if (updated) cr.status = updated.status;
  }

  private async reportInvalid(cr: WorkflowCr, st: WorkflowState): Promise<void> {
    const now = new Date().toISOString();
    const prevCond = (cr.status?.conditions ?? []).find((c) => c.type === (st.refusal?.condition ?? 'SpecValid'));
    const status = {
      phase: 'Failed', observedGeneration: st.generation, workflowId: st.workflowId ?? 0, runId: 0, total: 0, done: 0,
      counts: workflowCrStatus({ generation: 0, workflowId: 0, runId: 0, counts: {}, canceled: false }).counts,
      conditions: [{
        type: st.refusal?.condition ?? 'SpecValid', status: 'False', reason: st.refusal?.reason ?? 'InvalidSpec', message: (st.invalid ?? '').slice(0, 4000),
        lastTransitionTime: prevCond?.status === 'False' ? prevCond.lastTransitionTime : now,
      }],
    } as unknown as WorkflowCrStatus;
    await patchWorkflowStatus(this.custom, { namespace: cr.metadata.namespace, name: cr.metadata.name }, cr.status, status).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /**
   * The CR is being deleted: delete its pods (finished ones too, so that none is left when the
   * CR is gone), forget it in the store, release the finalizer.
   */
  private async cleanup(cr: WorkflowCr): Promise<void> {
    for (const pod of this.ownedPods(cr.metadata.uid)) {
      if (!pod.metadata?.deletionTimestamp) await this.deletePod(pod);
    }
    await this.deleteFromStore(cr.metadata.namespace, cr.metadata.name, cr.metadata.uid);
    const remaining = (cr.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    try {
      await this.custom.patchNamespacedCustomObject({
        group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL, namespace: cr.metadata.namespace, name: cr.metadata.name,
        body: { metadata: { finalizers: remaining.length ? remaining : null, resourceVersion: cr.metadata.resourceVersion } },
      }, mergePatch);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    this.state.delete(cr.metadata.uid);
    this.metrics.forgetWorkflow(cr.metadata.namespace, cr.metadata.name);
    this.log(`workflow ${cr.metadata.namespace}/${cr.metadata.name} deleted: pods stopped, store cleaned`);
  }

  private deleteFromStore(namespace: string, name: string, uid: string): Promise<void> {
    return this.client!.deleteWorkflows({ namespace, name, uid });
  }

  /** Store workflows whose CR vanished without our cleanup (finalizer removed by hand) are removed too. */
  private async forgetVanished(seen: Set<string>): Promise<void> {
    for (const [uid, st] of [...this.state]) {
      if (seen.has(uid)) continue;
      await this.deleteFromStore(st.namespace, st.name, uid);
      this.state.delete(uid);
      this.metrics.forgetWorkflow(st.namespace, st.name);
    }
  }

  /** For tests and `torc operator` logs: the pods of a workflow in the cache. */
  podsOf(uid: string): V1Pod[] {
    return this.ownedPods(uid);
  }
}
