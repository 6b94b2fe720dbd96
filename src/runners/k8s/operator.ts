/**
 * The Kubernetes operator: Workflow custom resources in, pods out.
 *
 * Shaped like a controller-runtime controller (controller.ts): informers (workflows, pods,
 * nodes) turn watch events into work-queue keys — a Workflow's namespace/name; a pod's event
 * maps to its owning Workflow's key — and a bounded number of workers reconcile one key each at
 * a time. A reconcile that throws is retried with that key's exponential backoff, so a broken
 * workflow never holds up the others; timed work (the next `schedule` tick, the compute-node
 * lease heartbeat, a job's runtime limit) asks for a requeue-after instead of a polling tick.
 * Nothing polls pods: their state comes from the watch.
 *
 * One reconcile moves one workflow a step toward what its CR declares, level-triggered and
 * idempotent:
 *   1. a CR being deleted → its pods deleted, its store rows removed, our finalizer dropped;
 *   2. otherwise our finalizer is ensured and the spec applied to the store when the CR's
 *      generation changed (invalid spec, or jobs exchanging files with no --work-pvc to share
 *      them → status Failed + a condition and a Warning event saying why);
 *   3. a due `schedule` tick starts a new run when the last one finished (else it is skipped);
 *   4. pods → job transitions: Running → start, finished → complete (exit code; OOMKilled →
 *      137; a failure's diagnosis, with what the hooks measured), gone while running →
 *      terminated; pods of stale attempts are deleted; a pod still
 *      running well past its job's runtime limit is deleted;
 *   5. dispatch: free capacity per node (allocatable − requests of every non-terminal pod, kept
 *      current pod event by pod event, plus the pods being created) → one claim through the
 *      client (the server's allocator decides) → one pod per claimed job, on the node it was
 *      placed on, with a deterministic name (a re-created pod hits AlreadyExists and is adopted,
 *      never duplicated). Claims are serialized across workflows so two never count the same
 *      free room; workflows waiting for room take turns (room-line.ts);
 *   6. the status subresource, patched only when it changed; Events on changes of phase;
 *   7. per-workflow hooks (hooks.ts), e.g. metrics sampling.
 * With leader election, only the replica holding the Lease connects to the server and acts.
 * Like every runner it talks to the server through the client contract (OperatorClient).
 */
import { hostname } from 'node:os';
import {
  CoordinationV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, Watch, setHeaderOptions,
  type KubeConfig, type V1Node, type V1Pod, type V1Toleration,
} from '@kubernetes/client-node';
import pLimit from 'p-limit';
import { placeClaimed, worthClaiming } from '../../allocator/index.js';
import type { RunnerCapacity } from '../../allocator/types.js';
import type { ClaimedJobRecord, CompleteJobItem, OperatorClient, OperatorConnection, WorkflowProgress } from '../../contract/client.js';
import { InputError } from '../../errors.js';
import { loadWorkflowText, planDocument, type Plan } from '../../spec/index.js';
import { closeApiConnections, makeApiClient } from './api-clients.js';
import { isAlreadyExists, isConflict, isNotFound, kubeStatus } from './api-errors.js';
import { NodeUsage, freeCapacities, isTerminalPod, type CapacityOptions } from './capacity.js';
import { Controller, type ReconcileResult } from './controller.js';
import { EventRecorder } from './events.js';
import type { FinishedPod, ResultExtras, WorkflowHook } from './hooks.js';
import { Informer, objectKey, type InformerEvent } from './informer.js';
import { LeaderElector } from './leader.js';
import { OperatorMetrics } from './metrics.js';
import {
  ANNOTATION_RUN_ID, ANNOTATION_WORKFLOW_ID, KILLED_EXIT_CODE, WORKFLOW_API_VERSION, WORKFLOW_KIND, buildJobPod, jobPodName, podDiagnosis, podJob, podOutcome, podWorkingDir, slimPod,
} from './pods.js';
import { RoomLine } from './room-line.js';
import { checkSchedule, scheduleTicks } from './schedule.js';
import { sharedStorageRefusal } from './shared-files.js';
import {
  WORKFLOW_GROUP, WORKFLOW_PLURAL, WORKFLOW_VERSION, patchWorkflowStatus, statusChanged, workflowCrStatus, type WorkflowCrStatus,
} from './status.js';
import { systemClock, type BackoffOptions, type Clock } from './workqueue.js';

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
    creationTimestamp?: string | Date;
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
  /** ConfigMap with the https API's CA (`ca.crt`), mounted into job pods (see pods.ts). */
  apiCaConfigMap?: string | null;
  leaderElection?: { namespace: string; name?: string; leaseDurationSeconds?: number; renewDeadlineSeconds?: number; retryPeriodSeconds?: number } | null;
  /** This replica's name (pod name); default hostname-pid. */
  identity?: string;
  /** Every Workflow is reconciled at least this often, seconds (default 30): the safety net under the watches. */
  resyncSeconds?: number;
  /** Workflows reconciled at once (default 4). */
  maxConcurrentReconciles?: number;
  /** Retry delays of a workflow whose reconcile fails: base·2^n up to the cap (default 50 ms … 2 min). */
  backoff?: BackoffOptions;
  /** Time for the work queue and the timed work (tests). */
  clock?: Clock;
  /** Most pods created per workflow and reconcile (default 200). */
  maxPodsPerPass?: number;
  /** Pod creations in flight per reconcile (default 8). */
  podCreateConcurrency?: number;
  /** Lease of the operator's compute node records in the store (default 300 s): pods keep running while the operator restarts. */
  computeNodeLeaseSeconds?: number;
  /**
   * A job's pod still running this long past the job's runtime limit is deleted (default 60 s).
   * The kubelet enforces the limit (activeDeadlineSeconds); this is for a node that stopped reporting.
   */
  runtimeGraceSeconds?: number;
  /** Per-workflow work plugged into every reconcile. */
  hooks?: WorkflowHook[];
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
  /** The spec's cron schedule, if any. */
  schedule: string | null;
  /** The jobs' workingDir in their pods (spec working_dir; see podWorkingDir). */
  workingDir?: string | null;
  /** The last schedule tick acted on (kept here until the status shows it). */
  lastScheduleTime: Date | null;
  computeNodeId: number | null;
  lastHeartbeat: number;
  /** workflowId/runId whose pods were all examined once (later passes look only at live ones). */
  swept: string | null;
}

