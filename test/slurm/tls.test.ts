/**
 * Slurm workers and an HTTPS server signed by a private CA, on the real test Slurm: `torc slurm
 * schedule-nodes --ca-file` talks to the server with the CA and hands the same file to every
 * worker (`torc worker --ca-file` in the sbatch script), which needs it: the workers run with
 * no TORC_CA_FILE in their environment. The certificate is made by openssl for this test and
 * names the address the nodes reach the server at (slurmApiHost).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { refreshAllocations } from '../../src/runners/slurm/scheduler.js';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';
import { runTorc, REPO_ROOT } from '../support/cli.js';
import { makePrivateCa } from '../support/private-ca.js';
import { waitFor } from '../support/procs.js';
import { slurmApiHost, slurmTest } from '../support/slurm.js';
import { harness } from '../support/slurm-harness.js';

const slurm = slurmTest('test/slurm/tls.test.ts');

slurm('workers in allocations reach an HTTPS server with a private CA through --ca-file, and the token', async (t) => {
  t.timeout(300_000);
  const certs = mkdtempSync(path.join(os.tmpdir(), 'torc-slurm-tls-'));
  t.teardown(() => rmSync(certs, { recursive: true, force: true }));
  const pki = makePrivateCa(certs, slurmApiHost());
  const tokenFile = path.join(certs, 'token');
  writeFileSync(tokenFile, 'slurm-tls-token\n', { mode: 0o600 });
  const h = await harness(
    t,
    `
name: slurm-tls
compute_node_wait_for_new_jobs_seconds: 3
compute_node_expiration_buffer_seconds: 5
resource_requirements:
  - {name: one, num_cpus: 1, memory: 10m, runtime: PT1M}
slurm_schedulers:
  - {name: batch, walltime: "00:05:00", mem: 200M, ntasks_per_node: 2}
jobs:
  - name: job_{i}
    command: 'echo "$SLURM_JOB_ID" > @DIR@/seen/$TORC_JOB_ID.$TORC_ATTEMPT'
    resource_requirements: one
    scheduler: batch
    parameters: {i: "1:3"}
`,
    { token: 'slurm-tls-token', tls: { cert: pki.cert, key: pki.key, ca: pki.ca } },
  );
  t.regex(h.server.baseUrl, /^https:\/\//);
  const env = { TORC_CA_FILE: undefined, TORC_API_TOKEN: undefined };
  const base = ['slurm', 'schedule-nodes', String(h.workflowId), '--url', h.server.baseUrl, '--scheduler-config-id', String(h.schedulers.get('batch')!.id),
    '--output-dir', path.join(h.dir, 'out'), '--format', 'json', '--token-file', tokenFile];

  const untrusting = await runTorc(base, { cwd: REPO_ROOT, env });
  t.is(untrusting.code, 1, 'without the CA the server is not trusted');
  t.regex(untrusting.stderr, /certificate|cannot reach/i);
  t.is((await h.registry.listAllocations(h.workflowId)).length, 0, 'and nothing was submitted');

  const res = await runTorc([...base, '--ca-file', pki.caFile], { cwd: REPO_ROOT, env });
  t.is(res.code, 0, res.stderr);
  const { script } = JSON.parse(res.stdout) as { script: string };
  t.regex(readFileSync(script, 'utf8'), new RegExp(` --token-file ${tokenFile} --ca-file ${pki.caFile}$`, 'm'));

  await waitFor(async () => (await h.store.getStatus(h.workflowId)).is_complete, 240_000, 'the workflow to complete').catch(async (e) => {
    t.log(await h.slurmLogs());
    throw e;
  });
  const jobs = (await h.store.listJobs(h.workflowId)).items;
  t.deepEqual(jobs.map((j) => j.status), ['completed', 'completed', 'completed']);
  t.is((await h.seen()).length, 3, 'every job ran in an allocation');
  await waitFor(async () => (await refreshAllocations(h.registry, new SlurmCommands(), h.workflowId)).open.length === 0, 60_000, 'the allocations to end');
  t.notRegex(await h.slurmLogs(), /API error|certificate/i, 'the workers never failed to reach the server');
});
