/**
 * The screens of `torc tui` as lines of exactly the terminal's width: pure functions of what was
 * read and of the view's state, so each can be checked without a terminal. app.ts reads, keeps
 * the state and draws these with ink.
 */
import type {
  DashboardDag,
  DashboardJobDetail,
  DashboardJobPage,
  DashboardJobRow,
  DashboardWorkflow,
  DashboardWorkflowPage,
  DashboardWorkflowSummary,
} from '../../api/dashboard/service.js';
import type { JobTableSort } from '../../store/dashboard.js';
import { resourceLines, type ResourceSamples } from './resources.js';
import { stagesOf, type DagNode } from './stages.js';
import { besideLines, fitLine, lineWidth, seg, statusStyle, type Line, type Seg, type Style } from './style.js';
import { layoutColumns, tableHeader, tableRow, type Column } from './table.js';
import { bar, bytes, cellWidth, clean, clock, count, duration, fit, logLines, wrap } from './text.js';

// ---- frame: header, message, footer ---------------------------------------------------------

export type LiveIndicator = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'watching';

const LIVE_TEXT: Record<LiveIndicator, [string, Style]> = {
  connecting: ['○ connecting', 'dim'],
  open: ['● live', 'ok'],
  reconnecting: ['○ reconnecting', 'warn'],
  closed: ['○ not live', 'bad'],
  watching: ['● live (file)', 'ok'],
};

export function headerLine(crumbs: string[], live: LiveIndicator, where: string, width: number): Line {
  const [liveText, liveStyle] = LIVE_TEXT[live];
  const right = ` ${liveText}  ${clean(where)} `;
  const leftOf = (shown: string[], cut: boolean): Line => {
    const parts: Line = [seg(' torc ', 'title')];
    if (cut) parts.push(seg(' …', 'dim'));
    shown.forEach((c, i) => {
      parts.push(seg(i === 0 && !cut ? ' ' : ' › ', 'dim'));
      parts.push(seg(clean(c), i === shown.length - 1 ? 'title' : undefined));
    });
    return parts;
  };
  // Where the user is matters most: when the crumbs do not fit, the first ones give way to "…".
  const leftRoom = width - Math.min(cellWidth(right), Math.floor(width * 0.4));
  let dropped = 0;
  while (dropped < crumbs.length - 1 && lineWidth(leftOf(crumbs.slice(dropped), dropped > 0)) > leftRoom) dropped++;
  const leftParts = leftOf(crumbs.slice(dropped), dropped > 0);
  // Both in full when they fit; else the right side keeps at least 40 % (the live state first).
  const rightWidth = Math.min(cellWidth(right), Math.max(width - lineWidth(leftParts), Math.floor(width * 0.4)));
  const leftWidth = Math.max(10, width - rightWidth);
  return [...fitLine(leftParts, leftWidth), ...fitLine([seg(` ${liveText}`, liveStyle), seg(`  ${clean(where)} `, 'dim')], width - leftWidth)];
}

export type Key = [key: string, label: string];

/** The keys of the view, on at most `maxLines` lines (what does not fit is left out). */
export function footerLines(keys: Key[], width: number, maxLines = 2): Line[] {
  const lines: Line[] = [];
  let line: Line = [];
  let used = 0;
  for (const [key, label] of keys) {
    const w = key.length + 1 + label.length + 2;
    if (used + w > width && line.length > 0) {
      lines.push(line);
      if (lines.length === maxLines) return lines.map((l) => fitLine(l, width));
      line = [];
      used = 0;
    }
    line.push(seg(key, 'key'), seg(` ${label}  `, 'dim'));
    used += w;
  }
  if (line.length > 0) lines.push(line);
  return lines.map((l) => fitLine(l, width));
}

/** How many footer lines these keys need at this width. */
export function footerHeight(keys: Key[], width: number): number {
  return footerLines(keys, width).length;
}

export type Tone = 'info' | 'ok' | 'error' | 'confirm';

export function messageLine(text: string, tone: Tone, width: number): Line {
  const style: Style | undefined = tone === 'error' ? 'bad' : tone === 'ok' ? 'ok' : tone === 'confirm' ? 'warn' : undefined;
  return fitLine([seg(` ${clean(text)}`, style)], width);
}

