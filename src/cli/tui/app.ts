/**
 * `torc tui` drawn with ink (React for terminals): a stack of views — workflows, one workflow
 * (job table and DAG), one job (detail and output), a job's full log — over a TuiSource. Every
 * view re-reads what it shows when its live source says something changed (the server's event
 * stream, or the database file's commits), never on a timer; the one timer is the clock that
 * moves "running for" along once a second, which reads nothing.
 * Layout and text are screens.ts; this file holds state, keys and reads.
 */
import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useApp, useInput, useStdout, type Key as InkKey } from 'ink';
import type { DashboardJobDetail, DashboardWorkflowPage } from '../../api/dashboard/service.js';
import { LOADING_SAMPLES, describeSamples, sampleTarget, type ResourceSamples } from './resources.js';
import { Refresher } from './refresh.js';
import {
  COUNT_ORDER,
  DEFAULT_TABLE,
  EMPTY_LOG,
  JOB_SORTS,
  footerHeight,
  footerLines,
  headerLine,
  jobBody,
  jobPageSize,
  logMaxBack,
  logViewBody,
  messageLine,
  workflowBody,
  workflowsBody,
  type JobTableState,
  type Key,
  type LiveIndicator,
  type LogState,
  type StreamName,
  type Tone,
  type WorkflowState,
} from './screens.js';
import { dagLines } from './screens.js';
import type { LiveState, TuiSource } from './source.js';
import type { Line, Style } from './style.js';
import { filterText, nextStatus, parseFilter } from './filter.js';
import { fitLine, seg } from './style.js';
import { truncate } from './text.js';
import { splitKeys, type KeyPress } from './keys.js';

const h = React.createElement;

export type View =
  | { kind: 'workflows' }
  | { kind: 'workflow'; id: number; name?: string }
  | { kind: 'job'; id: number; workflowId: number; name?: string; crumbs: string[] }
  | { kind: 'log'; id: number; workflowId: number; name?: string; stream: StreamName; crumbs: string[] };

type Modal =
  { kind: 'confirm'; text: string; run: () => Promise<string> } | { kind: 'prompt'; label: string; value: string; onSubmit: (value: string) => string | null };

interface Ctx {
  source: TuiSource;
  color: boolean;
  cols: number;
  rows: number;
  live: LiveIndicator;
  setLive: (s: LiveState) => void;
  modal: Modal | null;
  notify: (text: string, tone?: Tone) => void;
  /** Asks for confirmation (after checking the source takes changes), then runs and reports. */
  confirm: (text: string, run: () => Promise<string>) => void;
  prompt: (label: string, value: string, onSubmit: (value: string) => string | null) => void;
  push: (view: View) => void;
  /** State of the views in the stack, so going back finds a view as it was left. */
  memory: Map<string, unknown>;
  /** The shown view's key handler (see useKeys). */
  viewKeys: { current: KeyHandler | null };
}

type KeyHandler = (input: string, key: InkKey) => void;

/**
 * The view's keys. Set while the view is drawn, not in an effect: a key that arrives right after
 * a screen is shown must reach the handler of that screen. (ink's useInput subscribes in an
 * effect, and each toggle of its isActive switches the terminal out of raw mode and back; so the
 * app has one input handler, always on, that hands keys to the modal or to this.)
 */
function useKeys(ctx: Ctx, handler: KeyHandler): void {
  ctx.viewKeys.current = handler;
}

const errorText = (err: unknown): string => {
  const e = err as { message?: string; status?: number };
  if (e?.status === 401) return `refused by the server (401): ${e.message ?? 'a valid token is needed'}`;
  return e?.message ?? String(err);
};

// ---- drawing -------------------------------------------------------------------------------

const STYLE_PROPS: Record<Style, Record<string, unknown>> = {
  title: { bold: true },
  dim: { dimColor: true },
  head: { bold: true, underline: true },
  selected: { inverse: true },
  key: { bold: true, color: 'cyan' },
  ok: { color: 'green' },
  bad: { color: 'red' },
  warn: { color: 'yellow' },
  run: { color: 'blue' },
  info: { color: 'white' },
  focus: { bold: true, color: 'cyan' },
};