/** How a workflow's turn at the free room went. */
type DispatchOutcome = 'claimed' | 'nothing-fit' | 'no-room' | 'yielded';

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** The uid of the Workflow that owns a pod, or null. */
function workflowOwner(pod: V1Pod): { uid: string; name: string } | null {
  const ref = (pod.metadata?.ownerReferences ?? []).find((r) => r.kind === WORKFLOW_KIND && r.apiVersion?.startsWith(`${WORKFLOW_GROUP}/`));
  return ref ? { uid: ref.uid, name: ref.name } : null;
}

export class Operator<C extends OperatorConnection = OperatorConnection> {
  private readonly o: OperatorOptions<C>;
  private readonly identity: string;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly clock: Clock;
  readonly metrics: OperatorMetrics;
  private readonly events: EventRecorder;
  private readonly elector: LeaderElector | null;
  private connection: C | null = null;
  private client: OperatorClient | null = null;
  private workflows: Informer<WorkflowCr> | null = null;
  private pods: Informer<V1Pod> | null = null;
  private nodes: Informer<V1Node> | null = null;
  private controller: Controller<string> | null = null;
  private readonly state = new Map<string, WorkflowState>();
  /** Room held on each node, pod event by pod event. */
  private readonly usage = new NodeUsage();
  private readonly line = new RoomLine<string>();
  /** One claim at a time across workflows: each sees the room the previous one took. */
  private readonly placement = pLimit(1);
  private leading = false;
  private stopped = true;
  private served: { close(): Promise<void> } | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;

