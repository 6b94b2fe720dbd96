/**
 * Resource samples go through the runner's report queue like starts and ends (issue 24): a
 * server that is away when they are taken gets them, in order, once it answers again; a server
 * that refuses them for good (torc's own, without the route) is sent no more.
 */
import test from 'ava';
import { NotFoundError } from '../../src/errors.js';
import { ServerSession } from '../../src/runners/local/server-session.js';
import type { ResourceSample } from '../../src/contract/resources.js';
import { StoreRunnerClient } from '../../src/store/runner-client.js';
import { makePlan } from '../support/plans.js';
import { openTempStore } from '../support/store.js';

async function setUp(t: Parameters<typeof openTempStore>[0]) {
  const store = await openTempStore(t);
  const wf = await store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }] }));
  await store.initializeJobs(wf.id);
  const job = (await store.listJobs(wf.id, { limit: 10 })).items[0]!;
  const client = new StoreRunnerClient(store);
  // The server's side of the wire: down (a connection error), up, or without the route.
  const server = { mode: 'down' as 'down' | 'up' | 'no-route', calls: 0 };
  const record = client.recordResourceSamples.bind(client);
  client.recordResourceSamples = async (workflowId: number, samples: ResourceSample[]) => {
    server.calls++;
    if (server.mode === 'down') throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    if (server.mode === 'no-route') throw new NotFoundError('no route POST /resource_samples');
    return record(workflowId, samples);
  };
  const errors: string[] = [];
  const session = new ServerSession(client, wf.id, {
    backoff: { initialMs: 1, maxMs: 5 },
    onApiError: (op) => errors.push(op),
    ends: { completed() {}, retried() {}, undelivered() {} },
    startRefused() {},
    startMovedOn() {},
  });
  const sample = (i: number): ResourceSample => ({ job_id: job.id, run_id: 1, attempt_id: 1, timestamp: 1_700_000_000 + i, cpu_percent: i, memory_bytes: 1000 * i, num_processes: 1 });
  return { store, wf, session, server, sample, errors };
}

test('samples taken while the server is away are kept and delivered, in order, when it answers again', async (t) => {
  const { store, wf, session, server, sample } = await setUp(t);
  await session.reportResourceSamples([sample(1), sample(2)]);
  await session.reportResourceSamples([sample(3)]);
  t.is((await store.listResourceSamples(wf.id)).items.length, 0, 'nothing stored while the server is away');
  t.is(session.reports.size, 2, 'both batches kept');
  server.mode = 'up';
  t.true(await session.reports.drain(() => true), 'everything delivered');
  const stored = (await store.listResourceSamples(wf.id, { limit: 100 })).items;
  t.deepEqual(stored.map((s) => s.cpu_percent), [1, 2, 3]);
  t.is(session.reports.size, 0);
});

test('a server without the samples route is sent no more after its refusal; nothing else is held up', async (t) => {
  const { session, server, sample } = await setUp(t);
  server.mode = 'no-route';
  await session.reportResourceSamples([sample(1)]);
  t.is(session.reports.size, 0, 'the refused batch is dropped');
  const calls = server.calls;
  await session.reportResourceSamples([sample(2)]);
  t.is(server.calls, calls, 'no further sample calls');
  t.is(session.reports.size, 0);
});
