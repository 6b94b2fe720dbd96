/** Stores on fresh temporary SQLite files, removed when the test ends. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Store, type StoreOptions } from '../../src/store/index.js';

export async function tempDbPath(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'torc-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'torc.db');
}

export async function openTempStore(t: ExecutionContext, options?: StoreOptions): Promise<Store> {
  const store = await Store.open(await tempDbPath(t), options);
  // Registered after the directory's removal, so it runs first (ava runs teardowns last-in first-out).
  t.teardown(() => store.close());
  return store;
}
