/**
 * A small promise wrapper over the `sqlite3` package.
 *
 * Two connections to one file:
 * - the writer, used ONLY through `withWriteTransaction`, which runs callers one at a time
 *   (a FIFO queue) inside `BEGIN IMMEDIATE … COMMIT`. `sqlite3` is asynchronous, so without the
 *   queue the statements of two transactions would interleave on the connection.
 * - the reader (`query_only`), for reads. In WAL mode it sees only committed data, so a read
 *   never observes a write transaction half-way.
 * Statements are prepared once per connection and cached by their SQL text.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import sqlite3 from 'sqlite3';
import { resolve as resolvePath } from 'node:path';
import { storageFaultOf } from './faults.js';

export type SqlValue = string | number | bigint | null | Buffer;
export type Params = SqlValue[] | Record<string, SqlValue>;
export type Row = Record<string, unknown>;

export interface RunResult {
  changes: number;
  lastID: number;
}

/** Statement access on one connection. */
export interface Queryable {
  run(sql: string, params?: Params): Promise<RunResult>;
  all<T = Row>(sql: string, params?: Params): Promise<T[]>;
  /** The first row, or undefined. Add `LIMIT 1` to the SQL when more rows could match. */
  get<T = Row>(sql: string, params?: Params): Promise<T | undefined>;
  /** Runs several statements without parameters (schema changes); not cached. */
  exec(sql: string): Promise<void>;
}

export interface OpenOptions {
  /** Milliseconds SQLite itself waits on a lock held by another process. */
  busyTimeoutMs?: number;
  /** How often a transaction is retried when another process keeps the database busy. */
  busyRetries?: number;
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One sqlite3 connection with a prepared-statement cache. */
class Connection implements Queryable {
  private readonly statements = new Map<string, sqlite3.Statement>();

  private constructor(
    private readonly handle: sqlite3.Database,
    private readonly path: string,
  ) {}

  static open(path: string, mode: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const handle = new sqlite3.Database(path, mode, (err) => (err ? reject(storageFaultOf(err, resolvePath(path)) ?? err) : resolve(new Connection(handle, resolvePath(path)))));
    });
  }

  /** sqlite3's error, as a StorageFault when the machine failed, else with the statement added for context. */
  private failure(err: Error, sql?: string): Error {
    return storageFaultOf(err, this.path) ?? (sql === undefined ? err : withSql(err, sql));
  }

  private prepared(sql: string): Promise<sqlite3.Statement> {
    const cached = this.statements.get(sql);
    if (cached) return Promise.resolve(cached);
    return new Promise((resolve, reject) => {
      const stmt = this.handle.prepare(sql, (err) => {
        if (err) return reject(this.failure(err, sql));
        this.statements.set(sql, stmt);
        resolve(stmt);
      });
    });
  }

  async run(sql: string, params: Params = []): Promise<RunResult> {
    const stmt = await this.prepared(sql);
    const failure = (err: Error) => this.failure(err, sql);
    return new Promise((resolve, reject) => {
      stmt.run(params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(failure(err));
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    });
  }

  async all<T = Row>(sql: string, params: Params = []): Promise<T[]> {
    const stmt = await this.prepared(sql);
    // `all` steps to the end and resets the statement, so no read snapshot stays open
    // (Statement#get would leave it open until the next reset).
    return new Promise((resolve, reject) => {
      stmt.all(params, (err: Error | null, rows: T[]) => (err ? reject(this.failure(err, sql)) : resolve(rows)));
    });
  }

  async get<T = Row>(sql: string, params: Params = []): Promise<T | undefined> {
    const rows = await this.all<T>(sql, params);
    return rows[0];
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.handle.exec(sql, (err) => (err ? reject(this.failure(err)) : resolve())));
  }

  /** Resets every cached statement, so none counts as "in progress" for COMMIT. */
  async resetAll(): Promise<void> {
    await Promise.all([...this.statements.values()].map((s) => new Promise<void>((r) => s.reset(() => r()))));
  }

  async close(): Promise<void> {
    const stmts = [...this.statements.values()];
    this.statements.clear();
    await Promise.all(stmts.map((s) => new Promise<void>((r) => s.finalize(() => r()))));
    await new Promise<void>((resolve, reject) => this.handle.close((err) => (err ? reject(err) : resolve())));
  }
}

function withSql(err: Error, sql: string): Error {
  // Keep sqlite3's `code` (SQLITE_BUSY, SQLITE_CONSTRAINT …) and add the statement for context.
  const short = sql.replace(/\s+/g, ' ').trim().slice(0, 200);
  err.message = `${err.message} [sql: ${short}]`;
  return err;
}

/** The transaction handle passed to `withWriteTransaction` callbacks. */
export type WriteTx = Queryable;