// ---- status counts -----------------------------------------------------------------------

export const COUNT_ORDER = [
  'running',
  'completed',
  'failed',
  'terminated',
  'pending_failed',
  'canceled',
  'pending',
  'ready',
  'blocked',
  'uninitialized',
  'disabled',
];

/** "running 4  completed 32  failed 1": the non-zero counts, each in its status's style. */
export function countSegs(counts: Record<string, number>): Seg[] {
  const out: Seg[] = [];
  for (const status of COUNT_ORDER) {
    const n = counts[status] ?? 0;
    if (n === 0) continue;
    out.push(seg(`${status.replace('_', ' ')} `, 'dim'), seg(count(n), statusStyle(status)), seg('  '));
  }
  return out;
}

function progress(w: Pick<DashboardWorkflowSummary, 'done' | 'total'>, width: number): Seg[] {
  const pct = w.total > 0 ? Math.floor((w.done / w.total) * 100) : 0;
  return [seg(bar(w.done, w.total, width), 'ok'), seg(` ${String(pct).padStart(3)}%`)];
}

// ---- workflows -----------------------------------------------------------------------------

export interface WorkflowsState {
  page?: DashboardWorkflowPage;
  selected: number;
  error?: string;
}

const WORKFLOW_COLUMNS: Column<DashboardWorkflowSummary>[] = [
  { title: 'ID', width: 4, right: true, cell: (w) => String(w.id) },
  { title: 'NAME', width: 12, flex: 1, cell: (w) => clean(w.name) },
  { title: 'PHASE', width: 9, cell: (w) => seg(w.phase, statusStyle(w.phase)) },
  {
    title: 'PROGRESS',
    width: 15,
    drop: 3,
    cell: (w) => seg(`${bar(w.done, w.total, 10)} ${String(w.total ? Math.floor((w.done / w.total) * 100) : 0).padStart(3)}%`, 'ok'),
  },
  { title: 'DONE/TOTAL', width: 13, right: true, cell: (w) => `${count(w.done)}/${count(w.total)}` },
  { title: 'RUN', width: 5, right: true, cell: (w) => seg(count(w.counts.running ?? 0), (w.counts.running ?? 0) > 0 ? 'run' : 'dim') },
  { title: 'FAIL', width: 5, right: true, cell: (w) => failedOf(w) },
  { title: 'ELAPSED', width: 8, right: true, drop: 2, cell: (w) => duration(w.elapsed_ms) },
  { title: 'USER', width: 8, drop: 1, cell: (w) => clean(w.user ?? '') },
];

function failedOf(w: Pick<DashboardWorkflowSummary, 'counts'>): Seg {
  const n = (w.counts.failed ?? 0) + (w.counts.terminated ?? 0) + (w.counts.pending_failed ?? 0);
  return seg(count(n), n > 0 ? 'bad' : 'dim');
}

export function workflowsBody(s: WorkflowsState, width: number, height: number): Line[] {
  const lines: Line[] = [];
  if (!s.page) return [fitLine([seg(s.error ? ` ${clean(s.error)}` : ' loading workflows…', s.error ? 'bad' : 'dim')], width)];
  const layout = layoutColumns(WORKFLOW_COLUMNS, width);
  const total = s.page.total_count;
  lines.push(
    fitLine(
      [
        seg(` Workflows (${count(total)})`, 'title'),
        seg(total > s.page.items.length ? `  showing ${count(s.page.offset + 1)}–${count(s.page.offset + s.page.items.length)}` : '', 'dim'),
      ],
      width,
    ),
  );
  lines.push(tableHeader(layout, width));
  if (s.page.items.length === 0) lines.push(fitLine([seg('  No workflows yet: torc reconcile FILE, or POST /workflow_specs.', 'dim')], width));
  const rows = height - lines.length;
  const first = Math.max(0, Math.min(s.selected - Math.floor(rows / 2), s.page.items.length - rows));
  s.page.items.slice(first, first + rows).forEach((w, i) => lines.push(tableRow(layout, w, width, first + i === s.selected)));
  return lines;
}

// ---- one workflow: summary, job table, DAG -------------------------------------------------

export const JOB_SORTS: JobTableSort[] = ['id', 'name', 'status', 'started', 'completed'];

