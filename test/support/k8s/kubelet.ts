/**
 * A simulated kubelet for the fake cluster: for every pod bound to a node it serves (the
 * operator sets nodeName itself; nothing here schedules), it admits the pod against the node's
 * allocatable resources the way the real kubelet does (rejecting with OutOfcpu / OutOfmemory /
 * OutOfnvidia.com/gpu), runs the container's command as a local process group, and reports the
 * phases Running → Succeeded / Failed with containerStatuses[].state.terminated.exitCode.
 * Tests can OOM-kill or evict a running pod; a deleted pod's processes get SIGTERM, then SIGKILL.
 * With `simulate`, commands it recognizes run as timers instead of processes (the scale bench
 * runs tens of thousands of pods); everything else about the pod is the same.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { podRequests, isNodeReady, GPU_RESOURCE, type Resources } from '../../../src/runners/k8s/capacity.js';
import { parseBytes, parseCpu, parseQuantity } from '../../../src/runners/k8s/quantity.js';
import type { ClusterStore, StoreEvent } from './store.js';
import { ProcTreeWalker } from '../../../src/runners/monitor/proc-tree.js';
import { nowTime } from './store.js';
import type { Obj } from './validation.js';
import type { V1Pod } from '@kubernetes/client-node';

export interface KubeletOptions {
  /** Directory where pods' processes run (one subdirectory per pod). */
  workDir: string;
  /** Nodes whose pods this kubelet runs; default every node. Pods on other nodes stay Pending. */
  nodes?: string[];
  /** Cap on the SIGTERM → SIGKILL grace period, so tests do not wait 30 s. */
  maxGraceMs?: number;
  /** Extra environment for every container process. */
  env?: Record<string, string>;
  /**
   * Runs a container without a process when this returns an outcome for its argv: it exits
   * with `exitCode` after `afterMs`, printing `output`. Null: run the command for real.
   */
  simulate?: (argv: string[]) => { exitCode: number; afterMs: number; output?: string } | null;
}

type KillReason = 'OOMKilled' | 'Evicted' | 'DeadlineExceeded' | 'Deleted';

interface RunningPod {
  uid: string;
  namespace: string;
  name: string;
  node: string;
  requests: Resources;
  container: Obj;
  child: ChildProcess | null;
  /** A simulated container: its timer stands for the process. */
  simulated: boolean;
  finished: boolean;
  startedAt: string;
  output: string;
  killReason: KillReason | null;
  killMessage: string;
  timers: NodeJS.Timeout[];
  exited: Promise<void>;
}

export interface Rejection {
  pod: string;
  node: string;
  reason: string;
  message: string;
}

const MAX_LOG = 1 << 20;
const key = (ns: string, name: string) => `${ns}/${name}`;

export class SimulatedKubelet {
  private readonly pods = new Map<string, RunningPod>();
  /** Requests of the running pods per node, kept as pods start and finish. */
  private readonly usage = new Map<string, Resources>();
  /** Admission rejections: a correct operator never causes one. */
  readonly rejections: Rejection[] = [];
  /** Highest requests ever admitted at once, per node. */
  readonly peak = new Map<string, Resources>();
  /** Pods started, in order (namespace/name). */
  readonly started: string[] = [];
  private readonly listener = (ev: StoreEvent) => this.onEvent(ev);
  /** `kubectl logs -f` readers, per pod. */
  private readonly followers = new Map<string, Set<{ onData: (chunk: string) => void; onEnd: () => void }>>();
  private podIp = 1;
  private running = false;
  /** Measures pods' real processes for the Summary API (one /proc pass per request). */
  private readonly walker = new ProcTreeWalker();
  /** Per pod: the CPU seen at the previous summary, for usageNanoCores. */
  private readonly lastCpu = new Map<string, { cpuNs: number; atMs: number }>();

  constructor(private readonly store: ClusterStore, private readonly opts: KubeletOptions) {}

  private get podsType() {
    return this.store.resourceFor('', 'v1', 'pods')!;
  }

  private get nodesType() {
    return this.store.resourceFor('', 'v1', 'nodes')!;
  }

  private serves(node: string | undefined): boolean {
    return !!node && (!this.opts.nodes || this.opts.nodes.includes(node));
  }

