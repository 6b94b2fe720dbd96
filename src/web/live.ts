/**
 * Live updates from the server's event streams (EventSource: the browser reconnects by
 * itself; each (re)connection starts with `hello`, after which the page re-reads what it
 * shows). Nothing here polls: every refresh follows a message from the server.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { API } from './api.js';

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

/**
 * Subscribes to a stream path (relative to the API base) while the component is mounted.
 * Handlers may change between renders; the latest ones are called.
 */
export function useStream(path: string | null, handlers: Handlers, options: { indicator?: boolean } = {}): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  const indicator = options.indicator ?? true;
  useEffect(() => {
    if (!path) return;
    if (indicator) setLiveState('connecting');
    const source = new EventSource(`${API}${path}`);
    const names = ['hello', 'update', 'resync', 'workflows', 'deleted', 'data', 'end', 'unavailable', 'close'];
    for (const name of names) {
      source.addEventListener(name, (e) => {
        if (name === 'hello' && indicator) setLiveState('live');
        let data: unknown = null;
        try {
          data = JSON.parse((e as MessageEvent<string>).data);
        } catch {
          return;
        }
        ref.current[name]?.(data);
        if (name === 'close' || name === 'end') source.close();
      });
    }
    source.onerror = () => {
      if (indicator && source.readyState !== EventSource.CLOSED) setLiveState('reconnecting');
      ref.current.error?.(null);
    };
    return () => source.close();
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
