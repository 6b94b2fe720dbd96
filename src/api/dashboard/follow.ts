/**
 * Following a running attempt's stdout/stderr as it grows: what the dashboard's
 * `GET /jobs/{id}/stdio/follow` stream sends, and what `torc tui --db` shows without a server.
 * A file-change notification (and a once-a-second look, for file systems without one) triggers
 * each read; the caller says how it learns that the job's status changed (the server's live
 * hub, or the database file's commits), and the follow ends once the attempt is over.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stdioOwner, type StdioOwner } from '../../store/dashboard.js';
import type { Database } from '../../store/db.js';
import { openStdio, readStdioChunk, type StdioStream } from './stdio.js';

/** Fallback look at a followed file, for file systems without change notification (NFS). */
const FOLLOW_CHECK_MS = 1000;
const FOLLOW_CHUNK_BYTES = 256 * 1024;

export interface FollowChunk {
  offset: number;
  next_offset: number;
  size: number;
  text: string;
}

export interface FollowSink {
  data(chunk: FollowChunk): void;
  /** Nothing to follow (no file, not started, …); `end` follows. */
  unavailable(reason: string, running: boolean): void;
  /** The follow is over: `running` false once the attempt ended (true after `unavailable` for a job not started yet). */
  end(running: boolean): void;
}

/**
 * Subscribes to "the job may have ended" signals: call `check` on each; resolves to the
 * unsubscribe function. `check` re-reads the job and ends the follow when its attempt is over.
 */
export type WatchJob = (check: (statusHint?: number) => void) => Promise<() => void>;

export interface Follow {
  /** Settles once the follow has ended (attempt over, `stop`, or a read error) and its file is closed. */
  done: Promise<void>;
  stop(): void;
}

/**
 * Follows `owner`'s attempt from byte `offset`. `isRunning(status)` says whether a status hint
 * from `watchJob` still means running; without a hint the store is asked.
 */
export function followStdio(
  db: Database,
  owner: StdioOwner,
  stream: StdioStream,
  offset: number,
  sink: FollowSink,
  watchJob: WatchJob,
  isRunning: (status: number) => boolean,
): Follow {
  let stopped = false;
  let stop!: () => void;
  const stoppedSignal = new Promise<void>((resolve) => (stop = resolve));
  const done = (async () => {
    const opened = await openStdio(owner, stream);
    if ('reason' in opened) {
      sink.unavailable(opened.reason, owner.running);
      sink.end(owner.running);
      return;
    }
    const { handle, file } = opened;
    let position = offset;
    let reading: Promise<void> | undefined;
    let again = false;
    const readMore = (): Promise<void> => {
      if (reading) {
        again = true;
        return reading;
      }
      reading = (async () => {
        do {
          again = false;
          for (;;) {
            const chunk = await readStdioChunk(handle, { offset: position }, FOLLOW_CHUNK_BYTES);
            if (chunk.next_offset <= position || stopped) break;
            sink.data({ offset: chunk.offset, next_offset: chunk.next_offset, size: chunk.size, text: chunk.text });
            position = chunk.next_offset;
          }
        } while (again && !stopped);
      })().finally(() => (reading = undefined));
      return reading;
    };
    let ended = false;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const end = () => {
      if (ended) return;
      ended = true;
      finish();
    };
    const fail = () => {
      stopped = true;
      end();
    };
    let watcher: FSWatcher | undefined;
    let unsubscribe: (() => void) | undefined;
    const timer = setInterval(() => void readMore().catch(fail), FOLLOW_CHECK_MS);
    timer.unref();
    try {
      try {
        watcher = watch(file, () => void readMore().catch(fail));
        watcher.on('error', () => undefined);
      } catch {
        // No change notification here: the periodic look carries it.
      }
      const check = (status?: number) => {
        if (ended) return;
        if (status !== undefined) {
          if (!isRunning(status)) end();
          return;
        }
        void stdioOwner(db, owner.job_id, owner.attempt).then((now) => !now.running && end(), fail);
      };
      unsubscribe = await watchJob(check);
      // The attempt may have ended before the subscription; look once more.
      if (!owner.running || !(await stdioOwner(db, owner.job_id, owner.attempt)).running) end();
      await readMore();
      await Promise.race([finished, stoppedSignal]);
      if (!stopped) {
        // The attempt is over: what it wrote last is in the file now.
        await readMore().catch(() => undefined);
        sink.end(false);
      }
    } finally {
      stopped = true;
      clearInterval(timer);
      watcher?.close();
      unsubscribe?.();
      await reading?.catch(() => undefined);
      await handle.close();
    }
  })();
  return {
    done: done.catch(() => undefined),
    stop: () => {
      stopped = true;
      stop();
    },
  };
}
