import test from 'ava';
import { Database } from '../../src/store/db.js';
import { migrate, SCHEMA_VERSION } from '../../src/store/migrations.js';
import { Store } from '../../src/store/index.js';
import { tempDbPath } from '../support/store.js';

async function openDb(t: Parameters<typeof tempDbPath>[0], path?: string, busyTimeoutMs?: number) {
  const db = await Database.open(path ?? (await tempDbPath(t)), { busyTimeoutMs });
  t.teardown(() => db.close());
  return db;
}

test('pragmas: WAL, synchronous NORMAL, foreign keys on', async (t) => {
  const db = await openDb(t);
  const mode = await db.withWriteTransaction((tx) => tx.get<{ journal_mode: string }>('PRAGMA journal_mode'));
  t.is(mode?.journal_mode, 'wal');
  const sync = await db.withWriteTransaction((tx) => tx.get<{ synchronous: number }>('PRAGMA synchronous'));
  t.is(sync?.synchronous, 1);
  const fk = await db.withWriteTransaction((tx) => tx.get<{ foreign_keys: number }>('PRAGMA foreign_keys'));
  t.is(fk?.foreign_keys, 1);
  // The reader connection is read-only by construction.
  await t.throwsAsync(() => db.all('CREATE TABLE nope (x)'));
});

test('50 concurrent read-modify-write transactions lose no update and never nest', async (t) => {
  const db = await openDb(t);
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0);'));
  const callers = Array.from({ length: 50 }, (_, i) =>
    db.withWriteTransaction(async (tx) => {
      const row = await tx.get<{ n: number }>('SELECT n FROM counter');
      // Yield to the event loop between read and write so that an unserialized version would interleave.
      await new Promise((r) => setImmediate(r));
      await tx.run('UPDATE counter SET n = ?', [row!.n + 1]);
      return i;
    }),
  );
  const results = await Promise.allSettled(callers);
  const failures = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
  t.deepEqual(failures, []);
  const final = await db.get<{ n: number }>('SELECT n FROM counter');
  t.is(final?.n, 50);
});

test('a failing transaction rolls back and the queue keeps going', async (t) => {
  const db = await openDb(t);
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE t (x INTEGER PRIMARY KEY)'));
  const bad = db.withWriteTransaction(async (tx) => {
    await tx.run('INSERT INTO t VALUES (1)');
    throw new Error('boom');
  });
  const good = db.withWriteTransaction((tx) => tx.run('INSERT INTO t VALUES (2)'));
  await t.throwsAsync(bad, { message: 'boom' });
  await good;
  t.deepEqual(await db.all('SELECT x FROM t ORDER BY x'), [{ x: 2 }]);
});

test('a stepped but unreset write statement (EXPLAIN of an UPDATE) does not block COMMIT', async (t) => {
  const db = await openDb(t);
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER)'));
  await db.withWriteTransaction(async (tx) => {
    await tx.run('INSERT INTO t VALUES (1, 0)');
    const plan = await tx.all<{ detail: string }>('EXPLAIN QUERY PLAN UPDATE t SET x = 1 WHERE id = 1');
    t.true(plan.length > 0);
  });
  t.deepEqual(await db.all('SELECT id, x FROM t'), [{ id: 1, x: 0 }]);
});

test('a transaction started from inside another joins it instead of deadlocking', async (t) => {
  const db = await openDb(t);
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE t (x INTEGER)'));
  await db.withWriteTransaction(async (tx) => {
    await tx.run('INSERT INTO t VALUES (1)');
    await db.withWriteTransaction((inner) => inner.run('INSERT INTO t VALUES (2)'));
  });
  t.deepEqual(await db.all('SELECT x FROM t ORDER BY x'), [{ x: 1 }, { x: 2 }]);
});

test('reads see only committed data while a write transaction is open', async (t) => {
  const db = await openDb(t);
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE t (x INTEGER)'));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let inserted!: () => void;
  const didInsert = new Promise<void>((r) => (inserted = r));
  const writer = db.withWriteTransaction(async (tx) => {
    await tx.run('INSERT INTO t VALUES (1)');
    inserted();
    await held;
  });
  await didInsert;
  t.deepEqual(await db.all('SELECT x FROM t'), []);
  release();
  await writer;
  t.deepEqual(await db.all('SELECT x FROM t'), [{ x: 1 }]);
});

test('a read issued after a commit sees it, even while another caller holds an older read snapshot', async (t) => {
  const db = await openDb(t);
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE t (x INTEGER)'));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let opened!: () => void;
  const isOpen = new Promise<void>((r) => (opened = r));
  const longRead = db.read(async (q) => {
    const before = await q.all('SELECT x FROM t');
    opened();
    await held;
    return before;
  });
  await isOpen;
  await db.withWriteTransaction((tx) => tx.run('INSERT INTO t VALUES (1)'));
  const seen = db.all('SELECT x FROM t');
  release();
  t.deepEqual(await longRead, []);
  t.deepEqual(await seen, [{ x: 1 }]);
});

test('SQLITE_BUSY from another connection is retried until the lock is free', async (t) => {
  const path = await tempDbPath(t);
  const other = await openDb(t, path);
  // A tiny busy_timeout so that SQLite gives up quickly and our retry loop has to work.
  const db = await openDb(t, path, 1);
  await other.withWriteTransaction((tx) => tx.exec('CREATE TABLE t (x INTEGER)'));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const holder = other.withWriteTransaction(async (tx) => {
    await tx.run('INSERT INTO t VALUES (1)');
    locked();
    await held;
  });
  await isLocked;
  let ran = 0;
  const waiter = db.withWriteTransaction(async (tx) => {
    ran++;
    await tx.run('INSERT INTO t VALUES (2)');
  });
  // Let the waiter hit SQLITE_BUSY at least once before the lock is released.
  await new Promise((r) => setTimeout(r, 100));
  release();
  await holder;
  await waiter;
  t.is(ran, 1, 'fn runs only once BEGIN IMMEDIATE succeeded');
  t.deepEqual(await db.all('SELECT x FROM t ORDER BY x'), [{ x: 1 }, { x: 2 }]);
});

test('migrations set schema_version, are idempotent, and refuse a newer schema', async (t) => {
  const path = await tempDbPath(t);
  const store = await Store.open(path);
  await store.close();
  const db = await Database.open(path);
  await migrate(db);
  t.deepEqual(await db.all('SELECT version FROM schema_version'), [{ version: SCHEMA_VERSION }]);
  await db.withWriteTransaction((tx) => tx.run('UPDATE schema_version SET version = ?', [SCHEMA_VERSION + 1]));
  await t.throwsAsync(() => migrate(db), { message: /newer than this program supports/ });
  await db.close();
  await t.throwsAsync(() => Store.open(path), { message: /newer/ });
});
