/** `torc completions SHELL`: a completion script for bash, zsh or fish on stdout (see cli/completions.ts). */
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { completionScript, SHELLS, type Shell } from '../completions.js';

export function register(program: Command): void {
  program
    .command('completions')
    .description(`Print a shell completion script (${SHELLS.join(', ')}): e.g. source <(torc completions bash)`)
    .argument('<shell>', SHELLS.join(', '))
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) throw new InputError(`expected one of ${SHELLS.join(', ')}, got "${shell}"`, 'SHELL');
      process.stdout.write(completionScript(program, shell as Shell));
    });
}
