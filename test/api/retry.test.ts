/**
 * The failure policy over HTTP: a job runner on the typed client (as `torc run`) reads the
 * job's failure handler, runs the recovery script and retries through POST /jobs/{id}/retry.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { JobRunner } from '../../src/runners/local/job-runner.js';
import { detectResources } from '../../src/runners/local/resources.js';
import { JobStatus } from '../../src/contract/status.js';
import { startTestApi } from '../support/api.js';
import { makePlan } from '../support/plans.js';
import { tempDir } from '../support/procs.js';

test('a runner over HTTP retries a failed attempt after its recovery script; the next attempt succeeds', async (t) => {
  const api = await startTestApi(t);
  const dir = await tempDir();
  const plan = makePlan({ jobs: [{ name: 'flaky', command: `[ -f ${dir}/fixed ] || exit 7` }, { name: 'after', after: ['flaky'] }] });
  plan.failure_handlers.push({
    name: 'fix',
    rules: [{ exit_codes: [7], match_all_exit_codes: false, recovery_script: `echo "$TORC_RETURN_CODE" > ${dir}/fixed`, max_retries: 2, memory_multiplier: null, runtime_multiplier: null }],
  });
  plan.jobs[0]!.failure_handler = 0;
  const wf = (await api.store.createWorkflowFromPlan(plan)).id;
  await api.store.initializeJobs(wf);
  const resources = await detectResources({ env: { PATH: '/usr/bin:/bin' }, hostname: 'h', overrides: { num_cpus: 2, memory_gb: 2, num_gpus: 0 }, cgroupRoot: '/nonexistent', procCgroupFile: '/nonexistent' });
  const events: string[] = [];
  const runner = new JobRunner({
    client: api.client, workflowId: wf, outputDir: dir, cwd: dir, resources, pollIntervalSeconds: 0.2,
    onEvent: (e) => events.push(e.type),
  });
  t.like(await runner.run(), { reason: 'complete', completed: 2, retried: 1, failed: 0 });
  t.is(readFileSync(path.join(dir, 'fixed'), 'utf8'), '7\n');
  const [flaky, after] = (await api.client.listJobs(wf)).items;
  t.like(flaky, { status: 'completed', attempt_id: 2 });
  t.like(after, { status: 'completed', attempt_id: 1 });
  t.true(events.includes('job_retried'));
  t.regex(readFileSync(path.join(dir, 'job_stdio', `job_${flaky!.id}_1.e`), 'utf8'), /attempt 1 returned 7; running the recovery script/);
  t.true(existsSync(path.join(dir, 'job_stdio', `job_${flaky!.id}_2.o`)), 'the second attempt has its own files');
});