export interface JobTableState {
  statuses: string[];
  q: string;
  sort: JobTableSort;
  order: 'asc' | 'desc';
  offset: number;
  /** Row of the page. */
  selected: number;
}

export const DEFAULT_TABLE: JobTableState = { statuses: [], q: '', sort: 'id', order: 'asc', offset: 0, selected: 0 };

export type Pane = 'jobs' | 'dag';

export interface WorkflowState {
  summary?: DashboardWorkflow;
  jobs?: DashboardJobPage;
  dag?: DashboardDag;
  table: JobTableState;
  pane: Pane;
  dagSelected: number;
  error?: string;
  now: number;
}

/** Side by side from this width; below it Tab shows one pane at a time. */
export const WIDE = 140;

const SUMMARY_LINES = 2;
/** Pane title, filter line, column header. */
const TABLE_CHROME = 3;

function dagWidth(width: number): number {
  return Math.max(44, Math.min(70, Math.floor(width * 0.38)));
}

/** Rows of the job table that fit: the page size to ask the server for. */
export function jobPageSize(width: number, height: number): number {
  return Math.max(1, height - SUMMARY_LINES - TABLE_CHROME);
}

function jobColumns(now: number): Column<DashboardJobRow>[] {
  return [
    { title: 'ID', width: 7, right: true, cell: (j) => String(j.id) },
    { title: 'NAME', width: 14, flex: 1, cell: (j) => clean(j.name) },
    { title: 'STATUS', width: 10, cell: (j) => seg(j.status, statusStyle(j.status)) },
    { title: 'ATT', width: 3, right: true, drop: 4, cell: (j) => String(j.attempt_id) },
    { title: 'RC', width: 4, right: true, cell: (j) => (j.return_code === null ? '' : seg(String(j.return_code), j.return_code === 0 ? undefined : 'bad')) },
    { title: 'STARTED', width: 8, drop: 2, cell: (j) => clock(j.started_ms, now) },
    {
      title: 'TIME',
      width: 7,
      right: true,
      cell: (j) => duration(j.duration_ms ?? (j.status === 'running' && j.started_ms !== null ? now - j.started_ms : null)),
    },
    { title: 'HOST', width: 10, flex: 0, drop: 3, cell: (j) => clean(j.hostname ?? '') },
    { title: 'RESOURCES', width: 10, drop: 1, cell: (j) => clean(j.resource_requirements ?? '') },
  ];
}

export function describeFilter(t: JobTableState): string {
  const parts: string[] = [];
  if (t.statuses.length) parts.push(`status: ${t.statuses.join(',')}`);
  if (t.q) parts.push(`name contains "${t.q}"`);
  return parts.length ? parts.join(' · ') : 'all jobs';
}

function jobsPane(s: WorkflowState, width: number, height: number, focused: boolean): Line[] {
  const lines: Line[] = [];
  const t = s.table;
  const page = s.jobs;
  const range =
    page && page.items.length
      ? `${count(page.offset + 1)}–${count(page.offset + page.items.length)} of ${count(page.total_count)}`
      : page
        ? `0 of ${count(page.total_count)}`
        : '…';
  lines.push(fitLine([seg(` Jobs ${range}`, focused ? 'title' : 'dim')], width));
  lines.push(
    fitLine(
      [
        seg(' filter: ', 'dim'),
        seg(clean(describeFilter(t)), t.statuses.length || t.q ? 'warn' : undefined),
        seg('   sort: ', 'dim'),
        seg(`${t.sort} ${t.order === 'asc' ? '↑' : '↓'}`),
      ],
      width,
    ),
  );
  const layout = layoutColumns(jobColumns(s.now), width);
  lines.push(tableHeader(layout, width));
  if (!page) return lines;
  if (page.items.length === 0) lines.push(fitLine([seg(t.statuses.length || t.q ? '  No job matches the filter.' : '  No jobs.', 'dim')], width));
  for (const [i, j] of page.items.slice(0, height - lines.length).entries()) lines.push(tableRow(layout, j, width, i === t.selected, focused));
  return lines;
}

const SHORT: Record<string, string> = {
  completed: 'done',
  running: 'run',
  failed: 'fail',
  terminated: 'term',
  pending_failed: 'pfail',
  canceled: 'cancel',
  pending: 'pend',
  ready: 'ready',
  blocked: 'block',
  uninitialized: 'uninit',
  disabled: 'off',
};

