/**
 * The job table: filtered, sorted and paged by the server (GET /dashboard/workflows/{id}/jobs),
 * so it stays quick at a million jobs. The page re-reads the visible rows when the stream says
 * jobs changed (at most twice a second).
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, query, type JobRow, type Page, type StatusName } from '../api.js';
import { clock, duration, num } from '../format.js';
import { Link } from '../router.js';
import { Legend, StatusPill } from './ui.js';

export interface TableState {
  status: StatusName | null;
  q: string;
  sort: 'id' | 'name' | 'status' | 'started' | 'completed';
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

export const DEFAULT_TABLE: TableState = { status: null, q: '', sort: 'id', order: 'asc', offset: 0, limit: 50 };

export function JobsTable({ workflowId, counts, state, setState, refresh }: {
  workflowId: number;
  counts: Record<string, number>;
  state: TableState;
  setState: (s: TableState) => void;
  /** Changes when the stream says jobs changed: the visible page is read again. */
  refresh: number;
}) {
  const [page, setPage] = useState<Page<JobRow> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [text, setText] = useState(state.q);
  const seq = useRef(0);

  useEffect(() => {
    const mine = ++seq.current;
    get<Page<JobRow>>(
      `/dashboard/workflows/${workflowId}/jobs${query({ status: state.status ?? undefined, q: state.q || undefined, sort: state.sort, order: state.order, offset: state.offset, limit: state.limit })}`,
    ).then(
      (p) => {
        if (mine !== seq.current) return; // an older answer arriving late
        setPage(p);
        setError(null);
      },
      (e: Error) => mine === seq.current && setError(e.message),
    );
  }, [workflowId, state.status, state.q, state.sort, state.order, state.offset, state.limit, refresh]);

  // Typing filters after a short pause (one request per pause, not per key).
  useEffect(() => {
    if (text === state.q) return;
    const t = setTimeout(() => setState({ ...state, q: text, offset: 0 }), 250);
    return () => clearTimeout(t);
  }, [text]);
  useEffect(() => setText(state.q), [state.q]);

  const sortBy = (sort: TableState['sort']) =>
    setState({ ...state, sort, order: state.sort === sort && state.order === 'asc' ? 'desc' : 'asc', offset: 0 });
  const th = (key: TableState['sort'], label: string, cls = '') =>
    html`<th class=${`sortable ${cls} ${state.sort === key ? `sorted ${state.order}` : ''}`} onClick=${() => sortBy(key)} aria-sort=${state.sort === key ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none'}>${label}</th>`;
  const total = page?.total_count ?? 0;
  const from = total === 0 ? 0 : state.offset + 1;
  const to = Math.min(total, state.offset + (page?.items.length ?? 0));
  const lastOffset = Math.max(0, Math.floor((total - 1) / state.limit) * state.limit);

  return html`<div class="jobs-table" data-total=${total}>
    <div class="table-tools">
      <input class="search" type="search" placeholder="Filter by name…" value=${text} onInput=${(e: Event) => setText((e.target as HTMLInputElement).value)} aria-label="Filter jobs by name" data-job-search />
      <${Legend} counts=${counts} active=${state.status} onPick=${(s: StatusName) => setState({ ...state, status: state.status === s ? null : s, offset: 0 })} />
      ${state.status || state.q ? html`<button type="button" class="btn btn-sm btn-ghost" onClick=${() => { setText(''); setState({ ...state, status: null, q: '', offset: 0 }); }}>Clear filters</button>` : null}
    </div>
    ${error ? html`<div class="error-box">Could not load jobs: ${error}</div>` : null}
    <div class="table-wrap">
      <table class="table">
        <thead><tr>
          ${th('id', 'ID', 'num')}${th('name', 'Name')}${th('status', 'Status')}<th class="num">Attempt</th><th class="num">Exit</th>
          <th>Node</th><th>Resources</th>${th('started', 'Started')}${th('completed', 'Finished')}<th class="num">Duration</th>
        </tr></thead>
        <tbody>
          ${page?.items.map(
            (j) => html`<tr key=${j.id} data-job-row=${j.id} data-status=${j.status}>
              <td class="num mono muted">${j.id}</td>
              <td class="name"><${Link} href=${`/jobs/${j.id}`}>${j.name}</${Link}></td>
              <td><${StatusPill} status=${j.status} /></td>
              <td class="num">${j.attempt_id}</td>
              <td class=${`num mono ${j.return_code ? 'bad' : ''}`}>${j.return_code ?? '—'}</td>
              <td class="muted">${j.hostname ?? '—'}</td>
              <td class="muted">${j.resource_requirements ?? '—'}</td>
              <td class="muted">${clock(j.started_ms)}</td>
              <td class="muted">${clock(j.completed_ms)}</td>
              <td class="num">${duration(j.duration_ms)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${page && page.items.length === 0 ? html`<div class="empty">No jobs match.</div>` : null}
    </div>
    <div class="pager">
      <span class="muted">${total ? `${num(from)}–${num(to)} of ${num(total)}` : ''}</span>
      <span class="grow"></span>
      <select value=${String(state.limit)} onChange=${(e: Event) => setState({ ...state, limit: Number((e.target as HTMLSelectElement).value), offset: 0 })} aria-label="Rows per page">
        ${[25, 50, 100, 250].map((n) => html`<option value=${n}>${n} / page</option>`)}
      </select>
      <button type="button" class="btn btn-sm" disabled=${state.offset === 0} onClick=${() => setState({ ...state, offset: 0 })}>First</button>
      <button type="button" class="btn btn-sm" disabled=${state.offset === 0} onClick=${() => setState({ ...state, offset: Math.max(0, state.offset - state.limit) })} data-page-prev>Previous</button>
      <button type="button" class="btn btn-sm" disabled=${!page?.has_more} onClick=${() => setState({ ...state, offset: state.offset + state.limit })} data-page-next>Next</button>
      <button type="button" class="btn btn-sm" disabled=${!page?.has_more} onClick=${() => setState({ ...state, offset: lastOffset })}>Last</button>
    </div>
  </div>`;
}
