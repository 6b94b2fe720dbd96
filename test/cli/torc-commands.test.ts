/**
 * The commands torc users type most (torc's cli.md), run as the real `torc` binary against a
 * real server (--url, also given before the command as torc's global option) and against a
 * database file (--db): workflows create|submit|delete, jobs list|get|update, results list,
 * events list, user-data get|update, completions SHELL — the scripts evaluated in real bash,
 * zsh and fish.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApi } from '../support/api.js';
import { REPO_ROOT, runTorc } from '../support/cli.js';
import { scratchDir } from '../support/scratch.js';
import { slurmTest } from '../support/slurm.js';

const SPEC = `name: cli-demo
user: tester
files:
  - {name: in, path: in.txt}
user_data:
  - {name: cfg, data: {lr: 0.1}}
jobs:
  - {name: a, command: 'cat \${files.input.in}', input_user_data: [cfg]}
  - {name: b, command: 'echo b', depends_on: [a]}
  - {name: c, command: 'echo c', depends_on: [a]}
`;

const json = (stdout: string) => JSON.parse(stdout);

test('workflows create / jobs list|get|update / user-data get|update / workflows delete over a server, global -f and --url before the command', async (t) => {
  const api = await startTestApi(t);
  const dir = scratchDir(t, 'torc-cli-');
  writeFileSync(join(dir, 'wf.yaml'), SPEC);
  const url = api.server.baseUrl;

  const dry = await runTorc(['-f', 'json', 'workflows', 'create', 'wf.yaml', '--url', url, '--dry-run'], { cwd: dir });
  t.is(dry.code, 0, dry.stderr);
  t.like(json(dry.stdout), { dry_run: true, workflows: [{ workflow_id: null, name: 'cli-demo', jobs: 3, files: 1, user_data: 1 }] });
  t.is((await api.store.listWorkflows()).total, 0, 'a dry run creates nothing');

  const created = await runTorc(['--url', url, '-f', 'json', 'workflows', 'create', 'wf.yaml', '-u', 'alice'], { cwd: dir });
  t.is(created.code, 0, created.stderr);
  const wf = json(created.stdout).workflow_id as number;
  t.is((await api.store.getWorkflow(wf)).user, 'alice');

  const listed = await runTorc(['-f', 'json', '--url', url, 'jobs', 'list', String(wf), '--include-relationships'], { cwd: dir });
  t.is(listed.code, 0, listed.stderr);
  const jobs = json(listed.stdout) as { id: number; name: string; status: string; depends_on_job_ids: number[] }[];
  t.deepEqual(jobs.map((j) => [j.name, j.status]), [['a', 'uninitialized'], ['b', 'uninitialized'], ['c', 'uninitialized']]);
  const a = jobs[0]!.id;
  t.deepEqual(jobs[1]!.depends_on_job_ids, [a]);
  const downstream = await runTorc(['jobs', 'list', String(wf), '--upstream-job-id', String(a), '--sort-by', 'name', '--reverse-sort', '-l', '1', '--url', url, '-f', 'json']);
  t.deepEqual(json(downstream.stdout).map((j: { name: string }) => j.name), ['c']);

  const got = await runTorc(['jobs', 'get', String(jobs[1]!.id), '--url', url, '--format', 'json']);
  t.like(json(got.stdout), { name: 'b', status: 'uninitialized', attempt_id: 1, depends_on_job_ids: [a] });
  const table = await runTorc(['jobs', 'get', String(a), '--url', url]);
  t.regex(table.stdout, /input_user_data_ids/);

  const renamed = await runTorc(['jobs', 'update', String(a), '--name', 'first', '--command', 'cat in.txt', '--url', url, '-f', 'json']);
  t.is(renamed.code, 0, renamed.stderr);
  t.like(json(renamed.stdout), { name: 'first', command: 'cat in.txt' });
  await api.store.initializeJobs(wf);
  const late = await runTorc(['jobs', 'update', String(a), '--name', 'second', '--url', url]);
  t.is(late.code, 2, 'name changes only while uninitialized');
  t.regex(late.stderr, /error: name: job \d+ is ready: name can change only while it is uninitialized/);
  const nothing = await runTorc(['jobs', 'update', String(a), '--url', url]);
  t.is(nothing.code, 2);
  t.regex(nothing.stderr, /nothing to change/);

  const cfg = (await api.store.listUserData(wf))[0]!.id;
  const ud = await runTorc(['user-data', 'get', String(cfg), '--url', url, '-f', 'json']);
  t.like(json(ud.stdout), { name: 'cfg', data: { lr: 0.1 }, is_ephemeral: false });
  const updated = await runTorc(['user-data', 'update', String(cfg), '--data', '{"lr": 0.01, "epochs": 3}', '--ephemeral', 'true', '--url', url, '-f', 'json']);
  t.is(updated.code, 0, updated.stderr);
  t.like(json(updated.stdout), { data: { lr: 0.01, epochs: 3 }, is_ephemeral: true });
  const badData = await runTorc(['user-data', 'update', String(cfg), '--data', '{lr: 1', '--url', url]);
  t.is(badData.code, 2);
  t.regex(badData.stderr, /error: --data: expected JSON/);
  const badId = await runTorc(['user-data', 'get', 'x7', '--url', url]);
  t.is(badId.code, 2);
  t.regex(badId.stderr, /error: ID: expected a user data id/);

  const deleted = await runTorc(['workflows', 'delete', String(wf), '--no-prompts', '--url', url, '-f', 'json']);
  t.is(deleted.code, 0, deleted.stderr);
  t.is((await api.store.listWorkflows()).total, 0);
  const gone = await runTorc(['workflows', 'delete', String(wf), '--url', url]);
  t.is(gone.code, 1);
  t.regex(gone.stderr, /workflow \d+ not found/);
  const wrongPlace = await runTorc(['--url', url, 'validate', 'wf.yaml'], { cwd: dir });
  t.is(wrongPlace.code, 2, 'a global option the command does not take is named');
  t.regex(wrongPlace.stderr, /--url: validate does not take --url/);
});

test('results list (latest of each job; --all-runs, --failed, -s) and events list (-c) from a run, through --db and --url alike', async (t) => {
  const dir = scratchDir(t, 'torc-cli-results-');
  writeFileSync(join(dir, 'wf.yaml'), `name: results-demo
failure_handlers:
  - {name: twice, rules: [{match_all_exit_codes: true, max_retries: 2}]}
jobs:
  - {name: flaky, command: '[ -f ok ] && exit 0; touch ok; exit 3', failure_handler: twice}
  - {name: bad, command: 'exit 4'}
  - {name: good, command: 'true'}
`);
  const run = await runTorc(['reconcile', 'wf.yaml', '--no-server', '-q'], { cwd: dir });
  t.is(run.code, 1, 'bad fails');
  const db = join(dir, '.torc', 'wf.db');
  const latest = json((await runTorc(['results', 'list', '1', '--db', db, '-f', 'json'])).stdout) as { job_id: number; attempt_id: number; status: string; return_code: number }[];
  t.deepEqual(latest.map((r) => [r.status, r.return_code]).sort(), [['completed', 0], ['completed', 0], ['failed', 4]]);
  const all = json((await runTorc(['results', 'list', '1', '--db', db, '-f', 'json', '--all-runs'])).stdout) as unknown[];
  t.is(all.length, 4, 'with the retried attempt');
  const failed = json((await runTorc(['results', 'list', '1', '--db', db, '-f', 'json', '--all-runs', '--failed'])).stdout) as { return_code: number }[];
  t.deepEqual(failed.map((r) => r.return_code).sort(), [3, 4]);
  const bySatus = json((await runTorc(['results', 'list', '1', '--db', db, '-f', 'json', '-s', 'failed'])).stdout) as { return_code: number }[];
  t.deepEqual(bySatus.map((r) => r.return_code), [4]);
  const table = await runTorc(['results', 'list', '1', '--db', db]);
  t.regex(table.stdout, /attempt/);
  const events = json((await runTorc(['events', 'list', '1', '--db', db, '-f', 'json', '-c', 'job_retried'])).stdout) as { timestamp: number; data: Record<string, unknown> }[];
  t.is(events.length, 1);
  t.like(events[0]!.data, { category: 'job_retried', attempt: 2 });
  t.true(Number.isInteger(events[0]!.timestamp));
  const badStatus = await runTorc(['results', 'list', '1', '--db', db, '-s', 'done']);
  t.is(badStatus.code, 2);
  t.regex(badStatus.stderr, /error: --status: unknown job status "done"/);

  // The same answers from a server over the same database.
  const { Store } = await import('../../src/store/index.js');
  const { startServer } = await import('../../src/api/app.js');
  const store = await Store.open(db);
  const server = await startServer({ store, port: 0 });
  t.teardown(async () => {
    await server.close();
    await store.close();
  });
  const viaUrl = json((await runTorc(['results', 'list', '1', '--url', server.baseUrl, '-f', 'json', '--all-runs'])).stdout);
  t.deepEqual(viaUrl, all, '--url and --db print the same models');
  const eventsViaUrl = json((await runTorc(['events', 'list', '1', '--url', server.baseUrl, '-f', 'json', '-c', 'job_retried'])).stdout);
  t.deepEqual(eventsViaUrl, events);
});

test('workflows submit: refused without an on_workflow_start schedule_nodes action, or with required files missing (naming them), nothing initialized', async (t) => {
  const api = await startTestApi(t);
  const dir = scratchDir(t, 'torc-cli-submit-');
  writeFileSync(join(dir, 'plain.yaml'), SPEC);
  writeFileSync(
    join(dir, 'slurm.yaml'),
    `${SPEC.replace('name: cli-demo', 'name: cli-slurm')}slurm_schedulers:
  - {name: short, walltime: "00:05:00"}
actions:
  - {trigger_type: on_workflow_start, action_type: schedule_nodes, scheduler: short, scheduler_type: slurm, num_allocations: 1}
`,
  );
  const url = api.server.baseUrl;
  const plain = json((await runTorc(['workflows', 'create', 'plain.yaml', '--url', url, '-f', 'json'], { cwd: dir })).stdout).workflow_id;
  const noAction = await runTorc(['workflows', 'submit', String(plain), '--url', url], { cwd: dir });
  t.is(noAction.code, 2);
  t.regex(noAction.stderr, /no on_workflow_start action with schedule_nodes/);
  const slurm = json((await runTorc(['workflows', 'create', 'slurm.yaml', '--url', url, '-f', 'json'], { cwd: dir })).stdout).workflow_id;
  const missing = await runTorc(['workflows', 'submit', String(slurm), '--url', url], { cwd: dir });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /error: files.in: Missing required files: "in.txt"/);
  t.true((await api.store.getStatus(slurm)).counts.uninitialized === 3, 'nothing initialized');
  writeFileSync(join(dir, 'in.txt'), 'x\n');
  const db = join(dir, 'local.db');
  t.is((await runTorc(['workflows', 'create', 'slurm.yaml', '--db', db], { cwd: dir })).code, 0);
  const viaDb = await runTorc(['workflows', 'submit', '1', '--db', db], { cwd: dir });
  t.is(viaDb.code, 2, 'Slurm workers need a server');
  t.regex(viaDb.stderr, /error: --db: Slurm workers claim their jobs from a server/);
  const status = await runTorc(['workflows', 'status', '1', '--db', db, '-f', 'json'], { cwd: dir });
  t.is(json(status.stdout).counts.uninitialized, 3, 'refused before anything changed');
});

const slurm = slurmTest(import.meta.filename);

slurm('workflows submit initializes the workflow and submits its on_workflow_start allocations; their workers run the jobs', async (t) => {
  t.timeout(300_000);
  const api = await startTestApi(t);
  const dir = scratchDir(t, 'torc-cli-submit-slurm-');
  mkdirSync(join(dir, 'out'));
  writeFileSync(join(dir, 'in.txt'), 'x\n');
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: submit-demo
compute_node_wait_for_new_jobs_seconds: 5
files:
  - {name: in, path: ${join(dir, 'in.txt')}}
resource_requirements:
  - {name: small, num_cpus: 1, memory: 20m, runtime: PT1M}
slurm_schedulers:
  - {name: short, walltime: "00:05:00", mem: 300M}
jobs:
  - {name: a, command: 'cat \${files.input.in} > ${join(dir, 'a.out')}', resource_requirements: small, scheduler: short}
  - {name: b, command: 'cat ${join(dir, 'a.out')} > ${join(dir, 'b.out')}', resource_requirements: small, scheduler: short, depends_on: [a]}
actions:
  - {trigger_type: on_workflow_start, action_type: schedule_nodes, scheduler: short, scheduler_type: slurm, num_allocations: 1}
`,
  );
  const url = api.server.baseUrl;
  const wf = json((await runTorc(['workflows', 'create', 'wf.yaml', '--url', url, '-f', 'json'], { cwd: dir })).stdout).workflow_id;
  const submitted = await runTorc(['workflows', 'submit', String(wf), '--url', url, '--output-dir', join(dir, 'out'), '-f', 'json'], { cwd: REPO_ROOT });
  t.is(submitted.code, 0, submitted.stderr);
  const out = json(submitted.stdout);
  t.true(out.initialized);
  t.regex(out.actions[0].result, /submitted Slurm allocation\(s\) \d+/);
  const deadline = Date.now() + 240_000;
  while (!(await api.store.getStatus(wf)).is_complete && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  t.deepEqual((await api.store.listJobs(wf)).items.map((j) => j.status), ['completed', 'completed']);
  t.true(existsSync(join(dir, 'b.out')));
  const again = await runTorc(['workflows', 'submit', String(wf), '--url', url, '-f', 'json'], { cwd: REPO_ROOT });
  t.like(json(again.stdout), { initialized: false, actions: [{ result: 'already claimed' }] });
});

test('completions: bash, zsh and fish scripts offer the subcommands and options of the command typed so far; another shell is refused', async (t) => {
  const bad = await runTorc(['completions', 'tcsh']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /error: SHELL: expected one of bash, zsh, fish/);
  const script = async (shell: string) => {
    const res = await runTorc(['completions', shell]);
    t.is(res.code, 0, res.stderr);
    const file = join(scratchDir(t, 'torc-completions-'), `torc.${shell}`);
    writeFileSync(file, res.stdout);
    return file;
  };
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

  const bash = await script('bash');
  const b = run('bash', ['-c', `source ${bash}; for line in "torc jo" "torc jobs l" "torc jobs list 5 --inc" "torc user-data u" "torc workflows s"; do read -ra COMP_WORDS <<< "$line"; COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _torc_completions; echo "\${COMPREPLY[*]}"; done`]);
  t.deepEqual(b.stdout.trim().split('\n'), ['jobs', 'list', '--include-relationships', 'update', 'show status submit']);

  const missing = ['zsh', 'fish'].filter((s) => run('sh', ['-c', `command -v ${s}`]).status !== 0);
  for (const s of missing) t.log(`!!!!! ${s} is not installed: its completion script is checked for syntax only where the shell exists (.ci/run installs it) !!!!!`);
  if (!missing.includes('zsh')) {
    const zsh = await script('zsh');
    const z = run('zsh', ['-c', `compdef() {}; _describe() { local arr=$4; print -l -- \${(P)arr} }; source ${zsh}; words=(torc jobs l); CURRENT=3; _torc; words=(torc results list 1 --all); CURRENT=5; _torc`]);
    t.is(z.status, 0, z.stderr);
    t.true(z.stdout.includes('list:Jobs in queue order'), z.stdout);
    t.true(z.stdout.includes('--all-runs:'), z.stdout);
  }
  if (!missing.includes('fish')) {
    const fish = await script('fish');
    const f = run('fish', ['-c', `source ${fish}; complete -C"torc jobs l"; complete -C"torc events list 1 --cat"; complete -C"torc completions "`]);
    t.is(f.status, 0, f.stderr);
    t.regex(f.stdout, /^list\tJobs in queue order/m);
    t.regex(f.stdout, /^--category\t/m);
  }
});
