/**
 * Leader election on a coordination.k8s.io Lease, so that of several operator replicas only
 * one dispatches. Same rules as client-go's leaderelection:
 * - a lease held by someone else counts as expired only after leaseDuration has passed on OUR
 *   clock since we last saw its record change (no trust in other machines' clocks);
 * - every write carries the resourceVersion we read, so of two racing candidates exactly one
 *   wins and the other gets 409 Conflict;
 * - the leader renews every retryPeriod and steps down when it could not renew within
 *   renewDeadline (< leaseDuration), i.e. before anyone else may take over;
 * - stop() releases the lease (holder cleared) so a successor need not wait.
 */
import { V1MicroTime, type CoordinationV1Api, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, isNotFound } from './api-errors.js';

export interface LeaderElectionOptions {
  namespace: string;
  /** Lease name, e.g. "torc-operator". */
  name: string;
  /** This replica's identity (pod name + random suffix). */
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  /** Errors talking to the API server (they never throw out of run()). */
  onError?: (err: unknown) => void;
  /** Clock in ms, for tests. */
  now?: () => number;
}

export class LeaderElector {
  private readonly opts: Required<Omit<LeaderElectionOptions, 'onStartedLeading' | 'onStoppedLeading' | 'onError' | 'now'>> & LeaderElectionOptions;
  private readonly now: () => number;
  private observedRecord = '';
  private observedAt = 0;
  private lastRenew = -Infinity;
  private leading = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly api: CoordinationV1Api, opts: LeaderElectionOptions) {
    // `??`, not a spread: callers pass explicit undefineds for "default".
    this.opts = {
      ...opts,
      leaseDurationSeconds: opts.leaseDurationSeconds ?? 15,
      renewDeadlineSeconds: opts.renewDeadlineSeconds ?? 10,
      retryPeriodSeconds: opts.retryPeriodSeconds ?? 2,
    };
    if (this.opts.renewDeadlineSeconds >= this.opts.leaseDurationSeconds) {
      throw new RangeError('renewDeadlineSeconds must be less than leaseDurationSeconds');
    }
    this.now = opts.now ?? Date.now;
  }

  /** Leader now: elected and renewed within renewDeadline (checked on every call, not only by the loop). */
  get isLeader(): boolean {
    return this.leading && this.now() - this.lastRenew < this.opts.renewDeadlineSeconds * 1000;
  }

  get identity(): string {
    return this.opts.identity;
  }

  private spec(prev: V1LeaseSpec | undefined, now: number): V1LeaseSpec {
    const mine = prev?.holderIdentity === this.opts.identity;
    const t = new V1MicroTime(now);
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: this.opts.leaseDurationSeconds,
      acquireTime: mine && prev?.acquireTime ? new V1MicroTime(new Date(prev.acquireTime).getTime()) : t,
      renewTime: t,
      leaseTransitions: mine ? (prev?.leaseTransitions ?? 0) : (prev?.leaseTransitions ?? -1) + 1,
    };
  }

  private observe(lease: V1Lease): void {
    const record = JSON.stringify([lease.spec?.holderIdentity ?? '', String(lease.spec?.renewTime ?? ''), lease.metadata?.resourceVersion]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = this.now();
    }
  }

  /** One attempt to acquire or renew; true when we hold the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const now = this.now();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        const created = await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.spec(undefined, now) } });
        this.observe(created);
        return true;
      } catch (e) {
        if (isAlreadyExists(e) || isConflict(e)) return false;
        throw e;
      }
    }
    this.observe(lease);
    const holder = lease.spec?.holderIdentity ?? '';
    const duration = (lease.spec?.leaseDurationSeconds ?? this.opts.leaseDurationSeconds) * 1000;
    if (holder && holder !== identity && this.observedAt + duration > now) return false;
    try {
      const updated = await this.api.replaceNamespacedLease({
        namespace, name,
        body: { ...lease, metadata: { ...lease.metadata, resourceVersion: lease.metadata?.resourceVersion }, spec: this.spec(lease.spec, now) },
      });
      this.observe(updated);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Runs the election loop until stop(); resolves then. */
  start(): Promise<void> {
    this.stopped = false;
    this.loop ??= this.run().finally(() => { this.loop = null; });
    return this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const attemptAt = this.now();
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.opts.onError?.(err);
      }
      if (this.stopped) break;
      if (ok) {
        this.lastRenew = attemptAt;
        if (!this.leading) {
          this.leading = true;
          this.opts.onStartedLeading?.();
        }
      } else if (this.leading && (this.now() - this.lastRenew >= this.opts.renewDeadlineSeconds * 1000 || this.heldByOther())) {
        this.stepDown();
      }
      await this.sleep(this.opts.retryPeriodSeconds * 1000);
    }
  }

  private heldByOther(): boolean {
    try {
      const [holder] = JSON.parse(this.observedRecord || '[""]') as string[];
      return !!holder && holder !== this.opts.identity;
    } catch {
      return false;
    }
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.leading = false;
    this.opts.onStoppedLeading?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(timer); this.wake = null; resolve(); };
    });
  }

  /** Stops the loop; when leading and `release`, clears the holder so a successor takes over at once. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    const wasLeading = this.leading;
    this.stepDown();
    if (!wasLeading || opts.release === false) return;
    const { namespace, name, identity } = this.opts;
    try {
      const lease = await this.api.readNamespacedLease({ namespace, name });
      if (lease.spec?.holderIdentity !== identity) return;
      const t = new V1MicroTime(this.now());
      await this.api.replaceNamespacedLease({
        namespace, name,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: t, acquireTime: t } },
      });
    } catch (err) {
      this.opts.onError?.(err);
    }
  }
}
