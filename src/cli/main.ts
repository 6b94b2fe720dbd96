/**
 * The `torc` command. Each subcommand lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; add yours to COMMANDS below.
 * Exit codes: 0 success, 1 the work failed (a workflow not Succeeded, a runtime error),
 * 2 bad input (usage, spec validation).
 */
import { Command, CommanderError } from 'commander';
import { InputError, NotFoundError, ConflictError, StorageFault, TooLargeError } from '../errors.js';
import { VERSION } from '../version.js';

export type Register = (program: Command) => void;

/** Command name → its module; add yours here. */
const COMMANDS: Record<string, () => Promise<{ register: Register }>> = {
  server: () => import('./commands/server.js'),
  reconcile: () => import('./commands/reconcile.js'),
  worker: () => import('./commands/worker.js'),
  slurm: () => import('./commands/slurm.js'),
  hpc: () => import('./commands/hpc.js'),
  run: () => import('./commands/run.js'),
  validate: () => import('./commands/validate.js'),
  plan: () => import('./commands/plan.js'),
  workflows: () => import('./commands/workflows.js'),
  jobs: () => import('./commands/jobs.js'),
  results: () => import('./commands/results.js'),
  events: () => import('./commands/events.js'),
  'user-data': () => import('./commands/user-data.js'),
  completions: () => import('./commands/completions.js'),
  operator: () => import('./commands/operator.js'),
  reports: () => import('./commands/reports.js'),
  recover: () => import('./commands/recover.js'),
  'plot-resources': () => import('./commands/plot-resources.js'),
  tui: () => import('./commands/tui.js'),
};

/** torc's global options: given before the command, they apply to it (`torc -f json --url URL jobs list 1`). */
const GLOBAL_OPTIONS: [flags: string, description: string, name: string][] = [
  ['--url <url>', 'torc server URL for the command (default: $TORC_API_URL)', 'url'],
  ['-f, --format <format>', 'output format of the command: table or json', 'format'],
];
const GLOBAL_WITH_VALUE = new Set(['--url', '-f', '--format']);

/**
 * The command modules this command line needs: only the named command's when there is one (each
 * module pulls in its own part of the product, and loading all of them cost every command
 * ~0.2 s: issue 9), all of them for `torc --help` and for an unknown name, which commander answers
 * with the list and a suggestion.
 */
async function loadCommands(argv: string[]): Promise<Register[]> {
  const name = argv.find((a, i) => !a.startsWith('-') && !GLOBAL_WITH_VALUE.has(argv[i - 1] ?? ''));
  // `completions` describes every command: it needs them all.
  const loaders = name !== undefined && name !== 'completions' && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : Object.values(COMMANDS);
  const modules = await Promise.all(loaders.map((load) => load()));
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
  for (const [flags, description] of GLOBAL_OPTIONS) program.option(flags, description);
  // A global option fills the command's own option of that name when the command line did not set it.
  program.hook('preAction', (_program, action) => {
    const given = program.opts();
    for (const [, , name] of GLOBAL_OPTIONS) {
      if (given[name] === undefined) continue;
      if (!action.options.some((o) => o.attributeName() === name)) {
        throw new InputError(`${action.name()} does not take --${name}`, `--${name}`);
      }
      const source = action.getOptionValueSource(name);
      if (source === undefined || source === 'default') action.setOptionValue(name, given[name]);
    }
  });
  for (const register of await loadCommands(argv)) register(program);
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
  // The machine failed the database: a message for a person, not a driver's stack.
  if (err instanceof StorageFault) {
    process.stderr.write(`error: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`torc: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
