/**
 * Talking to the torc REST API from the page. The sign-in the user entered once — a user name
 * and password (HTTP Basic, servers with --auth) or the bearer token — is kept in
 * sessionStorage for this tab, sent only in the Authorization header (never in a URL), with
 * every request: reads need it too unless the server opens them (--public-read). A read the
 * server refuses with 401 asks for the sign-in (signInHandler) and is tried once more.
 * `normalize*` is the one adapter for the torc-compatible routes whose wire shapes differ
 * between versions (integer or string job status, `attempt` or `attempt_id`, ISO or epoch-ms
 * timestamps); the dashboard's own routes already answer in the string / ms forms.
 */
export const API = '/torc-service/v1';
const TOKEN_KEY = 'torc.token';
const BASIC_KEY = 'torc.basic';

export type StatusName =
  | 'uninitialized' | 'blocked' | 'ready' | 'pending' | 'running' | 'completed'
  | 'failed' | 'canceled' | 'terminated' | 'disabled' | 'pending_failed';

export const STATUS_NAMES: StatusName[] = [
  'uninitialized', 'blocked', 'ready', 'pending', 'running', 'completed', 'failed', 'canceled', 'terminated', 'disabled', 'pending_failed',
];

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
  }
}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? fallback.get(TOKEN_KEY) ?? null;
  } catch {
    return fallback.get(TOKEN_KEY) ?? null;
  }
}

/** Kept in memory when sessionStorage refuses (private mode): for this page only. */
const fallback = new Map<string, string>();

function store(key: string, value: string | null): void {
  try {
    if (value) sessionStorage.setItem(key, value);
    else sessionStorage.removeItem(key);
    fallback.delete(key);
  } catch {
    if (value) fallback.set(key, value);
    else fallback.delete(key);
  }
  tokenListeners.forEach((l) => l());
}

export function setToken(token: string | null): void {
  store(TOKEN_KEY, token);
}

/** The signed-in user's name and password (HTTP Basic), or null to sign out. */
export function setBasic(user: string | null, password = ''): void {
  // UTF-8, then base64 (btoa takes bytes as Latin-1 characters).
  const bytes = user ? new TextEncoder().encode(`${user}:${password}`) : null;
  store(BASIC_KEY, bytes ? btoa(String.fromCharCode(...bytes)) : null);
}

function getBasic(): string | null {
  try {
    return sessionStorage.getItem(BASIC_KEY) ?? fallback.get(BASIC_KEY) ?? null;
  } catch {
    return fallback.get(BASIC_KEY) ?? null;
  }
}

/** The user signed in with a password, or null. */
export function signedInUser(): string | null {
  const basic = getBasic();
  if (!basic) return null;
  const text = new TextDecoder().decode(Uint8Array.from(atob(basic), (c) => c.charCodeAt(0)));
  return text.slice(0, text.indexOf(':'));
}

/** The Authorization header of every request: the user's sign-in, else the token. */
export function authorization(): string | undefined {
  const basic = getBasic();
  if (basic) return `Basic ${basic}`;
  const token = getToken();
  return token ? `Bearer ${token}` : undefined;
}

/** Forgets the sign-in (after the server refused it). */
export function signOut(): void {
  setBasic(null);
  setToken(null);
}

let signInHandler: (() => Promise<boolean>) | undefined;
let signingIn: Promise<boolean> | undefined;
/** Who asks the user to sign in (the dialog in components/auth.ts). */
export function setSignInHandler(handler: (() => Promise<boolean>) | undefined): void {
  signInHandler = handler;
}
/** Asks for the sign-in once, however many reads were refused at the same time; true when given. */
export function askToSignIn(): Promise<boolean> {
  if (!signInHandler) return Promise.resolve(false);
  return (signingIn ??= signInHandler().finally(() => (signingIn = undefined)));
}

/** Headers for the API: the sign-in, and the mark that keeps browsers from prompting themselves. */
export function authHeaders(): Record<string, string> {
  const auth = authorization();
  return { 'X-Requested-With': 'XMLHttpRequest', ...(auth ? { Authorization: auth } : {}) };
}

