/**
 * Live updates from the server's event streams (server-sent events, reconnected after a drop;
 * each (re)connection starts with `hello`, after which the page re-reads what it shows).
 * Nothing here polls: every refresh follows a message from the server.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, askToSignIn, authHeaders, onTokenChange } from './api.js';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

const stateListeners = new Set<(s: LiveState) => void>();
let liveState: LiveState = 'connecting';
function setLiveState(s: LiveState): void {
  liveState = s;
  stateListeners.forEach((l) => l(s));
}

/** The connection state of the page's stream, for the indicator in the header. */
export function useLiveState(): LiveState {
  const [s, set] = useState(liveState);
  useEffect(() => {
    stateListeners.add(set);
    return () => void stateListeners.delete(set);
  }, []);
  return s;
}

export type Handlers = Record<string, (data: any) => void>;

/** The stream's event names the pages handle. */
const NAMES = new Set(['hello', 'update', 'resync', 'workflows', 'deleted', 'data', 'end', 'unavailable', 'close']);
const RETRY_MS = 2000;

/**
 * Subscribes to a stream path (relative to the API base) while the component is mounted.
 * Handlers may change between renders; the latest ones are called. Read with fetch (not
 * EventSource, which cannot send the Authorization header a signed-in user needs); it
 * reconnects after RETRY_MS like EventSource, and asks for the sign-in on a 401.
 */
export function useStream(path: string | null, handlers: Handlers, options: { indicator?: boolean } = {}): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  const indicator = options.indicator ?? true;
  useEffect(() => {
    if (!path) return;
    if (indicator) setLiveState('connecting');
    let stopped = false;
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unwatch: (() => void) | undefined;
    /** One message; false once the server said the stream is over. */
    const dispatch = (block: string): boolean => {
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (!NAMES.has(name) || data.length === 0) return true;
      if (name === 'hello' && indicator) setLiveState('live');
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.join('\n'));
      } catch {
        return true;
      }
      ref.current[name]?.(parsed);
      return name !== 'close' && name !== 'end';
    };
    const connect = async (): Promise<void> => {
      controller = new AbortController();
      let open = true;
      try {
        const res = await fetch(`${API}${path}`, { headers: { Accept: 'text/event-stream', ...authHeaders() }, credentials: 'same-origin', cache: 'no-store', signal: controller.signal });
        if (res.status === 401) {
          if (await askToSignIn()) return void (stopped || connect());
          // Not signed in: wait for a sign-in (the header button) instead of asking again and again.
          if (indicator) setLiveState('reconnecting');
          const off = onTokenChange(() => {
            off();
            if (!stopped) void connect();
          });
          unwatch = off;
          return;
        }
        if (!res.ok || !res.body) throw new Error(`${res.status}`);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        while (open) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
          let i: number;
          while (open && (i = buffer.indexOf('\n\n')) >= 0) {
            open = dispatch(buffer.slice(0, i));
            buffer = buffer.slice(i + 2);
          }
        }
        if (!open) {
          controller.abort();
          return;
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      // Dropped or refused: say so, then try again as EventSource would.
      if (indicator) setLiveState('reconnecting');
      ref.current.error?.(null);
      timer = setTimeout(() => void connect(), RETRY_MS);
    };
    void connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      unwatch?.();
      controller?.abort();
    };
  }, [path]);
}

/**
 * Calls `fn` at most once per `ms`, and once more after the last call (so the final state is
 * always fetched). For re-reads triggered by bursts of stream messages.
 */
export function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = () => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  const call = () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  call.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  return call;
}

/** A throttled callback bound to a component's lifetime, always calling the latest `fn`. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const t = useRef<ReturnType<typeof throttle> | undefined>(undefined);
  if (!t.current) t.current = throttle(() => ref.current(), ms);
  useEffect(() => () => t.current?.cancel(), []);
  return t.current;
}
