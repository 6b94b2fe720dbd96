/**
 * A small promise wrapper over `better-sqlite3`.
 *
 * Two connections to one file:
 * - the writer, used ONLY through `withWriteTransaction`, which runs callers one at a time
 *   (a FIFO queue) inside `BEGIN IMMEDIATE … COMMIT`. Callers `await` between statements, so
 *   without the queue the statements of two transactions would interleave on the connection.
 * - the reader (`query_only`), for reads. In WAL mode it sees only committed data, so a read
 *   never observes a write transaction half-way.
 * Statements are prepared once per connection and cached by their SQL text.
 *
 * Why a synchronous driver behind a promise API: each statement is a few microseconds of work,
 * while the asynchronous `sqlite3` binding paid a thread-pool round trip per statement — on a
 * busy machine each one waits for a CPU, and a start/complete transaction of ~10 statements
 * took milliseconds (issue 9: that capped REST dispatch near 100 jobs/s). Statements now run
 * inline and every promise here is already settled; the queue and the API are unchanged.
 * SQLite's own busy wait would block the event loop, so it is kept short (BUSY_SLICE_MS) and the
 * rest of the wait is done by the asynchronous retry loop.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import BetterSqlite3 from 'better-sqlite3';

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
  /** Milliseconds SQLite itself waits on a lock held by another process (at most BUSY_SLICE_MS at a time; then retried). */
  busyTimeoutMs?: number;
  /** How often a transaction is retried when another process keeps the database busy. */
  busyRetries?: number;
}

/** Longest synchronous busy wait inside SQLite: it blocks the event loop, so longer waits are retries. */
const BUSY_SLICE_MS = 50;

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Bindable = SqlValue | boolean | undefined | Date;

/**
 * What the `sqlite3` binding accepted: booleans as 0/1, undefined as NULL, Dates as ms; `$name`
 * keys; an array for numbered parameters (`?1`), which better-sqlite3 binds by name ("1", "2" …).
 */
function bindable(params: Params, numbered: boolean): unknown[] {
  const one = (v: Bindable): SqlValue => (v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v instanceof Date ? v.getTime() : v);
  if (Array.isArray(params)) {
    if (!numbered) return params.map((v) => one(v as Bindable));
    return [Object.fromEntries(params.map((v, i) => [String(i + 1), one(v as Bindable)]))];
  }
  const named: Record<string, SqlValue> = {};
  for (const [k, v] of Object.entries(params)) named[k.replace(/^[$:@]/, '')] = one(v as Bindable);
  return [named];
}

/** One connection with a prepared-statement cache; every method settles before it returns. */
class Connection implements Queryable {
  private readonly statements = new Map<string, { stmt: BetterSqlite3.Statement; numbered: boolean }>();

  private constructor(private readonly handle: BetterSqlite3.Database) {}

  static open(path: string, options: { mustExist: boolean; busyMs: number }): Connection {
    try {
      return new Connection(new BetterSqlite3(path, { fileMustExist: options.mustExist, timeout: options.busyMs }));
    } catch (err) {
      throw sqliteError(err, `open ${path}`);
    }
  }

  private prepared(sql: string): { stmt: BetterSqlite3.Statement; numbered: boolean } {
    let entry = this.statements.get(sql);
    if (!entry) {
      entry = { stmt: this.handle.prepare(sql), numbered: /\?\d/.test(sql) };
      this.statements.set(sql, entry);
    }
    return entry;
  }

  run(sql: string, params: Params = []): Promise<RunResult> {
    try {
      const { stmt, numbered } = this.prepared(sql);
      const info = stmt.run(...bindable(params, numbered));
      return Promise.resolve({ changes: info.changes, lastID: Number(info.lastInsertRowid) });
    } catch (err) {
      return Promise.reject(sqliteError(err, sql));
    }
  }

  all<T = Row>(sql: string, params: Params = []): Promise<T[]> {
    try {
      const { stmt, numbered } = this.prepared(sql);
      // Like the old binding, a statement that returns no rows may be "read": it runs, giving [].
      if (!stmt.reader) {
        stmt.run(...bindable(params, numbered));
        return Promise.resolve([]);
      }
      return Promise.resolve(stmt.all(...bindable(params, numbered)) as T[]);
    } catch (err) {
      return Promise.reject(sqliteError(err, sql));
    }
  }

  async get<T = Row>(sql: string, params: Params = []): Promise<T | undefined> {
    const rows = await this.all<T>(sql, params);
    return rows[0];
  }

  exec(sql: string): Promise<void> {
    try {
      this.handle.exec(sql);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(sqliteError(err, sql));
    }
  }

  get inTransaction(): boolean {
    return this.handle.inTransaction;
  }

  close(): Promise<void> {
    this.statements.clear();
    this.handle.close();
    return Promise.resolve();
  }
}

/**
 * Errors keep the `sqlite3` binding's shape that callers test: `code` is the primary result
 * code (SQLITE_CONSTRAINT, SQLITE_BUSY …; the extended one is in `extendedCode`) and the
 * message starts with it; the statement is appended for context.
 */
function sqliteError(err: unknown, sql: string): Error {
  if (!(err instanceof Error)) return new Error(String(err));
  let e = err as Error & { code?: string; extendedCode?: string };
  // better-sqlite3's SqliteError is not a native Error object (Object.prototype.toString says
  // "Object"); callers and test tools expect one, so carry its fields over to a real Error.
  if (Object.prototype.toString.call(e) !== '[object Error]') {
    const real = new Error(e.message) as Error & { code?: string };
    real.stack = e.stack;
    if (e.code !== undefined) real.code = e.code;
    e = real;
  }
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) {
    const primary = /^SQLITE_[A-Z]+/.exec(e.code)![0];
    if (primary !== e.code) e.extendedCode = e.code;
    e.code = primary;
    if (!e.message.startsWith(primary)) e.message = `${primary}: ${e.message}`;
  }
  const short = sql.replace(/\s+/g, ' ').trim().slice(0, 200);
  e.message = `${e.message} [sql: ${short}]`;
  return e;
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
    const busyMs = Math.min(busyTimeoutMs, BUSY_SLICE_MS);
    const writer = Connection.open(path, { mustExist: false, busyMs });
    try {
      await writer.exec(
        `PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;`,
      );
      const reader = Connection.open(path, { mustExist: true, busyMs });
      await reader.exec(
        `PRAGMA foreign_keys = ON;
         PRAGMA query_only = ON;`,
      );
      // SQLite's waits are short slices; the retry loop covers the rest of busyTimeoutMs and beyond.
      const retries = options.busyRetries ?? Math.max(50, Math.ceil(busyTimeoutMs / BUSY_SLICE_MS));
      return new Database(writer, reader, retries);
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
    return this.readQueue.run(() => this.inRead.run(true, () => this.retryBusy(fn)));
  }

  /** Reads have no effects: one that found the file locked (recovery, a checkpoint) is simply tried again. */
  private async retryBusy<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isBusy(err) || attempt >= this.busyRetries) throw err;
        await sleep(Math.min(1000, 10 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
      }
    }
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
      if (tx.inTransaction) await tx.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return result;
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