const tokenListeners = new Set<() => void>();
export function onTokenChange(listener: () => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

/** Requests made and still open (read by the browser tests to see that an idle page fetches nothing). */
export const requestStats = { started: 0, inFlight: 0 };
(globalThis as { torcRequests?: typeof requestStats }).torcRequests = requestStats;

async function request<T>(method: string, path: string, options: { auth?: boolean; body?: unknown } = {}): Promise<T> {
  requestStats.started++;
  requestStats.inFlight++;
  try {
    try {
      return await send<T>(method, path, options);
    } catch (err) {
      // A read refused for want of a sign-in: ask for it, then try once more.
      if (!(err instanceof ApiError) || err.status !== 401 || options.auth || !(await askToSignIn())) throw err;
      return await send<T>(method, path, options);
    }
  } finally {
    requestStats.inFlight--;
  }
}

async function send<T>(method: string, path: string, options: { auth?: boolean; body?: unknown }): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const res = await fetch(`${API}${path}`, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = json as { message?: string; field?: string } | undefined;
    throw new ApiError(res.status, err?.message ?? `${res.status} ${res.statusText}`, err?.field);
  }
  return json as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const change = <T>(method: 'POST' | 'PUT', path: string, body?: unknown) => request<T>(method, path, { auth: true, body });

// ---- the adapter for torc-compatible routes ----------------------------------------------

/** A job status as a name, whether the server sent torc's string or the integer code. */
export function normalizeStatus(value: unknown): StatusName {
  if (typeof value === 'number') return STATUS_NAMES[value] ?? 'uninitialized';
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return STATUS_NAMES[Number(value)] ?? 'uninitialized';
    const lower = value.toLowerCase() as StatusName;
    if (STATUS_NAMES.includes(lower)) return lower;
  }
  return 'uninitialized';
}

