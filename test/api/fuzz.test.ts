/**
 * REST fuzz: random and malformed requests against every route of the table (wrong types,
 * bad ids, odd escapes, unknown parameters, broken and oversized bodies, illegal transitions,
 * wrong run ids, other methods, odd paths and headers; generator in test/support/rest-fuzz.ts).
 * No answer may be 5xx or non-JSON, no internal error may be logged, the server stays up, and
 * afterwards the database passes SQLite's checks and the invariant checker.
 * TORC_FUZZ_REQUESTS raises the count (the stress suite runs 10k+).
 */
import test from 'ava';
import fc from 'fast-check';
import { startTestApi } from '../support/api.js';
import { checkInvariants } from '../support/invariants.js';
import { makePlan } from '../support/plans.js';
import { requestArb, sendChecked } from '../support/rest-fuzz.js';

const REQUESTS = Number(process.env.TORC_FUZZ_REQUESTS ?? 1500);

test(`REST fuzz: ${REQUESTS} random or malformed requests → no 5xx, server up, database consistent`, async (t) => {
  t.timeout(600_000);
  const errors: string[] = [];
  const api = await startTestApi(t, { bodyLimitBytes: 64 * 1024, logger: { info() {}, error: (l) => errors.push(l) } });
  // A few workflows in various states, so that many random ids hit real records.
  for (let w = 0; w < 3; w++) {
    const wf = await api.store.createWorkflowFromPlan(
      makePlan({
        schedulers: ['s1'],
        classes: [{ name: 'big', num_cpus: 4 }],
        jobs: Array.from({ length: 8 }, (_, i) => ({ name: `j${i}`, rc: i % 2 ? 'big' : undefined, after: i > 4 ? [`j${i - 5}`] : [] })),
      }),
    );
    await api.store.initializeJobs(wf.id);
    const node = await api.client.registerComputeNode(wf.id, {
      hostname: 'h', pid: 1, num_cpus: 8, memory_gb: 8, num_gpus: 0, num_nodes: 1, scheduler_config_id: null,
      compute_node_type: 'fuzz', lease_seconds: 600,
    });
    const claimed = await api.client.claimNextJobs(wf.id, 3, node.id);
    await api.client.startJob(claimed.jobs[0]!.id, 1, node.id);
  }
  const histogram = new Map<number, number>();
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      const { status } = await sendChecked(api.server.baseUrl, r);
      sent++;
      histogram.set(status, (histogram.get(status) ?? 0) + 1);
    }),
    { numRuns: REQUESTS },
  );
  t.log(`${sent} requests; statuses ${JSON.stringify(Object.fromEntries([...histogram].sort((a, b) => a[0] - b[0])))}`);
  t.true([...histogram.keys()].some((s) => s < 300), 'some requests succeeded');
  t.true([...histogram.keys()].some((s) => s === 400), 'some requests were refused');
  t.deepEqual(errors, [], 'internal errors logged');

  // The server is still up, and the database is consistent. Random claims may name no node
  // (legal for torc's own clients), so pending jobs may lack one; random create_result /
  // update_result calls write results as plain records, as torc's routes do (a run posted the
  // route's example twice: two results for job 1's running attempt).
  t.is((await api.http('GET', '/ping')).status, 200);
  const report = await checkInvariants(api.store.db, { allowUnownedPending: true, allowRawResults: true });
  t.deepEqual(report.violations, []);
  t.true(report.checked.workflows >= 1);
});