/** A FIFO mutex: callers run one at a time, in arrival order. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class Database implements Pick<Queryable, 'all' | 'get'> {
  private readonly writeQueue = new Queue();
  /** Marks the async context of a running write transaction, so nested calls join it instead of deadlocking. */
  private readonly inTransaction = new AsyncLocalStorage<WriteTx>();
  private closed = false;
  /** Called after each committed write transaction of this process (see onCommit). */
  private readonly commitListeners = new Set<() => void>();

  private constructor(
    private readonly writer: Connection,
    private readonly reader: Connection,
    private readonly busyRetries: number,
  ) {}

  static async open(path: string, options: OpenOptions = {}): Promise<Database> {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (path === ':memory:' || path === '') {
      throw new Error('Database.open needs a file path (the reader and writer connections share it)');
    }
    const rw = sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE | sqlite3.OPEN_FULLMUTEX;
    const writer = await Connection.open(path, rw);
    try {
      await writer.exec(
        `PRAGMA busy_timeout = ${busyTimeoutMs};
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;`,
      );
      const reader = await Connection.open(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_FULLMUTEX);
      await reader.exec(
        `PRAGMA busy_timeout = ${busyTimeoutMs};
         PRAGMA foreign_keys = ON;
         PRAGMA query_only = ON;`,
      );
      return new Database(writer, reader, options.busyRetries ?? 50);
    } catch (err) {
      await writer.close().catch(() => undefined);
      throw err;
    }
  }

  /** Reads on the reader connection: committed data only, and everything committed before the call. */
  all<T = Row>(sql: string, params?: Params): Promise<T[]> {
    return this.onReader(() => this.reader.all<T>(sql, params));
  }

  get<T = Row>(sql: string, params?: Params): Promise<T | undefined> {
    return this.onReader(() => this.reader.get<T>(sql, params));
  }

  /**
   * Several reads from one snapshot (e.g. a page and its total count) in one read transaction.
   * Every use of the reader connection is queued: a lone statement that slipped into another
   * caller's read transaction would see that transaction's older snapshot and miss writes that
   * its own caller had already committed.
   */
  read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.onReader(async () => {
      await this.reader.exec('BEGIN');
      try {
        return await fn(this.reader);
      } finally {
        await this.reader.exec('COMMIT').catch(() => this.reader.exec('ROLLBACK').catch(() => undefined));
      }
    });
  }

  private readonly readQueue = new Queue();
  private readonly inRead = new AsyncLocalStorage<true>();

  private onReader<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inRead.getStore()) return fn();
    return this.readQueue.run(() => this.inRead.run(true, fn));
  }

  /**
   * Runs `fn` inside `BEGIN IMMEDIATE … COMMIT` on the writer, after every earlier write
   * transaction of this process has finished. Rolls back when `fn` throws. When another
   * process holds the write lock beyond busy_timeout, the whole transaction is retried with
   * backoff, so `fn` must only have effects through `tx`. A call made from inside `fn` joins
   * the running transaction.
   */
  withWriteTransaction<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    const current = this.inTransaction.getStore();
    if (current) return fn(current);
    return this.writeQueue.run(() => this.runWithRetries(fn));
  }

  private async runWithRetries<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('database is closed');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runOnce(fn);
      } catch (err) {
        if (!isBusy(err) || attempt >= this.busyRetries) throw err;
        await sleep(Math.min(1000, 10 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
      }
    }
  }

  private async runOnce<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    const tx = this.writer;
    await tx.exec('BEGIN IMMEDIATE');
    let result: T;
    try {
      result = await this.inTransaction.run(tx, () => fn(tx));
    } catch (err) {
      await tx.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
    try {
      await tx.exec('COMMIT');
    } catch (err) {
      // A statement stepped to its end but not reset (e.g. EXPLAIN of an UPDATE) still counts as
      // a pending write: reset the cache and commit again instead of losing the transaction.
      if (!/statements in progress/.test(String((err as Error).message))) {
        await tx.exec('ROLLBACK').catch(() => undefined);
        throw err;
      }
      await tx.resetAll();
      try {
        await tx.exec('COMMIT');
      } catch (again) {
        await tx.exec('ROLLBACK').catch(() => undefined);
        throw again;
      }
    }
    if (this.commitListeners.size > 0) this.notifyCommitted();
    return result;
  }

  /**
   * Calls `listener` after every write transaction this process commits (not for other
   * processes' writes), synchronously and without arguments: a cheap "something changed"
   * signal for live views, which then read what changed. Returns the unsubscribe function.
   */
  onCommit(listener: () => void): () => void {
    this.commitListeners.add(listener);
    return () => void this.commitListeners.delete(listener);
  }

  private notifyCommitted(): void {
    for (const listener of this.commitListeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the transaction is committed either way.
      }
    }
  }

  /** Schema changes and other setup, serialized with write transactions but not wrapped in one. */
  withWriter<T>(fn: (w: Queryable) => Promise<T>): Promise<T> {
    return this.writeQueue.run(() => fn(this.writer));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Let queued work finish first, then refuse new work.
    await this.writeQueue.run(async () => {
      this.closed = true;
    });
    await this.readQueue.run(async () => undefined);
    await this.reader.close();
    await this.writer.close();
  }
}
