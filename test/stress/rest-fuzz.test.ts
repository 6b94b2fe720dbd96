/**
 * Stress: REST fuzz at volume. 10,000 random or malformed requests over every route, then
 * 10,000 stateful requests over real records (right and wrong run_ids, illegal transitions),
 * raw-HTTP abuse and oversized bodies, all on one server: no 5xx, no internal error logged, the
 * server stays up, and the invariants hold. TORC_FUZZ_REQUESTS / TORC_STATE_FUZZ_OPS override.
 */
import test from 'ava';
import fc from 'fast-check';
import { startTestApi } from '../support/api.js';
import { checkInvariants } from '../support/invariants.js';
import { makePlan } from '../support/plans.js';
import { oversizeProblems, rawHttpProblems, requestArb, sendChecked, stateFuzz } from '../support/rest-fuzz.js';

const RANDOM = Number(process.env.TORC_FUZZ_REQUESTS ?? 10_000);
const STATEFUL = Number(process.env.TORC_STATE_FUZZ_OPS ?? 10_000);
const LIMIT = 64 * 1024;

test(`REST fuzz: ${RANDOM} random + ${STATEFUL} stateful requests, raw HTTP and oversized bodies → no 5xx, server up, invariants hold`, async (t) => {
  t.timeout(1_800_000);
  const errors: string[] = [];
  const api = await startTestApi(t, { bodyLimitBytes: LIMIT, logger: { info() {}, error: (l) => errors.push(l) } });
  const seed = Number(process.env.TORC_FUZZ_SEED ?? Date.now() % 1_000_000);
  const histogram: Record<number, number> = {};
  const count = (s: number) => (histogram[s] = (histogram[s] ?? 0) + 1);

  // Records for random ids to hit (the random requests may delete them: fine).
  const addWorkflow = async () => {
    const wf = await api.store.createWorkflowFromPlan(
      makePlan({ jobs: Array.from({ length: 12 }, (_, i) => ({ name: `j${i}`, after: i > 5 ? [`j${i - 6}`] : [] })) }),
    );
    await api.store.initializeJobs(wf.id);
    const node = await api.client.registerComputeNode(wf.id, {
      hostname: 'h', pid: 1, num_cpus: 8, memory_gb: 8, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 'fuzz', lease_seconds: 3600,
    });
    return { wf, node };
  };
  for (let i = 0; i < 3; i++) await addWorkflow();
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      count((await sendChecked(api.server.baseUrl, r)).status);
    }),
    { numRuns: RANDOM, seed },
  );
  const state = await stateFuzz(api.server.baseUrl, { ops: STATEFUL, seed });
  t.deepEqual(state.problems, [], `seed ${seed}`);
  for (const [s, n] of Object.entries(state.statuses)) histogram[Number(s)] = (histogram[Number(s)] ?? 0) + n;
  const raw = await rawHttpProblems(api.server.port, LIMIT);
  t.deepEqual(raw.problems, []);
  const { wf, node } = await addWorkflow();
  const job = (await api.store.listJobs(wf.id)).items[0]!;
  const oversize = await oversizeProblems(api.server.baseUrl, LIMIT, { workflow: wf.id, job: job.id, node: node.id });
  t.deepEqual(oversize.problems, []);

  t.deepEqual(errors, [], 'internal errors logged');
  t.is((await api.http('GET', '/ping')).status, 200, 'the server is still up');
  const report = await checkInvariants(api.store.db, { allowUnownedPending: true });
  t.deepEqual(report.violations, []);
  const total = RANDOM + state.ops + raw.sent + oversize.sent;
  t.log(`seed ${seed}: ${total} requests (${RANDOM} random, ${state.ops} stateful with ${state.wrongRunIds} wrong run_ids refused, ${raw.sent} raw, ${oversize.sent} oversized → 413); statuses ${JSON.stringify(histogram)}; checked ${JSON.stringify(report.checked)}`);
});
