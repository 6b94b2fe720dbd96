/** Small shared pieces: status pills, phase badges, stacked progress bars, dialogs, toasts. */
import { html } from 'htm/preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { StatusName } from '../api.js';
import { num, pct, STATUS_LABEL, STATUS_ORDER } from '../format.js';

export function StatusPill({ status }: { status: StatusName }) {
  return html`<span class=${`pill s-${status}`} data-status=${status}><i></i>${STATUS_LABEL[status] ?? status}</span>`;
}

export function StatusDot({ status }: { status: StatusName }) {
  return html`<i class=${`dot s-${status}`} title=${STATUS_LABEL[status]}></i>`;
}

export function PhaseBadge({ phase }: { phase: string }) {
  return html`<span class=${`phase phase-${phase.toLowerCase()}`} data-phase=${phase}>${phase === 'Running' ? html`<i class="pulse"></i>` : null}${phase}</span>`;
}

/** A bar split by status, in STATUS_ORDER; each part's width is its share of the total. */
export function ProgressBar({ counts, total, size = 'md' }: { counts: Record<string, number>; total: number; size?: 'sm' | 'md' | 'lg' }) {
  return html`<div class=${`bar bar-${size}`} role="img" aria-label=${STATUS_ORDER.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(', ') || 'no jobs'}>
    ${total > 0
      ? STATUS_ORDER.filter((s) => (counts[s] ?? 0) > 0).map(
          (s) => html`<span class=${`s-${s}`} style=${{ width: `${(100 * counts[s]!) / total}%` }} title=${`${STATUS_LABEL[s]}: ${num(counts[s]!)} (${pct(counts[s]!, total)})`}></span>`,
        )
      : null}
  </div>`;
}

/** Status counts as a legend (only the statuses present, or all with `all`). */
export function Legend({ counts, onPick, active, all = false }: { counts: Record<string, number>; onPick?: (s: StatusName) => void; active?: StatusName | null; all?: boolean }) {
  const shown = STATUS_ORDER.filter((s) => all || (counts[s] ?? 0) > 0);
  return html`<div class="legend">
    ${shown.map(
      (s) => html`<button type="button" class=${`legend-item ${active === s ? 'active' : ''}`} disabled=${!onPick} onClick=${() => onPick?.(s)} data-legend=${s}>
        <i class=${`dot s-${s}`}></i><span class="legend-label">${STATUS_LABEL[s]}</span><b>${num(counts[s] ?? 0)}</b>
      </button>`,
    )}
  </div>`;
}

export function Card({ title, actions, children, class: cls = '', id }: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; class?: string; id?: string }) {
  return html`<section class=${`card ${cls}`} id=${id}>
    ${title || actions ? html`<header class="card-head"><h2>${title}</h2><div class="card-actions">${actions}</div></header>` : null}
    ${children}
  </section>`;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return html`<div class="empty">${children}</div>`;
}

export function Spinner() {
  return html`<span class="spinner" aria-label="loading"></span>`;
}

// ---- dialogs -----------------------------------------------------------------------------

interface DialogState {
  title: string;
  body: ComponentChildren;
  confirm: string;
  danger?: boolean;
  resolve: (ok: boolean) => void;
}

let openDialog: ((d: DialogState | null) => void) | undefined;

/** Asks the user to confirm (a modal in the page, not window.confirm). */
export function confirmAction(title: string, body: ComponentChildren, confirm: string, danger = false): Promise<boolean> {
  return new Promise((resolve) => {
    if (!openDialog) return resolve(false);
    openDialog({ title, body, confirm, danger, resolve });
  });
}

export function DialogHost() {
  const [dialog, setDialog] = useState<DialogState | null>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    openDialog = setDialog;
    return () => (openDialog = undefined);
  }, []);
  useEffect(() => confirmRef.current?.focus(), [dialog]);
  if (!dialog) return null;
  const close = (ok: boolean) => {
    setDialog(null);
    dialog.resolve(ok);
  };
  return html`<div class="overlay" onClick=${(e: MouseEvent) => e.target === e.currentTarget && close(false)} onKeyDown=${(e: KeyboardEvent) => e.key === 'Escape' && close(false)}>
    <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title">
      <h3 id="dialog-title">${dialog.title}</h3>
      <div class="dialog-body">${dialog.body}</div>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick=${() => close(false)}>Cancel</button>
        <button type="button" ref=${confirmRef} class=${`btn ${dialog.danger ? 'btn-danger' : 'btn-primary'}`} data-confirm onClick=${() => close(true)}>${dialog.confirm}</button>
      </div>
    </div>
  </div>`;
}

// ---- toasts ------------------------------------------------------------------------------

interface Toast {
  id: number;
  kind: 'ok' | 'error';
  text: string;
}

let pushToast: ((t: Toast) => void) | undefined;
let toastId = 0;

export function toast(kind: Toast['kind'], text: string): void {
  pushToast?.({ id: ++toastId, kind, text });
}

export function ToastHost() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  useEffect(() => {
    pushToast = (t) => {
      setToasts((list) => [...list.slice(-3), t]);
      setTimeout(() => setToasts((list) => list.filter((x) => x.id !== t.id)), t.kind === 'error' ? 8000 : 4000);
    };
    return () => (pushToast = undefined);
  }, []);
  return html`<div class="toasts" aria-live="polite">
    ${toasts.map((t) => html`<div key=${t.id} class=${`toast toast-${t.kind}`} role=${t.kind === 'error' ? 'alert' : 'status'}>${t.text}</div>`)}
  </div>`;
}

/** The element's width in CSS pixels, kept current as it resizes (charts are drawn to it). */
export function useWidth(ref: { current: HTMLElement | null }): number {
  const [w, setW] = useState(900);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setW(Math.floor(el.clientWidth)));
    ro.observe(el);
    setW(Math.floor(el.clientWidth));
    return () => ro.disconnect();
  }, [ref.current]);
  return w;
}
