/**
 * The dashboard's server side without a browser: its routes (string statuses, epoch ms), the
 * job table against a reference, the grouped DAG, the live stream fed by the store's changes,
 * stdio served only from the files the store names, and cancel-one-job in the store and in a
 * real runner.
 */
import test from 'ava';
import { appendFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildDagModel, dagLevels, MAX_GROUPS, namePattern } from '../../src/api/dashboard/dag.js';
import { completeUtf8Length } from '../../src/api/dashboard/stdio.js';
import { JobRunner } from '../../src/runners/local/job-runner.js';
import { detectResources } from '../../src/runners/local/resources.js';
import { StoreRunnerClient } from '../../src/store/runner-client.js';
import type { Store } from '../../src/store/index.js';
import { JobStatus, type JobStatusName } from '../../src/contract/status.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { makePlan, type JobSketch } from '../support/plans.js';
import { isAlive, tempDir, waitFor } from '../support/procs.js';
import { openStream } from '../support/sse.js';

const NOW = () => new Date().toISOString();
const result = (rc = 0) => ({ return_code: rc, exec_time_minutes: 0.01, completion_time: NOW() });

async function node(store: Store, wf: number, outputDir: string | null = null) {
  return store.registerComputeNode(wf, {
    hostname: 'h1', pid: 1, num_cpus: 64, memory_gb: 64, num_gpus: 0, num_nodes: 1, scheduler_config_id: null,
    compute_node_type: 'test', lease_seconds: 600, output_dir: outputDir,
  });
}

/** Claims and starts the named jobs on `nodeId`; returns their ids. */
async function run(store: Store, wf: number, nodeId: number, count: number): Promise<number[]> {
  const claimed = await store.claimNextJobs(wf, count, nodeId, { start_run_id: (await store.getWorkflow(wf)).run_id });
  return claimed.jobs.map((j) => j.id);
}

test('routes answer torc string statuses, attempt_id and epoch-ms times', async (t) => {
  const api = await startTestApi(t);
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }] }))).id;
  await api.store.initializeJobs(wf);
  const n = await node(api.store, wf);
  const [a] = await run(api.store, wf, n.id, 1);
  await api.store.completeJob(a!, 'completed', 1, result());

  const list = await api.http('GET', '/dashboard/workflows');
  t.is(list.status, 200);
  const row = list.json.items.find((w: { id: number }) => w.id === wf);
  t.like(row, { phase: 'Running', total: 2, done: 1, counts: { completed: 1, ready: 1 }, compute_nodes: 1 });
  t.is(typeof row.started_ms, 'number');

  const jobs = await api.http('GET', `/dashboard/workflows/${wf}/jobs`);
  t.deepEqual(jobs.json.items.map((j: { status: string }) => j.status), ['completed', 'ready']);
  t.is(jobs.json.items[0].attempt_id, 1);
  t.is(typeof jobs.json.items[0].completed_ms, 'number');

  const detail = await api.http('GET', `/jobs/${a}/detail`);
  t.like(detail.json.job, { status: 'completed', attempt_id: 1, hostname: 'h1' });
  t.like(detail.json.attempts[0], { status: 'completed', attempt_id: 1, return_code: 0 });
  t.deepEqual(detail.json.dependents.map((d: { name: string; status: string }) => [d.name, d.status]), [['b', 'ready']]);

  const summary = await api.http('GET', `/dashboard/workflows/${wf}`);
  t.deepEqual(summary.json.compute_node_list.map((x: { hostname: string }) => x.hostname), ['h1']);
  t.is((await api.http('GET', '/dashboard/workflows/999')).status, 404);
  t.is((await api.http('GET', `/dashboard/workflows/${wf}/jobs?status=nonsense`)).status, 400);
  t.is((await api.http('GET', `/dashboard/workflows/${wf}/jobs?sort=command`)).status, 400);
});

