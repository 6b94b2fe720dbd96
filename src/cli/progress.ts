/**
 * Live view of a reconcile: a progress bar on a TTY (done/total, running, claimed ahead, failed,
 * jobs/s, ETA), plain timestamped log lines otherwise (CI logs, `nohup`, a login node's batch
 * session). "Running" is jobs whose process runs; "claimed ahead" is jobs a runner has claimed
 * (status pending) but not started yet, e.g. queue depth's claim-ahead for short jobs. Adding
 * them up showed "8 running" under --max-parallel-jobs 4 with 4 processes alive.
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
      format: '{name} [{bar}] {value}/{total} done | {running} running | {pending} claimed ahead | {failed} failed | {rate} jobs/s | ETA {eta_formatted}',
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
      running: s.counts.running,
      pending: s.counts.pending,
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
    if (e.type === 'job_finished' && e.outcome.status !== 'completed') {
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
  /** A status that came within the second after the last line: logged when the second is up. */
  private held: WorkflowStatusView | null = null;
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly name: string,
    private readonly quiet: boolean,
  ) {}

  private log(line: string): void {
    process.stderr.write(`${new Date().toISOString()} ${this.name}: ${line}\n`);
  }

  status(s: WorkflowStatusView): void {
    const now = Date.now();
    // One line a second at most, but always on a phase change; a status held back is logged
    // when the second is up, so the log never stays behind the workflow for long.
    if (s.phase === this.lastPhase && now - this.lastLine < 1000) {
      this.held = s;
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          const held = this.held;
          this.held = null;
          if (held) this.write(held);
        }, 1000 - (now - this.lastLine));
        this.timer.unref();
      }
      return;
    }
    this.held = null;
    this.write(s);
  }

  private write(s: WorkflowStatusView): void {
    this.lastLine = Date.now();
    this.lastPhase = s.phase;
    if (this.quiet && s.phase === 'Running') return;
    this.log(`${s.phase}: ${s.done}/${s.total} done, ${s.counts.running} running, ${s.counts.pending} claimed ahead, ${s.counts.ready} ready, ${s.counts.blocked} blocked, ${failedCount(s)} failed`);
  }

  runnerEvent(e: RunnerEvent): void {
    if (e.type === 'job_finished' && e.outcome.status !== 'completed') this.log(`job ${e.job.name} (id ${e.job.id}) ${describeOutcome(e)}`);
    if (e.type === 'warning') this.log(`warning: ${e.message}`);
  }

  notice(message: string): void {
    this.log(message);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.held = null;
  }
}

function describeOutcome(e: Extract<RunnerEvent, { type: 'job_finished' }>): string {
  const what = e.outcome.status === 'terminated' || e.outcome.status === 'failed' ? e.outcome.status : `ended ${e.outcome.status}`;
  const why = e.diagnosis ? `, ${e.diagnosis.failure_diagnosis}: ${e.diagnosis.diagnosis_reason.replaceAll('_', ' ')}` : '';
  return `${what} (return code ${e.outcome.return_code}${why})`;
}
