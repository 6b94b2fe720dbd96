/**
 * What a runner owes the server, kept until the server acknowledges it: one queue per runner
 * (ServerSession owns it), shared by every runner (torc run, the Slurm worker, the reconciler's
 * own runner) because they all run the one JobRunner over a ServerSession.
 *
 * - A report is any fact the server must learn: a job started, ended or was retried (kinds
 *   'start' and 'end', server-session.ts), resource samples, … A new kind registers a sender
 *   (`register('samples', { deliver })`) and pushes reports of that kind; nothing else changes.
 * - Reports are delivered oldest first. Consecutive reports of one kind go to their sender as one
 *   batch (one bulk call); the sender answers per report: acknowledged (dropped, done), refused
 *   (the server said no for good — a stale attempt, a 4xx: dropped and told), or failed (not
 *   delivered: kept where it is, with everything after it, and tried again after a backoff).
 * - An outage clock (OutageClock) runs from the first failed call after a success; the runner
 *   gives up when it passes `waitForServerMs` (torc's compute_node_wait_for_healthy_database_minutes),
 *   and says which reports were never delivered.
 * Reports are idempotent on the server (by job, run and attempt): a report whose answer was lost
 * is simply sent again, and the server acknowledges the duplicate without applying it twice.
 */

/** Something the server must be told. */
export interface Report {
  /** Which sender delivers it (ReportQueue.register). */
  readonly kind: string;
  /** For people: `job 12 (prep_012) attempt 1: completed, return code 0`. */
  readonly label: string;
}

/** What became of one report in a delivery. */
export type Verdict = { outcome: 'acknowledged' } | { outcome: 'refused'; error: unknown } | { outcome: 'failed'; error: unknown };

export const ACKNOWLEDGED: Verdict = { outcome: 'acknowledged' };

export interface ReportSender<R extends Report> {
  /**
   * Delivers a batch of this kind (oldest first) and answers one verdict per report, in order.
   * A throw counts as 'failed' for the whole batch.
   */
  deliver(batch: R[]): Promise<Verdict[]>;
  /** Most reports per call (default 1000). */
  maxBatch?: number;
  /** The server took it. */
  acknowledged?(report: R): void;
  /** The server refused it for good; it is dropped. */
  refused?(report: R, error: unknown): void;
}

export interface BackoffOptions {
  /** First wait after a failed delivery (default 200 ms); doubles per failure up to maxMs (default 5 s). */
  initialMs?: number;
  maxMs?: number;
}

/**
 * How long the server has been out of reach: from the first failed call after a success, until
 * the next success. One clock per runner, fed by every call it makes.
 */
export class OutageClock {
  /** When the current outage began (ms since the epoch), or null while the server answers. */
  since: number | null = null;
  /** The error that began it and the last one. */
  firstError: unknown = null;
  lastError: unknown = null;
  /** Outages so far and the longest one (ms), for the run's summary. */
  outages = 0;
  longestMs = 0;

  constructor(
    /** Longest outage to wait through; Infinity waits for ever. */
    readonly waitForServerMs: number,
    private readonly hooks: { lost?(error: unknown): void; back?(outageMs: number): void } = {},
    private readonly now: () => number = Date.now,
  ) {}

  get down(): boolean {
    return this.since !== null;
  }

  /** A call failed without an answer (unreachable, timeout, 5xx). */
  failed(error: unknown): void {
    this.lastError = error;
    if (this.since !== null) return;
    this.since = this.now();
    this.firstError = error;
    this.outages++;
    this.hooks.lost?.(error);
  }

  /** The server answered. */
  answered(): void {
    if (this.since === null) return;
    const ms = this.now() - this.since;
    this.longestMs = Math.max(this.longestMs, ms);
    this.since = null;
    this.hooks.back?.(ms);
  }

  /** How long the current outage has lasted (0 while up). */
  get elapsedMs(): number {
    return this.since === null ? 0 : this.now() - this.since;
  }

  /** How much longer the current outage may last before the runner gives up (Infinity while up). */
  get remainingMs(): number {
    return this.since === null ? Infinity : Math.max(0, this.waitForServerMs - (this.now() - this.since));
  }

  /** The outage outlasted the patience: time to give up. */
  get exceeded(): boolean {
    return this.since !== null && this.now() - this.since >= this.waitForServerMs;
  }
}

interface Kept {
  report: Report;
  /** Failed deliveries so far. */
  failures: number;
  /** Kept while the server was away (made during an outage, or waiting behind a failed delivery). */
  duringOutage: boolean;
  /** Taken out with remove() (perhaps while a delivery of it was on its way). */
  removed?: boolean;
}

export class ReportQueue {
  private readonly senders = new Map<string, ReportSender<Report>>();
  private readonly kept: Kept[] = [];
  private flushing: Promise<boolean> | null = null;
  private failuresInRow = 0;
  private nextAttemptAt = 0;
  /** Reports acknowledged after they were kept through an outage (a failed delivery, or made while the server was away). */
  replayed = 0;
  /** Every report acknowledged. */
  delivered = 0;

