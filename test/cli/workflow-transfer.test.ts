/**
 * `torc workflows export` / `torc workflows import` round-trip in torc's export format, with
 * the real CLI against a database file (--db) and against a real server (--url): the second
 * export equals the first once ids are read as names (new ids, jobs reset to uninitialized).
 * A document in torc's own shape (duplicate names, a "default" resource entry, action_config)
 * imports; broken ones are refused naming the field; `--spec` writes a spec in every format
 * that reads back to the same workflow.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import { loadWorkflowFile, loadWorkflowText, planDocument } from '../../src/spec/index.js';
import { exportToSpec, type TorcExport } from '../../src/spec/torc-export.js';
import { startTestApi } from '../support/api.js';
import { runTorc } from '../support/cli.js';
import { scratchDir } from '../support/scratch.js';

const SPEC = `
name: transfer
user: alice
description: every kind of record
jobs_sort_method: gpus_memory_runtime
resource_monitor: {enabled: true, granularity: summary}
files:
  - {name: raw, path: data/raw.csv}
  - {name: clean, path: data/clean.csv}
user_data:
  - {name: meta, data: {rows: 3, ok: true}, is_ephemeral: false}
resource_requirements:
  - {name: small, num_cpus: 1, memory: 1g, runtime: PT10M}
  - {name: big, num_cpus: 4, num_gpus: 1, memory: 16g, runtime: PT2H}
failure_handlers:
  - name: retry
    rules: [{exit_codes: [10], max_retries: 2}]
slurm_schedulers:
  - {name: gpu, account: acct, nodes: 1, walltime: "02:00:00", gres: "gpu:1"}
jobs:
  - name: fetch
    command: echo a > \${files.output.raw}
    resource_requirements: small
    output_user_data: [meta]
  - name: clean
    command: cp \${files.input.raw} \${files.output.clean}
    resource_requirements: small
    failure_handler: retry
    input_user_data: [meta]
  - name: train
    command: echo train \${files.input.clean}
    resource_requirements: big
    scheduler: gpu
    depends_on: [clean]
    cancel_on_blocking_job_failure: true
    env: {MODE: fast}
actions:
  - {trigger_type: on_workflow_start, action_type: run_commands, commands: [mkdir -p data]}
  - {trigger_type: on_jobs_ready, action_type: schedule_nodes, jobs: [train], scheduler: gpu, scheduler_type: slurm, num_allocations: 1}
`;

async function dbWithWorkflow(dir: string): Promise<string> {
  const db = join(dir, 'torc.db');
  const store = await Store.open(db);
  await store.createWorkflowFromPlan(planDocument(loadWorkflowText(SPEC)[0]!));
  await store.close();
  return db;
}

/** The export with every id replaced by the name it stands for: what must survive a round trip. */
function byName(doc: TorcExport): unknown {
  const names = (list: Record<string, unknown>[]) => new Map(list.map((r) => [r.id as number, r.name as string]));
  const files = names(doc.files);
  const ud = names(doc.user_data);
  const rr = names(doc.resource_requirements);
  const sched = names(doc.slurm_schedulers);
  const fh = names(doc.failure_handlers ?? []);
  const jobs = names(doc.jobs);
  const strip = ({ id: _id, workflow_id: _w, ...rest }: Record<string, unknown>) => rest;
  const ids = (map: Map<number, string>, v: unknown) => (v as number[]).map((i) => map.get(i));
  const { id: _id, timestamp: _ts, ...workflow } = doc.workflow;
  return {
    export_version: doc.export_version,
    workflow,
    files: doc.files.map(strip),
    user_data: doc.user_data.map(strip),
    resource_requirements: doc.resource_requirements.map(strip),
    slurm_schedulers: doc.slurm_schedulers.map(strip),
    failure_handlers: (doc.failure_handlers ?? []).map(strip),
    jobs: doc.jobs.map((j) => ({
      ...strip(j),
      status: undefined,
      depends_on_job_ids: ids(jobs, j.depends_on_job_ids),
      input_file_ids: ids(files, j.input_file_ids),
      output_file_ids: ids(files, j.output_file_ids),
      input_user_data_ids: ids(ud, j.input_user_data_ids),
      output_user_data_ids: ids(ud, j.output_user_data_ids),
      resource_requirements_id: rr.get(j.resource_requirements_id as number),
      scheduler_id: sched.get(j.scheduler_id as number),
      failure_handler_id: fh.get(j.failure_handler_id as number),
    })),
    workflow_actions: doc.workflow_actions.map((a) => ({
      ...strip(a),
      job_ids: ids(jobs, a.job_ids),
      action_config: { ...(a.action_config as object), scheduler_id: sched.get((a.action_config as { scheduler_id?: number }).scheduler_id!) },
    })),
  };
}

