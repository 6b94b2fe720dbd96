/**
 * Free node capacity for the allocator's per-node form: allocatable minus the requests of every
 * non-terminal pod bound to the node (all pods, not only ours), the way the scheduler counts.
 * Nodes that cannot take pods (unschedulable, not Ready, untolerated taints, not matching the
 * nodeSelector) are left out, so the operator only ever creates pods that fit.
 */
import type { V1Node, V1Pod, V1Toleration, V1Taint } from '@kubernetes/client-node';
import type { NodeCapacity, RunnerCapacity } from '../../allocator/types.js';
import { parseBytes, parseCpu, parseQuantity } from './quantity.js';

export const GPU_RESOURCE = 'nvidia.com/gpu';

export interface Resources {
  cpu: number;
  memory: number;
  gpu: number;
}

export interface CapacityOptions {
  /** Only nodes whose labels include all of these. */
  nodeSelector?: Record<string, string>;
  /** Tolerations our pods carry: nodes with NoSchedule/NoExecute taints are used only when tolerated. */
  tolerations?: V1Toleration[];
}

const ZERO: Resources = { cpu: 0, memory: 0, gpu: 0 };

function readResources(map: Record<string, string | number> | undefined, path: string): Resources {
  if (!map) return { ...ZERO };
  return {
    cpu: map.cpu !== undefined ? parseCpu(map.cpu, `${path}.cpu`) : 0,
    memory: map.memory !== undefined ? parseBytes(map.memory, `${path}.memory`) : 0,
    gpu: map[GPU_RESOURCE] !== undefined ? parseQuantity(map[GPU_RESOURCE]!, `${path}["${GPU_RESOURCE}"]`) : 0,
  };
}

function add(a: Resources, b: Resources): Resources {
  return { cpu: a.cpu + b.cpu, memory: a.memory + b.memory, gpu: a.gpu + b.gpu };
}

function max(a: Resources, b: Resources): Resources {
  return { cpu: Math.max(a.cpu, b.cpu), memory: Math.max(a.memory, b.memory), gpu: Math.max(a.gpu, b.gpu) };
}

/** A container's requests; a resource with only a limit is requested at its limit (API defaulting). */
function containerRequests(c: { resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> } }, path: string): Resources {
  const merged = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) } as Record<string, string | number>;
  return readResources(merged, path);
}

/**
 * What the scheduler reserves for a pod: max(sum of containers, largest init container)
 * plus the pod overhead.
 */
export function podRequests(pod: V1Pod): Resources {
  const name = pod.metadata?.name ?? '?';
  let sum = { ...ZERO };
  (pod.spec?.containers ?? []).forEach((c, i) => {
    sum = add(sum, containerRequests(c, `pods/${name}.spec.containers[${i}].resources`));
  });
  let init = { ...ZERO };
  (pod.spec?.initContainers ?? []).forEach((c, i) => {
    init = max(init, containerRequests(c, `pods/${name}.spec.initContainers[${i}].resources`));
  });
  const overhead = readResources(pod.spec?.overhead as Record<string, string> | undefined, `pods/${name}.spec.overhead`);
  return add(max(sum, init), overhead);
}

