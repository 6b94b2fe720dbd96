/**
 * Kubernetes scale (issue 17): W Workflows × J jobs on N nodes. The API-server fake and its
 * kubelet run in this process (containers simulated as timers: `sleep S` ends after S seconds
 * without a process, so tens of thousands of pods fit on two cores); `torc operator` runs as
 * its own process against it, as in a cluster. Figures: pods created per second (while the
 * cluster had work queued), jobs finished per second against the cluster's ceiling (slots ÷
 * job time), API calls per job counted at the fake (by verb and resource: pod reads show
 * polling), reconciles per job, and the operator's RSS (peak) and CPU time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { FakeCluster, kubeconfigFor } from '../test/support/k8s/cluster.js';
import { ROOT, TORC_BIN, tempDir } from './lib/proc.js';
import type { BenchContext, BenchSection, Target } from './lib/section.js';
import { megabytes, perSecond, seconds, table } from './lib/stats.js';

export interface K8sScaleOptions {
  workflows: number;
  jobsPerWorkflow: number;
  nodes: number;
  /** Allocatable cores per node; every job asks for one. */
  coresPerNode: number;
  /** Simulated run time of each job, seconds. */
  jobSeconds: number;
  /** Give up after this long (the section then reports what it saw). */
  timeoutMs?: number;
}

const NAMESPACE = 'bench';
const OPERATOR_USER = 'system:serviceaccount:torc-system:torc-operator';

/** `sleep S` runs as a timer; nothing else is simulated. */
function simulate(argv: string[]) {
  const m = /^sleep (\d+(?:\.\d+)?)$/.exec(argv[2] ?? '');
  return m ? { exitCode: 0, afterMs: Number(m[1]) * 1000 } : null;
}

function workflowCr(name: string, jobs: number, jobSeconds: number) {
  return {
    apiVersion: 'torc.dev/v1alpha1', kind: 'Workflow', metadata: { name },
    spec: {
      name,
      default_image: 'busybox:1.36',
      resource_requirements: [{ name: 'one', num_cpus: 1, memory: '256m', runtime: 'PT10M' }],
      jobs: [{ name: 'job_{i:04d}', command: `sleep ${jobSeconds}`, resource_requirements: 'one', parameters: { i: `1:${jobs}` } }],
    },
  };
}

/** Resident set now and at its peak (kB), and CPU seconds, of a process (Linux /proc). */
function procStats(pid: number): { rssKb: number; hwmKb: number; cpuSeconds: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), cpuSeconds: ticks / 100 };
  } catch {
    return null;
  }
}

