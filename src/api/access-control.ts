/**
 * Who may call what: the one place that decides access. A koa middleware authenticates every
 * request (the bearer token, or HTTP Basic against an htpasswd file) and rate-limits failed
 * attempts; `policyOf` derives each operation's rule from its route declaration (which workflow
 * it touches: a path id, a record's workflow, the `workflow_id` query or body field; read or
 * write from `mutating`), and `authorize` applies it before the handler runs.
 *
 * Rules: owners write their workflows; access-group members write the group's workflows (read
 * only with the `reader` role); admins (--admin-user) and the bearer token (runners, workers,
 * the reconcile loop) may do everything. A workflow a user may not see answers 404, like one
 * that does not exist, so ids do not leak. Job `env` values and token-like fields are masked in
 * what a viewer who may not write the workflow gets back.
 */
import type Koa from 'koa';
import { AccessStore, type Permission } from '../store/access.js';
import type { Store } from '../store/index.js';
import { NotFoundError } from '../errors.js';
import { tokenChecker, type TokenChecker } from './auth.js';
import { BadRequestError, ForbiddenError, TooManyAttemptsError, UnauthorizedError } from './errors.js';
import { FOLLOW_STREAM, LIST_STREAM, WORKFLOW_STREAM } from './dashboard/http.js';
import type { Htpasswd } from './htpasswd.js';
import type { Params } from './params.js';
import type { Grant, Route } from './route.js';

export type Principal =
  /** No authentication configured: everyone may do everything (a private server, as before). */
  | { kind: 'open' }
  | { kind: 'anonymous' }
  /** The bearer token: runners, workers and the reconcile loop. */
  | { kind: 'service' }
  | { kind: 'user'; name: string; admin: boolean };

type WorkflowSource = { in: 'path'; name: string } | { in: 'record'; collection: string } | { in: 'query' } | { in: 'body' };

export type Policy =
  | { kind: 'public' }
  | { kind: 'signed-in' }
  | { kind: 'admin' }
  /** A user's own records (path `{user_name}`); admins may ask for anyone's. */
  | { kind: 'self' }
  /** Lists of workflows: filtered to those the caller may see. */
  | { kind: 'visible-workflows' }
  /** Creates a workflow: the caller becomes its owner. */
  | { kind: 'new-workflow' }
  /** `ownerField`: the body may name a new owner (torc's `user`): only admins change it. */
  | { kind: 'workflow'; from: WorkflowSource; need: 'read' | 'write'; ownerField?: boolean };

const EXPLICIT: Record<string, Policy> = {
  ping: { kind: 'public' },
  get_version: { kind: 'public' },
  get_openapi: { kind: 'public' },
  dashboard_config: { kind: 'public' },
  list_workflows: { kind: 'visible-workflows' },
  dashboard_list_workflows: { kind: 'visible-workflows' },
  create_workflow: { kind: 'new-workflow' },
  create_workflow_from_spec: { kind: 'new-workflow' },
  // torc: only admins create, delete or change the membership of access groups.
  create_access_group: { kind: 'admin' },
  delete_access_group: { kind: 'admin' },
  add_user_to_group: { kind: 'admin' },
  remove_user_from_group: { kind: 'admin' },
  list_access_groups: { kind: 'signed-in' },
  get_access_group: { kind: 'signed-in' },
  list_group_members: { kind: 'signed-in' },
  list_user_groups: { kind: 'self' },
  update_workflow: { kind: 'workflow', from: { in: 'path', name: 'id' }, need: 'write', ownerField: true },
};

const RECORD_COLLECTIONS = new Set([
  'jobs', 'files', 'user_data', 'resource_requirements', 'slurm_schedulers', 'local_schedulers',
  'failure_handlers', 'results', 'events', 'compute_nodes', 'scheduled_compute_nodes',
]);

/**
 * The rule of an operation, from its declaration. A route this cannot place throws at start-up:
 * a new operation cannot be served without a rule.
 */
export function policyOf(route: Pick<Route<unknown>, 'operationId' | 'method' | 'path' | 'mutating' | 'params' | 'body'>): Policy {
  const explicit = EXPLICIT[route.operationId];
  if (explicit) return explicit;
  const need = route.mutating ? 'write' : 'read';
  if (/^\/(dashboard\/)?workflows\/\{id\}/.test(route.path)) return { kind: 'workflow', from: { in: 'path', name: 'id' }, need };
  if (route.path.includes('{workflow_id}')) return { kind: 'workflow', from: { in: 'path', name: 'workflow_id' }, need };
  const record = /^\/(\w+)\/\{id\}/.exec(route.path);
  if (record && RECORD_COLLECTIONS.has(record[1]!)) return { kind: 'workflow', from: { in: 'record', collection: record[1]! }, need };
  if ((route.params ?? []).some((p) => p.in === 'query' && p.name === 'workflow_id' && p.required)) return { kind: 'workflow', from: { in: 'query' }, need };
  if (route.method === 'POST' && route.body?.kind === 'json' && bodyWorkflowIds(route.body.example).length > 0) {
    return { kind: 'workflow', from: { in: 'body' }, need };
  }
  throw new Error(`no access rule for operation ${route.operationId} (${route.method} ${route.path}): add one to src/api/access-control.ts`);
}

