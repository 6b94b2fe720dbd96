/**
 * Charts (uPlot, drawn on canvas; its CSS is bundled into the page's stylesheet).
 * - Throughput: finished attempts per time bucket, completed stacked under unsuccessful,
 *   from the workflow's results (real data the store has today).
 * - ResourceCharts: the place where resource-usage charts plug in once the store records
 *   resource samples (resource monitoring). Until then it says so; it never draws made-up data.
 */
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { ThroughputData } from '../api.js';
import { num, STATUS_COLOR } from '../format.js';

export function Throughput({ data, width }: { data: ThroughputData; width: number }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current || data.series.length === 0) return;
    const n = Math.max(...data.series.map((s) => s.counts.length));
    const xs = Array.from({ length: n }, (_, i) => (data.start_ms + i * data.bucket_ms) / 1000);
    const sum = (names: string[]) => Array.from({ length: n }, (_, i) => data.series.filter((s) => names.includes(s.status)).reduce((a, s) => a + (s.counts[i] ?? 0), 0));
    const ok = sum(['completed']);
    const bad = sum(['failed', 'terminated', 'canceled', 'pending_failed']);
    const total = ok.map((v, i) => v + bad[i]!);
    const perMin = 60_000 / data.bucket_ms;
    const bars = uPlot.paths.bars!({ size: [0.86, 40], gap: 1 });
    const plot = new uPlot(
      {
        width,
        height: 180,
        padding: [12, 8, 0, 0],
        legend: { show: true, live: true },
        cursor: { y: false, points: { show: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.08)] } },
        axes: [
          { stroke: '#667085', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e4e7ec' } },
          { stroke: '#667085', grid: { stroke: '#eef0f3' }, ticks: { show: false }, size: 44, values: (_u, vals) => vals.map((v) => num(Math.round(v))) },
        ],
        series: [
          { label: 'time' },
          { label: 'unsuccessful', stroke: STATUS_COLOR.failed, fill: `${STATUS_COLOR.failed}cc`, paths: bars, points: { show: false }, value: (_u, v, i) => (v == null ? '—' : num(bad[i] ?? 0)) },
          { label: 'completed', stroke: STATUS_COLOR.completed, fill: `${STATUS_COLOR.completed}cc`, paths: bars, points: { show: false }, value: (_u, v) => (v == null ? '—' : num(v)) },
        ],
      },
      [xs, total, ok],
      el.current,
    );
    el.current.dataset.perMinute = String(perMin);
    return () => plot.destroy();
  }, [data, width]);
  if (data.series.length === 0) return html`<div class="empty">No job has finished yet.</div>`;
  return html`<div class="chart" ref=${el} data-chart="throughput"></div>`;
}

/**
 * Resource usage (CPU, memory, GPU per job and per node). The store keeps no resource samples
 * yet; when resource monitoring records them, this component fetches and draws them.
 */
export function ResourceCharts({ monitorConfigured }: { monitorConfigured: boolean }) {
  return html`<div class="placeholder" data-resource-charts="unavailable">
    <svg viewBox="0 0 48 48" width="40" height="40" aria-hidden="true"><path d="M6 38h36M10 32l8-9 7 6 12-15" fill="none" stroke="currentColor" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>
    <div>
      <b>Resource charts are not available on this server yet.</b>
      <p>CPU, memory and GPU use per job and per compute node will be shown here once the server records resource samples.
      ${monitorConfigured ? ' This workflow declares a resource_monitor; its samples are not collected by this version.' : ''}</p>
    </div>
  </div>`;
}
