/**
 * Sleep that can be cut short: the runner loop waits for its poll interval, and a finished
 * job (or stop()) wakes it at once. A wake with nobody waiting is remembered, so none is lost.
 */
export class Waker {
  private pending = false;
  private wakeWaiter: (() => void) | undefined;

  wake(): void {
    const w = this.wakeWaiter;
    if (w) {
      this.wakeWaiter = undefined;
      w();
    } else {
      this.pending = true;
    }
  }

  /** Resolves after `ms` or at the next wake(), whichever comes first. */
  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeWaiter = undefined;
        resolve();
      }, ms);
      this.wakeWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
