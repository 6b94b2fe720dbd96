/**
 * `torc slurm allocations WF` on the real test Slurm: each recorded allocation with Slurm's
 * view of it (state, exit code, reason, nodes; from sacct when accounting is on, else from
 * scontrol), and failed allocations named on stderr; `torc reports summary|results` list the
 * failed ones. Skipped, loudly, without Slurm.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { failedAllocations, renderFailedAllocations } from '../../src/cli/reports/results.js';
import type { ScheduledComputeNodeModel } from '../../src/api/client.js';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { refreshAllocations, scheduleNodes, type WorkerLaunchDefaults } from '../../src/runners/slurm/scheduler.js';
import { runTorc, TORC_BIN } from '../support/cli.js';
import { waitFor } from '../support/procs.js';
import { slurmTest } from '../support/slurm.js';
import { harness } from '../support/slurm-harness.js';

const slurm = slurmTest('test/slurm/allocations-view.test.ts');

/** A workflow with one Slurm scheduler and one allocation of it submitted with `launch` (a worker that fails at once). */
async function failingAllocation(t: ExecutionContext, name: string, launch: (dir: string) => Partial<WorkerLaunchDefaults>) {
  const h = await harness(
    t,
    `
name: ${name}
resource_requirements:
  - {name: one, num_cpus: 1, memory: 10m, runtime: PT1M}
slurm_schedulers:
  - {name: broken, walltime: "00:05:00", mem: 100M}
jobs:
  - {name: a, command: "true", resource_requirements: one, scheduler: broken}
`,
  );
  const { allocations } = await scheduleNodes(h.registry, new SlurmCommands(), {
    workflowId: h.workflowId,
    scheduler: { id: h.schedulers.get('broken')!.id, scheduler: h.schedulers.get('broken')! },
    count: 1,
    launch: { url: h.server.baseUrl, outputDir: path.join(h.dir, 'out'), torcCommand: ['/bin/false'], ...launch(h.dir) },
  });
  return { h, id: allocations[0]!.slurm_job_id };
}

slurm('slurm allocations shows a failed allocation as Slurm saw it (FAILED, exit 1) and names it on stderr', async (t) => {
  t.timeout(240_000);
  // An allocation whose "worker" exits 1 at once: its batch script fails.
  const { h, id } = await failingAllocation(t, 'alloc-view', () => ({}));
  type Row = { scheduler_id: string; slurm: { state: string; exit_code: string; source: string; nodes: string } | null };
  let rows: Row[] = [];
  let stderr = '';
  await waitFor(
    async () => {
      const res = await runTorc(['slurm', 'allocations', String(h.workflowId), '--url', h.server.baseUrl, '--format', 'json']);
      t.is(res.code, 0, res.stderr);
      rows = JSON.parse(res.stdout) as Row[];
      stderr = res.stderr;
      return rows[0]?.slurm?.state === 'FAILED';
    },
    120_000,
    'Slurm (sacct lags slurmctld) to report the allocation FAILED',
  );
  t.is(rows.length, 1);
  t.is(rows[0]!.scheduler_id as unknown, Number(id), "torc's scheduled_compute_nodes_model: scheduler_id is an integer");
  t.is(rows[0]!.slurm!.exit_code, '1:0');
  t.true(['sacct', 'scontrol'].includes(rows[0]!.slurm!.source));
  t.regex(rows[0]!.slurm!.nodes, /^vm/);
  t.regex(stderr, new RegExp(`1 allocation\\(s\\) failed: ${id} FAILED`));

  const table = await runTorc(['slurm', 'allocations', String(h.workflowId), '--url', h.server.baseUrl]);
  t.regex(table.stdout, new RegExp(`${id}.*FAILED.*1:0`));
  const recorded = await runTorc(['slurm', 'allocations', String(h.workflowId), '--url', h.server.baseUrl, '--no-slurm', '--format', 'json']);
  t.is((JSON.parse(recorded.stdout) as Row[])[0]!.slurm, null, '--no-slurm: only what torc recorded');
});