function LineView({ line, color }: { line: Line; color: boolean }) {
  // NO_COLOR: one plain string per line, so the terminal gets no SGR sequence at all.
  if (!color) return h(Text, { wrap: 'truncate' }, line.map((s) => s.text).join(''));
  return h(Text, { wrap: 'truncate' }, ...line.map((s, i) => (s.style ? h(Text, { key: i, ...STYLE_PROPS[s.style] }, s.text) : s.text)));
}

/** Rows left for a view's body under the header, above the message line and the footer. */
function bodySize(ctx: Ctx, keys: Key[]): { width: number; height: number } {
  return { width: ctx.cols, height: Math.max(1, ctx.rows - 2 - footerHeight(keys, ctx.cols)) };
}

function Frame({ ctx, crumbs, keys, body, message }: { ctx: Ctx; crumbs: string[]; keys: Key[]; body: Line[]; message: { text: string; tone: Tone } | null }) {
  const { width, height } = bodySize(ctx, keys);
  const lines: Line[] = [headerLine(crumbs, ctx.live, ctx.source.where, width)];
  for (let i = 0; i < height; i++) lines.push(body[i] ?? fitLine([], width));
  const modal = ctx.modal;
  // The question is cut to fit, never its [y/N].
  if (modal?.kind === 'confirm') lines.push(messageLine(`${truncate(modal.text, width - 8)} [y/N]`, 'confirm', width));
  else if (modal?.kind === 'prompt')
    lines.push(fitLine([seg(` ${modal.label}: `, 'warn'), seg(`${modal.value}█`), seg('   Enter apply · Esc cancel', 'dim')], width));
  else lines.push(message ? messageLine(message.text, message.tone, width) : fitLine([], width));
  lines.push(...footerLines(keys, width));
  return h(Box, { flexDirection: 'column', width: ctx.cols, height: ctx.rows }, ...lines.map((line, i) => h(LineView, { key: i, line, color: ctx.color })));
}

// ---- shared hooks ----------------------------------------------------------------------------

/** Now, moved on once a second while `ticking` (for "running for" times; reads nothing). */
function useClock(ticking: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!ticking) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [ticking]);
  return now;
}

/** A Refresher bound to the component's lifetime, always calling the latest `read`. */
function useRefresher<Part extends string>(read: (parts: Set<Part>) => Promise<void>): Refresher<Part> {
  const ref = useRef(read);
  ref.current = read;
  const refresher = useMemo(() => new Refresher<Part>((parts) => ref.current(parts)), []);
  useEffect(() => () => refresher.stop(), [refresher]);
  return refresher;
}

/** useState whose value outlives the view while it is in the stack (under a view opened from it). */
function useRemembered<T>(ctx: Ctx, key: string, initial: () => T): [T, React.Dispatch<React.SetStateAction<T>>] {
  const [value, setValue] = useState<T>(() => (ctx.memory.has(key) ? (ctx.memory.get(key) as T) : initial()));
  useEffect(() => void ctx.memory.set(key, value), [key, value]);
  return [value, setValue];
}

/** Selection moves shared by the lists: arrows, j/k, Home/End, g/G. */
function moveBy(input: string, key: InkKey): number | 'first' | 'last' | null {
  if (key.upArrow || input === 'k') return -1;
  if (key.downArrow || input === 'j') return 1;
  if (key.home || input === 'g') return 'first';
  if (key.end || input === 'G') return 'last';
  return null;
}

// ---- workflows -------------------------------------------------------------------------------

const WORKFLOWS_KEYS: Key[] = [
  ['↑↓/jk', 'move'],
  ['PgUp/PgDn', 'page'],
  ['Enter', 'open'],
  ['c', 'cancel workflow'],
  ['r', 'rerun failed'],
  ['q', 'quit'],
];

