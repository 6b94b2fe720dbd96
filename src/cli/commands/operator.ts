/**
 * `torc operator`: the Kubernetes operator. Watches Workflow custom resources (one namespace or
 * all), keeps them in the SQLite store, runs their jobs as pods packed onto nodes by free
 * capacity, and reports status on the resources. Serves Prometheus /metrics (+ /healthz,
 * /readyz) and, while leading, the REST API. Runs until SIGINT / SIGTERM (lease released);
 * exits 1 when it loses the leader lease, so that Kubernetes restarts it as a follower.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { V1Toleration } from '@kubernetes/client-node';
import { InputError } from '../../errors.js';
import { parseIntOption } from '../output.js';
import { addServerAuthOptions, serverAuthFromFlags, type ServerAuthFlags } from '../server-auth.js';
import { DEFAULT_DB } from './server.js';

interface OperatorFlags extends ServerAuthFlags {
  namespace?: string;
  allNamespaces?: boolean;
  db?: string;
  kubeconfig?: string;
  context?: string;
  leaderElect?: boolean;
  leaseNamespace?: string;
  leaseName: string;
  identity?: string;
  host: string;
  port: string;
  server: boolean;
  dashboard: boolean;
  metricsPort: string;
  defaultImage: string;
  nodeSelector?: string;
  tolerate: string[];
  apiUrl?: string;
  workPvc?: string;
  workDir: string;
  apiCaConfigmap?: string;
  resync: string;
  maxConcurrentReconciles: string;
  quiet?: boolean;
}

/** "k=v,k2=v2" → a label map; names the flag on a bad pair. */
export function parseSelector(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9._/-]+)=([A-Za-z0-9._-]*)$/.exec(part);
    if (!m) throw new InputError(`expected key=value pairs separated by commas, got "${part}"`, flag);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** "key[=value][:Effect]" → a toleration (operator Exists without a value). */
export function parseToleration(text: string, flag: string): V1Toleration {
  const m = /^([A-Za-z0-9._/-]+)(?:=([A-Za-z0-9._-]+))?(?::(NoSchedule|PreferNoSchedule|NoExecute))?$/.exec(text.trim());
  if (!m) throw new InputError(`expected key[=value][:NoSchedule|PreferNoSchedule|NoExecute], got "${text}"`, flag);
  return { key: m[1], ...(m[2] ? { operator: 'Equal', value: m[2] } : { operator: 'Exists' }), ...(m[3] ? { effect: m[3] } : {}) };
}

