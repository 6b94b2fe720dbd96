/** Reading server-sent event streams (the dashboard's live streams) in tests. */
import { waitFor } from './procs.js';

/** A reader for one server-sent event stream. */
export async function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal, headers });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: { event: string; data: any }[] = [];
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    res,
    events,
    next: async (event: string, pred: (d: any) => boolean = () => true, timeoutMs = 60_000) => {
      let found: any;
      await waitFor(() => (found = events.find((e) => e.event === event && pred(e.data))) !== undefined, timeoutMs, `event ${event}`);
      return found.data;
    },
    close: async () => {
      controller.abort();
      await pump;
    },
  };
}
