/**
 * A small file kept open and read again from its start (pread at offset 0) each time: what a
 * sampler reads every second for every job (cgroup counters, /proc/<pid>/stat) costs one system
 * call instead of open, read and close. cgroupfs, procfs and regular files all read afresh at
 * offset 0.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface KeptFile {
  read(): string | null;
  close(): void;
}

/** One buffer for every kept file's read (reads are synchronous, one after the other). */
const readBuffer = Buffer.alloc(64 * 1024);

export function keptFile(file: string): KeptFile {
  let fd: number | null = null;
  return {
    read: () => {
      try {
        fd ??= openSync(file, 'r');
        let n = readSync(fd, readBuffer, 0, readBuffer.length, 0);
        if (n < readBuffer.length) return readBuffer.toString('latin1', 0, n);
        // Longer than the buffer (a cgroup.procs of thousands of processes): read on.
        const parts = [readBuffer.toString('latin1', 0, n)];
        for (let pos = n; (n = readSync(fd, readBuffer, 0, readBuffer.length, pos)) > 0; pos += n) parts.push(readBuffer.toString('latin1', 0, n));
        return parts.join('');
      } catch {
        return null;
      }
    },
    close: () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

