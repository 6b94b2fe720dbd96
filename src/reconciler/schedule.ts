/**
 * A workflow with a `schedule` (cron expression): it runs now (reconciling whatever state it is
 * in), and at every tick of the schedule it is reset (every job back to uninitialized, a new
 * run) and runs again. A tick that comes while a run is still going is skipped and recorded as
 * a `schedule_tick_skipped` event, so runs never overlap. It goes on until stop() (Ctrl-C),
 * `maxRuns` runs have finished, or a run ends Canceled (a canceled workflow stays canceled).
 */
import type { CronJob } from 'cron';
import { InputError } from '../errors.js';
import { loadCron } from '../lazy-modules.js';
import type { Store } from '../store/index.js';
import type { ReconcileResult } from './reconciler.js';

export interface ScheduledRunsOptions {
  store: Store;
  workflowId: number;
  /** Cron expression (5 fields, or 6 with seconds first). */
  schedule: string;
  /** Runs the workflow once to the end (a fresh Reconciler each time). */
  runOnce: (run: number) => Promise<ReconcileResult>;
  /** Stop after this many finished runs (the first one included); null: until stopped. */
  maxRuns?: number | null;
  onRunDone?: (run: number, result: ReconcileResult) => void;
  onSkip?: (tick: Date) => void;
}

export class ScheduledRuns {
  private readonly o: ScheduledRunsOptions;
  private readonly results: ReconcileResult[] = [];
  private running: Promise<void> | null = null;
  private stopping = false;
  private failure: unknown = undefined;
  private job: CronJob | null = null;
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(options: ScheduledRunsOptions) {
    const check = loadCron().validateCronExpression(options.schedule);
    if (!check.valid) throw new InputError(`invalid cron expression "${options.schedule}"${check.error ? `: ${check.error.message}` : ''}`, 'spec.schedule');
    if (options.maxRuns != null && !(Number.isInteger(options.maxRuns) && options.maxRuns >= 1)) {
      throw new InputError(`expected a whole number ≥ 1, got ${options.maxRuns}`, '--max-runs');
    }
    this.o = options;
  }

  /** Resolves with every finished run's result once the schedule ends. */
  async run(): Promise<ReconcileResult[]> {
    this.job = loadCron().CronJob.from({ cronTime: this.o.schedule, onTick: () => this.tick(), start: true });
    this.start(false);
    await this.done;
    this.job.stop();
    await this.running;
    if (this.failure !== undefined) throw this.failure;
    return this.results;
  }

  /** Ends the schedule; the run in progress is left to the caller to stop (it is awaited). */
  stop(): void {
    this.stopping = true;
    this.job?.stop();
    if (!this.running) this.resolveDone();
  }

  private tick(): void {
    if (this.stopping) return;
    if (this.running) {
      const at = new Date();
      this.o.onSkip?.(at);
      void this.o.store
        .appendEvent(this.o.workflowId, 'schedule_tick_skipped', { tick: at.toISOString(), reason: 'the previous run is still going' })
        .catch(() => undefined);
      return;
    }
    this.start(true);
  }

  private start(reset: boolean): void {
    const n = this.results.length + 1;
    this.running = (async () => {
      try {
        if (reset) {
          const out = await this.o.store.resetStatus(this.o.workflowId);
          await this.o.store.appendEvent(this.o.workflowId, 'schedule_run_started', { run: n, run_id: out.run_id });
        }
        const result = await this.o.runOnce(n);
        this.results.push(result);
        this.o.onRunDone?.(n, result);
        const enough = this.o.maxRuns != null && this.results.length >= this.o.maxRuns;
        if (enough || result.status.phase === 'Canceled' || result.stuck) this.stopping = true;
      } catch (e) {
        this.failure = e;
        this.stopping = true;
      } finally {
        this.running = null;
        if (this.stopping) this.resolveDone();
      }
    })();
  }
}
