/**
 * `torc plot-resources`: self-contained HTML files of a workflow's resource use, torc's file
 * names: resource_plot_job_<id>.html (one job's CPU, memory and process count over time),
 * resource_plot_cpu_all_jobs.html and resource_plot_memory_all_jobs.html (all jobs over the
 * workflow's time), resource_plot_summary.html (peak against average per job).
 *
 * Each file inlines the charting library (uPlot, from the installed package: no CDN, no network)
 * and its data, so it opens anywhere, offline, and can be mailed around. The overview charts
 * draw at most OVERVIEW_SERIES jobs (those with the highest peaks) to stay readable and fast.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ResultModel } from '../../api/client.js';
import type { JobRecord } from '../../contract/client.js';
import type { ResourceSample } from '../../contract/resources.js';
import { latestResults } from '../reports/data.js';

export const OVERVIEW_SERIES = 50;

export interface PlotInput {
  workflow: { id: number; name: string };
  jobs: JobRecord[];
  results: ResultModel[];
  samples: ResourceSample[];
  /** Only these jobs (torc's --job-ids). */
  jobIds?: number[];
}

export interface PlotOutput {
  dir: string;
  files: string[];
}

interface Series {
  label: string;
  /** [seconds since the epoch, value][] */
  points: [number, number][];
}

interface Chart {
  title: string;
  unit: string;
  kind: 'time' | 'bars';
  series: Series[];
  /** Bar charts: the category names along x. */
  categories?: string[];
}

let assets: { js: string; css: string } | undefined;

function uplotAssets(): { js: string; css: string } {
  if (assets) return assets;
  const require = createRequire(import.meta.url);
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  assets = { js, css };
  return assets;
}

/** Writes the plot files into `dir`; returns their paths. Jobs without samples get no timeline of their own. */
export function writeResourcePlots(input: PlotInput, dir: string): PlotOutput {
  mkdirSync(dir, { recursive: true });
  const wanted = input.jobIds && input.jobIds.length > 0 ? new Set(input.jobIds) : null;
  const jobs = input.jobs.filter((j) => !wanted || wanted.has(j.id));
  const names = new Map(jobs.map((j) => [j.id, j.name]));
  const samples = input.samples.filter((s) => names.has(s.job_id));
  const files: string[] = [];
  const write = (name: string, title: string, charts: Chart[]) => {
    const file = path.join(dir, name);
    writeFileSync(file, page(`${title} — ${input.workflow.name} (workflow ${input.workflow.id})`, charts));
    files.push(file);
  };

  // Per job: its attempts, each a series, over the time since the attempt started.
  const byJob = groupBy(samples, (s) => s.job_id);
  for (const [jobId, list] of byJob) {
    const attempts = groupBy(list, (s) => `${s.run_id}/${s.attempt_id}`);
    const series = (value: (s: ResourceSample) => number) =>
      [...attempts.entries()].map(([key, pts]) => {
        const [run, attempt] = key.split('/');
        return { label: `run ${run}, attempt ${attempt}`, points: pts.map((s): [number, number] => [s.timestamp, value(s)]) };
      });
    write(`resource_plot_job_${jobId}.html`, `Job ${names.get(jobId)} (id ${jobId})`, [
      { title: 'CPU', unit: '%', kind: 'time', series: series((s) => s.cpu_percent) },
      { title: 'Memory', unit: 'MB', kind: 'time', series: series((s) => s.memory_bytes / 2 ** 20) },
      { title: 'Processes', unit: '', kind: 'time', series: series((s) => s.num_processes) },
    ]);
  }

  // All jobs over the workflow's time: the latest attempt of each, the highest peaks first.
  const latestAttempt = [...byJob.entries()].map(([jobId, list]) => {
    const last = list.reduce((a, s) => (s.run_id > a.run_id || (s.run_id === a.run_id && s.attempt_id > a.attempt_id) ? s : a));
    return { jobId, list: list.filter((s) => s.run_id === last.run_id && s.attempt_id === last.attempt_id) };
  });
  const overview = (value: (s: ResourceSample) => number) =>
    latestAttempt
      .map(({ jobId, list }) => ({ label: `${names.get(jobId)} (${jobId})`, points: list.map((s): [number, number] => [s.timestamp, value(s)]), peak: Math.max(...list.map(value)) }))
      .sort((a, b) => b.peak - a.peak)
      .slice(0, OVERVIEW_SERIES)
      .map(({ label, points }) => ({ label, points }));
  write('resource_plot_cpu_all_jobs.html', 'CPU of all jobs', [{ title: 'CPU', unit: '%', kind: 'time', series: overview((s) => s.cpu_percent) }]);
  write('resource_plot_memory_all_jobs.html', 'Memory of all jobs', [{ title: 'Memory', unit: 'MB', kind: 'time', series: overview((s) => s.memory_bytes / 2 ** 20) }]);

  // Peak against average per job, from the results' summaries (summary granularity is enough).
  const measured = latestResults(input.results).filter((r) => names.has(r.job_id) && (r.peak_memory_bytes != null || r.peak_cpu_percent != null));
  const categories = measured.map((r) => `${names.get(r.job_id)} (${r.job_id})`);
  const bars = (label: string, value: (r: ResultModel) => number | null): Series => ({ label, points: measured.map((r, i) => [i, value(r) ?? 0]) });
  write('resource_plot_summary.html', 'Peak and average use per job', [
    {
      title: 'CPU',
      unit: '%',
      kind: 'bars',
      categories,
      series: [bars('peak', (r) => r.peak_cpu_percent), bars('average', (r) => r.avg_cpu_percent)],
    },
    {
      title: 'Memory',
      unit: 'MB',
      kind: 'bars',
      categories,
      series: [bars('peak', (r) => (r.peak_memory_bytes == null ? null : r.peak_memory_bytes / 2 ** 20)), bars('average', (r) => (r.avg_memory_bytes == null ? null : r.avg_memory_bytes / 2 ** 20))],
    },
  ]);
  return { dir, files };
}