function workflowIds(from: Exclude<WorkflowSource, { in: 'record' }>, params: Params, body: unknown): number[] {
  if (from.in === 'path') return [params[from.name] as number];
  if (from.in === 'query') return [params.workflow_id as number];
  const ids = bodyWorkflowIds(body);
  if (ids.length === 0) throw new BadRequestError('required', 'workflow_id');
  return ids;
}

/** The workflow ids a create body names: `workflow_id`, or each of `jobs[].workflow_id`. */
function bodyWorkflowIds(body: unknown): number[] {
  if (!body || typeof body !== 'object') return [];
  const b = body as { workflow_id?: unknown; jobs?: unknown };
  if (typeof b.workflow_id === 'number') return [b.workflow_id];
  if (Array.isArray(b.jobs)) return [...new Set(b.jobs.flatMap((j) => bodyWorkflowIds(j)))];
  return [];
}

export interface AccessOptions {
  /** The bearer token (service access). */
  token?: string;
  /** Users who sign in with HTTP Basic. */
  users?: Htpasswd;
  /** Users who may do everything (torc's --admin-user). */
  admins?: string[];
  /** Reads without signing in (secrets masked); changes still need it. */
  publicRead?: boolean;
  /** Failed sign-ins allowed per client address within `failureWindowMs` (default 20 per 60 s). */
  maxFailures?: number;
  failureWindowMs?: number;
  clock?: () => number;
  /** Where failed sign-ins are reported (never with the password or token). */
  log?: (line: string) => void;
}

/** Counts failed sign-ins per (address, claimed identity) in a fixed window. */
class FailureLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly clock: () => number,
  ) {}

  /** Seconds until the address may try again; 0 when it may now. */
  blockedFor(address: string): number {
    const w = this.windows.get(address);
    if (!w) return 0;
    const left = w.start + this.windowMs - this.clock();
    if (left <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return w.count >= this.max ? Math.ceil(left / 1000) : 0;
  }

  fail(address: string): number {
    const now = this.clock();
    let w = this.windows.get(address);
    if (!w || now - w.start >= this.windowMs) this.windows.set(address, (w = { start: now, count: 0 }));
    w.count++;
    if (this.windows.size > 10_000) this.windows.delete(this.windows.keys().next().value!); // bounded memory
    return w.count;
  }
}

export class AccessControl {
  private readonly token: TokenChecker | undefined;
  private readonly admins: Set<string>;
  private readonly limiter: FailureLimiter;
  private readonly access: AccessStore;
  /** Whether any authentication is configured (otherwise every caller is `open`). */
  readonly enabled: boolean;

  constructor(
    private readonly store: Store,
    private readonly options: AccessOptions,
  ) {
    this.token = options.token !== undefined ? tokenChecker(options.token) : undefined;
    this.admins = new Set(options.admins ?? []);
    this.enabled = this.token !== undefined || options.users !== undefined;
    this.limiter = new FailureLimiter(options.maxFailures ?? 20, options.failureWindowMs ?? 60_000, options.clock ?? Date.now);
    this.access = new AccessStore(store);
  }

  /**
   * The challenge sent with a 401 (browsers ask for a user name and password on `Basic`). The
   * dashboard's requests (X-Requested-With: XMLHttpRequest) get it as `Torc-Basic`, so that the
   * browser leaves the sign-in to the page's own form instead of prompting over it.
   */
  challengeFor(requestedWith: string | undefined): string {
    if (!this.options.users) return 'Bearer realm="torc"';
    return `${requestedWith === 'XMLHttpRequest' ? 'Torc-Basic' : 'Basic'} realm="torc", charset="UTF-8"`;
  }

  private unauthorized(): UnauthorizedError {
    return new UnauthorizedError(this.options.users ? 'missing or invalid credentials (HTTP Basic user and password, or the bearer token)' : undefined);
  }

