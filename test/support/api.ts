/**
 * A real API server for tests: a fresh SQLite store in a temp dir, the koa app listening on
 * 127.0.0.1 with a random port, and both a typed client and a raw `http()` helper for requests
 * the client would never send (malformed JSON, wrong types, missing tokens).
 */
import type { ExecutionContext } from 'ava';
import { startServer, type ApiLogger, type AppOptions, type RunningServer } from '../../src/api/app.js';
import { TorcClient } from '../../src/api/client.js';
import type { Store } from '../../src/store/index.js';
import { openTempStore } from './store.js';

export interface TestApi {
  store: Store;
  server: RunningServer;
  client: TorcClient;
  http(method: string, path: string, init?: RawInit): Promise<RawResponse>;
}

export interface RawInit {
  /** JSON-encoded unless a string. */
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON (undefined for an empty body). */
  json: any;
  text: string;
}

export async function startTestApi(
  t: ExecutionContext,
  options: { token?: string; bodyLimitBytes?: number; logger?: ApiLogger; leaseSweepMs?: number; auth?: AppOptions['auth'] } = {},
): Promise<TestApi> {
  const store = await openTempStore(t);
  const server = await startServer({ store, port: 0, ...options });
  t.teardown(() => server.close());
  const client = new TorcClient(server.url, { token: options.token });
  const http = async (method: string, path: string, init: RawInit = {}): Promise<RawResponse> => {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['Content-Type'] ??= 'application/json';
    }
    if (init.token !== undefined) headers.Authorization = `Bearer ${init.token}`;
    const url = path.startsWith('http') ? path : `${server.baseUrl}${path}`;
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
  return { store, server, client, http };
}

/**
 * Everything a request could have changed in a workflow: job rows, results, compute nodes,
 * events, run id and cancellation. Tests compare it before and after a refused request.
 */
export async function storeSnapshot(store: Store, workflowId: number): Promise<unknown> {
  const [wf, jobs, results, nodes, events, status] = await Promise.all([
    store.getWorkflow(workflowId),
    store.listJobs(workflowId, { limit: 10_000 }),
    store.listResults(workflowId, { limit: 10_000 }),
    store.listComputeNodes(workflowId, { limit: 10_000 }),
    store.listEvents(workflowId, { limit: 10_000 }),
    store.getStatus(workflowId),
  ]);
  return { wf, jobs, results, nodes, events, status };
}
