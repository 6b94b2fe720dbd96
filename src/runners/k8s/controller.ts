/**
 * controller-runtime's Controller: watches put keys on a rate-limited work queue, a bounded
 * number of workers take them off and reconcile one key each at a time. A reconcile that
 * succeeds resets the key's backoff and may ask to be called again after a delay (timed work);
 * one that throws is retried after the key's next backoff delay, so a workflow that fails every
 * time is retried ever less often and never holds up the others.
 */
import { WorkQueue, type BackoffOptions, type Clock } from './workqueue.js';

export interface ReconcileResult {
  /** Reconcile this key again after this many ms (0: as soon as a worker is free). */
  requeueAfterMs?: number;
}

export interface ControllerOptions<K> {
  reconcile: (key: K) => Promise<ReconcileResult | void>;
  /** Keys reconciled at once (default 4). */
  maxConcurrentReconciles?: number;
  backoff?: BackoffOptions;
  clock?: Clock;
  /** A reconcile failed; it is retried in `retryInMs`. */
  onError?: (key: K, err: unknown, retryInMs: number) => void;
  /** After every reconcile, successful or not (the key is no longer being processed). */
  onProcessed?: (key: K, ok: boolean, ms: number) => void;
}

export class Controller<K = string> {
  readonly queue: WorkQueue<K>;
  private readonly workers: Promise<void>[] = [];
  private readonly counts = new Map<K, number>();
  private readonly now: () => number;
  /** Reconciles done, all keys. */
  reconciles = 0;

  constructor(private readonly o: ControllerOptions<K>) {
    const n = o.maxConcurrentReconciles ?? 4;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`maxConcurrentReconciles must be a whole number ≥ 1, got ${n}`);
    this.queue = new WorkQueue<K>({ ...o.backoff, clock: o.clock });
    const clock = o.clock;
    this.now = clock ? () => clock.now() : () => Date.now();
  }

  /** Starts the workers (keys added before are processed then). */
  start(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < (this.o.maxConcurrentReconciles ?? 4); i++) this.workers.push(this.work());
  }

  enqueue(key: K): void {
    this.queue.add(key);
  }

  /** Reconciles done for one key. */
  reconcileCount(key: K): number {
    return this.counts.get(key) ?? 0;
  }

  /** Stops handing out keys and waits for the reconciles in progress to end. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const started = this.now();
      let ok = false;
      try {
        const result = await this.o.reconcile(key);
        ok = true;
        this.queue.forget(key);
        const after = result?.requeueAfterMs;
        if (after !== undefined && Number.isFinite(after)) this.queue.addAfter(key, Math.max(0, after));
      } catch (err) {
        if (!this.queue.isShuttingDown) {
          const retryIn = this.queue.addRateLimited(key);
          this.o.onError?.(key, err, retryIn);
        }
      } finally {
        this.reconciles++;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        this.queue.done(key);
      }
      try {
        this.o.onProcessed?.(key, ok, this.now() - started);
      } catch {
        // a broken observer must not stop the worker
      }
    }
  }
}
