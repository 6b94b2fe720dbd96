/**
 * A small promise wrapper over the `sqlite3` package.
 *
 * Two connections to one file:
 * - the writer, used ONLY through the write queue (`withWriteTransaction`, `batched`,
 *   `withWriter`). `sqlite3` is asynchronous, so without the queue the statements of two
 *   transactions would interleave on the connection. Waiting write operations run together in
 *   one group transaction (group commit): one BEGIN IMMEDIATE … COMMIT for all of them, a
 *   savepoint per operation so that one failing undoes only itself, and each caller answered
 *   after the commit. Every statement is a round trip through libuv's thread pool, so sharing
 *   the BEGIN and COMMIT (and, for batched writes, the statements themselves) is most of the
 *   cost of a busy server's writes.
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
const backoffMs = (attempt: number) => Math.min(1000, 10 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random());

/** One sqlite3 connection with a prepared-statement cache. */
class Connection implements Queryable {
  private readonly statements = new Map<string, sqlite3.Statement>();
  /** Statements and exec calls sent to SQLite: each is a round trip through the thread pool. */
  roundTrips = 0;

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
    this.roundTrips++;
    return new Promise((resolve, reject) => {
      stmt.run(params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(failure(err));
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    });
  }

  async all<T = Row>(sql: string, params: Params = []): Promise<T[]> {
    const stmt = await this.prepared(sql);
    this.roundTrips++;
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
    this.roundTrips++;
    return new Promise((resolve, reject) => this.handle.exec(sql, (err) => (err ? reject(this.failure(err)) : resolve())));
  }

  /**
   * Runs `send` (COMMIT, RELEASE). A statement stepped to its end but not reset (e.g. EXPLAIN of
   * an UPDATE) still counts as a pending write and makes SQLite refuse them: then every cached
   * statement is reset and `send` runs again, instead of losing the transaction.
   */
  async pastStatementsInProgress(send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (err) {
      if (!/statements in progress/.test(String((err as Error).message))) throw err;
      await this.resetAll();
      await send();
    }
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

/** One item's outcome in a batched write: its value, or the error its caller gets. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

/**
 * A write that many concurrent callers can share: the items queued together run as ONE call
 * of `run` (set-based SQL, the same statements whatever the number of items) inside the group
 * transaction. `run` returns one outcome per item, in order; a refused item must change
 * nothing. Items with the same `key` never share a call: a later one runs after the earlier
 * one's call, as if the callers had come one after the other.
 */
export interface WriteBatch<I, R> {
  name: string;
  key(item: I): string | number;
  run(tx: WriteTx, items: I[]): Promise<Outcome<R>[]>;
}

/** A FIFO mutex: callers run one at a time, in arrival order. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

interface Settle {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

type WriteOp =
  | { kind: 'tx'; fn: (tx: WriteTx) => Promise<unknown>; settle: Settle }
  | { kind: 'batch'; batch: WriteBatch<unknown, unknown>; item: unknown; settle: Settle; solo?: boolean }
  | { kind: 'writer'; fn: (w: Queryable) => Promise<unknown>; settle: Settle };

/** What runs as one step of a group: a transaction callback, or the items of one batch call. */
type Unit =
  | { kind: 'tx'; op: Extract<WriteOp, { kind: 'tx' }> }
  | { kind: 'batch'; batch: WriteBatch<unknown, unknown>; ops: Extract<WriteOp, { kind: 'batch' }>[]; guarded?: boolean };

/**
 * Errors after which SQLite has rolled back the whole transaction (or may have), so no
 * savepoint is left to return to: https://sqlite.org/lang_transaction.html ("Response To
 * Errors Within A Transaction"). A storage fault the store maps to its own error keeps the
 * driver's code on `cause`.
 */
const TRANSACTION_FATAL = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|NOMEM|INTERRUPT|CORRUPT|NOTADB|READONLY|CANTOPEN)/;
function isTransactionFatal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code ?? ((err as { cause?: { code?: unknown } } | null)?.cause?.code);
  return typeof code === 'string' && TRANSACTION_FATAL.test(code);
}

/** Statements that only read (no savepoint needed before them). Anything else counts as a write. */
function isReadOnly(sql: string): boolean {
  return /^\s*(SELECT|VALUES|PRAGMA\s+\w+\s*;?\s*$)/i.test(sql) || (/^\s*WITH\b/i.test(sql) && !/\b(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql));
}

/** Most operations one group transaction takes, and how long it keeps taking late arrivals. */
const GROUP_MAX_OPS = 256;
const GROUP_MAX_MS = 20;