function startOperator(kubeconfig: string, db: string): { child: ChildProcess; metricsUrl: Promise<string>; output: () => string } {
  // TORC_BENCH_PROFILE_DIR=dir: the operator writes a CPU profile there (node --cpu-prof).
  const profile = process.env.TORC_BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TORC_BENCH_PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, TORC_BIN, 'operator', '--kubeconfig', kubeconfig, '--db', db, '-n', NAMESPACE,
    '--no-server', '--metrics-port', '0', '--host', '127.0.0.1', '-q'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
  const metricsUrl = new Promise<string>((resolve, reject) => {
    const check = setInterval(() => {
      const m = /metrics on (\S+)\/metrics/.exec(out);
      if (m) {
        clearInterval(check);
        resolve(m[1]!);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(check);
      reject(new Error(`torc operator exited ${code}: ${out}`));
    });
  });
  return { child, metricsUrl, output: () => out };
}

function metricValue(text: string, name: string, labels = ''): number {
  const re = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ''} (\\S+)$`, 'm');
  return Number(re.exec(text)?.[1] ?? NaN);
}

export async function runK8sScaleBench(ctx: BenchContext, o: K8sScaleOptions): Promise<BenchSection> {
  const totalJobs = o.workflows * o.jobsPerWorkflow;
  const slots = o.nodes * o.coresPerNode;
  const tmp = tempDir('k8s');
  const cluster = await FakeCluster.start({
    simulate,
    nodes: Array.from({ length: o.nodes }, (_, i) => ({ name: `node-${String(i).padStart(3, '0')}`, cpu: o.coresPerNode, memory: `${o.coresPerNode * 2}Gi` })),
    // Every watch event of the run stays replayable: a lagging watch never needs a relist.
    maxHistory: Math.max(100_000, totalJobs * 6),
  });
  cluster.createNamespace(NAMESPACE);
  const kubeconfig = path.join(tmp.dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigFor(cluster.url, NAMESPACE).replace('token: admin', `token: ${OPERATOR_USER}`));
  const op = startOperator(kubeconfig, path.join(tmp.dir, 'torc.db'));
  const samples: { t: number; created: number; rssKb: number }[] = [];
  try {
    const metricsUrl = await op.metricsUrl;
    await new Promise((r) => setTimeout(r, 1000)); // its informers have listed the empty cluster
    const idleRssKb = procStats(op.child.pid!)?.rssKb ?? 0;
    ctx.log(`k8s: ${o.workflows} Workflows × ${o.jobsPerWorkflow.toLocaleString('en-US')} jobs on ${o.nodes} nodes × ${o.coresPerNode} cores (${slots} slots), jobs of ${o.jobSeconds} s`);
    const api = cluster.kubeConfig(NAMESPACE, 'bench-user').makeApiClient(CustomObjectsApi);
    const wfType = cluster.type('workflows', 'torc.dev');
    const podCreates = () => cluster.server.requests.filter((r) => r.user === OPERATOR_USER && r.resource === 'pods' && r.verb === 'create' && r.code === 201).length;
    const started = performance.now();
    const fakeCpuBefore = process.cpuUsage();
    for (let i = 0; i < o.workflows; i++) {
      const name = `scale-${String(i).padStart(2, '0')}`;
      await api.createNamespacedCustomObject({ group: 'torc.dev', version: 'v1alpha1', plural: 'workflows', namespace: NAMESPACE, body: workflowCr(name, o.jobsPerWorkflow, o.jobSeconds) });
    }
    const deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);
    let lastLog = 0;
    let created = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const wfs = cluster.store.statuses(wfType, NAMESPACE);
      const succeeded = wfs.filter((w) => w.status?.phase === 'Succeeded').length;
      const failed = wfs.filter((w) => w.status?.phase === 'Failed').length;
      created = podCreates();
      const stats = procStats(op.child.pid!);
      samples.push({ t: performance.now() - started, created, rssKb: stats?.rssKb ?? 0 });
      if (performance.now() - lastLog > 15_000) {
        lastLog = performance.now();
        ctx.log(`k8s: ${created.toLocaleString('en-US')} pods created, ${succeeded}/${o.workflows} Workflows Succeeded, operator RSS ${megabytes(stats?.rssKb ?? 0)}`);
      }
      if (succeeded + failed === o.workflows) {
        if (failed > 0) throw new Error(`${failed} Workflows ended Failed`);
        break;
      }
      if (op.child.exitCode !== null) throw new Error(`torc operator exited ${op.child.exitCode}: ${op.output()}`);
      if (Date.now() > deadline) throw new Error(`not done after ${(o.timeoutMs ?? 30 * 60_000) / 1000} s: ${succeeded}/${o.workflows} Succeeded, ${created} pods created`);
    }
    const wallMs = performance.now() - started;
    const fakeCpu = process.cpuUsage(fakeCpuBefore);
    const fakeCpuSeconds = (fakeCpu.user + fakeCpu.system) / 1e6;
    const final = procStats(op.child.pid!)!;
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    const heapUsedMb = metricValue(metrics, 'nodejs_heap_size_used_bytes') / 2 ** 20;
    const reconciles = metricValue(metrics, 'torc_reconciles_total', 'result="ok"') + (metricValue(metrics, 'torc_reconciles_total', 'result="error"') || 0);

    // Pod creation rate while the cluster had work queued: from the first pod to the last.
    const first = samples.find((s) => s.created > 0)!;
    const last = samples.find((s) => s.created >= created)!;
    const createRate = (last.created - first.created) / Math.max(0.001, (last.t - first.t) / 1000);
    const jobRate = totalJobs / (wallMs / 1000);
    const ceiling = slots / o.jobSeconds;

    const calls = cluster.server.requests.filter((r) => r.user === OPERATOR_USER);
    const byKind = new Map<string, number>();
    for (const r of calls) {
      const k = `${r.verb} ${r.resource || r.path}`;
      byKind.set(k, (byKind.get(k) ?? 0) + 1);
    }
    const podReads = calls.filter((r) => r.resource === 'pods' && (r.verb === 'get' || r.verb === 'list')).length;
    const rejections = cluster.kubelet.rejections.length;
    const peakRss = Math.max(final.hwmKb, ...samples.map((s) => s.rssKb));
    const rows = [...byKind.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, n.toLocaleString('en-US'), (n / totalJobs).toFixed(3)]);

    const figures: Record<string, number> = {
      'k8s.workflows': o.workflows, 'k8s.jobs': totalJobs, 'k8s.nodes': o.nodes, 'k8s.slots': slots,
      'k8s.wall_seconds': wallMs / 1000,
      'k8s.pods_created_per_second': createRate,
      'k8s.jobs_per_second': jobRate,
      'k8s.ceiling_jobs_per_second': ceiling,
      'k8s.api_calls_per_job': calls.length / totalJobs,
      'k8s.pod_reads': podReads,
      'k8s.reconciles_per_job': reconciles / totalJobs,
      'k8s.operator_peak_rss_mb': peakRss / 1024,
      'k8s.operator_idle_rss_mb': idleRssKb / 1024,
      'k8s.operator_heap_used_mb_at_end': heapUsedMb,
      'k8s.operator_cpu_seconds': final.cpuSeconds,
      'k8s.operator_cpu_ms_per_job': (final.cpuSeconds * 1000) / totalJobs,
      'k8s.fake_cpu_seconds': fakeCpuSeconds,
      'k8s.kubelet_rejections': rejections,
    };
    const targets: Target[] = [
      { name: '(8) no per-pod polling: pod get/list calls beyond the informer\'s list', ok: podReads <= 1, measured: `${podReads} pod read(s)` },
      { name: '(8) no node over-committed (kubelet admission rejections)', ok: rejections === 0, measured: `${rejections}` },
    ];
    const markdown = [
      `${o.workflows} Workflows × ${o.jobsPerWorkflow.toLocaleString('en-US')} jobs (${totalJobs.toLocaleString('en-US')} pods) on ${o.nodes} fake nodes × ${o.coresPerNode} cores ` +
        `(${slots} one-core slots); each job \`sleep ${o.jobSeconds}\`, simulated by the fake kubelet (a timer, no process). The API-server fake and kubelet run in the ` +
        'benchmark process, `torc operator` in its own (default flags: 4 concurrent reconciles, up to 200 pods per reconcile). One run: the figure is what it is on this machine.',
      '',
      table(['figure', 'value'], [
        ['all Workflows Succeeded after', seconds(wallMs)],
        ['pods created per second (first pod to last)', perSecond(createRate)],
        ['jobs finished per second (whole run)', `${perSecond(jobRate)} (cluster ceiling ${perSecond(ceiling)}: ${slots} slots ÷ ${o.jobSeconds} s)`],
        ['API calls per job (all the operator made ÷ jobs)', (calls.length / totalJobs).toFixed(2)],
        ['pod get / list calls (polling would show here)', String(podReads)],
        ['reconciles per job', (reconciles / totalJobs).toFixed(3)],
        ['operator RSS, peak (idle before the Workflows came)', `${megabytes(peakRss)} (${megabytes(idleRssKb)})`],
        ['operator JS heap in use at the end', `${heapUsedMb.toFixed(0)} MB`],
        ['operator CPU time', `${final.cpuSeconds.toFixed(1)} s (${((final.cpuSeconds * 1000) / totalJobs).toFixed(2)} ms per job; busy ${((final.cpuSeconds * 100000) / wallMs).toFixed(0)}% of the run)`],
        ['API-server fake + kubelet CPU time (this process)', `${fakeCpuSeconds.toFixed(1)} s (busy ${((fakeCpuSeconds * 100000) / wallMs).toFixed(0)}% of the run)`],
        ['kubelet admission rejections (over-commit)', String(rejections)],
      ], ['l', 'r']),
      '',
      'The operator\'s API calls by kind:',
      '',
      table(['call', 'count', 'per job'], rows, ['l', 'r', 'r']),
    ].join('\n');
    return { key: 'k8s', title: '8. Kubernetes scale: Workflows × jobs on fake nodes (operator against the API-server fake)', markdown, figures, targets };
  } finally {
    op.child.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      if (op.child.exitCode !== null) return resolve();
      const kill = setTimeout(() => op.child.kill('SIGKILL'), 10_000);
      op.child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
    });
    await cluster.close();
    tmp.remove();
  }
}