test('export → import → export through a database file gives the same workflow under new ids, jobs uninitialized', async (t) => {
  const dir = scratchDir(t, 'torc-transfer-');
  const db = await dbWithWorkflow(dir);
  const first = join(dir, 'first.json');
  const exp = await runTorc(['workflows', 'export', '1', '--db', db, '-o', first]);
  t.is(exp.code, 0, exp.stderr);
  t.regex(exp.stdout, /^Exported workflow 1 \(transfer\) as a torc export to .*first\.json: 3 jobs, 2 files, 1 user data\n$/);
  const a = JSON.parse(readFileSync(first, 'utf8')) as TorcExport;
  // torc's shape: string statuses, attempt_id, relations as id lists, rules as a JSON string.
  t.is(a.export_version, '1.0');
  t.deepEqual(Object.keys(a), ['export_version', 'exported_at', 'workflow', 'files', 'user_data', 'resource_requirements', 'slurm_schedulers', 'local_schedulers', 'failure_handlers', 'jobs', 'workflow_actions']);
  const train = a.jobs.find((j) => j.name === 'train')!;
  t.is(train.status, 'uninitialized');
  t.is(train.attempt_id, 1);
  t.deepEqual(train.depends_on_job_ids, [a.jobs.find((j) => j.name === 'clean')!.id]);
  t.is(typeof a.failure_handlers![0]!.rules, 'string');

  const imp = await runTorc(['workflows', 'import', first, '--db', db, '--format', 'json']);
  t.is(imp.code, 0, imp.stderr);
  t.deepEqual(JSON.parse(imp.stdout), { success: true, workflow_id: 2, workflow_name: 'transfer', jobs: 3, files: 2, user_data: 1 });
  const again = await runTorc(['workflows', 'export', '2', '--db', db]);
  t.is(again.code, 0, again.stderr);
  const b = JSON.parse(again.stdout) as TorcExport;
  t.notDeepEqual(b.jobs.map((j) => j.id), a.jobs.map((j) => j.id));
  t.deepEqual(byName(b), byName(a));
  // --name renames; the import is a new workflow each time.
  const renamed = await runTorc(['workflows', 'import', first, '--db', db, '--name', 'copy']);
  t.is(renamed.code, 0, renamed.stderr);
  t.regex(renamed.stdout, /^Successfully imported workflow:\n {2}Workflow ID: 3\n {2}Name: copy\n {2}Jobs: 3\n/);
});

