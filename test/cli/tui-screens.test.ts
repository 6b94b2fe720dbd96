/**
 * The pure parts of `torc tui`: display width and cutting, untrusted text made safe, tables
 * that fit 80 columns, the DAG laid out by stage (cycles included), the filter syntax, the
 * footer at 80 columns, the resource sparkline. The screens themselves are checked as a user
 * sees them in test/cli/tui.test.ts (tmux).
 */
import test from 'ava';
import { filterText, nextStatus, parseFilter } from '../../src/cli/tui/filter.js';
import { describeSamples, resourceLines, sampleTarget, sparkline } from '../../src/cli/tui/resources.js';
import type { DashboardJobDetail } from '../../src/api/dashboard/service.js';
import { COUNT_ORDER, dagLines, footerLines, jobPageSize, logWindow, EMPTY_LOG, headerLine } from '../../src/cli/tui/screens.js';
import { stagesOf, type DagNode } from '../../src/cli/tui/stages.js';
import { fitLine, lineWidth, plain, seg } from '../../src/cli/tui/style.js';
import { layoutColumns, tableRow, type Column } from '../../src/cli/tui/table.js';
import { cellWidth, clean, duration, fit, logLines, truncate, wrap } from '../../src/cli/tui/text.js';
import { colorWanted } from '../../src/cli/tui/run.js';
import { splitKeys } from '../../src/cli/tui/keys.js';
import { JOBS_KEYS } from '../../src/cli/tui/app.js';
import { defaultSource } from '../../src/cli/commands/tui.js';
import { InputError } from '../../src/errors.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tempDir } from '../support/procs.js';
import path from 'node:path';

test('display width: wide characters take two cells, combining marks none; cutting keeps within the width', (t) => {
  t.is(cellWidth('abc'), 3);
  t.is(cellWidth('日本語'), 6);
  t.is(cellWidth('e\u0301'), 1, 'e + combining acute is one cell');
  t.is(truncate('hello world', 8), 'hello w…');
  t.is(truncate('日本語テキスト', 7), '日本語…', 'a wide character that would cross the edge is left out');
  t.is(cellWidth(truncate('日本語テキスト', 7)), 7);
  t.is(fit('ab', 5), 'ab   ');
  t.is(fit('ab', 5, true), '   ab');
  t.is(fit('abcdefgh', 5), 'abcd…');
});

test('untrusted text: control characters and escape sequences never reach the terminal', (t) => {
  const hostile = 'name\u001b[2J\u001b]0;owned\u0007\u009b31m\r\nx';
  const cleaned = clean(hostile);
  t.false(/[\u0000-\u001f\u007f-\u009f]/.test(cleaned), 'no C0 or C1 control survives clean()');
  const lines = logLines('plain\n\u001b[31mred\u001b[0m text\nprogress 10%\rprogress 100%\ntab\there\n\u001b]0;retitle\u0007after\nbell\u0007end\n\u009b2Jc1');
  t.deepEqual(lines, ['plain', 'red text', 'progress 100%', 'tab     here', 'after', 'bell\uFFFDend', 'c1']);
  for (const l of lines) t.false(/[\u0000-\u001f\u007f-\u009f]/.test(l));
  t.deepEqual(logLines('crlf\r\nline'), ['crlf', 'line'], 'a CRLF line ending is a line ending, not an overwrite');
});

