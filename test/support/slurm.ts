/**
 * Gate for tests that need a real Slurm (started by ../shared/slurm/start-slurm.sh in CI).
 * They run when TORC_SLURM_AVAILABLE=1 or when `sinfo` answers with a usable node. Otherwise
 * they are registered as skipped and a loud warning is printed: never a silent pass.
 * With TORC_SLURM_AVAILABLE=1 and no answering Slurm the tests run, and fail, on purpose.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { REPO_ROOT } from './cli.js';
import { waitFor } from './procs.js';

const execFileP = promisify(execFile);

const declared = process.env.TORC_SLURM_AVAILABLE === '1';
export const slurmAvailable: boolean = declared || (await new SlurmCommands({ timeoutSeconds: 10 }).isResponsive());

let warned = false;

export type SlurmTestFn = (title: string, impl: (t: ExecutionContext) => Promise<void> | void, options?: { exclusive?: boolean }) => void;

// ---- one shared cluster, many test processes ------------------------------------------------
// ava runs test files in parallel processes that all use the one test cluster. A test that kills
// a node's slurmd (options.exclusive) must not take down another test's allocation, so Slurm
// tests hold a cross-process readers/writer lock: files in LOCK_DIR, `shared-<pid>-<n>` for each
// running test, `exclusive` (holding its pid) for the node-failure test, which waits until the
// shared holders are done while new ones wait for it. Files of dead processes are ignored.
const LOCK_DIR = path.join(os.tmpdir(), 'torc-slurm-test-lock');
const EXCLUSIVE = path.join(LOCK_DIR, 'exclusive');
const LOCK_WAIT_MS = 1_200_000;
let lockSeq = 0;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function exclusiveHeldByOther(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(EXCLUSIVE, 'utf8'));
  } catch {
    return false;
  }
  if (pid === process.pid) return false;
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) return true;
  rmSync(EXCLUSIVE, { force: true });
  return false;
}

function sharedHolders(): string[] {
  return readdirSync(LOCK_DIR).filter((f) => {
    const m = /^shared-(\d+)-/.exec(f);
    if (!m) return false;
    if (alive(Number(m[1]))) return true;
    rmSync(path.join(LOCK_DIR, f), { force: true });
    return false;
  });
}

async function holdCluster(exclusive: boolean): Promise<() => void> {
  mkdirSync(LOCK_DIR, { recursive: true });
  if (!exclusive) {
    await waitFor(() => !exclusiveHeldByOther(), LOCK_WAIT_MS, 'the node-failure test to give the Slurm test cluster back');
    const mine = path.join(LOCK_DIR, `shared-${process.pid}-${lockSeq++}`);
    writeFileSync(mine, '');
    return () => rmSync(mine, { force: true });
  }
  await waitFor(
    () => {
      try {
        writeFileSync(EXCLUSIVE, String(process.pid), { flag: 'wx' });
        return true;
      } catch {
        exclusiveHeldByOther();
        return false;
      }
    },
    LOCK_WAIT_MS,
    'another exclusive Slurm test to end',
  );
  await waitFor(() => sharedHolders().length === 0, LOCK_WAIT_MS, 'the other Slurm tests to end before a node is killed');
  return () => rmSync(EXCLUSIVE, { force: true });
}

function lockedSerial(title: string, impl: (t: ExecutionContext) => Promise<void> | void, options?: { exclusive?: boolean }): void {
  test.serial(title, async (t) => {
    t.timeout(LOCK_WAIT_MS + 60_000); // the test's own t.timeout, once it runs, replaces this
    const release = await holdCluster(options?.exclusive === true);
    try {
      await impl(t);
    } finally {
      release();
    }
  });
}

/**
 * `test.serial` when Slurm is available (tests of one file share the single test node), else
 * `test.skip` after a loud warning naming the file.
 */
