/**
 * torc's own generated Python client (torc v0.10.0, ../shared/torc/python_client) against this
 * server, as a torc user drives it: test/python/torc_client_workflow.py builds a workflow piece
 * by piece and runs it through claims, starts, completions, runtime user data and a retry —
 * zero failed calls, zero answers the client cannot read, every check of the values true. And
 * torc's own example API scripts (examples/python) run unchanged and store what they describe.
 * Skipped loudly without ../shared/torc, or without a python3 that has pydantic ≥ 2 and
 * urllib3 ≥ 2.1 (the client's requirements).
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cli.js';
import { startTestApi } from '../support/api.js';
import { scratchDir } from '../support/scratch.js';
import { TORC_SHARED, torcSharedTest } from '../support/torc-shared.js';

const PYTHON = process.env.TORC_TEST_PYTHON ?? 'python3';
const SCRIPTS = join(REPO_ROOT, 'test', 'python');

/** Why the client cannot run here (no python3, pydantic < 2, urllib3 < 2.1), or null. */
function pythonProblem(): string | null {
  const probe = spawnSync(
    PYTHON,
    ['-c', 'import pydantic, urllib3; p = int(pydantic.VERSION.split(".")[0]); u = tuple(int(x) for x in urllib3.__version__.split(".")[:2]); print(p, *u)'],
    { encoding: 'utf8' },
  );
  if (probe.error || probe.status !== 0) return `${PYTHON} cannot import pydantic and urllib3 (${(probe.stderr || String(probe.error)).trim().split('\n').pop()})`;
  const [pydantic, u1, u2] = probe.stdout.trim().split(' ').map(Number);
  if (pydantic! < 2) return `pydantic ${pydantic} (the client needs ≥ 2)`;
  if (u1! < 2 || (u1 === 2 && u2! < 1)) return `urllib3 ${u1}.${u2} (the client needs ≥ 2.1)`;
  return null;
}

const problem = TORC_SHARED ? pythonProblem() : null;
const pyTest = problem
  ? (() => {
      const msg = `!!!!! torc's Python client cannot run: ${problem}; the tests in ${import.meta.filename} are SKIPPED !!!!!`;
      console.warn(msg);
      process.emitWarning(msg);
      return (title: string, impl: (t: ExecutionContext) => Promise<void>) => test.skip(title, impl);
    })()
  : torcSharedTest(import.meta.filename);

function runPython(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { cwd, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Summary {
  calls: number;
  failed_calls: string[];
  deserialization_errors: string[];
  expected_errors: string[];
  checks: string[];
  failed_checks: string[];
  aborted?: string;
  workflow_id?: number;
}

pyTest('a whole workflow through torc’s own Python client: zero failed calls, zero deserialization errors, every check true', async (t) => {
  const api = await startTestApi(t);
  const work = scratchDir(t, 'torc-pyclient-');
  const res = await runPython([join(SCRIPTS, 'torc_client_workflow.py'), api.server.baseUrl, TORC_SHARED!, work]);
  t.is(res.code, 0, res.stderr);
  const summary = JSON.parse(res.stdout.trim().split('\n').pop()!) as Summary;
  t.is(summary.aborted, undefined, summary.aborted);
  t.deepEqual(summary.failed_calls, [], 'failed calls');
  t.deepEqual(summary.deserialization_errors, [], 'answers the client could not read');
  t.deepEqual(summary.failed_checks, [], 'checks of the values');
  t.deepEqual(summary.expected_errors, ['get_job: 404', 'retry_job: 409', 'manage_status_change: 422'], 'the errors asked for, and only those');
  t.true(summary.calls >= 70, `${summary.calls} calls`);
  t.true(summary.checks.length >= 50, `${summary.checks.length} checks`);
  t.log(`${summary.calls} calls through torc's client, 0 failed, 0 deserialization errors; ${summary.checks.length} checks true`);
  // What the client did is what the store holds.
  const wf = summary.workflow_id!;
  const jobs = (await api.store.listJobs(wf)).items;
  t.is(jobs.length, 6);
  t.true(jobs.every((j) => j.status === 'completed'));
  t.is(jobs.find((j) => j.name === 'flaky')!.attempt_id, 2);
  const results = (await api.store.listResults(wf)).items;
  t.is(results.length, 6, 'one result per completed attempt (torc\'s retry records none for the failed one)');
  t.true(results.every((r) => r.compute_node_id !== null), 'every result names its compute node');
  t.deepEqual((await api.store.listUserData(wf)).find((u) => u.name === 'result')!.data, { total: 45 });
});

/** torc's example API scripts: the ones that build a workflow through the client (not the modules they import). */
function exampleScripts(): string[] {
  if (!TORC_SHARED) return [];
  const dir = join(TORC_SHARED, 'examples', 'python');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.py') && /make_api\(/.test(readFileSync(join(dir, f), 'utf8')))
    .sort()
    .map((f) => join(dir, f));
}

pyTest('torc’s own example API scripts run unchanged and store the workflows they describe', async (t) => {
  const scripts = exampleScripts();
  t.true(scripts.length >= 2, `${scripts.length} scripts`);
  const api = await startTestApi(t);
  const work = scratchDir(t, 'torc-pyexamples-');
  for (const script of scripts) {
    const res = await runPython([join(SCRIPTS, 'run_torc_example.py'), TORC_SHARED!, script], { TORC_API_URL: api.server.baseUrl }, work);
    t.is(res.code, 0, `${script}: ${res.stderr}`);
  }
  const workflows = (await api.store.listWorkflows()).items;
  const byName = new Map(workflows.map((w) => [w.name, w.id]));
  // diamond_workflow.py: four jobs whose order comes from the files they read and write.
  const diamond = byName.get('diamond_workflow');
  t.truthy(diamond, 'the diamond example stored its workflow');
  await api.store.initializeJobs(diamond!);
  const states = Object.fromEntries((await api.store.listJobs(diamond!)).items.map((j) => [j.name, j.status]));
  t.deepEqual(states, { preprocess: 'ready', work1: 'blocked', work2: 'blocked', postprocess: 'blocked' });
  t.is((await api.store.listFiles(diamond!)).length, 9);
  // map_function_across_workers.py: one job per parameter set, a postprocess job reading every output.
  const mapped = byName.get('map_function_workflow');
  t.truthy(mapped, 'the map example stored its workflow');
  await api.store.initializeJobs(mapped!);
  const mappedStates = Object.fromEntries((await api.store.listJobs(mapped!)).items.map((j) => [j.name, j.status]));
  t.deepEqual(mappedStates, { 1: 'ready', 2: 'ready', 3: 'ready', postprocess: 'blocked' });
  t.deepEqual(await api.store.listJobBlockers((await api.store.listJobs(mapped!, { name: 'postprocess' })).items[0]!.id), (await api.store.listJobs(mapped!)).items.filter((j) => j.name !== 'postprocess').map((j) => j.id));
});
