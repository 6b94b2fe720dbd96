/**
 * Gantt chart of job attempts per compute node: one band per node, bars stacked into lanes so
 * that jobs running at the same time on one node do not overlap. Running jobs reach "now".
 * SVG: each bar is an element with its job in a tooltip; click opens the job.
 */
import { html } from 'htm/preact';
import { useMemo } from 'preact/hooks';
import type { TimelineData } from '../api.js';
import { clock, duration, num, STATUS_LABEL } from '../format.js';
import { navigate } from '../router.js';

const LANE = 16;
const LANE_GAP = 3;
const BAND_PAD = 10;
const LABEL_W = 190;
const MAX_LANES = 48;

function niceStep(spanMs: number, target: number): number {
  const raw = spanMs / target;
  const steps = [1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 144e5, 216e5, 432e5, 864e5];
  return steps.find((s) => s >= raw) ?? 864e5 * Math.ceil(raw / 864e5);
}

export function Timeline({ data, width }: { data: TimelineData; width: number }) {
  const model = useMemo(() => {
    const now = data.now_ms;
    const byNode = new Map<number | null, TimelineData['bars']>();
    for (const b of data.bars) {
      const list = byNode.get(b.compute_node_id) ?? [];
      list.push(b);
      byNode.set(b.compute_node_id, list);
    }
    const nodeInfo = new Map(data.nodes.map((n) => [n.id, n]));
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const b of data.bars) {
      t0 = Math.min(t0, b.start_ms);
      t1 = Math.max(t1, b.end_ms ?? now);
    }
    if (!Number.isFinite(t0)) return null;
    if (t1 - t0 < 2000) t1 = t0 + 2000;
    const bands = [...byNode.entries()]
      .sort((a, b) => (a[0] ?? Infinity) - (b[0] ?? Infinity))
      .map(([nodeId, bars]) => {
        bars.sort((a, b) => a.start_ms - b.start_ms);
        const laneEnds: number[] = [];
        const placed = bars.map((b) => {
          const end = b.end_ms ?? now;
          let lane = laneEnds.findIndex((e) => e <= b.start_ms);
          if (lane < 0) {
            if (laneEnds.length < MAX_LANES) lane = laneEnds.push(end) - 1;
            else lane = MAX_LANES - 1; // crowded: overlap in the last lane
          }
          laneEnds[lane] = Math.max(laneEnds[lane] ?? 0, end);
          return { ...b, lane, end };
        });
        const info = nodeId === null ? undefined : nodeInfo.get(nodeId);
        return { nodeId, info, placed, lanes: Math.max(1, laneEnds.length) };
      });
    return { t0, t1, bands };
  }, [data]);

  if (!model) return html`<div class="empty">No job has started yet. Bars appear here as jobs run, one row per compute node.</div>`;
  const plotW = Math.max(200, width - LABEL_W - 16);
  const x = (t: number) => LABEL_W + ((t - model.t0) / (model.t1 - model.t0)) * plotW;
  let y = 28;
  const bandY = model.bands.map((b) => {
    const top = y;
    y += b.lanes * (LANE + LANE_GAP) + BAND_PAD * 2;
    return top;
  });
  const height = y + 4;
  const step = niceStep(model.t1 - model.t0, Math.max(3, Math.floor(plotW / 110)));
  const ticks: number[] = [];
  for (let t = Math.ceil(model.t0 / step) * step; t <= model.t1; t += step) ticks.push(t);
  return html`<svg class="timeline" width=${width} height=${height} data-bars=${data.bars.length}>
    ${ticks.map((t) => html`<g class="tick"><line x1=${x(t)} x2=${x(t)} y1="20" y2=${height} /><text x=${x(t)} y="13" text-anchor="middle">${clock(t)}</text></g>`)}
    ${model.bands.map((band, i) => {
      const top = bandY[i]!;
      const h = band.lanes * (LANE + LANE_GAP) + BAND_PAD * 2;
      const label = band.info ? band.info.hostname : 'unknown node';
      return html`<g class="band" data-node=${band.nodeId ?? ''}>
        <rect class=${`band-bg ${i % 2 ? 'odd' : ''}`} x="0" y=${top} width=${width} height=${h} />
        <text class="band-label" x="12" y=${top + 22}>${label.length > 24 ? `${label.slice(0, 23)}…` : label}</text>
        <text class="band-sub" x="12" y=${top + 38}>${band.info ? `node ${band.info.id} · ${band.info.compute_node_type}${band.info.is_active ? '' : ' · ended'}` : ''} · ${num(band.placed.length)} bars</text>
        ${band.placed.map((b) => {
          const bx = x(b.start_ms);
          const bw = Math.max(2, x(b.end) - bx);
          return html`<rect class=${`gantt-bar fill-${b.status} ${b.end_ms === null ? 'is-running' : ''}`} x=${bx} y=${top + BAND_PAD + b.lane * (LANE + LANE_GAP)} width=${bw} height=${LANE} rx="3"
              data-job-id=${b.job_id} onClick=${() => navigate(`/jobs/${b.job_id}`)}>
            <title>${b.name} (attempt ${b.attempt}) — ${STATUS_LABEL[b.status]}${b.return_code !== null ? `, exit ${b.return_code}` : ''}\n${clock(b.start_ms)} → ${b.end_ms === null ? 'running' : clock(b.end_ms)} (${duration(b.end - b.start_ms)})</title>
          </rect>`;
        })}
      </g>`;
    })}
  </svg>`;
}