  start(): void {
    this.running = true;
    this.store.on('event', this.listener);
    this.store.handlesPodTermination = (pod) => {
      const p = this.pods.get(key(pod.metadata.namespace, pod.metadata.name));
      return !!p && p.uid === pod.metadata.uid && !p.finished;
    };
    this.scan();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.store.off('event', this.listener);
    this.store.handlesPodTermination = () => false;
    const waits: Promise<void>[] = [];
    for (const p of this.pods.values()) {
      for (const t of p.timers) clearTimeout(t);
      if ((p.child || p.simulated) && !p.finished) {
        this.signal(p, 'SIGKILL');
        waits.push(p.exited);
      }
    }
    await Promise.all(waits);
  }

  /** Container output of a pod (stdout and stderr interleaved), for GET pods/log. */
  logs(namespace: string, name: string): string | undefined {
    return this.pods.get(key(namespace, name))?.output;
  }

  /** Follows a running pod's output until its container exits; null when it is not running. */
  followLogs(namespace: string, name: string, onData: (chunk: string) => void, onEnd: () => void): (() => void) | null {
    const p = this.pods.get(key(namespace, name));
    if (!p || p.finished) return null;
    const k = key(namespace, name);
    const f = { onData, onEnd };
    if (!this.followers.has(k)) this.followers.set(k, new Set());
    this.followers.get(k)!.add(f);
    return () => this.followers.get(k)?.delete(f);
  }

  /**
   * The kubelet's Summary API (GET /stats/summary) for a node: each running pod's CPU (cumulative
   * usageCoreNanoSeconds, and usageNanoCores since the previous summary), memory (workingSetBytes,
   * rssBytes: what its processes hold now) and process count, measured from the pod's real
   * processes as the kubelet reads them from its cgroups. Undefined for a node it does not serve.
   */
  statsSummary(node: string): unknown {
    if (!this.serves(node)) return undefined;
    const pods = [...this.pods.values()].filter((p) => p.node === node && !p.finished && p.child?.pid);
    for (const p of pods) this.walker.track(p.child!.pid!);
    const trees = this.walker.scan();
    const now = Date.now();
    const time = new Date(now).toISOString();
    const podStats = pods.map((p) => {
      const t = trees.get(p.child!.pid!) ?? { cpu_seconds: 0, memory_bytes: 0, num_processes: 0 };
      const k = key(p.namespace, p.name);
      const cpuNs = Math.round(t.cpu_seconds * 1e9);
      const last = this.lastCpu.get(k) ?? { cpuNs: 0, atMs: Date.parse(p.startedAt) };
      const nanoCores = now > last.atMs ? Math.max(0, Math.round(((cpuNs - last.cpuNs) / (now - last.atMs)) * 1e6)) : 0;
      this.lastCpu.set(k, { cpuNs, atMs: now });
      const cpu = { time, usageNanoCores: nanoCores, usageCoreNanoSeconds: cpuNs };
      const memory = { time, usageBytes: t.memory_bytes, workingSetBytes: t.memory_bytes, rssBytes: t.memory_bytes };
      return {
        podRef: { name: p.name, namespace: p.namespace, uid: p.uid },
        startTime: p.startedAt,
        containers: [{ name: p.container.name as string, startTime: p.startedAt, cpu, memory }],
        cpu,
        memory,
        process_stats: { process_count: t.num_processes },
      };
    });
    for (const p of pods) this.walker.untrack(p.child!.pid!);
    return { node: { nodeName: node, startTime: time }, pods: podStats };
  }

  /** Kills a running pod as the kernel's OOM killer would: exit 137, reason OOMKilled. */
  oomKill(namespace: string, name: string): boolean {
    return this.kill(namespace, name, 'OOMKilled', 'the container exceeded its memory limit', 'SIGKILL');
  }

  /** Evicts a running pod (node pressure): phase Failed, reason Evicted. */
  evict(namespace: string, name: string, message = 'The node was low on resource: memory.'): boolean {
    return this.kill(namespace, name, 'Evicted', message, 'SIGTERM');
  }

  /** Pods whose process is alive now. */
  runningPods(): string[] {
    return [...this.pods.values()].filter((p) => (p.child || p.simulated) && !p.finished).map((p) => key(p.namespace, p.name));
  }

  private kill(namespace: string, name: string, reason: KillReason, message: string, sig: NodeJS.Signals): boolean {
    const p = this.pods.get(key(namespace, name));
    if (!p || p.finished || !(p.child || p.simulated)) return false;
    p.killReason ??= reason;
    p.killMessage = message;
    this.signal(p, sig);
    if (sig !== 'SIGKILL') p.timers.push(setTimeout(() => this.signal(p, 'SIGKILL'), this.opts.maxGraceMs ?? 2000));
    return true;
  }

