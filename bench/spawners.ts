/**
 * The spawners alone against xargs: N `true` jobs at 4 in parallel through each Spawner (its own
 * queue, limit 4) and through `seq 1 N | xargs -P4 -n1 true`; wall time and whole-machine busy
 * CPU (from /proc/stat, so run it on an otherwise quiet machine).
 * Usage: npm run build && node --import tsx bench/spawners.ts [N] [ROUNDS]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeSpawner, NodeSpawner, PerlSpawner, nativeSpawnerPath, type Spawner } from '../src/runners/local/spawner.js';

const n = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 2);
const hz = 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux

function busyJiffies(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0);
}

async function measure(run: () => Promise<void> | void): Promise<{ wall: number; cpu: number }> {
  const b0 = busyJiffies();
  const t0 = performance.now();
  await run();
  const wall = (performance.now() - t0) / 1000;
  return { wall, cpu: (busyJiffies() - b0) / hz };
}

async function viaSpawner(spawner: Spawner, dir: string): Promise<void> {
  const out = path.join(dir, 'out');
  const env = (i: number) => ({ ...process.env, TORC_JOB_ID: String(i), TORC_ATTEMPT: '1', TORC_OUTPUT_DIR: dir });
  const queue = { group: 'bench', limit: 4 };
  const started = Array.from({ length: n }, (_, i) => spawner.spawn({ argv: ['true'], cwd: dir, env: env(i), stdout: out, stderr: out }, queue));
  const exits = await Promise.all(started.map(async (s) => (await s).exit));
  const bad = exits.filter((e) => e.code !== 0).length;
  if (bad) throw new Error(`${spawner.kind}: ${bad} jobs did not exit 0`);
}

const kinds: [string, () => Spawner][] = [];
if (nativeSpawnerPath()) kinds.push(['native', () => new NativeSpawner()]);
if (spawnSync('perl', ['-e', '1']).status === 0) kinds.push(['perl', () => new PerlSpawner()]);
kinds.push(['node', () => new NodeSpawner()]);

console.log(`${n} true jobs, 4 at a time; ${os.cpus().length} CPUs; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const results: Record<string, { wall: number; cpu: number }[]> = {};
for (let r = 0; r < rounds; r++) {
  const x = await measure(() => {
    const res = spawnSync('sh', ['-c', `seq 1 ${n} | xargs -P4 -n1 true`], { stdio: 'inherit' });
    if (res.status !== 0) throw new Error('xargs failed');
  });
  (results.xargs ??= []).push(x);
  for (const [kind, make] of kinds) {
    const spawner = make();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'torc-spawner-bench-'));
    await viaSpawner(spawner, dir); // warm-up: start the helper
    const m = await measure(() => viaSpawner(spawner, dir));
    rmSync(dir, { recursive: true, force: true });
    (results[kind] ??= []).push(m);
  }
}
const best = (k: string) => Math.min(...results[k]!.map((m) => m.wall));
for (const [k, ms] of Object.entries(results)) {
  const runs = ms.map((m) => `${m.wall.toFixed(2)} s wall / ${m.cpu.toFixed(2)} s CPU`).join(', ');
  console.log(`${k.padEnd(7)} ${runs}   best ${(best(k) / best('xargs')).toFixed(2)}× xargs`);
}
process.exit(0);
