/** Runs the real `torc` binary (bin/torc.js over dist/, built by `npm test`). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TORC_BIN = join(REPO_ROOT, 'bin', 'torc.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** Starts `torc ARGS…` and returns the child (for tests that kill it) plus its result. */
export interface StartedTorc {
  child: ChildProcess;
  result: Promise<CliResult>;
  /** What it printed so far. */
  output(): { stdout: string; stderr: string };
}

export function startTorc(args: string[], options: CliOptions = {}): StartedTorc {
  const child = spawn(process.execPath, [TORC_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, result, output: () => ({ stdout, stderr }) };
}

export function runTorc(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startTorc(args, { timeoutMs: 120_000, ...options }).result;
}
