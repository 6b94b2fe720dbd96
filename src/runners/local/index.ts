/** The local runner: what `torc run`, the reconciler's local runner and the Slurm worker reuse. */
export {
  JobRunner,
  type JobRunnerOptions,
  type RunnerEvent,
  type RunSummary,
  type StopOptions,
  type StopReason,
} from './job-runner.js';
export {
  detectResources,
  parseCudaVisibleDevices,
  parseNvidiaSmi,
  readCgroupLimits,
  validateOverrides,
  type DetectedResources,
  type DetectOptions,
  type GpuSource,
  type ResourceOverrides,
} from './resources.js';
export {
  DEFAULT_GRACE_SECONDS,
  JobProcess,
  jobEnvironment,
  jobShellCommand,
  processGroupAlive,
  startJobProcess,
  stdioPaths,
  terminateJobs,
  toCompleteResult,
  type JobLaunch,
  type JobOutcome,
  type ProcessOptions,
  type StdioPaths,
  type TerminationReason,
} from './process.js';
export { GpuPool, type GpuGrant } from './gpu-pool.js';
export { ResourceTracker, type Grant, type TrackedJob } from './tracker.js';
export { stopOnSignals, type SignalOptions, type Stoppable } from './signals.js';
export { Waker } from './waker.js';
