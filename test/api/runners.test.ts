/**
 * Real runners over HTTP: two local JobRunners in this process, talking to the server only
 * through the typed client, one resource-aware and one queue-depth, share one workflow. Every
 * job runs exactly once and the workflow completes.
 */
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { JobRunner } from '../../src/runners/local/job-runner.js';
import { detectResources } from '../../src/runners/local/resources.js';
import { startTestApi } from '../support/api.js';
import { GB, makePlan } from '../support/plans.js';
import { tempDir, waitFor } from '../support/procs.js';

const resources = (cpus: number, memGb: number) =>
  detectResources({
    env: { PATH: '/usr/bin:/bin' }, hostname: 'apihost', overrides: { num_cpus: cpus, memory_gb: memGb, num_gpus: 0 },
    cgroupRoot: '/nonexistent', procCgroupFile: '/nonexistent',
  });

test('a resource-aware and a queue-depth runner share one workflow over HTTP; every job runs once', async (t) => {
  const token = 'runner-token';
  const api = await startTestApi(t, { token });
  const dir = await tempDir('torc-api-runners-');
  // Each job appends its name to a log: a job run twice would appear twice. Jobs wait for the go
  // file, made once both runners hold running jobs: neither can finish the workflow alone
  // because the other was slow to start (a busy machine).
  const go = path.join(dir, 'go');
  const cmd = (name: string) => `until [ -e ${go} ]; do sleep 0.02; done; echo ${name} >> ${dir}/ran.log`;
  const jobs = [
    ...Array.from({ length: 4 }, (_, i) => ({ name: `large_${i}`, rc: 'large', command: cmd(`large_${i}`) })),
    ...Array.from({ length: 12 }, (_, i) => ({ name: `small_${i}`, command: cmd(`small_${i}`) })),
    { name: 'final', command: cmd('final'), after: ['large_0', 'large_3', 'small_11'] },
  ];
  const wf = await api.store.createWorkflowFromPlan(makePlan({ classes: [{ name: 'large', num_cpus: 2, memory_bytes: 1 * GB }], jobs }));
  const client = new TorcClient(api.server.baseUrl, { token });
  await client.initializeJobs(wf.id);

  const common = { workflowId: wf.id, outputDir: dir, pollIntervalSeconds: 0.2, heartbeatSeconds: 1, leaseSeconds: 60 };
  const resourceAware = new JobRunner({ ...common, client, resources: await resources(4, 4) });
  const queueDepth = new JobRunner({ ...common, client: new TorcClient(api.server.url, { token }), maxParallelJobs: 3, resources: await resources(1, 1) });
  const runs = Promise.all([resourceAware.run(), queueDepth.run()]);
  await waitFor(async () => {
    const running = (await api.store.listJobs(wf.id, { status: 'running', limit: 100 })).items;
    return new Set(running.map((j) => j.compute_node_id)).size === 2;
  }, 120_000, 'both runners to hold running jobs');
  await writeFile(go, '');
  const [a, b] = await runs;
  t.is(a.reason, 'complete');
  t.is(b.reason, 'complete');
  t.is(a.completed + b.completed, jobs.length, 'the two runners together completed every job');
  t.true(a.completed > 0 && b.completed > 0, `both runners worked (${a.completed} + ${b.completed})`);

  const ran = (await readFile(path.join(dir, 'ran.log'), 'utf8')).trim().split('\n').sort();
  t.deepEqual(ran, jobs.map((j) => j.name).sort(), 'each job ran exactly once');
  const status = await client.getWorkflowStatus(wf.id);
  t.is(status.phase, 'Succeeded');
  t.is((await client.listResults(wf.id)).total_count, jobs.length);
  const nodes = await client.listComputeNodes(wf.id);
  t.is(nodes.total_count, 2);
  t.true(nodes.items.every((n) => !n.is_active), 'both runners deactivated their nodes on exit');
});
