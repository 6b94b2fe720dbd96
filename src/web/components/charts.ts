/**
 * Charts (uPlot, drawn on canvas; its CSS is bundled into the page's stylesheet).
 * - Throughput: finished attempts per time bucket, completed stacked under unsuccessful,
 *   from the workflow's results (real data the store has today).
 * - ResourceCharts (the workflow's Resources tab): each job's measured use — its latest result's
 *   peak and average memory and CPU (resource monitoring) — against what it asked for, the
 *   highest peaks first. Only what was measured: jobs without a summary are counted, not drawn.
 * - JobResources (a job's page): its attempt's CPU and memory over time from the stored
 *   time-series samples (granularity time_series), else the attempt's summary.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { get, query, type JobDetail, type ResourceSample, type ResourcesData, type ThroughputData } from '../api.js';
import { bytes, cpu, num, STATUS_COLOR } from '../format.js';
import { Link } from '../router.js';
import { Spinner, StatusPill } from './ui.js';

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

/** How a job's peak memory compares with what it asked for: a bar (full = its request), over in red. */
function MemoryMeter({ peak, avg, asked }: { peak: number | null; avg: number | null; asked: number | null }) {
  if (peak === null || !asked) return html`<span class="muted">—</span>`;
  const share = peak / asked;
  return html`<div class=${`meter ${share > 1 ? 'meter-over' : share < 0.5 ? 'meter-under' : ''}`} title=${`peak ${bytes(peak)}, average ${bytes(avg)}, asked ${bytes(asked)} (${Math.round(100 * share)}%)`}>
    <span class="meter-avg" style=${{ width: `${Math.min(100, (100 * (avg ?? 0)) / asked)}%` }}></span>
    <span class="meter-peak" style=${{ width: `${Math.min(100, 100 * share)}%` }}></span>
  </div>`;
}

/**
 * The workflow's measured resource use: how many jobs were measured, and the jobs with the
 * highest peak memory with their peak and average against their requirements. `refresh`
 * changes when jobs finish (a new fetch).
 */
export function ResourceCharts({ workflowId, monitorConfigured, refresh }: { workflowId: number; monitorConfigured: boolean; refresh: number }) {
  const [data, setData] = useState<ResourcesData | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    get<ResourcesData>(`/dashboard/workflows/${workflowId}/resources${query({ limit: 50 })}`).then(
      (d) => {
        setData(d);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  }, [workflowId, refresh]);
  if (error && !data) return html`<div class="empty" data-resource-charts="error">${error}</div>`;
  if (!data) return html`<div class="loading"><${Spinner} /></div>`;
  if (data.measured === 0) {
    return html`<div class="placeholder" data-resource-charts="empty">
      <div>
        <b>No job has been measured yet.</b>
        <p>${data.jobs_with_results === 0 ? 'No job has finished yet. ' : `None of the ${num(data.jobs_with_results)} jobs that finished carries a resource summary${monitorConfigured ? '' : ' (resource_monitor: enabled is the default; short jobs may end before a sample)'}. `}
        Runners record each job's peak and average CPU and memory with its result; <code>granularity: time_series</code> also keeps every sample.</p>
      </div>
    </div>`;
  }
  const over = data.jobs.filter((j) => j.peak_memory_bytes !== null && j.memory_bytes && j.peak_memory_bytes > j.memory_bytes).length;
  return html`<div data-resource-charts="ready" data-measured=${data.measured}>
    <p class="muted small">${num(data.measured)} of ${num(data.jobs_with_results)} jobs measured (each job's latest attempt)${data.jobs.length < data.measured ? `; the ${num(data.jobs.length)} with the highest peak memory` : ''}${over ? html` · <b class="bad">${num(over)} over their memory</b>` : null}.
      Bars: average (dark) and peak (light) memory against what the job asked for (full: all of it; red: over). <code>torc reports check-resource-utilization</code> and <code>torc plot-resources</code> cover every job.</p>
    <table class="table resources-table">
      <thead><tr><th>Job</th><th>Status</th><th class="meter-col">Memory used / asked</th><th class="num">Peak</th><th class="num">Average</th><th class="num">Asked</th><th class="num">Peak CPU</th><th class="num">Avg CPU</th><th class="num">CPUs</th><th>Diagnosis</th></tr></thead>
      <tbody>${data.jobs.map((j) => html`<tr data-usage-job=${j.job_id}>
        <td><${Link} href=${`/jobs/${j.job_id}`}>${j.name}</${Link}></td>
        <td><${StatusPill} status=${j.status} /></td>
        <td class="meter-col"><${MemoryMeter} peak=${j.peak_memory_bytes} avg=${j.avg_memory_bytes} asked=${j.memory_bytes} /></td>
        <td class="num" data-peak-memory=${j.peak_memory_bytes ?? ''}>${bytes(j.peak_memory_bytes)}</td>
        <td class="num">${bytes(j.avg_memory_bytes)}</td>
        <td class="num muted">${bytes(j.memory_bytes)}</td>
        <td class="num">${cpu(j.peak_cpu_percent)}</td>
        <td class="num">${cpu(j.avg_cpu_percent)}</td>
        <td class="num muted">${j.num_cpus ?? '—'}</td>
        <td>${j.failure_diagnosis ? html`<span class=${j.failure_diagnosis === 'unknown' ? 'muted' : 'bad'}>${j.failure_diagnosis}</span>` : ''}</td>
      </tr>`)}</tbody>
    </table>
  </div>`;
}

