/** `torc user-data get|update ID`: a user data record, and changing it (name, JSON data, ephemeral). */
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { addBackendOptions, type BackendFlags } from '../backend.js';
import { parseId, printJson, printTable } from '../output.js';
import { withBackend } from './jobs.js';

interface Flags extends BackendFlags {
  format?: string;
  name?: string;
  data?: string;
  ephemeral?: string;
}

function show(record: object, format: string): void {
  if (format === 'json') return printJson(record);
  printTable(Object.entries(record).map(([field, value]) => ({ field, value: typeof value === 'object' && value !== null ? JSON.stringify(value) : value })), ['field', 'value']);
}

export function register(program: Command): void {
  const ud = program.command('user-data').description('User data records (JSON values jobs read and write)');
  addBackendOptions(ud.command('get').description('A user data record'))
    .argument('<id>', 'user data id')
    .option('--format <format>', 'table or json (default table)')
    .action((id: string, flags: Flags) => withBackend(flags, async (b, format) => show(await b.getUserData(parseId(id, 'user data id')), format)));
  addBackendOptions(ud.command('update').description('Change a user data record: its name, its JSON data, whether it is ephemeral'))
    .argument('<id>', 'user data id')
    .option('--format <format>', 'table or json (default table)')
    .option('-n, --name <name>', 'new name')
    .option('-d, --data <json>', 'new data: a JSON value')
    .option('--ephemeral <bool>', 'true or false')
    .action((id: string, flags: Flags) =>
      withBackend(flags, async (b, format) => {
        const userDataId = parseId(id, 'user data id');
        const changes: { name?: string; data?: unknown; is_ephemeral?: boolean } = {};
        if (flags.name !== undefined) changes.name = flags.name;
        if (flags.data !== undefined) {
          try {
            changes.data = JSON.parse(flags.data);
          } catch (e) {
            throw new InputError(`expected JSON: ${(e as Error).message}`, '--data');
          }
        }
        if (flags.ephemeral !== undefined) {
          if (flags.ephemeral !== 'true' && flags.ephemeral !== 'false') throw new InputError(`expected true or false, got "${flags.ephemeral}"`, '--ephemeral');
          changes.is_ephemeral = flags.ephemeral === 'true';
        }
        if (Object.keys(changes).length === 0) throw new InputError('nothing to change: give --name, --data or --ephemeral', 'ID');
        show(await b.updateUserData(userDataId, changes), format);
      }),
    );
}
