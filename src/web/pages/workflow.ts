/**
 * One workflow: progress, conditions and actions in the header; tabs for the grouped DAG with
 * the live events feed and a throughput chart, the job table, the timeline and resources.
 * The workflow's event stream drives every refresh.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { change, get, normalizeEvent, query, type DagData, type DagNode, type EventItem, type ThroughputData, type TimelineData, type WorkflowDetail } from '../api.js';
import { ago, clock, duration, num, pct } from '../format.js';
import { useStream, useThrottled } from '../live.js';
import { Link, navigate } from '../router.js';
import { runAction } from '../components/auth.js';
import { ResourceCharts, Throughput } from '../components/charts.js';
import { DagView } from '../components/dag.js';
import { EventsFeed } from '../components/events.js';
import { DEFAULT_TABLE, JobsTable, type TableState } from '../components/jobs-table.js';
import { Timeline } from '../components/timeline.js';
import { Card, confirmAction, Empty, Legend, PhaseBadge, ProgressBar, Spinner, useWidth } from '../components/ui.js';

type Tab = 'overview' | 'jobs' | 'timeline' | 'resources';
const TABS: [Tab, string][] = [['overview', 'Overview'], ['jobs', 'Jobs'], ['timeline', 'Timeline'], ['resources', 'Resources']];

interface Update {
  seq: number;
  phase: WorkflowDetail['phase'];
  total: number;
  done: number;
  counts: Record<string, number>;
  conditions: WorkflowDetail['conditions'];
  jobs: { id: number; status: string }[];
  jobs_truncated: boolean;
  groups: Record<string, Record<string, number>>;
  dag_key: string | null;
  events: EventItem[];
  workflow_changed: boolean;
}

export function WorkflowPage({ id, tab: tabParam }: { id: number; tab: string | null }) {
  const tab: Tab = (TABS.find(([t]) => t === tabParam)?.[0] ?? 'overview') as Tab;
  const [wf, setWf] = useState<WorkflowDetail | null>(null);
  const [missing, setMissing] = useState<string | null>(null);
  const [events, setEvents] = useState<EventItem[]>([]);
  const [dag, setDag] = useState<DagData | null>(null);
  const [expanded, setExpanded] = useState<number[]>([]);
  const [table, setTable] = useState<TableState>(DEFAULT_TABLE);
  const [tableRefresh, setTableRefresh] = useState(0);
  const [timeline, setTimeline] = useState<TimelineData | null>(null);
  const [throughput, setThroughput] = useState<ThroughputData | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const dagSeq = useRef<number>(-1);
  const hellos = useRef(0);
  const body = useRef<HTMLDivElement>(null);
  const width = useWidth(body);

  const loadSummary = () =>
    get<WorkflowDetail>(`/dashboard/workflows/${id}`).then(
      (w) => {
        setWf(w);
        setEvents((old) => mergeEvents(old, w.recent_events.map((e) => normalizeEvent(e as unknown as Record<string, unknown>))));
        setMissing(null);
        document.title = `${w.name} · torc`;
      },
      (e: Error) => setMissing(e.message),
    );
  const loadDag = () =>
    get<DagData>(`/dashboard/workflows/${id}/dag${query({ expand: expanded.join(',') || undefined })}`).then((d) => {
      dagSeq.current = d.seq ?? -1;
      setDag(d);
    });
  const loadTimeline = () => get<TimelineData>(`/dashboard/workflows/${id}/timeline`).then(setTimeline);
  const loadThroughput = () => get<ThroughputData>(`/dashboard/workflows/${id}/throughput`).then(setThroughput);

  const reloadSummary = useThrottled(() => void loadSummary(), 1000);
  const reloadDag = useThrottled(() => void loadDag().catch(() => undefined), 1000);
  const reloadTimeline = useThrottled(() => void loadTimeline().catch(() => undefined), 1000);
  const reloadThroughput = useThrottled(() => void loadThroughput().catch(() => undefined), 2000);
  const bumpTable = useThrottled(() => setTableRefresh((n) => n + 1), 400);

  useEffect(() => {
    setWf(null);
    setDag(null);
    setEvents([]);
    setExpanded([]);
    setTable(DEFAULT_TABLE);
  }, [id]);
  useEffect(() => void loadDag().catch(() => undefined), [id, expanded.join(',')]);
  useEffect(() => {
    if (tab === 'timeline') void loadTimeline().catch(() => undefined);
  }, [id, tab]);
  // The chart below the graph is read once the graph is there (the graph comes first).
  const dagShown = dag !== null;
  useEffect(() => {
    if (tab === 'overview' && dagShown) void loadThroughput().catch(() => undefined);
  }, [id, tab, dagShown]);

  useStream(`/workflows/${id}/events/stream`, {
    // (Re)connected: everything shown is read again (changes may have been missed meanwhile).
    hello: () => {
      void loadSummary();
      // A DAG read before the stream was watched has no live counts (seq null), and after a
      // reconnection changes may have been missed: read it again.
      if (dagSeq.current < 0 || hellos.current++ > 0) reloadDag();
      bumpTable();
      if (tab === 'timeline') reloadTimeline();
    },
    resync: () => {
      reloadSummary();
      reloadDag();
      bumpTable();
    },
    update: (u: Update) => {
      setWf((w) => (w ? { ...w, phase: u.phase, total: u.total, done: u.done, counts: u.counts, conditions: u.conditions } : w));
      if (u.events.length) setEvents((old) => mergeEvents(old, u.events));
      if (u.workflow_changed) reloadSummary();
      if (u.jobs.length || u.jobs_truncated) {
        bumpTable();
        reloadTimeline();
        reloadThroughput();
        if (u.jobs.some((j) => ['running', 'failed', 'terminated', 'pending_failed'].includes(j.status)) || u.done === u.total) reloadSummary();
      }
      setDag((d) => applyDagUpdate(d, u, dagSeq, reloadDag));
    },
    deleted: () => setMissing(`workflow ${id} was deleted`),
  });

  if (missing && !wf) return html`<main class="page"><${Empty}>${missing}. <${Link} href="/">All workflows</${Link}></${Empty}></main>`;
  if (!wf) return html`<main class="page"><div class="loading"><${Spinner} /></div></main>`;

  const unsuccessful = (wf.counts.failed ?? 0) + (wf.counts.terminated ?? 0) + (wf.counts.canceled ?? 0) + (wf.counts.pending_failed ?? 0);
  const active = (wf.counts.uninitialized ?? 0) + (wf.counts.blocked ?? 0) + (wf.counts.ready ?? 0) + (wf.counts.pending ?? 0) + (wf.counts.running ?? 0);
  const act = async (name: string, fn: () => Promise<unknown>, done?: (r: any) => string) => {
    setBusy(name);
    try {
      await runAction(name, fn, done);
    } finally {
      setBusy(null);
    }
  };
  const cancelWorkflow = async () => {
    if (!(await confirmAction('Cancel this workflow?', html`<p>Jobs that have not started (${num(active - (wf.counts.running ?? 0))}) are canceled; the ${num(wf.counts.running ?? 0)} running are terminated by their runners.</p>`, 'Cancel workflow', true))) return;
    await act('Cancel workflow', () => change('PUT', `/workflows/${id}/cancel`), (r: { canceled: number; running_job_ids: number[] }) => `Canceled ${num(r.canceled)} jobs; ${num(r.running_job_ids.length)} running are being terminated.`);
  };
  const rerunFailed = async () => {
    if (!(await confirmAction('Rerun unsuccessful jobs?', html`<p>The ${num(unsuccessful)} failed, terminated or canceled jobs and everything downstream of them go back to run in a new run (reset-status --failed-only). A runner must be running to pick them up.</p>`, 'Rerun failed jobs'))) return;
    await act('Rerun failed', async () => {
      const reset = await change<{ updated_count: number; run_id: number }>('POST', `/workflows/${id}/reset_job_status${query({ failed_only: true })}`);
      const init = await change<{ ready: number; blocked: number }>('POST', `/workflows/${id}/initialize_jobs`);
      return { reset, init };
    }, (r: { reset: { updated_count: number; run_id: number }; init: { ready: number } }) => `${num(r.reset.updated_count)} jobs reset (run ${r.reset.run_id}); ${num(r.init.ready)} ready.`);
  };
  const reinitialize = async () => {
    setBusy('Reinitialize');
    try {
      const plan = await runAction('Reinitialize (dry run)', () => change<{ jobs: { id: number; name: string; reasons: string[] }[] }>('POST', `/workflows/${id}/process_changed_job_inputs${query({ dry_run: true })}`), (r) => `${num(r.jobs.length)} jobs would be reset`);
      if (!plan) return;
      const body = html`<p>Completed jobs whose command or input data changed since they ran go back to run, with everything downstream. (Changed files are found by <code>torc workflows reinitialize</code>, run where the jobs ran.)</p>
        ${plan.jobs.length === 0 ? html`<p><b>Nothing changed: no job would be reset.</b></p>` : html`<ul class="reinit-list">${plan.jobs.slice(0, 12).map((j) => html`<li><b>${j.name}</b> — ${j.reasons.join('; ')}</li>`)}${plan.jobs.length > 12 ? html`<li>… and ${num(plan.jobs.length - 12)} more</li>` : null}</ul>`}`;
      if (plan.jobs.length === 0) {
        await confirmAction('Reinitialize', body, 'OK');
        return;
      }
      if (!(await confirmAction(`Reinitialize ${num(plan.jobs.length)} jobs?`, body, 'Reinitialize'))) return;
      await runAction('Reinitialize', () => change<{ jobs: unknown[]; run_id: number }>('POST', `/workflows/${id}/process_changed_job_inputs`), (r) => `${num(r.jobs.length)} jobs reset (run ${r.run_id}).`);
    } finally {
      setBusy(null);
    }
  };

  const setTab = (t: Tab) => navigate(`/workflows/${id}${t === 'overview' ? '' : `?tab=${t}`}`, true);
  const showMore = (n: DagNode) => {
    // The pattern's text before its first number finds the group's jobs (and maybe a few others).
    setTable({ ...DEFAULT_TABLE, q: n.label.split('#')[0] ?? '' });
    setTab('jobs');
  };

  return html`<main class="page" data-workflow=${wf.id}>
    <nav class="crumbs"><${Link} href="/">Workflows</${Link}><span>/</span><span>${wf.name}</span></nav>
    <div class="page-head">
      <div class="title-block">
        <div class="title-line"><h1 data-workflow-name>${wf.name}</h1><${PhaseBadge} phase=${wf.phase} /></div>
        <p class="muted">#${wf.id}${wf.user ? ` · ${wf.user}` : ''} · run ${wf.run_id}${wf.description ? ` · ${wf.description}` : ''}</p>
      </div>
      <div class="actions">
        <button type="button" class="btn" disabled=${busy !== null || unsuccessful === 0} onClick=${rerunFailed} data-action="rerun-failed">Rerun failed</button>
        <button type="button" class="btn" disabled=${busy !== null} onClick=${reinitialize} data-action="reinitialize">Reinitialize</button>
        <button type="button" class="btn btn-danger" disabled=${busy !== null || active === 0 || wf.is_canceled} onClick=${cancelWorkflow} data-action="cancel-workflow">Cancel workflow</button>
      </div>
    </div>

    <section class="summary card">
      <div class="summary-top">
        <div class="big-progress">
          <div class="big-numbers"><b data-done>${pct(wf.done, wf.total)}</b><span class="muted">${num(wf.done)} of ${num(wf.total)} jobs finished</span></div>
          <${ProgressBar} counts=${wf.counts} total=${wf.total} size="lg" />
        </div>
        <dl class="stats">
          <div><dt>Started</dt><dd title=${wf.started_ms ? new Date(wf.started_ms).toISOString() : ''}>${wf.started_ms ? clock(wf.started_ms) : 'not yet'}</dd></div>
          <div><dt>Elapsed</dt><dd>${duration(wf.elapsed_ms)}</dd></div>
          <div><dt>Compute nodes</dt><dd>${num(wf.active_compute_nodes)} active${wf.compute_nodes > wf.active_compute_nodes ? html` <span class="muted">/ ${num(wf.compute_nodes)}</span>` : ''}</dd></div>
          <div><dt>Running</dt><dd>${num(wf.counts.running ?? 0)}</dd></div>
        </dl>
      </div>
      <${Legend} counts=${wf.counts} onPick=${(s: TableState['status']) => { setTable({ ...DEFAULT_TABLE, status: s }); setTab('jobs'); }} />
      <div class="conditions">
        ${wf.conditions.map((c) => html`<span class=${`cond cond-${c.status.toLowerCase()} ${c.type === 'Failed' && c.status === 'True' ? 'cond-bad' : ''}`} title=${`${c.reason}: ${c.message}`} data-condition=${c.type}>
          <i></i>${c.type}<small>${c.message}</small></span>`)}
      </div>
    </section>

    <div class="tabs" role="tablist">
      ${TABS.map(([t, label]) => html`<button type="button" role="tab" aria-selected=${tab === t} class=${tab === t ? 'on' : ''} onClick=${() => setTab(t)} data-tab=${t}>
        ${label}${t === 'jobs' ? html`<span class="tab-count">${num(wf.total)}</span>` : null}</button>`)}
    </div>

    <div ref=${body} class="tab-body">
      ${tab === 'overview'
        ? html`<div class="overview">
            <${Card} title="Graph" class="graph-card" actions=${expanded.length ? html`<span class="expanded-chips">${expanded.map((g) => html`<button type="button" class="chip" onClick=${() => setExpanded(expanded.filter((x) => x !== g))} title="Collapse">${dag?.groups[g]?.label ?? `group ${g}`} ×</button>`)}</span>` : null}>
              ${dag ? html`<${DagView} data=${dag} onToggle=${(g: number) => setExpanded(expanded.includes(g) ? expanded.filter((x) => x !== g) : [...expanded, g])} onMore=${showMore} onCollapseAll=${() => setExpanded([])} />` : html`<div class="loading"><${Spinner} /></div>`}
            </${Card}>
            <${Card} title="Events" class="events-card">
              <${EventsFeed} workflowId=${id} events=${events} failures=${wf.recent_failures} onOlder=${(older: EventItem[]) => setEvents((old) => mergeEvents(old, older))} />
            </${Card}>
            <${Card} title="Throughput" class="throughput-card" actions=${html`<span class="muted small">finished attempts over time</span>`}>
              ${throughput ? html`<${Throughput} data=${throughput} width=${Math.max(320, width - 48)} />` : html`<div class="loading"><${Spinner} /></div>`}
            </${Card}>
          </div>`
        : null}
      ${tab === 'jobs' ? html`<${Card} class="flush-card"><${JobsTable} workflowId=${id} counts=${wf.counts} state=${table} setState=${setTable} refresh=${tableRefresh} /></${Card}>` : null}
      ${tab === 'timeline'
        ? html`<${Card} title="Timeline" actions=${timeline ? html`<span class="muted small">${num(timeline.bars.length)} attempts on ${num(new Set(timeline.bars.map((b) => b.compute_node_id)).size)} nodes${timeline.omitted ? ` · ${num(timeline.omitted)} older not shown` : ''}</span>` : null}>
            <div class="timeline-wrap">${timeline ? html`<${Timeline} data=${timeline} width=${Math.max(480, width - 40)} />` : html`<div class="loading"><${Spinner} /></div>`}</div>
          </${Card}>`
        : null}
      ${tab === 'resources'
        ? html`<${Card} title="Resources"><${ResourceCharts} workflowId=${id} monitorConfigured=${wf.settings.resource_monitor !== null} refresh=${wf.done} /></${Card}>
            <${Card} title="Compute nodes">
              ${wf.compute_node_list.length === 0 ? html`<${Empty}>No runner has registered yet.</${Empty}>` : html`<table class="table">
                <thead><tr><th>Node</th><th>Host</th><th>Type</th><th class="num">CPUs</th><th class="num">Memory</th><th class="num">GPUs</th><th>Registered</th><th>State</th></tr></thead>
                <tbody>${wf.compute_node_list.map((n) => html`<tr><td class="mono muted">${n.id}</td><td>${n.hostname}</td><td>${n.compute_node_type}</td><td class="num">${n.num_cpus}</td><td class="num">${n.memory_gb.toFixed(1)} GB</td><td class="num">${n.num_gpus}</td><td class="muted">${ago(n.started_ms)}</td><td>${n.is_active ? html`<span class="ok-text">active</span>` : html`<span class="muted">ended</span>`}</td></tr>`)}</tbody>
              </table>`}
            </${Card}>`
        : null}
    </div>
  </main>`;
}

function mergeEvents(old: EventItem[], more: EventItem[]): EventItem[] {
  const byId = new Map(old.map((e) => [e.id, e]));
  for (const e of more) byId.set(e.id, e);
  return [...byId.values()].sort((a, b) => a.id - b.id).slice(-500);
}

/** Live group counts (newer than what the DAG answer was as of) and job node statuses. */
function applyDagUpdate(d: DagData | null, u: Update, dagSeq: { current: number }, reload: () => void): DagData | null {
  if (!d) return d;
  if (u.jobs_truncated && d.nodes.some((n) => n.kind === 'job')) reload();
  const groups = u.dag_key === d.dag_key && u.seq > dagSeq.current ? u.groups : {};
  if (u.dag_key !== d.dag_key && u.jobs.length) reload();
  const jobStatus = new Map(u.jobs.map((j) => [j.id, j.status]));
  if (Object.keys(groups).length === 0 && jobStatus.size === 0) return d;
  let changed = false;
  const nodes = d.nodes.map((n) => {
    if (n.kind === 'group' && groups[n.group]) {
      changed = true;
      return { ...n, counts: groups[n.group]! };
    }
    if (n.kind === 'job' && n.job_id !== null && jobStatus.has(n.job_id)) {
      changed = true;
      return { ...n, status: jobStatus.get(n.job_id) as DagNode['status'] };
    }
    return n;
  });
  if (Object.keys(groups).length) dagSeq.current = u.seq;
  // "more" nodes of expanded groups: their counts are the group's less the jobs drawn; re-read.
  if (Object.keys(groups).some((g) => d.nodes.some((n) => n.kind === 'more' && n.group === Number(g)))) reload();
  return changed ? { ...d, nodes } : d;
}
