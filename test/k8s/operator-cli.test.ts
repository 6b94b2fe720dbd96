/** `torc operator` as a real process (bin/torc.js over dist/) against the API-server fake. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import bcrypt from 'bcryptjs';
import { ApiError, TorcClient } from '../../src/api/client.js';
import { runTorc, startTorc } from '../support/cli.js';
import { FakeCluster, waitFor } from '../support/k8s/cluster.js';
import { WorkflowClient, diamondSpec } from '../support/k8s/operator-harness.js';

function kubeconfigFile(dir: string, url: string, namespace: string): string {
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
    clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'op', user: { token: 'system:serviceaccount:torc-system:torc-operator' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'op', namespace } }],
  }));
  return path;
}

test('torc operator runs the diamond, serves /metrics and the REST API, and stops on SIGTERM', async (t) => {
  const cluster = await FakeCluster.start({ nodes: [{ name: 'n1', cpu: 4, memory: '8Gi' }] });
  t.teardown(() => cluster.close());
  cluster.createNamespace('team-a');
  const dir = mkdtempSync(join(tmpdir(), 'torc-operator-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = kubeconfigFile(dir, cluster.url, 'team-a');
  const op = startTorc(['operator', '--kubeconfig', kubeconfig, '--db', join(dir, 'torc.db'), '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--leader-elect', '--identity', 'cli-op'], { timeoutMs: 120_000 });
  t.teardown(() => { op.child.kill('SIGKILL'); });
  const metricsUrl = await waitFor(() => /metrics on (\S+)\/metrics/.exec(op.output().stdout)?.[1], 'the metrics address');
  const apiUrl = await waitFor(() => /REST API on (\S+)/.exec(op.output().stdout)?.[1], 'the REST API (once leading)').catch((e) => { throw new Error(`${e.message}\n${op.output().stdout}\n${op.output().stderr}`); });

  const wf = new WorkflowClient(cluster.kubeConfig('team-a'), 'team-a');
  await wf.apply('diamond', diamondSpec());
  const done = await wf.waitForPhase('diamond', ['Succeeded', 'Failed']);
  t.is(done.status?.phase, 'Succeeded');

  const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
  t.regex(metrics, /^torc_pods_created_total\{namespace="team-a",workflow="diamond"\} 4$/m);
  t.regex(metrics, /^torc_operator_leader 1$/m);
  t.is((await fetch(`${metricsUrl}/readyz`)).status, 200);
  const listed = await (await fetch(`${apiUrl}/workflows`)).json() as { items: { id: number; name: string }[] };
  t.true(listed.items.some((w) => w.name === 'diamond'));
  const lease = cluster.store.get(cluster.type('leases', 'coordination.k8s.io'), 'team-a', 'torc-operator');
  t.is(lease.spec.holderIdentity, 'cli-op');

  op.child.kill('SIGTERM');
  const res = await op.result;
  t.is(res.code, 0, res.stderr);
  const released = cluster.store.get(cluster.type('leases', 'coordination.k8s.io'), 'team-a', 'torc-operator');
  t.is(released.spec.holderIdentity, '', 'the lease was released on the way out');
});

// Serial: with both operators and their fake clusters at once in this worker, the other test's operator lost its leader lease under load (socket hang up renewing it).
test.serial('torc operator guards its REST API as torc server does: HTTPS, users and the token; job pods get the CA', async (t) => {
  const cluster = await FakeCluster.start({ nodes: [{ name: 'n1', cpu: 4, memory: '8Gi' }] });
  t.teardown(() => cluster.close());
  cluster.createNamespace('team-a');
  const dir = mkdtempSync(join(tmpdir(), 'torc-operator-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = kubeconfigFile(dir, cluster.url, 'team-a');
  writeFileSync(join(dir, 'htpasswd'), `ann:${bcrypt.hashSync('ann-pw', 4)}\n`);
  writeFileSync(join(dir, 'token'), 'operator-secret-token\n');
  const cert = readFileSync('test/fixtures/tls/cert.pem');
  const op = startTorc(['operator', '--kubeconfig', kubeconfig, '--db', join(dir, 'torc.db'), '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0',
    '--auth', `htpasswd:${join(dir, 'htpasswd')}`, '--admin-user', 'ann', '--token-file', join(dir, 'token'),
    '--tls-cert', 'test/fixtures/tls/cert.pem', '--tls-key', 'test/fixtures/tls/key.pem',
    '--api-url', 'https://torc-api.torc-system.svc:8080/torc-service/v1', '--api-ca-configmap', 'torc-api-ca'], { timeoutMs: 120_000 });
  t.teardown(() => { op.child.kill('SIGKILL'); });
  const apiUrl = await waitFor(() => /REST API on (\S+) \(auth: bearer token, 1 users\)/.exec(op.output().stdout)?.[1], 'the guarded REST API').catch((e) => { throw new Error(`${e.message}\n${op.output().stdout}\n${op.output().stderr}`); });
  t.regex(apiUrl, /^https:\/\//);

  const wf = new WorkflowClient(cluster.kubeConfig('team-a'), 'team-a');
  await wf.apply('diamond', diamondSpec());
  t.is((await wf.waitForPhase('diamond', ['Succeeded', 'Failed'])).status?.phase, 'Succeeded');
  const pod = cluster.pods('team-a')[0]!;
  const container = pod.spec.containers[0];
  t.deepEqual(container.env.find((e: { name: string }) => e.name === 'TORC_CA_FILE'), { name: 'TORC_CA_FILE', value: '/etc/torc/api-ca/ca.crt' });
  t.deepEqual(container.volumeMounts, [{ name: 'torc-api-ca', mountPath: '/etc/torc/api-ca', readOnly: true }]);
  t.deepEqual(pod.spec.volumes, [{ name: 'torc-api-ca', configMap: { name: 'torc-api-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }]);

  const base = apiUrl.replace(/\/torc-service\/v1$/, '');
  for (const client of [new TorcClient(base, { ca: cert, basic: { user: 'ann', password: 'ann-pw' } }), new TorcClient(base, { ca: cert, token: 'operator-secret-token' })]) {
    t.true((await client.listWorkflows()).items.some((w) => w.name === 'diamond'));
  }
  const anonymous = await t.throwsAsync(() => new TorcClient(base, { ca: cert }).listWorkflows());
  t.is((anonymous as ApiError).status, 401, 'reads need a sign-in too');
  const wrong = await t.throwsAsync(() => new TorcClient(base, { ca: cert, basic: { user: 'ann', password: 'nope' } }).listWorkflows());
  t.is((wrong as ApiError).status, 401);
  const untrusting = await t.throwsAsync(() => new TorcClient(base, { token: 'operator-secret-token' }).listWorkflows());
  t.regex(untrusting!.message, /cannot reach|certificate/i, 'plain clients do not trust the private CA');
  op.child.kill('SIGTERM');
  t.is((await op.result).code, 0);
});

test('torc operator refuses contradictory or malformed flags with exit 2', async (t) => {
  const both = await runTorc(['operator', '--namespace', 'a', '--all-namespaces']);
  t.is(both.code, 2);
  t.regex(both.stderr, /--all-namespaces/);
  const badPort = await runTorc(['operator', '--metrics-port', 'nine']);
  t.is(badPort.code, 2);
  t.regex(badPort.stderr, /--metrics-port/);
  const badSel = await runTorc(['operator', '--node-selector', 'pool']);
  t.is(badSel.code, 2);
  t.regex(badSel.stderr, /--node-selector/);
  const noWorkers = await runTorc(['operator', '--max-concurrent-reconciles', '0']);
  t.is(noWorkers.code, 2);
  t.regex(noWorkers.stderr, /--max-concurrent-reconciles/);
  const halfTls = await runTorc(['operator', '--tls-cert', 'test/fixtures/tls/cert.pem']);
  t.is(halfTls.code, 2);
  t.regex(halfTls.stderr, /--tls-key/);
  const noUsers = await runTorc(['operator', '--auth', 'htpasswd:/nonexistent/htpasswd']);
  t.is(noUsers.code, 2);
  t.regex(noUsers.stderr, /--auth/);
  const unguarded = await runTorc(['operator', '--no-server', '--tls-cert', 'test/fixtures/tls/cert.pem', '--tls-key', 'test/fixtures/tls/key.pem']);
  t.is(unguarded.code, 2);
  t.regex(unguarded.stderr, /--no-server/);
  const badCa = await runTorc(['operator', '--api-ca-configmap', 'Not_A_Name']);
  t.is(badCa.code, 2);
  t.regex(badCa.stderr, /--api-ca-configmap/);
  const noFile = await runTorc(['operator', '--kubeconfig', '/nonexistent/kubeconfig']);
  t.is(noFile.code, 2);
  t.regex(noFile.stderr, /--kubeconfig/);
});
