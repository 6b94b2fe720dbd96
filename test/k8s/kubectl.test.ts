/**
 * The user's path with the real kubectl: README's Kubernetes walk-through line by line (every
 * command checked on what it prints), refused workflows, kubectl explain, server-side apply,
 * kubectl wait / get -w / logs -f / delete, and the kustomize dry run of deploy/. Against the
 * API-server fake (a fresh cluster per test), or with TORC_K8S_REAL=1 the cluster in KUBECONFIG
 * (`npm run test:k8s-real`). `torc operator` runs as the real CLI process, as the README says.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import avaTest, { type ExecutionContext } from 'ava';
import { REPO_ROOT, waitFor } from '../support/k8s/cluster.js';
import { KUBECTL, Terminal, kubectlTest, readmeBlock, type ShellResult } from '../support/k8s/kubectl.js';
import { REAL } from '../support/k8s/target.js';

const test = kubectlTest('test/k8s/kubectl.test.ts');
const testSkip = avaTest.skip;
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const minor = KUBECTL?.minor ?? 0;

/** Output of a command, both streams (kubectl prints "No resources found" on stderr). */
const out = (r: ShellResult) => `${r.stdout}${r.stderr}`;

/** Runs `line`, fails the test with the transcript unless it exits 0. */
async function ok(t: ExecutionContext, term: Terminal, line: string, timeoutMs?: number): Promise<ShellResult> {
  const r = await term.run(line, timeoutMs);
  if (r.code !== 0) {
    term.report();
    t.fail(`\`${line}\` exited ${r.code}:\n${out(r)}`);
  }
  return r;
}

/** The row of NAME in `kubectl get` table output, split on runs of spaces. */
function row(text: string, name: string): string[] {
  const line = text.split('\n').find((l) => l.split(/\s+/)[0] === name);
  return line ? line.trim().split(/\s{2,}/) : [];
}

function header(text: string): string[] {
  return (text.split('\n')[0] ?? '').trim().split(/\s{2,}/);
}

type Check = (t: ExecutionContext, r: ShellResult) => void;

