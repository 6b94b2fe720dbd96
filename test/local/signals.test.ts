import test from 'ava';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { JobStatus } from '../../src/contract/status.js';
import { isAlive, tempDir, waitFor } from '../support/procs.js';

test('SIGTERM to a worker terminates its jobs (no orphans) and returns them to ready', async (t) => {
  const dir = await tempDir();
  const worker = spawn(process.execPath, ['--import', 'tsx', 'test/support/signal-worker.ts', dir, '2'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  worker.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((r) => worker.on('exit', (code) => r(code)));

  const pids = async () => {
    const out: number[] = [];
    for (const id of [1, 2]) {
      const text = await readFile(path.join(dir, `${id}.pids`), 'utf8').catch(() => '');
      out.push(...text.trim().split(' ').filter(Boolean).map(Number));
    }
    return out;
  };
  await waitFor(async () => (await pids()).length === 4, 90_000, 'worker jobs to start');
  const before = await pids();
  worker.kill('SIGTERM');
  t.is(await exited, 0);

  const report = JSON.parse(stdout) as {
    summary: { reason: string; requeued: number };
    jobs: { status: string; attempt_id: number }[];
    completions: unknown[];
  };
  t.like(report.summary, { reason: 'stopped', requeued: 2 });
  t.deepEqual(report.completions, []);
  for (const job of report.jobs) t.like(job, { status: 'ready', attempt_id: 2 });
  await waitFor(() => before.every((p) => !isAlive(p)), 10_000, 'job processes to vanish');
  for (const p of before) t.false(isAlive(p), `pid ${p} survived the worker`);
});