/** Lines of the DAG pane: a stage heading, then its groups with their counts by status. */
export function dagLines(dag: DashboardDag | undefined, width: number): { lines: Line[]; groupLine: number[] } {
  const lines: Line[] = [];
  const groupLine: number[] = [];
  if (!dag) return { lines: [fitLine([seg(' loading the DAG…', 'dim')], width)], groupLine };
  const stages = stagesOf(dag);
  const sizeWidth = Math.max(3, ...dag.nodes.map((n) => count(n.size).length));
  const countsOf = (n: DagNode): Seg[] => {
    const out: Seg[] = [];
    for (const status of COUNT_ORDER) {
      const c = n.kind === 'job' ? (n.status === status ? 1 : 0) : (n.counts?.[status] ?? 0);
      if (c > 0) out.push(seg(`${SHORT[status]} `, 'dim'), seg(count(c), statusStyle(status)), seg(' '));
    }
    return out;
  };
  const countsWidth = Math.max(0, ...dag.nodes.map((n) => lineWidth(countsOf(n))));
  const longest = Math.max(0, ...dag.nodes.map((n) => cellWidth(clean(n.label))));
  // The counts get their room first; the label takes the rest (at least 8 cells).
  const labelWidth = Math.max(8, Math.min(longest, width - 3 - 1 - sizeWidth - 2 - countsWidth));
  for (const stage of stages) {
    lines.push(
      fitLine(
        [
          seg(` Stage ${stage.number}`, 'head'),
          seg(`  ${stage.nodes.length === 1 ? '1 group' : `${stage.nodes.length} groups`}, ${count(stage.jobs)} ${stage.jobs === 1 ? 'job' : 'jobs'}`, 'dim'),
        ],
        width,
      ),
    );
    for (const n of stage.nodes) {
      groupLine.push(lines.length);
      lines.push(fitLine([seg('   '), seg(fit(clean(n.label), labelWidth)), seg(` ${count(n.size).padStart(sizeWidth)}  `), ...countsOf(n)], width));
    }
  }
  return { lines, groupLine };
}

function dagPane(s: WorkflowState, width: number, height: number, focused: boolean): Line[] {
  const head = s.dag ? `${count(s.dag.group_count)} groups · ${count(s.dag.total_jobs)} jobs · ${count(s.dag.total_dependencies)} dependencies` : '';
  const title = fitLine([seg(' DAG by stage', focused ? 'title' : 'dim'), seg(head ? `  ${head}` : '', 'dim')], width);
  const { lines, groupLine } = dagLines(s.dag, width);
  const rows = height - 1;
  const sel = groupLine[Math.min(s.dagSelected, groupLine.length - 1)] ?? 0;
  const first = Math.max(0, Math.min(sel - Math.floor(rows / 2), lines.length - rows));
  // A group's line starts with three spaces; the selected one shows the cursor there.
  const shown = lines
    .slice(first, first + rows)
    .map((l, i) => (focused && first + i === sel && groupLine.length ? fitLine([seg(' › ', 'focus'), ...l.slice(1)], width) : l));
  return [title, ...shown];
}

export function summaryLines(w: DashboardWorkflow | undefined, width: number, now: number): Line[] {
  if (!w) return [fitLine([seg(' loading…', 'dim')], width), fitLine([], width)];
  const running = w.ended_ms === null && w.started_ms !== null;
  const first: Line = [
    seg(` ${w.phase}`, statusStyle(w.phase)),
    seg('  '),
    ...progress(w, Math.max(10, Math.min(30, width - 70))),
    seg(`  ${count(w.done)}/${count(w.total)} done`),
    seg(`  run ${w.run_id}`, 'dim'),
    seg(w.started_ms ? `  started ${clock(w.started_ms, now)}` : '  not started', 'dim'),
    seg(w.elapsed_ms !== null ? `  ${running ? 'running for' : 'took'} ${duration(running && w.started_ms ? now - w.started_ms : w.elapsed_ms)}` : '', 'dim'),
    seg(`  ${w.active_compute_nodes}/${w.compute_nodes} nodes`, 'dim'),
  ];
  const problem = w.conditions.find((c) => c.status === 'True' && /Failed|Blocked|Stalled/i.test(c.type));
  const second: Line = [seg(' '), ...countSegs(w.counts), ...(problem ? [seg(`  ${clean(problem.message)}`, 'warn')] : [])];
  return [fitLine(first, width), fitLine(second, width)];
}

