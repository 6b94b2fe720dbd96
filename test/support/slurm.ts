/**
 * Gate for tests that need a real Slurm (started by ../shared/slurm/start-slurm.sh in CI).
 * They run when TORC_SLURM_AVAILABLE=1 or when `sinfo` answers with a usable node. Otherwise
 * they are registered as skipped and a loud warning is printed: never a silent pass.
 * With TORC_SLURM_AVAILABLE=1 and no answering Slurm the tests run, and fail, on purpose.
 */
import test, { type ExecutionContext } from 'ava';
import os from 'node:os';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';

const declared = process.env.TORC_SLURM_AVAILABLE === '1';
export const slurmAvailable: boolean = declared || (await new SlurmCommands({ timeoutSeconds: 10 }).isResponsive());

let warned = false;

export type SlurmTestFn = (title: string, impl: (t: ExecutionContext) => Promise<void> | void) => void;

/**
 * `test.serial` when Slurm is available (tests of one file share the single test node), else
 * `test.skip` after a loud warning naming the file.
 */
export function slurmTest(file: string): SlurmTestFn {
  if (slurmAvailable) return (title, impl) => test.serial(title, impl);
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