function WorkflowsView({ ctx, message, memoryKey }: { ctx: Ctx; message: Msg; memoryKey: string }) {
  const { height } = bodySize(ctx, WORKFLOWS_KEYS);
  const limit = Math.max(1, height - 2);
  const [page, setPage] = useRemembered<DashboardWorkflowPage | undefined>(ctx, `${memoryKey}:page`, () => undefined);
  const [offset, setOffset] = useRemembered(ctx, `${memoryKey}:offset`, () => 0);
  const [selected, setSelected] = useRemembered(ctx, `${memoryKey}:selected`, () => 0);
  const [error, setError] = useState<string>();
  const want = useRef({ offset, limit });
  want.current = { offset, limit };
  const refresher = useRefresher<'list'>(async () => {
    try {
      const p = await ctx.source.workflows(want.current.offset, want.current.limit);
      setPage(p);
      setSelected((s) => Math.max(0, Math.min(s, p.items.length - 1)));
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  });
  useEffect(() => refresher.trigger(['list'], true), [offset, limit, refresher]);
  useEffect(() => ctx.source.watchWorkflows(() => refresher.trigger(['list']), ctx.setLive), [refresher]);

  const items = page?.items ?? [];
  const current = items[selected];
  useKeys(ctx, (input, key) => {
    const move = moveBy(input, key);
    if (move === 'first') setSelected(0);
    else if (move === 'last') setSelected(Math.max(0, items.length - 1));
    else if (move !== null) {
      const next = selected + move;
      if (next < 0 && offset > 0) {
        setOffset(Math.max(0, offset - limit));
        setSelected(limit - 1);
      } else if (next >= items.length && page?.has_more) {
        setOffset(offset + limit);
        setSelected(0);
      } else setSelected(Math.max(0, Math.min(items.length - 1, next)));
    } else if (key.pageDown && page?.has_more) setOffset(offset + limit);
    else if (key.pageUp) setOffset(Math.max(0, offset - limit));
    else if (key.return && current) ctx.push({ kind: 'workflow', id: current.id, name: current.name });
    else if (input === 'c' && current) {
      const active = current.total - current.done;
      ctx.confirm(`Cancel workflow ${current.id} "${current.name}"? ${active} unfinished jobs stop (running ones are terminated).`, () =>
        ctx.source.cancelWorkflow(current.id),
      );
    } else if (input === 'r' && current)
      ctx.confirm(`Rerun the failed, terminated and canceled jobs of workflow ${current.id} "${current.name}" (and what depends on them)?`, () =>
        ctx.source.rerunFailed(current.id),
      );
  });
  const body = workflowsBody({ page, selected, error }, ctx.cols, height);
  return h(Frame, { ctx, crumbs: ['Workflows'], keys: WORKFLOWS_KEYS, body, message: message.value });
}

// ---- one workflow ----------------------------------------------------------------------------

/** The job table's keys (the footer; exported for the footer test). */
export const JOBS_KEYS: Key[] = [
  ['↑↓/jk', 'move'],
  ['PgUp/PgDn', 'page'],
  ['Enter', 'open'],
  ['l', 'logs'],
  ['/', 'filter'],
  ['f', 'status'],
  ['s', 'sort'],
  ['S', 'order'],
  ['Tab', 'DAG'],
  ['c', 'cancel workflow'],
  ['r', 'rerun failed'],
  ['Esc', 'back'],
  ['q', 'quit'],
];

const DAG_KEYS: Key[] = [
  ['↑↓/jk', 'move'],
  ['Tab', 'jobs'],
  ['c', 'cancel workflow'],
  ['r', 'rerun failed'],
  ['Esc', 'back'],
  ['q', 'quit'],
];

type WorkflowPart = 'summary' | 'jobs' | 'dag';

function WorkflowView({ ctx, view, message, memoryKey }: { ctx: Ctx; view: Extract<View, { kind: 'workflow' }>; message: Msg; memoryKey: string }) {
  const id = view.id;
  const [state, setState] = useRemembered<Omit<WorkflowState, 'now'>>(ctx, memoryKey, () => ({ table: DEFAULT_TABLE, pane: 'jobs', dagSelected: 0 }));
  const running = (state.summary?.counts.running ?? 0) > 0;
  const now = useClock(running);
  const keys = state.pane === 'jobs' ? JOBS_KEYS : DAG_KEYS;
  const { width, height } = bodySize(ctx, keys);
  const pageSize = jobPageSize(width, height);
  const latest = useRef({ table: state.table, pageSize });
  latest.current = { table: state.table, pageSize };

  const refresher = useRefresher<WorkflowPart>(async (parts) => {
    const { table, pageSize: limit } = latest.current;
    try {
      const [summary, jobs, dag] = await Promise.all([
        parts.has('summary') ? ctx.source.workflow(id) : undefined,
        parts.has('jobs')
          ? ctx.source.jobs(id, { status: table.statuses, q: table.q, sort: table.sort, order: table.order, offset: table.offset, limit })
          : undefined,
        parts.has('dag') ? ctx.source.dag(id) : undefined,
      ]);
      setState((s) => {
        const next = { ...s, error: undefined };
        if (summary) next.summary = summary;
        if (dag) next.dag = dag;
        if (jobs) {
          next.jobs = jobs;
          next.table = { ...s.table, selected: Math.max(0, Math.min(s.table.selected, jobs.items.length - 1)) };
        }
        return next;
      });
    } catch (err) {
      setState((s) => ({ ...s, error: errorText(err) }));
    }
  });
  const { statuses, q, sort, order, offset } = state.table;
  useEffect(() => refresher.trigger(['jobs'], true), [statuses, q, sort, order, offset, pageSize, refresher]);
  useEffect(() => {
    refresher.trigger(['summary', 'dag'], true);
    return ctx.source.watchWorkflow(id, () => refresher.trigger(['summary', 'jobs', 'dag']), ctx.setLive);
  }, [id, refresher]);

  const setTable = (patch: Partial<JobTableState>) => setState((s) => ({ ...s, table: { ...s.table, ...patch } }));
  const page = state.jobs;
  const rows = page?.items ?? [];
  const job = rows[state.table.selected];
  const total = page?.total_count ?? 0;
  const dagGroups = useMemo(() => dagLines(state.dag, width).groupLine.length, [state.dag, width]);
  const wfName = state.summary?.name ?? view.name ?? '';
  const crumbs = ['Workflows', `#${id} ${wfName}`];

  useKeys(ctx, (input, key) => {
    if (key.tab) {
      setState((s) => ({ ...s, pane: s.pane === 'jobs' ? 'dag' : 'jobs' }));
      return;
    }
    if (input === 'c') {
      const s = state.summary;
      const unfinished = s ? s.total - s.done : 0;
      ctx.confirm(`Cancel workflow ${id} "${wfName}"? ${unfinished} unfinished jobs stop (running ones are terminated).`, () => ctx.source.cancelWorkflow(id));
      return;
    }
    if (input === 'r') {
      ctx.confirm(`Rerun the failed, terminated and canceled jobs of workflow ${id} "${wfName}" (and what depends on them)?`, () => ctx.source.rerunFailed(id));
      return;
    }
    const move = moveBy(input, key);
    if (state.pane === 'dag') {
      if (move === 'first') setState((s) => ({ ...s, dagSelected: 0 }));
      else if (move === 'last') setState((s) => ({ ...s, dagSelected: Math.max(0, dagGroups - 1) }));
      else if (move !== null) setState((s) => ({ ...s, dagSelected: Math.max(0, Math.min(dagGroups - 1, s.dagSelected + move)) }));
      return;
    }
    const lastOffset = Math.max(0, Math.floor((total - 1) / pageSize) * pageSize);
    if (move === 'first') setTable({ offset: 0, selected: 0 });
    else if (move === 'last') setTable({ offset: lastOffset, selected: Math.max(0, (total - 1) % pageSize) });
    else if (move !== null) {
      const next = state.table.selected + move;
      if (next < 0 && offset > 0) setTable({ offset: Math.max(0, offset - pageSize), selected: pageSize - 1 });
      else if (next >= rows.length && page?.has_more) setTable({ offset: offset + pageSize, selected: 0 });
      else setTable({ selected: Math.max(0, Math.min(rows.length - 1, next)) });
    } else if (key.pageDown) {
      if (page?.has_more) setTable({ offset: offset + pageSize });
      else setTable({ selected: Math.max(0, rows.length - 1) });
    } else if (key.pageUp) {
      if (offset > 0) setTable({ offset: Math.max(0, offset - pageSize) });
      else setTable({ selected: 0 });
    } else if (key.return && job) ctx.push({ kind: 'job', id: job.id, workflowId: id, name: job.name, crumbs });
    else if (input === 'l' && job) ctx.push({ kind: 'log', id: job.id, workflowId: id, name: job.name, stream: 'stdout', crumbs });
    else if (input === '/')
      ctx.prompt('Filter (words in the name, status:failed,running)', filterText(state.table), (value) => {
        try {
          const f = parseFilter(value);
          setTable({ ...f, offset: 0, selected: 0 });
          return null;
        } catch (err) {
          return errorText(err);
        }
      });
    else if (input === 'f') setTable({ statuses: nextStatus(statuses, state.summary?.counts ?? {}, COUNT_ORDER), offset: 0, selected: 0 });
    else if (input === 's') setTable({ sort: JOB_SORTS[(JOB_SORTS.indexOf(sort) + 1) % JOB_SORTS.length]!, offset: 0, selected: 0 });
    else if (input === 'S') setTable({ order: order === 'asc' ? 'desc' : 'asc', offset: 0, selected: 0 });
  });
  const body = workflowBody({ ...state, now }, width, height);
  return h(Frame, { ctx, crumbs, keys, body, message: message.value });
}

// ---- one job ---------------------------------------------------------------------------------

/** Most text kept of a log: the newest part. */
const LOG_KEEP = 512 * 1024;
const TAIL_BYTES = 128 * 1024;

/**
 * The job's detail, re-read on each change of its workflow; with `withSamples`, then the
 * resource samples of its latest attempt (the job view's sparklines).
 */
function useJobDetail(
  ctx: Ctx,
  jobId: number,
  workflowId: number,
  withSamples = false,
): { detail?: DashboardJobDetail; resources: ResourceSamples; error?: string } {
  const [detail, setDetail] = useState<DashboardJobDetail>();
  const [resources, setResources] = useState<ResourceSamples>(LOADING_SAMPLES);
  const [error, setError] = useState<string>();
  const refresher = useRefresher<'detail'>(async () => {
    let d: DashboardJobDetail;
    try {
      d = await ctx.source.jobDetail(jobId);
      setDetail(d);
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
      return;
    }
    if (!withSamples) return;
    const target = sampleTarget(d);
    try {
      setResources(describeSamples(d, target, target ? await ctx.source.samples(workflowId, jobId, target) : []));
    } catch (err) {
      setResources({ available: false, reason: `samples not read: ${errorText(err)}` });
    }
  });
  useEffect(() => {
    refresher.trigger(['detail'], true);
    return ctx.source.watchWorkflow(workflowId, () => refresher.trigger(['detail']), ctx.setLive);
  }, [jobId, workflowId, refresher]);
  return { detail, resources, error };
}

/**
 * The tail of the job's current attempt's stdout or stderr, then what is appended while it
 * runs (followed). Read again when the attempt or its status changes (a job that starts, ends
 * or is retried).
 */
function useJobLog(ctx: Ctx, jobId: number, stream: StreamName, detail: DashboardJobDetail | undefined): LogState {
  const [log, setLog] = useState<LogState>(EMPTY_LOG(stream));
  const attempt = detail?.job.attempt_id;
  const status = detail?.job.status;
  useEffect(() => {
    if (attempt === undefined) return;
    let stopped = false;
    let unfollow: (() => void) | undefined;
    setLog({ ...EMPTY_LOG(stream), attempt });
    void ctx.source.stdio(jobId, { stream, attempt, tail: true, max_bytes: TAIL_BYTES }).then(
      (chunk) => {
        if (stopped) return;
        const following = chunk.available && chunk.running;
        setLog({ stream, attempt, text: chunk.text, skipped: chunk.offset, size: chunk.size, following, reason: chunk.reason, loading: false });
        if (!following) return;
        unfollow = ctx.source.follow(
          jobId,
          { stream, attempt, offset: chunk.next_offset },
          {
            data: (d) =>
              setLog((l) => {
                let text = l.text + d.text;
                let skipped = l.skipped;
                if (text.length > LOG_KEEP) {
                  const cut = text.length - LOG_KEEP;
                  skipped += Buffer.byteLength(text.slice(0, cut));
                  text = text.slice(cut);
                }
                return { ...l, text, skipped, size: Math.max(d.size, d.next_offset) };
              }),
            unavailable: (reason) => setLog((l) => ({ ...l, reason })),
            end: () => setLog((l) => ({ ...l, following: false })),
          },
        );
      },
      (err: unknown) => !stopped && setLog({ ...EMPTY_LOG(stream), attempt, loading: false, reason: errorText(err) }),
    );
    return () => {
      stopped = true;
      unfollow?.();
    };
  }, [jobId, stream, attempt, status]);
  return log;
}

const JOB_KEYS: Key[] = [
  ['l', 'full log'],
  ['Tab', 'stdout/stderr'],
  ['c', 'cancel job'],
  ['Esc', 'back'],
  ['q', 'quit'],
];

function cancelJob(ctx: Ctx, detail: DashboardJobDetail | undefined): void {
  if (!detail) return;
  const j = detail.job;
  ctx.confirm(`Cancel job ${j.id} "${j.name}" (${j.status})?${j.status === 'running' ? ' Its runner terminates it.' : ''}`, () => ctx.source.cancelJob(j.id));
}

function JobView({ ctx, view, message }: { ctx: Ctx; view: Extract<View, { kind: 'job' }>; message: Msg }) {
  const [stream, setStream] = useState<StreamName>('stdout');
  const { detail, resources, error } = useJobDetail(ctx, view.id, view.workflowId, true);
  const log = useJobLog(ctx, view.id, stream, detail);
  const now = useClock(detail?.job.status === 'running');
  const { width, height } = bodySize(ctx, JOB_KEYS);
  useKeys(ctx, (input, key) => {
    if (key.tab) setStream((s) => (s === 'stdout' ? 'stderr' : 'stdout'));
    else if (input === 'l')
      ctx.push({ kind: 'log', id: view.id, workflowId: view.workflowId, name: detail?.job.name ?? view.name, stream, crumbs: view.crumbs });
    else if (input === 'c') cancelJob(ctx, detail);
  });
  const body = jobBody({ detail, log, resources, error, now }, width, height);
  return h(Frame, { ctx, crumbs: [...view.crumbs, `job ${view.id} ${detail?.job.name ?? view.name ?? ''}`], keys: JOB_KEYS, body, message: message.value });
}

const LOG_KEYS: Key[] = [
  ['↑↓/jk', 'scroll'],
  ['PgUp/PgDn', 'page'],
  ['End/G', 'newest'],
  ['Tab', 'stdout/stderr'],
  ['c', 'cancel job'],
  ['Esc', 'back'],
  ['q', 'quit'],
];

function LogView({ ctx, view, message }: { ctx: Ctx; view: Extract<View, { kind: 'log' }>; message: Msg }) {
  const [stream, setStream] = useState<StreamName>(view.stream);
  const [back, setBack] = useState(0);
  const { detail, error } = useJobDetail(ctx, view.id, view.workflowId);
  const log = useJobLog(ctx, view.id, stream, detail);
  const { width, height } = bodySize(ctx, LOG_KEYS);
  const maxBack = logMaxBack(log, width, height);
  useKeys(ctx, (input, key) => {
    const page = Math.max(1, height - 2);
    if (key.tab) {
      setStream((s) => (s === 'stdout' ? 'stderr' : 'stdout'));
      setBack(0);
    } else if (key.upArrow || input === 'k') setBack((b) => Math.min(maxBack, b + 1));
    else if (key.downArrow || input === 'j') setBack((b) => Math.max(0, b - 1));
    else if (key.pageUp) setBack((b) => Math.min(maxBack, b + page));
    else if (key.pageDown) setBack((b) => Math.max(0, b - page));
    else if (key.home || input === 'g') setBack(maxBack);
    else if (key.end || input === 'G') setBack(0);
    else if (input === 'c') cancelJob(ctx, detail);
  });
  const body = logViewBody({ job: detail, log: error && !log.text ? { ...log, reason: error } : log, back: Math.min(back, maxBack) }, width, height);
  const name = detail?.job.name ?? view.name ?? '';
  return h(Frame, { ctx, crumbs: [...view.crumbs, `job ${view.id} ${name}`, stream], keys: LOG_KEYS, body, message: message.value });
}

// ---- the app ---------------------------------------------------------------------------------

interface Msg {
  value: { text: string; tone: Tone } | null;
}

export interface AppProps {
  source: TuiSource;
  color: boolean;
  initialWorkflow?: number;
}

function useTerminalSize(): { cols: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ cols: Math.max(20, stdout.columns || 80), rows: Math.max(8, stdout.rows || 24) });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout]);
  return size;
}

