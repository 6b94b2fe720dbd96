/**
 * The koa application: error mapping, access log, routing from the route table, bearer auth,
 * size-limited body parsing and strict parameter decoding. Binding 127.0.0.1 by default.
 */
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Koa from 'koa';
import Router from '@koa/router';
import type { Store } from '../store/index.js';
import { AccessControl, policyOf, type AccessOptions, type Principal } from './access-control.js';
import { maskSecrets } from './mask.js';
import { DEFAULT_BODY_LIMIT_BYTES, decodeJson, decodeText, mediaType, readRawBody } from './body.js';
import { StorageFault } from '../errors.js';
import { BadRequestError, TooManyAttemptsError, toErrorResponse } from './errors.js';
import { decodeParams } from './params.js';
import { BASE_PATH, routerPath, type Route } from './route.js';
import { dashboardMiddleware } from './dashboard/http.js';
import { DashboardService } from './dashboard/service.js';
import { apiRoutes, type ApiDeps } from './routes/index.js';
import { SchemaRegistry } from './validate.js';
import { COMPONENTS } from './schemas.js';

export interface ApiLogger {
  info(line: string): void;
  error(line: string): void;
}

export const silentLogger: ApiLogger = { info() {}, error() {} };

const stderrLogger: ApiLogger = {
  info() {},
  error(line) {
    process.stderr.write(`${line}\n`);
  },
};

export interface AppOptions {
  store: Store;
  /**
   * The bearer token (runners, workers, the reconcile loop): when set, every route but ping,
   * version, the OpenAPI document and the dashboard's config needs it (or a user's sign-in).
   */
  token?: string;
  /** Users (htpasswd), admins, public reads and the failed-sign-in limit; see access-control.ts. */
  auth?: Omit<AccessOptions, 'token' | 'log'>;
  bodyLimitBytes?: number;
  logger?: ApiLogger;
  /**
   * Compile the body schemas on first use instead of at startup (~0.4 s of a CLI start-up on a
   * busy 2-core machine): for `torc reconcile`, whose API mostly idles beside the local runner.
   */
  lazySchemas?: boolean;
  /** Serve the web dashboard at `/` and its event streams (default true). */
  dashboard?: boolean;
  /**
   * Called after every mutating request that succeeded, with its path: a controller serving
   * this API (the Kubernetes operator) reconciles the workflow at once instead of at its next
   * resync.
   */
  onMutation?: (path: string) => void;
}

/** The API app; with a dashboard service, also the dashboard's pages, routes and streams. */
export function createApp(options: AppOptions, dashboard?: DashboardService): Koa {
  const deps: ApiDeps = { store: options.store, dashboard };
  const logger = options.logger ?? stderrLogger;
  const access = new AccessControl(options.store, { ...options.auth, token: options.token, log: (line) => logger.error(line) });
  return buildApp(apiRoutes(), deps, { ...options, access, middleware: dashboard ? [dashboardMiddleware(dashboard)] : [] });
}

/** Builds the app from any route table (createApp passes the API's). */
export function buildApp<D>(routes: Route<D>[], deps: D, options: Omit<AppOptions, 'store'> & { middleware?: Koa.Middleware[]; access?: AccessControl }): Koa {
  const app = new Koa();
  app.silent = true; // errors are answered and logged by our own middleware
  const logger = options.logger ?? stderrLogger;
  const limit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const access = options.access;
  const schemas = new SchemaRegistry(COMPONENTS, { eager: !options.lazySchemas });
  const faults = new FaultLog(logger);

  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        const say = (status: number, message: string) => ({ message, error: { message }, code: status });
        if (ctx.status === 404) {
          ctx.status = 404;
          ctx.body = say(404, `no route ${ctx.method} ${ctx.path}`);
        } else if (ctx.status === 405) {
          ctx.body = say(405, `method ${ctx.method} not allowed on ${ctx.path}; allowed: ${ctx.response.get('Allow')}`);
        } else if (ctx.status === 501) {
          ctx.status = 405;
          ctx.body = say(405, `method ${ctx.method} not supported`);
        }
      }
    } catch (err) {
      const res = toErrorResponse(err, (ctx.state as { inputErrorStatus?: number }).inputErrorStatus);
      if (res.internal) logger.error(`${ctx.method} ${ctx.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (err instanceof StorageFault) faults.log(err);
      ctx.status = res.status;
      ctx.body = res.body;
      if (res.status === 401 && access) ctx.set('WWW-Authenticate', access.challengeFor(ctx.get('X-Requested-With')));
      if (err instanceof TooManyAttemptsError) ctx.set('Retry-After', String(err.retryAfterSeconds));
      // After a body was cut short, the rest of it is still on the wire: do not reuse the connection.
      if (res.status === 413) ctx.set('Connection', 'close');
    }
    if (options.onMutation && ctx.status < 400 && !['GET', 'HEAD', 'OPTIONS'].includes(ctx.method)) {
      try {
        options.onMutation(ctx.path);
      } catch (err) {
        logger.error(`onMutation ${ctx.path}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    // Path only: no headers (tokens) and no query string.
    logger.info(`${ctx.method} ${ctx.path} ${ctx.status} ${ms.toFixed(1)}ms`);
  });

  if (access) app.use(access.middleware());
  for (const m of options.middleware ?? []) app.use(m);

  const router = new Router({ prefix: BASE_PATH });
  for (const route of routes) {
    // Every operation has a rule, or the server does not start (policyOf throws).
    const policy = access ? policyOf(route) : undefined;
    router.register(routerPath(route.path), [route.method], async (ctx) => {
      ctx.state.inputErrorStatus = route.inputErrorStatus ?? 400;
      ctx.body = await dispatch(route, ctx, deps, { access, policy, limit, schemas });
      ctx.status = route.response.status;
    });
  }
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