export function slurmTest(file: string): SlurmTestFn {
  if (slurmAvailable) return lockedSerial;
  if (!warned) {
    warned = true;
    const msg =
      `!!!!! SLURM NOT AVAILABLE: the real-Slurm tests in ${file} are SKIPPED. ` +
      'Run ../shared/slurm/start-slurm.sh (as root) and set TORC_SLURM_AVAILABLE=1 to run them. !!!!!';
    console.warn(msg);
    process.emitWarning(msg);
  }
  return (title, impl) => test.skip(title, impl);
}

/**
 * The address a test's API server listens on so that jobs on every Slurm test node reach it.
 * With several nodes (start-slurm.sh with SLURM_TEST_NODES > 1) nodes 2..N have loopbacks of
 * their own and reach the host only on the bridge tslurm0 (10.77.0.1); with one node there is
 * no bridge and 127.0.0.1 serves. Slurm packs one-node jobs onto node 1 while it has room, so a
 * test on 127.0.0.1 would pass on an idle cluster and fail when others' jobs fill node 1.
 */
export function slurmApiHost(): string {
  return os.networkInterfaces().tslurm0?.find((a) => a.family === 'IPv4')?.address ?? '127.0.0.1';
}

/** The test cluster's node names (`sinfo -N`), first the host's; [] when Slurm does not answer. */
export async function slurmNodes(): Promise<string[]> {
  try {
    const { stdout } = await execFileP('sinfo', ['-h', '-N', '-o', '%N'], { timeout: 30_000 });
    return [...new Set(stdout.split('\n').map((l) => l.trim()).filter(Boolean))].sort();
  } catch {
    return [];
  }
}

/**
 * `slurmTest` for tests that need the multi-node test cluster (SLURM_TEST_NODES ≥ `min`, as CI
 * starts it): skipped with a loud warning on a smaller one, never a silent pass.
 */
export async function multiNodeSlurmTest(file: string, min: number): Promise<SlurmTestFn> {
  if (!slurmAvailable) return slurmTest(file);
  const nodes = await slurmNodes();
  if (nodes.length >= min) return lockedSerial;
  const msg = `!!!!! SLURM HAS ${nodes.length} NODE(S): the multi-node tests in ${file} need ${min} and are SKIPPED. Start it with SLURM_TEST_NODES=3 ../shared/slurm/start-slurm.sh. !!!!!`;
  console.warn(msg);
  process.emitWarning(msg);
  return (title, impl) => test.skip(title, impl);
}

/**
 * ../shared/slurm/NAME (start-slurm.sh, stop-slurm.sh) beside the project root or an ancestor
 * (a worktree at /work/wt/X finds /work/shared/slurm), or in $SLURM_TEST_SCRIPTS.
 */
export function slurmScript(name: string): string {
  if (process.env.SLURM_TEST_SCRIPTS) return path.join(process.env.SLURM_TEST_SCRIPTS, name);
  for (let dir = REPO_ROOT; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, '..', 'shared', 'slurm', name);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`../shared/slurm/${name} not found (set SLURM_TEST_SCRIPTS)`);
  }
}

/**
 * A node failure as the README of the test Slurm describes it: SIGKILL the node's slurmd
 * (`stop-slurm.sh --node NAME`; its processes keep running). Returns the restore
 * (`start-slurm.sh --node NAME`: slurmd again, the node idle, leftover steps killed), which is
 * also registered as the test's teardown so that other tests on the shared cluster get the node
 * back whatever happens; calling it twice restores once.
 */
export async function killSlurmd(t: ExecutionContext, node: string): Promise<() => Promise<void>> {
  let restoring: Promise<void> | undefined;
  const restore = () =>
    (restoring ??= execFileP('bash', [slurmScript('start-slurm.sh'), '--node', node], { timeout: 180_000 }).then(
      () => undefined,
      (e: unknown) => {
        throw new Error(`could not restore Slurm node ${node}: ${e instanceof Error ? e.message : String(e)}`);
      },
    ));
  t.teardown(restore);
  await execFileP('bash', [slurmScript('stop-slurm.sh'), '--node', node], { timeout: 60_000 });
  return restore;
}