export function App({ source, color, initialWorkflow }: AppProps) {
  const { exit } = useApp();
  const { cols, rows } = useTerminalSize();
  const [stack, setStack] = useState<View[]>(() =>
    initialWorkflow ? [{ kind: 'workflows' }, { kind: 'workflow', id: initialWorkflow }] : [{ kind: 'workflows' }],
  );
  const [live, setLiveState] = useState<LiveIndicator>('connecting');
  const [message, setMessage] = useState<Msg['value']>(null);
  const [modal, setModal] = useState<Modal | null>(null);
  const memory = useRef(new Map<string, unknown>()).current;

  const notify = useCallback((text: string, tone: Tone = 'info') => setMessage({ text, tone }), []);
  const setLive = useCallback((s: LiveState) => setLiveState(s), []);
  const confirm = useCallback(
    (text: string, run: () => Promise<string>) => {
      void source.changeRefusal().then(
        (refusal) => {
          if (refusal) notify(`Refused: ${refusal}`, 'error');
          else setModal({ kind: 'confirm', text, run });
        },
        (err: unknown) => notify(errorText(err), 'error'),
      );
    },
    [source, notify],
  );
  const prompt = useCallback(
    (label: string, value: string, onSubmit: (value: string) => string | null) => setModal({ kind: 'prompt', label, value, onSubmit }),
    [],
  );
  const push = useCallback((view: View) => {
    setMessage(null);
    setStack((s) => [...s, view]);
  }, []);

  const viewKeys = useRef<KeyHandler | null>(null);
  /** One key: to the open question or prompt, else q and back, else the shown view. */
  const dispatch: KeyHandler = (input, key) => {
    if (modal?.kind === 'confirm') {
      setModal(null);
      if (input === 'y' || input === 'Y') {
        notify('Sending…');
        modal.run().then(
          (text) => notify(text, 'ok'),
          (err: unknown) => notify(errorText(err), 'error'),
        );
      } else notify('Nothing was changed.');
      return;
    }
    if (modal?.kind === 'prompt') {
      if (key.return) {
        const error = modal.onSubmit(modal.value);
        if (error) notify(error, 'error');
        else setMessage(null);
        setModal(null);
      } else if (key.escape) setModal(null);
      else if (key.backspace || key.delete) setModal({ ...modal, value: [...modal.value].slice(0, -1).join('') });
      else if (key.ctrl && input === 'u') setModal({ ...modal, value: '' });
      else if (input && !key.ctrl && !key.meta && !/[\u0000-\u001f\u007f]/.test(input)) setModal({ ...modal, value: modal.value + input });
      return;
    }
    if (input === 'q') exit();
    else if (key.escape || key.backspace || key.delete) {
      if (stack.length > 1) {
        setMessage(null);
        const gone = `${stack.length - 1}:`;
        for (const k of [...memory.keys()]) if (k.startsWith(gone)) memory.delete(k);
        setStack((s) => s.slice(0, -1));
      }
    } else viewKeys.current?.(input, key);
  };
  // Keys wait in a queue and are handled one per render, after it: each sees the state (and the
  // view) that the key before it left. ink hands over keys that arrive together (typed fast, a
  // held j, a script) in one call, and several calls before React renders again.
  const keyQueue = useRef<KeyPress[]>([]);
  const [keyTurn, setKeyTurn] = useState(0);
  useInput(
    useCallback<KeyHandler>((input, key) => {
      keyQueue.current.push(...splitKeys(input, key));
      setKeyTurn((n) => n + 1);
    }, []),
  );
  useEffect(() => {
    const next = keyQueue.current.shift();
    if (!next) return;
    dispatch(next.input, next.key);
    // Render again for the next key even when this one changed nothing.
    if (keyQueue.current.length > 0) setKeyTurn((n) => n + 1);
  }, [keyTurn]);

  const ctx: Ctx = { source, color, cols, rows, live, setLive, modal, notify, confirm, prompt, push, memory, viewKeys };
  const view = stack[stack.length - 1]!;
  const msg: Msg = { value: message };
  // Each view is keyed by its place in the stack; going back remounts the one below from its memory.
  const key = `${stack.length - 1}:${view.kind}:${'id' in view ? view.id : ''}`;
  switch (view.kind) {
    case 'workflows':
      return h(WorkflowsView, { key, ctx, message: msg, memoryKey: key });
    case 'workflow':
      return h(WorkflowView, { key, ctx, view, message: msg, memoryKey: key });
    case 'job':
      return h(JobView, { key, ctx, view, message: msg });
    case 'log':
      return h(LogView, { key, ctx, view, message: msg });
  }
}
