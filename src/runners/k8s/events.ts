/**
 * Kubernetes Events on the objects the operator manages (`kubectl describe workflow` shows
 * them). Repeats of the same event on the same object are folded into one with a count, like
 * client-go's event correlator, so a retry loop cannot flood the API server. Best effort: a
 * failed event write is reported to onError, never thrown.
 */
import { randomBytes } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  component: string;
  /** This replica (pod name), for reportingInstance / source.host. */
  instance: string;
  onError?: (err: unknown) => void;
  /** Max remembered (object, reason, message) keys for folding repeats. */
  cacheSize?: number;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  /** The event's writes, one after the other: the create, then each count update. */
  writes: Promise<void>;
}

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly core: CoreV1Api, private readonly opts: EventRecorderOptions) {}

  /**
   * Records an event; a repeat of one already recorded (same object, type, reason and message)
   * raises its count instead, even while the first one is still being created.
   */
  async record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void> {
    const key = JSON.stringify([target.namespace, target.kind, target.name, target.uid ?? '', type, reason, message]);
    const now = new Date();
    const prev = this.seen.get(key);
    if (prev) {
      prev.count++;
      this.seen.delete(key);
      this.seen.set(key, prev); // most recently used last
      // After the writes before it, with the count as it is then: counts only go up.
      prev.writes = prev.writes.then(() => {
        if (this.seen.get(key) !== prev) return undefined; // its create failed
        return this.core.patchNamespacedEvent(
          { namespace: prev.namespace, name: prev.name, body: { count: prev.count, lastTimestamp: now.toISOString() } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ).then(() => undefined, (err) => this.failed(key, prev, err));
      });
      return prev.writes;
    }
    const name = `${target.name}.${randomBytes(8).toString('hex')}`;
    const entry: Seen = { name, namespace: target.namespace, count: 1, writes: Promise.resolve() };
    this.seen.set(key, entry);
    const max = this.opts.cacheSize ?? 1000;
    while (this.seen.size > max) this.seen.delete(this.seen.keys().next().value!);
    entry.writes = this.core.createNamespacedEvent({
      namespace: target.namespace,
      body: {
        metadata: { name, namespace: target.namespace },
        involvedObject: { apiVersion: target.apiVersion, kind: target.kind, name: target.name, namespace: target.namespace, uid: target.uid },
        reason, message: message.slice(0, 1024), type,
        source: { component: this.opts.component, host: this.opts.instance },
        reportingComponent: this.opts.component, reportingInstance: this.opts.instance,
        firstTimestamp: now, lastTimestamp: now, count: 1,
      },
    }).then(() => undefined, (err) => this.failed(key, entry, err));
    return entry.writes;
  }

  /** A write failed (the folded event may have expired): the next repeat starts a new event. */
  private failed(key: string, entry: Seen, err: unknown): void {
    if (this.seen.get(key) === entry) this.seen.delete(key);
    this.opts.onError?.(err);
  }
}