  /**
   * Who is calling: throws 401 on wrong credentials, and 429 once an address failed too often
   * for the identity it claims (a user name, or the bearer token): a guesser is stopped without
   * locking everyone else on a shared login node (one address) out.
   */
  authenticate(authorization: string | undefined, address: string): Principal {
    if (!this.enabled) return { kind: 'open' };
    if (!authorization) return { kind: 'anonymous' };
    const basic = /^Basic[ \t]+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
    const bearer = /^Bearer[ \t]/i.test(authorization);
    const decoded = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const name = colon >= 0 ? decoded.slice(0, colon) : decoded;
    const claimed = basic ? `user "${name.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}"` : bearer ? 'bearer token' : 'unknown scheme';
    const key = `${address} ${claimed}`;
    const wait = this.limiter.blockedFor(key);
    if (wait > 0) throw new TooManyAttemptsError(wait);
    if (basic && this.options.users && colon > 0 && this.options.users.verify(name, decoded.slice(colon + 1))) {
      return { kind: 'user', name, admin: this.admins.has(name) };
    }
    if (bearer && this.token) {
      try {
        this.token.check(authorization);
        return { kind: 'service' };
      } catch {
        // counted below
      }
    }
    const n = this.limiter.fail(key);
    this.options.log?.(`auth: failed sign-in (${claimed}) from ${address}; ${n} in this window`);
    throw this.unauthorized();
  }

  /** Before anything is parsed: a caller who must sign in and has not gets 401. */
  gate(policy: Policy, principal: Principal, mutating: boolean): void {
    if (principal.kind !== 'anonymous' || policy.kind === 'public') return;
    if (!mutating && this.options.publicRead) return;
    throw this.unauthorized();
  }

  /** Applies an operation's rule once its parameters and body are known. */
  async authorize(policy: Policy, principal: Principal, params: Params, body: unknown): Promise<Grant> {
    const all = principal.kind === 'open' || principal.kind === 'service' || (principal.kind === 'user' && principal.admin);
    const user = principal.kind === 'user' ? principal.name : undefined;
    switch (policy.kind) {
      case 'public':
      case 'signed-in':
        return { mask: false };
      case 'admin':
        if (!all) throw new ForbiddenError('only admins manage access groups');
        return { mask: false };
      case 'self':
        if (!all && user !== undefined && params.user_name !== user) throw new ForbiddenError("only admins may look at another user's groups");
        return { mask: false };
      case 'visible-workflows':
        return all || user === undefined ? { mask: !all } : { visibleTo: user, mask: false };
      case 'new-workflow':
        return { owner: user, mask: false };
      case 'workflow': {
        if (all) return { mask: false };
        // Signed-in users by their rights; anonymous callers reach here only with --public-read.
        const permissionOf = (id: number): Promise<Permission> => (user !== undefined ? this.access.permissionOf(id, user) : Promise.resolve('read'));
        let checked: [number, Permission][];
        if (policy.from.in === 'record') {
          const id = params.id as number;
          const wf = await this.access.workflowOfRecord(policy.from.collection, id);
          const permission = wf === undefined ? 'none' : await permissionOf(wf);
          // Missing and hidden records answer alike (the same message), so ids do not leak.
          if (wf === undefined || permission === 'none') throw new NotFoundError(`/${policy.from.collection}/${id}`);
          checked = [[wf, permission]];
        } else {
          checked = await Promise.all(workflowIds(policy.from, params, body).map(async (id) => [id, await permissionOf(id)] as [number, Permission]));
        }
        for (const [id, permission] of checked) {
          // Not visible: the same answer as a workflow that does not exist.
          if (permission === 'none') throw new NotFoundError(`workflow ${id}`);
          if (policy.need === 'write' && permission !== 'write') throw new ForbiddenError(`you may read workflow ${id} but not change it`);
          const newOwner = (body as { user?: unknown } | undefined)?.user;
          if (policy.ownerField && typeof newOwner === 'string' && newOwner !== (await this.store.getWorkflow(id)).user) {
            throw new ForbiddenError("only admins change a workflow's owner (user)");
          }
        }
        return { mask: checked.some(([, permission]) => permission !== 'write') };
      }
    }
  }

  /** The dashboard's event streams, outside the route table: the same rules. */
  private streamPolicy(path: string): { policy: Policy; params: Params } | undefined {
    let m: RegExpExecArray | null;
    if ((m = WORKFLOW_STREAM.exec(path))) return { policy: { kind: 'workflow', from: { in: 'path', name: 'id' }, need: 'read' }, params: { id: Number(m[1]) } };
    if ((m = FOLLOW_STREAM.exec(path))) return { policy: { kind: 'workflow', from: { in: 'record', collection: 'jobs' }, need: 'read' }, params: { id: Number(m[1]) } };
    if (path === LIST_STREAM) return { policy: { kind: 'signed-in' }, params: {} };
    return undefined;
  }

  /** Authenticates every request (state.principal) and guards the streams the route table does not hold. */
  middleware(): Koa.Middleware {
    return async (ctx, next) => {
      const principal = this.authenticate(ctx.get('Authorization') || undefined, ctx.ip);
      ctx.state.principal = principal;
      const stream = this.streamPolicy(ctx.path);
      if (stream) {
        this.gate(stream.policy, principal, false);
        // The stream masks what it sends as the route answers are masked (dashboard/http.ts).
        ctx.state.maskSecrets = (await this.authorize(stream.policy, principal, stream.params, undefined)).mask;
      }
      await next();
    };
  }
}