/**
 * The savepoint bookkeeping of one group transaction. Exactly one savepoint, `op`, is open from
 * BEGIN to COMMIT: before an operation's first write the previous writer's savepoint is
 * released (its writes merge into the transaction, and SQLite's statement journal empties)
 * and a new one is set, in one round trip. A failing operation rolls back to it: its own
 * writes are undone, nothing of the operations before it.
 */
class Group {
  writers = 0;
  /** Set when the transaction itself is lost (see OpTx.statement); the group then fails or retries as a whole. */
  lost: unknown = undefined;

  constructor(private readonly conn: Connection) {}

  /**
   * An operation without a savepoint of its own wrote (a shared batch call, see runUnit): the
   * savepoint taken with BEGIN, or the previous writer's, now covers its writes too, so the
   * next writer must set a new one.
   */
  unguardedWrite(): void {
    this.writers++;
  }

  async beforeFirstWrite(): Promise<void> {
    // The group's first writer uses the savepoint taken with BEGIN.
    if (this.writers++ === 0) return;
    await this.conn.pastStatementsInProgress(() => this.conn.exec('RELEASE op; SAVEPOINT op'));
  }
}

/**
 * One operation's view of the group transaction: it marks the operation's first write (so
 * that the group sets its savepoint first) and refuses statements once the operation ended.
 */
class OpTx implements Queryable {
  /** A savepoint was set before this operation's first write: its failure rolls back to it. */
  wrote = false;
  private active = true;

  constructor(
    private readonly conn: Connection,
    private readonly group: Group,
    /** Set a savepoint before the first write (false: the caller redoes the group if this operation fails after writing). */
    private readonly guarded: boolean,
  ) {}

  end(): void {
    this.active = false;
  }

  /**
   * Runs one statement of the operation. A fault after which SQLite may have rolled back the
   * whole transaction is recorded on the group even when the operation's code catches it:
   * no later statement runs in it, and the group fails or retries as a whole.
   */
  private async statement<T>(sql: string | null, send: () => Promise<T>): Promise<T> {
    if (!this.active) throw new Error('write transaction used after its operation ended');
    if (this.group.lost !== undefined) throw this.group.lost;
    if (!this.wrote && (sql === null || !isReadOnly(sql))) {
      if (!this.guarded) this.group.unguardedWrite();
      else {
        try {
          await this.group.beforeFirstWrite();
        } catch (err) {
          this.group.lost ??= err;
          throw err;
        }
      }
      this.wrote = true;
    }
    try {
      return await send();
    } catch (err) {
      if (isTransactionFatal(err)) this.group.lost ??= err;
      throw err;
    }
  }

  run(sql: string, params?: Params): Promise<RunResult> {
    return this.statement(sql, () => this.conn.run(sql, params));
  }

  all<T = Row>(sql: string, params?: Params): Promise<T[]> {
    return this.statement(sql, () => this.conn.all<T>(sql, params));
  }

