/**
 * A second (third, …) process writing the same SQLite file, for test/reliability/second-process.
 * Run: node --import tsx test/support/db-writer.ts MODE DB_PATH GO_FILE COUNT BUSY_TIMEOUT_MS BUSY_RETRIES [WORKFLOW_ID]
 * It opens (and migrates) the store with the default settings, opens the connection it works
 * on with BUSY_TIMEOUT_MS and BUSY_RETRIES, writes GO_FILE.ready.<pid>, waits for GO_FILE so
 * that every process starts together, then:
 *   increment: COUNT read-modify-write transactions on a counter row (SELECT, then UPDATE with
 *              the value read + 1): a lost update would repeat a value;
 *   claim:     registers a compute node and claims, starts and completes jobs of WORKFLOW_ID
 *              until none is left.
 * Prints one JSON line: what it wrote or claimed, and the transactions that failed.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Database } from '../../src/store/db.js';
import { Store } from '../../src/store/index.js';

const [mode, dbPath, goFile, countText, busyText, retriesText, wfText] = process.argv.slice(2);
const count = Number(countText);

/**
 * Set-up, not what the test measures: opening a connection runs PRAGMAs outside any retried
 * transaction, and with a 1 ms (or no) busy timeout they can meet the other process opening or
 * closing the file at that moment (its last close checkpoints the WAL under an exclusive lock).
 * On a busy machine that moment lasts long enough to be hit, so an open that meets it is tried again.
 */
async function opened<T>(open: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 200) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

// Opening a fresh file in several processes at once races the migrations: the production settings.
const first = await opened(() => Store.open(dbPath!));
await first.db.withWriteTransaction((tx) => tx.exec('CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); INSERT OR IGNORE INTO counter VALUES (1, 0);'));
await first.close();
// The working connection: a plain Database for increments (no migration transaction that could
// meet another process still opening), the Store for claims.
const settings = { busyTimeoutMs: Number(busyText), busyRetries: Number(retriesText) };
const store = mode === 'claim' ? await opened(() => Store.open(dbPath!, settings)) : null;
const db = store ? store.db : await opened(() => Database.open(dbPath!, settings));
writeFileSync(`${goFile}.ready.${process.pid}`, '');
while (!existsSync(goFile!)) await new Promise((r) => setTimeout(r, 2));

const failures: string[] = [];
const wrote: number[] = [];
const claimed: number[] = [];
if (mode === 'increment') {
  for (let i = 0; i < count; i++) {
    try {
      const v = await db.withWriteTransaction(async (tx) => {
        const row = await tx.get<{ v: number }>('SELECT v FROM counter WHERE id = 1');
        await tx.run('UPDATE counter SET v = ? WHERE id = 1', [row!.v + 1]);
        return row!.v + 1;
      });
      wrote.push(v);
    } catch (err) {
      failures.push(String((err as { code?: string }).code ?? (err as Error).message));
    }
  }
} else if (mode === 'claim' && store) {
  const wf = Number(wfText);
  const node = await store.registerComputeNode(wf, {
    hostname: `writer-${process.pid}`, pid: process.pid, num_cpus: 4, memory_gb: 4, num_gpus: 0, num_nodes: 1,
    scheduler_config_id: null, compute_node_type: 'second-process', lease_seconds: 3600,
  });
  const runId = (await store.getWorkflow(wf)).run_id;
  for (let idle = 0; idle < 200; ) {
    try {
      const res = await store.claimNextJobs(wf, count, node.id);
      if (res.jobs.length === 0) {
        if ((await store.getStatus(wf)).is_complete) break;
        idle++;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      idle = 0;
      for (const job of res.jobs) {
        claimed.push(job.id);
        await store.startJob(job.id, runId, node.id);
        await store.completeJob(job.id, 'completed', runId, { return_code: 0, exec_time_minutes: 0, completion_time: new Date().toISOString() });
      }
    } catch (err) {
      failures.push(String((err as { code?: string }).code ?? (err as Error).message));
      if (failures.length > 100) break;
    }
  }
}
await (store ?? db).close();
process.stdout.write(`${JSON.stringify({ pid: process.pid, wrote, claimed, failures })}\n`);