/** What each README command must print: every command of the walk-through has one. */
const CHECKS: [RegExp, Check][] = [
  [/^kubectl apply -f crds\/workflow\.yaml$/, (t, r) => t.regex(r.stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/workflows\.torc\.dev (created|configured|unchanged)/)],
  [/^kubectl wait --for=condition=Established crd\/workflows\.torc\.dev$/, (t, r) => t.regex(r.stdout, /workflows\.torc\.dev condition met/)],
  [/^kubectl apply -f examples\/(k8s-pipeline|diamond)\.yaml$/, (t, r) => t.regex(r.stdout, /^workflow\.torc\.dev\/(pipeline|diamond) created$/m)],
  [/^kubectl wait --for=condition=Complete twf\/(\w+) --timeout=5m$/, (t, r) => t.regex(r.stdout, /workflow\.torc\.dev\/\w+ condition met/)],
  [/^kubectl wait --for=condition=SharedStorage=false twf\/diamond$/, (t, r) => t.regex(r.stdout, /workflow\.torc\.dev\/diamond condition met/)],
  [/^kubectl get twf (pipeline|diamond)$/, (t, r) => {
    // The CRD's printer columns, served as a Table (server-side printing).
    t.deepEqual(header(r.stdout), ['NAME', 'PHASE', 'DONE', 'RUNNING', 'FAILED', 'AGE']);
    const name = r.command.split(' ').pop()!;
    t.deepEqual(row(r.stdout, name).slice(0, 5), [name, 'Succeeded', '4', '0', '0']);
  }],
  [/^kubectl describe twf pipeline$/, (t, r) => {
    t.regex(r.stdout, /^Name:\s+pipeline$/m);
    t.regex(r.stdout, /^\s+Phase:\s+Succeeded$/m);
    t.regex(r.stdout, /^Events:/m);
    for (const reason of ['Applied', 'WorkflowRunning', 'WorkflowSucceeded']) t.regex(r.stdout, new RegExp(`Normal\\s+${reason}\\s+\\S+\\s+torc-operator`));
  }],
  [/^kubectl describe twf diamond$/, (t, r) => {
    t.regex(r.stdout, /^\s+Phase:\s+Failed$/m);
    t.regex(r.stdout, /Type:\s+SharedStorage/);
    t.regex(r.stdout, /Warning\s+NoSharedStorage\s+\S+\s+torc-operator\s+jobs exchange files but job pods share no storage: work1 reads f2/);
  }],
  [/^kubectl logs pipeline-report-1$/, (t, r) => t.regex(r.stdout, /^report of workflow \d+, job report attempt 1$/m)],
  [/^kubectl get events --field-selector involvedObject\.name=pipeline$/, (t, r) => {
    t.deepEqual(header(r.stdout), ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    t.regex(r.stdout, /Normal\s+WorkflowSucceeded\s+workflow\/pipeline\s+4 of 4 jobs finished/);
  }],
  [/^kubectl delete twf (pipeline|diamond)$/, (t, r) => t.regex(r.stdout, /^workflow\.torc\.dev "(pipeline|diamond)" deleted$/m)],
  [/^kubectl get pods -l torc\.dev\/workflow=pipeline$/, (t, r) => t.regex(out(r), /^No resources found in \S+ namespace\.$/m)],
  [/^npx torc workflows list --db torc-operator\.db$/, (t, r) => t.notRegex(r.stdout, /pipeline/, 'the store rows went with the resource')],
  [/^kubectl apply -f deploy\/jobs\/work-pvc\.yaml$/, (t, r) => t.regex(r.stdout, /persistentvolumeclaim\/torc-work (created|unchanged)/)],
];

/** Runs README's block `name` line by line, checking each command's output. */
async function walk(t: ExecutionContext, term: Terminal, name: string): Promise<void> {
  for (const line of readmeBlock(README, name)) {
    if (line === 'kill %1') {
      const r = await term.killJob();
      if (r.code !== 0) term.report();
      t.is(r.code, 0, `${r.command} stopped cleanly on SIGTERM`);
      continue;
    }
    if (line.endsWith('&')) {
      t.regex(line, /^npx torc operator /, 'the only background command is the operator');
      term.start(line.slice(0, -1).trim());
      continue;
    }
    const check = CHECKS.find(([re]) => re.test(line));
    if (!check) t.fail(`README command without a check in this test: ${line}`);
    const r = await ok(t, term, line);
    check?.[1](t, r);
  }
}

test('README walk-through: CRD, operator, a workflow to Succeeded, get / describe / logs / events, delete', async (t) => {
  const term = await Terminal.open(t);
  t.log(`kubectl ${KUBECTL?.gitVersion}${REAL ? ` on the cluster of KUBECONFIG, namespace ${term.namespace}` : ' on the API-server fake'}`);
  await walk(t, term, 'plain');
  if (REAL && process.env.TORC_K8S_RWX !== '1') {
    t.log('shared-files part not run: set TORC_K8S_RWX=1 when the cluster provides ReadWriteMany volumes');
    return;
  }
  await walk(t, term, 'shared-files');
  if (term.fake) {
    // The diamond's last job read what the others wrote, in the claim's one directory.
    const f6 = join(term.fake.kubelet.volumeDir('default', 'torc-work'), 'output/diamond/f6.txt');
    t.is(readFileSync(f6, 'utf8'), 'ALPHA BETA GAMMA\n2\n');
  }
});

/** A terminal with the CRD installed and the operator running (as the README starts it). */
async function withOperator(t: ExecutionContext, extraFlags = ''): Promise<Terminal> {
  const term = await Terminal.open(t);
  await ok(t, term, 'kubectl apply -f crds/workflow.yaml');
  await ok(t, term, 'kubectl wait --for=condition=Established crd/workflows.torc.dev');
  term.start(`npx torc operator --db torc-operator.db --no-server --metrics-port 0 ${extraFlags}`.trim());
  return term;
}

function writeWorkflow(term: Terminal, file: string, name: string, spec: string): void {
  writeFileSync(join(term.dir, file), `apiVersion: torc.dev/v1alpha1\nkind: Workflow\nmetadata:\n  name: ${name}\nspec:\n  default_image: busybox:1.36\n${spec}`);
}

test('bad workflows: unknown field and wrong type refused with the field path; an undefined reference reported by the operator', async (t) => {
  const term = await withOperator(t);
  writeWorkflow(term, 'unknown.yaml', 'unknown', '  jobs:\n    - name: a\n      command: echo a\n      bogus: 1\n');
  const unknown = await term.run('kubectl apply -f unknown.yaml');
  t.not(unknown.code, 0);
  // kubectl ≥ 1.27 leaves it to the server (fieldValidation=Strict); older kubectl validates
  // against the OpenAPI v2 schema itself. Either way the field is named.
  t.regex(out(unknown), minor >= 27 ? /unknown field "spec\.jobs\[0\]\.bogus"/ : /ValidationError\(Workflow\.spec\.jobs\[0\]\): unknown field "bogus"/);

  writeWorkflow(term, 'wrongtype.yaml', 'wrongtype', '  resource_requirements:\n    - name: small\n      num_cpus: two\n      memory: 1g\n  jobs:\n    - name: a\n      command: echo a\n      resource_requirements: small\n');
  const wrong = await term.run('kubectl apply -f wrongtype.yaml');
  t.not(wrong.code, 0);
  t.regex(out(wrong), minor >= 27
    ? /The Workflow "wrongtype" is invalid: spec\.resource_requirements\[0\]\.num_cpus: Invalid value: "string": spec\.resource_requirements\[0\]\.num_cpus in body must be of type integer: "string"/
    : /Workflow\.spec\.resource_requirements\[0\]\.num_cpus\): invalid type .* got "string", expected "integer"/);
  // Without client-side help, the API server itself refuses it (structural schema validation).
  const server = await term.run('kubectl apply --validate=false -f wrongtype.yaml');
  t.not(server.code, 0);
  t.regex(out(server), /spec\.resource_requirements\[0\]\.num_cpus in body must be of type integer/);
  // ... and silently prunes unknown fields when asked to ignore them (as the real server does).
  await ok(t, term, 'kubectl apply --validate=false -f unknown.yaml');
  t.is((await ok(t, term, `kubectl get twf unknown -o jsonpath='{.spec.jobs[0]}'`)).stdout.replace(/\s/g, ''), '{"command":"echoa","name":"a"}');
  await ok(t, term, 'kubectl delete twf unknown');
  const none = await term.run('kubectl get twf wrongtype');
  t.regex(out(none), /NotFound|not found/, 'nothing was stored');

  writeWorkflow(term, 'undefined.yaml', 'undefined', '  jobs:\n    - name: a\n      command: echo a\n    - name: b\n      command: echo b\n      depends_on: [a, nope]\n');
  await ok(t, term, 'kubectl apply -f undefined.yaml');
  await ok(t, term, 'kubectl wait --for=condition=SpecValid=false twf/undefined --timeout=2m');
  t.deepEqual(row((await ok(t, term, 'kubectl get twf undefined')).stdout, 'undefined').slice(0, 2), ['undefined', 'Failed']);
  const described = (await ok(t, term, 'kubectl describe twf undefined')).stdout;
  t.regex(described, /Warning\s+InvalidSpec\s+\S+\s+torc-operator\s+spec\.jobs\[1\]\.depends_on\[1\]: undefined job "nope"/);
  t.regex(described, /Reason:\s+InvalidSpec/);
  t.is((await term.run('kubectl get pods')).stdout, '', 'no pod ran');
});

