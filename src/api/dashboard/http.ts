/**
 * The dashboard beside the API's route table: its pages and assets at `/` (built into
 * dist/web by `npm run build`; everything local, no CDN), and the server-sent event streams
 * that drive it:
 *   GET /torc-service/v1/workflows/{id}/events/stream   a workflow's changes (hub.ts)
 *   GET /torc-service/v1/dashboard/stream               which workflows changed
 *   GET /torc-service/v1/jobs/{id}/stdio/follow         a running attempt's output as it grows
 * Pages carry a Content-Security-Policy that allows only this origin's scripts and styles.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';
import { stdioOwner } from '../../store/dashboard.js';
import { JobStatus } from '../../contract/status.js';
import { BadRequestError } from '../errors.js';
import { maskSecrets } from '../mask.js';
import { BASE_PATH } from '../route.js';
import type { DashboardService } from './service.js';
import { followStdio } from './follow.js';
import type { StdioStream } from './stdio.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Page paths the single-page app handles (the API lives under BASE_PATH). */
const PAGE_PATHS = [/^\/$/, /^\/index\.html$/, /^\/workflows\/\d{1,15}\/?$/, /^\/jobs\/\d{1,15}\/?$/];

/** dist/web of this package (found from this file, compiled in dist/ or run from src/ by tsx). */
export function webRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'web');
    dir = path.dirname(dir);
  }
  return path.join(process.cwd(), 'dist', 'web');
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Every file under the web root, read once: only these names are ever served. */
function loadAssets(root: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, `${prefix}${entry.name}/`);
      else if (entry.isFile() && TYPES[path.extname(entry.name)]) {
        const body = readFileSync(full);
        out.set(`/${prefix}${entry.name}`, { body, type: TYPES[path.extname(entry.name)]!, etag: `"${statSync(full).mtimeMs.toString(36)}-${body.length.toString(36)}"` });
      }
    }
  };
  if (existsSync(root)) walk(root, '');
  return out;
}

const NOT_BUILT = Buffer.from(
  '<!doctype html><meta charset="utf-8"><title>torc</title><body style="font-family:sans-serif;padding:2rem">' +
    '<h1>torc dashboard</h1><p>The dashboard assets are not built. Run <code>npm run build</code> in the torc-ts checkout, then reload.</p>' +
    '<p>The REST API is at <a href="/torc-service/v1/openapi.json">/torc-service/v1</a>.</p>',
);

/** Most bytes queued for one slow stream reader before the stream is closed (the page reconnects and re-reads). */
const MAX_STREAM_BACKLOG = 4 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;

interface Sse {
  send(event: string, data: unknown): void;
  close(): void;
  closed: Promise<void>;
}

function openSse(ctx: Koa.Context): Sse {
  const res = ctx.res;
  const socket = ctx.req.socket;
  socket.setTimeout(0);
  socket.setNoDelay(true);
  ctx.status = 200;
  ctx.respond = false;
  res.writeHead(200, {
    ...PAGE_HEADERS,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  res.write('retry: 2000\n\n');
  let done = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const finish = () => {
    if (done) return;
    done = true;
    clearInterval(heartbeat);
    resolveClosed();
  };
  const write = (text: string) => {
    if (done) return;
    if (res.writableLength > MAX_STREAM_BACKLOG) {
      res.destroy();
      finish();
      return;
    }
    res.write(text);
  };
  ctx.req.on('close', finish);
  res.on('close', finish);
  res.on('error', finish);
  return {
    send: (event, data) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
    close: () => {
      if (!done) res.end();
      finish();
    },
    closed,
  };
}

function routeId(match: RegExpExecArray): number {
  const id = Number(match[1]);
  if (!Number.isSafeInteger(id)) throw new BadRequestError('expected an integer', 'id');
  return id;
}

export const WORKFLOW_STREAM = new RegExp(`^${BASE_PATH}/workflows/(\\d{1,15})/events/stream$`);
export const LIST_STREAM = `${BASE_PATH}/dashboard/stream`;
export const FOLLOW_STREAM = new RegExp(`^${BASE_PATH}/jobs/(\\d{1,15})/stdio/follow$`);

export function dashboardMiddleware(service: DashboardService): Koa.Middleware {
  const root = webRoot();
  let assets: Map<string, Asset> | undefined;
  const asset = (p: string) => (assets ??= loadAssets(root)).get(p);
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const p = ctx.path;
    if (p.startsWith(BASE_PATH)) {
      let m: RegExpExecArray | null;
      if ((m = WORKFLOW_STREAM.exec(p))) return streamWorkflow(ctx, service, routeId(m));
      if (p === LIST_STREAM) return streamList(ctx, service);
      if ((m = FOLLOW_STREAM.exec(p))) return followStdioRoute(ctx, service, routeId(m));
      return next();
    }
    const page = PAGE_PATHS.some((re) => re.test(p));
    const file = page ? asset('/index.html') : asset(p);
    if (!file) {
      if (!page) return next();
      ctx.status = 200;
      ctx.set(PAGE_HEADERS);
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = NOT_BUILT;
      return;
    }
    ctx.set(PAGE_HEADERS);
    ctx.set('Cache-Control', page ? 'no-cache' : 'public, max-age=300');
    ctx.set('ETag', file.etag);
    if (ctx.get('If-None-Match') === file.etag) {
      ctx.status = 304;
      return;
    }
    ctx.status = 200;
    ctx.type = file.type;
    ctx.body = file.body;
  };
}

function noQuery(ctx: Koa.Context, allowed: string[]): void {
  for (const name of Object.keys(ctx.query)) {
    if (!allowed.includes(name)) throw new BadRequestError(`unknown query parameter (this route takes: ${allowed.join(', ') || 'none'})`, name);
  }
}

function queryInt(ctx: Koa.Context, name: string, min: number): number | undefined {
  const raw = ctx.query[name];
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw) || Number(raw) < min) throw new BadRequestError(`expected a whole number ≥ ${min}`, name);
  return Number(raw);
}

