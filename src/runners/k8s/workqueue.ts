/**
 * A rate-limited work queue of keys, shaped like client-go's workqueue as controller-runtime
 * uses it:
 * - de-duplicated: a key is queued at most once; a key added while it is being processed is
 *   marked dirty and queued again when done() is called, so one key is never processed by two
 *   workers at once and no change is lost;
 * - delayed: addAfter(key, ms) queues it later (a key waiting twice keeps the earlier time);
 * - rate-limited: addRateLimited(key) waits base·2^failures (capped) for that key; forget(key)
 *   resets its count after a success;
 * - shutDown() wakes every waiting get() with undefined and drops what is queued.
 * Time comes from a Clock, so tests drive delays without waiting for them.
 */

export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending requeue alone does not keep the process alive (the watches do while running).
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface BackoffOptions {
  /** First retry delay after an error (default 50 ms). */
  baseDelayMs?: number;
  /** Longest retry delay (default 2 minutes: well inside the operator's 5-minute lease on its running jobs). */
  maxDelayMs?: number;
}

export interface WorkQueueOptions extends BackoffOptions {
  clock?: Clock;
  /** How many requeue records to keep (oldest dropped first; default 1000). */
  historyLimit?: number;
}

/** A delayed requeue as asked for: after an error (backoff) or for timed work (requeue-after). */
export interface RequeueRecord<K> {
  key: K;
  reason: 'rate-limited' | 'after';
  delayMs: number;
  /** Clock time when it was asked for. */
  at: number;
}

export class WorkQueue<K = string> {
  private readonly clock: Clock;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly historyLimit: number;
  /** Keys ready to be handed out, in order. */
  private queue: K[] = [];
  /** Keys that need processing (queued, or added while processing). */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  /** Delayed keys: when each becomes ready. */
  private readonly waiting = new Map<K, number>();
  private timer: { at: number; cancel: () => void } | null = null;
  private readonly failures = new Map<K, number>();
  private readonly getters: ((key: K | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly requeues: RequeueRecord<K>[] = [];

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.baseDelayMs = opts.baseDelayMs ?? 50;
    this.maxDelayMs = opts.maxDelayMs ?? 2 * 60_000;
    this.historyLimit = opts.historyLimit ?? 1000;
    if (!(this.baseDelayMs > 0) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new RangeError(`backoff needs 0 < baseDelayMs ≤ maxDelayMs, got ${this.baseDelayMs} and ${this.maxDelayMs}`);
    }
  }

  /** Keys ready to be processed now (not counting delayed ones or those being processed). */
  get length(): number {
    return this.queue.length;
  }

  /** Keys waiting for a delay to pass. */
  get delayed(): number {
    return this.waiting.size;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Queues `key` now, unless it is queued already; a key being processed is queued again once done. */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Queues `key` after `ms` (at once when ms ≤ 0). */
  addAfter(key: K, ms: number): void {
    this.delay(key, ms, 'after');
  }

  /** Queues `key` after its backoff: base·2^(failures so far), capped; counts one more failure. Returns the delay. */
  addRateLimited(key: K): number {
    const ms = this.nextBackoff(key);
    this.delay(key, ms, 'rate-limited');
    return ms;
  }

  /** Resets the key's failure count (after a successful reconcile). */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** Failures counted for the key since it was last forgotten. */
  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process (marked as processing until done()), or undefined once shut down. */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Ends processing of `key`; when it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  /** Stops handing out keys: waiting get()s resolve undefined, queued and delayed keys are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    this.timer?.cancel();
    this.timer = null;
    this.waiting.clear();
    this.queue = [];
    this.dirty.clear();
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  /** Delayed requeues asked for, oldest first (the last `historyLimit`); optionally of one key. */
  requeueHistory(key?: K): RequeueRecord<K>[] {
    return key === undefined ? [...this.requeues] : this.requeues.filter((r) => r.key === key);
  }

  private nextBackoff(key: K): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    // 2^failures overflows to Infinity long after the cap; Math.min keeps it finite.
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** failures);
  }

  private delay(key: K, ms: number, reason: RequeueRecord<K>['reason']): void {
    if (this.shuttingDown) return;
    const now = this.clock.now();
    this.requeues.push({ key, reason, delayMs: ms, at: now });
    if (this.requeues.length > this.historyLimit) this.requeues.splice(0, this.requeues.length - this.historyLimit);
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = now + ms;
    const current = this.waiting.get(key);
    if (current !== undefined && current <= readyAt) return;
    this.waiting.set(key, readyAt);
    this.arm(readyAt);
  }

  /** Keeps one timer, set for the earliest delayed key. */
  private arm(readyAt: number): void {
    if (this.timer && this.timer.at <= readyAt) return;
    this.timer?.cancel();
    const at = readyAt;
    this.timer = { at, cancel: this.clock.setTimer(() => this.fire(), Math.max(0, at - this.clock.now())) };
  }

  private fire(): void {
    this.timer = null;
    if (this.shuttingDown) return;
    const now = this.clock.now();
    let next = Infinity;
    for (const [key, readyAt] of [...this.waiting]) {
      if (readyAt <= now) {
        this.waiting.delete(key);
        this.add(key);
      } else next = Math.min(next, readyAt);
    }
    if (next !== Infinity) this.arm(next);
  }

  private push(key: K): void {
    const getter = this.getters.shift();
    if (getter) {
      this.dirty.delete(key);
      this.processing.add(key);
      getter(key);
    } else this.queue.push(key);
  }

  private take(): K | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}