  constructor(options: OperatorOptions<C>) {
    this.o = options;
    this.identity = options.identity ?? `${hostname()}-${process.pid}`;
    this.core = makeApiClient(options.kubeConfig, CoreV1Api);
    this.custom = makeApiClient(options.kubeConfig, CustomObjectsApi);
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? new OperatorMetrics();
    this.events = new EventRecorder(this.core, { component: 'torc-operator', instance: this.identity, onError: (e) => this.warn('event', e) });
    const le = options.leaderElection;
    this.elector = le
      ? new LeaderElector(makeApiClient(options.kubeConfig, CoordinationV1Api), {
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

  /** The controller while leading (tests read its queue's requeue history and reconcile counts). */
  get loop(): Controller<string> | null {
    return this.controller;
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
    closeApiConnections(this.o.kubeConfig);
  }

  private async lead(): Promise<void> {
    if (this.leading || this.stopped) return;
    this.leading = true;
    this.metrics.leader.set(1);
    this.log(`${this.identity}: leading`);
    try {
      this.connection = await this.o.connect();
      this.client = this.connection.client;
      const controller = new Controller<string>({
        reconcile: (key) => this.reconcileKey(key),
        maxConcurrentReconciles: this.o.maxConcurrentReconciles,
        backoff: this.o.backoff,
        clock: this.o.clock,
        onError: (key, err, retryIn) => {
          this.metrics.reconciles.inc({ result: 'error' });
          this.metrics.retries.inc();
          this.line.leave(key);
          this.warn(`workflow ${key} (retry in ${retryIn} ms)`, err);
          this.reportFailure(key, err);
        },
        onProcessed: (key, ok, ms) => {
          if (ok) this.metrics.reconciles.inc({ result: 'ok' });
          this.metrics.reconcileSeconds.observe(ms / 1000);
          this.metrics.queueDepth.set(controller.queue.length);
          this.line.turnOver(key);
          this.wakeWaiter();
        },
      });
      this.controller = controller;
      const watch = new Watch(this.o.kubeConfig);
      const ns = this.o.namespace;
      const onError = (what: string) => (e: unknown) => this.warn(`${what} informer`, e);
      this.nodes = new Informer<V1Node>({
        path: '/api/v1/nodes', watch, list: () => this.core.listNode(), onError: onError('nodes'),
        onEvent: (ev) => this.onNodeEvent(ev),
      });
      const owner = (p: V1Pod) => {
        const ref = workflowOwner(p);
        return ref ? [ref.uid] : [];
      };
      this.pods = new Informer<V1Pod>({
        path: '/api/v1/pods', watch, list: () => this.core.listPodForAllNamespaces(), onError: onError('pods'),
        onEvent: (ev, pod) => this.onPodEvent(ev, pod),
        transform: slimPod,
        // A workflow's pods, and those of them still holding room, without scanning every pod.
        indexers: { owner, activeOwner: (p) => (isTerminalPod(p) ? [] : owner(p)) },
      });
      const wfPath = ns ? `/apis/${WORKFLOW_GROUP}/${WORKFLOW_VERSION}/namespaces/${ns}/${WORKFLOW_PLURAL}` : `/apis/${WORKFLOW_GROUP}/${WORKFLOW_VERSION}/${WORKFLOW_PLURAL}`;
      const base = { group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL };
      this.workflows = new Informer<WorkflowCr>({
        path: wfPath, watch, onError: onError('workflows'),
        onEvent: (_ev, cr) => controller.enqueue(keyOf(cr.metadata.namespace, cr.metadata.name)),
        list: () => (ns ? this.custom.listNamespacedCustomObject({ ...base, namespace: ns }) : this.custom.listClusterCustomObject(base)),
      });
      await Promise.all([this.nodes.start(), this.pods.start(), this.workflows.start()]);
      if (!this.leading) return;
      if (this.o.serve) this.served = await this.o.serve(this.connection);
      this.resyncTimer = setInterval(() => this.resync(), (this.o.resyncSeconds ?? 30) * 1000);
      controller.start();
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
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = null;
    // The reconciles in progress end first: they read the caches the informers hold.
    await this.controller?.stop();
    await Promise.all([this.workflows?.stop(), this.pods?.stop(), this.nodes?.stop()]);
    this.workflows = this.pods = this.nodes = null;
    const served = this.served;
    this.served = null;
    await served?.close().catch((e) => this.warn('closing the REST API', e));
    for (const key of this.state.keys()) for (const hook of this.o.hooks ?? []) hook.forget?.(key);
    this.state.clear();
    this.usage.clear();
    this.line.clear();
    const connection = this.connection;
    this.connection = null;
    this.client = null;
    await connection?.close();
  }

  // ---- watches → keys ----------------------------------------------------------------------

  private onPodEvent(ev: InformerEvent, pod: V1Pod): void {
    const freed = this.usage.observe(pod, ev === 'delete');
    const owner = workflowOwner(pod);
    if (owner && pod.metadata?.namespace) this.controller?.enqueue(keyOf(pod.metadata.namespace, owner.name));
    if (freed) this.roomFreed();
  }

  private onNodeEvent(ev: InformerEvent): void {
    // A node that came, became ready, or changed its allocatable may have room for waiters.
    if (ev !== 'delete') this.roomFreed();
  }

  private roomFreed(): void {
    this.line.roomFreed();
    this.wakeWaiter();
  }

  /** While room is left, wakes the next workflow waiting for it (one at a time). */
  private wakeWaiter(): void {
    if (!this.controller || this.line.woken !== undefined || this.line.size === 0 || !this.isLeader) return;
    if (!worthClaiming(this.capacity().nodes)) return;
    const next = this.line.next();
    if (next !== undefined) this.controller.enqueue(next);
  }

  /**
   * The store was changed from outside (a REST call: cancel, reset, a job's status): the
   * workflow named in `path` (…/workflows/{id}/…) is reconciled now, or every one when the
   * path names none.
   */
  storeChanged(path: string): void {
    const id = /\/workflows\/(\d+)(\/|$)/.exec(path)?.[1];
    const keys = [...this.state.entries()].filter(([, st]) => id === undefined || st.workflowId === Number(id)).map(([key]) => key);
    for (const key of keys) this.controller?.enqueue(key);
  }

  /** A failed reconcile as a Warning event on the Workflow (repeats fold into its count), for `kubectl describe`. */
  private reportFailure(key: string, err: unknown): void {
    const cr = this.workflows?.get(...splitKey(key));
    if (!cr) return;
    const s = kubeStatus(err);
    const why = s ? `${s.code} ${s.reason}: ${s.message}` : err instanceof Error ? err.message : String(err);
    void this.events.record(this.ref(cr), 'Warning', 'ReconcileFailed', `${why} (retried with backoff)`);
  }

  /** Every Workflow (and every one we hold state for, in case its CR vanished) once more. */
  private resync(): void {
    const keys = new Set([...this.state.keys(), ...(this.workflows?.list() ?? []).map((cr) => keyOf(cr.metadata.namespace, cr.metadata.name))]);
    for (const key of keys) this.controller?.enqueue(key);
  }

  // ---- one workflow ----------------------------------------------------------------------

  private ref(cr: WorkflowCr) {
    return { apiVersion: WORKFLOW_API_VERSION, kind: WORKFLOW_KIND, name: cr.metadata.name, namespace: cr.metadata.namespace, uid: cr.metadata.uid };
  }

  private ownedPods(uid: string): V1Pod[] {
    return this.pods?.byIndex('owner', uid) ?? [];
  }

  private async reconcileKey(key: string): Promise<ReconcileResult> {
    if (!this.isLeader || !this.client || !this.workflows) return {};
    const [namespace, name] = splitKey(key);
    const cr = this.workflows.get(namespace, name);
    const st = this.state.get(key);
    if (st && st.uid !== cr?.metadata.uid) {
      // Its CR vanished without our cleanup (finalizer removed by hand), or another took its name.
      await this.client.deleteWorkflows({ namespace: st.namespace, name: st.name, uid: st.uid });
      this.forget(key);
    }
    if (!cr) return {};
    return this.reconcileWorkflow(key, cr);
  }

  private forget(key: string): void {
    this.state.delete(key);
    this.line.forget(key);
    for (const hook of this.o.hooks ?? []) hook.forget?.(key);
    this.metrics.forgetWorkflow(...splitKey(key));
  }

  private async reconcileWorkflow(key: string, cr: WorkflowCr): Promise<ReconcileResult> {
    const client = this.client!;
    if (cr.metadata.deletionTimestamp) {
      if ((cr.metadata.finalizers ?? []).includes(FINALIZER)) await this.cleanup(key, cr);
      return {};
    }
    if (!(cr.metadata.finalizers ?? []).includes(FINALIZER)) {
      await this.custom.patchNamespacedCustomObject({
        group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL, namespace: cr.metadata.namespace, name: cr.metadata.name,
        body: { metadata: { finalizers: [...(cr.metadata.finalizers ?? []), FINALIZER], resourceVersion: cr.metadata.resourceVersion } },
      }, mergePatch).catch((err) => {
        if (!isConflict(err) && !isNotFound(err)) throw err;
      });
      return {}; // the update comes back through the watch
    }
    const st = await this.applySpec(key, cr);
    if (st.invalid !== null || st.workflowId === null) {
      this.line.leave(key);
      return {};
    }
    const wait: number[] = [];
    let progress = await client.getProgress(st.workflowId);
    if (st.schedule) {
      const tick = await this.scheduleTick(cr, st, progress);
      if (tick.started) progress = await client.getProgress(st.workflowId);
      if (tick.nextInMs !== null) wait.push(tick.nextInMs);
    }
    const runId = progress.run_id;
    if (!progress.is_complete) wait.push(await this.ensureComputeNode(st));
    const synced = await this.syncPods(cr, st, runId, progress.is_canceled);
    if (synced.changed) progress = await client.getProgress(st.workflowId);
    if (synced.nextDeadlineMs !== null) wait.push(synced.nextDeadlineMs);
    if (!progress.is_complete && !progress.is_canceled && (progress.counts.ready ?? 0) > 0) {
      const limit = this.o.maxPodsPerPass ?? 200;
      const { outcome, jobs } = await this.dispatch(key, cr, st, runId, limit);
      if (jobs.length > 0) progress = await client.getProgress(st.workflowId);
      this.takeTurn(key, outcome, (progress.counts.ready ?? 0) > 0);
      // More ready jobs than one reconcile creates pods for: go on as soon as a worker is free.
      if (jobs.length >= limit) wait.push(0);
      await this.createPods(cr, st, jobs, runId);
    } else this.line.leave(key);
    await this.reportStatus(cr, st, runId, progress);
    for (const hook of this.o.hooks ?? []) {
      const asked = await hook.reconcile({
        key, namespace: cr.metadata.namespace, name: cr.metadata.name, uid: cr.metadata.uid, workflowId: st.workflowId, runId,
        activePods: this.pods?.byIndex('activeOwner', cr.metadata.uid) ?? [], client,
      });
      if (asked?.requeueAfterMs !== undefined) wait.push(asked.requeueAfterMs);
    }
    return wait.length > 0 ? { requeueAfterMs: Math.min(...wait) } : {};
  }

  private async applySpec(key: string, cr: WorkflowCr): Promise<WorkflowState> {
    const uid = cr.metadata.uid;
    const generation = cr.metadata.generation ?? 1;
    let st = this.state.get(key);
    if (st && st.generation === generation) return st;
    st = {
      uid, namespace: cr.metadata.namespace, name: cr.metadata.name, generation, workflowId: st?.workflowId ?? null, invalid: null,
      schedule: null, lastScheduleTime: st?.lastScheduleTime ?? null, computeNodeId: st?.computeNodeId ?? null, lastHeartbeat: 0, swept: null,
    };
    let plan: Plan | null = null;
    try {
      const doc = { apiVersion: cr.apiVersion ?? `${WORKFLOW_GROUP}/${WORKFLOW_VERSION}`, kind: WORKFLOW_KIND, metadata: { name: cr.metadata.name, namespace: cr.metadata.namespace }, spec: cr.spec };
      const [parsed] = loadWorkflowText(JSON.stringify(doc), { sourceName: `${cr.metadata.namespace}/${cr.metadata.name}` });
      plan = planDocument(parsed!);
      if (plan.settings.schedule) checkSchedule(plan.settings.schedule);
      st.schedule = plan.settings.schedule;
      st.workingDir = podWorkingDir(plan.settings.working_dir, this.o.workVolume);
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
      this.state.set(key, st);
      await this.events.record(this.ref(cr), 'Warning', st.refusal?.reason ?? 'InvalidSpec', st.invalid ?? '');
      await this.reportInvalid(cr, st);
      return st;
    }
    const outcome = await this.client!.applyWorkflow(plan, { namespace: cr.metadata.namespace, name: cr.metadata.name, uid });
    if (st.workflowId !== outcome.workflow_id) st.computeNodeId = null;
    st.workflowId = outcome.workflow_id;
    this.state.set(key, st);
    if (outcome.action !== 'unchanged') {
      await this.events.record(this.ref(cr), 'Normal', 'Applied', `workflow ${outcome.workflow_id} ${outcome.action} (generation ${generation}; ${plan.jobs.length} jobs, ${outcome.kept} kept, ${outcome.rerun} to run)`);
    }
    return st;
  }

  /**
   * A due tick of the workflow's schedule: a new run when the last one finished, skipped (an
   * event) while it still runs; a canceled workflow stays canceled. Returns when the next tick is.
   */
  private async scheduleTick(cr: WorkflowCr, st: WorkflowState, progress: WorkflowProgress): Promise<{ started: boolean; nextInMs: number | null }> {
    if (progress.is_canceled) return { started: false, nextInMs: null };
    const now = new Date(this.clock.now());
    const created = cr.metadata.creationTimestamp ? new Date(cr.metadata.creationTimestamp) : now;
    const last = st.lastScheduleTime ?? (cr.status?.lastScheduleTime ? new Date(cr.status.lastScheduleTime) : null);
    const { due, next } = scheduleTicks(st.schedule!, last ?? created, now);
    let started = false;
    if (due) {
      if (progress.is_complete) {
        const { run_id } = await this.client!.startScheduledRun(st.workflowId!, due.toISOString());
        await this.events.record(this.ref(cr), 'Normal', 'ScheduledRun', `run ${run_id} started for the schedule tick at ${due.toISOString()}`);
        started = true;
      } else {
        await this.events.record(this.ref(cr), 'Normal', 'ScheduleTickSkipped', `the schedule tick at ${due.toISOString()} was skipped: run ${progress.run_id} is still going`);
      }
      st.lastScheduleTime = due;
    }
    return { started, nextInMs: next.getTime() - now.getTime() };
  }

  /** The operator's compute node record for this workflow (reused across restarts, so running jobs stay ours); returns when to heartbeat next. */
  private async ensureComputeNode(st: WorkflowState): Promise<number> {
    const client = this.client!;
    const lease = this.o.computeNodeLeaseSeconds ?? 300;
    const every = (lease * 1000) / 10;
    if (st.computeNodeId !== null) {
      const due = st.lastHeartbeat + every - this.clock.now();
      if (due > 0) return due;
      try {
        await client.heartbeat(st.computeNodeId);
        st.lastHeartbeat = this.clock.now();
        return every;
      } catch {
        st.computeNodeId = null; // expired or gone: register again
      }
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
    st.lastHeartbeat = this.clock.now();
    return every;
  }

  /**
   * The pods to look at: all of the workflow's once per run (stale ones from an earlier run or
   * spec are cleared away), then only those still running and those of the jobs the store holds.
   */
  private podsToSync(cr: WorkflowCr, st: WorkflowState, held: Iterable<ClaimedJobRecord>, runId: number): V1Pod[] {
    const uid = cr.metadata.uid;
    if (st.swept !== `${st.workflowId}/${runId}`) return this.ownedPods(uid);
    const pods = new Map(this.pods!.byIndex('activeOwner', uid).map((p) => [objectKey(p), p] as const));
    for (const job of held) {
      const pod = this.pods!.get(cr.metadata.namespace, jobPodName(cr.metadata.name, job));
      if (pod && workflowOwner(pod)?.uid === uid) pods.set(objectKey(pod), pod);
    }
    return [...pods.values()];
  }

  /**
   * Pod states → job transitions (started and finished jobs in one bulk call each); stale pods
   * deleted; claimed jobs without a pod placed again. Returns whether the store changed and
   * when the first running job reaches its runtime limit.
   */
  private async syncPods(cr: WorkflowCr, st: WorkflowState, runId: number, canceled: boolean): Promise<{ changed: boolean; nextDeadlineMs: number | null }> {
    const client = this.client!;
    const active = new Map<number, ClaimedJobRecord>();
    for (const j of await client.listHeldJobs(st.workflowId!)) active.set(j.id, j);
    const withPod = new Set<number>();
    const labels = { namespace: cr.metadata.namespace, workflow: cr.metadata.name };
    const starts: number[] = [];
    const completions: (CompleteJobItem & { job: ClaimedJobRecord; pod: V1Pod; outcome: Extract<ReturnType<typeof podOutcome>, { state: 'finished' }> })[] = [];
    const lost: CompleteJobItem[] = [];
    const now = this.clock.now();
    const grace = (this.o.runtimeGraceSeconds ?? 60) * 1000;
    let nextDeadline = Infinity;
    for (const pod of this.podsToSync(cr, st, active.values(), runId)) {
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
      if (!job || job.attempt_id !== pj.attempt) {
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
      if (job.status === 'pending') starts.push(job.id);
      if (outcome.state === 'finished') {
        const started = outcome.startedAt ? Date.parse(outcome.startedAt) : NaN;
        const finished = outcome.finishedAt ? Date.parse(outcome.finishedAt) : Date.now();
        const seconds = Number.isFinite(started) ? Math.max(0, (finished - started) / 1000) : 0;
        const extras = this.finishedPodExtras({
          key: keyOf(cr.metadata.namespace, cr.metadata.name), workflowId: st.workflowId!, runId, pod, jobId: job.id, attempt: job.attempt_id,
          startedAtMs: started, finishedAtMs: finished,
        });
        completions.push({
          job_id: job.id, status: outcome.status, return_code: outcome.returnCode, exec_time_minutes: seconds / 60,
          completion_time: new Date(finished).toISOString(), ...extras,
          ...podDiagnosis(outcome, job.resources, seconds, extras.peak_memory_bytes ?? null),
          job, pod, outcome,
        });
      } else if (job.resources.runtime_seconds > 0 && outcome.startedAt && !pod.metadata?.deletionTimestamp) {
        // Running: the kubelet stops it at its runtime limit; if it still runs well past it
        // (a node that stopped reporting), it is stopped from here.
        const deadline = Date.parse(outcome.startedAt) + job.resources.runtime_seconds * 1000 + grace;
        if (deadline <= now) {
          await this.events.record(this.ref(cr), 'Warning', 'JobRuntimeExceeded',
            `job ${job.name} (attempt ${job.attempt_id}, pod ${pod.metadata?.name}) still running ${Math.round((now - deadline + grace) / 1000)} s past its runtime limit of ${job.resources.runtime_seconds} s: pod deleted`);
          await this.deletePod(pod);
        } else nextDeadline = Math.min(nextDeadline, deadline);
      }
    }
    for (const job of active.values()) {
      if (withPod.has(job.id)) continue;
      const name = jobPodName(cr.metadata.name, job);
      if (this.usage.isAssumed(keyOf(cr.metadata.namespace, name))) continue;
      if (job.status === 'running') {
        // Its pod is gone (deleted, or the node and its pods vanished) while the job ran.
        lost.push({ job_id: job.id, status: 'terminated', return_code: KILLED_EXIT_CODE, exec_time_minutes: 0, completion_time: new Date().toISOString() });
        this.metrics.jobsFinished.inc({ ...labels, status: 'terminated' });
        await this.events.record(this.ref(cr), 'Warning', 'PodDeleted', `job ${job.name} (attempt ${job.attempt_id}): its pod ${name} disappeared while running`);
      } else {
        // Claimed, but the pod was never created (the operator stopped in between): place it again.
        await this.replace(cr, st, job, runId);
      }
    }
    if (starts.length > 0) await this.startJobs(st, runId, starts);
    const finished = [...completions.map(({ job: _j, pod: _p, outcome: _o, ...item }) => item), ...lost];
    if (finished.length > 0) await this.completeJobs(st, runId, finished);
    for (const { job, pod, outcome, exec_time_minutes } of completions) {
      const name = outcome.status;
      this.metrics.jobsFinished.inc({ ...labels, status: name });
      this.metrics.jobDuration.observe({ status: name }, exec_time_minutes * 60);
      if (outcome.status !== 'completed') {
        await this.events.record(this.ref(cr), 'Warning', outcome.reason === 'OOMKilled' ? 'JobOOMKilled' : 'JobFailed',
          `job ${job.name} (attempt ${job.attempt_id}, pod ${pod.metadata?.name}) ${name}: exit code ${outcome.returnCode}, ${outcome.reason}${outcome.message ? `: ${outcome.message}` : ''}`);
      }
    }
    st.swept = `${st.workflowId}/${runId}`;
    this.metrics.runningPods.set(labels, active.size - finished.length);
    return { changed: starts.length + finished.length > 0, nextDeadlineMs: nextDeadline === Infinity ? null : Math.max(0, nextDeadline - now) };
  }

  /** What the hooks add to a finished pod's result (a hook that throws adds nothing: the result is stored anyway). */
  private finishedPodExtras(f: FinishedPod): ResultExtras {
    let extras: ResultExtras = {};
    for (const hook of this.o.hooks ?? []) {
      if (!hook.finishedPod) continue;
      try {
        extras = { ...extras, ...(hook.finishedPod(f) ?? {}) };
      } catch (err) {
        this.warn(`hook ${hook.name}`, err);
      }
    }
    return extras;
  }

  /** Starts jobs in one call when the client has the bulk form; any refusal fails the reconcile (it is retried). */
  private async startJobs(st: WorkflowState, runId: number, jobIds: number[]): Promise<void> {
    const client = this.client!;
    if (!client.startJobs) {
      for (const id of jobIds) await client.startJob(id, runId, st.computeNodeId!);
      return;
    }
    const refused = (await client.startJobs(st.workflowId!, jobIds, runId, st.computeNodeId!)).filter((r) => !r.ok);
    if (refused.length > 0) throw new Error(`starting ${refused.length} job(s) failed, e.g. job ${refused[0]!.job_id}: ${refused[0]!.message}`);
  }

  private async completeJobs(st: WorkflowState, runId: number, items: CompleteJobItem[]): Promise<void> {
    const client = this.client!;
    if (!client.completeJobs) {
      for (const { job_id, status, ...result } of items) await client.completeJob(job_id, status, runId, result);
      return;
    }
    const refused = (await client.completeJobs(st.workflowId!, runId, items)).filter((r) => !r.ok);
    if (refused.length > 0) throw new Error(`completing ${refused.length} job(s) failed, e.g. job ${refused[0]!.job_id}: ${refused[0]!.message}`);
  }

  /** Whether a pod belongs to the store workflow and run the CR is on now. */
  private isCurrent(pod: V1Pod, workflowId: number, runId: number): boolean {
    const a = pod.metadata?.annotations ?? {};
    return Number(a[ANNOTATION_WORKFLOW_ID]) === workflowId && Number(a[ANNOTATION_RUN_ID]) === runId;
  }

  /** A job claimed before whose pod was never created: the allocator places it on today's capacity. */
  private async replace(cr: WorkflowCr, st: WorkflowState, job: ClaimedJobRecord, runId: number): Promise<void> {
    const pod = await this.placement(() => {
      const nodes = placeClaimed(this.capacity(), job.resources);
      return nodes ? this.assume(cr, st, { ...job, assigned_nodes: nodes }, runId) : null;
    });
    if (pod) await this.createPod(cr, st, pod);
  }

  private capacity(): RunnerCapacity {
    return { nodes: freeCapacities(this.nodes?.list() ?? [], this.usage, this.o.capacity), time_limit_seconds: null, scheduler_config_id: null };
  }

  /**
   * The workflow's turn at the free room: when no waiter ranked before it is still to try, one
   * claim (serialized with every other workflow's) whose jobs' pods hold their room at once.
   */
  private async dispatch(key: string, cr: WorkflowCr, st: WorkflowState, runId: number, limit: number): Promise<{ outcome: DispatchOutcome; jobs: PlannedPod[] }> {
    if (!this.line.mayClaim(key)) return { outcome: 'yielded', jobs: [] };
    const labels = { namespace: cr.metadata.namespace, workflow: cr.metadata.name };
    return this.placement(async () => {
      const capacity = this.capacity();
      if (!worthClaiming(capacity.nodes)) return { outcome: 'no-room' as const, jobs: [] };
      this.metrics.claims.inc(labels);
      const res = await this.client!.claimJobsBasedOnResources(st.workflowId!, {
        capacity, limit, any_scheduler: true, compute_node_id: st.computeNodeId,
      });
      this.metrics.jobsClaimed.inc(labels, res.jobs.length);
      const jobs = res.jobs.map((job) => this.assume(cr, st, job, runId));
      return { outcome: res.jobs.length > 0 ? 'claimed' as const : 'nothing-fit' as const, jobs };
    });
  }

  /** Where the workflow stands in the line for room after its turn; the next waiter is woken while room is left. */
  private takeTurn(key: string, outcome: DispatchOutcome, stillReady: boolean): void {
    if (outcome === 'claimed') this.line.gotRoom(key, stillReady);
    else if (!stillReady) this.line.leave(key);
    else this.line.wait(key, outcome === 'nothing-fit');
    // A workflow that yielded is not at the end of a turn it was woken for.
    if (outcome !== 'yielded') this.line.turnOver(key);
    this.wakeWaiter();
  }

  /** The pod of a claimed job, counted as holding its room from now on; null for a job that cannot become a pod. */
  private assume(cr: WorkflowCr, st: WorkflowState, job: ClaimedJobRecord, runId: number): PlannedPod {
    try {
      const pod = buildJobPod(job, {
        workflow: { name: cr.metadata.name, namespace: cr.metadata.namespace, uid: cr.metadata.uid },
        workflowId: st.workflowId!, runId, defaultImage: this.o.defaultImage ?? 'busybox:1.36', apiUrl: this.o.apiUrl ?? null,
        tolerations: this.o.tolerations, workVolume: this.o.workVolume ?? null, workingDir: st.workingDir ?? null, apiCaConfigMap: this.o.apiCaConfigMap ?? null,
      });
      this.usage.assume(pod);
      return { job, runId, pod };
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return { job, runId, pod: null, refusal: err.message };
    }
  }

  private async createPods(cr: WorkflowCr, st: WorkflowState, planned: PlannedPod[], runId: number): Promise<void> {
    const limit = pLimit(this.o.podCreateConcurrency ?? 8);
    const results = await Promise.allSettled(planned.map((p) => limit(async () => {
      if (!this.isLeader) {
        if (p.pod) this.usage.unassume(objectKey(p.pod));
        return;
      }
      if (p.pod) await this.createPod(cr, st, p);
      else await this.refuseJob(cr, st, p.job, runId, p.refusal ?? '');
    })));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** A job that cannot become a pod fails (visibly) instead of blocking the workflow. */
  private async refuseJob(cr: WorkflowCr, st: WorkflowState, job: ClaimedJobRecord, runId: number, why: string): Promise<void> {
    await this.client!.startJob(job.id, runId, st.computeNodeId!);
    await this.client!.completeJob(job.id, 'failed', runId, { return_code: 1, exec_time_minutes: 0, completion_time: new Date().toISOString() });
    await this.events.record(this.ref(cr), 'Warning', 'JobNotRunnable', why);
  }

  private async createPod(cr: WorkflowCr, st: WorkflowState, planned: PlannedPod): Promise<void> {
    const { job, runId } = planned;
    const pod = planned.pod!;
    const labels = { namespace: cr.metadata.namespace, workflow: cr.metadata.name };
    const key = objectKey(pod);
    try {
      const created = await this.core.createNamespacedPod({ namespace: cr.metadata.namespace, body: pod });
      this.usage.created(key, created.metadata?.uid);
      this.metrics.podsCreated.inc(labels);
    } catch (err) {
      if (!isAlreadyExists(err)) {
        this.usage.unassume(key);
        throw err;
      }
      // Created before (a restart, a relist): adopt it when it runs this very attempt.
      const existing = await this.core.readNamespacedPod({ namespace: cr.metadata.namespace, name: pod.metadata!.name! });
      this.usage.unassume(key);
      this.usage.observe(existing);
      const pj = podJob(existing);
      const owned = workflowOwner(existing)?.uid === cr.metadata.uid;
      if (owned && pj?.jobId === job.id && pj.attempt === job.attempt_id) return;
      if (owned && !this.isCurrent(existing, st.workflowId!, runId)) {
        // The name is held by this workflow's previous run: free it; the job (claimed, no pod)
        // is placed again once the old pod is gone (its deletion event requeues the workflow).
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

  private async reportStatus(cr: WorkflowCr, st: WorkflowState, runId: number, progress: WorkflowProgress): Promise<void> {
    this.metrics.readyJobs.set({ namespace: cr.metadata.namespace, workflow: cr.metadata.name }, progress.counts.ready ?? 0);
    let schedule: { last: Date | null; next: Date | null } | null = null;
    if (st.schedule) {
      const last = st.lastScheduleTime ?? (cr.status?.lastScheduleTime ? new Date(cr.status.lastScheduleTime) : null);
      const now = new Date(this.clock.now());
      const created = cr.metadata.creationTimestamp ? new Date(cr.metadata.creationTimestamp) : now;
      schedule = { last, next: progress.is_canceled ? null : scheduleTicks(st.schedule, last ?? created, now).next };
    }
    const next = workflowCrStatus({
      generation: cr.metadata.generation ?? 1, workflowId: st.workflowId!, runId, counts: progress.counts,
      canceled: progress.is_canceled, previous: cr.status ?? null, schedule,
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
    // Keep our cached copy current, so the next reconcile compares against what we wrote.
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
  private async cleanup(key: string, cr: WorkflowCr): Promise<void> {
    for (const pod of this.ownedPods(cr.metadata.uid)) {
      if (!pod.metadata?.deletionTimestamp) await this.deletePod(pod);
    }
    await this.client!.deleteWorkflows({ namespace: cr.metadata.namespace, name: cr.metadata.name, uid: cr.metadata.uid });
    const remaining = (cr.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
    try {
      await this.custom.patchNamespacedCustomObject({
        group: WORKFLOW_GROUP, version: WORKFLOW_VERSION, plural: WORKFLOW_PLURAL, namespace: cr.metadata.namespace, name: cr.metadata.name,
        body: { metadata: { finalizers: remaining.length ? remaining : null, resourceVersion: cr.metadata.resourceVersion } },
      }, mergePatch);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    this.forget(key);
    this.log(`workflow ${key} deleted: pods stopped, store cleaned`);
  }

  /** For tests and `torc operator` logs: the pods of a workflow in the cache. */
  podsOf(uid: string): V1Pod[] {
    return this.ownedPods(uid);
  }
}

/** A claimed job and the pod that runs it (null: it cannot run as a pod, `refusal` says why). */
interface PlannedPod {
  job: ClaimedJobRecord;
  runId: number;
  pod: V1Pod | null;
  refusal?: string;
}
