/**
 * Bearer-token check for mutating routes. Both sides are hashed to equal-length SHA-256
 * digests and compared with timingSafeEqual, so neither the token's content nor its length
 * leaks through response timing. The token itself is never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from './errors.js';

export interface TokenChecker {
  /** Throws UnauthorizedError unless the Authorization header carries the configured token. */
  check(authorization: string | undefined): void;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function tokenChecker(token: string): TokenChecker {
  if (token.length === 0) throw new Error('an API token must not be empty');
  const expected = digest(token);
  return {
    check(authorization) {
      const match = /^Bearer[ \t]+(.+)$/i.exec(authorization ?? '');
      // Compare even when the header is missing, so both paths cost the same.
      const given = digest(match ? match[1]!.trim() : '');
      const ok = timingSafeEqual(given, expected);
      if (!match || !ok) throw new UnauthorizedError();
    },
  };
}
