/** Running commands with a wall clock, and the paths of the torc binary and workers. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TORC_BIN = path.join(ROOT, 'bin', 'torc.js');

export interface Timed {
  wallMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** Runs a command to its end; wall time from spawn to exit. Rejects on a non-zero exit. */
export function runTimed(cmd: string, args: string[], opts: RunOptions = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(-200_000)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-200_000)));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      clearTimeout(timer);
      const out = { wallMs, code, stdout, stderr };
      if (code !== 0) reject(Object.assign(new Error(`${cmd} ${args.join(' ').slice(0, 200)} exited ${code}: ${stderr.slice(-2000)}`), out));
      else resolve(out);
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** `node --import tsx bench/workers/NAME.ts ARGS…`; the worker prints one JSON line last. */
export async function runWorker<T>(name: string, args: string[], opts: RunOptions = {}): Promise<T & { wallMs: number }> {
  const r = await runTimed(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'workers', `${name}.ts`), ...args], {
    cwd: ROOT,
    ...opts,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return { ...(JSON.parse(last) as T), wallMs: r.wallMs };
}

/** A fresh temp directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `torc-bench-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
