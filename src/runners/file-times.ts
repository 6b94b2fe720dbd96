/**
 * Modification times of a workflow's files as seen from where its jobs run: the runner reports
 * them when a job completes, and `torc workflows reinitialize` compares them with what was
 * recorded. Relative paths are resolved against the jobs' working directory.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileObservation } from '../contract/client.js';

/** st_mtime in seconds (fractional), or null when the file does not exist (or cannot be read). */
export async function fileMtime(file: string): Promise<number | null> {
  try {
    return (await stat(file)).mtimeMs / 1000;
  } catch {
    return null;
  }
}

export async function observeFiles(files: readonly { id: number; path: string }[], cwd: string): Promise<FileObservation[]> {
  return Promise.all(files.map(async (f) => ({ id: f.id, st_mtime: await fileMtime(path.resolve(cwd, f.path)) })));
}
