/**
 * What `torc reconcile` shows while it runs, the way a user sees it: the progress bar on a real
 * terminal (a tmux pane, read back with capture-pane) and the log lines without one. Running
 * jobs (a process runs) and claimed-ahead jobs (pending: claimed, not started) are counted
 * apart: adding them up once showed "8 running" while 4 processes ran under
 * --max-parallel-jobs 4.
 *
 * The scene is set without timing: 8 jobs wait for a go file, so the runner holds exactly 4
 * running (no claim-ahead before a job has ended); a client of the REST API then claims one
 * more as another runner would, which leaves it pending. 4 running and 1 claimed ahead it is,
 * however slow the machine; the old view said "5 running". The waits' deadlines stay below
 * ava's 120 s inactivity timeout, so that a failing test ends through its own teardown (which
 * stops torc and the tmux server) rather than by ava killing the worker and leaving them behind.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TorcClient } from '../../src/api/client.js';
import { startTorc, TORC_BIN } from '../support/cli.js';
import { waitFor } from '../support/procs.js';

const TOKEN = 'progress-test-token-0123456789abcdef';
const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;

/** The workflow, its go file, and how many of its jobs have started. */
function scene(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'torc-progress-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const go = join(dir, 'go');
  const started = join(dir, 'started');
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'wf.yaml'),
    `name: bar\njobs:\n  - {name: "job_{i}", command: 'mkdir -p ${started}; touch ${started}/$TORC_JOB_ID; until [ -e ${go} ]; do sleep 0.05; done', parameters: {i: "1:8"}}\n`,
  );
  const args = ['reconcile', 'wf.yaml', '--max-parallel-jobs', '4', '--port', '0', '--token-file', join(dir, 'token')];
  const startedJobs = () => readdirSync(dir).includes('started') ? readdirSync(started).length : 0;
  return { dir, go, args, startedJobs };
}

/** Another runner's claim through the REST API: one job pending until this node lets it go. */
async function claimOneElsewhere(url: string): Promise<{ release(): Promise<void> }> {
  const client = new TorcClient(url, { token: TOKEN });
  const node = await client.registerComputeNode(1, {
    hostname: 'progress-test-claimer', pid: process.pid, num_cpus: 1, memory_gb: 1, num_gpus: 0, num_nodes: 1,
    scheduler_config_id: null, compute_node_type: 'test', lease_seconds: 600,
  });
  const claimed = await client.claimNextJobs(1, 1, node.id);
  if (claimed.jobs.length !== 1) throw new Error(`claimed ${claimed.jobs.length} jobs, not 1`);
  // Deactivating the node sends its claimed job back to ready, for the reconcile to run.
  return { release: () => client.deactivateComputeNode(node.id) };
}

(hasTmux ? test : test.skip)('on a terminal (tmux): the bar shows running and claimed-ahead jobs apart, then the finished count', async (t) => {
  const { dir, go, args, startedJobs } = scene(t);
  const socket = join(dir, 'tmux.sock');
  const tmux = (...a: string[]) => spawnSync('tmux', ['-S', socket, ...a], { encoding: 'utf8' });
  t.teardown(() => void tmux('kill-server'));
  // The pane keeps what torc printed after it exits, and says how it exited.
  const shell = `cd '${dir}' && '${process.execPath}' '${TORC_BIN}' ${args.map((a) => `'${a}'`).join(' ')}; echo "torc exited $?"; sleep 300`;
  const opened = tmux('new-session', '-d', '-s', 'torc', '-x', '250', '-y', '40', shell);
  t.is(opened.status, 0, opened.stderr);
  const screen = () => tmux('capture-pane', '-p', '-J', '-t', 'torc').stdout;

  // A job is running once torc started it; its marker file comes a moment later from the job
  // itself: wait for both (at most 4 can start: the 5th waits for a slot).
  await waitFor(() => /REST API: \S+/.test(screen()) && /\| 4 running \|/.test(screen()) && startedJobs() >= 4, 90_000, 'the bar to show 4 running and their 4 processes').catch((e: Error) => {
    throw new Error(`${e.message}\n${screen()}`);
  });
  t.is(startedJobs(), 4, 'four job processes started');
  const url = /REST API: (\S+)/.exec(screen())![1]!;
  const elsewhere = await claimOneElsewhere(url);
  await waitFor(() => /\| 4 running \| 1 claimed ahead \|/.test(screen()), 90_000, 'the bar to show the claimed job apart').catch((e: Error) => {
    throw new Error(`${e.message}\n${screen()}`);
  });
  const bar = screen().split('\n').find((l) => l.includes('claimed ahead'))!;
  t.regex(bar, /^bar \[.*\] 0\/8 done \| 4 running \| 1 claimed ahead \| 0 failed \|/);
  t.is(startedJobs(), 4, 'still four processes: the claimed job is not running');

  await elsewhere.release();
  writeFileSync(go, '');
  await waitFor(() => /torc exited \d+/.test(screen()), 90_000, 'torc to finish').catch((e: Error) => {
    throw new Error(`${e.message}\n${screen()}`);
  });
  const final = screen();
  t.regex(final, /torc exited 0/);
  t.regex(final, /bar \[.*\] 8\/8 done \| 0 running \| 0 claimed ahead \| 0 failed \|/);
  t.is(startedJobs(), 8);
});

if (!hasTmux) {
  test('tmux is missing: the terminal test of the progress bar was skipped (apt-get install tmux)', (t) => {
    t.log('!!!!! tmux not found: the progress bar is not tested on a terminal !!!!!');
    t.pass();
  });
}

test('without a terminal: the log lines count running and claimed-ahead jobs apart, and catch up with the last change', async (t) => {
  const { dir, go, args, startedJobs } = scene(t);
  const run = startTorc(args, { cwd: dir, timeoutMs: 240_000 });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const stderr = () => run.output().stderr;
  // (the job processes' own marker files come a moment after torc reports them running)
  await waitFor(() => (/Running: 0\/8 done, 4 running, 0 claimed ahead, 4 ready/.test(stderr()) && startedJobs() >= 4) || run.child.exitCode !== null, 90_000, 'a line with 4 running, and their 4 processes');
  t.is(startedJobs(), 4);
  const url = /REST API: (\S+)/.exec(stderr())![1]!;
  const elsewhere = await claimOneElsewhere(url);
  // Nothing else changes now: the line must still come (a change within a second of the
  // previous line is held back, then logged).
  await waitFor(() => /Running: 0\/8 done, 4 running, 1 claimed ahead, 3 ready/.test(stderr()) || run.child.exitCode !== null, 90_000, 'a line with 1 claimed ahead');
  t.regex(stderr(), /Running: 0\/8 done, 4 running, 1 claimed ahead, 3 ready, 0 blocked, 0 failed/);
  await elsewhere.release();
  writeFileSync(go, '');
  const res = await run.result;
  t.is(res.code, 0, res.stderr);
  t.regex(res.stderr, /Succeeded: 8\/8 done, 0 running, 0 claimed ahead/);
  t.false(/\b([5-9]|\d\d+) running/.test(res.stderr), 'never more running than --max-parallel-jobs');
});
