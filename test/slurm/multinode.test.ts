/**
 * Multi-node allocations on the real multi-node test Slurm (start-slurm.sh with
 * SLURM_TEST_NODES=3: nodes vm, vm-n2, vm-n3, each its own slurmd, network namespace and
 * hostname): a 2-node job spanning two nodes through `torc reconcile --runner slurm --host
 * 0.0.0.0`, one worker per node packing jobs on each node, and a node whose slurmd is killed
 * under a running allocation. Skipped, loudly, without Slurm or with fewer than 2 nodes.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { refreshAllocations, type DispatchOutcome } from '../../src/runners/slurm/scheduler.js';
import { runTorc } from '../support/cli.js';
import { waitFor } from '../support/procs.js';
import { killSlurmd, multiNodeSlurmTest } from '../support/slurm.js';
import { harness } from '../support/slurm-harness.js';

const slurm = await multiNodeSlurmTest('test/slurm/multinode.test.ts', 2);
const commands = new SlurmCommands();

slurm('reconcile --runner slurm --host 0.0.0.0: a 2-node job spans two nodes (srun hostname), jobs run where reconcile ran, workers get the host name', async (t) => {
  t.timeout(300_000);
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'torc-multinode-')));
  writeFileSync(
    path.join(dir, 'wf.yaml'),
    [
      'name: spans-nodes',
      'compute_node_wait_for_new_jobs_seconds: 3',
      'slurm_schedulers:',
      '  - {name: pair, walltime: "00:05:00", nodes: 2, mem: 200M}',
      '  - {name: single, walltime: "00:05:00", nodes: 1, mem: 200M}',
      'resource_requirements:',
      '  - {name: two_nodes, num_nodes: 2, num_cpus: 1, memory: 10m, runtime: PT1M}',
      '  - {name: one, num_cpus: 1, memory: 10m, runtime: PT1M}',
      'jobs:',
      // Relative paths: they must land in the directory reconcile ran in, as for local jobs.
      '  - name: span',
      '    command: \'mkdir -p out && srun --mem=10M hostname > out/span.txt && cp "$TORC_HOSTFILE" out/hosts.txt && echo "$SLURM_JOB_NUM_NODES $SLURM_JOB_NODELIST" > out/nodes.txt\'',
      '    resource_requirements: two_nodes',
      '    scheduler: pair',
      '  - {name: where, command: "pwd > where.txt", resource_requirements: one, scheduler: single}',
      '',
    ].join('\n'),
  );
  const res = await runTorc(['reconcile', 'wf.yaml', '--runner', 'slurm', '--host', '0.0.0.0', '--format', 'json', '--poll-interval', '1'], {
    cwd: dir,
    timeoutMs: 240_000,
  });
  const logs = () =>
    readdirSync(path.join(dir, 'torc_output'))
      .filter((f) => f.startsWith('slurm_'))
      .map((f) => `--- ${f}\n${readFileSync(path.join(dir, 'torc_output', f), 'utf8')}`)
      .join('\n');
  t.is(res.code, 0, `${res.stderr}\n${logs()}`);
  t.is((JSON.parse(res.stdout) as { phase: string }[])[0]!.phase, 'Succeeded');

  // Workers were told this host's name, which every node resolves, never 0.0.0.0.
  t.regex(res.stderr, new RegExp(`REST API: http://${os.hostname()}:\\d+/torc-service/v1`));
  const scripts = readdirSync(path.join(dir, 'torc_output')).filter((f) => f.startsWith('sbatch_'));
  t.is(scripts.length, 2);
  for (const f of scripts) {
    const script = readFileSync(path.join(dir, 'torc_output', f), 'utf8');
    t.notRegex(script, /0\.0\.0\.0/);
    t.regex(script, new RegExp(` --url http://${os.hostname()}:\\d+/`));
    t.regex(script, new RegExp(`^#SBATCH --chdir=${dir}$`, 'm'));
  }

  t.is(readFileSync(path.join(dir, 'where.txt'), 'utf8').trim(), dir, 'a Slurm job runs where torc reconcile ran');
  const names = readFileSync(path.join(dir, 'out', 'span.txt'), 'utf8').trim().split('\n').sort();
  t.is(names.length, 2, names.join(','));
  t.is(new Set(names).size, 2, `srun hostname printed two different nodes: ${names}`);
  t.deepEqual(readFileSync(path.join(dir, 'out', 'hosts.txt'), 'utf8').trim().split('\n').sort(), names, 'the host file names the nodes srun ran on');
  t.regex(readFileSync(path.join(dir, 'out', 'nodes.txt'), 'utf8').trim(), /^2 \S+,\S+$/);
});

slurm("a node's slurmd killed under a one-worker-per-node allocation: only its jobs go back to ready, the other node's carry on, a replacement finishes them", async (t) => {
  t.timeout(600_000);
  // The first attempt of every job waits for @DIR@/go, so the test decides when work ends.
  const h = await harness(
    t,
    `
name: node-failure
compute_node_wait_for_new_jobs_seconds: 5
compute_node_expiration_buffer_seconds: 5
resource_requirements:
  - {name: two_cpus, num_cpus: 2, memory: 10m, runtime: PT5M}
slurm_schedulers:
  - {name: pair, walltime: "00:10:00", nodes: 2, mem: 300M, ntasks_per_node: 4, extra: "--nodelist=vm,vm-n2"}
jobs:
  - name: job_{i}
    command: 'echo "$(hostname) $SLURM_JOB_ID" > @DIR@/seen/$TORC_JOB_ID.$TORC_ATTEMPT; if [ "$TORC_ATTEMPT" = 1 ]; then while [ ! -e @DIR@/go ]; do sleep 1; done; fi'
    resource_requirements: two_cpus
    scheduler: pair
    parameters: {i: "1:4"}
`,
  );
  const first = (await h.scheduleNodes('pair', 1, ['--start-one-worker-per-node'])).allocations[0]!;

  // Each node's worker (4 CPUs) packs two 2-CPU jobs.
  const onNode = async () => {
    const nodes = new Map((await h.store.listComputeNodes(h.workflowId, { activeOnly: true, limit: 100 })).items.map((n) => [n.id, n.hostname]));
    const jobs = (await h.store.listJobs(h.workflowId, { limit: 100 })).items;
    const by = new Map<string, number[]>();
    for (const j of jobs) if (j.status === 'running' && j.compute_node_id != null) by.set(nodes.get(j.compute_node_id) ?? '?', [...(by.get(nodes.get(j.compute_node_id) ?? '?') ?? []), j.id]);
    return by;
  };
  await waitFor(async () => (await onNode()).get('vm')?.length === 2 && (await onNode()).get('vm-n2')?.length === 2, 240_000, 'two jobs running on each node').catch(async (e) => {
    t.log(JSON.stringify([...(await onNode())]));
    t.log(await h.slurmLogs());
    throw e;
  });
  const placed = await onNode();
  const onVm = placed.get('vm')!;
  const onN2 = placed.get('vm-n2')!;
  t.regex(await h.slurmLogs(), /\(one worker per node\)/);

  const restore = await killSlurmd(t, 'vm-n2');
  // Slurm declares the node down after SlurmdTimeout and takes it out of the allocation, which
  // runs on (--no-kill); the next refresh retires the vm-n2 worker and requeues its jobs only.
  let lost: DispatchOutcome['lostNodes'] = [];
  await waitFor(
    async () => {
      const r = await refreshAllocations(h.registry, commands, h.workflowId);
      lost = r.lostNodes;
      return lost.length > 0;
    },
    180_000,
    'the dispatch to see vm-n2 gone from the allocation',
  );
  await restore(); // the node back for the other tests; slurmd kills what was left running there
  t.deepEqual(
    lost.map((l) => [l.allocation.slurm_job_id, l.nodes, l.requeued_jobs]),
    [[first.slurm_job_id, ['vm-n2'], 2]],
  );
  for (const id of onN2) t.true((await h.store.getJob(id)).attempt_id >= 2, `job ${id} of vm-n2 was requeued`);
  for (const id of onVm) {
    const job = await h.store.getJob(id);
    t.is(job.status, 'running', `job ${id} on vm carries on`);
    t.is(job.attempt_id, 1);
  }
  t.is((await commands.queue([first.slurm_job_id])).get(first.slurm_job_id)?.state, 'RUNNING', 'the allocation runs on');

  // The reconciler's dispatch submits a replacement for the requeued jobs.
  const notices: string[] = [];
  const dispatcher = h.dispatcher(2, notices);
  const done = async (ids: number[]) => (await Promise.all(ids.map((id) => h.store.getJob(id)))).every((j) => j.status === 'completed');
  await waitFor(
    async () => {
      await dispatcher.pass();
      return done(onN2);
    },
    300_000,
    "vm-n2's jobs to finish elsewhere",
  ).catch(async (e) => {
    t.log(notices.join('\n'));
    t.log(await h.slurmLogs());
    throw e;
  });
  t.true(notices.some((n) => n.startsWith('submitted Slurm allocation')), notices.join('\n'));
  for (const id of onVm) t.is((await h.store.getJob(id)).status, 'running', `job ${id} on vm still runs its first attempt`);

  mkdirSync(path.join(h.dir, 'go'));
  await waitFor(
    async () => {
      await dispatcher.pass();
      return (await h.store.getStatus(h.workflowId)).is_complete;
    },
    180_000,
    'the workflow to complete',
  );
  t.is((await h.store.getStatus(h.workflowId)).counts.completed, 4);
  // Nothing reported twice, nothing lost: one successful result per job.
  const results = (await h.store.listResults(h.workflowId)).items;
  t.deepEqual(results.map((r) => r.job_id).sort(), [...onVm, ...onN2].sort());
  t.true(results.every((r) => r.return_code === 0));
  for (const id of onVm) t.is((await h.store.getJob(id)).attempt_id, 1, `job ${id} ran once, on vm`);
  const seen = readdirSync(path.join(h.dir, 'seen'));
  for (const id of onN2) t.regex(readFileSync(path.join(h.dir, 'seen', `${id}.1`), 'utf8'), new RegExp(`^vm-n2 ${first.slurm_job_id}$`, 'm'));
  t.false(seen.some((f) => onVm.some((id) => f === `${id}.2`)), 'no job of vm ran again');
}, { exclusive: true }); // kills a node: no other Slurm test may run meanwhile

slurm('one worker per node pins GPUs per node: four 1-GPU jobs on two 2-GPU nodes each see a GPU of their own node, none shared', async (t) => {
  t.timeout(300_000);
  // Every job records its node and GPU, then waits until all four have: they run side by side.
  const h = await harness(
    t,
    `
name: gpu-per-node
compute_node_wait_for_new_jobs_seconds: 3
compute_node_expiration_buffer_seconds: 5
resource_requirements:
  - {name: one_gpu, num_cpus: 1, num_gpus: 1, memory: 10m, runtime: PT3M}
slurm_schedulers:
  - {name: pair, walltime: "00:05:00", nodes: 2, mem: 200M, ntasks_per_node: 2, gres: "gpu:2"}
jobs:
  - name: job_{i}
    command: 'echo "$(hostname) $CUDA_VISIBLE_DEVICES $SLURM_JOB_GPUS" > @DIR@/seen/$TORC_JOB_ID.$TORC_ATTEMPT; until [ "$(ls @DIR@/seen | wc -l)" -ge 4 ]; do sleep 1; done'
    resource_requirements: one_gpu
    scheduler: pair
    parameters: {i: "1:4"}
`,
  );
  await h.scheduleNodes('pair', 1, ['--start-one-worker-per-node']);
  await waitFor(async () => (await h.store.getStatus(h.workflowId)).is_complete, 240_000, 'the workflow to complete').catch(async (e) => {
    t.log(await h.slurmLogs());
    throw e;
  });
  t.is((await h.store.getStatus(h.workflowId)).counts.completed, 4);
  const seen = readdirSync(path.join(h.dir, 'seen')).map((f) => readFileSync(path.join(h.dir, 'seen', f), 'utf8').trim().split(' '));
  t.is(seen.length, 4);
  const byNode = new Map<string, string[]>();
  for (const [host, gpu] of seen) byNode.set(host!, [...(byNode.get(host!) ?? []), gpu!]);
  t.is(byNode.size, 2, `two nodes: ${JSON.stringify([...byNode])}`);
  for (const [host, gpus] of byNode) {
    t.is(gpus.length, 2, `${host} ran two jobs at once`);
    t.is(new Set(gpus).size, 2, `${host}: each job its own GPU (${gpus})`);
    for (const g of gpus) t.regex(g, /^[01]$/, `${host}: one GPU of that node`);
  }
});