interface DispatchContext {
  access: AccessControl | undefined;
  policy: ReturnType<typeof policyOf> | undefined;
  limit: number;
  schemas: SchemaRegistry;
}

async function dispatch<D>(route: Route<D>, ctx: Koa.Context, deps: D, dc: DispatchContext): Promise<unknown> {
  // Auth first: an unauthenticated caller gets nothing parsed or looked up.
  const principal = (ctx.state as { principal?: Principal }).principal ?? { kind: 'open' };
  if (dc.access && dc.policy) dc.access.gate(dc.policy, principal, route.mutating);
  const params = decodeParams(route.params ?? [], (ctx as unknown as { params: Record<string, string> }).params ?? {}, ctx.query);
  const known = new Set((route.params ?? []).filter((s) => s.in === 'query').map((s) => s.name));
  for (const name of Object.keys(ctx.query)) {
    if (!known.has(name)) throw new BadRequestError(`unknown query parameter (this route takes: ${[...known].join(', ') || 'none'})`, name);
  }
  let body: unknown;
  const raw = await readRawBody(ctx.req, dc.limit);
  if (route.body?.kind === 'text') {
    body = decodeText(raw, ctx.get('Content-Type') || undefined);
    if (route.body.required && (body as string).trim() === '') throw new BadRequestError('required', 'body');
  } else if (route.body?.kind === 'json') {
    body = decodeJson(raw, ctx.get('Content-Type') || undefined);
    if (body === undefined) {
      if (route.body.required) throw new BadRequestError('required', 'body');
    } else if (route.body.schema && route.body.validatedBy !== 'handler') {
      dc.schemas.check(route.body.schema, body);
    }
  } else if (raw.length > 0) {
    // torc clients send `{}` to body-less routes; tolerate JSON, but it must be JSON.
    decodeJson(raw, ctx.get('Content-Type') || undefined);
  }
  const grant = dc.access && dc.policy ? await dc.access.authorize(dc.policy, principal, params, body) : { mask: false };
  const answer = await route.handler({ deps, params, body, grant, mediaType: mediaType(ctx.get('Content-Type') || undefined) });
  return grant.mask ? maskSecrets(answer) : answer;
}

/**
 * A fault of the machine under the database (disk full, damaged file) is answered 503 to every
 * request it hits (runners keep their reports and try again); the log says it once a minute
 * per kind, not once per request.
 */
class FaultLog {
  private readonly last = new Map<string, number>();
  constructor(private readonly logger: ApiLogger) {}
  log(fault: StorageFault): void {
    const now = Date.now();
    if (now - (this.last.get(fault.kind) ?? -Infinity) < 60_000) return;
    this.last.set(fault.kind, now);
    this.logger.error(`database fault (requests answered 503 until it is fixed): ${fault.message}`);
  }
}

export interface RunningServer {
  url: string;
  /** http://host:port/torc-service/v1 */
  baseUrl: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export interface ServerOptions extends AppOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /**
   * How often to retire compute nodes whose lease ran out (their jobs go back to ready), so
   * that work held by a dead external runner is not stuck. 0 turns it off. Default 5000 ms.
   */
  leaseSweepMs?: number;
  /** Serve HTTPS with this PEM certificate and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? stderrLogger;
  // The time this server was down is not held against the runners' leases (issue 24).
  await options.store.resumeLeases();
  const dashboard =
    options.dashboard === false
      ? undefined
      : new DashboardService(options.store, {
        authRequired: options.token !== undefined || options.auth?.users !== undefined,
        users: options.auth?.users !== undefined,
        publicRead: options.auth?.publicRead === true,
        logError: (line) => logger.error(line) });
  const app = createApp(options, dashboard);
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, app.callback()) : createHttpServer(app.callback());
  server.listen({ host, port: options.port ?? 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Guard against slow-loris style clients holding sockets forever.
  server.headersTimeout = 66_000; // above keepAliveTimeout, as Node advises
  server.requestTimeout = 300_000;
  // Idle keep-alive connections stay open well past a busy client's next request: with Node's
  // 5 s default a client could send a POST on a socket the server was closing at that moment and
  // get a reset ('fetch failed'; seen under load). Clients honour the advertised timeout.
  server.keepAliveTimeout = 65_000;
  const sweepMs = options.leaseSweepMs ?? 5000;
  let sweeping: Promise<unknown> | undefined;
  const sweeper =
    sweepMs > 0
      ? setInterval(() => {
          if (sweeping) return; // a slow sweep is never stacked
          sweeping = options.store
            .expireLeases()
            .then((out) => {
              if (out.expired_compute_node_ids.length > 0) {
                logger.info(`leases expired: compute nodes ${out.expired_compute_node_ids.join(', ')}; ${out.requeued_jobs} jobs back to ready`);
              }
            })
            .catch((err: unknown) => logger.error(`lease sweep failed: ${err instanceof Error ? err.message : String(err)}`))
            .finally(() => (sweeping = undefined));
        }, sweepMs)
      : undefined;
  sweeper?.unref();
  let closing: Promise<void> | undefined;
  const closeServer = async () => {
    if (sweeper) clearInterval(sweeper);
    // Ends the live streams (they would hold server.close open) and removes the change feed.
    await dashboard?.close();
    await new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
    await sweeping;
  };
  const port = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const url = `${options.tls ? 'https' : 'http'}://${hostPart}:${port}`;
  return {
    url,
    baseUrl: `${url}${BASE_PATH}`,
    port,
    server,
    close: () => (closing ??= closeServer()),
  };
}
