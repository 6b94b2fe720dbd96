/**
 * Group commit (src/store/db.ts): write operations queued together share one transaction, each
 * caller gets its own result or error, and a failing operation undoes only its own writes.
 * Operations issued in the same tick are all waiting when the writer picks them up, so they
 * land in one group whatever the machine's speed.
 */
import test from 'ava';
import { Database, type WriteBatch } from '../../src/store/db.js';
import { tempDbPath } from '../support/store.js';

async function openDb(t: Parameters<typeof tempDbPath>[0]) {
  const db = await Database.open(await tempDbPath(t));
  t.teardown(() => db.close());
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE t (x INTEGER PRIMARY KEY, note TEXT)'));
  return db;
}

const rows = (db: Database) => db.all<{ x: number }>('SELECT x FROM t ORDER BY x').then((r) => r.map((o) => o.x));

test('concurrent operations share one commit and each gets its own result', async (t) => {
  const db = await openDb(t);
  const before = db.writeStats;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => db.withWriteTransaction(async (tx) => (await tx.run('INSERT INTO t (x) VALUES (?)', [i])).lastID)),
  );
  t.deepEqual(results, Array.from({ length: 20 }, (_, i) => i));
  const after = db.writeStats;
  t.is(after.operations - before.operations, 20);
  t.is(after.groups - before.groups, 1, 'one transaction for the 20 operations');
  t.deepEqual(await rows(db), Array.from({ length: 20 }, (_, i) => i));
});

test('failing operations in a group undo only their own writes; the ones before and after commit', async (t) => {
  const db = await openDb(t);
  const before = db.writeStats.groups;
  const ops = Array.from({ length: 9 }, (_, i) =>
    db.withWriteTransaction(async (tx) => {
      await tx.run('INSERT INTO t (x) VALUES (?)', [i * 10]);
      await tx.run('INSERT INTO t (x) VALUES (?)', [i * 10 + 1]);
      if (i % 3 === 1) throw new Error(`op ${i} fails`);
      if (i === 5) await tx.run('INSERT INTO t (x) VALUES (0)'); // a constraint error after two writes of its own
      return i;
    }),
  );
  const settled = await Promise.allSettled(ops);
  t.is(db.writeStats.groups - before, 1);
  const outcome = settled.map((s) => (s.status === 'fulfilled' ? s.value : String((s.reason as Error).message)));
  t.deepEqual(outcome.filter((o) => typeof o === 'number'), [0, 2, 3, 6, 8]);
  t.regex(String(outcome[1]), /op 1 fails/);
  t.regex(String(outcome[5]), /UNIQUE constraint failed/);
  t.deepEqual(await rows(db), [0, 1, 20, 21, 30, 31, 60, 61, 80, 81]);
});

test('a failure the operation catches itself keeps its other writes', async (t) => {
  const db = await openDb(t);
  await Promise.all([
    db.withWriteTransaction((tx) => tx.run('INSERT INTO t (x) VALUES (1)')),
    db.withWriteTransaction(async (tx) => {
      await tx.run('INSERT INTO t (x) VALUES (2)');
      await t.throwsAsync(tx.run('INSERT INTO t (x) VALUES (1)'), { message: /UNIQUE/ });
      await tx.run('INSERT INTO t (x) VALUES (3)');
    }),
  ]);
  t.deepEqual(await rows(db), [1, 2, 3]);
});

test('a storage fault (SQLITE_FULL) fails the operation that hit it; the rest of its group commits', async (t) => {
  const db = await openDb(t);
  const pages = (await db.get<{ page_count: number }>('PRAGMA page_count'))!.page_count;
  await db.withWriter((w) => w.exec(`PRAGMA max_page_count = ${pages + 4}`));
  const big = 'x'.repeat(200_000);
  const settled = await Promise.allSettled([
    db.withWriteTransaction((tx) => tx.run('INSERT INTO t (x) VALUES (1)')),
    db.withWriteTransaction((tx) => tx.run('INSERT INTO t (x, note) VALUES (2, ?)', [big])),
    db.withWriteTransaction((tx) => tx.run('INSERT INTO t (x) VALUES (3)')),
  ]);
  t.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.is(((settled[1] as PromiseRejectedResult).reason as { code?: string }).code, 'SQLITE_FULL');
  t.deepEqual(await rows(db), [1, 3]);
  // The writer is usable afterwards.
  await db.withWriteTransaction((tx) => tx.run('INSERT INTO t (x) VALUES (4)'));
  t.deepEqual(await rows(db), [1, 3, 4]);
});

test('a write statement left stepped (EXPLAIN of an UPDATE) does not break the next operation of the group', async (t) => {
  const db = await openDb(t);
  await Promise.all([
    db.withWriteTransaction(async (tx) => {
      await tx.run('INSERT INTO t (x) VALUES (1)');
      await tx.all('EXPLAIN QUERY PLAN UPDATE t SET note = 1 WHERE x = 1');
    }),
    db.withWriteTransaction((tx) => tx.run('INSERT INTO t (x) VALUES (2)')),
    db.withWriteTransaction(async (tx) => {
      await tx.run('INSERT INTO t (x) VALUES (3)');
      throw new Error('undo 3');
    }).catch(() => undefined),
  ]);
  t.deepEqual(await rows(db), [1, 2]);
});