test('export and import through a server (--url) round-trip too; results and events are exported on request and reported on import', async (t) => {
  const api = await startTestApi(t);
  const { workflow_id } = await api.client.createWorkflowFromSpec(SPEC);
  await api.client.createEvent(workflow_id, 'note', { message: 'hello' });
  const dir = scratchDir(t, 'torc-transfer-');
  const file = join(dir, 'x.json');
  const env = { TORC_API_URL: api.server.url };
  const exp = await runTorc(['workflows', 'export', String(workflow_id), '-o', file, '--include-events', '--include-results', '--format', 'json'], { env });
  t.is(exp.code, 0, exp.stderr);
  t.like(JSON.parse(exp.stdout), { success: true, workflow_id, workflow_name: 'transfer', jobs: 3, files: 2, user_data: 1, results: 0, events: 1 });
  const doc = JSON.parse(readFileSync(file, 'utf8')) as TorcExport;
  t.is(doc.events!.length, 1);
  t.true(Number.isInteger(doc.events![0]!.timestamp), 'event timestamps are epoch milliseconds, as torc has them');
  t.like(doc.events![0]!.data, { category: 'note', message: 'hello' });
  const imp = await runTorc(['workflows', 'import', file], { env });
  t.is(imp.code, 0, imp.stderr);
  t.regex(imp.stderr, /warning: .*x\.json: events: 1 event\(s\) not imported/);
  const quiet = await runTorc(['workflows', 'import', file, '--skip-events'], { env });
  t.is(quiet.code, 0);
  t.notRegex(quiet.stderr, /warning/);
  const b = await api.client.exportWorkflow(2);
  t.deepEqual(byName(b), byName(await api.client.exportWorkflow(workflow_id)));
  t.is((await api.client.listWorkflows()).total_count, 3);
});

test("a document in torc's own shape imports: duplicate job names, the implicit default resource entry, action_config, local schedulers", async (t) => {
  const dir = scratchDir(t, 'torc-transfer-');
  const doc = {
    export_version: '1.0',
    exported_at: '2025-01-15T10:30:00Z',
    workflow: { id: 40, name: 'from_torc', user: 'bob', description: 'made by torc', timestamp: '2025-01-15T10:00:00Z', compute_node_expiration_buffer_seconds: 60, jobs_sort_method: 'gpus_runtime_memory', resource_monitor_config: '{"enabled":true,"granularity":"time_series","sample_interval_seconds":5,"generate_plots":false}' },
    files: [{ id: 7, workflow_id: 40, name: 'out', path: 'out.txt' }],
    user_data: [],
    resource_requirements: [
      { id: 100, workflow_id: 40, name: 'default', num_cpus: 1, num_gpus: 0, num_nodes: 1, memory: '1m', runtime: 'P0DT1M' },
      { id: 101, workflow_id: 40, name: 'small', num_cpus: 2, num_gpus: 0, num_nodes: 1, memory: '2g', runtime: 'PT30M' },
    ],
    slurm_schedulers: [],
    local_schedulers: [{ id: 1, workflow_id: 40, name: 'default', num_cpus: 8, memory: '16g' }],
    failure_handlers: [],
    jobs: [
      { id: 200, workflow_id: 40, name: 'work', command: 'echo 1 > out.txt', status: 'completed', resource_requirements_id: 101, output_file_ids: [7], attempt_id: 1 },
      { id: 201, workflow_id: 40, name: 'work', command: 'echo 2', status: 'failed', resource_requirements_id: 101, depends_on_job_ids: [200], attempt_id: 2 },
      { id: 202, workflow_id: 40, name: 'report', command: 'cat out.txt', status: 'blocked', input_file_ids: [7], depends_on_job_ids: [201] },
    ],
    workflow_actions: [{ id: 1, workflow_id: 40, trigger_type: 'on_workflow_complete', action_type: 'run_commands', action_config: { commands: ['echo done'] }, job_ids: [], executed: true, persistent: false }],
    results: [{ id: 1, job_id: 200, workflow_id: 40, run_id: 1, attempt_id: 1, compute_node_id: 1, return_code: 0, exec_time_minutes: 0.1, completion_time: '2025-01-15T10:01:00Z', status: 'completed' }],
  };
  const file = join(dir, 'torc-export.json');
  writeFileSync(file, JSON.stringify(doc));
  const db = join(dir, 'new.db');
  await (await Store.open(db)).close();
  const imp = await runTorc(['workflows', 'import', file, '--db', db]);
  t.is(imp.code, 0, imp.stderr);
  t.regex(imp.stderr, /jobs\[1\]\.name: "work" is used by more than one record; imported as "work \(id 201\)"/);
  t.regex(imp.stderr, /local_schedulers: 1 local scheduler\(s\) not imported/);
  t.regex(imp.stderr, /results: 1 result\(s\) not imported/);
  const store = await Store.open(db);
  t.teardown(() => store.close());
  const jobs = (await store.listJobs(1)).items;
  t.deepEqual(jobs.map((j) => [j.name, j.status]), [['work', 'uninitialized'], ['work (id 201)', 'uninitialized'], ['report', 'uninitialized']]);
  t.deepEqual(await store.listJobBlockers(jobs[2]!.id), [jobs[0]!.id, jobs[1]!.id].sort((x, y) => x - y));
  t.deepEqual((await store.listResourceRequirements(1)).map((r) => r.name).filter((n) => n !== 'default'), ['small']);
  t.deepEqual((await store.getWorkflow(1)).settings.resource_monitor, { enabled: true, granularity: 'time_series', sample_interval_seconds: 5, generate_plots: false });
  t.deepEqual((await store.listActions(1)).map((a) => [a.trigger_type, a.commands]), [['on_workflow_complete', ['echo done']]]);
});

