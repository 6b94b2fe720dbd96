/**
 * Signing in: on a server with users (--auth htpasswd:FILE) a user name and password, else the
 * bearer token (--token-file). Entered once in a dialog, kept in sessionStorage (this tab only;
 * gone when it closes), sent only in the Authorization header — never in a URL (api.ts).
 * The dialog opens when a read is refused (reads need the sign-in unless the server opens them
 * with --public-read), from the header button, and before an action when nobody signed in.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, ApiError, authHeaders, authorization, config, onTokenChange, setBasic, setSignInHandler, setToken, signedInUser, signOut, type DashboardConfig } from '../api.js';
import { toast } from './ui.js';

let openTokenDialog: ((resolve: (ok: boolean) => void) => void) | undefined;

function askForToken(): Promise<boolean> {
  return new Promise((resolve) => (openTokenDialog ? openTokenDialog(resolve) : resolve(false)));
}

/** The current sign-in (re-rendered when it changes): the header value, or null. */
export function useToken(): string | null {
  const [auth, set] = useState(authorization() ?? null);
  useEffect(() => onTokenChange(() => set(authorization() ?? null)), []);
  return auth;
}

function useConfig(): DashboardConfig | null {
  const [c, set] = useState<DashboardConfig | null>(null);
  useEffect(() => {
    config().then(set, () => set({ version: '', auth_required: true, resource_monitoring: false }));
  }, []);
  return c;
}

/**
 * Runs an action that changes state. Asks for the sign-in first when the server needs one and
 * none is set; a refused one (401) is forgotten and the user is told. Returns the result,
 * or undefined when it did not happen.
 */
export async function runAction<T>(label: string, fn: () => Promise<T>, done?: (result: T) => string): Promise<T | undefined> {
  const { auth_required } = await config().catch(() => ({ auth_required: true }));
  if (auth_required && !authorization() && !(await askForToken())) return undefined;
  try {
    const result = await fn();
    toast('ok', done ? done(result) : `${label}: done`);
    return result;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      const user = signedInUser();
      signOut();
      toast('error', user
        ? `${label}: the server refused the sign-in of ${user}. Sign in again and try again.`
        : `${label}: the server refused the token. Enter the token of this server (its --token-file) and try again.`);
    } else if (err instanceof ApiError && err.status === 403) {
      toast('error', `${label}: ${signedInUser() ?? 'you'} may not change this workflow (${err.message})`);
    } else {
      toast('error', `${label}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return undefined;
  }
}

export function TokenButton() {
  const auth = useToken();
  const c = useConfig();
  if (c?.auth_required === false) return html`<span class="auth-state" title="This server accepts actions without a token">Open access</span>`;
  const user = auth ? signedInUser() : null;
  const label = c?.users ? (user ? `Signed in as ${user}` : auth ? 'Token set' : 'Sign in') : auth ? 'Token set' : 'Enter token';
  return html`<button type="button" class=${`btn btn-ghost auth-btn ${auth ? 'has-token' : ''}`} data-token-button data-signed-in=${user ?? ''} onClick=${() => void askForToken()}>
    <svg viewBox="0 0 20 20" width="15" height="15" aria-hidden="true"><path fill="currentColor" d=${auth ? 'M5 9V6a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1h1Zm2 0h6V6a3 3 0 0 0-6 0v3Z' : 'M7 9h9a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1h1V6a5 5 0 0 1 9.9-1l-1.95.45A3 3 0 0 0 7 6v3Z'} /></svg>
    ${label}
  </button>`;
}

/** Whether the server accepts this sign-in: a read that needs one (only where reads do). */
async function accepted(): Promise<boolean> {
  const res = await fetch(`${API}/workflows?limit=1`, { headers: { Accept: 'application/json', ...authHeaders() }, credentials: 'same-origin', cache: 'no-store' });
  return res.status !== 401;
}

export function TokenDialogHost() {
  const [pending, setPending] = useState<((ok: boolean) => void) | null>(null);
  const [value, setValue] = useState('');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const c = useConfig();
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => {
    openTokenDialog = (resolve) => {
      setValue('');
      setPassword('');
      setProblem(null);
      setPending(() => resolve);
    };
    setSignInHandler(askForToken);
    return () => {
      openTokenDialog = undefined;
      setSignInHandler(undefined);
    };
  }, []);
  useEffect(() => first.current?.focus(), [pending]);
  if (!pending) return null;
  const users = c?.users === true;
  const close = (ok: boolean) => {
    setPending(null);
    pending(ok);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const token = value.trim();
    if (users && user.trim() !== '' && password !== '') {
      setToken(null);
      setBasic(user.trim(), password);
    } else if (token) {
      setBasic(null);
      setToken(token);
    } else {
      setProblem(users ? 'Enter your user name and password (or the token).' : null);
      return;
    }
    // Where reads need a sign-in, one read tells whether this one is right.
    if (c && !c.public_read && !(await accepted().catch(() => true))) {
      signOut();
      setProblem(users ? 'The server refused this user name and password.' : 'The server refused this token.');
      return;
    }
    close(true);
  };
  const tokenInput = html`<input ref=${users ? undefined : first} type="password" autocomplete="off" spellcheck=${false} placeholder="token" value=${value} onInput=${(e: Event) => setValue((e.target as HTMLInputElement).value)} name="token" />`;
  return html`<div class="overlay" onKeyDown=${(e: KeyboardEvent) => e.key === 'Escape' && close(false)}>
    <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="token-title" onSubmit=${save} data-token-dialog data-sign-in=${users ? 'users' : 'token'}>
      <h3 id="token-title">${users ? 'Sign in' : 'API token'}</h3>
      <div class="dialog-body">
        ${users
          ? html`<p>This server's workflows belong to its users: sign in with your user name and password (its <code>--auth</code> file).</p>
              <input ref=${first} type="text" autocomplete="username" spellcheck=${false} placeholder="user name" value=${user} onInput=${(e: Event) => setUser((e.target as HTMLInputElement).value)} name="user" />
              <input type="password" autocomplete="current-password" placeholder="password" value=${password} onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} name="password" />
              <details><summary class="muted">or the server's token</summary>${tokenInput}</details>`
          : html`<p>Actions (cancel, rerun, reinitialize) need the token this server was started with: the file given to <code>--token-file</code>, or the <code>.torc/NAME.token</code> that <code>torc reconcile</code> prints.</p>${tokenInput}`}
        <p class="muted">It stays in this browser tab only (session storage) and is sent in the Authorization header, never in a URL.</p>
        ${problem ? html`<p class="sign-in-problem" role="alert" data-sign-in-problem>${problem}</p>` : null}
      </div>
      <div class="dialog-actions">
        ${authorization() ? html`<button type="button" class="btn btn-ghost" onClick=${() => { signOut(); close(false); }}>${users ? 'Sign out' : 'Forget token'}</button>` : null}
        <span class="grow"></span>
        <button type="button" class="btn" onClick=${() => close(false)}>Cancel</button>
        <button type="submit" class="btn btn-primary" data-token-save>${users ? 'Sign in' : 'Save'}</button>
      </div>
    </form>
  </div>`;
}