test('kubectl explain reads the CRD schema (OpenAPI v3, and v2 as protobuf)', async (t) => {
  const term = await Terminal.open(t);
  await ok(t, term, 'kubectl apply -f crds/workflow.yaml');
  await ok(t, term, 'kubectl wait --for=condition=Established crd/workflows.torc.dev');
  // kubectl expands short names (twf) from its discovery cache, which predates the CRD until a
  // command refreshes it (any use of the full name does; on a real server too).
  await ok(t, term, 'kubectl get workflows');
  const jobs = (await ok(t, term, 'kubectl explain twf.spec.jobs')).stdout;
  t.regex(jobs, /^KIND:\s+Workflow$/m);
  t.regex(jobs, /^\s+command\s+<string> -required-$/m);
  t.regex(jobs, /^\s+depends_on\s+<\[\]string>$/m);
  t.regex(jobs, /Names of jobs that must finish first\./);
  const rr = (await ok(t, term, 'kubectl explain twf.spec.resource_requirements.num_cpus')).stdout;
  t.regex(rr, /FIELD:\s+num_cpus <integer>/);
  if (minor >= 27) {
    // The v2 renderer reads /openapi/v2 as protobuf (gnostic), as older kubectl always does.
    const v2 = (await ok(t, term, 'kubectl explain twf.spec.jobs --output=plaintext-openapiv2')).stdout;
    t.regex(v2, /RESOURCE: jobs <\[\]Object>|FIELD:\s+jobs <\[\]Object>/);
    t.regex(v2, /depends_on\t<\[\]string>/);
  }
  const metadata = (await ok(t, term, 'kubectl explain twf.metadata.finalizers')).stdout;
  t.regex(metadata, /finalizers\s+<\[\]string>/);
});