function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const it of items) {
    const k = key(it);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(it);
  }
  return out;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON or code inside a <script> element: nothing in it may close the element. */
const scriptSafe = (s: string) => s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

/** Draws the charts: time charts join their series on one time axis; bar charts draw peak wide and average narrow over it. */
const RENDER = `
(function () {
  var charts = JSON.parse(document.getElementById('torc-plot-data').textContent);
  var palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea', '#475569'];
  var width = function () { return Math.max(480, Math.min(1400, document.documentElement.clientWidth - 48)); };
  var plots = [];
  // Amounts start at zero: a flat 80 MB line must not look like a climb.
  var fromZero = function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; };
  charts.forEach(function (chart, ci) {
    var box = document.createElement('section');
    var h = document.createElement('h2');
    h.textContent = chart.title + (chart.unit ? ' (' + chart.unit + ')' : '');
    box.appendChild(h);
    document.getElementById('charts').appendChild(box);
    if (chart.series.length === 0 || chart.series.every(function (s) { return s.points.length === 0; })) {
      var p = document.createElement('p');
      p.className = 'empty';
      p.textContent = 'No samples to draw (set resource_monitor granularity: time_series).';
      box.appendChild(p);
      return;
    }
    var opts, data;
    if (chart.kind === 'bars') {
      var xs = chart.categories.map(function (_, i) { return i; });
      data = [xs].concat(chart.series.map(function (s) { return s.points.map(function (p) { return p[1]; }); }));
      var bars = function (size, most) { return uPlot.paths.bars({ size: [size, most], align: 0 }); };
      opts = {
        width: width(), height: 320, scales: { x: { time: false, range: [-0.5, xs.length - 0.5] }, y: { range: fromZero } },
        axes: [{ values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? (chart.categories[v] || '') : ''; }); }, rotate: -30, size: 90 }, { label: chart.unit }],
        series: [{ label: 'job' }].concat(chart.series.map(function (s, i) {
          // Peak wide and pale, average narrow and solid in front of it.
          return { label: s.label, stroke: palette[i], fill: palette[i] + (i === 0 ? '55' : 'cc'), paths: i === 0 ? bars(0.7, 160) : bars(0.35, 80), points: { show: false } };
        })),
      };
    } else {
      var tables = chart.series.map(function (s) {
        return [s.points.map(function (p) { return p[0]; }), s.points.map(function (p) { return p[1]; })];
      });
      data = uPlot.join(tables);
      opts = {
        width: width(), height: 300, scales: { x: { time: true }, y: { range: fromZero } },
        axes: [{}, { label: chart.unit }],
        series: [{}].concat(chart.series.map(function (s, i) {
          return { label: s.label, stroke: palette[i % palette.length], width: 1.5, spanGaps: true, points: { show: false } };
        })),
      };
    }
    plots.push(new uPlot(opts, data, box));
  });
  window.addEventListener('resize', function () { plots.forEach(function (p) { p.setSize({ width: width(), height: p.height }); }); });
  document.body.setAttribute('data-charts', String(plots.length));
})();
`;

function page(title: string, charts: Chart[]): string {
  const { js, css } = uplotAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}
body { font: 14px/1.4 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px; color: #0f172a; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 24px 0 8px; color: #334155; }
.note { color: #64748b; margin: 0 0 8px; } .empty { color: #64748b; font-style: italic; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="note">Resource use measured by torc-ts. CPU is percent of one core (200% = two cores busy).</p>
<div id="charts"></div>
<script id="torc-plot-data" type="application/json">${scriptSafe(JSON.stringify(charts))}</script>
<script>${scriptSafe(js)}</script>
<script>${scriptSafe(RENDER)}</script>
</body>
</html>
`;
}
