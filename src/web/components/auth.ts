/**
 * The bearer token for actions. Entered once in a dialog, kept in sessionStorage (this tab
 * only; gone when it closes), sent only in the Authorization header — never in a URL.
 * Reads work without it; `runAction` asks for it first when the server requires one.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, config, getToken, onTokenChange, setToken } from '../api.js';
import { toast } from './ui.js';

let openTokenDialog: ((resolve: (ok: boolean) => void) => void) | undefined;

function askForToken(): Promise<boolean> {
  return new Promise((resolve) => (openTokenDialog ? openTokenDialog(resolve) : resolve(false)));
}

export function useToken(): string | null {
  const [token, set] = useState(getToken());
  useEffect(() => onTokenChange(() => set(getToken())), []);
  return token;
}

export function useAuthRequired(): boolean | null {
  const [required, set] = useState<boolean | null>(null);
  useEffect(() => {
    config().then((c) => set(c.auth_required), () => set(true));
  }, []);
  return required;
}

/**
 * Runs an action that changes state. Asks for the token first when the server needs one and
 * none is set; a refused token (401) is forgotten and the user is told. Returns the result,
 * or undefined when it did not happen.
 */
export async function runAction<T>(label: string, fn: () => Promise<T>, done?: (result: T) => string): Promise<T | undefined> {
  const { auth_required } = await config().catch(() => ({ auth_required: true }));
  if (auth_required && !getToken() && !(await askForToken())) return undefined;
  try {
    const result = await fn();
    toast('ok', done ? done(result) : `${label}: done`);
    return result;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      setToken(null);
      toast('error', `${label}: the server refused the token. Enter the token of this server (its --token-file) and try again.`);
    } else {
      toast('error', `${label}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return undefined;
  }
}

export function TokenButton() {
  const token = useToken();
  const required = useAuthRequired();
  if (required === false) return html`<span class="auth-state" title="This server accepts actions without a token">Open access</span>`;
  return html`<button type="button" class=${`btn btn-ghost auth-btn ${token ? 'has-token' : ''}`} data-token-button onClick=${() => void askForToken()}>
    <svg viewBox="0 0 20 20" width="15" height="15" aria-hidden="true"><path fill="currentColor" d=${token ? 'M5 9V6a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1h1Zm2 0h6V6a3 3 0 0 0-6 0v3Z' : 'M7 9h9a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1h1V6a5 5 0 0 1 9.9-1l-1.95.45A3 3 0 0 0 7 6v3Z'} /></svg>
    ${token ? 'Token set' : 'Enter token'}
  </button>`;
}

export function TokenDialogHost() {
  const [pending, setPending] = useState<((ok: boolean) => void) | null>(null);
  const [value, setValue] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    openTokenDialog = (resolve) => {
      setValue('');
      setPending(() => resolve);
    };
    return () => (openTokenDialog = undefined);
  }, []);
  useEffect(() => input.current?.focus(), [pending]);
  if (!pending) return null;
  const close = (ok: boolean) => {
    setPending(null);
    pending(ok);
  };
  const save = (e: Event) => {
    e.preventDefault();
    const token = value.trim();
    if (!token) return;
    setToken(token);
    close(true);
  };
  return html`<div class="overlay" onKeyDown=${(e: KeyboardEvent) => e.key === 'Escape' && close(false)}>
    <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="token-title" onSubmit=${save} data-token-dialog>
      <h3 id="token-title">API token</h3>
      <div class="dialog-body">
        <p>Actions (cancel, rerun, reinitialize) need the token this server was started with: the file given to <code>--token-file</code>, or the <code>.torc/NAME.token</code> that <code>torc reconcile</code> prints.</p>
        <p class="muted">It stays in this browser tab only (session storage) and is sent in the Authorization header, never in a URL.</p>
        <input ref=${input} type="password" autocomplete="off" spellcheck=${false} placeholder="token" value=${value} onInput=${(e: Event) => setValue((e.target as HTMLInputElement).value)} name="token" />
      </div>
      <div class="dialog-actions">
        ${getToken() ? html`<button type="button" class="btn btn-ghost" onClick=${() => { setToken(null); close(false); }}>Forget token</button>` : null}
        <span class="grow"></span>
        <button type="button" class="btn" onClick=${() => close(false)}>Cancel</button>
        <button type="submit" class="btn btn-primary" data-token-save>Save</button>
      </div>
    </form>
  </div>`;
}
