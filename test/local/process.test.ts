import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobStatus } from '../../src/contract/status.js';
import { startJobProcess, stdioPaths, type JobLaunch } from '../../src/runners/local/process.js';
import { groupMembers, isAlive, tempDir, waitFor } from '../support/procs.js';

function launch(over: Partial<JobLaunch> & { command: string }): JobLaunch {
  return { workflow_id: 3, job_id: 7, name: 'job', attempt: 1, ...over };
}

test('exit 0 completes; stdio lands in job_stdio under ids only, whatever the name', async (t) => {
  const dir = await tempDir();
  const proc = await startJobProcess(
    launch({ name: '../../../etc/evil name', command: 'echo out; echo err >&2' }),
    { outputDir: dir },
  );
  const outcome = await proc.done;
  t.is(outcome.status, 'completed');
  t.is(outcome.return_code, 0);
  t.is(outcome.termination_reason, null);
  t.true(outcome.exec_time_minutes >= 0);
  t.false(Number.isNaN(Date.parse(outcome.completion_time)));
  t.is(proc.paths.stdout, path.join(dir, 'job_stdio', 'job_7_1.o'));
  t.is(proc.paths.stderr, path.join(dir, 'job_stdio', 'job_7_1.e'));
  t.is(await readFile(proc.paths.stdout, 'utf8'), 'out\n');
  t.is(await readFile(proc.paths.stderr, 'utf8'), 'err\n');
});

test('stdio paths refuse anything but integer ids', (t) => {
  t.throws(() => stdioPaths('/tmp/x', Number.NaN, 1), { instanceOf: RangeError });
  t.throws(() => stdioPaths('/tmp/x', 1.5, 1), { instanceOf: RangeError });
  t.throws(() => stdioPaths('/tmp/x', 1, -1), { instanceOf: RangeError });
  t.is(stdioPaths('/tmp/x', 12, 3).stdout, '/tmp/x/job_stdio/job_12_3.o');
});

test('a non-zero exit fails with that return code', async (t) => {
  const dir = await tempDir();
  const outcome = await (await startJobProcess(launch({ command: 'exit 3' }), { outputDir: dir })).done;
  t.is(outcome.status, 'failed');
  t.is(outcome.return_code, 3);
});

test('a job killed by a signal (not by the runner) fails with 128 + signo', async (t) => {
  const dir = await tempDir();
  const outcome = await (await startJobProcess(launch({ command: 'kill -KILL $$' }), { outputDir: dir })).done;
  t.is(outcome.status, 'failed');
  t.is(outcome.return_code, 137);
  t.is(outcome.signal, 'SIGKILL');
});

test('environment: torc variables, the job env, GPUs; the job cannot override torc variables', async (t) => {
  const dir = await tempDir();
  const proc = await startJobProcess(
    launch({
      job_id: 11,
      attempt: 2,
      name: 'train',
      env: { MY_VAR: 'mine', TORC_JOB_ID: '999' },
      gpus: ['1', '3'],
      command: 'echo "$TORC_WORKFLOW_ID|$TORC_JOB_ID|$TORC_JOB_NAME|$TORC_ATTEMPT|$TORC_ATTEMPT_ID|$TORC_API_URL|$CUDA_VISIBLE_DEVICES|$MY_VAR|$TORC_OUTPUT_DIR"',
    }),
    { outputDir: dir, apiUrl: 'http://127.0.0.1:9/torc-service/v1' },
  );
  await proc.done;
  t.is(
    (await readFile(proc.paths.stdout, 'utf8')).trim(),
    `3|11|train|2|2|http://127.0.0.1:9/torc-service/v1|1,3|mine|${dir}`,
  );
});

