/** One job: command, requirements, placement and times, attempts, neighbours, files, output. */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { change, get, type JobDetail, type StatusName } from '../api.js';
import { bytes, clock, cpu, duration, FINISHED, fullTime, num } from '../format.js';
import { useStream, useThrottled } from '../live.js';
import { Link } from '../router.js';
import { runAction } from '../components/auth.js';
import { JobResources } from '../components/charts.js';
import { LogViewer } from '../components/log-viewer.js';
import { Card, confirmAction, Empty, Spinner, StatusDot, StatusPill, useWidth } from '../components/ui.js';

export function JobPage({ id }: { id: number }) {
  const [d, setD] = useState<JobDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const resourcesRef = useRef<HTMLDivElement>(null);
  const resourcesWidth = useWidth(resourcesRef);
  const load = () =>
    get<JobDetail>(`/jobs/${id}/detail`).then(
      (x) => {
        setD(x);
        setError(null);
        document.title = `${x.job.name} · torc`;
      },
      (e: Error) => setError(e.message),
    );
  const reload = useThrottled(() => void load(), 300);
  useEffect(() => {
    setD(null);
    void load();
  }, [id]);
  useStream(d ? `/workflows/${d.job.workflow_id}/events/stream` : null, {
    hello: () => reload(),
    resync: () => reload(),
    update: (u: { jobs: { id: number }[]; jobs_truncated: boolean }) => {
      if (u.jobs_truncated || u.jobs.some((j) => j.id === id)) reload();
    },
  });

  if (error && !d) return html`<main class="page"><${Empty}>${error}. <${Link} href="/">All workflows</${Link}></${Empty}></main>`;
  if (!d) return html`<main class="page"><div class="loading"><${Spinner} /></div></main>`;
  const j = d.job;
  const finished = FINISHED.includes(j.status);
  const running = j.status === 'running' || j.status === 'pending';
  const cancel = async () => {
    const what = j.status === 'running' ? 'Its runner terminates it; it ends terminated.' : 'It will not run; dependents that cancel on a failed blocker are canceled too.';
    if (!(await confirmAction(`Cancel job ${j.name}?`, html`<p>${what}</p>`, 'Cancel job', true))) return;
    setBusy(true);
    try {
      await runAction('Cancel job', () => change<{ outcome: string; canceled_dependents: number[] }>('POST', `/jobs/${id}/cancel`), (r) =>
        r.outcome === 'canceled' ? `Job canceled${r.canceled_dependents.length ? ` with ${num(r.canceled_dependents.length)} dependents` : ''}.` : 'Cancel requested: the runner terminates the job.');
      void load();
    } finally {
      setBusy(false);
    }
  };
  const runtime = j.started_ms !== null ? (j.completed_ms ?? Date.now()) - j.started_ms : null;
  const attemptIds = [...new Set([...d.attempts.map((a) => a.attempt_id), j.attempt_id])].sort((a, b) => a - b);
  const Neighbours = ({ list, count, label }: { list: { id: number; name: string; status: StatusName }[]; count: number; label: string }) =>
    html`<div class="neighbours"><h3>${label} <span class="muted">${num(count)}</span></h3>
      ${list.length === 0 ? html`<p class="muted small">none</p>` : html`<ul>${list.map((n) => html`<li><${StatusDot} status=${n.status} /><${Link} href=${`/jobs/${n.id}`}>${n.name}</${Link}></li>`)}${count > list.length ? html`<li class="muted">… ${num(count - list.length)} more</li>` : null}</ul>`}
    </div>`;

  return html`<main class="page" data-job=${j.id}>
    <nav class="crumbs"><${Link} href="/">Workflows</${Link}><span>/</span><${Link} href=${`/workflows/${d.workflow.id}`}>${d.workflow.name}</${Link}><span>/</span><span>${j.name}</span></nav>
    <div class="page-head">
      <div class="title-block">
        <div class="title-line"><h1 data-job-name>${j.name}</h1><${StatusPill} status=${j.status} />${j.cancel_requested ? html`<span class="pill s-terminated">cancel requested</span>` : null}</div>
        <p class="muted">job #${j.id} · attempt ${j.attempt_id}${j.return_code !== null ? ` · exit code ${j.return_code}` : ''}${j.hostname ? ` · on ${j.hostname}` : ''}</p>
      </div>
      <div class="actions">
        <button type="button" class="btn btn-danger" disabled=${busy || finished || j.cancel_requested} onClick=${cancel} data-action="cancel-job">Cancel job</button>
      </div>
    </div>

    <div class="job-grid">
      <${Card} title="Command" class="span-2">
        <pre class="code" data-job-command>${j.invocation_script ? html`<span class="muted">${j.invocation_script} </span>` : null}${j.command}</pre>
        ${j.image ? html`<p class="small muted">image <code>${j.image}</code></p>` : null}
        ${j.env && Object.keys(j.env).length ? html`<details class="env"><summary>${Object.keys(j.env).length} environment variables</summary><pre class="code">${Object.entries(j.env).map(([k, v]) => `${k}=${v}\n`).join('')}</pre></details>` : null}
      </${Card}>
      <${Card} title="Requirements">
        ${d.requirements
          ? html`<dl class="kv">
              <div><dt>Class</dt><dd>${d.requirements.name}${d.requirements.raised_for_this_job ? html` <span class="pill s-terminated">raised after a failure</span>` : null}</dd></div>
              <div><dt>CPUs</dt><dd>${d.requirements.num_cpus}</dd></div>
              <div><dt>Memory</dt><dd>${d.requirements.memory}</dd></div>
              <div><dt>GPUs</dt><dd>${d.requirements.num_gpus}</dd></div>
              <div><dt>Nodes</dt><dd>${d.requirements.num_nodes}</dd></div>
              <div><dt>Runtime</dt><dd>${d.requirements.runtime}</dd></div>
            </dl>`
          : html`<p class="muted">none</p>`}
      </${Card}>
      <${Card} title="Run">
        <dl class="kv">
          <div><dt>Claimed</dt><dd title=${fullTime(j.claimed_ms)}>${clock(j.claimed_ms)}</dd></div>
          <div><dt>Started</dt><dd title=${fullTime(j.started_ms)}>${clock(j.started_ms)}</dd></div>
          <div><dt>Finished</dt><dd title=${fullTime(j.completed_ms)}>${clock(j.completed_ms)}</dd></div>
          <div><dt>${running ? 'Running for' : 'Duration'}</dt><dd>${duration(runtime)}</dd></div>
          <div><dt>Node</dt><dd>${j.hostname ?? '—'}</dd></div>
          <div><dt>Run</dt><dd>${d.workflow.run_id}</dd></div>
        </dl>
      </${Card}>
      <${Card} title="Dependencies">
        <${Neighbours} list=${d.blockers} count=${d.blocker_count} label="Waits for" />
        <${Neighbours} list=${d.dependents} count=${d.dependent_count} label="Needed by" />
      </${Card}>
      ${d.input_files.length || d.output_files.length
        ? html`<${Card} title="Files">
            ${[['Reads', d.input_files], ['Writes', d.output_files] as const].map(([label, files]) => html`<div class="neighbours"><h3>${label}</h3>${(files as JobDetail['input_files']).length ? html`<ul>${(files as JobDetail['input_files']).map((f) => html`<li><code>${f.path}</code></li>`)}</ul>` : html`<p class="muted small">none</p>`}</div>`)}
          </${Card}>`
        : null}
      <${Card} title="Attempts" class="span-3">
        ${d.attempts.length === 0
          ? html`<p class="muted">${running ? `Attempt ${j.attempt_id} is running.` : 'No attempt has finished yet.'}</p>`
          : html`<table class="table" data-attempts=${d.attempts.length}>
              <thead><tr><th class="num">Attempt</th><th class="num">Run</th><th>Result</th><th class="num">Exit</th><th>Diagnosis</th><th>Node</th><th>Started</th><th>Finished</th><th class="num">Duration</th><th class="num">Peak memory</th><th class="num">Avg CPU</th></tr></thead>
              <tbody>${d.attempts.map((a) => html`<tr data-attempt-row=${a.attempt_id}><td class="num">${a.attempt_id}</td><td class="num">${a.run_id}</td><td><${StatusPill} status=${a.status} /></td><td class=${`num mono ${a.return_code ? 'bad' : ''}`}>${a.return_code}</td><td data-diagnosis=${a.failure_diagnosis ?? ''} title=${a.diagnosis_reason ?? ''}>${a.failure_diagnosis ?? ''}</td><td>${a.hostname ?? '—'}</td><td class="muted">${clock(a.start_ms)}</td><td class="muted">${clock(a.completion_ms)}</td><td class="num">${duration(a.exec_time_minutes * 60_000)}</td><td class="num">${bytes(a.peak_memory_bytes)}</td><td class="num">${cpu(a.avg_cpu_percent)}</td></tr>`)}</tbody>
            </table>`}
      </${Card}>
      <${Card} title="Resources" class="span-3">
        <div ref=${resourcesRef}><${JobResources} detail=${d} width=${Math.max(320, resourcesWidth)} refresh=${d} /></div>
      </${Card}>
      <${Card} title="Output" class="span-3">
        <${LogViewer} jobId=${j.id} attempts=${attemptIds} currentAttempt=${j.attempt_id} running=${running} status=${j.status} />
      </${Card}>
    </div>
  </main>`;
}