/** Epoch ms from epoch ms, epoch seconds, or an ISO string; null otherwise. */
export function normalizeTime(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string' && value !== '') {
    if (/^\d+(\.\d+)?$/.test(value)) return normalizeTime(Number(value));
    const t = Date.parse(value);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

/** A finished attempt that did not complete (from the workflow's results). */
export interface Failure {
  result_id: number;
  job_id: number;
  name: string;
  attempt_id: number;
  status: StatusName;
  return_code: number;
  completion_ms: number | null;
}

export interface EventItem {
  id: number;
  workflow_id: number;
  timestamp_ms: number | null;
  category: string;
  data: unknown;
}

/** An event of GET /events (epoch-ms `timestamp`, torc's shape; ISO from an older server) or of the dashboard. */
export function normalizeEvent(raw: Record<string, unknown>): EventItem {
  return {
    id: Number(raw.id),
    workflow_id: Number(raw.workflow_id),
    timestamp_ms: normalizeTime(raw.timestamp_ms ?? raw.timestamp),
    category: String(raw.category ?? raw.event_type ?? 'event'),
    data: raw.data ?? null,
  };
}

/** A job of torc-compatible routes: `attempt` or `attempt_id`, status as code or name. */
export function normalizeJob<T extends Record<string, unknown>>(raw: T): T & { status: StatusName; attempt_id: number } {
  return { ...raw, status: normalizeStatus(raw.status), attempt_id: Number(raw.attempt_id ?? raw.attempt ?? 1) };
}

// ---- the dashboard's routes --------------------------------------------------------------

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export interface WorkflowSummary {
  id: number;
  name: string;
  user: string | null;
  description: string | null;
  created_ms: number | null;
  run_id: number;
  is_canceled: boolean;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';
  total: number;
  done: number;
  counts: Record<string, number>;
  conditions: Condition[];
  started_ms: number | null;
  ended_ms: number | null;
  elapsed_ms: number | null;
  compute_nodes: number;
  active_compute_nodes: number;
}

export interface WorkflowDetail extends WorkflowSummary {
  settings: { jobs_sort_method: string; use_pending_failed: boolean; schedule: string | null; resource_monitor: unknown };
  compute_node_list: { id: number; hostname: string; compute_node_type: string; num_cpus: number; memory_gb: number; num_gpus: number; is_active: boolean; started_ms: number | null }[];
  recent_events: EventItem[];
  recent_failures: Failure[];
  cancel_requested_job_ids: number[];
}

export interface JobRow {
  id: number;
  name: string;
  status: StatusName;
  attempt_id: number;
  return_code: number | null;
  started_ms: number | null;
  completed_ms: number | null;
  duration_ms: number | null;
  hostname: string | null;
  resource_requirements: string | null;
}

export interface Page<T> {
  items: T[];
  offset: number;
  limit: number;
  total_count: number;
  has_more: boolean;
}

export interface DagNode {
  key: string;
  kind: 'group' | 'job' | 'more';
  group: number;
  label: string;
  size: number;
  job_id: number | null;
  status: StatusName | null;
  counts: Record<string, number> | null;
  expanded: boolean | null;
  internal_edges: number | null;
  example: string | null;
}

export interface DagData {
  dag_key: string;
  seq: number | null;
  grouping: 'name_pattern' | 'level';
  total_jobs: number;
  total_dependencies: number;
  group_count: number;
  groups: { index: number; label: string; size: number }[];
  nodes: DagNode[];
  edges: { from: string; to: string; count: number }[];
}

export interface TimelineData {
  now_ms: number;
  omitted: number;
  nodes: { id: number; hostname: string; compute_node_type: string; num_cpus: number; is_active: boolean }[];
  bars: { job_id: number; name: string; attempt: number; compute_node_id: number | null; start_ms: number; end_ms: number | null; status: StatusName; return_code: number | null }[];
}

export interface ThroughputData {
  start_ms: number;
  bucket_ms: number;
  series: { status: StatusName; counts: number[] }[];
}

export interface JobDetail {
  job: {
    id: number; workflow_id: number; name: string; command: string; invocation_script: string | null; status: StatusName; attempt_id: number;
    return_code: number | null; hostname: string | null; stdio_recorded: boolean; image: string | null; env: Record<string, string> | null;
    cancel_on_blocking_job_failure: boolean; claimed_ms: number | null; started_ms: number | null; completed_ms: number | null; cancel_requested: boolean;
  };
  workflow: { id: number; name: string; run_id: number; is_canceled: boolean };
  requirements: { name: string; num_cpus: number; num_gpus: number; num_nodes: number; memory: string; runtime: string; raised_for_this_job: boolean } | null;
  attempts: ({ attempt_id: number; run_id: number; status: StatusName; return_code: number; exec_time_minutes: number; start_ms: number | null; completion_ms: number | null; hostname: string | null; stdio_recorded: boolean; diagnosis_reason: string | null } & UsageSummary)[];
  blockers: { id: number; name: string; status: StatusName }[];
  blocker_count: number;
  dependents: { id: number; name: string; status: StatusName }[];
  dependent_count: number;
  input_files: { id: number; name: string; path: string }[];
  output_files: { id: number; name: string; path: string }[];
}

/** A result's resource summary (torc's fields) and its diagnosis when it failed; null: not measured. */
export interface UsageSummary {
  peak_memory_bytes: number | null;
  avg_memory_bytes: number | null;
  peak_cpu_percent: number | null;
  avg_cpu_percent: number | null;
  failure_diagnosis: string | null;
}

/** The Resources tab: each job's latest measured result, highest peak memory first. */
export interface ResourcesData {
  jobs_with_results: number;
  measured: number;
  jobs: ({ job_id: number; name: string; status: StatusName; run_id: number; attempt_id: number; memory_bytes: number | null; num_cpus: number | null } & UsageSummary)[];
}

/** One time-series sample (GET /workflows/{id}/job_resource_samples). */
export interface ResourceSample {
  job_id: number;
  run_id: number;
  attempt_id: number;
  /** Seconds since the epoch. */
  timestamp: number;
  cpu_percent: number;
  memory_bytes: number;
  num_processes: number;
}

export interface StdioChunk {
  available: boolean;
  reason: string | null;
  attempt_id: number;
  running: boolean;
  size: number;
  offset: number;
  next_offset: number;
  text: string;
}

export interface DashboardConfig {
  version: string;
  auth_required: boolean;
  /** Users sign in with a name and password (the server's --auth htpasswd file). */
  users?: boolean;
  /** Reads need no sign-in. */
  public_read?: boolean;
  resource_monitoring: boolean;
}

let configPromise: Promise<DashboardConfig> | undefined;
export const config = () => (configPromise ??= get<DashboardConfig>('/dashboard/config'));

export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