test('server-side apply: serverside-applied, field managers, a conflict named with its manager, --force-conflicts', async (t) => {
  const term = await Terminal.open(t);
  t.regex((await ok(t, term, 'kubectl apply --server-side -f crds/workflow.yaml')).stdout, /workflows\.torc\.dev serverside-applied/);
  await ok(t, term, 'kubectl wait --for=condition=Established crd/workflows.torc.dev');
  t.regex((await ok(t, term, 'kubectl apply --server-side -f examples/k8s-pipeline.yaml')).stdout, /workflow\.torc\.dev\/pipeline serverside-applied/);
  const managed = (await ok(t, term, `kubectl get twf pipeline -o yaml${minor >= 21 ? ' --show-managed-fields' : ''}`)).stdout;
  t.regex(managed, /manager: kubectl\n\s+operation: Apply/);
  t.regex(managed, /f:spec:\n\s+f:default_image: \{\}/);
  await ok(t, term, `kubectl patch twf pipeline --type merge -p '{"spec":{"description":"edited by hand"}}'`);
  const conflict = await term.run('kubectl apply --server-side -f examples/k8s-pipeline.yaml');
  t.not(conflict.code, 0);
  t.regex(out(conflict), /Apply failed with 1 conflict: conflict with "kubectl-patch"( using torc\.dev\/v1alpha1)?: \.spec\.description/);
  t.regex(out(conflict), /--force-conflicts/);
  await ok(t, term, 'kubectl apply --server-side --force-conflicts -f examples/k8s-pipeline.yaml');
  const after = (await ok(t, term, `kubectl get twf pipeline -o jsonpath='{.spec.description}{"|"}{.metadata.managedFields[*].manager}'`)).stdout;
  t.is(after, 'Fan-out and fan-in by dependencies; every job prints what it did|kubectl', 'the applied value won and kubectl-patch lost its only field');
  // Dropping a field from the applied configuration removes it (nobody else owns it).
  writeFileSync(join(term.dir, 'less.yaml'), readFileSync(join(REPO_ROOT, 'examples/k8s-pipeline.yaml'), 'utf8').replace(/^ {2}description:.*\n/m, ''));
  await ok(t, term, 'kubectl apply --server-side -f less.yaml');
  t.is((await ok(t, term, `kubectl get twf pipeline -o jsonpath='{.spec.description}'`)).stdout, '');
  // Client-side apply of the same object afterwards: a JSON merge patch (CRDs take no strategic merge).
  t.regex((await ok(t, term, 'kubectl apply -f examples/k8s-pipeline.yaml')).stdout, /workflow\.torc\.dev\/pipeline configured/);
  t.regex((await ok(t, term, `kubectl get twf pipeline -o jsonpath='{.spec.description}'`)).stdout, /^Fan-out/);
});