slurm('reports summary and results list a failed allocation (a worker that cannot start: its token file is missing) with Slurm\'s state, exit code and nodes; --no-slurm: the end the server recorded', async (t) => {
  t.timeout(240_000);
  // The real worker, told to read a token file that is not there (not on the shared file
  // system, say): it exits 2 before it registers, so the batch script fails.
  const { h, id } = await failingAllocation(t, 'alloc-report', (dir) => ({ torcCommand: [process.execPath, TORC_BIN], tokenFile: path.join(dir, 'no-such-token') }));
  type Failed = { id: number; slurm_job_id: string; scheduler_config_id: number; state: string; exit_code: string | null; reason: string | null; nodes: string | null; source: string };
  let summary: { failed_allocations: Failed[]; failed_jobs: unknown[] } = { failed_allocations: [], failed_jobs: [] };
  await waitFor(
    async () => {
      const res = await runTorc(['reports', 'summary', String(h.workflowId), '--url', h.server.baseUrl, '--format', 'json']);
      t.is(res.code, 0, res.stderr);
      summary = JSON.parse(res.stdout) as typeof summary;
      return summary.failed_allocations[0]?.exit_code === '2:0';
    },
    120_000,
    'Slurm (sacct lags slurmctld) to report the allocation FAILED with exit 2',
  );
  t.is(summary.failed_allocations.length, 1);
  t.like(summary.failed_allocations[0], { slurm_job_id: id, scheduler_config_id: h.schedulers.get('broken')!.id, state: 'FAILED', exit_code: '2:0' });
  t.true(['sacct', 'scontrol'].includes(summary.failed_allocations[0]!.source));
  t.regex(summary.failed_allocations[0]!.nodes ?? '', /^vm/);
  t.deepEqual(summary.failed_jobs, [], 'no job failed: the allocation did');
  t.regex(await h.slurmLogs(), /--token-file: cannot read .*no-such-token: no such file/, "the worker's own error is in the allocation's stderr");

  const text = await runTorc(['reports', 'summary', String(h.workflowId), '--url', h.server.baseUrl]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /Failed Slurm allocations \(1\):/);
  t.regex(text.stdout, new RegExp(`✗ Slurm allocation ${id} \\(id \\d+, scheduler \\d+\\) FAILED: exit 2:0`));

  const results = await runTorc(['reports', 'results', String(h.workflowId), '--url', h.server.baseUrl]);
  t.is(results.code, 0, results.stderr);
  t.like((JSON.parse(results.stdout) as { failed_allocations: Failed[] }).failed_allocations[0], { slurm_job_id: id, state: 'FAILED', exit_code: '2:0' });

  // Without Slurm's view: what the server recorded when the dispatch saw the allocation end.
  const before = await runTorc(['reports', 'summary', String(h.workflowId), '--url', h.server.baseUrl, '--format', 'json', '--no-slurm']);
  t.deepEqual((JSON.parse(before.stdout) as typeof summary).failed_allocations, [], 'not seen ending yet: recorded as SUBMITTED');
  await refreshAllocations(h.registry, new SlurmCommands(), h.workflowId);
  const recorded = await runTorc(['reports', 'summary', String(h.workflowId), '--url', h.server.baseUrl, '--format', 'json', '--no-slurm']);
  t.like((JSON.parse(recorded.stdout) as typeof summary).failed_allocations[0], { slurm_job_id: id, state: 'FAILED', exit_code: null, source: 'torc' });
});

test('failed allocations: Slurm\'s final failure states (CANCELLED by a user too), Slurm\'s view before the recorded state; completed and running ones are left out', (t) => {
  const alloc = (id: number, state: string): ScheduledComputeNodeModel => ({
    id, workflow_id: 1, scheduler_config_id: 3, scheduler_id: 100 + id, scheduler_type: 'slurm', status: 'complete', state, created_at: '', updated_at: '',
  });
  const views = new Map([
    ['101', { state: 'TIMEOUT', exit_code: '0:15', reason: 'TimeLimit', nodes: 'vm-n2', start: null, end: null, source: 'sacct' as const }],
    ['102', { state: 'CANCELLED by 0', exit_code: '0:15', reason: 'None', nodes: 'vm', start: null, end: null, source: 'sacct' as const }],
    ['103', { state: 'COMPLETED', exit_code: '0:0', reason: 'None', nodes: 'vm', start: null, end: null, source: 'sacct' as const }],
  ]);
  const failed = failedAllocations([alloc(1, 'RUNNING'), alloc(2, 'RUNNING'), alloc(3, 'COMPLETED'), alloc(4, 'NODE_FAIL'), alloc(5, 'RUNNING')], views);
  t.deepEqual(failed.map((f) => [f.slurm_job_id, f.state, f.exit_code, f.reason, f.source]), [
    ['101', 'TIMEOUT', '0:15', 'TimeLimit', 'sacct'],
    ['102', 'CANCELLED', '0:15', null, 'sacct'],
    ['104', 'NODE_FAIL', null, null, 'torc'],
  ]);
  t.is(
    renderFailedAllocations(failed),
    [
      '✗ Slurm allocation 101 (id 1, scheduler 3) TIMEOUT: exit 0:15, reason TimeLimit, on vm-n2',
      '✗ Slurm allocation 102 (id 2, scheduler 3) CANCELLED: exit 0:15, on vm',
      '✗ Slurm allocation 104 (id 4, scheduler 3) NODE_FAIL (as torc recorded it)',
    ].join('\n'),
  );
});
