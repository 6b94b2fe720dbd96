/**
 * A Kubernetes API server fake over real HTTP on 127.0.0.1, speaking the wire format that
 * @kubernetes/client-node (and kubectl-style clients) expect for what the operator uses:
 * discovery, list (`kind: XList`, metadata.resourceVersion), chunked watch streams
 * (ADDED / MODIFIED / DELETED / BOOKMARK, ERROR 410 for a too-old resourceVersion), create,
 * get, update (PUT), merge / JSON patch, delete, deletecollection, the status subresource and
 * pod logs. Every request is recorded (RBAC verb, resource, namespace) for coverage checks, and
 * tests can force watch expiry, close streams, send bookmarks and inject failures.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { aggregatedContentType, aggregatedDiscovery, legacyDiscovery, wantsAggregated } from './discovery.js';
import { ApiError, gone, invalid } from './errors.js';
import { coreToEventsV1, eventsV1Selector, eventsV1ToCore } from './event-view.js';
import { managerName } from './managed-fields.js';
import { documentHash, openApiV2, openApiV3, openApiV3Index } from './openapi.js';
import { encodeOpenApiV2 } from './openapi-proto.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import { fieldSelector, labelSelector } from './selectors.js';
import { ClusterStore, type DeleteOptions, type StoreEvent, type WriteOptions } from './store.js';
import { toTable, wantsTable } from './table.js';
import { validateObject, type Obj } from './validation.js';

export interface RecordedRequest {
  /** RBAC verb: get, list, watch, create, update, patch, delete, deletecollection. */
  verb: string;
  method: string;
  /** API group ('' for core). */
  group: string;
  /** RBAC resource, subresource included: pods, workflows/status, pods/log. Empty for non-resource URLs. */
  resource: string;
  namespace: string | null;
  name: string | null;
  path: string;
  /** Response status code (200 for watches that opened). */
  code: number;
  /** The bearer token the client sent (the fake's notion of a user), or null. */
  user: string | null;
}

export interface Fault {
  match: (r: Omit<RecordedRequest, 'code'>) => boolean;
  code: number;
  /** How many matching requests fail; Infinity for all. */
  times: number;
  message?: string;
}

interface OpenWatch {
  rt: ResourceType;
  namespace: string | null;
  bookmarks: boolean;
  send: (type: string, object: unknown) => void;
  end: () => void;
}

export interface FakeApiServerOptions {
  store?: ClusterStore;
  /** Period of BOOKMARK events on watches that allow them; 0 = only on sendBookmarks(). */
  bookmarkIntervalMs?: number;
}

interface Route {
  rt: ResourceType;
  namespace: string | null;
  name: string | null;
  subresource: string | null;
}

/**
 * Provided by a kubelet: its stats summary (the Summary API, GET /stats/summary, reached through
 * the API server's node proxy), or undefined when no kubelet serves the node.
 */
export type StatsSource = (node: string) => unknown;

/** Provided by a kubelet: a pod's container output for GET pods/log. */
export type LogSource = (namespace: string, name: string) => string | undefined;

/**
 * Provided by a kubelet for `kubectl logs -f`: calls onData with new output and onEnd when the
 * container exits; returns a function that stops following, or null when the pod runs no more.
 */
export type LogFollower = (namespace: string, name: string, onData: (chunk: string) => void, onEnd: () => void) => (() => void) | null;

/** The parameters every write honours (?dryRun=All&fieldManager=…&fieldValidation=…&force=…). */
interface WriteParams {
  dryRun: boolean;
  manager: string | undefined;
  fieldValidation: WriteOptions['fieldValidation'];
  force: boolean;
  warnings: string[];
}

export class FakeApiServer {
  readonly store: ClusterStore;
  readonly requests: RecordedRequest[] = [];
  /** TCP connections accepted (clients that reuse connections open few). */
  connections = 0;
  private server: Server | null = null;
  private readonly watches = new Set<OpenWatch>();
  private readonly faults: Fault[] = [];
  private readonly bookmarkIntervalMs: number;
  logSource: LogSource = () => undefined;
  logFollower: LogFollower = () => null;
  statsSource: StatsSource = () => undefined;
  url = '';

