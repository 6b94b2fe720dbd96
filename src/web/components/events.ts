/**
 * The workflow's activity, newest first: its events (new ones arrive on the stream; older ones
 * are read from torc's GET /events through the adapter — epoch ms, torc's shape; an ISO
 * string from an older server is read too) and the attempts that did not complete (from its results).
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { get, normalizeEvent, query, type EventItem, type Failure } from '../api.js';
import { clock, eventSummary, fullTime, STATUS_LABEL } from '../format.js';
import { Link } from '../router.js';

const KIND: [RegExp, string][] = [
  [/fail|error|terminat|lost|expired/i, 'bad'],
  [/cancel/i, 'warn'],
  [/complete|finish|success/i, 'good'],
  [/start|claim|run|ready|schedul/i, 'info'],
];

function kindOf(category: string): string {
  return KIND.find(([re]) => re.test(category))?.[1] ?? 'neutral';
}

function jobIdOf(data: unknown): number | null {
  const id = (data as { job_id?: unknown } | null)?.job_id;
  return typeof id === 'number' ? id : null;
}

export function EventsFeed({ workflowId, events, failures, onOlder }: { workflowId: number; events: EventItem[]; failures: Failure[]; onOlder: (older: EventItem[]) => void }) {
  const [loading, setLoading] = useState(false);
  const [exhausted, setExhausted] = useState(false);
  const oldest = events.length ? Math.min(...events.map((e) => e.id)) : null;
  const loadOlder = async () => {
    if (oldest === null) return;
    setLoading(true);
    try {
      // GET /events pages in id order: find how many come before the oldest shown, take the 50 before it.
      const head = await get<{ total_count: number }>(`/events${query({ workflow_id: workflowId, limit: 0 })}`);
      const after = await get<{ total_count: number }>(`/events${query({ workflow_id: workflowId, after_id: oldest - 1, limit: 0 })}`);
      const before = head.total_count - after.total_count;
      if (before <= 0) {
        setExhausted(true);
        return;
      }
      const page = await get<{ items: Record<string, unknown>[] }>(`/events${query({ workflow_id: workflowId, offset: Math.max(0, before - 50), limit: Math.min(50, before) })}`);
      onOlder(page.items.map(normalizeEvent));
      if (before <= 50) setExhausted(true);
    } finally {
      setLoading(false);
    }
  };
  type Item = { key: string; time: number; event?: EventItem; failure?: Failure };
  const items: Item[] = [
    ...events.map((e) => ({ key: `e${e.id}`, time: e.timestamp_ms ?? 0, event: e })),
    ...failures.map((f) => ({ key: `r${f.result_id}`, time: f.completion_ms ?? 0, failure: f })),
  ].sort((a, b) => b.time - a.time || b.key.localeCompare(a.key));
  return html`<div class="events" data-events=${events.length} data-failures=${failures.length}>
    ${items.length === 0 ? html`<div class="empty">No events yet. Cancellations, resets, actions and failed jobs show up here.</div>` : null}
    <ol>
      ${items.map(({ key, event: e, failure: f }) => {
        if (f) {
          return html`<li key=${key} class="event ev-bad" data-failure=${f.job_id}>
            <time title=${fullTime(f.completion_ms)}>${clock(f.completion_ms)}</time>
            <div class="event-body">
              <span class="event-cat">${STATUS_LABEL[f.status].toLowerCase()}</span> <${Link} class="event-job" href=${`/jobs/${f.job_id}`}>${f.name}</${Link}>
              <div class="event-data">exit code ${f.return_code} · attempt ${f.attempt_id}</div>
            </div>
          </li>`;
        }
        const job = jobIdOf(e!.data);
        return html`<li key=${key} class=${`event ev-${kindOf(e!.category)}`} data-event-id=${e!.id}>
          <time title=${fullTime(e!.timestamp_ms)}>${clock(e!.timestamp_ms)}</time>
          <div class="event-body">
            <span class="event-cat">${e!.category.replace(/_/g, ' ')}</span>
            ${job !== null ? html` <${Link} class="event-job" href=${`/jobs/${job}`}>job ${job}</${Link}>` : null}
            <div class="event-data">${eventSummary(e!.data)}</div>
          </div>
        </li>`;
      })}
    </ol>
    ${oldest !== null && !exhausted && events.length >= 20
      ? html`<button type="button" class="btn btn-sm btn-ghost load-older" disabled=${loading} onClick=${loadOlder}>${loading ? 'Loading…' : 'Load older events'}</button>`
      : null}
  </div>`;
}
