/**
 * Live view of a reconcile: a progress bar on a TTY (done/total, running, failed, jobs/s, ETA),
 * plain timestamped log lines otherwise (CI logs, `nohup`, a login node's batch session).
 */
import cliProgress from 'cli-progress';
import type { WorkflowStatusView } from '../contract/workflow-status.js';
import type { RunnerEvent } from '../runners/local/job-runner.js';

export interface ProgressView {
  status(s: WorkflowStatusView): void;
  runnerEvent(e: RunnerEvent): void;
  notice(message: string): void;
  stop(): void;
}

export function createProgressView(options: { tty: boolean; name: string; quiet?: boolean }): ProgressView {
  return options.tty ? new BarView(options.name) : new LogView(options.name, options.quiet ?? false);
}

function failedCount(s: WorkflowStatusView): number {
  return s.counts.failed + s.counts.terminated + s.counts.canceled + s.counts.pending_failed;
}

class BarView implements ProgressView {
  private readonly bar = new cliProgress.SingleBar(
    {
      format: '{name} [{bar}] {value}/{total} done | {running} running | {failed} failed | {rate} jobs/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  private started = false;
  private readonly t0 = Date.now();

  constructor(private readonly name: string) {}

  status(s: WorkflowStatusView): void {
    const elapsed = (Date.now() - this.t0) / 1000;
    const payload = {
      name: this.name,
      running: s.counts.running + s.counts.pending,
      failed: failedCount(s),
      rate: elapsed > 0 ? (s.done / elapsed).toFixed(1) : '0.0',
    };
    if (!this.started) {
      this.bar.start(s.total, s.done, payload);
      this.started = true;
    } else {
      this.bar.setTotal(s.total);
      this.bar.update(s.done, payload);
    }
  }

  runnerEvent(e: RunnerEvent): void {
    if (e.type === 'job_finished' && e.outcome.status !== 5) {
      this.above(`job ${e.job.name} (id ${e.job.id}) ${describeOutcome(e)}`);
    }
  }

  notice(message: string): void {
    this.above(message);
  }

  /** A line printed above the bar (the bar redraws itself on its next update). */
  private above(message: string): void {
    process.stderr.write(`${this.started ? '\r\x1b[K' : ''}${message}\n`);
  }

  stop(): void {
    if (this.started) this.bar.stop();
  }
}

class LogView implements ProgressView {
  private lastLine = 0;
  private lastPhase = '';
  constructor(
    private readonly name: string,
    private readonly quiet: boolean,
  ) {}

  private log(line: string): void {
    process.stderr.write(`${new Date().toISOString()} ${this.name}: ${line}\n`);
  }

  status(s: WorkflowStatusView): void {
    const now = Date.now();
    // One line a second at most, but always on a phase change.
    if (s.phase === this.lastPhase && now - this.lastLine < 1000) return;
    this.lastLine = now;
    this.lastPhase = s.phase;
    if (this.quiet && s.phase === 'Running') return;
    this.log(`${s.phase}: ${s.done}/${s.total} done, ${s.counts.running} running, ${s.counts.ready} ready, ${s.counts.blocked} blocked, ${failedCount(s)} failed`);
  }

  runnerEvent(e: RunnerEvent): void {
    if (e.type === 'job_finished' && e.outcome.status !== 5) this.log(`job ${e.job.name} (id ${e.job.id}) ${describeOutcome(e)}`);
    if (e.type === 'warning') this.log(`warning: ${e.message}`);
  }

  notice(message: string): void {
    this.log(message);
  }

  stop(): void {}
}

function describeOutcome(e: Extract<RunnerEvent, { type: 'job_finished' }>): string {
  const what = e.outcome.status === 8 ? 'terminated' : e.outcome.status === 6 ? 'failed' : `ended with status ${e.outcome.status}`;
  return `${what} (return code ${e.outcome.return_code})`;
}
