/**
 * torc v0.10.0's reference material (`shared/torc`: example workflow files, OpenAPI, Python
 * client), found at ../shared/torc from the project root or beside an ancestor folder (a git
 * worktree at /work/wt/NAME finds /work/shared/torc), or at $TORC_SHARED_DIR. Tests that need it
 * are registered as skipped with a loud warning when it is absent: never a silent pass.
 */
import test, { type ExecutionContext } from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './cli.js';

function findTorcShared(): string | undefined {
  if (process.env.TORC_SHARED_DIR) return existsSync(process.env.TORC_SHARED_DIR) ? process.env.TORC_SHARED_DIR : undefined;
  for (let dir = REPO_ROOT; ; dir = dirname(dir)) {
    const candidate = join(dir, '..', 'shared', 'torc');
    if (existsSync(join(candidate, 'examples'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The torc reference folder, or undefined when it is not on this machine. */
export const TORC_SHARED: string | undefined = findTorcShared();

/** The example folders the compatibility promise covers. */
export const EXAMPLE_DIRS = ['yaml', 'json', 'subgraphs', 'kdl'] as const;

/** Every example workflow file (absolute paths), folder by folder, sorted; [] when absent. */
export function torcExampleFiles(): string[] {
  if (!TORC_SHARED) return [];
  return EXAMPLE_DIRS.flatMap((d) =>
    readdirSync(join(TORC_SHARED!, 'examples', d))
      .filter((f) => /\.(ya?ml|json5?|kdl)$/.test(f))
      .sort()
      .map((f) => join(TORC_SHARED!, 'examples', d, f)),
  );
}

/** `examples/kdl/x.kdl` for messages. */
export function exampleName(file: string): string {
  return file.slice(file.lastIndexOf('/examples/') + 1);
}

const warned = new Set<string>();

/** `test` (or test.serial) when the torc folder is present, else `test.skip` after a loud warning naming the file. */
export function torcSharedTest(file: string, serial = false): (title: string, impl: (t: ExecutionContext) => Promise<void> | void) => void {
  if (TORC_SHARED) return (title, impl) => (serial ? test.serial(title, impl) : test(title, impl));
  if (!warned.has(file)) {
    warned.add(file);
    const msg = `!!!!! ../shared/torc NOT FOUND: the torc-compatibility tests in ${file} are SKIPPED (set TORC_SHARED_DIR to torc's reference folder to run them). !!!!!`;
    console.warn(msg);
    process.emitWarning(msg);
  }
  return (title, impl) => test.skip(title, impl);
}
