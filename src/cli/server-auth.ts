/**
 * The sign-in and TLS options of a process that serves the REST API (`torc server`, `torc
 * operator`): --token-file, --auth htpasswd:FILE, --admin-user, --public-read, --tls-cert and
 * --tls-key. One place declares, checks and reads them, so both commands guard their API alike.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { ServerOptions } from '../api/app.js';
import { readHtpasswd } from '../api/htpasswd.js';
import { InputError } from '../errors.js';

export interface ServerAuthFlags {
  tokenFile?: string;
  auth?: string;
  adminUser: string[];
  publicRead?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/** What startServer takes from the flags, and a summary for the start-up line. */
export interface ServerAuth extends Pick<ServerOptions, 'token' | 'tls' | 'auth'> {
  /** e.g. ["bearer token", "3 users"]; empty for an open server. */
  guards: string[];
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

/** Adds the sign-in and TLS options to a command that serves the API. */
export function addServerAuthOptions(cmd: Command): Command {
  return cmd
    .option('--token-file <file>', 'the bearer token (read from this file) of runners and workers: with it, every route needs it or a user\'s sign-in')
    .option('--auth <htpasswd:FILE>', 'users sign in with HTTP Basic against this htpasswd file (bcrypt, apr1 or SHA); every route needs a sign-in')
    .option('--admin-user <name>', 'a user who may see and change every workflow and manage access groups (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--public-read', 'let anyone read without signing in (job env values and tokens are masked); changes still need it')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert');
}

/**
 * Reads and checks the options (each bad one named), and warns on stderr when an API bound to a
 * non-loopback address is open to anyone or carries passwords and tokens in clear text.
 */
export function serverAuthFromFlags(flags: ServerAuthFlags, host: string): ServerAuth {
  const token = flags.tokenFile !== undefined ? readTokenFile(flags.tokenFile) : undefined;
  const users = flags.auth !== undefined ? readHtpasswd(htpasswdPath(flags.auth)) : undefined;
  if (flags.adminUser.length > 0 && !users) throw new InputError('admins are users: give --auth htpasswd:FILE too', '--admin-user');
  for (const admin of flags.adminUser) if (!users!.users().includes(admin)) throw new InputError(`"${admin}" is not a user of ${flags.auth}`, '--admin-user');
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new InputError('give both --tls-cert and --tls-key', flags.tlsCert ? '--tls-key' : '--tls-cert');
  const tls = flags.tlsCert !== undefined ? { cert: readPem(flags.tlsCert, '--tls-cert'), key: readPem(flags.tlsKey!, '--tls-key') } : undefined;
  if (!LOOPBACK.has(host) && token === undefined && !users) {
    process.stderr.write(`warning: listening on ${host} without --token-file or --auth: anyone who can reach it can read and change workflows\n`);
  }
  if (!LOOPBACK.has(host) && !tls && (token !== undefined || users)) {
    process.stderr.write(`warning: listening on ${host} without --tls-cert: passwords and tokens cross the network in clear text\n`);
  }
  const guards = [token ? 'bearer token' : '', users ? `${users.users().length} users` : '', flags.publicRead ? 'public reads' : ''].filter(Boolean);
  return { token, tls, auth: { users, admins: flags.adminUser, publicRead: flags.publicRead === true }, guards };
}
