/**
 * `torc tui [WF]`: the dashboard in the terminal, for login nodes reached over SSH. The
 * terminal UI (ink, React) is loaded only when this command runs (src/cli/tui/run.ts).
 */
import type { Command } from 'commander';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../errors.js';
import { addBackendOptions, type BackendFlags } from '../backend.js';
import { parseWorkflowId } from '../runner-flags.js';

/**
 * With no --url, --db or TORC_API_URL: the one `.torc/*.db` of this directory (where `torc
 * reconcile FILE` keeps its database), or an error that lists what to pass.
 */
export function defaultSource(flags: BackendFlags, cwd = process.cwd(), env = process.env): BackendFlags {
  if (flags.url !== undefined || flags.db !== undefined || env.TORC_API_URL) return flags;
  let found: string[] = [];
  try {
    found = readdirSync(path.join(cwd, '.torc')).filter((f) => f.endsWith('.db'));
  } catch {
    // No .torc here.
  }
  if (found.length === 1) return { ...flags, db: path.join('.torc', found[0]!) };
  const hint = found.length > 1 ? `; this directory has ${found.map((f) => `.torc/${f}`).join(', ')}` : '';
  throw new InputError(
    `what to show: --url URL (a torc server), --db PATH (a database file, e.g. the .torc/NAME.db of torc reconcile) or TORC_API_URL${hint}`,
    '--url',
  );
}

export function register(program: Command): void {
  addBackendOptions(
    program
      .command('tui')
      .description('Full-screen live view in the terminal: workflows, jobs (filter, sort, pages), the DAG by stage, job output; cancel and rerun failed')
      .argument('[wf]', 'open this workflow first'),
  )
    .addHelpText(
      'after',
      `
Keys: arrows or j/k move, PgUp/PgDn page, Enter open, Esc or Backspace back, Tab switch pane,
/ filter jobs (words in the name, status:failed,running), f status, s sort, S order,
l logs, c cancel (asks first; a server with --token-file needs the token), r rerun failed, q quit.
NO_COLOR=1 draws without colour.`,
    )
    .action(async (wf: string | undefined, flags: BackendFlags) => {
      const workflowId = wf === undefined ? undefined : parseWorkflowId(wf);
      const { runTui } = await import('../tui/run.js');
      process.exitCode = await runTui(defaultSource(flags), workflowId);
    });
}
