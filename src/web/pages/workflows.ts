/** The list of workflows: phase, progress, counts, start and elapsed time; live. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { get, query, type Page, type WorkflowSummary } from '../api.js';
import { ago, duration, num, pct } from '../format.js';
import { useStream, useThrottled } from '../live.js';
import { Link, navigate } from '../router.js';
import { Empty, PhaseBadge, ProgressBar, Spinner, StatusDot } from '../components/ui.js';

const PAGE = 100;

export function WorkflowsPage() {
  const [page, setPage] = useState<Page<WorkflowSummary> | null>(null);
  const [offset, setOffset] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());

  const load = () =>
    get<Page<WorkflowSummary>>(`/dashboard/workflows${query({ offset, limit: PAGE })}`).then(
      (p) => {
        setPage(p);
        setNow(Date.now());
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  const reload = useThrottled(load, 500);
  useEffect(() => void load(), [offset]);
  useStream('/dashboard/stream', { hello: () => reload(), workflows: () => reload() });
  useEffect(() => {
    document.title = 'Workflows · torc';
  }, []);

  const items = page?.items ?? [];
  const running = items.filter((w) => w.phase === 'Running').length;
  const failed = items.filter((w) => w.phase === 'Failed').length;
  return html`<main class="page">
    <div class="page-head">
      <div>
        <h1>Workflows</h1>
        <p class="muted">${page ? `${num(page.total_count)} workflow${page.total_count === 1 ? '' : 's'}${running ? ` · ${running} running` : ''}${failed ? ` · ${failed} failed` : ''}` : ' '}</p>
      </div>
    </div>
    ${error ? html`<div class="error-box">Could not load workflows: ${error}</div>` : null}
    ${!page && !error ? html`<div class="loading"><${Spinner} /></div>` : null}
    ${page && items.length === 0
      ? html`<${Empty}>No workflows yet. Run one with <code>torc reconcile workflow.yaml</code> or post a spec to <code>/torc-service/v1/workflow_specs</code>.</${Empty}>`
      : null}
    ${items.length > 0
      ? html`<div class="card flush">
          <table class="table wf-table">
            <thead><tr><th>Workflow</th><th>Phase</th><th class="progress-col">Progress</th><th>Jobs</th><th>Started</th><th class="num">Elapsed</th></tr></thead>
            <tbody>
              ${items.map(
                (w) => html`<tr key=${w.id} class="clickable" data-workflow-row=${w.id} onClick=${(e: MouseEvent) => (e.target as HTMLElement).closest('a') || navigate(`/workflows/${w.id}`)}>
                  <td class="wf-name">
                    <${Link} href=${`/workflows/${w.id}`}>${w.name}</${Link}>
                    <div class="muted small">#${w.id}${w.user ? ` · ${w.user}` : ''}${w.run_id > 1 ? ` · run ${w.run_id}` : ''}${w.description ? ` · ${w.description}` : ''}</div>
                  </td>
                  <td><${PhaseBadge} phase=${w.phase} /></td>
                  <td class="progress-col">
                    <${ProgressBar} counts=${w.counts} total=${w.total} size="sm" />
                    <div class="small muted">${num(w.done)} / ${num(w.total)} done · ${pct(w.counts.completed ?? 0, w.total)} completed</div>
                  </td>
                  <td class="counts">
                    ${(['running', 'completed', 'failed', 'ready', 'blocked'] as const)
                      .filter((s) => (w.counts[s] ?? 0) > 0)
                      .map((s) => html`<span class="count" title=${s}><${StatusDot} status=${s} />${num(w.counts[s]!)}</span>`)}
                  </td>
                  <td class="muted">${ago(w.started_ms, now)}</td>
                  <td class="num">${duration(w.elapsed_ms)}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : null}
    ${page && page.total_count > PAGE
      ? html`<div class="pager">
          <span class="grow"></span>
          <button type="button" class="btn btn-sm" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
          <button type="button" class="btn btn-sm" disabled=${!page.has_more} onClick=${() => setOffset(offset + PAGE)}>Next</button>
        </div>`
      : null}
  </main>`;
}