test('client-side apply of a changed built-in object: kubectl\'s strategic merge patch lands as the manifest says', async (t) => {
  const term = await Terminal.open(t);
  // deploy/deployment.yaml in this namespace with no replicas (no pods, also on a real cluster).
  const base = readFileSync(join(REPO_ROOT, 'deploy/deployment.yaml'), 'utf8').replace(/^ {2}namespace: torc-system\n/m, '').replace('replicas: 1', 'replicas: 0');
  const changed = base.replace('cpu: 100m', 'cpu: 200m').replace('            - --leader-elect\n', '            - --leader-elect\n            - --work-pvc\n            - torc-work\n');
  writeFileSync(join(term.dir, 'deployment.yaml'), base);
  writeFileSync(join(term.dir, 'deployment-changed.yaml'), changed);
  const args = async () => JSON.parse((await ok(t, term, `kubectl get deployment torc-operator -o jsonpath='{.spec.template.spec.containers[0].args}'`)).stdout) as string[];
  t.regex((await ok(t, term, 'kubectl apply -f deployment.yaml')).stdout, /deployment\.apps\/torc-operator created/);
  t.regex((await ok(t, term, 'kubectl apply -f deployment-changed.yaml')).stdout, /deployment\.apps\/torc-operator configured/);
  t.deepEqual((await args()).slice(4, 7), ['--leader-elect', '--work-pvc', 'torc-work']);
  t.is((await ok(t, term, `kubectl get deployment torc-operator -o jsonpath='{.spec.template.spec.containers[0].resources.requests.cpu}'`)).stdout, '200m');
  await ok(t, term, 'kubectl apply -f deployment.yaml');
  t.false((await args()).includes('--work-pvc'), 'the removed args are gone again');
  t.deepEqual(header((await ok(t, term, 'kubectl get deployment torc-operator')).stdout), ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
});

// The job waits for a file this process writes: the fake's pods run on this machine.
const fakeOnly = REAL ? (title: string, impl: (t: ExecutionContext) => Promise<void>) => testSkip(`${title} (needs the fake's local pods)`, impl) : test;

fakeOnly('kubectl wait --for=jsonpath, get -w follows the printer columns, logs -f streams a running job, delete waits for the finalizer', async (t) => {
  const term = await withOperator(t);
  const mark = join(term.dir, 'go');
  // A job that prints, then waits for the test's signal (a file on the fake's node; the pod's
  // process sees this machine's files), then prints again.
  writeWorkflow(term, 'slow.yaml', 'slow', `  jobs:\n    - name: talk\n      command: echo first; while [ ! -e ${mark} ]; do sleep 0.1; done; echo second\n`);
  await ok(t, term, 'kubectl apply -f slow.yaml');
  const watching = term.start('kubectl get twf slow -w');
  if (minor >= 23) await ok(t, term, `kubectl wait --for=jsonpath='{.status.counts.running}'=1 twf/slow --timeout=2m`);
  else await waitFor(async () => (await term.run('kubectl get pod slow-talk-1')).code === 0, 'the pod to exist', 60_000);
  await ok(t, term, 'kubectl wait --for=condition=Ready pod/slow-talk-1 --timeout=2m');
  const follow = term.start('kubectl logs -f slow-talk-1');
  await waitFor(() => follow.output().stdout.includes('first'), 'kubectl logs -f to show the first line', 60_000);
  t.false(follow.output().stdout.includes('second'));
  writeFileSync(mark, '');
  const code = await new Promise<number | null>((resolve) => follow.child.on('close', resolve));
  t.is(code, 0, 'kubectl logs -f ends when the container exits');
  t.is(follow.output().stdout, 'first\nsecond\n');
  await ok(t, term, minor >= 23 ? `kubectl wait --for=jsonpath='{.status.phase}'=Succeeded twf/slow --timeout=2m` : 'kubectl wait --for=condition=Complete twf/slow --timeout=2m');
  await waitFor(() => /slow\s+Succeeded\s+1\s+0\s+0/.test(watching.output().stdout), 'kubectl get -w to print the Succeeded row', 60_000);
  if (minor >= 23) t.regex(watching.output().stdout, /slow\s+Running\s+0\s+1\s+0/, 'a row per change, with the counts');
  watching.child.kill('SIGTERM');

  // Deleting with the operator down: the finalizer holds the resource (deletionTimestamp set).
  const stopped = await term.killJob();
  t.is(stopped.code, 0);
  await ok(t, term, 'kubectl delete twf slow --wait=false');
  const held = (await ok(t, term, `kubectl get twf slow -o jsonpath='{.metadata.deletionTimestamp}{"|"}{.metadata.finalizers}'`)).stdout;
  t.regex(held, /^\d{4}-\d\d-\d\dT[\d:]+Z\|\["torc\.dev\/cleanup"\]$/);
  t.regex((await ok(t, term, 'kubectl get pods')).stdout, /slow-talk-1/, 'its pod is still there');
  term.start('npx torc operator --db torc-operator.db --no-server --metrics-port 0');
  await ok(t, term, 'kubectl wait --for=delete twf/slow --timeout=2m');
  t.regex(out(await term.run('kubectl get pods')), /No resources found/);
  t.notRegex((await ok(t, term, 'npx torc workflows list --db torc-operator.db')).stdout, /slow/);
  // Both event APIs show the operator's events (one storage, two versions).
  const core = (await ok(t, term, 'kubectl get events --field-selector involvedObject.name=slow -o name')).stdout.trim().split('\n');
  const v1 = (await ok(t, term, `kubectl get events.events.k8s.io --field-selector regarding.name=slow -o jsonpath='{range .items[*]}{.reason}{"\\n"}{end}'`)).stdout;
  t.true(core.length >= 3);
  t.regex(v1, /WorkflowSucceeded/);
});

// kubectl ≤ 1.20 ships kustomize v2, which cannot read a directory (../crds) as a resource.
const kustomizeTest = !KUBECTL || minor >= 21 ? test : (title: string, impl: (t: ExecutionContext) => Promise<void>) => {
  const msg = `!!!!! kubectl ${KUBECTL?.gitVersion} is too old for \`kubectl apply -k deploy/\` (kustomize v2): that test is SKIPPED; use kubectl ≥ 1.21 !!!!!`;
  console.warn(msg);
  process.emitWarning(msg);
  testSkip(`${title} (SKIPPED: kubectl ${KUBECTL?.gitVersion} too old)`, impl);
};

kustomizeTest('kubectl apply -k deploy/ --dry-run=server accepts every manifest and creates nothing; a broken one is refused', async (t) => {
  const term = await Terminal.open(t);
  const preexisting = out(await term.run('kubectl get namespace torc-system'));
  const hadNamespace = !/NotFound|not found/.test(preexisting);
  if (!hadNamespace) await ok(t, term, 'kubectl apply -f deploy/namespace.yaml');
  const r = await ok(t, term, 'kubectl apply -k deploy/ --dry-run=server');
  for (const o of ['serviceaccount/torc-operator', 'clusterrole.rbac.authorization.k8s.io/torc-operator', 'clusterrolebinding.rbac.authorization.k8s.io/torc-operator',
    'role.rbac.authorization.k8s.io/torc-operator-leader-election', 'rolebinding.rbac.authorization.k8s.io/torc-operator-leader-election',
    'persistentvolumeclaim/torc-data', 'deployment.apps/torc-operator', 'service/torc-api', 'customresourcedefinition.apiextensions.k8s.io/workflows.torc.dev']) {
    t.regex(r.stdout, new RegExp(`^${o.replace(/\./g, '\\.')} (created|configured|unchanged) \\(server dry run\\)$`, 'm'), o);
  }
  if (!REAL) {
    t.regex(out(await term.run('kubectl get deployments,services,serviceaccounts,persistentvolumeclaims,roles,rolebindings -n torc-system')), /No resources found/);
    t.regex(out(await term.run('kubectl get crd workflows.torc.dev')), /NotFound|not found/, 'the CRD was only dry-run');
  }
  // The server validates what it would create: a Deployment whose selector misses its pods.
  const deployment = readFileSync(join(REPO_ROOT, 'deploy/deployment.yaml'), 'utf8').replace(/(matchLabels:\n\s+app\.kubernetes\.io\/name:) torc-operator/, '$1 something-else');
  writeFileSync(join(term.dir, 'broken-deployment.yaml'), deployment);
  const broken = await term.run('kubectl apply -f broken-deployment.yaml --dry-run=server');
  t.not(broken.code, 0);
  t.regex(out(broken), /The Deployment "torc-operator" is invalid: spec\.template\.metadata\.labels: Invalid value: .*`selector` does not match template `labels`/);
  if (!hadNamespace && REAL) await term.run('kubectl delete -f deploy/namespace.yaml --wait=false');
});
