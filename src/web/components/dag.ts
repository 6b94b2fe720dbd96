/**
 * The workflow's DAG: groups of jobs (a parameter sweep is one node) laid out left to right
 * with dagre and drawn as SVG. Clicking a group expands it into its jobs (the server sends
 * them; at most 200, then a "more" node that opens the job table); clicking a job opens it.
 * Drag to pan, wheel to zoom. Layout runs only when the set of nodes or edges changes; live
 * count changes just repaint.
 */
import { Graph, layout } from '@dagrejs/dagre';
import { html } from 'htm/preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { DagData, DagNode, StatusName } from '../api.js';
import { num, pct, STATUS_LABEL, STATUS_ORDER } from '../format.js';
import { navigate } from '../router.js';

const SIZE = { group: { w: 224, h: 72 }, job: { w: 196, h: 38 }, more: { w: 212, h: 50 } } as const;

interface Placed {
  node: DagNode;
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Layout {
  width: number;
  height: number;
  nodes: Map<string, Placed>;
  edges: { from: string; to: string; count: number; d: string; mid: { x: number; y: number } }[];
}

function computeLayout(data: DagData): Layout {
  const g = new Graph({ multigraph: false });
  const dense = data.nodes.length > 80;
  g.setGraph({ rankdir: 'LR', nodesep: dense ? 14 : 24, ranksep: dense ? 56 : 72, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of data.nodes) {
    const s = SIZE[n.kind];
    g.setNode(n.key, { width: s.w, height: s.h });
  }
  for (const e of data.edges) if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to, {});
  layout(g);
  const nodes = new Map<string, Placed>();
  for (const n of data.nodes) {
    const p = g.node(n.key) as unknown as { x: number; y: number; width: number; height: number };
    nodes.set(n.key, { node: n, x: p.x - p.width / 2, y: p.y - p.height / 2, w: p.width, h: p.height });
  }
  const edges = data.edges
    .filter((e) => g.hasEdge(e.from, e.to))
    .map((e) => {
      const pts = (g.edge(e.from, e.to) as unknown as { points: { x: number; y: number }[] }).points;
      return { ...e, d: curve(pts), mid: pts[Math.floor(pts.length / 2)]! };
    });
  const gg = g.graph() as { width?: number; height?: number };
  return { width: Math.max(gg.width ?? 0, 200), height: Math.max(gg.height ?? 0, 120), nodes, edges };
}

/** A smooth path through dagre's edge points (quadratic segments through the midpoints). */
function curve(pts: { x: number; y: number }[]): string {
  if (pts.length < 2) return '';
  let d = `M${pts[0]!.x.toFixed(1)},${pts[0]!.y.toFixed(1)}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const p = pts[i]!;
    const q = pts[i + 1]!;
    d += ` Q${p.x.toFixed(1)},${p.y.toFixed(1)} ${((p.x + q.x) / 2).toFixed(1)},${((p.y + q.y) / 2).toFixed(1)}`;
  }
  const last = pts[pts.length - 1]!;
  return `${d} L${last.x.toFixed(1)},${last.y.toFixed(1)}`;
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function dominant(counts: Record<string, number> | null): StatusName {
  const c = counts ?? {};
  for (const s of ['failed', 'pending_failed', 'terminated', 'running', 'pending', 'ready'] as StatusName[]) if ((c[s] ?? 0) > 0) return s;
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  if (total > 0 && (c.completed ?? 0) === total) return 'completed';
  if ((c.canceled ?? 0) > 0 && (c.canceled ?? 0) + (c.completed ?? 0) === total) return 'canceled';
  return 'blocked';
}

function MiniBar({ counts, x, y, w }: { counts: Record<string, number>; x: number; y: number; w: number }) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  let at = x;
  return html`<g class="minibar">
    <rect x=${x} y=${y} width=${w} height="6" rx="3" class="minibar-bg" />
    ${total > 0
      ? STATUS_ORDER.filter((s) => (counts[s] ?? 0) > 0).map((s) => {
          const width = (w * counts[s]!) / total;
          const r = html`<rect x=${at} y=${y} width=${Math.max(width, 1.5)} height="6" class=${`fill-${s}`}><title>${STATUS_LABEL[s]}: ${num(counts[s]!)}</title></rect>`;
          at += width;
          return r;
        })
      : null}
  </g>`;
}

function GroupNode({ p, onToggle }: { p: Placed; onToggle: (g: number) => void }) {
  const n = p.node;
  const counts = n.counts ?? {};
  const done = (counts.completed ?? 0) + (counts.failed ?? 0) + (counts.canceled ?? 0) + (counts.terminated ?? 0) + (counts.disabled ?? 0);
  const state = dominant(n.counts);
  const running = counts.running ?? 0;
  const failed = (counts.failed ?? 0) + (counts.terminated ?? 0) + (counts.pending_failed ?? 0);
  return html`<g class=${`node node-group state-${state}`} transform=${`translate(${p.x},${p.y})`} data-node-key=${n.key} data-kind="group" data-group=${n.group}
      onClick=${() => onToggle(n.group)} role="button" tabindex="0" onKeyDown=${(e: KeyboardEvent) => (e.key === 'Enter' || e.key === ' ') && onToggle(n.group)}>
    <title>${n.label} — ${num(n.size)} job${n.size === 1 ? '' : 's'}${n.example && n.size > 1 ? ` (e.g. ${n.example})` : ''}. Click to ${n.size > 1 ? 'show its jobs' : 'show the job'}.</title>
    <rect class="node-box" width=${p.w} height=${p.h} rx="10" />
    <rect class=${`node-accent fill-${state}`} x="0" y="10" width="3" height=${p.h - 20} rx="1.5" />
    <text class="node-label" x="14" y="24">${cut(n.label, 22)}</text>
    <text class="node-sub" x="14" y="44">${num(n.size)} job${n.size === 1 ? '' : 's'}${running ? ` · ${num(running)} running` : ''}${failed ? ` · ${num(failed)} failed` : ''}</text>
    <text class="node-pct" x=${p.w - 12} y="24" text-anchor="end">${pct(done, n.size)}</text>
    <${MiniBar} counts=${counts} x=${14} y=${p.h - 17} w=${p.w - 28} />
  </g>`;
}

function JobNode({ p }: { p: Placed }) {
  const n = p.node;
  const status = n.status ?? 'uninitialized';
  return html`<g class=${`node node-job state-${status}`} transform=${`translate(${p.x},${p.y})`} data-node-key=${n.key} data-kind="job" data-job-id=${n.job_id} data-status=${status}
      onClick=${() => navigate(`/jobs/${n.job_id}`)} role="link" tabindex="0" onKeyDown=${(e: KeyboardEvent) => e.key === 'Enter' && navigate(`/jobs/${n.job_id}`)}>
    <title>${n.label} — ${STATUS_LABEL[status]}. Click to open.</title>
    <rect class="node-box" width=${p.w} height=${p.h} rx="19" />
    <circle class=${`fill-${status}`} cx="18" cy=${p.h / 2} r="5" />
    <text class="node-job-label" x="31" y=${p.h / 2 + 4}>${cut(n.label, 22)}</text>
  </g>`;
}

function MoreNode({ p, onMore }: { p: Placed; onMore: (n: DagNode) => void }) {
  const n = p.node;
  return html`<g class="node node-more" transform=${`translate(${p.x},${p.y})`} data-node-key=${n.key} data-kind="more" onClick=${() => onMore(n)} role="button" tabindex="0">
    <title>${num(n.size)} more jobs of ${n.label}: open them in the job table</title>
    <rect class="node-box" width=${p.w} height=${p.h} rx="10" />
    <text class="node-sub" x="14" y="21">+ ${num(n.size)} more</text>
    <${MiniBar} counts=${n.counts ?? {}} x=${14} y=${p.h - 16} w=${p.w - 28} />
  </g>`;
}

export function DagView({ data, onToggle, onMore, onCollapseAll }: { data: DagData; onToggle: (g: number) => void; onMore: (n: DagNode) => void; onCollapseAll: () => void }) {
  const shape = `${data.dag_key}|${data.nodes.map((n) => n.key).join(',')}|${data.edges.length}`;
  const lay = useMemo(() => computeLayout(data), [shape]);
  // Counts change without a new layout: draw the latest node data at the laid-out places.
  const current = new Map(data.nodes.map((n) => [n.key, n]));
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ x: 0, y: 0, k: 1 });
  const drag = useRef<{ x: number; y: number; vx: number; vy: number; moved: boolean } | null>(null);

  // The canvas is as tall as the graph needs at a readable scale (within limits).
  const widthNow = box.current?.clientWidth || 900;
  const canvasH = Math.round(Math.min(620, Math.max(260, lay.height * Math.min(1, widthNow / lay.width) + 32)));
  const fit = () => {
    const el = box.current;
    if (!el) return;
    const w = el.clientWidth || 800;
    const h = el.clientHeight || canvasH;
    const k = Math.min(1.2, Math.max(0.1, Math.min(w / lay.width, h / lay.height)));
    setView({ k, x: (w - lay.width * k) / 2, y: (h - lay.height * k) / 2 });
  };
  // First view: the whole graph when it stays readable, else readable size from its start
  // (drag to pan, Fit for everything).
  const initial = () => {
    const el = box.current;
    if (!el) return;
    const w = el.clientWidth || 800;
    const h = el.clientHeight || canvasH;
    const k = Math.min(w / lay.width, h / lay.height);
    if (k >= 0.42) return fit();
    const kk = 0.6;
    setView({ k: kk, x: 16, y: lay.height * kk < h ? (h - lay.height * kk) / 2 : 16 });
  };
  useLayoutEffect(initial, [lay]);
  // Until the user pans or zooms, the view follows the canvas's size (the page may still be settling).
  const touched = useRef(false);
  useEffect(() => {
    touched.current = false;
    const el = box.current;
    if (!el) return;
    let last = el.clientWidth;
    const ro = new ResizeObserver(() => {
      if (!touched.current && el.clientWidth !== last) {
        last = el.clientWidth;
        initial();
      }
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [lay]);
  useEffect(() => {
    performance.mark('dag-drawn');
    box.current?.setAttribute('data-dag-ready', shape);
  }, [lay]);

  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    touched.current = true;
    const rect = box.current!.getBoundingClientRect();
    const mx = e.clientX - rect.left;
    const my = e.clientY - rect.top;
    setView((v) => {
      const k = Math.min(3, Math.max(0.1, v.k * Math.exp(-e.deltaY * 0.0015)));
      return { k, x: mx - ((mx - v.x) * k) / v.k, y: my - ((my - v.y) * k) / v.k };
    });
  };
  const onDown = (e: PointerEvent) => {
    if (e.button !== 0) return;
    drag.current = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false };
  };
  const onMove = (e: PointerEvent) => {
    const d = drag.current;
    if (!d) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    d.moved = true;
    touched.current = true;
    setView((v) => ({ ...v, x: d.vx + dx, y: d.vy + dy }));
  };
  const onUp = () => {
    // A drag is not a click on the node under the pointer.
    const moved = drag.current?.moved;
    drag.current = null;
    if (moved) {
      const swallow = (ev: Event) => ev.stopPropagation();
      window.addEventListener('click', swallow, { capture: true, once: true });
      setTimeout(() => window.removeEventListener('click', swallow, { capture: true }), 0);
    }
  };
  const expandedCount = data.nodes.filter((n) => n.kind !== 'group').length > 0;

  return html`<div class="dag">
    <div class="dag-toolbar">
      <span class="muted">${num(data.total_jobs)} jobs · ${num(data.total_dependencies)} dependencies · ${num(data.group_count)} groups${data.grouping === 'level' ? ' (by DAG level)' : ''}</span>
      <span class="grow"></span>
      ${expandedCount ? html`<button type="button" class="btn btn-sm" onClick=${onCollapseAll}>Collapse all</button>` : null}
      <button type="button" class="btn btn-sm" onClick=${fit} title="Fit to view">Fit</button>
    </div>
    <div class="dag-canvas" style=${{ '--dag-h': `${canvasH}px` }} ref=${box} onWheel=${onWheel} onPointerDown=${onDown} onPointerMove=${onMove} onPointerUp=${onUp} onPointerLeave=${onUp}>
      <svg width="100%" height="100%" data-dag-nodes=${data.nodes.length}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
          </marker>
        </defs>
        <g transform=${`translate(${view.x},${view.y}) scale(${view.k})`}>
          ${lay.edges.map(
            (e) => html`<g class="edge" key=${`${e.from}>${e.to}`}>
              <path d=${e.d} marker-end="url(#arrow)" />
              ${e.count > 1
                ? html`<g class="edge-count" transform=${`translate(${e.mid.x},${e.mid.y})`}><rect x=${-(String(num(e.count)).length * 3.4 + 7)} y="-9" width=${String(num(e.count)).length * 6.8 + 14} height="18" rx="9" /><text text-anchor="middle" y="4">${num(e.count)}</text></g>`
                : null}
            </g>`,
          )}
          ${[...lay.nodes.values()].map((p0) => {
            const p = { ...p0, node: current.get(p0.node.key) ?? p0.node };
            if (p.node.kind === 'group') return html`<${GroupNode} key=${p.node.key} p=${p} onToggle=${onToggle} />`;
            if (p.node.kind === 'job') return html`<${JobNode} key=${p.node.key} p=${p} />`;
            return html`<${MoreNode} key=${p.node.key} p=${p} onMore=${onMore} />`;
          })}
        </g>
      </svg>
    </div>
  </div>`;
}
