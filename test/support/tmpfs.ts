/**
 * A real small file system for disk-full tests: a tmpfs mounted on a temp dir (needs root, as in
 * CI), unmounted in the test's teardown. Where mounting is not permitted the test is skipped
 * with a loud warning, never passed silently.
 */
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Mounts a tmpfs of `sizeKiB` on a new temp dir; null (and a loud warning) when mounting is not permitted. */
export function smallTmpfs(t: ExecutionContext, sizeKiB: number): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'torc-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const msg = `!!!!! cannot mount a tmpfs (${(e as Error).message.split('\n')[0]}): the disk-full test "${t.title}" is SKIPPED; run it as root !!!!!`;
    console.warn(msg);
    t.log(msg);
    return null;
  }
  t.teardown(() => {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes zeros to `path` until the file system is full (ENOSPC); returns the bytes written. */
export function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        // The last partial block: fill it byte by byte.
        for (const size of [4096, 512, 1]) {
          try {
            for (;;) written += writeSync(fd, chunk.subarray(0, size));
          } catch {
            // next smaller size
          }
        }
        return written;
      }
    }
  } finally {
    closeSync(fd);
  }
}
