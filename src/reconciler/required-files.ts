/**
 * torc refuses to start a workflow whose required files are missing ("Missing required files"):
 * the inputs no job of the workflow writes, and the outputs of jobs that already completed,
 * looked for from where the jobs run. Checked before a run initializes jobs, so nothing starts
 * that would fail job by job on a missing input.
 */
import { InputError } from '../errors.js';
import { fileMtime } from '../runners/file-times.js';
import type { Store } from '../store/index.js';
import path from 'node:path';

export interface MissingFile {
  id: number;
  name: string;
  path: string;
}

/** Those of `files` that do not exist under `cwd` (relative paths resolved there). */
export async function missingFiles(files: readonly MissingFile[], cwd: string): Promise<MissingFile[]> {
  const missing: MissingFile[] = [];
  for (const f of files) {
    if ((await fileMtime(path.resolve(cwd, f.path))) === null) missing.push({ id: f.id, name: f.name, path: f.path });
  }
  return missing;
}

/** The workflow's required files that do not exist under `cwd`. */
export async function missingRequiredFiles(store: Store, workflowId: number, cwd: string): Promise<MissingFile[]> {
  const required = new Set(await store.listRequiredExistingFiles(workflowId));
  if (required.size === 0) return [];
  return missingFiles((await store.listFiles(workflowId)).filter((f) => required.has(f.id)), cwd);
}

/** InputError listing every missing required file (torc's message), unless there is none. */
export async function refuseMissingRequiredFiles(store: Store, workflowId: number, cwd: string, what: string): Promise<void> {
  const missing = await missingRequiredFiles(store, workflowId, cwd);
  if (missing.length === 0) return;
  throw new InputError(
    missing.map((f) => ({
      path: `${what}.files.${f.name}`,
      message: `Missing required files: "${f.path}" (file ${f.id}) does not exist in ${cwd}; no job writes it (--force starts anyway)`,
    })),
  );
}