export function workflowBody(s: WorkflowState, width: number, height: number): Line[] {
  const lines = summaryLines(s.summary, width, s.now);
  if (s.error) lines.push(fitLine([seg(` ${clean(s.error)}`, 'bad')], width));
  const paneHeight = height - lines.length;
  if (width >= WIDE) {
    const right = dagWidth(width);
    const left = width - right - 1;
    lines.push(
      ...besideLines(jobsPane(s, left, paneHeight, s.pane === 'jobs'), dagPane(s, right, paneHeight, s.pane === 'dag'), left, right).slice(0, paneHeight),
    );
  } else {
    const tabs: Line = [seg(' ')];
    for (const [pane, label] of [
      ['jobs', 'Jobs'],
      ['dag', 'DAG'],
    ] as const) {
      tabs.push(seg(s.pane === pane ? `[${label}]` : ` ${label} `, s.pane === pane ? 'focus' : 'dim'), seg(' '));
    }
    tabs.push(seg('  Tab switches', 'dim'));
    const body = s.pane === 'jobs' ? jobsPane(s, width, paneHeight, true) : dagPane(s, width, paneHeight, true);
    // The tab bar takes the place of the pane's own title line.
    lines.push(fitLine([...tabs, seg('   '), ...body[0]!.filter((x) => x.text.trim() !== '')], width), ...body.slice(1, paneHeight));
  }
  while (lines.length < height) lines.push(fitLine([], width));
  return lines.slice(0, height);
}

// ---- one job: detail and its output ------------------------------------------------------

export type StreamName = 'stdout' | 'stderr';

export interface LogState {
  stream: StreamName;
  attempt: number | null;
  text: string;
  /** Bytes of the file before `text` that are not kept. */
  skipped: number;
  size: number;
  following: boolean;
  reason: string | null;
  loading: boolean;
}

export const EMPTY_LOG = (stream: StreamName): LogState => ({
  stream,
  attempt: null,
  text: '',
  skipped: 0,
  size: 0,
  following: false,
  reason: null,
  loading: true,
});

export interface JobState {
  detail?: DashboardJobDetail;
  log: LogState;
  resources: ResourceSamples;
  error?: string;
  now: number;
}

function field(label: string, value: Seg[] | string): Seg[] {
  return [seg(` ${label} `, 'dim'), ...(typeof value === 'string' ? [seg(value)] : value)];
}

export function jobDetailLines(d: DashboardJobDetail, width: number, now: number, resources: ResourceSamples): Line[] {
  const j = d.job;
  const lines: Line[] = [];
  const elapsed = j.started_ms !== null ? (j.completed_ms ?? now) - j.started_ms : null;
  lines.push([
    seg(` ${clean(j.name)}`, 'title'),
    seg(`  job ${j.id}  `, 'dim'),
    seg(j.status, statusStyle(j.status)),
    seg(`  attempt ${j.attempt_id}`),
    seg(j.return_code !== null ? `  rc ${j.return_code}` : '', j.return_code ? 'bad' : undefined),
    seg(j.hostname ? `  on ${clean(j.hostname)}` : '', 'dim'),
    seg(j.cancel_requested ? '  cancel requested' : '', 'warn'),
  ]);
  lines.push(field('command', clean(j.command)));
  const r = d.requirements;
  const times = [
    j.started_ms ? `started ${clock(j.started_ms, now)}` : 'not started',
    j.completed_ms ? `ended ${clock(j.completed_ms, now)}` : '',
    elapsed !== null ? duration(elapsed) : '',
  ]
    .filter(Boolean)
    .join(' · ');
  lines.push([
    ...field(
      'needs',
      r ? `${clean(r.name)}: ${r.num_cpus} CPU · ${r.memory} · ${r.num_gpus} GPU · ${r.runtime}${r.raised_for_this_job ? ' (raised)' : ''}` : 'defaults',
    ),
    ...field('  ', times),
  ]);
  const names = (list: { name: string; status: string }[], total: number) =>
    list.length === 0
      ? [seg('none', 'dim')]
      : [
          ...list.slice(0, 4).flatMap((n, i) => [seg(i ? ', ' : ''), seg(clean(n.name), statusStyle(n.status))]),
          seg(total > 4 ? ` +${count(total - Math.min(4, list.length))}` : '', 'dim'),
        ];
  lines.push([...field('after', names(d.blockers, d.blocker_count)), seg('  '), ...field('before', names(d.dependents, d.dependent_count))]);
  const attempts = d.attempts
    .slice(-4)
    .flatMap((a, i) => [
      seg(i ? '  ' : ''),
      seg(`#${a.attempt_id} `),
      seg(a.status, statusStyle(a.status)),
      seg(` rc ${a.return_code} ${duration(a.exec_time_minutes * 60_000)}`, 'dim'),
    ]);
  lines.push(field('attempts', attempts.length ? attempts : [seg('none yet', 'dim')]));
  lines.push(...resourceLines(resources, width));
  return lines.map((l) => fitLine(l, width));
}