  constructor(opts: FakeApiServerOptions = {}) {
    this.store = opts.store ?? new ClusterStore();
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 0;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
    this.server.on('connection', () => { this.connections++; });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const w of [...this.watches]) w.end();
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A KubeConfig for @kubernetes/client-node pointing at this server; `user` is sent as the bearer token and recorded. */
  kubeConfig(namespace = 'default', user = 'test'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake-user', token: user }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user', namespace }],
      currentContext: 'fake',
    });
    return kc;
  }

  // ---- test hooks -------------------------------------------------------------------------

  /** Fails the next `times` requests that match with `code` (a Status body). */
  injectFault(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  openWatches(plural?: string): number {
    return [...this.watches].filter((w) => !plural || w.rt.plural === plural).length;
  }

  /**
   * What the API server does when its watch cache can no longer serve a client: every open watch
   * (of `plural`, or all) gets `ERROR` with a 410 Status and is closed, and the history is
   * compacted so a reconnect from the old resourceVersion gets 410 again (forcing a relist).
   */
  expireWatches(plural?: string): void {
    this.store.compact();
    const status = gone('too old resource version: compacted').toStatus();
    for (const w of [...this.watches]) {
      if (plural && w.rt.plural !== plural) continue;
      w.send('ERROR', status);
      w.end();
    }
  }

  /** Ends open watch streams cleanly, as a server-side timeout does. */
  closeWatches(plural?: string): void {
    for (const w of [...this.watches]) if (!plural || w.rt.plural === plural) w.end();
  }

  sendBookmarks(): void {
    for (const w of this.watches) if (w.bookmarks) this.sendBookmark(w);
  }

  /** Requests recorded so far, optionally filtered. */
  calls(filter: Partial<RecordedRequest> = {}): RecordedRequest[] {
    return this.requests.filter((r) => Object.entries(filter).every(([k, v]) => (r as unknown as Record<string, unknown>)[k] === v));
  }

  // ---- request handling -------------------------------------------------------------------

  private fail(res: ServerResponse, err: unknown): void {
    const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.stack ?? String(err)}`);
    if (res.headersSent) {
      res.end();
      return;
    }
    this.json(res, e.code, e.toStatus());
  }

  private json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** Warning headers, as the real server sends them (kubectl prints "Warning: …"). */
  private warningHeaders(warnings: string[]): Record<string, string[]> {
    return warnings.length ? { Warning: [...new Set(warnings)].map((w) => `299 - ${JSON.stringify(w)}`) } : {};
  }

  private async readBody(req: IncomingMessage, yaml = false): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (/application\/vnd\.kubernetes\.protobuf/.test(String(req.headers['content-type'] ?? ''))) {
      // Typed kubectl commands (create namespace, …) send protobuf; the fake speaks JSON only.
      throw new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (this test server does not decode protobuf)');
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text.trim()) return undefined;
    if (yaml) return text; // apply-patch+yaml: parsed by the store (YAML or JSON)
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, 'BadRequest', `couldn't get version/kind; json parse error: ${(err as Error).message}`);
    }
  }

  private route(group: string, version: string, segs: string[]): Route | null {
    const types = this.store.types.filter((t) => t.group === group && t.version === version);
    if (segs[0] === 'namespaces' && segs.length >= 3) {
      const rt = types.find((t) => t.plural === segs[2] && t.namespaced);
      if (rt && segs.length <= 5) return { rt, namespace: segs[1]!, name: segs[3] ?? null, subresource: segs[4] ?? null };
    }
    const rt = types.find((t) => t.plural === segs[0]);
    if (!rt || segs.length > 3) return null;
    return { rt, namespace: null, name: segs[1] ?? null, subresource: segs[2] ?? null };
  }

  private checkFault(call: Omit<RecordedRequest, 'code'>): void {
    const i = this.faults.findIndex((f) => f.times > 0 && f.match(call));
    if (i < 0) return;
    const f = this.faults[i]!;
    f.times--;
    if (f.times <= 0) this.faults.splice(i, 1);
    const reason = f.code === 409 ? 'Conflict' : f.code === 429 ? 'TooManyRequests' : f.code >= 500 ? 'InternalError' : 'BadRequest';
    throw new ApiError(f.code, reason, f.message ?? `injected failure for ${call.verb} ${call.resource}`);
  }

  /** GET /openapi/v2 (JSON or protobuf), /openapi/v3 (index) and /openapi/v3/GROUP-VERSION. */
  private serveOpenApi(req: IncomingMessage, res: ServerResponse, path: string, q: URLSearchParams): boolean {
    const accept = String(req.headers.accept ?? '');
    if (path === '/openapi/v2') {
      const doc = openApiV2(this.store.types);
      if (/application\/com\.github\.proto-openapi\.spec\.v2[@.]v1\.0\+protobuf/.test(accept)) {
        const body = encodeOpenApiV2(doc);
        res.writeHead(200, { 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', 'Content-Length': body.length, ETag: `"${documentHash(doc).slice(0, 32)}"` });
        res.end(body);
      } else this.json(res, 200, doc, { ETag: `"${documentHash(doc).slice(0, 32)}"` });
      return true;
    }
    if (path === '/openapi/v3') {
      this.json(res, 200, openApiV3Index(this.store.types));
      return true;
    }
    const gv = /^\/openapi\/v3\/(.+)$/.exec(path)?.[1];
    if (!gv) return false;
    const doc = openApiV3(this.store.types, gv);
    if (!doc) return false;
    const hash = documentHash(doc);
    const asked = q.get('hash');
    if (asked && asked !== hash) {
      // A stale hash (the schema changed): the real server redirects to the current document.
      res.writeHead(301, { Location: `/openapi/v3/${gv}?hash=${hash}`, 'Content-Length': 0 });
      res.end();
      return true;
    }
    if (accept && !/application\/json|\*\/\*/.test(accept)) {
      throw new ApiError(406, 'NotAcceptable', `only the following media types are accepted: application/json`);
    }
    this.json(res, 200, doc, { ETag: `"${hash}"`, 'Cache-Control': asked ? 'public, immutable' : 'no-cache, private' });
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const q = url.searchParams;
    const method = (req.method ?? 'GET').toUpperCase();
    const user = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? null;
    // The node proxy to the kubelet's Summary API (clients send the proxied path as stats%2Fsummary or stats/summary).
    const proxy = /^\/api\/v1\/nodes\/([^/]+)\/proxy\/stats(?:\/|%2F)summary$/i.exec(path);
    if (proxy && method === 'GET') {
      const node = decodeURIComponent(proxy[1]!);
      const call = { verb: 'get', method, group: '', resource: 'nodes/proxy', namespace: null, name: node, path, user };
      const exists = this.store.tryGet(this.store.resourceFor('', 'v1', 'nodes')!, '', node);
      const stats = exists ? this.statsSource(node) : undefined;
      this.requests.push({ ...call, code: !exists ? 404 : stats === undefined ? 503 : 200 });
      if (!exists) throw new ApiError(404, 'NotFound', `nodes "${node}" not found`);
      if (stats === undefined) throw new ApiError(503, 'ServiceUnavailable', `no kubelet answers for node ${node}`);
      this.json(res, 200, stats);
      return;
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(path);
    if (!m) {
      let served = false;
      if (method === 'GET' && path.startsWith('/openapi/')) served = this.serveOpenApi(req, res, path, q);
      const aggregated = method === 'GET' && (path === '/api' || path === '/apis') ? wantsAggregated(req.headers.accept) : null;
      const body = served || aggregated ? null : method === 'GET' ? legacyDiscovery(this.store.types, path, url.host || this.url.replace('http://', '')) : undefined;
      const code = served || aggregated || body !== undefined ? 200 : 404;
      this.requests.push({ verb: method.toLowerCase(), method, group: '', resource: '', namespace: null, name: null, path, code, user });
      if (served) return;
      if (aggregated) {
        this.json(res, 200, aggregatedDiscovery(this.store.types, path as '/api' | '/apis', aggregated), { 'Content-Type': aggregatedContentType(aggregated) });
        return;
      }
      if (body === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      if (typeof body === 'string') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(body);
      } else this.json(res, 200, body);
      return;
    }
    const group = m[2] ?? '';
    const version = m[1] ?? m[3]!;
    const r = this.route(group, version, m[4]!.split('/').map(decodeURIComponent));
    const collection = !r?.name;
    const watch = method === 'GET' && (q.get('watch') === 'true' || q.get('watch') === '1');
    const verb = method === 'GET' ? (watch ? 'watch' : collection ? 'list' : 'get')
      : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch'
      : method === 'DELETE' ? (collection ? 'deletecollection' : 'delete') : method.toLowerCase();
    const call: Omit<RecordedRequest, 'code'> = {
      verb, method, group,
      resource: r ? r.rt.plural + (r.subresource ? `/${r.subresource}` : '') : '',
      namespace: r?.namespace ?? null, name: r?.name ?? null, path, user,
    };
    const record = (code: number) => this.requests.push({ ...call, code });
    try {
      if (!r || (r.subresource && !r.rt.subresources.includes(r.subresource))) {
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
      if (r.rt.namespaced && r.namespace === null && verb !== 'list' && verb !== 'watch' && verb !== 'deletecollection') {
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
      this.checkFault(call);
      if (watch) {
        record(200);
        this.serveWatch(r, q, req, res);
        return;
      }
      if (verb === 'get' && r.subresource === 'log') {
        record(200);
        this.serveLog(r, q, req, res);
        return;
      }
      const params = this.writeParams(q, req);
      const { code, body } = await this.dispatch(r, verb, req, q, params);
      record(code);
      const table = (verb === 'get' || verb === 'list') && !r.subresource ? wantsTable(req.headers.accept) : null;
      if (table) {
        const objects = verb === 'list' ? (body as Obj).items as Obj[] : [body as Obj];
        const rt = this.storageOf(r.rt);
        const shown = r.rt.viewOf ? objects.map(eventsV1ToCore) : objects;
        const out = toTable(rt, shown, { resourceVersion: String((body as Obj).metadata?.resourceVersion ?? ''), includeObject: q.get('includeObject'), version: table });
        if (verb === 'list' && (body as Obj).metadata?.continue) out.metadata.continue = (body as Obj).metadata.continue;
        this.json(res, code, out, { 'Content-Type': `application/json;as=Table;v=${table};g=meta.k8s.io`, ...this.warningHeaders(params.warnings) });
        return;
      }
      this.json(res, code, body, this.warningHeaders(params.warnings));
    } catch (err) {
      record(err instanceof ApiError ? err.code : 500);
      throw err;
    }
  }

  private writeParams(q: URLSearchParams, req: IncomingMessage): WriteParams {
    const dryRun = q.getAll('dryRun');
    for (const d of dryRun) if (d !== 'All') throw invalid('CreateOptions', '', 'meta.k8s.io', [{ field: 'dryRun', message: `Unsupported value: ${JSON.stringify(d)}: supported values: "All"`, reason: 'FieldValueNotSupported' }]);
    const fv = q.get('fieldValidation');
    if (fv !== null && fv !== '' && !['Strict', 'Warn', 'Ignore'].includes(fv)) {
      throw new ApiError(400, 'BadRequest', `fieldValidation must be one of "Ignore", "Warn", or "Strict"; got ${JSON.stringify(fv)}`);
    }
    return {
      dryRun: dryRun.length > 0,
      manager: managerName(q.get('fieldManager'), req.headers['user-agent']),
      fieldValidation: (fv || 'Warn') as WriteParams['fieldValidation'],
      force: q.get('force') === 'true',
      warnings: [],
    };
  }

  /** The type whose objects a route reads and writes (a view's underlying type). */
  private storageOf(rt: ResourceType): ResourceType {
    return rt.viewOf ? this.store.resourceFor(rt.viewOf.group, rt.viewOf.version, rt.viewOf.plural)! : rt;
  }

  private listSelectors(r: Route, q: URLSearchParams): (o: Obj) => boolean {
    const labels = labelSelector(q.get('labelSelector'));
    const rt = this.storageOf(r.rt);
    const fields = fieldSelector(r.rt.viewOf ? eventsV1Selector(q.get('fieldSelector')) : q.get('fieldSelector'), rt.fieldSelectors ?? []);
    return (o) => labels(o.metadata?.labels) && fields(o);
  }

  /** Objects as the route shows them (events.k8s.io shows core Events converted). */
  private shown(r: Route, o: Obj): Obj {
    return r.rt.viewOf ? coreToEventsV1(o) : o;
  }

  /** A request body in the storage shape (events.k8s.io → core/v1), after the view's own validation. */
  private stored(r: Route, body: Obj): Obj {
    if (!r.rt.viewOf || !body || typeof body !== 'object') return body;
    if (body.apiVersion && body.apiVersion !== apiVersionOf(r.rt)) {
      throw new ApiError(400, 'BadRequest', `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(r.rt)})`);
    }
    validateObject(r.rt, { ...body, metadata: { name: body.metadata?.name ?? body.metadata?.generateName ?? 'x', ...body.metadata } });
    return eventsV1ToCore(body);
  }

  private async dispatch(r: Route, verb: string, req: IncomingMessage, q: URLSearchParams, params: WriteParams): Promise<{ code: number; body: unknown }> {
    const rt = this.storageOf(r.rt);
    const ns = r.namespace ?? '';
    const store = this.store;
    const write = { manager: params.manager, dryRun: params.dryRun, fieldValidation: params.fieldValidation, warnings: params.warnings, force: params.force };
    const list = (items: Obj[], rv: string, cont?: string) => ({
      kind: r.rt.listKind ?? `${r.rt.kind}List`, apiVersion: apiVersionOf(r.rt),
      metadata: { resourceVersion: rv, ...(cont ? { continue: cont } : {}) }, items: items.map((o) => this.listItem(r.rt, this.shown(r, o))),
    });
    switch (verb) {
      case 'list': {
        const match = this.listSelectors(r, q);
        const { items, rv, cont } = this.page(store.list(rt, r.namespace ?? undefined).filter(match), q);
        return { code: 200, body: list(items, rv, cont) };
      }
      case 'get':
        return { code: 200, body: this.shown(r, store.get(rt, ns, r.name!)) };
      case 'create': {
        if (r.subresource) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const body = this.stored(r, await this.readBody(req) as Obj);
        return { code: 201, body: this.shown(r, store.create(rt, ns, body, write)) };
      }
      case 'update': {
        const body = this.stored(r, await this.readBody(req) as Obj);
        if (!body || typeof body !== 'object') throw new ApiError(400, 'BadRequest', 'the body of the request is empty');
        return { code: 200, body: this.shown(r, store.update(rt, ns, r.name!, body, r.subresource ?? undefined, write)) };
      }
      case 'patch': {
        const contentType = String(req.headers['content-type'] ?? '');
        if (/apply-patch/.test(contentType) && !q.get('fieldManager')) {
          // Apply needs a named manager (no User-Agent fallback): it owns what it applies.
          throw invalid('PatchOptions', '', 'meta.k8s.io', [{ field: 'fieldManager', message: 'Required value: is required for apply patch', reason: 'FieldValueRequired' }]);
        }
        const body = await this.readBody(req, /apply-patch/.test(contentType));
        if (body === undefined) throw new ApiError(400, 'BadRequest', 'the body of the request is empty');
        const existed = !!store.tryGet(rt, ns, r.name!);
        const saved = store.patch(rt, ns, r.name!, contentType, body, r.subresource ?? undefined, write);
        return { code: existed ? 200 : 201, body: this.shown(r, saved) };
      }
      case 'delete': {
        const opts = this.deleteOptions((await this.readBody(req)) as Obj | undefined, q, params.dryRun);
        const deleted = store.delete(rt, ns, r.name!, opts);
        const remains = store.tryGet(rt, ns, r.name!)?.metadata.uid === deleted.metadata.uid;
        // Pods answer with the object; other kinds, once gone, with a Status naming what was deleted.
        if (remains || opts.dryRun || (rt.group === '' && rt.plural === 'pods')) return { code: 200, body: this.shown(r, deleted) };
        return {
          code: 200,
          body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: deleted.metadata.name, group: rt.group, kind: rt.plural, uid: deleted.metadata.uid } },
        };
      }
      case 'deletecollection': {
        const opts = this.deleteOptions((await this.readBody(req)) as Obj | undefined, q, params.dryRun);
        const match = this.listSelectors(r, q);
        const deleted: Obj[] = [];
        for (const o of store.list(rt, r.namespace ?? undefined).filter(match)) {
          try {
            deleted.push(store.delete(rt, o.metadata.namespace ?? '', o.metadata.name, opts));
          } catch (err) {
            if (!(err instanceof ApiError && err.code === 404)) throw err;
          }
        }
        return { code: 200, body: list(deleted, String(store.resourceVersion)) };
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  /** limit / continue: a consistent page of a list (the continue token remembers the offset and resourceVersion). */
  private page(all: Obj[], q: URLSearchParams): { items: Obj[]; rv: string; cont?: string } {
    const limit = Number(q.get('limit') ?? 0);
    let offset = 0;
    let rv = String(this.store.resourceVersion);
    const token = q.get('continue');
    if (token) {
      try {
        const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv: string; offset: number };
        offset = parsed.offset;
        rv = parsed.rv;
      } catch {
        throw new ApiError(400, 'BadRequest', 'continue key is not valid: illegal base64 data');
      }
    }
    if (!(limit > 0)) return { items: all.slice(offset), rv };
    const items = all.slice(offset, offset + limit);
    const more = offset + limit < all.length;
    return { items, rv, ...(more ? { cont: Buffer.from(JSON.stringify({ rv, offset: offset + limit })).toString('base64url') } : {}) };
  }

  private deleteOptions(body: Obj | undefined, q: URLSearchParams, dryRun: boolean): DeleteOptions {
    const grace = body?.gracePeriodSeconds ?? (q.has('gracePeriodSeconds') ? Number(q.get('gracePeriodSeconds')) : undefined);
    return {
      propagationPolicy: body?.propagationPolicy ?? (q.get('propagationPolicy') as DeleteOptions['propagationPolicy']) ?? undefined,
      gracePeriodSeconds: grace,
      preconditions: body?.preconditions,
      dryRun: dryRun || (Array.isArray(body?.dryRun) && body!.dryRun.includes('All')),
    };
  }

  /** Built-in list items carry no kind/apiVersion on the wire; custom resources do. */
  private listItem(rt: ResourceType, o: Obj): Obj {
    if (!rt.builtin) return o;
    const { kind: _k, apiVersion: _a, ...rest } = o;
    return rest;
  }

  /** GET pods/NAME/log: the container's output; with follow=true, a stream until it exits. */
  private serveLog(r: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const ns = r.namespace ?? '';
    const pod = this.store.get(r.rt, ns, r.name!);
    const containers: string[] = (pod.spec?.containers ?? []).map((c: Obj) => c.name);
    const container = q.get('container') ?? (containers.length === 1 ? containers[0] : null);
    if (!container) throw new ApiError(400, 'BadRequest', `a container name must be specified for pod ${r.name}, choose one of: [${containers.join(' ')}]`);
    if (!containers.includes(container)) throw new ApiError(400, 'BadRequest', `container ${container} is not valid for pod ${r.name}`);
    let text = this.logSource(ns, r.name!);
    if (text === undefined) {
      if (pod.status?.phase === 'Pending') throw new ApiError(400, 'BadRequest', `container "${container}" in pod "${r.name}" is waiting to start: ContainerCreating`);
      text = '';
    }
    const tail = q.get('tailLines');
    if (tail !== null) {
      const lines = text.split(/(?<=\n)/);
      text = lines.slice(Math.max(0, lines.length - Number(tail))).join('');
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    res.write(text);
    if (q.get('follow') !== 'true') {
      res.end();
      return;
    }
    let sent = (this.logSource(ns, r.name!) ?? '').length;
    const stop = this.logFollower(ns, r.name!, (chunk) => {
      res.write(chunk);
      sent += chunk.length;
    }, () => res.end());
    if (!stop) {
      // Finished between reading and following: send what is left and end.
      const all = this.logSource(ns, r.name!) ?? '';
      if (all.length > sent) res.write(all.slice(sent));
      res.end();
      return;
    }
    req.on('close', stop);
    res.on('close', stop);
  }

  private sendBookmark(w: OpenWatch): void {
    w.send('BOOKMARK', { kind: w.rt.kind, apiVersion: apiVersionOf(w.rt), metadata: { resourceVersion: String(this.store.resourceVersion) } });
  }

  private serveWatch(r: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const match = this.listSelectors(r, q);
    const storage = this.storageOf(r.rt);
    const table = wantsTable(req.headers.accept);
    const inScope = (ev: StoreEvent) => ev.rt === storage && (!r.namespace || ev.object.metadata.namespace === r.namespace)
      && (!r.name || ev.object.metadata.name === r.name);
    res.writeHead(200, {
      'Content-Type': table ? `application/json;as=Table;v=${table};g=meta.k8s.io` : 'application/json',
      'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private',
    });
    res.flushHeaders(); // clients wait for the headers before reading events
    let open = true;
    let headersSent = false;
    const send = (type: string, object: unknown) => {
      if (!open) return;
      let out = type === 'ERROR' || type === 'BOOKMARK' ? object : this.shown(r, object as Obj);
      if (table && type !== 'ERROR' && type !== 'BOOKMARK') {
        out = toTable(storage, [object as Obj], { resourceVersion: (object as Obj).metadata?.resourceVersion ?? '', includeObject: q.get('includeObject'), version: table, noHeaders: headersSent });
        headersSent = true;
      }
      res.write(`${JSON.stringify({ type, object: out })}\n`);
    };
    // Selector transitions: an object that stops matching is DELETED for this watch, one that
    // starts matching is ADDED, as the real watch cache does.
    const deliver = (ev: StoreEvent) => {
      if (!inScope(ev)) return;
      const now = match(ev.object);
      if (ev.type === 'MODIFIED') {
        const before = ev.prev ? match(ev.prev) : now;
        if (before && now) send('MODIFIED', ev.object);
        else if (!before && now) send('ADDED', ev.object);
        else if (before && !now) send('DELETED', ev.object);
      } else if (now) send(ev.type, ev.object);
    };
    let timers: NodeJS.Timeout[] = [];
    const w: OpenWatch = {
      rt: r.rt, namespace: r.namespace, bookmarks: q.get('allowWatchBookmarks') === 'true',
      send,
      end: () => {
        if (!open) return;
        open = false;
        this.store.off('event', deliver);
        this.watches.delete(w);
        for (const t of timers) clearInterval(t);
        timers = [];
        res.end();
      },
    };
    const rvParam = q.get('resourceVersion') ?? '';
    if (rvParam === '' || rvParam === '0') {
      for (const o of this.store.list(storage, r.namespace ?? undefined)) if (match(o) && (!r.name || o.metadata.name === r.name)) send('ADDED', o);
    } else {
      const rv = Number(rvParam);
      const events = Number.isFinite(rv) ? this.store.eventsSince(rv) : null;
      if (events === null) {
        send('ERROR', gone(`too old resource version: ${rvParam} (${this.store.compactedRv})`).toStatus());
        open = false;
        res.end();
        return;
      }
      for (const ev of events) deliver(ev);
    }
    this.store.on('event', deliver);
    this.watches.add(w);
    req.on('close', () => w.end());
    res.on('close', () => w.end());
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) timers.push(setTimeout(() => w.end(), timeout * 1000));
    if (w.bookmarks && this.bookmarkIntervalMs > 0) timers.push(setInterval(() => this.sendBookmark(w), this.bookmarkIntervalMs));
  }
}