test('job table: status filter, name search, sort and paging agree with a reference', async (t) => {
  const api = await startTestApi(t);
  const jobs: JobSketch[] = [];
  for (let i = 0; i < 300; i++) jobs.push({ name: i % 3 === 0 ? `alpha_${i}` : i % 3 === 1 ? `beta_${i}` : `Gam%ma_${i}` });
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs }))).id;
  await api.store.initializeJobs(wf);
  const n = await node(api.store, wf);
  const started = await run(api.store, wf, n.id, 120);
  for (const [k, id] of started.entries()) if (k % 2 === 0) await api.store.completeJob(id, k % 4 === 0 ? 'completed' : 'failed', 1, result(k % 4 === 0 ? 0 : 1));
  const all = (await api.store.listJobs(wf, { limit: 10_000 })).items;

  const cases = [
    { query: '', keep: () => true, sort: (a: (typeof all)[number], b: (typeof all)[number]) => a.id - b.id },
    { query: 'status=failed', keep: (j: (typeof all)[number]) => j.status === 'failed', sort: (a: any, b: any) => a.id - b.id },
    { query: 'status=running,completed&sort=name&order=desc', keep: (j: any) => j.status === 'running' || j.status === 'completed', sort: (a: any, b: any) => (a.name < b.name ? 1 : a.name > b.name ? -1 : b.id - a.id) },
    { query: 'q=A_1', keep: (j: any) => j.name.toLowerCase().includes('a_1'), sort: (a: any, b: any) => a.id - b.id },
    { query: 'q=%25ma', keep: (j: any) => j.name.includes('%ma'), sort: (a: any, b: any) => a.id - b.id },
    { query: 'sort=status&order=desc', keep: () => true, sort: (a: any, b: any) => JobStatus[b.status as JobStatusName] - JobStatus[a.status as JobStatusName] || b.id - a.id },
  ];
  for (const c of cases) {
    const expected = all.filter(c.keep).sort(c.sort).map((j) => j.id);
    const got: number[] = [];
    for (let offset = 0; ; offset += 37) {
      const page = await api.http('GET', `/dashboard/workflows/${wf}/jobs?${c.query}&offset=${offset}&limit=37`);
      t.is(page.status, 200, page.text);
      t.is(page.json.total_count, expected.length, c.query);
      got.push(...page.json.items.map((j: { id: number }) => j.id));
      if (!page.json.has_more) break;
    }
    t.deepEqual(got, expected, c.query);
  }
  const byStart = await api.http('GET', `/dashboard/workflows/${wf}/jobs?sort=started&limit=1000`);
  const starts = byStart.json.items.map((j: { started_ms: number | null }) => j.started_ms);
  const firstNull = starts.indexOf(null);
  t.true(firstNull > 0 && starts.slice(firstNull).every((s: number | null) => s === null), 'not started last');
});

test('DAG: a sweep is one group with counted edges; expanding shows its jobs, then a "more" node', async (t) => {
  const api = await startTestApi(t);
  const jobs: JobSketch[] = [{ name: 'setup' }];
  for (let i = 1; i <= 500; i++) jobs.push({ name: `work_${String(i).padStart(3, '0')}`, after: ['setup'] });
  jobs.push({ name: 'summary', after: jobs.slice(1).map((j) => j.name) });
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs }))).id;
  await api.store.initializeJobs(wf);

  const dag = (await api.http('GET', `/dashboard/workflows/${wf}/dag`)).json;
  t.is(dag.grouping, 'name_pattern');
  t.deepEqual(dag.nodes.map((n: { label: string; size: number }) => [n.label, n.size]), [['setup', 1], ['work_#', 500], ['summary', 1]]);
  t.deepEqual(dag.nodes[1].counts, { blocked: 500 });
  t.deepEqual(dag.edges.map((e: { from: string; to: string; count: number }) => `${e.from}>${e.to}:${e.count}`).sort(), ['g0>g1:500', 'g1>g2:500']);

  const open = (await api.http('GET', `/dashboard/workflows/${wf}/dag?expand=1`)).json;
  const kinds = open.nodes.map((n: { kind: string }) => n.kind);
  t.is(kinds.filter((k: string) => k === 'job').length, 200);
  const more = open.nodes.find((n: { kind: string }) => n.kind === 'more');
  t.like(more, { size: 300, counts: { blocked: 300 } });
  const intoMore = open.edges.find((e: { from: string; to: string }) => e.from === 'g0' && e.to === more.key);
  t.is(intoMore.count, 300);
  t.is(open.edges.filter((e: { from: string; count: number }) => e.from === 'g0' && e.count === 1).length, 200);
  t.is((await api.http('GET', `/dashboard/workflows/${wf}/dag?expand=1,x`)).status, 400);
});

