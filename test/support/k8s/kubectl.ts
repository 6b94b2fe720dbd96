/**
 * Drives the real `kubectl` (Debian's kubernetes-client, or any on PATH; TORC_KUBECTL picks
 * one) the way a user does: shell command lines in a scratch directory that sees the repository's
 * crds/, examples/ and deploy/, against the API-server fake (a cluster as a new user has it: no
 * CRD installed, three nodes) or, with TORC_K8S_REAL=1, a fresh namespace of KUBECONFIG's cluster.
 * `npx torc …` runs this checkout's bin/torc.js (what npx resolves `torc` to in the repository).
 * Lines ending in `&` start in the background; `kill %1` stops the oldest one still running.
 *
 * Without kubectl the tests are registered as skipped after a loud warning (never a silent pass);
 * with TORC_KUBECTL_REQUIRED=1 (.ci/run sets it when it installed kubectl) they run, and fail.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT, kubeconfigFor, startUserCluster, type FakeCluster } from './cluster.js';
import { REAL } from './target.js';

export interface KubectlBinary {
  path: string;
  /** Client minor version (1.20 → 20): some commands and flags came later. */
  minor: number;
  gitVersion: string;
}

function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

function findKubectl(): KubectlBinary | null {
  const path = process.env.TORC_KUBECTL || which('kubectl');
  if (!path) return null;
  try {
    // A server-independent answer (the gcloud dispatcher would otherwise ask the current context).
    const out = execFileSync(path, ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBECONFIG: '/dev/null' } });
    const v = JSON.parse(out).clientVersion as { minor: string; gitVersion: string };
    return { path, minor: Number.parseInt(v.minor, 10), gitVersion: v.gitVersion };
  } catch {
    return null;
  }
}

export const KUBECTL = findKubectl();

let warned = false;

/** `test.serial` with kubectl (the scenarios start clusters and processes), else a loud skip. */
export function kubectlTest(file: string): (title: string, impl: (t: ExecutionContext) => Promise<void>) => void {
  if (KUBECTL || process.env.TORC_KUBECTL_REQUIRED === '1') return (title, impl) => test.serial(title, impl);
  if (!warned) {
    warned = true;
    const msg = `!!!!! KUBECTL NOT FOUND: the real-kubectl tests in ${file} are SKIPPED. Install it (apt-get install kubernetes-client) or set TORC_KUBECTL. !!!!!`;
    console.warn(msg);
    process.emitWarning(msg);
  }
  return (title, impl) => test.skip(`${title} (SKIPPED: no kubectl)`, impl);
}

export interface ShellResult {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A user's terminal: a scratch directory, a kubeconfig, kubectl and `npx torc` on PATH. */
export class Terminal {
  readonly dir: string;
  readonly env: Record<string, string>;
  private readonly background: { command: string; child: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<number | null> }[] = [];
  /** Everything run, for the failure report. */
  readonly transcript: string[] = [];

  private constructor(readonly t: ExecutionContext, readonly namespace: string, kubeconfig: string, readonly fake: FakeCluster | null) {
    this.dir = mkdtempSync(join(tmpdir(), 'torc-kubectl-'));
    t.teardown(() => rmSync(this.dir, { recursive: true, force: true }));
    for (const d of ['crds', 'examples', 'deploy']) symlinkSync(join(REPO_ROOT, d), join(this.dir, d));
    const bin = join(this.dir, '.bin');
    const home = join(this.dir, '.home');
    mkdirSync(bin);
    mkdirSync(home);
    symlinkSync(KUBECTL?.path ?? 'kubectl-not-found', join(bin, 'kubectl'));
    writeFileSync(join(bin, 'npx'), `#!/bin/sh\nif [ "$1" = torc ]; then shift; exec "${process.execPath}" "${join(REPO_ROOT, 'bin/torc.js')}" "$@"; fi\necho "npx $1: not available in this test" >&2; exit 127\n`);
    chmodSync(join(bin, 'npx'), 0o755);
    const kc = join(this.dir, '.kubeconfig');
    writeFileSync(kc, kubeconfig);
    // HOME: kubectl's discovery / OpenAPI cache of this terminal only.
    this.env = { PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, HOME: home, KUBECONFIG: kc, LANG: 'C.UTF-8' };
    t.teardown(() => this.stopAll());
  }

  /** A terminal on a fresh fake cluster, or (TORC_K8S_REAL=1) on a fresh namespace of KUBECONFIG's cluster. */
  static async open(t: ExecutionContext): Promise<Terminal> {
    if (REAL) {
      const namespace = `torc-kubectl-${randomBytes(3).toString('hex')}`;
      const flat = execFileSync(KUBECTL!.path, ['config', 'view', '--raw', '--flatten', '--minify'], { encoding: 'utf8' });
      const doc = YAML.parse(flat) as { contexts: { context: Record<string, string> }[] };
      for (const c of doc.contexts) c.context.namespace = namespace;
      const term = new Terminal(t, namespace, YAML.stringify(doc), null);
      const made = await term.run(`echo '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"${namespace}","labels":{"torc.dev/test":"true"}}}' | kubectl apply -f -`);
      if (made.code !== 0) throw new Error(`cannot create namespace ${namespace}: ${made.stderr}`);
      t.teardown(() => term.run(`kubectl delete namespace ${namespace} --wait=false`).then(() => undefined));
      return term;
    }
    const cluster = await startUserCluster();
    t.teardown(() => cluster.close());
    return new Terminal(t, 'default', kubeconfigFor(cluster.url, 'default'), cluster);
  }

  /** Runs one command line with bash; resolves when it exits (or kills it after timeoutMs). */
  run(command: string, timeoutMs = 90_000): Promise<ShellResult> {
    this.transcript.push(`$ ${command}`);
    return new Promise((resolve) => {
      const child = spawn('bash', ['-c', command], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        this.transcript.push(stdout + stderr);
        resolve({ command, code, stdout, stderr });
      });
    });
  }

  /** Starts a command line in the background (`… &`). */
  start(command: string): { child: ChildProcess; output: () => { stdout: string; stderr: string } } {
    this.transcript.push(`$ ${command} &`);
    const child = spawn('bash', ['-c', `exec ${command}`], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    this.background.push({ command, child, out, exited });
    return { child, output: () => out };
  }

  /** `kill %1`: SIGTERM to the oldest background command still running; resolves with its exit code and output. */
  async killJob(): Promise<ShellResult> {
    const job = this.background.shift();
    if (!job) throw new Error('kill %1: no background job');
    job.child.kill('SIGTERM');
    const code = await job.exited;
    this.transcript.push(`[${job.command}] exited ${code}\n${job.out.stdout}${job.out.stderr}`);
    return { command: job.command, code, ...job.out };
  }

  private async stopAll(): Promise<void> {
    while (this.background.length > 0) {
      const job = this.background.shift()!;
      job.child.kill('SIGKILL');
      await job.exited;
    }
  }

  /** Logs the transcript (shown by ava when a test fails). */
  report(): void {
    this.t.log(this.transcript.join('\n').slice(-20_000));
  }
}

/** The ```sh block that follows `<!-- walkthrough:NAME -->` in README.md, one command per line. */
export function readmeBlock(readme: string, name: string): string[] {
  const marker = `<!-- walkthrough:${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`no \`\`\`sh block after ${marker}`);
  return m[1]!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}
