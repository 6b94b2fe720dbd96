/**
 * `torc slurm allocations WF` on the real test Slurm: each recorded allocation with Slurm's
 * view of it (state, exit code, reason, nodes; from sacct when accounting is on, else from
 * scontrol), and failed allocations named on stderr. Skipped, loudly, without Slurm.
 */
import path from 'node:path';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { scheduleNodes } from '../../src/runners/slurm/scheduler.js';
import { runTorc } from '../support/cli.js';
import { waitFor } from '../support/procs.js';
import { slurmTest } from '../support/slurm.js';
import { harness } from '../support/slurm-harness.js';

const slurm = slurmTest('test/slurm/allocations-view.test.ts');

slurm('slurm allocations shows a failed allocation as Slurm saw it (FAILED, exit 1) and names it on stderr', async (t) => {
  t.timeout(240_000);
  const h = await harness(
    t,
    `
name: alloc-view
resource_requirements:
  - {name: one, num_cpus: 1, memory: 10m, runtime: PT1M}
slurm_schedulers:
  - {name: broken, walltime: "00:05:00", mem: 100M}
jobs:
  - {name: a, command: "true", resource_requirements: one, scheduler: broken}
`,
  );
  // An allocation whose "worker" exits 1 at once: its batch script fails.
  const { allocations } = await scheduleNodes(h.registry, new SlurmCommands(), {
    workflowId: h.workflowId,
    scheduler: { id: h.schedulers.get('broken')!.id, scheduler: h.schedulers.get('broken')! },
    count: 1,
    launch: { url: h.server.baseUrl, outputDir: path.join(h.dir, 'out'), torcCommand: ['/bin/false'] },
  });
  const id = allocations[0]!.slurm_job_id;
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