test('DAG grouping: numbers out of names; more patterns than MAX_GROUPS group by DAG level', async (t) => {
  t.is(namePattern('sim_0042'), 'sim_#');
  t.is(namePattern('train_lr0.001_bs64_1e-5'), 'train_lr#_bs#_#');
  t.is(namePattern('plain'), 'plain');
  const n = MAX_GROUPS + 50;
  const names = Array.from({ length: n }, (_, i) => `job-${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
  // A chain a → b → c … gives each job its own level.
  const blockers = Uint32Array.from({ length: n - 1 }, (_, i) => i);
  const dependents = Uint32Array.from({ length: n - 1 }, (_, i) => i + 1);
  const ids = Float64Array.from({ length: n }, (_, i) => i + 1);
  t.deepEqual(Array.from(dagLevels(3, Uint32Array.of(0, 1), Uint32Array.of(1, 2))), [0, 1, 2]);
  const model = await buildDagModel({ ids, names, resourceRequirements: names.map(() => null), blockers, dependents });
  t.is(model.grouping, 'level');
  t.is(model.groups.length, n);
  const flat = await buildDagModel({ ids, names, resourceRequirements: names.map(() => null), blockers: new Uint32Array(0), dependents: new Uint32Array(0) });
  t.deepEqual(flat.groups.map((g) => [g.label, g.size]), [['level 0', n]]);
});

test('live stream: a job status change in the store reaches the watcher with counts, groups and events', async (t) => {
  const api = await startTestApi(t);
  const jobs: JobSketch[] = Array.from({ length: 20 }, (_, i) => ({ name: `w_${i}` }));
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs }))).id;
  await api.store.initializeJobs(wf);
  const n = await node(api.store, wf);
  const stream = await openStream(`${api.server.baseUrl}/workflows/${wf}/events/stream`);
  t.is(stream.res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const hello = await stream.next('hello');
  t.like(hello, { workflow_id: wf, counts: { ready: 20 } });
  // A DAG read while watched: its counts are live from then on (seq says as of when).
  const dag = (await api.http('GET', `/dashboard/workflows/${wf}/dag`)).json;
  t.is(typeof dag.seq, 'number');

  const [id] = await run(api.store, wf, n.id, 1);
  await api.store.completeJob(id!, 'failed', 1, result(2));
  await api.store.appendEvent(wf, 'note', { text: '<b>hi</b>' });
  const update = await stream.next('update', (u) => u.jobs.some((j: { id: number; status: string }) => j.id === id && j.status === 'failed'));
  t.true(update.seq > dag.seq);
  t.like(update, { counts: { ready: 19, failed: 1 }, phase: 'Running', dag_key: dag.dag_key });
  t.deepEqual(update.groups[0], { ready: 19, failed: 1 });
  // The failed attempt's own job_failed event may come first; the note follows.
  const withEvent = await stream.next('update', (u) => u.events.some((e: { category: string }) => e.category === 'note'));
  const note = withEvent.events.find((e: { category: string }) => e.category === 'note');
  t.like(note, { category: 'note', data: { text: '<b>hi</b>' } });
  t.is(typeof note.timestamp_ms, 'number');

  // The list stream names the workflow that changed.
  const list = await openStream(`${api.server.baseUrl}/dashboard/stream`);
  await list.next('hello');
  await api.store.cancelWorkflow(wf);
  t.deepEqual((await list.next('workflows')).ids, [wf]);
  await stream.next('update', (u) => u.workflow_changed && u.phase === 'Canceled');
  await Promise.all([stream.close(), list.close()]);
  // No watcher left: the change feed's triggers are gone.
  await waitFor(async () => (await api.store.db.withWriter((w) => w.all("SELECT name FROM temp.sqlite_master WHERE type = 'trigger'"))).length === 0, 30_000, 'the triggers to be removed');
  t.is((await fetch(`${api.server.baseUrl}/workflows/999/events/stream`)).status, 404);
});

async function stdioScene(api: TestApi, outputDir: string | null) {
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'j' }] }))).id;
  await api.store.initializeJobs(wf);
  const n = await node(api.store, wf, outputDir);
  const [id] = await run(api.store, wf, n.id, 1);
  return { wf, id: id! };
}

test('stdio: served from <output_dir>/job_stdio/job_<id>_<attempt>.o|e of the node that ran it, nothing else', async (t) => {
  const api = await startTestApi(t);
  const dir = await tempDir('torc-stdio-');
  const { id } = await stdioScene(api, dir);
  mkdirSync(path.join(dir, 'job_stdio'));
  writeFileSync(path.join(dir, 'job_stdio', `job_${id}_1.o`), 'line one\n<script>x</script>\nnaïve ✓\n');
  writeFileSync(path.join(dir, 'job_stdio', `job_${id}_1.e`), 'oops\n');
  const out = (await api.http('GET', `/jobs/${id}/stdio`)).json;
  t.like(out, { available: true, running: true, offset: 0, text: 'line one\n<script>x</script>\nnaïve ✓\n', stream: 'stdout', attempt_id: 1 });
  t.is(out.next_offset, out.size);
  t.is((await api.http('GET', `/jobs/${id}/stdio?stream=stderr`)).json.text, 'oops\n');
  // A tail that starts inside a multi-byte character skips its continuation bytes.
  const tail = (await api.http('GET', `/jobs/${id}/stdio?tail=true&max_bytes=3`)).json;
  t.like(tail, { text: '\n', offset: out.size - 1 });
  t.is((await api.http('GET', `/jobs/${id}/stdio?tail=true&max_bytes=4`)).json.text, '✓\n');
  const range = (await api.http('GET', `/jobs/${id}/stdio?offset=5&max_bytes=3`)).json;
  t.like(range, { offset: 5, next_offset: 8, text: 'one' });
  // An attempt that never ran, an unknown job, a bad stream name.
  t.like((await api.http('GET', `/jobs/${id}/stdio?attempt=2`)).json, { available: false });
  t.is((await api.http('GET', '/jobs/99999/stdio')).status, 404);
  t.is((await api.http('GET', `/jobs/${id}/stdio?stream=../../etc/passwd`)).status, 400);
  t.is((await api.http('GET', `/jobs/${id}/stdio?path=/etc/passwd`)).status, 400);
  // A symlink in place of the file is not followed.
  writeFileSync(path.join(dir, 'secret'), 'secret\n');
  const other = await stdioScene(api, dir);
  symlinkSync(path.join(dir, 'secret'), path.join(dir, 'job_stdio', `job_${other.id}_1.o`));
  const link = (await api.http('GET', `/jobs/${other.id}/stdio`)).json;
  t.like(link, { available: false, text: '' });
  t.regex(link.reason, /symbolic link/);
  // A runner that did not report its output directory.
  const none = await stdioScene(api, null);
  t.regex((await api.http('GET', `/jobs/${none.id}/stdio`)).json.reason, /did not report/);
  t.is(completeUtf8Length(Buffer.from([0x61, 0xe2, 0x9c])), 1);
  t.is(completeUtf8Length(Buffer.from('a✓', 'utf8')), 4);
});

test('stdio follow: appended output streams until the attempt ends', async (t) => {
  const api = await startTestApi(t);
  const dir = await tempDir('torc-follow-');
  const { id } = await stdioScene(api, dir);
  mkdirSync(path.join(dir, 'job_stdio'));
  const file = path.join(dir, 'job_stdio', `job_${id}_1.o`);
  writeFileSync(file, 'first\n');
  const stream = await openStream(`${api.server.baseUrl}/jobs/${id}/stdio/follow?stream=stdout&offset=6`);
  appendFileSync(file, 'second\n');
  t.like(await stream.next('data'), { offset: 6, next_offset: 13, text: 'second\n' });
  appendFileSync(file, 'third\n');
  await stream.next('data', (d) => d.text.includes('third'));
  await api.store.completeJob(id, 'completed', 1, result());
  t.like(await stream.next('end'), { running: false });
  await stream.close();
  t.is((await fetch(`${api.server.baseUrl}/jobs/${id}/stdio/follow?stream=nope`)).status, 400);
});

test('cancel one job: not started → canceled with the failure cascade; running → a request; finished → 409; token required', async (t) => {
  const api = await startTestApi(t, { token: 's3cret', auth: { publicRead: true } });
  const plan = makePlan({
    jobs: [{ name: 'a' }, { name: 'b', after: ['a'], cancelOnFailure: true }, { name: 'c', after: ['a'] }, { name: 'r' }, { name: 'done' }],
  });
  const wf = (await api.store.createWorkflowFromPlan(plan)).id;
  await api.store.initializeJobs(wf);
  const ids = new Map((await api.store.listJobs(wf)).items.map((j) => [j.name, j.id]));
  t.is((await api.http('POST', `/jobs/${ids.get('a')}/cancel`)).status, 401);
  const out = await api.http('POST', `/jobs/${ids.get('a')}/cancel`, { token: 's3cret' });
  t.is(out.status, 200, out.text);
  t.deepEqual(out.json, { job_id: ids.get('a'), outcome: 'canceled', canceled_dependents: [ids.get('b')] });
  const status = async (name: string) => (await api.store.getJob(ids.get(name)!)).status;
  t.is(await status('a'), 'canceled');
  t.is(await status('b'), 'canceled');
  t.is(await status('c'), 'ready', 'a dependent that does not cancel on failure runs');

  const n = await node(api.store, wf);
  const claimed = await api.store.claimNextJobs(wf, 10, n.id, { start_run_id: 1 });
  const running = claimed.jobs.map((j) => j.id);
  t.true(running.includes(ids.get('r')!));
  const req = await api.http('POST', `/jobs/${ids.get('r')}/cancel`, { token: 's3cret' });
  t.like(req.json, { outcome: 'cancel_requested' });
  t.is(await status('r'), 'running', 'the store cannot stop a process: the runner does');
  t.deepEqual((await api.http('GET', `/workflows/${wf}/status`)).json.cancel_requested_job_ids, [ids.get('r')]);
  t.true((await api.http('GET', `/jobs/${ids.get('r')}/detail`)).json.job.cancel_requested);
  await api.store.completeJob(ids.get('done')!, 'completed', 1, result());
  t.is((await api.http('POST', `/jobs/${ids.get('done')}/cancel`, { token: 's3cret' })).status, 409);
  t.is((await api.http('POST', '/jobs/99999/cancel', { token: 's3cret' })).status, 404);
  const events = (await api.store.listEvents(wf)).items.map((e) => e.category);
  t.deepEqual(events, ['job_canceled', 'job_cancel_requested']);
  // A new run (reset) is not ended by the old request.
  await api.store.completeJob(ids.get('r')!, 'terminated', 1, result(143));
  await api.store.resetStatus(wf, { failedOnly: true });
  await api.store.initializeJobs(wf);
  const again = await api.store.claimNextJobs(wf, 10, n.id, { start_run_id: 2 });
  t.true(again.jobs.some((j) => j.id === ids.get('r')));
  t.is((await api.store.getStatus(wf)).cancel_requested_job_ids, undefined);
});

test('cancel one running job: the local runner terminates its process and reports it terminated', async (t) => {
  const api = await startTestApi(t);
  const dir = await tempDir('torc-cancel-');
  const wf = (await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'sleeper', command: `echo $$ > ${dir}/pid; exec sleep 300` }, { name: 'quick', command: 'true' }] }))).id;
  await api.store.initializeJobs(wf);
  const resources = await detectResources({ env: { PATH: '/usr/bin:/bin' }, hostname: 'cancelhost', overrides: { num_cpus: 4, memory_gb: 4, num_gpus: 0 }, cgroupRoot: '/nonexistent', procCgroupFile: '/nonexistent' });
  const runner = new JobRunner({ client: new StoreRunnerClient(api.store), workflowId: wf, outputDir: dir, resources, pollIntervalSeconds: 0.2, graceSeconds: 2 });
  const done = runner.run();
  const sleeper = (await api.store.listJobs(wf, { name: 'sleeper' })).items[0]!.id;
  let pid = 0;
  await waitFor(async () => {
    try {
      pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    } catch {
      return false;
    }
    return pid > 0 && (await api.store.getJob(sleeper)).status === 'running';
  }, 60_000, 'the sleeper to run');
  t.like((await api.store.cancelJob(sleeper)), { outcome: 'cancel_requested' });
  const summary = await done;
  t.like(summary, { reason: 'complete' });
  t.is((await api.store.getJob(sleeper)).status, 'terminated');
  t.false(isAlive(pid), 'the process is gone');
  // The runner registered where it writes output, so the dashboard can show it.
  const nodes = (await api.store.listComputeNodes(wf)).items;
  t.is(nodes[0]!.output_dir, path.resolve(dir));
  t.like((await api.http('GET', `/jobs/${sleeper}/stdio`)).json, { available: true, attempt_id: 1, running: false });
});
