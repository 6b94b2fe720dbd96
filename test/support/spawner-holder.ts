/**
 * A Node process for the spawner's orphan test: starts jobs through a helper spawner, prints
 * their pids as JSON, then waits to be killed (the test SIGKILLs it; its helper must then end
 * the jobs). Usage: node --import tsx test/support/spawner-holder.ts native|perl DIR
 * Jobs: one that ends on SIGTERM, one that ignores SIGTERM (so only the later SIGKILL ends it),
 * each with a background child in its process group.
 */
import path from 'node:path';
import { NativeSpawner, PerlSpawner } from '../../src/runners/local/spawner.js';

const [kind, dir] = process.argv.slice(2);
const spawner = kind === 'perl' ? new PerlSpawner() : new NativeSpawner();
const env = { PATH: process.env.PATH };
const commands = ['sleep 300 & wait', "trap '' TERM; sleep 300 & wait; sleep 300"];
const pids: number[] = [];
for (const [i, command] of commands.entries()) {
  const child = await spawner.spawn({ argv: ['bash', '-c', command], cwd: dir!, env, stdout: path.join(dir!, `o${i}`), stderr: path.join(dir!, `e${i}`) });
  pids.push(child.pid!);
}
process.stdout.write(JSON.stringify(pids) + '\n');
setInterval(() => undefined, 1 << 30);
