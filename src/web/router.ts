/** History-API routing: `/`, `/workflows/:id`, `/jobs/:id` (the server serves the page at each). */
import { html } from 'htm/preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export type Route = { page: 'workflows' } | { page: 'workflow'; id: number; tab: string | null } | { page: 'job'; id: number } | { page: 'missing' };

export function parseRoute(path: string, search = ''): Route {
  if (path === '/' || path === '/index.html') return { page: 'workflows' };
  let m = /^\/workflows\/(\d+)\/?$/.exec(path);
  if (m) return { page: 'workflow', id: Number(m[1]), tab: new URLSearchParams(search).get('tab') };
  m = /^\/jobs\/(\d+)\/?$/.exec(path);
  if (m) return { page: 'job', id: Number(m[1]) };
  return { page: 'missing' };
}

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((l) => l());
  if (!replace) window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const read = () => parseRoute(location.pathname, location.search);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = () => setRoute(read());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** A link that navigates inside the page (a new tab still works: it is a real href). */
export function Link({ href, children, class: cls, title }: { href: string; children: ComponentChildren; class?: string; title?: string }) {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} class=${cls} title=${title} onClick=${onClick}>${children}</a>`;
}
