/**
 * Reinitialize in the store: changed or missing files (as observed by the caller) and changed
 * input user data send exactly the affected completed jobs and their downstream back.
 */
import test from 'ava';
import { ConflictError } from '../../src/errors.js';
import { loadWorkflowText, planDocument } from '../../src/spec/index.js';
import type { Store } from '../../src/store/index.js';
import { statusName } from '../../src/contract/status.js';
import { openTempStore } from '../support/store.js';

const spec = (cfg: number) => `
name: reinit
files:
  - {name: raw, path: raw.txt}
  - {name: mid, path: mid.txt}
  - {name: out, path: out.txt}
  - {name: other, path: other.txt}
user_data:
  - {name: cfg, data: {k: ${cfg}}}
jobs:
  - {name: make_mid, command: "cat \${files.input.raw} > \${files.output.mid}"}
  - {name: make_out, command: "cat \${files.input.mid} > \${files.output.out}"}
  # Reads cfg through the API (declared, not in its command).
  - {name: solo, command: "echo solo > \${files.output.other}", input_user_data: [cfg]}
`;
const planOf = (cfg: number) => planDocument(loadWorkflowText(spec(cfg))[0]!);

/** Runs every job through the store, reporting times 100 + file id for its files. */
async function runAll(store: Store, wf: number): Promise<void> {
  const node = (await store.registerComputeNode(wf, {
    hostname: 'h', pid: 1, num_cpus: 4, memory_gb: 4, num_gpus: 0, num_nodes: 1, scheduler_config_id: null, compute_node_type: 't', lease_seconds: 600,
  })).id;
  await store.initializeJobs(wf);
  for (;;) {
    const run = (await store.getWorkflow(wf)).run_id;
    const { jobs } = await store.claimNextJobs(wf, 10, node);
    if (jobs.length === 0) return;
    for (const j of jobs) {
      await store.startJob(j.id, run, node);
      const files = (j.files ?? []).map((f) => ({ id: f.id, st_mtime: 100 + f.id }));
      await store.completeJob(j.id, 'completed', run, { return_code: 0, exec_time_minutes: 0, completion_time: 'now', files });
    }
  }
}

async function scene(t: Parameters<typeof openTempStore>[0]) {
  const store = await openTempStore(t);
  const wf = (await store.applyPlan(planOf(1))).workflow_id;
  await runAll(store, wf);
  const files = new Map((await store.listFiles(wf)).map((f) => [f.name, f]));
  const observed = (changes: Record<string, number | null> = {}) =>
    [...files.values()].map((f) => ({ id: f.id, st_mtime: f.name in changes ? changes[f.name]! : f.st_mtime }));
  const states = async (id = wf) => Object.fromEntries((await store.listJobs(id)).items.map((j) => [j.name, j.status]));
  return { store, wf, files, observed, states };
}

test('completion records the times the runner saw; unchanged files reset nothing', async (t) => {
  const s = await scene(t);
  for (const f of s.files.values()) t.is(f.st_mtime, 100 + f.id);
  const out = await s.store.reinitialize(s.wf, { files: s.observed() });
  t.deepEqual(out.jobs, []);
  t.is(out.run_id, 1, 'no new run for nothing');
});

test('a changed input resets its reader and everything downstream, in a new run, initialized; dry run changes nothing', async (t) => {
  const s = await scene(t);
  const files = s.observed({ raw: 999 });
  const dry = await s.store.reinitialize(s.wf, { files, dryRun: true });
  t.deepEqual(dry.reinitialized_jobs, ['make_mid', 'make_out']);
  t.deepEqual(dry.jobs[0]!.reasons, ['input file raw changed']);
  t.deepEqual(dry.jobs[1]!.reasons, ['downstream of make_mid']);
  t.deepEqual(await s.states(), { make_mid: 'completed', make_out: 'completed', solo: 'completed' });
  const out = await s.store.reinitialize(s.wf, { files });
  t.deepEqual(out.reinitialized_jobs, ['make_mid', 'make_out']);
  t.is(out.run_id, 2);
  t.deepEqual(await s.states(), { make_mid: 'ready', make_out: 'blocked', solo: 'completed' });
  t.is((await s.store.listFiles(s.wf)).find((f) => f.name === 'raw')!.st_mtime, 999, 'the new time is recorded');
});

test('a missing output resets its producer and downstream; refused while jobs would be reset under running ones', async (t) => {
  const s = await scene(t);
  const out = await s.store.reinitialize(s.wf, { files: s.observed({ mid: null }), dryRun: true });
  t.deepEqual(
    out.jobs.map((j) => [j.name, j.reasons]),
    [
      ['make_mid', ['output file mid missing']],
      ['make_out', ['input file mid missing']],
    ],
  );
  // A job running elsewhere: a new run would strand its report.
  await s.store.resetStatus(s.wf);
  await runAll(s.store, s.wf);
  const node = (await s.store.listComputeNodes(s.wf)).items[0]!.id;
  await s.store.reinitialize(s.wf, { files: s.observed({ other: null }) });
  const { jobs } = await s.store.claimNextJobs(s.wf, 1, node);
  await s.store.startJob(jobs[0]!.id, (await s.store.getWorkflow(s.wf)).run_id, node);
  await t.throwsAsync(s.store.reinitialize(s.wf, { files: s.observed({ raw: 5 }) }), { instanceOf: ConflictError, message: /running/ });
});

test('changed input user data (a re-applied spec that kept the job) resets exactly its reader', async (t) => {
  const s = await scene(t);
  const applied = await s.store.applyPlan(planOf(2));
  t.is(applied.action, 'replaced');
  t.is(applied.kept, 3, 'job hashes do not cover user data contents: all kept as completed');
  const out = await s.store.reinitialize(applied.workflow_id);
  t.deepEqual(out.jobs.map((j) => [j.name, j.reasons]), [['solo', ['command or input user data changed']]]);
  t.deepEqual(await s.states(applied.workflow_id), { make_mid: 'completed', make_out: 'completed', solo: 'ready' });
});
