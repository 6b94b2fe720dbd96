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
import { ApiError, gone } from './errors.js';
import { apiVersionOf, discoveryResources, type ResourceType } from './resources.js';
import { fieldSelector, labelSelector } from './selectors.js';
import { ClusterStore, type DeleteOptions, type StoreEvent } from './store.js';
import type { Obj } from './validation.js';

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

/** Provided by a kubelet: a pod's container output for GET pods/log. */
export type LogSource = (namespace: string, name: string) => string | undefined;

export class FakeApiServer {
  readonly store: ClusterStore;
  readonly requests: RecordedRequest[] = [];
  private server: Server | null = null;
  private readonly watches = new Set<OpenWatch>();
  private readonly faults: Fault[] = [];
  private readonly bookmarkIntervalMs: number;
  logSource: LogSource = () => undefined;
  url = '';

  constructor(opts: FakeApiServerOptions = {}) {
    this.store = opts.store ?? new ClusterStore();
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 0;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
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

  private json(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text.trim()) return undefined;
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
      if (rt) return { rt, namespace: segs[1]!, name: segs[3] ?? null, subresource: segs[4] ?? null };
    }
    const rt = types.find((t) => t.plural === segs[0]);
    if (!rt || segs.length > 3) return null;
    return { rt, namespace: null, name: segs[1] ?? null, subresource: segs[2] ?? null };
  }

  private discovery(path: string): unknown | undefined {
    const groups = new Map<string, Set<string>>();
    for (const t of this.store.types) {
      if (!t.group) continue;
      if (!groups.has(t.group)) groups.set(t.group, new Set());
      groups.get(t.group)!.add(t.version);
    }
    if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.replace('http://', '') }] };
    if (path === '/apis') {
      return {
        kind: 'APIGroupList', apiVersion: 'v1',
        groups: [...groups].map(([name, versions]) => {
          const vs = [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
          return { name, versions: vs, preferredVersion: vs[0] };
        }),
      };
    }
    if (path === '/version') return { major: '1', minor: '31', gitVersion: 'v1.31.0-torc-fake', platform: 'linux/amd64' };
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (m) {
      const group = m[2] ?? '';
      const version = m[1] ?? m[3]!;
      const types = this.store.types.filter((t) => t.group === group && t.version === version);
      if (types.length === 0) return undefined;
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources: discoveryResources(types) };
    }
    const g = /^\/apis\/([^/]+)$/.exec(path);
    if (g && groups.has(g[1]!)) {
      const vs = [...groups.get(g[1]!)!].map((v) => ({ groupVersion: `${g[1]}/${v}`, version: v }));
      return { kind: 'APIGroup', apiVersion: 'v1', name: g[1], versions: vs, preferredVersion: vs[0] };
    }
    if (path === '/healthz' || path === '/readyz' || path === '/livez') return 'ok';
    return undefined;
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const q = url.searchParams;
    const method = (req.method ?? 'GET').toUpperCase();
    const user = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? null;
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(path);
    if (!m) {
      const body = method === 'GET' ? this.discovery(path) : undefined;
      const code = body === undefined ? 404 : 200;
      this.requests.push({ verb: method.toLowerCase(), method, group: '', resource: '', namespace: null, name: null, path, code, user });
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
    const watch = method === 'GET' && collection && (q.get('watch') === 'true' || q.get('watch') === '1');
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
      const { code, body } = await this.dispatch(r, verb, req, q);
      record(code);
      if (typeof body === 'string') {
        res.writeHead(code, { 'Content-Type': 'text/plain' });
        res.end(body);
      } else this.json(res, code, body);
    } catch (err) {
      record(err instanceof ApiError ? err.code : 500);
      throw err;
    }
  }

  private listSelectors(r: Route, q: URLSearchParams): (o: Obj) => boolean {
    const labels = labelSelector(q.get('labelSelector'));
    const fields = fieldSelector(q.get('fieldSelector'), r.rt.fieldSelectors ?? []);
    return (o) => labels(o.metadata?.labels) && fields(o);
  }

  private async dispatch(r: Route, verb: string, req: IncomingMessage, q: URLSearchParams): Promise<{ code: number; body: unknown }> {
    const { rt } = r;
    const ns = r.namespace ?? '';
    const store = this.store;
    switch (verb) {
      case 'list': {
        const match = this.listSelectors(r, q);
        const items = store.list(rt, r.namespace ?? undefined).filter(match).map((o) => this.listItem(rt, o));
        return { code: 200, body: { kind: `${rt.kind}List`, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(store.resourceVersion) }, items } };
      }
      case 'get': {
        if (r.subresource === 'log') {
          store.get(rt, ns, r.name!);
          return { code: 200, body: this.logSource(ns, r.name!) ?? '' };
        }
        return { code: 200, body: store.get(rt, ns, r.name!) };
      }
      case 'create': {
        if (r.subresource) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const body = await this.readBody(req) as Obj;
        if (q.get('dryRun') === 'All') return { code: 201, body };
        return { code: 201, body: store.create(rt, ns, body) };
      }
      case 'update': {
        const body = await this.readBody(req) as Obj;
        if (!body || typeof body !== 'object') throw new ApiError(400, 'BadRequest', 'the body of the request is empty');
        return { code: 200, body: store.update(rt, ns, r.name!, body, r.subresource ?? undefined) };
      }
      case 'patch': {
        const body = await this.readBody(req);
        return { code: 200, body: store.patch(rt, ns, r.name!, String(req.headers['content-type'] ?? ''), body, r.subresource ?? undefined) };
      }
      case 'delete': {
        const opts = this.deleteOptions((await this.readBody(req)) as Obj | undefined, q);
        return { code: 200, body: store.delete(rt, ns, r.name!, opts) };
      }
      case 'deletecollection': {
        const opts = this.deleteOptions((await this.readBody(req)) as Obj | undefined, q);
        const match = this.listSelectors(r, q);
        const deleted: Obj[] = [];
        for (const o of store.list(rt, r.namespace ?? undefined).filter(match)) {
          try {
            deleted.push(store.delete(rt, o.metadata.namespace ?? '', o.metadata.name, opts));
          } catch (err) {
            if (!(err instanceof ApiError && err.code === 404)) throw err;
          }
        }
        return { code: 200, body: { kind: `${rt.kind}List`, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(store.resourceVersion) }, items: deleted } };
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  private deleteOptions(body: Obj | undefined, q: URLSearchParams): DeleteOptions {
    const grace = body?.gracePeriodSeconds ?? (q.has('gracePeriodSeconds') ? Number(q.get('gracePeriodSeconds')) : undefined);
    return {
      propagationPolicy: body?.propagationPolicy ?? (q.get('propagationPolicy') as DeleteOptions['propagationPolicy']) ?? undefined,
      gracePeriodSeconds: grace,
      preconditions: body?.preconditions,
    };
  }

  /** Built-in list items carry no kind/apiVersion on the wire; custom resources do. */
  private listItem(rt: ResourceType, o: Obj): Obj {
    if (!rt.builtin) return o;
    const { kind: _k, apiVersion: _a, ...rest } = o;
    return rest;
  }

  private sendBookmark(w: OpenWatch): void {
    w.send('BOOKMARK', { kind: w.rt.kind, apiVersion: apiVersionOf(w.rt), metadata: { resourceVersion: String(this.store.resourceVersion) } });
  }

  private serveWatch(r: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const match = this.listSelectors(r, q);
    const inScope = (ev: StoreEvent) => ev.rt === r.rt && (!r.namespace || ev.object.metadata.namespace === r.namespace);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders(); // clients wait for the headers before reading events
    let open = true;
    const send = (type: string, object: unknown) => {
      if (open) res.write(`${JSON.stringify({ type, object })}\n`);
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
      for (const o of this.store.list(r.rt, r.namespace ?? undefined)) if (match(o)) send('ADDED', o);
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