export function register(program: Command): void {
  const cmd = program
    .command('operator')
    .description('Run the Kubernetes operator: Workflow resources → jobs as pods sized by node capacity')
    .option('-n, --namespace <ns>', 'watch Workflows in this namespace (default: the kubeconfig context\'s)')
    .option('-A, --all-namespaces', 'watch Workflows in every namespace')
    .option('--db <path>', `SQLite database file (default $TORC_DB or ${DEFAULT_DB})`)
    .option('--kubeconfig <file>', 'kubeconfig file (default $KUBECONFIG, ~/.kube/config, or the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--leader-elect', 'elect a leader through a coordination.k8s.io Lease; only the leader acts')
    .option('--lease-namespace <ns>', 'namespace of the Lease (default $POD_NAMESPACE or the watched namespace)')
    .option('--lease-name <name>', 'name of the Lease', 'torc-operator')
    .option('--identity <id>', 'this replica\'s identity in the Lease (default $POD_NAME or host-pid)')
    .option('--host <address>', 'address for the REST API and metrics', '0.0.0.0')
    .option('--port <port>', 'REST API port while leading (0 = any free port)', '8080')
    .option('--no-server', 'do not serve the REST API')
    .option('--no-dashboard', 'serve the REST API without the web dashboard at /');
  // The REST API's sign-in and TLS, as `torc server`'s (runners and workers use the token).
  addServerAuthOptions(cmd)
    .option('--metrics-port <port>', 'port of /metrics, /healthz and /readyz (0 = any free port)', '9090')
    .option('--default-image <image>', 'image for jobs with neither an image nor a workflow default_image', 'busybox:1.36')
    .option('--node-selector <k=v,...>', 'only place pods on nodes with these labels')
    .option('--tolerate <key[=value][:effect]>', 'place pods on nodes with this taint too (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--work-pvc <claim>', 'mount this PersistentVolumeClaim (ReadWriteMany) into every job pod as its working directory, so jobs share files')
    .option('--work-dir <path>', 'where --work-pvc is mounted in job pods', '/work')
    .option('--api-url <url>', 'TORC_API_URL given to job pods (default $TORC_API_URL)')
    .option('--api-ca-configmap <name>', "ConfigMap (key ca.crt, in each workflow's namespace) with the CA of an https --api-url: mounted into job pods, TORC_CA_FILE names it")
    .option('--resync <seconds>', 'every Workflow is reconciled at least this often (the watches trigger the rest)', '30')
    .option('--max-concurrent-reconciles <n>', 'Workflows reconciled at once', '4')
    .option('-q, --quiet', 'log only problems')
    .action(async (flags: OperatorFlags) => {
      if (flags.namespace && flags.allNamespaces) throw new InputError('use either --namespace or --all-namespaces, not both', '--all-namespaces');
      const port = parseIntOption(flags.port, '--port', 0)!;
      const metricsPort = parseIntOption(flags.metricsPort, '--metrics-port', 0)!;
      for (const [p, flag] of [[port, '--port'], [metricsPort, '--metrics-port']] as const) {
        if (p > 65535) throw new InputError(`expected a port from 0 to 65535, got ${p}`, flag);
      }
      const resyncSeconds = parseIntOption(flags.resync, '--resync', 1)!;
      const maxConcurrentReconciles = parseIntOption(flags.maxConcurrentReconciles, '--max-concurrent-reconciles', 1)!;
      const nodeSelector = flags.nodeSelector ? parseSelector(flags.nodeSelector, '--node-selector') : undefined;
      const tolerations = flags.tolerate.map((t) => parseToleration(t, '--tolerate'));
      if (flags.workPvc !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(flags.workPvc)) {
        throw new InputError(`"${flags.workPvc}" is not a valid PersistentVolumeClaim name`, '--work-pvc');
      }
      if (flags.apiCaConfigmap !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(flags.apiCaConfigmap)) {
        throw new InputError(`"${flags.apiCaConfigmap}" is not a valid ConfigMap name`, '--api-ca-configmap');
      }
      const { guards, ...auth } = serverAuthFromFlags(flags, flags.server ? flags.host : '127.0.0.1');
      if (!flags.server && (guards.length > 0 || auth.tls)) {
        throw new InputError('sign-in and TLS options guard the REST API: drop --no-server', flags.tlsCert !== undefined ? '--tls-cert' : flags.auth !== undefined ? '--auth' : '--token-file');
      }
      if (!flags.workDir.startsWith('/')) throw new InputError(`expected an absolute path, got "${flags.workDir}"`, '--work-dir');
      const dbPath = resolve(flags.db ?? process.env.TORC_DB ?? DEFAULT_DB);
      mkdirSync(dirname(dbPath), { recursive: true });

      const [{ KubeConfig, CoreV1Api }, { Operator }, { OperatorMetrics, serveMetrics }, { connectStore }, { startServer }, { PodMetricsHook }, { makeApiClient }] = await Promise.all([
        import('@kubernetes/client-node'), import('../../runners/k8s/operator.js'), import('../../runners/k8s/metrics.js'),
        import('../../store/runner-client.js'), import('../../api/app.js'), import('../../runners/k8s/pod-metrics.js'),
        import('../../runners/k8s/api-clients.js'),
      ]);
      const kc = new KubeConfig();
      try {
        if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
        else kc.loadFromDefault();
        if (flags.context) kc.setCurrentContext(flags.context);
      } catch (err) {
        throw new InputError(`cannot load the kubeconfig: ${(err as Error).message}`, flags.kubeconfig ? '--kubeconfig' : '--context');
      }
      if (!kc.getCurrentCluster()) throw new InputError('no cluster in the kubeconfig (set KUBECONFIG or --kubeconfig)', '--kubeconfig');
      const contextNs = kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
      const namespace = flags.allNamespaces ? null : (flags.namespace ?? contextNs);
      const identity = flags.identity ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

      const metrics = new OperatorMetrics({ defaultMetrics: true });
      let exitCode = 0;
      let finish!: () => void;
      const finished = new Promise<void>((r) => { finish = r; });
      // Resource monitoring of job pods (the workflows' resource_monitor settings): kubelet stats summaries.
      const podMetrics = new PodMetricsHook(makeApiClient(kc, CoreV1Api), { onError: (what, e) => log(`${what}: ${e instanceof Error ? e.message : String(e)}`) });
      const op = new Operator({
        kubeConfig: kc, namespace, identity, metrics, tolerations, resyncSeconds, maxConcurrentReconciles, hooks: [podMetrics],
        connect: () => connectStore(dbPath),
        defaultImage: flags.defaultImage,
        capacity: { nodeSelector, tolerations },
        apiUrl: flags.apiUrl ?? process.env.TORC_API_URL ?? null,
        workVolume: flags.workPvc ? { claimName: flags.workPvc, mountPath: flags.workDir } : null,
        apiCaConfigMap: flags.apiCaConfigmap ?? null,
        leaderElection: flags.leaderElect
          ? { namespace: flags.leaseNamespace ?? process.env.POD_NAMESPACE ?? namespace ?? contextNs, name: flags.leaseName }
          : null,
        log: flags.quiet ? undefined : log,
        serve: flags.server
          ? async ({ store }) => {
            const server = await startServer({
              store, host: flags.host, port, logger: { info: () => {}, error: log }, dashboard: flags.dashboard, ...auth,
              // Changes made over REST (cancel, reset, job status) are acted on at once.
              onMutation: (path) => op.storeChanged(path),
            });
            process.stdout.write(`torc operator: REST API on ${server.baseUrl}${guards.length ? ` (auth: ${guards.join(', ')})` : ''}\n`);
            if (flags.dashboard) process.stdout.write(`torc operator: dashboard on ${server.url}/\n`);
            return server;
          }
          : undefined,
        onLostLeadership: () => {
          log('lost the leader lease: exiting so that a fresh process rejoins the election');
          exitCode = 1;
          finish();
        },
        onFatal: (err) => {
          log(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
          exitCode = 1;
          finish();
        },
      });
      const metricsServer = await serveMetrics(metrics, { port: metricsPort, host: flags.host, ready: () => op.isLeader || !flags.leaderElect });
      process.stdout.write(`torc operator ${identity}: watching ${namespace ? `namespace ${namespace}` : 'all namespaces'}; metrics on ${metricsServer.url}/metrics; database ${dbPath}${flags.leaderElect ? '; leader election on' : ''}\n`);
      process.once('SIGINT', finish);
      process.once('SIGTERM', finish);
      await op.start();
      await finished;
      await op.stop();
      await metricsServer.close();
      process.exitCode = exitCode;
    });
}