test('import refuses what is not a usable export, naming the field; nothing is stored', async (t) => {
  const dir = scratchDir(t, 'torc-transfer-');
  const db = await dbWithWorkflow(dir);
  const good = JSON.parse((await runTorc(['workflows', 'export', '1', '--db', db])).stdout) as TorcExport;
  const cases: [string, string, RegExp][] = [
    ['dangling.json', JSON.stringify({ ...good, jobs: good.jobs.map((j, i) => (i === 2 ? { ...j, depends_on_job_ids: [9999] } : j)) }), /^error: jobs\[2\]\.depends_on_job_ids\[0\]: no job with id 9999 in the export$/m],
    ['version.json', JSON.stringify({ ...good, export_version: '2.0' }), /^error: export_version: unsupported export_version "2\.0"/m],
    ['broken.json', '{"export_version": "1.0",\n  "workflow": {}\n  "jobs": []}', /^error: invalid JSON at line 3, column 3/m],
    ['spec.json', JSON.stringify({ name: 'x', jobs: [{ name: 'a', command: 'true' }] }), /is a workflow spec, not a torc export: run it with torc reconcile/],
  ];
  for (const [name, text, expected] of cases) {
    writeFileSync(join(dir, name), text);
    const res = await runTorc(['workflows', 'import', join(dir, name), '--db', db]);
    t.is(res.code, 2, name);
    t.regex(res.stderr, expected, name);
  }
  const store = await Store.open(db);
  t.teardown(() => store.close());
  t.is((await store.listWorkflows()).total, 1);
});

test('export --spec writes the workflow as a spec in every format (by argument or by extension) that validates and reads back the same', async (t) => {
  const dir = scratchDir(t, 'torc-transfer-');
  const db = await dbWithWorkflow(dir);
  const doc = JSON.parse((await runTorc(['workflows', 'export', '1', '--db', db])).stdout) as TorcExport;
  const expected = exportToSpec(doc).spec;
  for (const [args, file] of [[['--spec', 'kdl'], 'a.kdl'], [['--spec'], 'b.json5'], [['--spec'], 'c.yaml'], [['--spec', 'json'], 'd.out']] as const) {
    const res = await runTorc(['workflows', 'export', '1', '--db', db, ...args, '-o', join(dir, file)]);
    t.is(res.code, 0, res.stderr);
    const format = file === 'd.out' ? 'json' : undefined;
    const spec = loadWorkflowFile(join(dir, file), format ? { format } : {})[0]!.spec;
    t.deepEqual(spec, expected, file);
    // The written spec creates the same jobs again.
    t.deepEqual(planDocument(loadWorkflowFile(join(dir, file), format ? { format } : {})[0]!).jobs.map((j) => j.name), ['fetch', 'clean', 'train']);
  }
  const yaml = await runTorc(['workflows', 'export', '1', '--db', db, '--spec']);
  t.regex(yaml.stdout, /^name: transfer\n/);
  const bad = await runTorc(['workflows', 'export', '1', '--db', db, '--spec', 'toml']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--spec: expected one of yaml, json, json5, kdl, got "toml"/);
});
