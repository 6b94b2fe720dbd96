/** Numbers, times and status presentation shared by every page. */
import type { StatusName } from './api.js';

/** Order of statuses in progress bars and legends: done first, then what runs, then what waits. */
export const STATUS_ORDER: StatusName[] = [
  'completed', 'failed', 'terminated', 'pending_failed', 'canceled', 'disabled', 'running', 'pending', 'ready', 'blocked', 'uninitialized',
];

export const STATUS_LABEL: Record<StatusName, string> = {
  uninitialized: 'Uninitialized',
  blocked: 'Blocked',
  ready: 'Ready',
  pending: 'Pending',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  terminated: 'Terminated',
  disabled: 'Disabled',
  pending_failed: 'Pending failed',
};

/** Colours (kept in step with app.css's --s-* variables, which the DOM uses). */
export const STATUS_COLOR: Record<StatusName, string> = {
  uninitialized: '#cbd2dc',
  blocked: '#98a2b3',
  ready: '#8b5cf6',
  pending: '#22b8cf',
  running: '#2f80ed',
  completed: '#16a34a',
  failed: '#e5484d',
  canceled: '#6b7280',
  terminated: '#f59e0b',
  disabled: '#d6dae1',
  pending_failed: '#db2777',
};

export const FINISHED: StatusName[] = ['completed', 'failed', 'canceled', 'terminated', 'disabled'];

const nf = new Intl.NumberFormat('en-US');
export const num = (n: number) => nf.format(n);

export function pct(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const p = (100 * part) / whole;
  return p > 0 && p < 1 ? '<1%' : p < 100 && p > 99 ? '>99%' : `${Math.round(p)}%`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return '—';
  const d = now - ms;
  if (d < 5000) return 'just now';
  if (d < 60_000) return `${Math.round(d / 1000)} s ago`;
  if (d < 3_600_000) return `${Math.round(d / 60_000)} min ago`;
  if (d < 86_400_000) return `${Math.round(d / 3_600_000)} h ago`;
  return new Date(ms).toLocaleDateString();
}

export function clock(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const sameDay = new Date().toDateString() === d.toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return sameDay ? time : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

export function fullTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** One line of an event's data for the feed: `key: value · key: value`, long values cut. */
export function eventSummary(data: unknown): string {
  if (data === null || data === undefined) return '';
  if (typeof data !== 'object') return String(data).slice(0, 300);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    const text = Array.isArray(v) ? (v.length > 6 ? `${v.length} items` : v.join(', ')) : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
    parts.push(`${k.replace(/_/g, ' ')}: ${text.length > 80 ? `${text.slice(0, 79)}…` : text}`);
    if (parts.length >= 6) break;
  }
  return parts.join(' · ');
}

/** Bytes as people read them (1024-based): "312 MiB", "1.4 GiB"; "—" for null. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** A CPU percentage of one core: "98%", "—" for null. */
export function cpu(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : `${n >= 10 ? Math.round(n) : n.toFixed(1)}%`;
}
