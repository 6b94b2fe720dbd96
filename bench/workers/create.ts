/**
 * Create + initialize one workflow file in a fresh process, the way `torc reconcile` does
 * (load + validate → plan → store in one transaction → initialize), and report the time of
 * each phase and the process's peak RSS. Prints one JSON line.
 *   node --import tsx bench/workers/create.ts SPEC.yaml DB [--stream]
 * --stream plans with the streamed planner (jobs generated while stored; --huge).
 */
import { loadWorkflowFile, planDocument, planDocumentStreamed, type Plan, type StreamedPlan } from '../../src/spec/index.js';
import { Store } from '../../src/store/index.js';

const [specPath, dbPath, mode] = process.argv.slice(2);
if (!specPath || !dbPath) {
  process.stderr.write('usage: create.ts SPEC.yaml DB\n');
  process.exit(2);
}
const t0 = performance.now();
const docs = loadWorkflowFile(specPath);
const t1 = performance.now();
let plan: Plan | StreamedPlan | null = mode === '--stream' ? planDocumentStreamed(docs[0]!) : null;
if (mode === '--stream' && !plan) throw new Error('the streamed planner does not cover this spec');
plan ??= planDocument(docs[0]!);
if ('job_count' in plan) {
  // Progress on stderr every million jobs generated (a 10M run takes minutes).
  const jobsOf = plan.eachJob.bind(plan);
  const t = performance.now();
  plan.eachJob = function* () {
    let k = 0;
    for (const job of jobsOf()) {
      if (++k % 1_000_000 === 0) process.stderr.write(`stored ${k} jobs after ${((performance.now() - t) / 1000).toFixed(0)} s, RSS ${(process.memoryUsage.rss() / 2 ** 20).toFixed(0)} MiB\n`);
      yield job;
    }
  };
}
const t2 = performance.now();
const store = await Store.open(dbPath);
const applied = await store.applyPlan(plan);
const t3 = performance.now();
const init = await store.initializeJobs(applied.workflow_id);
const t4 = performance.now();
await store.close();
const jobs = 'job_count' in plan ? plan.job_count : plan.jobs.length;
process.stdout.write(
  `${JSON.stringify({
    jobs,
    dependencies: plan.dep_targets.length,
    ready: init.ready,
    blocked: init.blocked,
    load_ms: t1 - t0,
    plan_ms: t2 - t1,
    store_ms: t3 - t2,
    initialize_ms: t4 - t3,
    total_ms: t4 - t0,
    max_rss_kb: process.resourceUsage().maxRSS,
  })}\n`,
);