  private signal(p: RunningPod, sig: NodeJS.Signals): void {
    if (p.simulated && !p.finished) {
      // A simulated container dies of any signal at once.
      this.finish(p, p.container, 128 + (signalNumbers[sig] ?? 9), null, '');
      return;
    }
    if (!p.child?.pid || p.finished) return;
    try {
      process.kill(-p.child.pid, sig);
    } catch {
      try { p.child.kill(sig); } catch { /* already gone */ }
    }
  }

  private scan(): void {
    for (const pod of this.store.list(this.podsType)) this.consider(pod);
  }

  private onEvent(ev: StoreEvent): void {
    if (!this.running) return;
    if (ev.rt.group === '' && (ev.rt.plural === 'nodes' || ev.rt.plural === 'persistentvolumeclaims') && ev.type !== 'DELETED') {
      this.scan();
      return;
    }
    if (ev.rt.group !== '' || ev.rt.plural !== 'pods') return;
    const pod = ev.object;
    const k = key(pod.metadata.namespace, pod.metadata.name);
    const p = this.pods.get(k);
    if (ev.type === 'DELETED') {
      if (p && p.uid === pod.metadata.uid) {
        if (!p.finished) {
          p.killReason ??= 'Deleted';
          this.signal(p, 'SIGKILL');
        }
        for (const t of p.timers) clearTimeout(t);
      }
      return;
    }
    if (p && p.uid === pod.metadata.uid) {
      if (pod.metadata.deletionTimestamp) this.terminate(p, pod);
      return;
    }
    this.consider(pod);
  }

