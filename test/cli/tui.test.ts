/**
 * `torc tui` as a person sees it: the real `torc tui` in a real terminal (tmux: send-keys to
 * type, capture-pane to read the screen) against a real `torc server` with a bearer token and a
 * real `torc run` runner running real processes; and against a database file that a real
 * `torc reconcile` is writing. In order: the workflow list and its keys; opening a workflow;
 * the job table's filter, sort and paging (rows checked against the server's own answer); a
 * job's detail and its output followed while it grows; a live update when a job finishes;
 * cancel refused without the token, asked first and done with it; rerun failed; resizing to
 * 80×24 and larger; NO_COLOR (no escape sequence at all, even for output full of them); the
 * database file directly, live; a job's resource sparklines (samples posted through the
 * monitoring route, and a real job monitored with granularity time_series, drawn live from the
 * file) and "not recorded" without samples; q gives the terminal back. No test waits for a duration: each
 * waits for what it expects on the screen (generous deadlines). Every tmux server is killed in
 * teardown. Skipped, loudly, without tmux.
 */
import test, { type ExecutionContext } from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { REPO_ROOT, startTorc, TORC_BIN, type StartedTorc } from '../support/cli.js';
import { tempDir, waitFor } from '../support/procs.js';
import { startTorcServer, type ServerProcess } from '../support/server-proc.js';
import { TmuxSession, tmuxAvailable } from '../support/tmux.js';
import { Store } from '../../src/store/index.js';
import { bytes } from '../../src/cli/tui/text.js';

const HOG = fileURLToPath(new URL('../fixtures/monitor/hog.mjs', import.meta.url));

const hasTmux = tmuxAvailable();
if (!hasTmux) process.stderr.write('\n!!!!! tmux not found: the torc tui tests are SKIPPED. Install it with `apt-get install -y tmux` (.ci/run does). !!!!!\n');
const serial = hasTmux ? test.serial : test.serial.skip;

const TOKEN = 'tui-test-token-31c9';
const SWEEP = 60;
/** setup, work_1…60, fails, gate, chatty, long, hostile, final */
const TOTAL = SWEEP + 7;

interface Ctx {
  dir: string;
  server: ServerProcess;
  runner: StartedTorc;
  wf: number;
  tokenFile: string;
  gate: string;
  stopChatty: string;
  ids: Record<string, number>;
  sessions: TmuxSession[];
}
let ctx: Ctx;

