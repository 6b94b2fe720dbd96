/**
 * A list+watch cache of one resource, like client-go's informer: list (remembering the
 * list's resourceVersion), then watch from there with bookmarks; a watch that ends cleanly is
 * resumed from the last resourceVersion seen (events or bookmarks); 410 Gone (an ERROR event
 * or the HTTP status) relists, and objects that vanished meanwhile are reported deleted; other
 * failures back off and retry, never give up. (Periodic resync is the consumer's: it re-reads
 * list() on a timer.) Indexers (client-go's Indexer) keep lookups such as "pods of this
 * workflow" from scanning the whole cache.
 *
 * client-node's ListWatch is not used: it cannot ask for bookmarks and stops for good on any
 * error other than 410.
 */
import type { Watch } from '@kubernetes/client-node';
import { kubeStatus } from './api-errors.js';

/** What the cache needs of an object: typed API models and plain custom resources alike. */
export interface KubernetesObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  /** Watch path, e.g. /api/v1/pods or /apis/torc.dev/v1alpha1/namespaces/ns/workflows. */
  path: string;
  watch: Watch;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  onEvent?: (event: InformerEvent, obj: T) => void;
  onError?: (err: unknown) => void;
  /** Server-side watch timeout; the watch is resumed afterwards (default 300). */
  watchTimeoutSeconds?: number;
  /** Longest retry delay after failures (default 10 s). */
  maxBackoffMs?: number;
  /** Named index functions: the values an object is found under with byIndex(name, value). */
  indexers?: Record<string, (obj: T) => string[]>;
  /**
   * Applied to every object before it is cached or reported (client-go's TransformFunc): keep
   * only the fields the consumer reads, so a cache of tens of thousands of pods stays small.
   */
  transform?: (obj: T) => T;
}

export const objectKey = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class Informer<T extends KubernetesObject> {
  private readonly cache = new Map<string, T>();
  /** index name → value → object keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  private resourceVersion = '';
  private stopped = true;
  private abort: (() => void) | null = null;
  private wake: (() => void) | null = null;
  private synced!: Promise<void>;
  private markSynced!: () => void;
  private loop: Promise<void> | null = null;
  /** Number of (re)lists done; a relist after 410 increments it. */
  lists = 0;

  constructor(private readonly opts: InformerOptions<T>) {
    this.resetSynced();
    for (const name of Object.keys(opts.indexers ?? {})) this.indices.set(name, new Map());
  }

  private resetSynced(): void {
    this.synced = new Promise((r) => { this.markSynced = r; });
  }

  /** Starts list+watch; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    if (!this.stopped) return this.synced;
    this.stopped = false;
    this.loop = this.run();
    await this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.();
    this.wake?.();
    await this.loop;
    this.loop = null;
    this.resetSynced();
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace ?? ''}/${name}`);
  }

  /** Cached objects the named indexer files under `value`. */
  byIndex(index: string, value: string): T[] {
    const idx = this.indices.get(index);
    if (!idx) throw new Error(`no indexer named ${index}`);
    return [...(idx.get(value) ?? [])].map((k) => this.cache.get(k)!);
  }

  private put(key: string, obj: T): void {
    this.unindex(key);
    this.cache.set(key, obj);
    for (const [name, fn] of Object.entries(this.opts.indexers ?? {})) {
      const idx = this.indices.get(name)!;
      for (const value of fn(obj)) {
        let keys = idx.get(value);
        if (!keys) idx.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  private remove(key: string): void {
    this.unindex(key);
    this.cache.delete(key);
  }

  private unindex(key: string): void {
    const old = this.cache.get(key);
    if (!old) return;
    for (const [name, fn] of Object.entries(this.opts.indexers ?? {})) {
      const idx = this.indices.get(name)!;
      for (const value of fn(old)) {
        const keys = idx.get(value);
        keys?.delete(key);
        if (keys?.size === 0) idx.delete(value);
      }
    }
  }

  private emit(event: InformerEvent, obj: T): void {
    try {
      this.opts.onEvent?.(event, obj);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private async relist(): Promise<void> {
    const res = await this.opts.list();
    this.lists++;
    const slim = this.opts.transform ?? ((o: T) => o);
    const fresh = new Map(res.items.map((o) => [objectKey(o), slim(o)] as const));
    for (const [key, old] of this.cache) {
      if (!fresh.has(key)) {
        this.remove(key);
        this.emit('delete', old);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.cache.get(key);
      this.put(key, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj);
    }
    this.resourceVersion = res.metadata?.resourceVersion ?? '';
  }

  private onWatchEvent(type: string, raw: any): void {
    if (type === 'ERROR') {
      // 410 Gone: our resourceVersion is too old; the stream ends and we relist.
      if (raw?.code === 410) this.resourceVersion = '';
      else this.opts.onError?.(new Error(`watch ${this.opts.path}: ${raw?.message ?? JSON.stringify(raw)}`));
      return;
    }
    const rv = raw?.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const obj = this.opts.transform ? this.opts.transform(raw as T) : (raw as T);
    const key = objectKey(obj);
    if (type === 'DELETED') {
      this.remove(key);
      this.emit('delete', obj);
    } else if (type === 'ADDED' || type === 'MODIFIED') {
      const had = this.cache.has(key);
      this.put(key, obj);
      this.emit(had ? 'update' : 'add', obj);
    }
    if (rv) this.resourceVersion = rv;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(t); this.wake = null; resolve(); };
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) {
          await this.relist();
          this.markSynced();
        }
        const err = await new Promise<unknown>((resolve) => {
          const query: Record<string, string | number | boolean> = {
            allowWatchBookmarks: true,
            resourceVersion: this.resourceVersion,
            timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
          };
          if (this.opts.labelSelector) query.labelSelector = this.opts.labelSelector;
          this.opts.watch.watch(this.opts.path, query, (type, obj) => this.onWatchEvent(type, obj), (e) => resolve(e))
            .then((controller) => {
              this.abort = () => controller.abort();
              if (this.stopped) controller.abort();
            }, resolve);
        });
        this.abort = null;
        if (this.stopped) break;
        if (err && kubeStatus(err)?.code === 410) this.resourceVersion = '';
        else if (err && (err as Error).name !== 'AbortError') throw err;
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        failures++;
        this.opts.onError?.(err);
        await this.sleep(Math.min(this.opts.maxBackoffMs ?? 10_000, 100 * 2 ** Math.min(failures, 10)));
      }
    }
  }
}
