/**
 * Request bodies: read with a hard size limit (413 beyond it, before the whole body is
 * buffered), then decoded as JSON or kept as text for spec documents (YAML, JSON, JSON5, KDL).
 */
import type { IncomingMessage } from 'node:http';
import { TooLargeError } from '../errors.js';
import { formatOfMediaType, SPEC_MEDIA_TYPES } from '../spec/formats.js';
import { BadRequestError, UnsupportedMediaTypeError } from './errors.js';

export const DEFAULT_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/** Reads the raw body, failing with TooLargeError as soon as it passes `limit` bytes. */
export async function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume(); // drain in the background so the connection can answer 413
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        req.resume();
        throw tooLarge(limit);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    // The client hung up mid-body: its mistake (nobody is left to read the 400), not a server error.
    if (!(err instanceof TooLargeError) && (req.destroyed || (err as NodeJS.ErrnoException).code === 'ECONNRESET')) {
      throw new BadRequestError('the request body was cut short: the client closed the connection', 'body');
    }
    throw err;
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limit: number): TooLargeError {
  return new TooLargeError(`request body exceeds the limit of ${limit} bytes`, 'body');
}

const JSON_TYPES = new Set(['application/json', 'text/json']);

/** The media type without parameters, lower case; '' when the header is absent. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Decodes a JSON body. An empty body is `undefined` (routes whose body is optional accept
 * that). A body without a Content-Type is read as JSON, as curl users expect.
 */
export function decodeJson(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const type = mediaType(contentType);
  if (type !== '' && !JSON_TYPES.has(type)) {
    throw new UnsupportedMediaTypeError(`expected a JSON body (application/json), got "${type}"`);
  }
  const text = decodeUtf8(raw);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`invalid JSON: ${(err as Error).message}`, 'body');
  }
}

/** Decodes a text body (a spec document in one of the media types of SPEC_MEDIA_TYPES). */
export function decodeText(raw: Buffer, contentType: string | undefined): string {
  const type = mediaType(contentType);
  if (formatOfMediaType(type) === undefined) {
    throw new UnsupportedMediaTypeError(`expected a workflow spec body (${Object.keys(SPEC_MEDIA_TYPES).join(', ')}), got "${type}"`);
  }
  return decodeUtf8(raw);
}

function decodeUtf8(raw: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new BadRequestError('body is not valid UTF-8', 'body');
  }
}