test('wrap and log windows: long lines wrap to the width; the window shows the newest lines unless scrolled back', (t) => {
  t.deepEqual(wrap(['abcdefghij'], 4), ['abcd', 'efgh', 'ij']);
  const log = { ...EMPTY_LOG('stdout'), loading: false, text: Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n' };
  const newest = logWindow(log, 40, 5, 0);
  t.deepEqual(newest.lines, ['line 26', 'line 27', 'line 28', 'line 29', 'line 30']);
  t.is(newest.maxBack, 25);
  t.deepEqual(logWindow(log, 40, 5, 10).lines, ['line 16', 'line 17', 'line 18', 'line 19', 'line 20']);
  t.deepEqual(logWindow(log, 40, 5, 999).lines, ['line 1', 'line 2', 'line 3', 'line 4', 'line 5'], 'scrolling stops at the first line');
});

test('durations read as people write them', (t) => {
  t.is(duration(950), '0.9s');
  t.is(duration(65_000), '1m05s');
  t.is(duration(2 * 3600_000), '2h00m');
  t.is(duration(3 * 86400_000 + 2 * 3600_000), '3d02h');
  t.is(duration(null), '');
  t.is(duration(-5), '');
});

interface Row {
  id: number;
  name: string;
  host: string;
  extra: string;
}
const COLUMNS: Column<Row>[] = [
  { title: 'ID', width: 5, right: true, cell: (r) => String(r.id) },
  { title: 'NAME', width: 10, flex: 1, cell: (r) => r.name },
  { title: 'HOST', width: 20, drop: 2, cell: (r) => r.host },
  { title: 'EXTRA', width: 30, drop: 1, cell: (r) => r.extra },
];

test('tables: flexible columns take the spare width, the least important columns go first when narrow, every row is exactly the width', (t) => {
  const wide = layoutColumns(COLUMNS, 120);
  t.deepEqual(
    wide.map((c) => c.column.title),
    ['ID', 'NAME', 'HOST', 'EXTRA'],
  );
  t.is(wide.find((c) => c.column.title === 'NAME')!.width, 120 - 2 - 5 - 20 - 30 - 3);
  const narrow = layoutColumns(COLUMNS, 50);
  t.deepEqual(
    narrow.map((c) => c.column.title),
    ['ID', 'NAME', 'HOST'],
    'EXTRA (drop 1) goes before HOST (drop 2)',
  );
  const tiny = layoutColumns(COLUMNS, 20);
  t.deepEqual(
    tiny.map((c) => c.column.title),
    ['ID', 'NAME'],
  );
  const row = { id: 7, name: 'a very long job name that will not fit', host: 'node01', extra: 'x' };
  for (const width of [20, 50, 80, 120]) {
    const layout = layoutColumns(COLUMNS, width);
    t.is(lineWidth(tableRow(layout, row, width, false)), width);
    t.is(lineWidth(tableRow(layout, row, width, true)), width);
  }
  t.true(plain([tableRow(layoutColumns(COLUMNS, 50), row, 50, true)]).startsWith('› '), 'the selected row carries the cursor');
});

const node = (key: string, label: string, size: number, counts: Record<string, number> = { completed: size }): DagNode => ({
  key,
  kind: 'group',
  group: Number(key.slice(1)),
  label,
  size,
  job_id: null,
  status: null,
  counts,
  expanded: false,
  internal_edges: 0,
  example: null,
});

test('DAG by stage: each group one stage after the latest group it depends on', (t) => {
  const nodes = [node('g0', 'setup', 1), node('g1', 'work_#', 30), node('g2', 'gather', 1), node('g3', 'report', 1), node('g4', 'lonely', 1)];
  const edges = [
    { from: 'g0', to: 'g1', count: 30 },
    { from: 'g1', to: 'g2', count: 30 },
    { from: 'g0', to: 'g3', count: 1 },
    { from: 'g2', to: 'g3', count: 1 },
  ];
  const stages = stagesOf({ nodes, edges });
  t.deepEqual(
    stages.map((s) => [s.number, s.nodes.map((n) => n.label), s.jobs]),
    [
      [1, ['setup', 'lonely'], 2],
      [2, ['work_#'], 30],
      [3, ['gather'], 1],
      [4, ['report'], 1],
    ],
  );
});

test('DAG by stage: groups that depend on each other both ways still all get a stage', (t) => {
  const nodes = [node('g0', 'a_#', 2), node('g1', 'b_#', 2), node('g2', 'after', 1)];
  const edges = [
    { from: 'g0', to: 'g1', count: 1 },
    { from: 'g1', to: 'g0', count: 1 },
    { from: 'g1', to: 'g2', count: 1 },
  ];
  const stages = stagesOf({ nodes, edges });
  t.is(
    stages.reduce((n, s) => n + s.nodes.length, 0),
    3,
  );
  t.deepEqual(
    stages.map((s) => s.nodes.map((n) => n.label)),
    [['a_#'], ['b_#'], ['after']],
  );
});

test('DAG lines: counts by status per group, every line the pane width', (t) => {
  const dag = {
    nodes: [node('g0', 'setup', 1), node('g1', 'work_#', 30, { completed: 20, running: 4, failed: 1, ready: 5 })],
    edges: [{ from: 'g0', to: 'g1', count: 30 }],
  };
  const { lines, groupLine } = dagLines(dag as never, 60);
  const text = plain(lines);
  t.regex(text, /Stage 1 {2}1 group, 1 job/);
  t.regex(text, /Stage 2 {2}1 group, 30 jobs/);
  t.regex(text, /work_# +30 {2}run 4 done 20 fail 1 ready 5 /);
  t.deepEqual(groupLine, [1, 3]);
  for (const l of lines) t.is(lineWidth(l), 60);
});

test('filter: words search names, status: picks statuses, unknown statuses are named', (t) => {
  t.deepEqual(parseFilter('work'), { statuses: [], q: 'work' });
  t.deepEqual(parseFilter('status:failed,running  train  model'), { statuses: ['failed', 'running'], q: 'train model' });
  t.deepEqual(parseFilter('s:pending-failed'), { statuses: ['pending_failed'], q: '' });
  const err = t.throws(() => parseFilter('status:nope'), { instanceOf: InputError });
  t.regex(err!.message, /unknown status "nope"/);
  t.is(filterText({ statuses: ['failed'], q: 'x y' }), 'status:failed x y');
  t.deepEqual(parseFilter(filterText({ statuses: ['failed', 'ready'], q: 'abc' })), { statuses: ['failed', 'ready'], q: 'abc' });
  const counts = { completed: 5, failed: 1, running: 0, ready: 2 };
  const steps: string[][] = [];
  let current: string[] = [];
  for (let i = 0; i < 4; i++) steps.push((current = nextStatus(current, counts, COUNT_ORDER)));
  t.deepEqual(steps, [['completed'], ['failed'], ['ready'], []], 'f steps through the statuses present, then back to all');
});

test('footer: at 80 columns the keys fit on two lines and include every action key', (t) => {
  const keys = JOBS_KEYS;
  const lines = footerLines(keys, 80);
  t.is(lines.length, 2);
  const text = plain(lines);
  for (const [k, label] of keys) t.true(text.includes(`${k} ${label}`), `${k} ${label}`);
  for (const l of lines) t.is(lineWidth(l), 80);
  t.is(jobPageSize(80, 20), 15);
});

test('header: the breadcrumb and the live state fit the width, names cleaned', (t) => {
  const line = headerLine(['Workflows', '#3 evil\u001b[2Jname'], 'open', 'http://127.0.0.1:8080/torc-service/v1', 80);
  t.is(lineWidth(line), 80);
  t.false(plain([line]).includes('\u001b'));
  t.regex(plain([line]), /● live/);
  const deep = plain([headerLine(['Workflows', '#1 a long workflow name', 'job 64 a long job name', 'stdout'], 'open', 'http://127.0.0.1:35753/torc-service/v1', 80)]);
  t.regex(deep, /^ torc +… › .*job 64 a long job name › stdout +● live/, 'the first crumbs give way; where the user is stays');
  t.is(cellWidth(deep.replace(/\n$/, '')), 80);
});

test('resource lines: sparklines with peak and average of the samples; without samples one line says so, with the summary when there is one', (t) => {
  t.is(sparkline([0, 50, 100], 10), '▁▅█');
  t.is(sparkline([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4), '▂▅▆█', 'more samples than cells: each cell the largest of its share, scaled from 0');
  t.is(sparkline([0, 0, 0, 100, 0, 0, 0, 0], 2), '█▁', 'a short peak is not averaged away');
  t.is(sparkline([0, 0], 4), '▁▁');

  const samples = { available: true as const, cpuPercent: [10, 90, 50], memoryBytes: [2 ** 20, 3 * 2 ** 20, 2 * 2 ** 20], seconds: 2 };
  const lines = resourceLines(samples, 80).map((l) => fitLine(l, 80));
  t.regex(plain(lines), /^ cpu +▂█▅ peak 90% · avg 50%/m);
  t.regex(plain(lines), /^ memory +▃█▆ peak 3\.0 MiB · avg 2\.0 MiB +3 samples, 2s +$/m);
  for (const l of lines) t.is(lineWidth(l), 80);
  const long = { ...samples, cpuPercent: Array.from({ length: 500 }, (_, i) => i % 100), memoryBytes: Array.from({ length: 500 }, (_, i) => i * 2 ** 20) };
  const narrow = resourceLines(long, 80);
  t.true(narrow.every((l) => lineWidth(l) <= 80), 'at 80 columns the lines fit without cutting');
  t.regex(plain(narrow), /peak 99% · avg 50%/);
  t.regex(plain(narrow), /peak 499 MiB/);

  const none = resourceLines({ available: false, reason: 'not recorded for attempt 1 (monitoring off or granularity summary)' }, 80);
  t.is(none.length, 1);
  t.regex(plain(none), /^ resources +not recorded for attempt 1/);
  const summary = resourceLines({ available: false, reason: 'not recorded', summary: { peakCpu: 12, avgCpu: 3, peakMemory: 2 ** 20, avgMemory: null } }, 80);
  t.regex(plain(summary), /summary +cpu peak 12% · avg 3\.0% +mem peak 1\.0 MiB$/m);
});

test('the sampled attempt: the running one (current run), else the newest result; none before the job ran', (t) => {
  const detail = (status: string, attempts: { run_id: number; attempt_id: number }[]) =>
    ({ job: { status, attempt_id: 3 }, workflow: { run_id: 2 }, attempts: attempts.map((a) => ({ ...a, peak_cpu_percent: 40, avg_cpu_percent: 20, peak_memory_bytes: 2 ** 20, avg_memory_bytes: null })) }) as unknown as DashboardJobDetail;
  t.deepEqual(sampleTarget(detail('running', [{ run_id: 1, attempt_id: 1 }])), { runId: 2, attemptId: 3 });
  t.deepEqual(sampleTarget(detail('failed', [{ run_id: 1, attempt_id: 1 }, { run_id: 2, attempt_id: 1 }])), { runId: 2, attemptId: 1 });
  t.is(sampleTarget(detail('blocked', [])), null);
  t.regex((describeSamples(detail('blocked', []), null, []) as { reason: string }).reason, /not recorded: the job has not run yet/);
  const d = detail('completed', [{ run_id: 1, attempt_id: 1 }]);
  const noSamples = describeSamples(d, sampleTarget(d), []);
  t.deepEqual(noSamples, {
    available: false,
    reason: 'not recorded for attempt 1 (monitoring off or granularity summary)',
    summary: { peakCpu: 40, avgCpu: 20, peakMemory: 2 ** 20, avgMemory: null },
  });
});

test('fitLine: exact width whatever the segments', (t) => {
  t.is(lineWidth(fitLine([seg('abc'), seg('日本'), seg('defgh')], 6)), 6);
  t.is(lineWidth(fitLine([], 10)), 10);
});

test('NO_COLOR: present and not empty turns colour off', (t) => {
  t.true(colorWanted({}));
  t.true(colorWanted({ NO_COLOR: '' }));
  t.false(colorWanted({ NO_COLOR: '1' }));
});

test('with nothing given, the one .torc/*.db of the directory is shown; several are listed in the error', async (t) => {
  const dir = await tempDir('torc-tui-default-');
  t.throws(() => defaultSource({}, dir, {}), { instanceOf: InputError, message: /--url URL/ });
  t.deepEqual(defaultSource({ url: 'http://x' }, dir, {}), { url: 'http://x' });
  t.deepEqual(defaultSource({}, dir, { TORC_API_URL: 'http://y' }), {}, 'TORC_API_URL is read later, by the client');
  mkdirSync(path.join(dir, '.torc'));
  writeFileSync(path.join(dir, '.torc', 'one.db'), '');
  t.deepEqual(defaultSource({}, dir, {}), { db: path.join('.torc', 'one.db') });
  writeFileSync(path.join(dir, '.torc', 'two.db'), '');
  t.throws(() => defaultSource({}, dir, {}), { message: /\.torc\/one\.db, \.torc\/two\.db|\.torc\/two\.db, \.torc\/one\.db/ });
});

test('keys that arrive together are split into one key each, as ink reports a key read alone', (t) => {
  const none = splitKeys('x', { ctrl: false, meta: false } as never)[0]!;
  t.is(none.input, 'x', 'one key stays as it is');
  const keys = splitKeys('\u0015chatty\r', { ctrl: false, meta: false } as never);
  t.is(keys.length, 8);
  t.deepEqual([keys[0]!.input, keys[0]!.key.ctrl], ['u', true], 'Ctrl+U');
  t.is(keys.slice(1, 7).map((k) => k.input).join(''), 'chatty');
  t.true(keys.slice(1, 7).every((k) => !k.key.ctrl && !k.key.shift));
  t.true(keys[7]!.key.return);
  const more = splitKeys('jG\t\u007f', { ctrl: false, meta: false } as never);
  t.deepEqual(
    more.map((k) => [k.input, k.key.shift, k.key.tab, k.key.delete]),
    [
      ['j', false, false, false],
      ['G', true, false, false],
      ['', false, true, false],
      ['', false, false, true],
    ],
  );
  const alt = splitKeys('x', { ctrl: false, meta: true } as never);
  t.true(alt[0]!.key.meta, 'an escape sequence (Alt+x) is one key');
});
