/**
 * stdout / stderr of a job attempt. Opens on the file's last 64 KiB (older parts on request)
 * and, while the attempt runs, follows it: the server streams what is appended. Text is
 * shown as text (never parsed as HTML).
 */
import { html } from 'htm/preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { get, query, type StdioChunk } from '../api.js';
import { num } from '../format.js';
import { useStream } from '../live.js';

const CHUNK = 64 * 1024;
/** Most text kept in the page; the oldest part is dropped beyond it. */
const MAX_KEPT = 2 * 1024 * 1024;

type Stream = 'stdout' | 'stderr';

export function LogViewer({ jobId, attempts, currentAttempt, running, status }: { jobId: number; attempts: number[]; currentAttempt: number; running: boolean; status: string }) {
  const [stream, setStream] = useState<Stream>('stdout');
  const [attempt, setAttempt] = useState(currentAttempt);
  const [text, setText] = useState('');
  const [range, setRange] = useState<{ start: number; end: number } | null>(null);
  const [info, setInfo] = useState<{ available: boolean; reason: string | null; loading: boolean }>({ available: false, reason: null, loading: true });
  const [follow, setFollow] = useState(true);
  const [ended, setEnded] = useState(false);
  const [followFrom, setFollowFrom] = useState<number | null>(null);
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => setAttempt(currentAttempt), [currentAttempt]);

  useEffect(() => {
    let live = true;
    setInfo({ available: false, reason: null, loading: true });
    setText('');
    setRange(null);
    setEnded(false);
    setFollowFrom(null);
    get<StdioChunk>(`/jobs/${jobId}/stdio${query({ stream, attempt, tail: true, max_bytes: CHUNK })}`).then(
      (c) => {
        if (!live) return;
        setInfo({ available: c.available, reason: c.reason, loading: false });
        setText(c.text);
        setRange({ start: c.offset, end: c.next_offset });
        if (c.available && c.running) setFollowFrom(c.next_offset);
        else setEnded(true);
      },
      (e: Error) => live && setInfo({ available: false, reason: e.message, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [jobId, stream, attempt, status === 'running']);

  const following = follow && followFrom !== null && !ended && attempt === currentAttempt && running;
  useStream(following ? `/jobs/${jobId}/stdio/follow${query({ stream, attempt, offset: followFrom })}` : null, {
    data: (d: { offset: number; next_offset: number; text: string }) => {
      setRange((r) => {
        if (!r || d.offset !== r.end) return r; // not contiguous (a reconnect re-sends): keep ours
        setText((t) => {
          const next = t + d.text;
          return next.length > MAX_KEPT ? next.slice(next.length - MAX_KEPT) : next;
        });
        return { start: r.start, end: d.next_offset };
      });
    },
    end: () => setEnded(true),
  }, { indicator: false });

  useLayoutEffect(() => {
    const el = pre.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [text]);

  const loadEarlier = async () => {
    if (!range || range.start === 0) return;
    const from = Math.max(0, range.start - CHUNK);
    const c = await get<StdioChunk>(`/jobs/${jobId}/stdio${query({ stream, attempt, offset: from, max_bytes: range.start - from })}`);
    stick.current = false;
    setText((t) => c.text + t);
    setRange((r) => (r ? { start: c.offset, end: r.end } : r));
  };

  const lines = text ? text.split('\n').length - (text.endsWith('\n') ? 1 : 0) : 0;
  return html`<div class="log" data-log-stream=${stream}>
    <div class="log-tools">
      <div class="seg">
        ${(['stdout', 'stderr'] as Stream[]).map((s) => html`<button type="button" class=${stream === s ? 'on' : ''} onClick=${() => setStream(s)} data-log-tab=${s}>${s}</button>`)}
      </div>
      ${attempts.length > 1
        ? html`<select value=${String(attempt)} onChange=${(e: Event) => setAttempt(Number((e.target as HTMLSelectElement).value))} aria-label="Attempt">
            ${attempts.map((a) => html`<option value=${a}>attempt ${a}${a === currentAttempt ? ' (current)' : ''}</option>`)}
          </select>`
        : null}
      <span class="grow"></span>
      ${range ? html`<span class="muted">${num(lines)} lines · ${num(range.end)} bytes</span>` : null}
      ${running && attempt === currentAttempt
        ? html`<label class="toggle"><input type="checkbox" checked=${follow} onChange=${(e: Event) => setFollow((e.target as HTMLInputElement).checked)} data-log-follow /> Follow</label>`
        : null}
      ${following ? html`<span class="live-chip"><i class="pulse"></i>live</span>` : null}
    </div>
    ${range && range.start > 0 ? html`<button type="button" class="btn btn-sm btn-ghost log-earlier" onClick=${loadEarlier}>Load earlier output (${num(range.start)} bytes before)</button>` : null}
    ${info.loading
      ? html`<pre class="log-text muted">Loading…</pre>`
      : info.available
        ? html`<pre class="log-text" ref=${pre} data-log-text onScroll=${(e: Event) => {
            const el = e.target as HTMLPreElement;
            stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
          }}>${text || html`<span class="muted">(empty)</span>`}</pre>`
        : html`<div class="empty" data-log-unavailable>${info.reason ?? 'No output recorded.'}</div>`}
  </div>`;
}
