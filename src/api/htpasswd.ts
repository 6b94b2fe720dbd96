/**
 * Users from an Apache htpasswd file (`htpasswd -B` bcrypt, `-m` apr1 MD5, `-s` {SHA}), as torc's
 * server reads them. Hashes are checked with bcryptjs / apache-md5 / node:crypto; a file with a
 * hash we cannot check (crypt(3) DES, plain text) is refused when it is loaded, naming the line,
 * instead of refusing that user at every login.
 *
 * Every request signs in again (HTTP Basic), and bcrypt is slow on purpose: a successful check
 * is remembered for a short while (keyed by the user and a keyed hash of the password, so the
 * cache holds no password and no fast hash an attacker could test guesses against), bounded in
 * size. Failures are never remembered: each wrong password pays the full check, and the caller's
 * rate limit still counts it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import apacheMd5 from 'apache-md5';
import { InputError } from '../errors.js';

export interface Htpasswd {
  /** Whether the password is the user's; false for unknown users (after as much work as a known one). */
  verify(user: string, password: string): boolean;
  users(): string[];
}

export type Kind = 'bcrypt' | 'apr1' | 'sha';

export interface HtpasswdOptions {
  /** How long a successful check is remembered (default 60 s; 0 = never). */
  cacheTtlMs?: number;
  /** Most remembered sign-ins (default 1000; the oldest goes first). */
  cacheMax?: number;
  clock?: () => number;
  /** The hash check itself (tests count the calls); default bcryptjs / apache-md5 / SHA-1. */
  checkHash?: (kind: Kind, hash: string, password: string) => boolean;
}

function kindOf(hash: string): Kind | undefined {
  if (/^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return 'bcrypt';
  if (/^\$apr1\$[^$]{1,8}\$[./A-Za-z0-9]{22}$/.test(hash)) return 'apr1';
  if (/^\{SHA\}[A-Za-z0-9+/]{27}=$/.test(hash)) return 'sha';
  return undefined;
}

function same(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

function check(kind: Kind, hash: string, password: string): boolean {
  switch (kind) {
    case 'bcrypt':
      // bcryptjs knows $2a$/$2b$; Apache writes $2y$, the same algorithm.
      return bcrypt.compareSync(password, hash.replace(/^\$2[xy]\$/, '$2b$'));
    case 'apr1':
      return same(apacheMd5(password, hash), hash);
    case 'sha':
      return same(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, hash);
  }
}

/** Parses htpasswd text; `source` names the file in errors. */
export function parseHtpasswd(text: string, source: string, options: HtpasswdOptions = {}): Htpasswd {
  const entries = new Map<string, { kind: Kind; hash: string }>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const where = `${source}:${i + 1}`;
    if (colon <= 0) throw new InputError(`${where}: expected "user:hash"`, '--auth');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    const kind = kindOf(hash);
    if (!kind) throw new InputError(`${where}: user "${user}" has a hash of a kind not supported (use bcrypt: htpasswd -B)`, '--auth');
    if (entries.has(user)) throw new InputError(`${where}: user "${user}" appears twice`, '--auth');
    entries.set(user, { kind, hash });
  });
  if (entries.size === 0) throw new InputError(`${source} names no users`, '--auth');
  // Unknown users are checked against a dummy bcrypt hash, so a login costs the same either way.
  const dummy = { kind: 'bcrypt' as const, hash: bcrypt.hashSync('not a password', 4) };
  const checkHash = options.checkHash ?? check;
  const ttl = options.cacheTtlMs ?? 60_000;
  const max = options.cacheMax ?? 1000;
  const clock = options.clock ?? Date.now;
  const secret = randomBytes(32);
  /** `user NUL hmac(password)` → when it expires; Map order is insertion order (oldest first). */
  const remembered = new Map<string, number>();
  return {
    verify(user, password) {
      const entry = entries.get(user);
      const key = ttl > 0 && entry ? `${user}\0${createHmac('sha256', secret).update(password, 'utf8').digest('base64')}` : undefined;
      if (key !== undefined) {
        const until = remembered.get(key);
        if (until !== undefined && until > clock()) return true;
        if (until !== undefined) remembered.delete(key);
      }
      const ok = checkHash((entry ?? dummy).kind, (entry ?? dummy).hash, password);
      if (entry === undefined || !ok) return false;
      if (key !== undefined) {
        remembered.delete(key);
        remembered.set(key, clock() + ttl);
        while (remembered.size > max) remembered.delete(remembered.keys().next().value!);
      }
      return true;
    },
    users: () => [...entries.keys()],
  };
}

export function readHtpasswd(path: string, options?: HtpasswdOptions): Htpasswd {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, '--auth');
  }
  return parseHtpasswd(text, path, options);
}
