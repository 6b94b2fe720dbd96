/**
 * REST fuzz beyond test/api/fuzz.test.ts (random requests to every route): a stateful walk over
 * real workflows, jobs and nodes (claims, starts, completions, retries, heartbeats, resets and
 * cancels with right and wrong run_ids, foreign and retired nodes, illegal statuses), then every
 * workflow driven to completion; and raw HTTP a client library would never send. No 5xx, no
 * internal error logged, the server stays up, the invariants hold. The stress suite runs 10k+.
 */
import test from 'ava';
import { checkInvariants, databaseFingerprint } from '../support/invariants.js';
import { oversizeProblems, rawHttpProblems, stateFuzz } from '../support/rest-fuzz.js';
import { makePlan } from '../support/plans.js';
import { startTestApi } from '../support/api.js';

const OPS = Number(process.env.TORC_STATE_FUZZ_OPS ?? 1500);
const LIMIT = 64 * 1024;

test(`stateful REST fuzz: ${OPS} state-machine requests with real ids, right and wrong run_ids → no 5xx, stale run_ids refused, nothing wedged, invariants hold`, async (t) => {
  t.timeout(600_000);
  const errors: string[] = [];
  const api = await startTestApi(t, { bodyLimitBytes: LIMIT, logger: { info() {}, error: (l) => errors.push(l) } });
  const seed = Number(process.env.TORC_FUZZ_SEED ?? Date.now() % 1_000_000);
  const out = await stateFuzz(api.server.baseUrl, { ops: OPS, seed });
  t.deepEqual(out.problems, [], `seed ${seed}`);
  t.deepEqual(errors, [], 'internal errors logged');
  t.is((await api.http('GET', '/ping')).status, 200);
  // Claims without a node are legal (torc's own clients), so pending jobs may lack one.
  t.deepEqual((await checkInvariants(api.store.db, { allowUnownedPending: true })).violations, []);
  t.true(out.wrongRunIds > 0);
  t.log(`seed ${seed}: ${out.ops} state-machine requests (${out.wrongRunIds} with a wrong run_id, all refused); statuses ${JSON.stringify(out.statuses)}`);
});

test('raw HTTP: malformed request lines and headers, lying lengths, chunked bodies past the limit, pipelining → 4xx or a closed socket, never 5xx', async (t) => {
  const errors: string[] = [];
  const api = await startTestApi(t, { bodyLimitBytes: LIMIT, logger: { info() {}, error: (l) => errors.push(l) } });
  const out = await rawHttpProblems(api.server.port, LIMIT);
  t.deepEqual(out.problems, []);
  t.deepEqual(errors, [], 'internal errors logged');
  t.is((await api.http('GET', '/ping')).status, 200);
  t.deepEqual((await checkInvariants(api.store.db)).violations, []);
  t.log(`${out.sent} raw requests: no 5xx, server up`);
});

test('every route that reads a body answers 413 to one past the limit, declared or streamed, and stores nothing', async (t) => {
  const errors: string[] = [];
  const api = await startTestApi(t, { bodyLimitBytes: LIMIT, logger: { info() {}, error: (l) => errors.push(l) } });
  const wf = await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }] }));
  await api.store.initializeJobs(wf.id);
  const node = await api.client.registerComputeNode(wf.id, {
    hostname: 'h', pid: 1, num_cpus: 1, memory_gb: 1, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 't', lease_seconds: 60,
  });
  const job = (await api.store.listJobs(wf.id)).items[0]!;
  const before = await databaseFingerprint(api.store.db);
  const out = await oversizeProblems(api.server.baseUrl, LIMIT, { workflow: wf.id, job: job.id, node: node.id });
  t.deepEqual(out.problems, []);
  t.deepEqual(errors, []);
  t.deepEqual(await databaseFingerprint(api.store.db), before);
  t.log(`${out.sent} oversized requests: all 413, store unchanged`);
});
