/** Where a workflow's jobs run: its spec working_dir, else the runner's own directory. */
import { resolve } from 'node:path';

/**
 * The directory a workflow's jobs run in: its working_dir (absolute when the spec came from a
 * file; a relative one — from a spec given as text — resolved against `base`), else `base`.
 */
export function workingDirectory(settings: { working_dir?: string | null }, base: string): string {
  return settings.working_dir ? resolve(base, settings.working_dir) : resolve(base);
}
