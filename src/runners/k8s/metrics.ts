/**
 * Prometheus metrics of the operator (prom-client), on a registry of its own so that several
 * operators in one test process do not share counters, served at /metrics with /healthz and
 * /readyz beside it for the Deployment's probes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type WfLabels = 'namespace' | 'workflow';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly readyJobs: Gauge<WfLabels>;
  readonly runningPods: Gauge<WfLabels>;
  readonly claims: Counter<WfLabels>;
  readonly jobsClaimed: Counter<WfLabels>;
  readonly podsCreated: Counter<WfLabels>;
  readonly jobsFinished: Counter<WfLabels | 'status'>;
  readonly jobDuration: Histogram<'status'>;
  readonly reconciles: Counter<'result'>;
  readonly retries: Counter;
  readonly reconcileSeconds: Histogram;
  readonly queueDepth: Gauge;
  readonly leader: Gauge;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.readyJobs = new Gauge({ name: 'torc_ready_jobs', help: 'Jobs ready to run and not yet claimed (the ready queue depth)', labelNames: ['namespace', 'workflow'], registers });
    this.runningPods = new Gauge({ name: 'torc_running_pods', help: 'Job pods not yet finished', labelNames: ['namespace', 'workflow'], registers });
    this.claims = new Counter({ name: 'torc_claims_total', help: 'Claim requests made against the store', labelNames: ['namespace', 'workflow'], registers });
    this.jobsClaimed = new Counter({ name: 'torc_jobs_claimed_total', help: 'Jobs claimed for dispatch', labelNames: ['namespace', 'workflow'], registers });
    this.podsCreated = new Counter({ name: 'torc_pods_created_total', help: 'Job pods created', labelNames: ['namespace', 'workflow'], registers });
    this.jobsFinished = new Counter({ name: 'torc_jobs_finished_total', help: 'Jobs finished, by torc status', labelNames: ['namespace', 'workflow', 'status'], registers });
    this.jobDuration = new Histogram({
      name: 'torc_job_duration_seconds', help: 'Run time of finished jobs', labelNames: ['status'], registers,
      buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 48 * 3600],
    });
    this.reconciles = new Counter({ name: 'torc_reconciles_total', help: 'Workflow reconciles, by result (ok / error)', labelNames: ['result'], registers });
    this.retries = new Counter({ name: 'torc_workqueue_retries_total', help: 'Workflows put back on the work queue with backoff after a failed reconcile', registers });
    this.reconcileSeconds = new Histogram({
      name: 'torc_reconcile_duration_seconds', help: 'Time one workflow reconcile took', registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.queueDepth = new Gauge({ name: 'torc_workqueue_depth', help: 'Workflows waiting for a worker on the work queue', registers });
    this.leader = new Gauge({ name: 'torc_operator_leader', help: '1 while this replica holds the leader lease', registers });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Drops a deleted workflow's series so they stop being exported. */
  forgetWorkflow(namespace: string, workflow: string): void {
    for (const m of [this.readyJobs, this.runningPods, this.claims, this.jobsClaimed, this.podsCreated]) {
      m.remove({ namespace, workflow });
    }
    for (const status of ['completed', 'failed', 'terminated', 'canceled', 'pending_failed']) {
      this.jobsFinished.remove({ namespace, workflow, status });
    }
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves /metrics, /healthz (alive) and /readyz (`ready()` true) on host:port (0 = any free port). */
export async function serveMetrics(metrics: OperatorMetrics, opts: { port: number; host?: string; ready?: () => boolean }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      metrics.render().then((text) => {
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text);
      }, (err) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(err));
      });
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const ok = opts.ready ? opts.ready() : true;
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ok ? 'ok' : 'not ready');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
