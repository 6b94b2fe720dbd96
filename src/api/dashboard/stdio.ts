/**
 * Reading a job attempt's stdout/stderr for the dashboard. The file is never named by the
 * request: its path is built from what the store says — the output directory the runner of
 * that attempt registered, and the job id and attempt number (integers) — as
 * `<output_dir>/job_stdio/job_<id>_<attempt>.o|e`, the runners' own naming. It is opened
 * without following a final symlink and only when it is a regular file whose directory is that
 * output directory's job_stdio (no symlinked job_stdio leading elsewhere).
 */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { StdioOwner } from '../../store/dashboard.js';

export type StdioStream = 'stdout' | 'stderr';

export const DEFAULT_STDIO_BYTES = 64 * 1024;
export const MAX_STDIO_BYTES = 1024 * 1024;

export interface StdioChunk {
  available: boolean;
  /** Why there is nothing to show (no output directory reported, no file yet, …). */
  reason: string | null;
  attempt_id: number;
  hostname: string | null;
  /** The job still runs this attempt: the file may grow. */
  running: boolean;
  /** File size in bytes when read. */
  size: number;
  /** Byte offset of `text` in the file, and where the next read should start. */
  offset: number;
  next_offset: number;
  text: string;
}

export function stdioPath(owner: StdioOwner, stream: StdioStream): string | null {
  const dir = owner.output_dir;
  if (!dir || !path.isAbsolute(dir) || dir.includes('\0')) return null;
  return path.join(path.resolve(dir), 'job_stdio', `job_${owner.job_id}_${owner.attempt}.${stream === 'stdout' ? 'o' : 'e'}`);
}

function unavailable(owner: StdioOwner, reason: string): StdioChunk {
  return { available: false, reason, attempt_id: owner.attempt, hostname: owner.hostname, running: owner.running, size: 0, offset: 0, next_offset: 0, text: '' };
}

/** Opens the attempt's file for reading, or says why not. The caller closes the handle. */
export async function openStdio(owner: StdioOwner, stream: StdioStream): Promise<{ handle: fs.FileHandle; file: string } | { reason: string }> {
  if (owner.compute_node_id === null) return { reason: owner.running ? 'the job has not started on a compute node yet' : 'this attempt never ran on a compute node' };
  const file = stdioPath(owner, stream);
  if (file === null) return { reason: `the runner on ${owner.hostname ?? 'its compute node'} did not report where it writes job output` };
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { reason: `no ${stream} file on this server for attempt ${owner.attempt} (it ran on ${owner.hostname ?? 'another host'})` };
    if (code === 'ELOOP') return { reason: `the ${stream} file is a symbolic link; not shown` };
    if (code === 'EACCES' || code === 'EPERM') return { reason: `the ${stream} file is not readable by the server` };
    return { reason: `the ${stream} file cannot be opened (${code ?? 'error'})` };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error('not a regular file');
    const [realDir, realOutput] = await Promise.all([fs.realpath(path.dirname(file)), fs.realpath(owner.output_dir!)]);
    if (realDir !== path.join(realOutput, 'job_stdio')) throw new Error('outside the output directory');
  } catch (err) {
    await handle.close();
    return { reason: `the ${stream} file is not shown: ${(err as Error).message}` };
  }
  return { handle, file };
}

/** Bytes that end in the middle of a UTF-8 sequence are left for the next read. */
export function completeUtf8Length(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/** Continuation bytes at the start of a read that began inside a sequence. */
function leadingContinuations(buf: Buffer): number {
  let k = 0;
  while (k < Math.min(3, buf.length) && (buf[k]! & 0xc0) === 0x80) k++;
  return k;
}

/**
 * Reads a range: from `offset`, or with `tail` the last `maxBytes`. Text is decoded as UTF-8
 * (invalid bytes become U+FFFD); a sequence cut by the range is left for the next read.
 */
export async function readStdioChunk(handle: fs.FileHandle, start: { offset?: number; tail?: boolean }, maxBytes: number): Promise<{ size: number; offset: number; next_offset: number; text: string }> {
  const st = await handle.stat();
  const size = st.size;
  let offset = start.tail ? Math.max(0, size - maxBytes) : Math.min(Math.max(0, start.offset ?? 0), size);
  const length = Math.min(maxBytes, size - offset);
  if (length <= 0) return { size, offset, next_offset: offset, text: '' };
  const buf = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buf, 0, length, offset);
  let view = buf.subarray(0, bytesRead);
  if (offset > 0) {
    const skip = leadingContinuations(view);
    view = view.subarray(skip);
    offset += skip;
  }
  const usable = completeUtf8Length(view);
  return { size, offset, next_offset: offset + usable, text: view.subarray(0, usable).toString('utf8') };
}

export async function readStdio(owner: StdioOwner, stream: StdioStream, start: { offset?: number; tail?: boolean }, maxBytes: number): Promise<StdioChunk> {
  const opened = await openStdio(owner, stream);
  if ('reason' in opened) return unavailable(owner, opened.reason);
  try {
    const chunk = await readStdioChunk(opened.handle, start, maxBytes);
    return { available: true, reason: null, attempt_id: owner.attempt, hostname: owner.hostname, running: owner.running, ...chunk };
  } finally {
    await opened.handle.close();
  }
}