/** The visible lines of a log: wrapped to the width; `back` lines up from the end. */
export function logWindow(log: LogState, width: number, rows: number, back: number): { lines: string[]; maxBack: number } {
  const all = wrap(logLines(log.text.endsWith('\n') ? log.text.slice(0, -1) : log.text), width);
  const maxBack = Math.max(0, all.length - rows);
  const b = Math.min(back, maxBack);
  return { lines: all.slice(Math.max(0, all.length - rows - b), all.length - b), maxBack };
}

export function logTitle(log: LogState, width: number, back: number): Line {
  const other = log.stream === 'stdout' ? 'stderr' : 'stdout';
  const state = log.loading ? 'loading' : log.following ? (back > 0 ? 'following (scrolled back)' : 'following') : log.reason ? '' : 'ended';
  return fitLine(
    [
      seg(` ${log.stream}`, 'title'),
      seg(log.attempt ? ` attempt ${log.attempt}` : '', 'dim'),
      seg(log.size ? ` · ${bytes(log.size)}` : '', 'dim'),
      seg(log.skipped ? ` (first ${bytes(log.skipped)} not shown)` : '', 'dim'),
      seg(state ? ` · ${state}` : '', log.following ? 'run' : 'dim'),
      seg(`   Tab: ${other}`, 'dim'),
      seg(' ' + '─'.repeat(Math.max(0, width)), 'dim'),
    ],
    width,
  );
}

function logBody(log: LogState, width: number, rows: number, back: number): Line[] {
  const lines: Line[] = [];
  if (log.reason && !log.text) lines.push(fitLine([seg(` ${clean(log.reason)}`, 'dim')], width));
  else if (!log.loading && !log.text) lines.push(fitLine([seg(' (empty)', 'dim')], width));
  else for (const l of logWindow(log, width - 1, rows, back).lines) lines.push(fitLine([seg(' '), seg(l)], width));
  return lines;
}

export function jobBody(s: JobState, width: number, height: number): Line[] {
  const lines: Line[] = [];
  if (!s.detail) lines.push(fitLine([seg(s.error ? ` ${clean(s.error)}` : ' loading…', s.error ? 'bad' : 'dim')], width));
  else {
    lines.push(...jobDetailLines(s.detail, width, s.now, s.resources));
    if (s.error) lines.push(fitLine([seg(` ${clean(s.error)}`, 'bad')], width));
  }
  lines.push(logTitle(s.log, width, 0));
  lines.push(...logBody(s.log, width, height - lines.length, 0));
  while (lines.length < height) lines.push(fitLine([], width));
  return lines.slice(0, height);
}

export interface LogViewState {
  job?: DashboardJobDetail;
  log: LogState;
  /** Lines scrolled back from the end (0: the newest, following). */
  back: number;
}

export function logViewBody(s: LogViewState, width: number, height: number): Line[] {
  const lines: Line[] = [logTitle(s.log, width, s.back)];
  lines.push(...logBody(s.log, width, height - 1, s.back));
  while (lines.length < height) lines.push(fitLine([], width));
  return lines.slice(0, height);
}

/** Lines a log view can scroll back at this size. */
export function logMaxBack(log: LogState, width: number, height: number): number {
  return logWindow(log, width - 1, height - 1, 0).maxBack;
}
