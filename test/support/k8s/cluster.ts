/**
 * A whole fake cluster for tests: the API server on 127.0.0.1, a simulated kubelet running
 * pods as local processes, nodes with allocatable cpu / memory / nvidia.com/gpu, and the torc
 * Workflow CRD (read from crds/workflow.yaml when present, so its schema is enforced).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { SimulatedKubelet, type KubeletOptions } from './kubelet.js';
import { loadCrd, type ResourceType } from './resources.js';
import { FakeApiServer } from './server.js';
import { ClusterStore, nowTime } from './store.js';
import type { Obj } from './validation.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const WORKFLOW_CRD = join(REPO_ROOT, 'crds/workflow.yaml');

export interface FakeNodeSpec {
  name: string;
  /** Allocatable cpu quantity, e.g. 4 or "3500m". */
  cpu: string | number;
  /** Allocatable memory quantity, e.g. "16Gi". */
  memory: string;
  gpus?: number;
  labels?: Record<string, string>;
  ready?: boolean;
  unschedulable?: boolean;
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
}

export interface FakeClusterOptions {
  nodes?: FakeNodeSpec[];
  /** Path of a CRD file to serve, false for the built-in Workflow type; default crds/workflow.yaml when it exists. */
  crd?: string | false;
  bookmarkIntervalMs?: number;
  /** Nodes the kubelet serves (default all). */
  kubeletNodes?: string[];
  maxGraceMs?: number;
  /** Extra environment for pod processes. */
  podEnv?: Record<string, string>;
  maxHistory?: number;
  /** Containers whose argv this recognizes run as timers, not processes (see KubeletOptions.simulate). */
  simulate?: KubeletOptions['simulate'];
}

export class FakeCluster {
  private constructor(
    readonly server: FakeApiServer,
    readonly kubelet: SimulatedKubelet,
    readonly workDir: string,
  ) {}

  static async start(opts: FakeClusterOptions = {}): Promise<FakeCluster> {
    const store = new ClusterStore(undefined, { maxHistory: opts.maxHistory });
    const crdPath = opts.crd === undefined ? (existsSync(WORKFLOW_CRD) ? WORKFLOW_CRD : null) : opts.crd || null;
    if (crdPath) for (const rt of loadCrd(crdPath)) store.register(rt);
    const server = new FakeApiServer({ store, bookmarkIntervalMs: opts.bookmarkIntervalMs });
    const workDir = mkdtempSync(join(tmpdir(), 'torc-fake-k8s-'));
    const kubelet = new SimulatedKubelet(store, { workDir, nodes: opts.kubeletNodes, maxGraceMs: opts.maxGraceMs, env: opts.podEnv, simulate: opts.simulate });
    server.logSource = (ns, name) => kubelet.logs(ns, name);
    server.logFollower = (ns, name, onData, onEnd) => kubelet.followLogs(ns, name, onData, onEnd);
    server.statsSource = (node) => kubelet.statsSummary(node);
    kubelet.start();
    await server.start();
    const cluster = new FakeCluster(server, kubelet, workDir);
    for (const n of opts.nodes ?? []) cluster.addNode(n);
    return cluster;
  }

  get store(): ClusterStore {
    return this.server.store;
  }

  get url(): string {
    return this.server.url;
  }

  kubeConfig(namespace = 'default', user = 'test'): KubeConfig {
    return this.server.kubeConfig(namespace, user);
  }

  type(plural: string, group = ''): ResourceType {
    const rt = this.store.types.find((t) => t.plural === plural && t.group === group);
    if (!rt) throw new Error(`no resource type ${plural}.${group}`);
    return rt;
  }

  addNode(n: FakeNodeSpec): Obj {
    const resources: Record<string, string> = { cpu: String(n.cpu), memory: n.memory, pods: '110' };
    if (n.gpus) resources['nvidia.com/gpu'] = String(n.gpus);
    const node = this.store.create(this.type('nodes'), '', {
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, ...(n.labels ?? {}) } },
      spec: { ...(n.unschedulable ? { unschedulable: true } : {}), ...(n.taints ? { taints: n.taints } : {}) },
    });
    return this.setNodeStatus(n.name, resources, n.ready ?? true) ?? node;
  }

  setNodeStatus(name: string, allocatable: Record<string, string>, ready: boolean): Obj | undefined {
    return this.store.mutate(this.type('nodes'), '', name, (o) => {
      o.status = {
        capacity: allocatable,
        allocatable,
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady', lastHeartbeatTime: nowTime(), lastTransitionTime: nowTime() }],
      };
    });
  }

  setNodeReady(name: string, ready: boolean): void {
    this.store.mutate(this.type('nodes'), '', name, (o) => {
      o.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady', lastHeartbeatTime: nowTime(), lastTransitionTime: nowTime() }];
    });
  }

  createNamespace(name: string): Obj {
    return this.store.create(this.type('namespaces'), '', { metadata: { name } });
  }

  pods(namespace?: string): Obj[] {
    return this.store.list(this.type('pods'), namespace);
  }

  async close(): Promise<void> {
    await this.server.stop();
    await this.kubelet.stop();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** What a new user's cluster looks like in the fake: nodes, no Workflow CRD until they apply it. */
export async function startUserCluster(nodes: FakeNodeSpec[] = DEFAULT_NODES, bookmarkIntervalMs = 5000): Promise<FakeCluster> {
  const cluster = await FakeCluster.start({ crd: false, nodes, bookmarkIntervalMs });
  cluster.store.types.splice(cluster.store.types.findIndex((t) => t.group === 'torc.dev'), 1);
  return cluster;
}

export const DEFAULT_NODES: FakeNodeSpec[] = [
  { name: 'node-a', cpu: 4, memory: '8Gi' },
  { name: 'node-b', cpu: '3500m', memory: '8Gi' },
  { name: 'gpu-a', cpu: 8, memory: '32Gi', gpus: 2 },
];

export function kubeconfigFor(url: string, namespace: string): string {
  return YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
    clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'admin', user: { token: 'admin' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'admin', namespace } }],
  });
}

/** Polls `check` until it returns a truthy value (robust under load; no fixed sleeps). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 30_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
