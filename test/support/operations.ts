/**
 * Calls any operation of the API in a state where it succeeds: a scene holding one record of
 * every kind (a workflow with jobs pending, running, ready and blocked, a compute node, files,
 * user data, requirements, schedulers, handlers, results, events, an action, an access group, a
 * remote worker, an allocation), and the request for an operation — path ids of the right
 * records, required query values, the route's example body with its ids pointed at the scene
 * (an update sends the record back changed, as torc's clients do). Shared by the OpenAPI walk
 * (our document) and the torc contract test (torc's document).
 */
import type { ApiRoute } from '../../src/api/routes/index.js';
import type { TestApi } from './api.js';
import { GB, makePlan } from './plans.js';

export interface Scene {
  wf: number;
  /** A workflow with records of every kind but no jobs: its records can all be deleted. */
  bare: number;
  node: number;
  running: number;
  pending: number;
  ready: number;
  blocked: number;
  scheduler: number;
  action: number;
  /** A failure handler a job uses, and one none uses. */
  handler: number;
  handlerFree: number;
  file: number;
  userData: number;
  /** Requirements a job uses, and ones none uses. */
  rr: number;
  rrFree: number;
  localScheduler: number;
  result: number;
  event: number;
  /** A group the workflow is shared with (alice is a member), and one it is not. */
  group: number;
  group2: number;
  scheduled: number;
  slurmJobId: number;
}

export const SCENE_USER = 'alice';
export const SCENE_WORKER = 'alice@node01:22';

export async function buildScene(api: TestApi): Promise<Scene> {
  const plan = makePlan({
    schedulers: ['cluster'],
    classes: [{ name: 'big', num_cpus: 4, memory_bytes: 8 * GB }, { name: 'unused' }],
    jobs: [{ name: 'running', rc: 'big' }, { name: 'pending' }, { name: 'ready' }, { name: 'blocked', after: ['running'] }],
  });
  // The running job fails over to its handler (retry_job); an action fires at start (claim_action).
  const rule = { exit_codes: [], match_all_exit_codes: true, recovery_script: null, max_retries: 3, memory_multiplier: null, runtime_multiplier: null };
  plan.failure_handlers.push({ name: 'retry_any', rules: [rule] }, { name: 'spare', rules: [rule] });
  plan.jobs[0]!.failure_handler = 0;
  plan.actions.push({
    trigger_type: 'on_workflow_start', action_type: 'run_commands', jobs: [], commands: ['true'], scheduler: null, scheduler_type: null,
    num_allocations: 1, start_one_worker_per_node: false, max_parallel_jobs: null, persistent: false,
  });
  const wf = (await api.store.createWorkflowFromPlan(plan)).id;
  await api.store.initializeJobs(wf);
  await api.store.fireActionTriggers(wf);
  const node = await api.client.registerComputeNode(wf, {
    hostname: 'walker', pid: 1, num_cpus: 8, memory_gb: 16, num_gpus: 0, num_nodes: 1, scheduler_config_id: null,
    compute_node_type: 'test', lease_seconds: 600,
  });
  const claimed = await api.client.claimNextJobs(wf, 2, node.id);
  const byName = Object.fromEntries(claimed.jobs.map((j) => [j.name, j.id]));
  await api.client.startJob(byName.running!, 1, node.id);
  const jobs = (await api.store.listJobs(wf)).items;
  const jobId = (name: string) => jobs.find((j) => j.name === name)!.id;
  const rrs = await api.store.listResourceRequirements(wf);
  const handlers = await api.store.listFailureHandlers(wf);
  const scheduler = (await api.store.listSlurmSchedulers(wf))[0]!.id;

  const records = async (workflowId: number) => {
    const file = await api.store.createRecord('files', { workflow_id: workflowId, name: 'scene_file', path: 'scene.txt' });
    const userData = await api.store.createRecord('user_data', { workflow_id: workflowId, name: 'scene_data', data: { x: 1 }, is_ephemeral: false });
    const rrFree = await api.store.createRecord('resource_requirements', {
      workflow_id: workflowId, name: 'scene_rr', num_cpus: 1, memory_bytes: GB, num_gpus: 0, num_nodes: 1, runtime_seconds: 60,
    });
    const local = await api.store.createRecord('local_schedulers', { workflow_id: workflowId, name: 'scene_local', memory: '8g', num_cpus: 4 });
    const event = await api.store.appendEvent(workflowId, 'scene', { n: 1 });
    return { file: file.id, userData: userData.id, rrFree: rrFree.id, localScheduler: local.id, event: event.id };
  };
  const mine = await records(wf);
  const bare = (await api.client.createWorkflow({ name: 'bare', user: SCENE_USER })).id;
  await records(bare);
  await api.store.createRecord('slurm_schedulers', { workflow_id: bare, name: 'bare_sched', account: 'acct', nodes: 1, walltime: '01:00:00' });
  await api.store.createRecord('failure_handlers', { workflow_id: bare, name: 'bare_handler', rules: [rule] });

  const result = await api.store.createRecord('results', {
    workflow_id: wf, job_id: jobId('ready'), run_id: 1, attempt: 1, compute_node_id: node.id, return_code: 0,
    exec_time_minutes: 0.1, completion_time: '2026-01-01T00:00:00Z', status: 5,
  });
  const group = await api.http('POST', '/access_groups', { body: { name: `scene-group-${wf}` } });
  const group2 = await api.http('POST', '/access_groups', { body: { name: `scene-group-${wf}-2` } });
  await api.http('POST', `/access_groups/${group.json.id}/members`, { body: { user_name: SCENE_USER, group_id: group.json.id } });
  await api.http('POST', `/workflows/${wf}/access_groups`, { body: { workflow_id: wf, group_id: group.json.id } });
  await api.http('POST', `/workflows/${wf}/remote_workers`, { body: [SCENE_WORKER] });
  const slurmJobId = 777;
  const scheduled = await api.client.createScheduledComputeNode({ workflow_id: wf, scheduler_config_id: scheduler, scheduler_id: slurmJobId });
  return {
    wf,
    bare,
    node: node.id,
    running: byName.running!,
    pending: byName.pending!,
    ready: jobId('ready'),
    blocked: jobId('blocked'),
    scheduler,
    action: (await api.store.listActions(wf))[0]!.id,
    handler: handlers[0]!.id,
    handlerFree: handlers[1]!.id,
    file: mine.file,
    userData: mine.userData,
    rr: rrs.find((r) => r.name === 'big')!.id,
    rrFree: mine.rrFree,
    localScheduler: mine.localScheduler,
    result: result.id,
    event: mine.event,
    group: group.json.id,
    group2: group2.json.id,
    scheduled: scheduled.id,
    slurmJobId,
  };
}