  constructor(
    readonly clock: OutageClock,
    private readonly backoff: BackoffOptions = {},
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  register<R extends Report>(kind: string, sender: ReportSender<R>): void {
    if (this.senders.has(kind)) throw new Error(`a sender for "${kind}" reports is registered already`);
    this.senders.set(kind, sender as unknown as ReportSender<Report>);
  }

  push(...reports: Report[]): void {
    for (const report of reports) {
      if (!this.senders.has(report.kind)) throw new Error(`no sender for "${report.kind}" reports`);
      this.kept.push({ report, failures: 0, duringOutage: this.clock.down });
    }
  }

  get size(): number {
    return this.kept.length;
  }

  /** The reports not delivered yet, oldest first. */
  pending(): Report[] {
    return this.kept.map((k) => k.report);
  }

  /** Some delivery failed and is waiting to be tried again. */
  get stalled(): boolean {
    return this.kept.some((k) => k.failures > 0);
  }

  /** Milliseconds until the next delivery may be tried (0: now). */
  retryInMs(): number {
    return Math.max(0, this.nextAttemptAt - this.now());
  }

  /** Removes (and returns) the reports `drop` selects: ones that must never be sent. */
  remove(drop: (report: Report) => boolean): Report[] {
    const out: Report[] = [];
    for (let i = this.kept.length - 1; i >= 0; i--) {
      const k = this.kept[i]!;
      if (!drop(k.report)) continue;
      k.removed = true;
      this.kept.splice(i, 1);
      out.unshift(k.report);
    }
    return out;
  }

  /**
   * Delivers what it can now, oldest first, stopping at the first batch that fails (its
   * reports and all later ones are kept, in order). Waits out the backoff unless `now`.
   * Resolves true when nothing is left to deliver.
   */
  flush(now = false): Promise<boolean> {
    if (this.kept.length === 0) return Promise.resolve(true);
    if (!now && this.retryInMs() > 0) return Promise.resolve(false);
    this.flushing ??= this.deliverAll().finally(() => (this.flushing = null));
    return this.flushing;
  }

  /**
   * Flushes until empty, trying again with backoff, while `keepGoing()` holds (the caller's
   * patience: a deadline, the outage clock). Resolves true when everything was delivered.
   */
  async drain(keepGoing: () => boolean): Promise<boolean> {
    for (;;) {
      if (await this.flush(true)) return true;
      if (!keepGoing()) return false;
      await new Promise((r) => setTimeout(r, Math.max(10, this.retryInMs())));
      if (!keepGoing()) return this.flush(true);
    }
  }

  private async deliverAll(): Promise<boolean> {
    while (this.kept.length > 0) {
      const head = this.kept[0]!.report.kind;
      const sender = this.senders.get(head)!;
      const max = Math.max(1, sender.maxBatch ?? 1000);
      let n = 0;
      while (n < this.kept.length && n < max && this.kept[n]!.report.kind === head) n++;
      const batch = this.kept.slice(0, n);
      let verdicts: Verdict[];
      try {
        verdicts = await sender.deliver(batch.map((k) => k.report));
        if (verdicts.length !== batch.length) throw new Error(`the ${head} sender answered ${verdicts.length} verdicts for ${batch.length} reports`);
      } catch (error) {
        verdicts = batch.map(() => ({ outcome: 'failed', error }) as Verdict);
      }
      const keep: Kept[] = [];
      let failure: unknown = undefined;
      // An answer (even a refusal) means the server is back: say so before what it answered.
      if (verdicts.some((v) => v.outcome !== 'failed')) {
        this.clock.answered();
        this.failuresInRow = 0;
        this.nextAttemptAt = 0;
      }
      batch.forEach((k, i) => {
        const v = verdicts[i]!;
        if (k.removed) return;
        if (v.outcome === 'failed') {
          k.failures++;
          failure ??= v.error;
          keep.push(k);
          return;
        }
        if (v.outcome === 'acknowledged') {
          this.delivered++;
          if (k.failures > 0 || k.duringOutage) this.replayed++;
          sender.acknowledged?.(k.report);
        } else {
          sender.refused?.(k.report, v.error);
        }
      });
      // Reports pushed (or removed) while the batch was on its way: the batch leaves the queue,
      // its failed reports go back to its head, in order.
      const inBatch = new Set(batch);
      const rest = this.kept.filter((k) => !inBatch.has(k));
      this.kept.splice(0, this.kept.length, ...keep, ...rest);
      if (keep.length > 0) {
        for (const k of this.kept) k.duringOutage = true;
        this.clock.failed(failure);
        this.failuresInRow++;
        this.nextAttemptAt = this.now() + this.backoffMs();
        return false;
      }
    }
    return true;
  }

  private backoffMs(): number {
    return backoffDelay(this.failuresInRow, this.backoff, this.random);
  }
}

/** The wait after `failures` failures in a row: exponential, capped, ±25% jitter so that many runners do not retry in step. */
export function backoffDelay(failures: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 200;
  const max = options.maxMs ?? 5000;
  const base = Math.min(max, initial * 2 ** Math.min(20, Math.max(0, failures - 1)));
  return Math.round(base * (0.75 + 0.5 * random()));
}
