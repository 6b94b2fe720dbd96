/**
 * Re-reads for live views, at most one at a time and at most one every `gapMs`: a burst of
 * changes (a reconcile finishing hundreds of jobs a second) becomes a few reads, and the
 * last change is always followed by a read that started after it. A read the user asked for
 * (a key) does not wait for the gap. What each read covers accumulates until it runs.
 */
import { CoalescedPass } from '../../coalesced.js';

export class Refresher<Part extends string> {
  private readonly pass: CoalescedPass;
  private wanted = new Set<Part>();
  private urgent = false;
  private last = 0;
  private stopped = false;

  constructor(
    read: (parts: Set<Part>) => Promise<void>,
    private readonly gapMs = 250,
  ) {
    this.pass = new CoalescedPass(
      async () => {
        const wait = this.urgent ? 0 : this.last + this.gapMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        this.urgent = false;
        const parts = this.wanted;
        this.wanted = new Set();
        this.last = Date.now();
        if (parts.size > 0 && !this.stopped) await read(parts);
      },
      () => !this.stopped,
    );
  }

  /** Reads `parts` soon (`urgent`: without waiting for the gap). */
  trigger(parts: Part[], urgent = false): void {
    if (this.stopped) return;
    for (const p of parts) this.wanted.add(p);
    if (urgent) this.urgent = true;
    // `read` reports its own failures; a rejection here must not end the process.
    this.pass.trigger().catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
  }
}
