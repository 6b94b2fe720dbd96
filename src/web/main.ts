/** The dashboard's entry point: the page frame (header, live indicator, token) and the router. */
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { config } from './api.js';
import { TokenButton, TokenDialogHost } from './components/auth.js';
import { DialogHost, Empty, ToastHost } from './components/ui.js';
import { useLiveState } from './live.js';
import { JobPage } from './pages/job.js';
import { WorkflowPage } from './pages/workflow.js';
import { WorkflowsPage } from './pages/workflows.js';
import { Link, useRoute } from './router.js';

function LiveIndicator() {
  const state = useLiveState();
  const label = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting' : 'Reconnecting';
  return html`<span class=${`live live-${state}`} data-live=${state} title=${state === 'live' ? 'Updates arrive as they happen' : 'Waiting for the server'}><i></i>${label}</span>`;
}

function App() {
  const route = useRoute();
  const [version, setVersion] = useState('');
  useEffect(() => {
    config().then((c) => setVersion(c.version), () => undefined);
  }, []);
  let page;
  switch (route.page) {
    case 'workflows':
      page = html`<${WorkflowsPage} />`;
      break;
    case 'workflow':
      page = html`<${WorkflowPage} key=${route.id} id=${route.id} tab=${route.tab} />`;
      break;
    case 'job':
      page = html`<${JobPage} key=${route.id} id=${route.id} />`;
      break;
    default:
      page = html`<main class="page"><${Empty}>No such page. <${Link} href="/">All workflows</${Link}></${Empty}></main>`;
  }
  return html`<div class="shell">
    <header class="topbar">
      <${Link} href="/" class="brand">
        <svg viewBox="0 0 32 32" width="26" height="26" aria-hidden="true"><rect width="32" height="32" rx="8" fill="#4338ca"/><circle cx="10" cy="10" r="3.2" fill="#fff"/><circle cx="22" cy="16" r="3.2" fill="#a5b4fc"/><circle cx="10" cy="22" r="3.2" fill="#fff"/><path d="M12.8 11.4 19.2 14.6M12.8 20.6l6.4-3.2" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/></svg>
        <span>torc</span>
      </${Link}>
      <nav class="topnav"><${Link} href="/" class=${route.page === 'workflows' ? 'on' : ''}>Workflows</${Link}></nav>
      <span class="grow"></span>
      <${LiveIndicator} />
      <${TokenButton} />
      <a class="api-link" href="/torc-service/v1/openapi.json" title="The REST API's OpenAPI document">API</a>
      ${version ? html`<span class="version">v${version}</span>` : null}
    </header>
    ${page}
    <${DialogHost} />
    <${TokenDialogHost} />
    <${ToastHost} />
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
