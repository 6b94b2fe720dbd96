/**
 * `torc server`: the REST API over a SQLite database, for external runners and torc clients.
 * Binds 127.0.0.1 unless told otherwise; with --token-file and/or --auth every route needs the
 * bearer token or a user's sign-in (see src/api/access-control.ts). Runs until SIGINT / SIGTERM.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ApiLogger } from '../../api/app.js';
import { readHtpasswd } from '../../api/htpasswd.js';
import { InputError } from '../../errors.js';
import { parseIntOption } from '../output.js';

export const DEFAULT_DB = '.torc/torc.db';

interface ServerFlags {
  host: string;
  port: string;
  db?: string;
  tokenFile?: string;
  auth?: string;
  adminUser: string[];
  publicRead?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  bodyLimit?: string;
  logRequests?: boolean;
  dashboard: boolean;
}

/** Reads the token (surrounding whitespace trimmed); never echoes it. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    if (!statSync(path).isFile()) throw new InputError(`${path} is not a file`, '--token-file');
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, '--token-file');
  }
  const token = text.trim();
  if (token === '') throw new InputError(`${path} is empty`, '--token-file');
  if (/\s/.test(token)) throw new InputError(`${path} must hold one token without whitespace`, '--token-file');
  return token;
}

/** `htpasswd:FILE` (torc's form) or a bare FILE. */
function htpasswdPath(value: string): string {
  const m = /^htpasswd:(.+)$/.exec(value);
  if (!m && value.includes(':') && !existsSync(value)) throw new InputError(`expected htpasswd:FILE, got "${value}"`, '--auth');
  return m ? m[1]! : value;
}

function readPem(path: string, flag: string): Buffer {
  try {
    const pem = readFileSync(path);
    if (!pem.includes('-----BEGIN')) throw new InputError(`${path} is not a PEM file`, flag);
    return pem;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${path}: ${(err as Error).message}`, flag);
  }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function register(program: Command): void {
  program
    .command('server')
    .description('Run the torc-compatible REST API (base path /torc-service/v1) over a SQLite database')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8080')
    .option('--db <path>', `SQLite database file (default $TORC_DB or ${DEFAULT_DB})`)
    .option('--token-file <file>', 'the bearer token (read from this file) of runners and workers: with it, every route needs it or a user\'s sign-in')
    .option('--auth <htpasswd:FILE>', 'users sign in with HTTP Basic against this htpasswd file (bcrypt, apr1 or SHA); every route needs a sign-in')
    .option('--admin-user <name>', 'a user who may see and change every workflow and manage access groups (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--public-read', 'let anyone read without signing in (job env values and tokens are masked); changes still need it')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--body-limit <bytes>', 'largest accepted request body in bytes', String(8 * 1024 * 1024))
    .option('--log-requests', 'log one line per request to stderr (method, path, status, time)')
    .option('--no-dashboard', 'do not serve the web dashboard at / (the API only)')
    .action(async (flags: ServerFlags) => {
      const port = parseIntOption(flags.port, '--port', 0)!;
      if (port > 65535) throw new InputError(`expected a port from 0 to 65535, got ${port}`, '--port');
      const bodyLimitBytes = parseIntOption(flags.bodyLimit, '--body-limit', 1)!;
      const token = flags.tokenFile !== undefined ? readTokenFile(flags.tokenFile) : undefined;
      const dbPath = resolve(flags.db ?? process.env.TORC_DB ?? DEFAULT_DB);
      mkdirSync(dirname(dbPath), { recursive: true });
      const logger: ApiLogger = {
        info: flags.logRequests ? (line) => process.stderr.write(`${line}\n`) : () => {},
        error: (line) => process.stderr.write(`${line}\n`),
      };
      const users = flags.auth !== undefined ? readHtpasswd(htpasswdPath(flags.auth)) : undefined;
      if (flags.adminUser.length > 0 && !users) throw new InputError('admins are users: give --auth htpasswd:FILE too', '--admin-user');
      for (const admin of flags.adminUser) if (!users!.users().includes(admin)) throw new InputError(`"${admin}" is not a user of ${flags.auth}`, '--admin-user');
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new InputError('give both --tls-cert and --tls-key', flags.tlsCert ? '--tls-key' : '--tls-cert');
      const tls = flags.tlsCert !== undefined ? { cert: readPem(flags.tlsCert, '--tls-cert'), key: readPem(flags.tlsKey!, '--tls-key') } : undefined;
      if (!LOOPBACK.has(flags.host) && token === undefined && !users) {
        process.stderr.write(`warning: listening on ${flags.host} without --token-file or --auth: anyone who can reach it can read and change workflows\n`);
      }
      if (!LOOPBACK.has(flags.host) && !tls && (token !== undefined || users)) {
        process.stderr.write(`warning: listening on ${flags.host} without --tls-cert: passwords and tokens cross the network in clear text\n`);
      }
      // Heavy modules (koa, sqlite3) load only when the server really starts.
      const [{ startServer }, { Store }] = await Promise.all([import('../../api/app.js'), import('../../store/index.js')]);
      const store = await Store.open(dbPath);
      let server;
      try {
        server = await startServer({
          store, host: flags.host, port, token, bodyLimitBytes, logger, dashboard: flags.dashboard, tls,
          auth: { users, admins: flags.adminUser, publicRead: flags.publicRead === true },
        });
      } catch (err) {
        await store.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new InputError(`port ${port} on ${flags.host} is already in use`, '--port');
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError(`cannot bind address ${flags.host}`, '--host');
        throw err;
      }
      const guards = [token ? 'bearer token' : '', users ? `${users.users().length} users` : '', flags.publicRead ? 'public reads' : ''].filter(Boolean);
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