/** Succeeded / Failed pods hold no resources. */
export function isTerminalPod(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

export function isNodeReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function tolerates(tolerations: V1Toleration[], taint: V1Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** Why a node takes no pods of ours, or null when it can. */
export function nodeExclusion(node: V1Node, opts: CapacityOptions = {}): string | null {
  if (node.spec?.unschedulable) return 'unschedulable';
  if (!isNodeReady(node)) return 'not ready';
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(opts.nodeSelector ?? {})) {
    if (labels[k] !== v) return `does not match nodeSelector ${k}=${v}`;
  }
  for (const taint of node.spec?.taints ?? []) {
    if ((taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') && !tolerates(opts.tolerations ?? [], taint)) {
      return `taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect} not tolerated`;
    }
  }
  return null;
}

/**
 * Requests of the non-terminal pods bound to each node, kept current one pod event at a time
 * (no rescans of every pod), plus the pods the operator is creating that the cache has not
 * shown yet ("assumed", as the scheduler's cache does): they hold their room already. Counted
 * in millicores and bytes so that adding and removing never drifts.
 */
export class NodeUsage {
  /** Pods the cache shows that hold room, by uid. */
  private readonly counted = new Map<string, { node: string; r: Resources }>();
  /** Pods being created, by namespace/name; uid once the API has answered. */
  private readonly assumed = new Map<string, { node: string; r: Resources; uid?: string }>();
  private readonly perNode = new Map<string, Resources>();

  private static milli(r: Resources): Resources {
    return { cpu: Math.round(r.cpu * 1000), memory: r.memory, gpu: r.gpu };
  }

  private shift(node: string, r: Resources, sign: 1 | -1): void {
    const u = this.perNode.get(node) ?? { ...ZERO };
    const next = { cpu: u.cpu + sign * r.cpu, memory: u.memory + sign * r.memory, gpu: u.gpu + sign * r.gpu };
    if (next.cpu === 0 && next.memory === 0 && next.gpu === 0) this.perNode.delete(node);
    else this.perNode.set(node, next);
  }

  /**
   * A pod as the cache now shows it (`gone`: deleted). Returns true when it stopped holding
   * room (finished, deleted): room was freed.
   */
  observe(pod: V1Pod, gone = false): boolean {
    const uid = pod.metadata?.uid;
    if (!uid) return false;
    const before = this.counted.get(uid);
    if (before) {
      this.shift(before.node, before.r, -1);
      this.counted.delete(uid);
    }
    const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const mine = this.assumed.get(key);
    if (mine?.uid === uid) this.unassume(key);
    const node = pod.spec?.nodeName;
    if (!gone && node && !isTerminalPod(pod)) {
      const r = NodeUsage.milli(podRequests(pod));
      this.counted.set(uid, { node, r });
      this.shift(node, r, 1);
      return false;
    }
    return !!before;
  }

  /** A pod about to be created on `pod.spec.nodeName`: it holds its room from now on. */
  assume(pod: V1Pod): void {
    const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const node = pod.spec?.nodeName;
    if (!node) return;
    this.unassume(key);
    const r = NodeUsage.milli(podRequests(pod));
    this.assumed.set(key, { node, r });
    this.shift(node, r, 1);
  }

  /** The API created the assumed pod as `uid`: once the cache shows that uid, it counts instead. */
  created(key: string, uid: string | undefined): void {
    const a = this.assumed.get(key);
    if (!a || !uid) return;
    if (this.counted.has(uid)) this.unassume(key);
    else a.uid = uid;
  }

  /** The assumed pod was not created after all. */
  unassume(key: string): void {
    const a = this.assumed.get(key);
    if (!a) return;
    this.shift(a.node, a.r, -1);
    this.assumed.delete(key);
  }

  isAssumed(key: string): boolean {
    return this.assumed.has(key);
  }

  /** Requests held on `node` (cpu in cores). */
  used(node: string): Resources {
    const u = this.perNode.get(node);
    return u ? { cpu: u.cpu / 1000, memory: u.memory, gpu: u.gpu } : { ...ZERO };
  }

  clear(): void {
    this.counted.clear();
    this.assumed.clear();
    this.perNode.clear();
  }
}

/** Free resources per eligible node, sorted by name (deterministic placement). */
export function freeCapacities(nodes: V1Node[], usage: NodeUsage, opts: CapacityOptions = {}): NodeCapacity[] {
  const out: NodeCapacity[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name || nodeExclusion(node, opts) !== null) continue;
    const alloc = readResources(
      (node.status?.allocatable ?? node.status?.capacity) as Record<string, string> | undefined,
      `nodes/${name}.status.allocatable`,
    );
    const u = usage.used(name);
    out.push({
      name,
      // Rounded to millicores so that 3.5 - 0.1 does not show floating-point dust.
      num_cpus: Math.max(0, Math.round((alloc.cpu - u.cpu) * 1000) / 1000),
      memory_bytes: Math.max(0, alloc.memory - u.memory),
      num_gpus: Math.max(0, Math.floor(alloc.gpu - u.gpu)),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Free resources per eligible node given every pod (all pods, not only ours), sorted by name. */
export function nodeCapacities(nodes: V1Node[], pods: V1Pod[], opts: CapacityOptions = {}): NodeCapacity[] {
  const usage = new NodeUsage();
  pods.forEach((pod, i) => {
    // A pod object without a uid (a hand-made one) still counts, once.
    usage.observe(pod.metadata?.uid ? pod : { ...pod, metadata: { ...pod.metadata, uid: `#${i}` } });
  });
  return freeCapacities(nodes, usage, opts);
}

/** The RunnerCapacity the operator hands to the claim: per-node, unlimited time, no scheduler binding. */
export function clusterCapacity(nodes: V1Node[], pods: V1Pod[], opts: CapacityOptions = {}): RunnerCapacity {
  return { nodes: nodeCapacities(nodes, pods, opts), time_limit_seconds: null, scheduler_config_id: null };
}