test('no GPU list leaves CUDA_VISIBLE_DEVICES inherited; an empty one hides all GPUs', async (t) => {
  const dir = await tempDir();
  const baseEnv = { ...process.env, CUDA_VISIBLE_DEVICES: '5' };
  const inherit = await startJobProcess(launch({ job_id: 1, command: 'echo "[$CUDA_VISIBLE_DEVICES]"' }), { outputDir: dir, baseEnv });
  const hidden = await startJobProcess(launch({ job_id: 2, gpus: [], command: 'echo "[$CUDA_VISIBLE_DEVICES]"' }), { outputDir: dir, baseEnv });
  await Promise.all([inherit.done, hidden.done]);
  t.is((await readFile(inherit.paths.stdout, 'utf8')).trim(), '[5]');
  t.is((await readFile(hidden.paths.stdout, 'utf8')).trim(), '[]');
});

test('invocation_script is prefixed to the command', async (t) => {
  const dir = await tempDir();
  const script = path.join(dir, 'setup.sh');
  await writeFile(script, 'echo "setup ran"\n"$@"\n');
  const proc = await startJobProcess(launch({ invocation_script: `bash ${script}`, command: 'echo job ran with "$TORC_JOB_ID"' }), {
    outputDir: dir,
  });
  t.is((await proc.done).status, 'completed');
  t.is(await readFile(proc.paths.stdout, 'utf8'), 'setup ran\njob ran with 7\n');
});

test('a job over its runtime gets SIGTERM and ends terminated', async (t) => {
  const dir = await tempDir();
  const proc = await startJobProcess(launch({ command: 'sleep 60', runtime_limit_seconds: 0.3 }), { outputDir: dir, graceSeconds: 30 });
  const outcome = await proc.done;
  t.is(outcome.status, 'terminated');
  t.is(outcome.termination_reason, 'runtime_limit');
  t.is(outcome.return_code, 143);
});

test('a job ignoring SIGTERM is SIGKILLed after the grace period', async (t) => {
  const dir = await tempDir();
  const proc = await startJobProcess(
    launch({ command: `trap '' TERM; echo ready; sleep 60; echo survived` }),
    { outputDir: dir, graceSeconds: 0.5 },
  );
  await waitFor(async () => (await readFile(proc.paths.stdout, 'utf8')).includes('ready'), 60_000, 'job start');
  const outcome = await proc.terminate('canceled');
  t.is(outcome.status, 'terminated');
  t.is(outcome.termination_reason, 'canceled');
  t.is(outcome.return_code, 137);
  t.false(isAlive(proc.pid!));
  t.false((await readFile(proc.paths.stdout, 'utf8')).includes('survived'));
});

test('terminate reaches every process of the job (its process group)', async (t) => {
  const dir = await tempDir();
  const pidFile = path.join(dir, 'child.pid');
  const proc = await startJobProcess(
    launch({ command: `sleep 300 & echo $! > ${pidFile}; (trap '' TERM; sleep 300) & wait` }),
    { outputDir: dir, graceSeconds: 0.5 },
  );
  let child = 0;
  await waitFor(async () => {
    child = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    return child > 0;
  }, 60_000, 'grandchild pid');
  t.true(isAlive(child));
  const outcome = await proc.terminate('stopped');
  t.is(outcome.status, 'terminated');
  t.false(isAlive(proc.pid!), 'job shell gone');
  t.false(isAlive(child), 'background child gone');
  // The subshell that ignored SIGTERM was SIGKILLed too: nothing of the group is left.
  await waitFor(() => groupMembers(proc.pid!).length === 0, 10_000, 'process group to vanish');
  t.deepEqual(groupMembers(proc.pid!), []);
});

test('a job that cannot start fails with 127 and says why in its stderr file', async (t) => {
  const dir = await tempDir();
  const proc = await startJobProcess(launch({ command: 'true' }), { outputDir: dir, cwd: path.join(dir, 'missing') });
  const outcome = await proc.done;
  t.is(outcome.status, 'failed');
  t.is(outcome.return_code, 127);
  t.regex(await readFile(proc.paths.stderr, 'utf8'), /could not start job/);
});