/** CPU (left axis, % of one core) and memory (right axis) of one attempt over time. */
function UsageChart({ samples, width }: { samples: ResourceSample[]; width: number }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current || samples.length === 0) return;
    const xs = samples.map((s) => s.timestamp);
    const plot = new uPlot(
      {
        width,
        height: 220,
        padding: [12, 8, 0, 0],
        legend: { show: true, live: true },
        cursor: { points: { show: true } },
        scales: { x: { time: true }, cpu: { range: (_u, _min, max) => [0, Math.max(100, max * 1.1)] }, mem: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [
          { stroke: '#667085', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e4e7ec' } },
          { scale: 'cpu', stroke: '#2563eb', grid: { stroke: '#eef0f3' }, ticks: { show: false }, size: 52, values: (_u, vals) => vals.map((v) => `${Math.round(v)}%`) },
          { scale: 'mem', side: 1, stroke: '#7c3aed', grid: { show: false }, ticks: { show: false }, size: 64, values: (_u, vals) => vals.map((v) => bytes(v)) },
        ],
        series: [
          { label: 'time' },
          { label: 'CPU', scale: 'cpu', stroke: '#2563eb', width: 2, points: { show: samples.length < 60 }, value: (_u, v) => cpu(v) },
          { label: 'memory', scale: 'mem', stroke: '#7c3aed', fill: '#7c3aed22', width: 2, points: { show: samples.length < 60 }, value: (_u, v) => bytes(v) },
        ],
      },
      [xs, samples.map((s) => s.cpu_percent), samples.map((s) => s.memory_bytes)],
      el.current,
    );
    return () => plot.destroy();
  }, [samples, width]);
  return html`<div class="chart" ref=${el} data-chart="job-usage"></div>`;
}

/**
 * A job's resource use: the attempt shown is the newest one with a measurement (else the
 * current one); its samples when they were kept, and its summary. `refresh` changes when the
 * job does (a new fetch).
 */
export function JobResources({ detail, width, refresh }: { detail: JobDetail; width: number; refresh: unknown }) {
  const j = detail.job;
  const measured = [...detail.attempts].reverse().find((a) => a.peak_memory_bytes !== null || a.peak_cpu_percent !== null);
  const attempt = measured ?? null;
  const run = attempt?.run_id ?? detail.workflow.run_id;
  const attemptId = attempt?.attempt_id ?? j.attempt_id;
  const [samples, setSamples] = useState<ResourceSample[] | null>(null);
  useEffect(() => {
    get<{ items: ResourceSample[] }>(`/workflows/${j.workflow_id}/job_resource_samples${query({ job_id: j.id, run_id: run, attempt_id: attemptId, limit: 1000 })}`).then(
      (page) => setSamples(page.items),
      () => setSamples([]),
    );
  }, [j.id, run, attemptId, refresh]);
  if (samples === null) return html`<div class="loading"><${Spinner} /></div>`;
  const state = samples.length > 0 ? 'chart' : attempt ? 'summary' : 'none';
  return html`<div data-job-resources=${state} data-samples=${samples.length} data-attempt=${attemptId}>
    ${attempt
      ? html`<dl class="kv kv-row">
          <div><dt>Attempt</dt><dd>${attempt.attempt_id} (run ${attempt.run_id})</dd></div>
          <div><dt>Peak memory</dt><dd data-job-peak-memory=${attempt.peak_memory_bytes ?? ''}>${bytes(attempt.peak_memory_bytes)}</dd></div>
          <div><dt>Average memory</dt><dd>${bytes(attempt.avg_memory_bytes)}</dd></div>
          <div><dt>Peak CPU</dt><dd>${cpu(attempt.peak_cpu_percent)}</dd></div>
          <div><dt>Average CPU</dt><dd>${cpu(attempt.avg_cpu_percent)}</dd></div>
          ${attempt.failure_diagnosis ? html`<div><dt>Diagnosis</dt><dd data-job-diagnosis=${attempt.failure_diagnosis}>${attempt.failure_diagnosis}${attempt.diagnosis_reason ? html` <span class="muted">(${attempt.diagnosis_reason.replace(/_/g, ' ')})</span>` : null}</dd></div>` : null}
        </dl>`
      : null}
    ${samples.length > 0
      ? html`<${UsageChart} samples=${samples} width=${width} />`
      : html`<p class="muted small">${attempt
          ? 'No samples over time were kept for this attempt (the workflow\'s resource_monitor granularity is summary; time_series keeps them).'
          : 'Not measured yet: the summary comes with the attempt\'s result.'}</p>`}
  </div>`;
}