  get<T = Row>(sql: string, params?: Params): Promise<T | undefined> {
    return this.statement(sql, () => this.conn.get<T>(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.statement(null, () => this.conn.exec(sql));
  }
}

/**
 * The steps of one pickup of waiting operations, in arrival order: each transaction callback
 * alone; each batch item joins the open call of its batch unless an item with its key is in
 * that call or in a step after it (then it opens a new call, which runs later).
 */
function planUnits(ops: WriteOp[]): Unit[] {
  const units: Unit[] = [];
  const open = new Map<string, { unit: Extract<Unit, { kind: 'batch' }>; index: number }>();
  const lastStepOfKey = new Map<string | number, number>();
  for (const op of ops) {
    if (op.kind === 'tx') units.push({ kind: 'tx', op });
    else if (op.kind === 'batch' && op.solo) {
      units.push({ kind: 'batch', batch: op.batch, ops: [op], guarded: true });
      lastStepOfKey.set(op.batch.key(op.item), units.length - 1);
    } else if (op.kind === 'batch') {
      const key = op.batch.key(op.item);
      let target = open.get(op.batch.name);
      if (!target || (lastStepOfKey.get(key) ?? -1) >= target.index) {
        target = { unit: { kind: 'batch', batch: op.batch, ops: [] }, index: units.length };
        units.push(target.unit);
        open.set(op.batch.name, target);
      }
      target.unit.ops.push(op);
      lastStepOfKey.set(key, target.index);
    }
  }
  return units;
}

/**
 * A shared batch call ran without a savepoint (the common case pays no round trip for one) and
 * failed after writing: the group is rolled back and runs again, those items each alone.
 */
class GroupRedo extends Error {
  constructor(readonly ops: readonly Extract<WriteOp, { kind: 'batch' }>[]) {
    super('group transaction redone');
  }
}

/** The transaction itself was lost while `culprits` ran (null: at BEGIN or COMMIT): nothing of the group is committed. */
class GroupLost extends Error {
  constructor(
    readonly reason: unknown,
    readonly culprits: readonly WriteOp[] | null,
  ) {
    super('group transaction lost');
  }
}

export class Database implements Pick<Queryable, 'all' | 'get'> {
  /** Write operations waiting for the writer, in arrival order. */
  private pending: WriteOp[] = [];
  private draining: Promise<void> | null = null;
  /** Marks the async context of a running write operation, so nested calls join it instead of deadlocking. */
  private readonly inTransaction = new AsyncLocalStorage<WriteTx>();
  private closed = false;
  /** Called after each committed write transaction of this process (see onCommit). */
  private readonly commitListeners = new Set<() => void>();
  /** Group transactions committed and operations they carried (for benchmarks and tests). */
  private readonly groupStats = { groups: 0, operations: 0, batchCalls: 0 };

  /** Committed group transactions, the operations they carried, batch calls, and the writer's round trips so far. */
  get writeStats(): { groups: number; operations: number; batchCalls: number; roundTrips: number } {
    return { ...this.groupStats, roundTrips: this.writer.roundTrips };
  }

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
   * Runs `fn` as one operation of a group transaction on the writer (`BEGIN IMMEDIATE … COMMIT`):
   * the write operations that arrive while the writer is busy run together, one after the
   * other, and share one commit. Each caller still gets its own result or error, after the
   * commit; when `fn` throws, its own writes are undone (a savepoint taken before its first
   * write) and the other operations of the group commit. Operations issued concurrently (none
   * awaiting another) may run in any order; one issued after another resolved runs after it.
   * When another process holds the write lock beyond busy_timeout, the whole group is retried
   * with backoff, so `fn` must only have effects through `tx`. A call made from inside `fn`
   * joins the running operation.
   */
  withWriteTransaction<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    const current = this.inTransaction.getStore();
    if (current) return fn(current);
    return this.enqueue<T>((settle) => ({ kind: 'tx', fn, settle }));
  }

  /**
   * One item of a shared write (see WriteBatch): the items queued together run as one call of
   * `batch.run`. Resolves with the item's value or rejects with its error, after the commit.
   * From inside a write operation the item runs at once, alone, in that operation.
   */
  batched<I, R>(batch: WriteBatch<I, R>, item: I): Promise<R> {
    const current = this.inTransaction.getStore();
    if (current) {
      return batch.run(current, [item]).then(([out]) => {
        if (!out!.ok) throw out!.error;
        return out!.value;
      });
    }
    return this.enqueue<R>((settle) => ({ kind: 'batch', batch: batch as WriteBatch<unknown, unknown>, item, settle }));
  }

  private enqueue<T>(make: (settle: Settle) => WriteOp): Promise<T> {
    if (this.closed) return Promise.reject(new Error('database is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push(make({ resolve: resolve as (v: unknown) => void, reject }));
      this.kick();
    });
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.pending.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      if (head.kind === 'writer') {
        this.pending.shift();
        try {
          head.settle.resolve(await head.fn(this.writer));
        } catch (err) {
          head.settle.reject(err);
        }
        continue;
      }
      await this.runGroup();
    }
  }

  /** Takes up to `max` waiting transaction and batch operations from the front (a writer-only operation stops it). */
  private takeOps(max: number): WriteOp[] {
    let n = 0;
    while (n < this.pending.length && n < max && this.pending[n]!.kind !== 'writer') n++;
    return this.pending.splice(0, n);
  }

