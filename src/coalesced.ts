/**
 * A reconcile pass that never overlaps itself: a trigger during a pass asks for one more pass
 * after it (many triggers fold into one), so every change is seen by a pass that started after
 * it. Used by the reconciler and by the Kubernetes operator.
 */
export class CoalescedPass {
  private running: Promise<void> | null = null;
  private again = false;

  /** `repeatWhile`: whether a pass asked for during the last one should still run. */
  constructor(
    private readonly body: () => Promise<void>,
    private readonly repeatWhile: () => boolean = () => true,
  ) {}

  /** Runs a pass now, or once more after the one in progress; resolves when passes settle. */
  trigger(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.body();
        } while (this.again && this.repeatWhile());
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** The passes in progress, if any (await it before tearing down what a pass uses). */
  get current(): Promise<void> | null {
    return this.running;
  }
}