export interface OperationRequest {
  method: string;
  /** Relative to the API base (…/torc-service/v1). */
  path: string;
  body?: string;
  contentType?: string;
}

/** Which record a path's `{id}` names for this operation. */
function idFor(route: Pick<ApiRoute, 'method' | 'path'>, s: Scene): number {
  const { method, path } = route;
  const del = method === 'DELETE';
  if (path.startsWith('/jobs/')) {
    if (path.includes('start_job') || path.includes('manage_status_change')) return s.pending;
    return del ? s.ready : s.running;
  }
  const byPrefix: [string, number][] = [
    ['/compute_nodes/', s.node],
    ['/failure_handlers/', del ? s.handlerFree : s.handler],
    ['/files/', s.file],
    ['/user_data/', s.userData],
    ['/resource_requirements/', del ? s.rrFree : s.rr],
    ['/slurm_schedulers/', s.scheduler],
    ['/local_schedulers/', s.localScheduler],
    ['/results/', s.result],
    ['/events/', s.event],
    ['/scheduled_compute_nodes/', s.scheduled],
    ['/access_groups/', s.group],
  ];
  return byPrefix.find(([prefix]) => path.startsWith(prefix))?.[1] ?? s.wf;
}

/** Body ids (as the examples name them) → the scene's records. */
function ids(s: Scene, operationId: string): Record<string, unknown> {
  return {
    workflow_id: s.wf,
    scheduler_config_id: s.scheduler,
    // Resource samples are a running job's; other bodies name a ready one.
    job_id: operationId === 'create_job_resource_samples' ? s.running : s.ready,
    resource_requirements_id: s.rr,
    failure_handler_id: s.handler,
    compute_node_id: s.node,
    group_id: operationId === 'add_workflow_to_group' ? s.group2 : s.group,
    input_file_ids: [s.file],
    output_file_ids: [],
    input_user_data_ids: [s.userData],
    output_user_data_ids: [],
    depends_on_job_ids: [s.ready],
    job_ids: [s.ready],
    // One attempt per job named (start_jobs).
    attempt_ids: [1],
  };
}

function retarget(value: unknown, map: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => retarget(v, map));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      if (k in map && (typeof v === 'number' || Array.isArray(v))) return [k, map[k]];
      return [k, retarget(v, map)];
    }),
  );
}

/** Extra query values some operations need to succeed in the scene. */
const EXTRA_QUERY: Record<string, Record<string, string>> = {
  reset_workflow_status: { force: 'true' },
  // Recovery of a workflow with running jobs is refused (409); its plan is not.
  recover_workflow: { dry_run: 'true' },
};

/**
 * The request for an operation. `current`: for an update, the record as the API shows it now
 * (its example's changes are laid over it, ids left alone).
 */
export function requestFor(route: ApiRoute, s: Scene, current?: Record<string, unknown>): OperationRequest {
  const pathValues: Record<string, string> = {
    id: String(idFor(route, s)),
    action_id: String(s.action),
    run_id: '1',
    compute_node_id: String(s.node),
    status: route.path.includes('manage_status_change') ? 'ready' : 'completed',
    limit: '5',
    user_name: SCENE_USER,
    group_id: String(s.group),
    worker: SCENE_WORKER,
    workflow_id: String(s.wf),
  };
  let path = route.path.replace(/\{(\w+)\}/g, (_m, n: string) => encodeURIComponent(pathValues[n]!));
  const query = new URLSearchParams(EXTRA_QUERY[route.operationId] ?? {});
  // Deleting all records of a kind: the bare workflow, whose records no job uses.
  const queryValues: Record<string, string> = { workflow_id: String(route.method === 'DELETE' ? s.bare : s.wf), limit: '5', num_cpus: '8', memory_gb: '16' };
  for (const p of route.params ?? []) if (p.in === 'query' && p.required) query.set(p.name, queryValues[p.name]!);
  if (query.size > 0) path += `?${query}`;
  if (!route.body) return { method: route.method, path };
  let body = route.body.example;
  if (route.body.kind === 'text') return { method: route.method, path, body: String(body), contentType: 'application/yaml' };
  body = retarget(body, ids(s, route.operationId));
  if (current && body && typeof body === 'object' && !Array.isArray(body)) {
    const changes = Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'id' && !k.endsWith('_id') && !k.endsWith('_ids')));
    body = { ...current, ...changes };
  }
  return { method: route.method, path, body: JSON.stringify(body), contentType: 'application/json' };
}

/** Whether an operation updates one record (its request is the record sent back changed). */
export function isUpdate(route: Pick<ApiRoute, 'method' | 'path'>): boolean {
  return route.method === 'PUT' && /\/\{id\}$/.test(route.path);
}
