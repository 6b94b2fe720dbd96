/**
 * Commits to a database file by other processes (a `torc reconcile` writing the file that
 * `torc tui --db` shows), without polling. In WAL mode every commit is written to `<file>-wal`
 * (and a checkpoint writes the file itself), so a change notification on the directory for
 * either name says "maybe"; `PRAGMA data_version` on our reader connection says whether a
 * commit happened since the last look. WAL needs every process on one host (it shares memory),
 * so the notification sees every writer, also on NFS. The change feed (change-feed.ts) sees
 * only this process's own writes; this sees everyone's, as "something changed".
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Database } from './db.js';

export interface CommitWatch {
  close(): void;
}

/**
 * Calls `onCommit` after commits to `file` (by any connection, this process's included).
 * Notifications that arrive while a look is under way fold into one more look after it.
 */
export async function watchCommits(db: Database, file: string, onCommit: () => void, onError?: (err: Error) => void): Promise<CommitWatch> {
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file);
  const names = new Set([base, `${base}-wal`]);
  const dataVersion = async () => (await db.get<{ data_version: number }>('PRAGMA data_version'))?.data_version ?? 0;
  let last = await dataVersion();
  let closed = false;
  let looking: Promise<void> | undefined;
  let again = false;
  const look = (): void => {
    if (closed) return;
    if (looking) {
      again = true;
      return;
    }
    looking = (async () => {
      do {
        again = false;
        const now = await dataVersion();
        if (now !== last && !closed) {
          last = now;
          onCommit();
        }
      } while (again && !closed);
    })()
      .catch((err: unknown) => {
        if (!closed) onError?.(err as Error);
      })
      .finally(() => (looking = undefined));
  };
  const watcher: FSWatcher = watch(dir, { persistent: false }, (_event, name) => {
    if (name === null || names.has(String(name))) look();
  });
  watcher.on('error', (err) => onError?.(err));
  return {
    close: () => {
      closed = true;
      watcher.close();
    },
  };
}