async function api<T = any>(method: string, p: string, token: string | null = TOKEN): Promise<T> {
  const res = await fetch(`${ctx.server.url}${p}`, { method, headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

const jobStatus = async (name: string): Promise<string> => (await api(`GET`, `/jobs/${ctx.ids[name]}/detail`)).job.status;

/** A fresh terminal running `torc ARGS…`; killed in the test's teardown. */
async function tui(
  t: ExecutionContext,
  args: string[],
  options: { cols?: number; rows?: number; env?: Record<string, string>; cwd?: string } = {},
): Promise<TmuxSession> {
  const session = await TmuxSession.start({
    dir: ctx?.dir ?? REPO_ROOT,
    cols: options.cols ?? 80,
    rows: options.rows ?? 24,
    command: [process.execPath, TORC_BIN, 'tui', ...args],
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', ...options.env },
  });
  ctx?.sessions.push(session);
  t.teardown(() => session.kill());
  return session;
}

const serverArgs = (withToken: boolean) => ['--url', ctx.server.url, ...(withToken ? ['--token-file', ctx.tokenFile] : [])];

/** Job ids of the table rows on the screen, top to bottom. */
function tableIds(screen: string): number[] {
  const lines = screen.split('\n');
  const header = lines.findIndex((l) => /\bID NAME\b/.test(l));
  const ids: number[] = [];
  for (const line of lines.slice(header + 1)) {
    const m = /^[› ] +(\d+) /.exec(line);
    if (!m) break;
    ids.push(Number(m[1]));
  }
  return ids;
}

/** The widest line of a screen, in cells (the box and bar characters are one cell each). */
const widest = (screen: string) => Math.max(...screen.split('\n').map((l) => [...l].length));

/** Opens the workflow's job table filtered to one job name, then that job. */
async function openJob(s: TmuxSession, name: string): Promise<string> {
  await s.waitForText(/\[Jobs\]|Jobs \d/);
  await s.keys('/');
  await s.waitForText('Filter (');
  await s.keys('C-u');
  await s.type(name);
  await s.waitForText(`${name}█`);
  await s.keys('Enter');
  await s.waitFor((screen) => screen.includes(`name contains "${name}"`) && tableIds(screen)[0] === ctx.ids[name], `the table filtered to ${name}`);
  await s.keys('Enter');
  return s.waitForText(new RegExp(`^ ${name} +job ${ctx.ids[name]} `, 'm'));
}

test.before(async () => {
  if (!hasTmux) return;
  const dir = await tempDir('torc-tui-');
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const server = await startTorcServer(path.join(dir, 'tui.db'), ['--token-file', tokenFile, '--public-read']);
  const gate = path.join(dir, 'gate');
  const stopChatty = path.join(dir, 'stop-chatty');
  ctx = { dir, server, tokenFile, gate, stopChatty, ids: {}, sessions: [] } as unknown as Ctx;
  const spec = {
    name: 'tui demo',
    jobs: [
      { name: 'setup', command: 'echo setup done' },
      { name: 'work_{i}', command: 'echo work {i}', depends_on: ['setup'], parameters: { i: `1:${SWEEP}` } },
      { name: 'fails', command: 'echo about to fail >&2; exit 3', depends_on: ['setup'] },
      { name: 'gate', command: `while [ ! -e ${gate} ]; do sleep 0.1; done; echo gate open`, depends_on: ['setup'] },
      { name: 'chatty', command: `i=0; while [ ! -e ${stopChatty} ]; do i=$((i+1)); echo "tick $i"; sleep 0.2; done` },
      { name: 'long', command: 'sleep 600' },
      { name: 'hostile', command: `printf 'x\\033[31mRED\\033[0m\\033]0;pwned\\007 \\033[2J done\\n'` },
      { name: 'final', command: 'echo final', depends_on: ['gate'] },
    ],
  };
  const created = await fetch(`${server.url}/workflow_specs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(spec),
  });
  if (created.status !== 201) throw new Error(`creating the workflow: ${created.status} ${await created.text()}`);
  ctx.wf = ((await created.json()) as { workflow_id: number }).workflow_id;
  await api('POST', `/workflows/${ctx.wf}/initialize_jobs`);
  ctx.runner = startTorc(
    [
      'run',
      String(ctx.wf),
      '--url',
      server.url,
      '--token-file',
      tokenFile,
      '--max-parallel-jobs',
      '10',
      '--output-dir',
      path.join(dir, 'out'),
      '--poll-interval',
      '1',
      '-q',
    ],
    { cwd: dir, timeoutMs: 900_000 },
  );
  const jobs = (await api('GET', `/dashboard/workflows/${ctx.wf}/jobs?limit=1000`)).items as { id: number; name: string }[];
  for (const j of jobs) ctx.ids[j.name] = j.id;
  await waitFor(
    async () => {
      const s = await api('GET', `/dashboard/workflows/${ctx.wf}`);
      return s.counts.completed === SWEEP + 2 && s.counts.failed === 1 && s.counts.running === 3;
    },
    120_000,
    'the workflow to reach its steady state (sweep done, one failure, gate/chatty/long running)',
  );
});

test.after.always(async () => {
  if (!ctx) return;
  for (const s of ctx.sessions) await s.kill();
  writeFileSync(ctx.stopChatty, '');
  writeFileSync(ctx.gate, '');
  const runner = ctx.runner;
  if (runner && runner.child.exitCode === null && runner.child.signalCode === null) {
    runner.child.kill('SIGTERM');
    const timer = setTimeout(() => runner.child.kill('SIGKILL'), 30_000);
    await runner.result;
    clearTimeout(timer);
  }
  await ctx.server?.stop();
});

serial('workflow list: the running workflow with phase and counts, the keys in the footer; Enter opens it; q gives the terminal back', async (t) => {
  const s = await tui(t, serverArgs(false));
  const screen = await s.waitFor((text) => /tui demo +Running/.test(text) && text.includes('● live'), 'the workflow, and the event stream connected');
  t.regex(screen, /Workflows \(1\)/);
  t.regex(screen, new RegExp(`› +${ctx.wf} tui demo +Running .*${SWEEP + 3}/${TOTAL} +3 +1`), 'id, name, phase, finished/total, running, failed');
  for (const key of ['↑↓/jk move', 'PgUp/PgDn page', 'Enter open', 'c cancel workflow', 'r rerun failed', 'q quit'])
    t.true(screen.includes(key), `footer shows "${key}"`);
  t.true(widest(screen) <= 80);

  await s.keys('Enter');
  // ink repaints top to bottom: wait for the job table's own footer too (a capture taken
  // mid-repaint shows the new table over the workflow list's old footer)
  const opened = await s.waitFor((text) => text.includes(`Jobs 1–15 of ${TOTAL}`) && text.includes('done  run 1') && text.includes('Tab DAG'), 'the workflow: its summary, its table and its footer');
  t.regex(opened, /Workflows › #\d+ tui demo/);
  t.regex(opened, /Running .* 63\/67 done/);
  t.regex(opened, /running 3 +completed 62 +failed 1 +blocked 1/);
  for (const key of ['/ filter', 'Enter open', 'l logs', 'c cancel workflow', 'r rerun failed', 'Tab DAG', 'Esc back', 'q quit'])
    t.true(opened.includes(key), `footer shows "${key}"`);
  await s.keys('Tab');
  const dag = await s.waitForText('Stage 3');
  t.regex(dag, /Stage 1 +\d groups?, \d+ jobs?/);
  t.regex(dag, /work_# +60 +done 60/, 'the sweep is one group with its counts');
  t.regex(dag, /fails +1 +fail 1/);
  t.regex(dag, /Stage 3 +1 group, 1 job\n +final +1 +block 1/, 'final waits on gate, one stage later');

  await s.keys('Escape');
  await s.waitForText('Workflows (1)');
  await s.keys('q');
  await waitFor(() => s.exitStatus() !== null, 60_000, 'torc tui to exit');
  t.is(s.exitStatus(), 0);
  t.notRegex(await s.capture(), /torc|Workflows/, 'the alternate screen is gone: the terminal is as it was');
});

serial('job table: paging, filter by name and by status, sort and order — rows as the server orders them', async (t) => {
  const s = await tui(t, [String(ctx.wf), ...serverArgs(false)]);
  let screen = await s.waitForText(`Jobs 1–15 of ${TOTAL}`);
  const reference = async (query: string) => ((await api('GET', `/dashboard/workflows/${ctx.wf}/jobs?${query}`)).items as { id: number }[]).map((j) => j.id);
  t.deepEqual(tableIds(screen), await reference('limit=15'));

  await s.keys('PageDown');
  screen = await s.waitForText(`Jobs 16–30 of ${TOTAL}`);
  t.deepEqual(tableIds(screen), await reference('offset=15&limit=15'));
  await s.keys('G');
  screen = await s.waitForText(`Jobs 61–${TOTAL} of ${TOTAL}`);
  t.deepEqual(tableIds(screen), await reference('offset=60&limit=15'));
  t.regex(
    screen.split('\n').find((l) => l.startsWith('›'))!,
    new RegExp(`^› +${ctx.ids.final} final`),
    'G selects the last job',
  );
  await s.keys('PageUp');
  await s.waitForText(`Jobs 46–60 of ${TOTAL}`);
  await s.keys('g');
  await s.waitForText(`Jobs 1–15 of ${TOTAL}`);
  // Down past the last row of a page turns the page.
  for (let i = 0; i < 15; i++) await s.keys('j');
  screen = await s.waitForText(`Jobs 16–30 of ${TOTAL}`);

  await s.keys('/');
  await s.waitForText('Filter (');
  await s.type('work_1');
  await s.keys('Enter');
  screen = await s.waitForText('Jobs 1–11 of 11');
  t.regex(screen, /filter: name contains "work_1"/);
  t.deepEqual(tableIds(screen), await reference('q=work_1&limit=15'));

  await s.keys('/');
  await s.waitForText('work_1█', 60_000);
  await s.keys('C-u');
  await s.type('status:failed');
  await s.keys('Enter');
  screen = await s.waitForText('Jobs 1–1 of 1');
  t.regex(screen, /filter: status: failed/);
  t.regex(screen, new RegExp(`› +${ctx.ids.fails} fails +failed +1 +3 `));

  await s.keys('/');
  await s.waitForText('status:failed█');
  await s.keys('C-u');
  await s.type('status:nope');
  await s.keys('Enter');
  screen = await s.waitForText('unknown status "nope"');
  t.regex(screen, /filter: status: failed/, 'a bad filter changes nothing');

  // f steps through the statuses present: running first.
  await s.keys('/');
  await s.waitForText('Filter (');
  await s.keys('C-u');
  await s.keys('Enter');
  await s.waitForText(`Jobs 1–15 of ${TOTAL}`);
  await s.keys('f');
  screen = await s.waitFor((text) => text.includes('filter: status: running') && text.includes('Jobs 1–3 of 3'), 'the running jobs');
  t.deepEqual(
    tableIds(screen).sort((a, b) => a - b),
    [ctx.ids.gate, ctx.ids.chatty, ctx.ids.long].sort((a, b) => a - b),
  );
  await s.keys('f');
  await s.waitForText('filter: status: completed');
  for (let i = 0; i < 3; i++) await s.keys('f');
  await s.waitForText('filter: all jobs');

  // The sort shows at once; the rows follow when the server has answered: wait for them.
  const sortedAs = async (label: string, query: string) => {
    const want = await reference(query);
    const shown = await s.waitFor((text) => text.includes(label) && tableIds(text).join() === want.join(), `${label}: the rows as the server orders them`);
    t.deepEqual(tableIds(shown), want);
  };
  await s.keys('s');
  await sortedAs('sort: name ↑', 'sort=name&limit=15');
  await s.keys('S');
  await sortedAs('sort: name ↓', 'sort=name&order=desc&limit=15');
  await s.keys('s');
  await sortedAs('sort: status ↓', 'sort=status&order=desc&limit=15');
});

serial('job detail: command, attempts and its stdout followed while it grows; the full log, stderr, back keeps the filter', async (t) => {
  const s = await tui(t, [String(ctx.wf), ...serverArgs(false)]);
  let screen = await openJob(s, 'chatty');
  t.regex(screen, new RegExp(`chatty +job ${ctx.ids.chatty} +running +attempt 1`));
  t.regex(screen, /command i=0; while/);
  // The samples are read after the detail ("loading…" until then).
  screen = await s.waitForText(/^ resources +not recorded/m);
  t.regex(screen, /resources +not recorded for attempt 1 \(monitoring off or granularity summary\)/, 'no samples (granularity summary): said so, none made up');
  screen = await s.waitForText(/stdout attempt 1 .* following/);
  const ticks = (text: string) => [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
  const first = Math.max(...ticks(screen));
  screen = await s.waitFor((text) => Math.max(...ticks(text)) >= first + 5, 'new output to appear as the job writes it');
  const shown = ticks(screen);
  t.deepEqual(
    shown,
    shown.map((_, i) => shown[0]! + i),
    'consecutive lines, none lost or doubled',
  );

  await s.keys('l');
  screen = await s.waitFor((text) => / › stdout +/.test(text) && /tick \d+/.test(text), 'the full log of stdout');
  for (const key of ['PgUp/PgDn page', 'Tab stdout/stderr', 'c cancel job', 'Esc back']) t.true(screen.includes(key), key);
  await s.keys('Tab');
  // The stream's name shows at once, its text when read ("loading" meanwhile).
  await s.waitFor((text) => /stderr attempt 1/.test(text) && /\(empty\)/.test(text), 'stderr: empty');
  await s.keys('Escape');
  await s.waitForText(/stdout attempt 1 .* following/);
  await s.keys('Escape');
  screen = await s.waitFor((text) => text.includes('filter: name contains "chatty"') && text.includes('Jobs 1–1 of 1'), 'the table as it was left');
  t.deepEqual(tableIds(screen), [ctx.ids.chatty], 'back to the table as it was left');

  // A failed job: its stderr, its return code.
  await s.keys('/');
  await s.waitForText('Filter (');
  await s.keys('C-u');
  await s.type('fails');
  await s.keys('Enter');
  await s.waitFor((text) => tableIds(text)[0] === ctx.ids.fails, 'the fails row');
  await s.keys('Enter');
  screen = await s.waitForText(/fails +job \d+ +failed +attempt 1 +rc 3/);
  t.regex(screen, /attempts #1 failed rc 3/);
  await s.keys('Tab');
  await s.waitForText('about to fail');
});

serial('resources: a job with recorded samples shows CPU and memory sparklines with peak and average (80×24, NO_COLOR); one without says not recorded', async (t) => {
  // Samples as a runner reports them (the monitoring route the runners post to), for work_1's attempt.
  const MiB = 2 ** 20;
  const cpu = [5, 40, 98.5, 60, 20];
  const memory = [100, 200, 314, 250, 120].map((m) => m * MiB);
  const samples = cpu.map((c, i) => ({ job_id: ctx.ids.work_1, run_id: 1, attempt_id: 1, timestamp: 1_767_225_600 + i, cpu_percent: c, memory_bytes: memory[i], num_processes: 1 }));
  const posted = await fetch(`${ctx.server.url}/workflows/${ctx.wf}/job_resource_samples`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ samples }),
  });
  t.is(posted.status, 200, await posted.text());

  const s = await tui(t, [String(ctx.wf), ...serverArgs(false)], { env: { NO_COLOR: '1' } });
  let screen = await openJob(s, 'work_1');
  screen = await s.waitForText(/^ memory +\S+ peak/m);
  t.regex(screen, /^ cpu +▁▄█▅▂ peak 99% · avg 45% *$/m, 'the CPU sparkline (scaled to its peak), peak and average');
  t.regex(screen, /^ memory +▃▅█▇▄ peak 314 MiB · avg 197 MiB +5 samples, 4s *$/m);
  t.true(widest(screen) <= 80, 'every line fits 80 columns');
  t.is(screen.replace(/\n$/, '').split('\n').length, 24);
  t.regex(screen, /stdout attempt 1/, 'the output pane is still there below');
  t.false((await s.capture(true)).includes('\u001b'), 'NO_COLOR: the sparklines are drawn without colour');

  // work_2 ran with the workflow's default monitoring (granularity summary): no samples, its summary.
  await s.keys('Escape');
  screen = await openJob(s, 'work_2');
  screen = await s.waitForText(/resources +not recorded/);
  t.regex(screen, /^ resources +not recorded for attempt 1 \(monitoring off or granularity summary\)/m);
  const detail = screen.slice(0, screen.search(/stdout attempt/));
  t.notRegex(detail, /[▁▂▃▄▅▆▇█]/, 'no sparkline made up');
});

serial('live: a job that finishes shows finished without a key pressed, and so does what it unblocks', async (t) => {
  const s = await tui(t, [String(ctx.wf), ...serverArgs(false)]);
  await s.waitForText(`Jobs 1–15 of ${TOTAL}`);
  await s.keys('/');
  await s.waitForText('Filter (');
  await s.type('status:running,blocked');
  await s.keys('Enter');
  let screen = await s.waitForText('Jobs 1–4 of 4');
  t.regex(screen, new RegExp(`${ctx.ids.gate} gate +running`));
  t.regex(screen, new RegExp(`${ctx.ids.final} final +blocked`));
  writeFileSync(ctx.gate, '');
  screen = await s.waitFor(
    (text) => text.includes('Jobs 1–2 of 2') && !/gate|final/.test(text.split('sort:')[1] ?? ''),
    'gate and final to leave the running/blocked table',
  );
  // The summary is read on its own (the same change event): it follows.
  await s.waitForText(/completed 64/);
  t.is(await jobStatus('final'), 'completed');
});

serial('cancel: refused without the token; with it, asked first (n keeps it), then done (y)', async (t) => {
  const plain = await tui(t, [String(ctx.wf), ...serverArgs(false)]);
  await openJob(plain, 'long');
  await plain.keys('c');
  let screen = await plain.waitForText('Refused: this server needs its token');
  t.notRegex(screen, /\[y\/N\]/, 'no question asked when it cannot be done');
  t.is(await jobStatus('long'), 'running');
  await plain.kill();

  const s = await tui(t, [String(ctx.wf), ...serverArgs(true)]);
  await openJob(s, 'long');
  await s.keys('c');
  screen = await s.waitForText('[y/N]');
  t.regex(screen, new RegExp(`Cancel job ${ctx.ids.long} "long" \\(running\\)\\? Its runner terminates it\\.`));
  await s.keys('n');
  await s.waitForText('Nothing was changed.');
  t.is(await jobStatus('long'), 'running');
  await s.keys('c');
  await s.waitForText('[y/N]');
  await s.keys('y');
  // The answer to the request and the job's new status (from the event stream) come in either order.
  await s.waitFor((text) => /long +job \d+ +terminated/.test(text) && /its runner was asked to terminate it/.test(text), 'the job terminated, and the answer shown');
  t.is(await jobStatus('long'), 'terminated');
});

serial('rerun failed: asks, resets the unsuccessful jobs in a new run, and the table shows them run again', async (t) => {
  const s = await tui(t, [String(ctx.wf), ...serverArgs(true)]);
  await s.waitForText(/run 1 .*\n.*failed 1/);
  await s.keys('r');
  let screen = await s.waitForText('[y/N]');
  t.regex(screen, /Rerun the failed, terminated and canceled jobs of workflow \d+ "tui demo"/);
  await s.keys('y');
  screen = await s.waitForText(/2 jobs reset for run 2/);
  await s.waitForText(/ run 2 /);
  // fails runs again and fails again (attempt 1 of run 2); long is back and running.
  await waitFor(async () => (await jobStatus('long')) === 'running' && (await jobStatus('fails')) === 'failed', 120_000, 'the reset jobs to run again');
  await s.keys('/');
  await s.waitForText('Filter (');
  await s.type('long');
  await s.keys('Enter');
  screen = await s.waitFor((text) => new RegExp(`${ctx.ids.long} long +running`).test(text), 'long running again on the screen');
  t.pass();
});

serial('resize: 80×24 shows one pane at a time; larger shows the table and the DAG side by side; every line fits', async (t) => {
  const s = await tui(t, [String(ctx.wf), ...serverArgs(false)], { cols: 80, rows: 24 });
  let screen = await s.waitForText(`Jobs 1–15 of ${TOTAL}`);
  t.regex(screen, /\[Jobs\] +DAG/);
  t.notRegex(screen, /DAG by stage/);
  t.true(widest(screen) <= 80);
  t.is(screen.replace(/\n$/, '').split('\n').length, 24);
  t.deepEqual(await s.size(), { cols: 80, rows: 24 });

  await s.resize(160, 40);
  // 40 rows: header, message, one footer line at 160 columns, 2 summary lines, 3 above the table.
  screen = await s.waitFor((text) => new RegExp(`Jobs 1–32 of ${TOTAL} +│ DAG by stage`).test(text), 'the table (32 rows a page now) and the DAG side by side');
  t.is(tableIds(screen).length, 32);
  t.regex(screen, /│ +Stage 1/);
  t.true(widest(screen) <= 160);
  t.is(screen.replace(/\n$/, '').split('\n').length, 40);
  t.regex(screen, /RESOURCES/, 'wide enough for every column');

  await s.resize(80, 24);
  screen = await s.waitFor((text) => /\[Jobs\] +DAG/.test(text) && text.includes('Jobs 1–15 of'), 'back to one pane at 80×24');
  t.true(widest(screen) <= 80);
  await s.keys('Tab');
  screen = await s.waitForText('[DAG]');
  t.regex(screen, /Stage 1/);
});

serial('NO_COLOR: not one escape sequence on the screen, not even from output full of them; colour without it', async (t) => {
  const colored = await tui(t, [String(ctx.wf), ...serverArgs(false)]);
  await colored.waitForText(`Jobs 1–15 of ${TOTAL}`);
  const withColour = await colored.capture(true);
  t.regex(withColour, /\u001b\[[0-9;]*3[1-6]m/, 'colours by default');
  await colored.kill();

  const s = await tui(t, [String(ctx.wf), ...serverArgs(false)], { env: { NO_COLOR: '1' } });
  await s.waitForText(`Jobs 1–15 of ${TOTAL}`);
  t.false((await s.capture(true)).includes('\u001b'), 'no SGR sequence: no colour, bold or inverse');
  t.regex(await s.capture(), /^› /m, 'the selection is still shown, by its cursor');
  const screen = await openJob(s, 'hostile');
  t.regex(screen, /hostile +job \d+ +completed/);
  const log = await s.waitForText('xRED  done');
  // The command line shows the printf's text as written; the output below it is what was printed.
  const output = log.split('\n').slice(log.split('\n').findIndex((l) => /stdout attempt 1/.test(l)) + 1);
  t.false(output.some((l) => l.includes('pwned')), 'the window-title sequence is dropped, not shown');
  t.false((await s.capture(true)).includes('\u001b'), 'the job wrote colour, clear-screen and title sequences; none reached the terminal');
});

/**
 * A real `torc reconcile --no-server` of the spec (`lines(hold)`: its YAML lines, given the path of
 * a file the test writes to release held jobs) in a fresh directory, once its database file exists.
 * Teardown releases the jobs and ends the reconcile.
 */
async function reconcileInDir(t: ExecutionContext, prefix: string, lines: (hold: string) => string[], args: string[] = []) {
  const dir = await tempDir(prefix);
  const hold = path.join(dir, 'hold');
  writeFileSync(path.join(dir, 'wf.yaml'), [...lines(hold), ''].join('\n'));
  const reconcile = startTorc(['reconcile', 'wf.yaml', ...args, '--no-server', '-q'], { cwd: dir, timeoutMs: 600_000 });
  t.teardown(async () => {
    writeFileSync(hold, '');
    if (reconcile.child.exitCode === null) reconcile.child.kill('SIGTERM');
    await reconcile.result;
  });
  const dbFile = path.join(dir, '.torc', 'wf.db');
  await waitFor(() => existsSync(dbFile), 120_000, 'the database file');
  return { dir, hold, reconcile, dbFile };
}

serial('a database file directly (--db, or the one .torc/*.db here): live from the file while torc reconcile writes it; cancel needs no token', async (t) => {
  const { dir, hold, reconcile } = await reconcileInDir(
    t,
    'torc-tui-db-',
    (hold) => [
      'name: file demo',
      'jobs:',
      `  - {name: held, command: "while [ ! -e ${hold} ]; do sleep 0.1; done; echo released"}`,
      '  - {name: after, command: echo after, depends_on: [held]}',
      '  - {name: "other_{i}", command: "sleep 600", parameters: {i: "1:2"}}',
    ],
    ['--max-parallel-jobs', '4'],
  );
  const s = await tui(t, [], { cwd: dir });
  let screen = await s.waitFor((text) => /file demo +(Running|Pending)/.test(text) && /● live \(file\)/.test(text), 'the workflow, and the file watched');
  t.regex(screen, /● live \(file\) +\.torc\/wf\.db/, 'the .torc/*.db of the directory, watched');
  await s.keys('Enter');
  screen = await s.waitFor((text) => /held +running/.test(text) && /after +blocked/.test(text), 'held running, after blocked');
  writeFileSync(hold, '');
  screen = await s.waitFor((text) => /held +completed/.test(text) && /after +completed/.test(text), 'held and after completed, read live from the file');
  t.regex(screen, /completed 2/);
  await s.keys('c');
  await s.waitForText('[y/N]');
  await s.keys('y');
  screen = await s.waitForText(/Workflow \d+ canceled: \d+ jobs? canceled, 2 running jobs being terminated/);
  const result = await reconcile.result;
  t.not(result.code, 0, 'the reconcile ends: its workflow was canceled');
  // The phase turns Canceled at once; the two running jobs count as terminated once their runner ended them.
  await s.waitFor((text) => /Canceled/.test(text) && /terminated 2/.test(text), 'Canceled, with the 2 running jobs terminated');
  await s.keys('q');
  await waitFor(() => s.exitStatus() !== null, 60_000, 'torc tui to exit');
  t.is(s.exitStatus(), 0);
});

serial('resources, --db: a real job monitored with granularity time_series shows its sparklines live as samples are recorded, and its peak as stored', async (t) => {
  const { dir, hold, reconcile, dbFile } = await reconcileInDir(t, 'torc-tui-samples-', (hold) => [
    'name: sampled',
    'resource_monitor: {granularity: time_series, sample_interval_seconds: 1}',
    'jobs:',
    `  - {name: hog, command: "node ${HOG} --mb 64 --cpu-ms 300 --wait-file ${hold}"}`,
    '  - {name: after, command: echo after, depends_on: [hog]}',
  ]);
  const s = await tui(t, ['1', '--db', dbFile], { cwd: dir });
  await s.waitFor((text) => /hog +running/.test(text) && /after +blocked/.test(text), 'hog running, after blocked');
  // A job that has not run: said so, no sparkline.
  await s.keys('j');
  await s.waitFor((text) => /^› +2 after/m.test(text), 'after selected');
  await s.keys('Enter');
  let screen = await s.waitForText(/^ resources +not recorded: the job has not run yet/m);
  t.regex(screen, /after +job 2 +blocked/);
  await s.keys('Escape');
  await s.waitForText(/after +blocked/);
  await s.keys('k');
  await s.waitFor((text) => /^› +1 hog/m.test(text), 'hog selected');
  await s.keys('Enter');
  // The samples arrive while the screen is open: each commit of the runner re-reads them.
  const shownSamples = (text: string) => {
    const m = /^ memory +[▁▂▃▄▅▆▇█]+ peak .* (\d+) samples?, \d+s *$/m.exec(text);
    return /hog +job \d+ +running/.test(text) && m ? Number(m[1]) : 0;
  };
  screen = await s.waitFor((text) => shownSamples(text) >= 1, 'the first samples of the running job drawn');
  const first = shownSamples(screen);
  screen = await s.waitFor((text) => shownSamples(text) > first, 'more samples drawn, live, without a key pressed');
  t.regex(screen, /^ cpu +[▁▂▃▄▅▆▇█]+ peak \d+(\.\d)?% · avg \d+(\.\d)?%/m);

  writeFileSync(hold, '');
  screen = await s.waitForText(/hog +job \d+ +completed/);
  t.is((await reconcile.result).code, 0);
  const store = await Store.open(dbFile);
  t.teardown(() => store.close());
  const stored = (await store.listResourceSamples(1, { job_id: 1, limit: 1000 })).items;
  t.true(stored.length >= 2);
  const peakMemory = Math.max(...stored.map((x) => x.memory_bytes));
  t.true(peakMemory >= 64 * 2 ** 20, 'the 64 MiB the job held were measured');
  // After the end, the screen shows every stored sample's peak (the last commit re-read them).
  screen = await s.waitFor((text) => text.includes(`peak ${bytes(peakMemory)} ·`), `the stored memory peak, ${bytes(peakMemory)}`);
  t.true(widest(screen) <= 80);
});

serial('bad input: no terminal, an unknown workflow, --db and --url together', async (t) => {
  const { runTorc } = await import('../support/cli.js');
  const noTty = await runTorc(['tui', '--url', ctx.server.url]);
  t.is(noTty.code, 2);
  t.regex(noTty.stderr, /error: stdout: torc tui needs a terminal/);
  const both = await runTorc(['tui', '--url', ctx.server.url, '--db', 'x.db']);
  t.is(both.code, 2);
  const badId = await runTorc(['tui', 'abc', '--url', ctx.server.url]);
  t.is(badId.code, 2);
  t.regex(badId.stderr, /error: WF: expected a workflow id/);
  const s = await tui(t, ['999', ...serverArgs(false)]);
  await waitFor(() => s.exitStatus() !== null, 60_000, 'torc tui to exit');
  t.is(s.exitStatus(), 1);
  await s.waitForText(/error: workflow 999 not found/);
});