  /**
   * One group transaction: BEGIN IMMEDIATE, the waiting operations one after the other (and
   * those that arrive meanwhile, up to GROUP_MAX_OPS / GROUP_MAX_MS), COMMIT, then every
   * caller's answer. When the transaction itself is lost nothing of it was committed: on
   * SQLITE_BUSY from another process the whole group is retried with backoff; when an
   * operation's statement broke it (a storage fault such as SQLITE_FULL), that operation gets
   * the error and the others run again in a new group; a failed COMMIT fails them all.
   */
  private async runGroup(): Promise<void> {
    for (let attempt = 0; ; ) {
      try {
        // The savepoint covers the group's first writer, whatever operations only read before it.
        await this.writer.exec('BEGIN IMMEDIATE; SAVEPOINT op');
      } catch (err) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        if (isBusy(err) && attempt < this.busyRetries) {
          await sleep(backoffMs(attempt++));
          continue;
        }
        for (const op of this.takeOps(Infinity)) op.settle.reject(err);
        return;
      }
      const taken: WriteOp[] = [];
      const answers: (() => void)[] = [];
      const group = new Group(this.writer);
      try {
        const t0 = performance.now();
        while (taken.length < GROUP_MAX_OPS && performance.now() - t0 < GROUP_MAX_MS) {
          const ops = this.takeOps(GROUP_MAX_OPS - taken.length);
          if (ops.length === 0) break;
          taken.push(...ops);
          for (const unit of planUnits(ops)) await this.runUnit(unit, group, answers);
        }
        await this.commit();
      } catch (err) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        if (err instanceof GroupRedo) {
          for (const op of err.ops) op.solo = true;
          this.pending.unshift(...taken);
          return;
        }
        const lost = err instanceof GroupLost ? err : new GroupLost(err, null);
        if (isBusy(lost.reason) && attempt < this.busyRetries) {
          this.pending.unshift(...taken);
          await sleep(backoffMs(attempt++));
          continue;
        }
        if (lost.culprits && !isBusy(lost.reason)) {
          for (const op of lost.culprits) op.settle.reject(lost.reason);
          // The others run again in the next group (drain() picks them up).
          this.pending.unshift(...taken.filter((op) => !lost.culprits!.includes(op)));
          return;
        }
        for (const op of taken) op.settle.reject(lost.reason);
        return;
      }
      this.groupStats.groups++;
      this.groupStats.operations += taken.length;
      for (const answer of answers) answer();
      if (this.commitListeners.size > 0) this.notifyCommitted();
      return;
    }
  }

  private async runUnit(unit: Unit, group: Group, answers: (() => void)[]): Promise<void> {
    if (unit.kind === 'tx') {
      const { settle } = unit.op;
      const out = await this.runOperation(group, [unit.op], true, unit.op.fn);
      answers.push(out.ok ? () => settle.resolve(out.value) : () => settle.reject(out.error));
      return;
    }
    const { batch, ops } = unit;
    this.groupStats.batchCalls++;
    // A shared call takes no savepoint: refused items change nothing, so only a call that
    // throws after writing needs undoing, and then the whole group is redone (GroupRedo).
    const guarded = unit.guarded === true;
    const out = await this.runOperation(group, ops, guarded, (tx) => batch.run(tx, ops.map((o) => o.item)), () => new GroupRedo(ops));
    if (out.ok && out.value.length === ops.length) {
      ops.forEach(({ settle }, i) => {
        const item = out.value[i]!;
        answers.push(item.ok ? () => settle.resolve(item.value) : () => settle.reject(item.error));
      });
      return;
    }
    if (ops.length === 1) {
      const error = out.ok ? new Error(`${batch.name}: ${out.value.length} outcomes for 1 item`) : out.error;
      answers.push(() => ops[0]!.settle.reject(error));
      return;
    }
    // The shared call failed as a whole (its writes are undone): each item alone, so that a bad
    // item fails by itself.
    for (const op of ops) await this.runUnit({ kind: 'batch', batch, ops: [op], guarded: true }, group, answers);
  }

  /** Runs one operation (or one shared batch call for `ops`) inside the group; its failure undoes its own writes only. */
  private async runOperation<T>(
    group: Group,
    ops: readonly WriteOp[],
    guarded: boolean,
    fn: (tx: WriteTx) => Promise<T>,
    redo?: () => GroupRedo,
  ): Promise<Outcome<T>> {
    const tx = new OpTx(this.writer, group, guarded);
    let out: Outcome<T>;
    try {
      out = { ok: true, value: await this.inTransaction.run(tx, () => fn(tx)) };
    } catch (err) {
      out = { ok: false, error: err as Error };
    } finally {
      tx.end();
    }
    if (group.lost !== undefined) throw new GroupLost(group.lost, ops);
    if (!out.ok && tx.wrote && !guarded) throw redo!();
    if (!out.ok && tx.wrote) {
      try {
        await this.writer.run('ROLLBACK TO op');
      } catch (lost) {
        throw new GroupLost(lost, ops);
      }
    }
    return out;
  }

  private async commit(): Promise<void> {
    await this.writer.pastStatementsInProgress(() => this.writer.run('COMMIT'));
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
    return this.enqueue<T>((settle) => ({ kind: 'writer', fn, settle }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Refuse new work, let queued work finish.
    this.closed = true;
    while (this.draining) await this.draining;
    await this.readQueue.run(async () => undefined);
    await this.reader.close();
    await this.writer.close();
  }
}
