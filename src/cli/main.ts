/**
 * The `torc` command. Each subcommand lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; add yours to COMMANDS below.
 * Exit codes: 0 success, 1 the work failed (a workflow not Succeeded, a runtime error),
 * 2 bad input (usage, spec validation).
 */
import { Command, CommanderError } from 'commander';
import { InputError, NotFoundError, ConflictError, TooLargeError } from '../errors.js';
import { VERSION } from '../version.js';

export type Register = (program: Command) => void;

async function loadCommands(): Promise<Register[]> {
  // Loaded lazily so `torc --help` stays fast and a command's heavy imports load only when used.
  const modules: { register: Register }[] = await Promise.all([
    // one line per command module, e.g. import('./commands/validate.js'),
    import('./commands/server.js'),
    import('./commands/reconcile.js'),
    import('./commands/worker.js'),
    import('./commands/slurm.js'),
    import('./commands/run.js'),
    import('./commands/validate.js'),
    import('./commands/plan.js'),
    import('./commands/workflows.js'),
    import('./commands/jobs.js'),
    import('./commands/operator.js'),
  ]);
  return modules.map((m) => m.register);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('torc')
    .description('Declarative workflows for HPC and Kubernetes: resource-aware job packing on local, Slurm and Kubernetes runners')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  for (const register of await loadCommands()) register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

/** Prints an error for a person and returns the exit code it deserves. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander already printed its message; help/version exit 0.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof InputError) {
    for (const issue of err.issues) process.stderr.write(`error: ${issue.path ? `${issue.path}: ` : ''}${issue.message}\n`);
    return 2;
  }
  if (err instanceof TooLargeError) {
    process.stderr.write(`error: ${err.field ? `${err.field}: ` : ''}${err.message}\n`);
    return 2;
  }
  if (err instanceof NotFoundError || err instanceof ConflictError) {
    process.stderr.write(`error: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`torc: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
