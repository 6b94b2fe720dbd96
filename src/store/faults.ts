/**
 * Faults of the machine under the database (a full disk, a damaged or foreign file, an I/O
 * error) become one StorageFault with a message for a person: what happened, what was kept,
 * what to do — instead of SQLite's bare `SQLITE_FULL: database or disk is full`. The wording
 * rests on what SQLite guarantees: a statement or COMMIT that fails for lack of space is rolled
 * back whole, so the file stays consistent (the reliability tests fill a real tmpfs, free it,
 * run again to the end and find PRAGMA integrity_check ok).
 */
import { dirname } from 'node:path';
import { StorageFault, type StorageFaultKind } from '../errors.js';

const KIND_OF_CODE: Record<string, StorageFaultKind> = {
  SQLITE_FULL: 'disk_full',
  SQLITE_CORRUPT: 'damaged',
  SQLITE_NOTADB: 'not_a_database',
  SQLITE_IOERR: 'io_error',
  SQLITE_CANTOPEN: 'cannot_open',
  SQLITE_READONLY: 'read_only',
};

/** The StorageFault an error of sqlite3 stands for, or null when it is not a fault of the machine. */
export function storageFaultOf(err: unknown, path: string): StorageFault | null {
  if (err instanceof StorageFault) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  const kind = KIND_OF_CODE[code];
  if (!kind) return null;
  const said = ((err as Error).message ?? '').replace(/^SQLITE_\w+:\s*/, '').replace(/\s*\[sql: .*$/s, '');
  return new StorageFault(kind, path, faultMessage(kind, path, said), code, { cause: err });
}

/** What happened, what was kept, what to do. */
export function faultMessage(kind: StorageFaultKind, path: string, said: string): string {
  const dir = dirname(path);
  const sqlite = said ? ` (SQLite: ${said})` : '';
  switch (kind) {
    case 'disk_full':
      return [
        `the disk holding the database is full: ${path}${sqlite}.`,
        'Kept: everything stored before this moment. The change that needed the space was rolled back whole, so the',
        '  database is consistent (nothing half-written) and PRAGMA integrity_check stays ok.',
        `To do: free space on that file system (df -h ${dir}), then run the same command again: it carries on where it`,
        '  stopped (completed jobs are not run again; jobs that were running are run again). A server or runner that is',
        '  still up carries on by itself once there is space.',
      ].join('\n');
    case 'damaged':
      return [
        `the database file is damaged: ${path}${sqlite}. It was probably cut short or overwritten (a full disk, a copy`,
        '  taken while it was being written, a crash of its file system).',
        'Kept: the file as it is; torc wrote nothing more to it.',
        `To do: keep a copy (cp ${path} ${path}.damaged); see what SQLite can still read: sqlite3 ${path} "PRAGMA integrity_check";`,
        `  recover what it can: sqlite3 ${path} .recover | sqlite3 ${path}.recovered, then use that file with --db;`,
        '  or start afresh with a new --db: the workflow file is the source of truth and torc reconcile runs its jobs again.',
      ].join('\n');
    case 'not_a_database':
      return [
        `${path} is not a torc database${sqlite}: the file holds something else, or its first page was overwritten.`,
        'Kept: the file as it is; torc did not change it.',
        'To do: check the --db path (a typo, another program\'s file?). If it was a torc database, treat it as damaged:',
        `  keep a copy (cp ${path} ${path}.damaged) and start afresh with a new --db (torc reconcile runs the workflow file's jobs again).`,
      ].join('\n');
    case 'io_error':
      return [
        `the disk or file system under the database failed to read or write: ${path}${sqlite}.`,
        'Kept: everything committed before the error; the change in progress was rolled back.',
        `To do: check the file system (dmesg, df -h ${dir}; a network file system that went away?), then run the same command again.`,
      ].join('\n');
    case 'cannot_open':
      return [
        `cannot open the database ${path}${sqlite}: its directory is missing or not writable, or too many files are open.`,
        'Kept: nothing was changed.',
        `To do: check that ${dir} exists and that you may write there (ls -ld ${dir}), or pass another --db.`,
      ].join('\n');
    case 'read_only':
      return [
        `the database ${path} cannot be written${sqlite}: the file or its file system is read-only.`,
        'Kept: nothing was changed.',
        `To do: make it writable (ls -l ${path}; mount options of ${dir}), or copy it somewhere writable and pass that --db.`,
      ].join('\n');
  }
}
