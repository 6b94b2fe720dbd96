/**
 * Workflows waiting for room on the cluster's nodes, and whose turn it is when room frees up.
 *
 * The operator reconciles a workflow when its own pods change, so without a line the workflow
 * whose pod just finished would take the freed room again and again while others wait. Here
 * the waiter served least recently (never served first, then in order of joining) goes first:
 * a workflow may claim only when no waiter ranked before it is still to try since room was last
 * freed (or is being woken to try now), and the operator wakes waiters one at a time, in rank
 * order, while room is left. A waiter that tried and found nothing that fits keeps its place
 * but lets the next one try, so one workflow with jobs too big for the free room never blocks
 * the others; nor does one whose reconcile fails (it leaves the line).
 */
export class RoomLine<K = string> {
  /** Waiting workflows → the order they joined in. */
  private readonly waiting = new Map<K, number>();
  /** When each workflow last got room (a sequence number). */
  private readonly served = new Map<K, number>();
  /** Waiters that have tried since room was last freed. */
  private readonly tried = new Set<K>();
  /** The waiter woken to take freed room, until its turn is over. */
  private wokenKey: K | undefined;
  private seq = 0;

  get size(): number {
    return this.waiting.size;
  }

  has(key: K): boolean {
    return this.waiting.has(key);
  }

  /** Lower goes first: never served before served, earlier served before later, then join order. */
  private rank(key: K): [number, number] {
    return [this.served.get(key) ?? -1, this.waiting.get(key) ?? Infinity];
  }

  private static before(a: [number, number], b: [number, number]): boolean {
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  }

  /** The waiter woken to take freed room whose turn is not over yet. */
  get woken(): K | undefined {
    return this.wokenKey;
  }

  /** Whether `key` may claim now: no waiter ranked before it is still to try, or trying now. */
  mayClaim(key: K): boolean {
    const mine = this.rank(key);
    for (const k of this.waiting.keys()) {
      if (k !== key && (!this.tried.has(k) || k === this.wokenKey) && RoomLine.before(this.rank(k), mine)) return false;
    }
    return true;
  }

  /** `key`'s turn is over (it claimed, found nothing, or its reconcile ended without a claim). */
  turnOver(key: K): void {
    if (this.wokenKey === key) this.wokenKey = undefined;
  }

  /** `key` has ready jobs and got no room (`tried`: it had its turn and nothing fit); it keeps its place when already waiting. */
  wait(key: K, tried: boolean): void {
    if (!this.waiting.has(key)) this.waiting.set(key, ++this.seq);
    if (tried) this.tried.add(key);
  }

  /** `key` got room; with jobs still waiting it queues again behind those served before it. */
  gotRoom(key: K, stillWaiting: boolean): void {
    this.served.set(key, ++this.seq);
    this.waiting.delete(key);
    if (stillWaiting) {
      this.waiting.set(key, ++this.seq);
      this.tried.add(key);
    } else this.tried.delete(key);
  }

  /** `key` has nothing waiting for room (no ready jobs, finished, failing). */
  leave(key: K): void {
    this.waiting.delete(key);
    this.tried.delete(key);
    this.turnOver(key);
  }

  /** `key` is gone for good (deleted workflow). */
  forget(key: K): void {
    this.leave(key);
    this.served.delete(key);
  }

  /** Room was freed (a pod finished or went away, a node came or grew): every waiter may try again. */
  roomFreed(): void {
    this.tried.clear();
  }

  /** The next waiter to wake (none while one is being woken): the first-ranked one still to try. */
  next(): K | undefined {
    if (this.wokenKey !== undefined) return undefined;
    let best: K | undefined;
    for (const k of this.waiting.keys()) {
      if (this.tried.has(k)) continue;
      if (best === undefined || RoomLine.before(this.rank(k), this.rank(best))) best = k;
    }
    if (best !== undefined) {
      this.tried.add(best);
      this.wokenKey = best;
    }
    return best;
  }

  clear(): void {
    this.waiting.clear();
    this.served.clear();
    this.tried.clear();
    this.wokenKey = undefined;
  }
}