  /** Graceful deletion: SIGTERM, SIGKILL after the grace period, then the pod object goes away. */
  private terminate(p: RunningPod, pod: Obj): void {
    if (p.finished) {
      this.store.finishPodTermination(p.namespace, p.name);
      return;
    }
    if (p.killReason) return;
    p.killReason = 'Deleted';
    p.killMessage = 'the pod was deleted';
    this.signal(p, 'SIGTERM');
    const grace = Math.min((pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000, this.opts.maxGraceMs ?? 2000);
    p.timers.push(setTimeout(() => this.signal(p, 'SIGKILL'), grace));
  }

  private nodeUsage(node: string): Resources {
    const u = this.usage.get(node) ?? { cpu: 0, memory: 0, gpu: 0 };
    // Millicores: adding and removing never drifts.
    return { cpu: u.cpu / 1000, memory: u.memory, gpu: u.gpu };
  }

  private shiftUsage(node: string, r: Resources, sign: 1 | -1): void {
    const u = this.usage.get(node) ?? { cpu: 0, memory: 0, gpu: 0 };
    this.usage.set(node, { cpu: u.cpu + sign * Math.round(r.cpu * 1000), memory: u.memory + sign * r.memory, gpu: u.gpu + sign * r.gpu });
  }

  private consider(pod: Obj): void {
    const node = pod.spec?.nodeName as string | undefined;
    if (!this.serves(node) || pod.status?.phase !== 'Pending' || pod.metadata.deletionTimestamp) return;
    const k = key(pod.metadata.namespace, pod.metadata.name);
    if (this.pods.get(k)?.uid === pod.metadata.uid) return;
    const nodeObj = this.store.tryGet(this.nodesType, '', node!);
    if (!nodeObj || !isNodeReady(nodeObj)) return; // waits, as a pod bound to an absent node does
    if (this.missingClaim(pod)) return;
    const alloc = nodeObj.status?.allocatable ?? {};
    const capacity: Resources = {
      cpu: alloc.cpu !== undefined ? parseCpu(alloc.cpu) : 0,
      memory: alloc.memory !== undefined ? parseBytes(alloc.memory) : 0,
      gpu: alloc[GPU_RESOURCE] !== undefined ? parseQuantity(alloc[GPU_RESOURCE]) : 0,
    };
    const requests = podRequests(pod as V1Pod);
    const used = this.nodeUsage(node!);
    const short = ([['cpu', 'cpu'], ['memory', 'memory'], ['gpu', GPU_RESOURCE]] as const)
      .find(([f]) => requests[f] > 0 && used[f] + requests[f] > capacity[f] + 1e-9);
    if (short) {
      const [f, resource] = short;
      const message = `Pod was rejected: Node didn't have enough resource: ${resource}, requested: ${requests[f]}, used: ${used[f]}, capacity: ${capacity[f]}`;
      this.rejections.push({ pod: k, node: node!, reason: `OutOf${resource}`, message });
      this.store.mutate(this.podsType, pod.metadata.namespace, pod.metadata.name, (o) => {
        if (o.metadata.uid !== pod.metadata.uid) return;
        o.status = { ...o.status, phase: 'Failed', reason: `OutOf${resource}`, message };
      });
      return;
    }
    this.run(pod, node!, requests);
    const now = this.nodeUsage(node!);
    const peak = this.peak.get(node!) ?? { cpu: 0, memory: 0, gpu: 0 };
    this.peak.set(node!, { cpu: Math.max(peak.cpu, now.cpu), memory: Math.max(peak.memory, now.memory), gpu: Math.max(peak.gpu, now.gpu) });
  }

  /**
   * A pod whose PersistentVolumeClaim does not exist stays Pending in ContainerCreating (its
   * volume cannot be mounted), as on a real node; it starts once the claim is created.
   */
  private missingClaim(pod: Obj): boolean {
    const pvcs = this.store.resourceFor('', 'v1', 'persistentvolumeclaims');
    const claims: string[] = (pod.spec?.volumes ?? []).map((v: Obj) => v.persistentVolumeClaim?.claimName).filter(Boolean);
    const missing = claims.find((c) => !pvcs || !this.store.tryGet(pvcs, pod.metadata.namespace, c));
    if (!missing) return false;
    this.store.mutate(this.podsType, pod.metadata.namespace, pod.metadata.name, (o) => {
      if (o.metadata.uid !== pod.metadata.uid) return;
      const c = o.spec.containers[0];
      o.status = {
        ...o.status,
        conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: o.status?.conditions?.[0]?.lastTransitionTime ?? nowTime() }],
        containerStatuses: [{ name: c.name, image: c.image, imageID: '', ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }],
      };
    });
    return true;
  }

  private containerEnv(pod: Obj, c: Obj): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      HOSTNAME: pod.metadata.name,
      ...(this.opts.env ?? {}),
    };
    const fields: Record<string, string | undefined> = {
      'metadata.name': pod.metadata.name,
      'metadata.namespace': pod.metadata.namespace,
      'metadata.uid': pod.metadata.uid,
      'spec.nodeName': pod.spec.nodeName,
      'spec.serviceAccountName': pod.spec.serviceAccountName,
      'status.podIP': pod.status?.podIP,
      'status.hostIP': pod.status?.hostIP,
    };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m);
      else if (e.valueFrom?.fieldRef) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath] ?? '';
      else env[e.name] = '';
    }
    return env;
  }

  /**
   * Where the container's process runs: its workingDir when that lies on a mounted
   * PersistentVolumeClaim (one host directory per claim, shared by every pod mounting it, as
   * a ReadWriteMany volume is), else a directory of its own.
   */
  private containerCwd(pod: Obj, c: Obj): string {
    const own = join(this.opts.workDir, `${pod.metadata.namespace}_${pod.metadata.name}`);
    if (!c.workingDir) return own;
    for (const m of c.volumeMounts ?? []) {
      const vol = (pod.spec.volumes ?? []).find((v: Obj) => v.name === m.name);
      const claim = vol?.persistentVolumeClaim?.claimName;
      if (!claim) continue;
      const rel = relative(m.mountPath, c.workingDir);
      if (rel.startsWith('..') || isAbsolute(rel)) continue;
      return join(this.volumeDir(pod.metadata.namespace, claim), rel);
    }
    return own;
  }

  /** The host directory behind a PersistentVolumeClaim. */
  volumeDir(namespace: string, claim: string): string {
    return join(this.opts.workDir, 'volumes', `${namespace}_${claim}`);
  }

  private run(pod: Obj, node: string, requests: Resources): void {
    const ns = pod.metadata.namespace as string;
    const name = pod.metadata.name as string;
    const c: Obj = pod.spec.containers[0];
    const startedAt = nowTime();
    let resolveExit!: () => void;
    const p: RunningPod = {
      uid: pod.metadata.uid, namespace: ns, name, node, requests, container: c, child: null, simulated: false, finished: false, startedAt,
      output: '', killReason: null, killMessage: '', timers: [], exited: new Promise((r) => { resolveExit = r; }),
    };
    this.pods.set(key(ns, name), p);
    this.shiftUsage(node, requests, 1);
    this.started.push(key(ns, name));
    const podIP = `10.244.0.${(this.podIp++ % 250) + 2}`;
    this.store.mutate(this.podsType, ns, name, (o) => {
      if (o.metadata.uid !== p.uid) return;
      o.status = {
        ...o.status, phase: 'Running', hostIP: '192.168.0.10', podIP, startTime: startedAt,
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: startedAt },
          { type: 'Initialized', status: 'True', lastTransitionTime: startedAt },
          { type: 'ContainersReady', status: 'True', lastTransitionTime: startedAt },
          { type: 'Ready', status: 'True', lastTransitionTime: startedAt },
        ],
        containerStatuses: [{
          name: c.name, image: c.image, imageID: `fake://${c.image}`, containerID: `fake://${p.uid}`,
          ready: true, started: true, restartCount: 0, state: { running: { startedAt } },
        }],
      };
    });
    const argv = [...(c.command ?? []), ...(c.args ?? [])] as string[];
    if (argv.length === 0) {
      this.finish(p, c, 127, 'ContainerCannotRun', 'the fake kubelet has no image entrypoint: set command');
      resolveExit();
      return;
    }
    const sim = this.opts.simulate?.(argv);
    if (sim) {
      p.simulated = true;
      p.output = sim.output ?? '';
      p.exited = Promise.resolve(); // no process to wait for
      p.timers.push(setTimeout(() => this.finish(p, c, sim.exitCode, null, ''), sim.afterMs));
      this.armDeadline(pod, ns, name, p);
      return;
    }
    const cwd = this.containerCwd(pod, c);
    mkdirSync(cwd, { recursive: true });
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd, env: this.containerEnv({ ...pod, status: { podIP, hostIP: '192.168.0.10' } }, c), detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.child = child;
    const collect = (b: Buffer) => {
      if (p.output.length >= MAX_LOG) return;
      const text = b.toString('utf8');
      p.output += text;
      for (const f of this.followers.get(key(ns, name)) ?? []) f.onData(text);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.on('error', (err) => {
      collect(Buffer.from(String(err)));
    });
    child.on('close', (code, signal) => {
      const exitCode = code ?? (signal ? 128 + (signalNumbers[signal] ?? 9) : 128);
      this.finish(p, c, exitCode, null, '');
      resolveExit();
    });
    this.armDeadline(pod, ns, name, p);
  }

  private armDeadline(pod: Obj, ns: string, name: string, p: RunningPod): void {
    const deadline = pod.spec.activeDeadlineSeconds as number | undefined;
    if (deadline) {
      p.timers.push(setTimeout(() => this.kill(ns, name, 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline', 'SIGTERM'), deadline * 1000));
    }
  }

  private finish(p: RunningPod, c: Obj, exitCode: number, cannotRun: string | null, message: string): void {
    if (p.finished) return;
    p.finished = true;
    this.shiftUsage(p.node, p.requests, -1);
    for (const f of this.followers.get(key(p.namespace, p.name)) ?? []) f.onEnd();
    this.followers.delete(key(p.namespace, p.name));
    for (const t of p.timers) clearTimeout(t);
    const finishedAt = nowTime();
    const oom = p.killReason === 'OOMKilled';
    const code = oom ? 137 : exitCode;
    const succeeded = code === 0 && !p.killReason;
    const podReason = p.killReason === 'Evicted' ? 'Evicted' : p.killReason === 'DeadlineExceeded' ? 'DeadlineExceeded' : undefined;
    if (!this.running) return;
    this.store.mutate(this.podsType, p.namespace, p.name, (o) => {
      if (o.metadata.uid !== p.uid) return;
      const phase = succeeded || (p.killReason === 'Deleted' && code === 0) ? 'Succeeded' : 'Failed';
      o.status = {
        ...o.status, phase,
        conditions: (o.status?.conditions ?? []).map((cond: Obj) => (cond.type === 'Ready' || cond.type === 'ContainersReady'
          ? { ...cond, status: 'False', reason: 'PodCompleted', lastTransitionTime: finishedAt } : cond)),
        containerStatuses: [{
          name: c.name, image: c.image, imageID: `fake://${c.image}`, containerID: `fake://${p.uid}`,
          ready: false, started: false, restartCount: 0,
          state: {
            terminated: {
              exitCode: code, reason: cannotRun ?? (oom ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error'),
              startedAt: p.startedAt, finishedAt, containerID: `fake://${p.uid}`,
              ...(message ? { message } : {}),
            },
          },
        }],
      };
      if (podReason) {
        o.status.reason = podReason;
        o.status.message = p.killMessage;
      }
    });
    if (this.store.isTerminatingPod(p.namespace, p.name)) this.store.finishPodTermination(p.namespace, p.name);
  }
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11, SIGPIPE: 13 };