test('a transaction handle used after its operation ended is refused', async (t) => {
  const db = await openDb(t);
  let leaked!: Parameters<Parameters<Database['withWriteTransaction']>[0]>[0];
  await db.withWriteTransaction(async (tx) => {
    leaked = tx;
  });
  await t.throwsAsync(leaked.run('INSERT INTO t (x) VALUES (9)'), { message: /after its operation ended/ });
  t.deepEqual(await rows(db), []);
});

/** A batch that inserts its items in one statement, refusing odd numbers (and failing as a whole on 13 before writing, on 17 after). */
function insertBatch(calls: number[][]): WriteBatch<number, number> {
  return {
    name: 'insert',
    key: (x) => x % 100,
    async run(tx, items) {
      calls.push(items);
      if (items.includes(13)) throw new Error('13 breaks the shared call');
      const ok = items.filter((x) => x % 2 === 0);
      await tx.run('INSERT INTO t (x) SELECT value FROM json_each(?)', [JSON.stringify(ok)]);
      if (items.includes(17)) {
        await tx.run('INSERT INTO t (x) VALUES (17)');
        throw new Error('17 breaks the shared call after writing');
      }
      return items.map((x) => (x % 2 === 0 ? { ok: true as const, value: x * 2 } : { ok: false as const, error: new Error(`odd ${x}`) }));
    },
  };
}

test('batched items share one call; each caller gets its own value or error', async (t) => {
  const db = await openDb(t);
  const calls: number[][] = [];
  const batch = insertBatch(calls);
  const settled = await Promise.allSettled([2, 3, 4, 6].map((x) => db.batched(batch, x)));
  t.deepEqual(calls, [[2, 3, 4, 6]]);
  t.deepEqual(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)), [4, 'odd 3', 8, 12]);
  t.deepEqual(await rows(db), [2, 4, 6]);
});

test('a shared call that fails as a whole is redone item by item, so only the bad item fails', async (t) => {
  const db = await openDb(t);
  const calls: number[][] = [];
  const batch = insertBatch(calls);
  const settled = await Promise.allSettled([2, 13, 4].map((x) => db.batched(batch, x)));
  t.deepEqual(calls, [[2, 13, 4], [2], [13], [4]]);
  t.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.deepEqual(await rows(db), [2, 4]);
});

test('a shared call that fails after writing (it has no savepoint) makes the group run again, its items each alone', async (t) => {
  const db = await openDb(t);
  const calls: number[][] = [];
  const batch = insertBatch(calls);
  let txRuns = 0;
  const settled = await Promise.allSettled([
    db.withWriteTransaction(async (tx) => {
      txRuns++;
      await tx.run('INSERT INTO t (x) VALUES (1)');
    }),
    ...[2, 17, 4].map((x) => db.batched(batch, x)),
  ]);
  t.deepEqual(calls, [[2, 17, 4], [2], [17], [4]]);
  t.is(txRuns, 2, 'the other operation of the group ran again; its first run was rolled back');
  t.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  t.deepEqual(await rows(db), [1, 2, 4]);
});

test('items with the same key never share a call: the later one runs after the earlier', async (t) => {
  const db = await openDb(t);
  const calls: number[][] = [];
  const batch = insertBatch(calls);
  // 102 has the key of 2: it must see 2's insert, so it waits for a call of its own.
  const settled = await Promise.allSettled([2, 4, 102, 6].map((x) => db.batched(batch, x)));
  t.is(calls.length, 2);
  t.deepEqual(calls[0]!.slice(0, 2), [2, 4]);
  t.true(calls[1]!.includes(102) && !calls[0]!.includes(102));
  t.true(settled.every((s) => s.status === 'fulfilled'));
  t.deepEqual(await rows(db), [2, 4, 6, 102]);
});

test('close lets queued operations finish and refuses later ones', async (t) => {
  const path = await tempDbPath(t);
  const db = await Database.open(path);
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE t (x INTEGER PRIMARY KEY)'));
  const queued = Array.from({ length: 5 }, (_, i) => db.withWriteTransaction((tx) => tx.run('INSERT INTO t (x) VALUES (?)', [i])));
  const closing = db.close();
  await t.throwsAsync(db.withWriteTransaction((tx) => tx.run('INSERT INTO t (x) VALUES (99)')), { message: /closed/ });
  await Promise.all(queued);
  await closing;
  const again = await Database.open(path);
  t.teardown(() => again.close());
  t.deepEqual((await again.all<{ x: number }>('SELECT x FROM t ORDER BY x')).map((r) => r.x), [0, 1, 2, 3, 4]);
});