async function streamWorkflow(ctx: Koa.Context, service: DashboardService, workflowId: number): Promise<void> {
  noQuery(ctx, []);
  await service.store.getWorkflow(workflowId); // 404 before the stream opens
  // A viewer who may not write the workflow gets its events' secrets masked, as in GET /events.
  const mask = (ctx.state as { maskSecrets?: boolean }).maskSecrets === true;
  const sse = openSse(ctx);
  let unsubscribe: (() => void) | undefined;
  try {
    unsubscribe = await service.hub.subscribeWorkflow(workflowId, { send: (e, d) => (e === 'close' ? sse.close() : sse.send(e, mask ? maskSecrets(d) : d)) });
  } catch (err) {
    sse.send('error', { message: (err as Error).message });
    sse.close();
    return;
  }
  await sse.closed;
  unsubscribe();
}

async function streamList(ctx: Koa.Context, service: DashboardService): Promise<void> {
  noQuery(ctx, []);
  const sse = openSse(ctx);
  let unsubscribe: (() => void) | undefined;
  try {
    unsubscribe = await service.hub.subscribeList({ send: (e, d) => (e === 'close' ? sse.close() : sse.send(e, d)) });
  } catch (err) {
    sse.send('error', { message: (err as Error).message });
    sse.close();
    return;
  }
  await sse.closed;
  unsubscribe();
}

/**
 * Streams what is appended to a running attempt's stdout/stderr (`data` events with the text
 * and its byte range), then `end` once the attempt is over (follow.ts); the live hub tells when
 * the job's status changes.
 */
async function followStdioRoute(ctx: Koa.Context, service: DashboardService, jobId: number): Promise<void> {
  noQuery(ctx, ['stream', 'attempt', 'offset']);
  const streamName = (ctx.query.stream ?? 'stdout') as string;
  if (streamName !== 'stdout' && streamName !== 'stderr') throw new BadRequestError('expected stdout or stderr', 'stream');
  const stream = streamName as StdioStream;
  const attempt = queryInt(ctx, 'attempt', 1);
  const offset = queryInt(ctx, 'offset', 0) ?? 0;
  const owner = await stdioOwner(service.store.db, jobId, attempt); // 404 before the stream opens
  const sse = openSse(ctx);
  const follow = followStdio(
    service.store.db,
    owner,
    stream,
    offset,
    {
      data: (chunk) => sse.send('data', chunk),
      unavailable: (reason, running) => sse.send('unavailable', { reason, running }),
      end: (running) => sse.send('end', { running }),
    },
    (check) =>
      service.hub.subscribeWorkflow(owner.workflow_id, {
        send: (e) => {
          if (e === 'close') sse.close();
        },
        onJob: (id, status) => {
          if (id === jobId) check(status);
        },
      }),
    (status) => status === JobStatus.running || status === JobStatus.pending,
  );
  void sse.closed.then(() => follow.stop());
  await follow.done;
  sse.close();
}
