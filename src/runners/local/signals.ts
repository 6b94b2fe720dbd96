/**
 * A worker's SIGTERM (scancel, walltime, `kill`) or Ctrl-C stops the runner: its jobs are
 * terminated (SIGTERM, grace, SIGKILL) and, by default, left for the server to requeue.
 */
import type { StopOptions } from './job-runner.js';

export interface Stoppable {
  stop(options?: StopOptions): Promise<unknown>;
}

export interface SignalOptions extends StopOptions {
  signals?: NodeJS.Signals[];
  /** Told which signal arrived (for a log line). */
  onSignal?: (signal: NodeJS.Signals) => void;
}

/** Installs the handlers; returns a function that removes them. */
export function stopOnSignals(runner: Stoppable, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT', 'SIGHUP'];
  const handler = (signal: NodeJS.Signals) => {
    options.onSignal?.(signal);
    // Errors surface through run(); the handler only starts the stop.
    runner.stop({ report: options.report }).catch(() => undefined);
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
