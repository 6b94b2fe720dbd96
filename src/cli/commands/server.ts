/**
 * `torc server`: the REST API over a SQLite database, for external runners and torc clients.
 * Binds 127.0.0.1 unless told otherwise; with --token-file and/or --auth every route needs the
 * bearer token or a user's sign-in (see src/api/access-control.ts). Runs until SIGINT / SIGTERM.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ApiLogger } from '../../api/app.js';
import { InputError } from '../../errors.js';
import { parseIntOption } from '../output.js';
import { addServerAuthOptions, serverAuthFromFlags, type ServerAuthFlags } from '../server-auth.js';

export const DEFAULT_DB = '.torc/torc.db';

interface ServerFlags extends ServerAuthFlags {
  host: string;
  port: string;
  db?: string;
  bodyLimit?: string;
  logRequests?: boolean;
  dashboard: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('server')
    .description('Run the torc-compatible REST API (base path /torc-service/v1) over a SQLite database')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8080')
    .option('--db <path>', `SQLite database file (default $TORC_DB or ${DEFAULT_DB})`);
  addServerAuthOptions(cmd)
    .option('--body-limit <bytes>', 'largest accepted request body in bytes', String(8 * 1024 * 1024))
    .option('--log-requests', 'log one line per request to stderr (method, path, status, time)')
    .option('--no-dashboard', 'do not serve the web dashboard at / (the API only)')
    .action(async (flags: ServerFlags) => {
      const port = parseIntOption(flags.port, '--port', 0)!;
      if (port > 65535) throw new InputError(`expected a port from 0 to 65535, got ${port}`, '--port');
      const bodyLimitBytes = parseIntOption(flags.bodyLimit, '--body-limit', 1)!;
      const dbPath = resolve(flags.db ?? process.env.TORC_DB ?? DEFAULT_DB);
      mkdirSync(dirname(dbPath), { recursive: true });
      const logger: ApiLogger = {
        info: flags.logRequests ? (line) => process.stderr.write(`${line}\n`) : () => {},
        error: (line) => process.stderr.write(`${line}\n`),
      };
      const { guards, ...auth } = serverAuthFromFlags(flags, flags.host);
      // Heavy modules (koa, sqlite3) load only when the server really starts.
      const [{ startServer }, { Store }] = await Promise.all([import('../../api/app.js'), import('../../store/index.js')]);
      const store = await Store.open(dbPath);
      let server;
      try {
        server = await startServer({
          store, host: flags.host, port, bodyLimitBytes, logger, dashboard: flags.dashboard, ...auth,
        });
      } catch (err) {
        await store.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new InputError(`port ${port} on ${flags.host} is already in use`, '--port');
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError(`cannot bind address ${flags.host}`, '--host');
        throw err;
      }
      process.stdout.write(`torc server listening on ${server.baseUrl} (database ${dbPath}${guards.length ? `, auth: ${guards.join(', ')}` : ''})\n`);
      if (flags.dashboard) process.stdout.write(`dashboard: ${server.url}/\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await server.close();
      await store.close();
    });
}
