/**
 * The job runner inside a Slurm allocation (`torc worker`, `torc-slurm-job-runner`): the local
 * runner's loop (src/runners/local/job-runner.ts) given the allocation's resources instead of
 * detected ones, the allocation's end as its deadline, and the workflow's settings
 * (expiration buffer, wait for new jobs, sort method). SIGTERM (scancel, walltime) stops it:
 * its jobs are terminated and the node deactivated, which sends them back to ready.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SortMethod } from '../../allocator/types.js';
import type { CompletionStatusName } from '../../contract/status.js';
import type { ClaimedJobRecord, RunnerClient } from '../../contract/client.js';
import type { DetectedResources } from '../local/resources.js';
import { JobRunner, type RunnerEvent, type RunSummary } from '../local/job-runner.js';
import { jobShellCommand } from '../local/process.js';
import { stopOnSignals } from '../local/signals.js';
import { allocationEndTime, readAllocation, type SlurmAllocation } from './allocation.js';
import type { SlurmCommands } from './commands.js';
import { shellQuote } from './sbatch.js';

/** The workflow settings a worker obeys (torc's names). */
export interface WorkerSettings {
  compute_node_expiration_buffer_seconds: number;
  compute_node_wait_for_new_jobs_seconds: number;
  compute_node_ignore_workflow_completion: boolean;
  jobs_sort_method: string;
}

export interface SlurmWorkerOptions {
  client: RunnerClient;
  commands: SlurmCommands;
  workflowId: number;
  settings: WorkerSettings;
  /** The longest server outage to wait through (default: the workflow's, 20 min). */
  waitForServerSeconds?: number | null;
  schedulerConfigId: number | null;
  maxParallelJobs?: number | null;
  outputDir: string;
  apiUrl: string;
  env?: NodeJS.ProcessEnv;
  pollIntervalSeconds?: number;
  /**
   * SIGTERM → SIGKILL grace for jobs (default 3 s): Slurm itself kills everything KillWait
   * seconds after its SIGTERM, and the node must be deactivated before that.
   */
  graceSeconds?: number;
  /** Install SIGTERM/SIGINT handlers (default true; tests drive stop() themselves). */
  handleSignals?: boolean;
  onEvent?: (event: RunnerEvent) => void;
  log?: (line: string) => void;
}

export interface SlurmWorker {
  allocation: SlurmAllocation;
  endTime: Date | null;
  runner: JobRunner;
  client: AllocationClient;
  run(): Promise<RunSummary>;
  /** What SIGTERM does: the allocation is ending; terminate the jobs and leave them for requeue. */
  stop(): Promise<unknown>;
}

const SORT_METHODS = new Set(['gpus_runtime_memory', 'gpus_memory_runtime', 'none']);

/** The allocation as the local runner's resources: every served node, GPUs by id. */
export function allocationResources(alloc: SlurmAllocation, schedulerConfigId: number | null): DetectedResources {
  return {
    hostname: alloc.thisNode,
    num_cpus: alloc.cpusPerNode[0]!,
    memory_bytes: alloc.memoryBytesPerNode,
    gpu_ids: alloc.gpuIds,
    gpu_memory_bytes: alloc.gpuIds.map(() => null),
    sources: { cpus: 'override', memory: 'override', gpus: 'override' },
    capacity: {
      nodes: alloc.nodes.map((name, i) => ({
        name,
        num_cpus: alloc.cpusPerNode[i]!,
        memory_bytes: alloc.memoryBytesPerNode,
        num_gpus: alloc.gpusPerNode,
      })),
      time_limit_seconds: null,
      scheduler_config_id: schedulerConfigId,
    },
  };
}

/** Return codes of a job killed by SIGTERM or SIGKILL (128 + signal number). */
const SIGNAL_CODES = new Set([128 + 15, 128 + 9]);

/**
 * The worker's view of the API. Every compute node it registers names its allocation
 * (SLURM_JOB_ID). And it holds back the failures that the allocation's end caused.
 *
 * Why: when an allocation ends (scancel, walltime) Slurm signals every process of the job
 * at once, the jobs as well as the worker, and a job's exit may be seen before the worker's
 * SIGTERM. Reported, such a job would end failed; held back, it stays running on the server
 * until the worker deactivates its node, which sends it back to ready for another allocation.
 * So once the allocation is ending, no unsuccessful completion is reported, and a job killed
 * by a signal while it is not (yet) known to be ending is held for `holdMs` to see whether it is.
 */
export class AllocationClient {
  private ending = false;
  private readonly endingWaiters = new Set<() => void>();
  /** Jobs whose completion was held back (left for requeue), with the status they would have had. */
  readonly withheld = new Map<number, CompletionStatusName>();
  /**
   * The client the runner uses: the inner one with registration and completion wrapped. A
   * proxy, so that methods the RunnerClient interface gains later are passed through as they are.
   */
  readonly client: RunnerClient;

  constructor(
    private readonly inner: RunnerClient,
    private readonly slurmJobId: string,
    private readonly holdMs = 2000,
    /** Set when one worker serves several nodes: jobs placed on another node are started there through srun. */
    thisNode: string | null = null,
    /** Where the host files of multi-node jobs are written (with thisNode). */
    hostfileDir: string | null = null,
  ) {
    const own: Partial<RunnerClient> = {
      registerComputeNode: (wf, node) => inner.registerComputeNode(wf, { ...node, scheduler_job_id: this.slurmJobId }),
      completeJob: (job, status, run, result) => this.completeJob(job, status, run, result),
      // Completions go one by one through completeJob above (the hold-back), never in bulk.
      completeJobs: undefined,
    };
    if (inner.retryJob) {
      // A retry caused by the allocation ending would spend one of the job's retries: hold it
      // back like a completion, so deactivation requeues the job without counting it.
      own.retryJob = async (job, run, request) => {
        if (await this.allocationEnded('failed', request.return_code)) {
          this.withheld.set(job, request.status === 'terminated' ? 'terminated' : 'failed');
          return;
        }
        return inner.retryJob!(job, run, request);
      };
    }
    if (thisNode !== null) {
      own.claimJobsBasedOnResources = async (wf, req) => {
        const res = await inner.claimJobsBasedOnResources(wf, req);
        const jobs = await Promise.all(res.jobs.map((job) => (job.resources.num_nodes > 1 && hostfileDir ? runAcrossNodes(job, hostfileDir) : runOnAssignedNode(job, thisNode))));
        return { ...res, jobs };
      };
    }
    this.client = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop in own) return own[prop as keyof RunnerClient];
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** The allocation is ending (SIGTERM arrived). */
  markEnding(): void {
    this.ending = true;
    for (const wake of this.endingWaiters) wake();
  }

  private async completeJob(job: number, status: CompletionStatusName, run: number, result: Parameters<RunnerClient['completeJob']>[3]): Promise<void> {
    if (await this.allocationEnded(status, result.return_code)) {
      this.withheld.set(job, status);
      return;
    }
    return this.inner.completeJob(job, status, run, result);
  }

  /** Whether an unsuccessful end is the allocation ending rather than the job's own failure. */
  private async allocationEnded(status: CompletionStatusName, returnCode: number): Promise<boolean> {
    if (status === 'completed') return false;
    return this.ending || (SIGNAL_CODES.has(returnCode) && (await this.endingWithin(this.holdMs)));
  }

  private endingWithin(ms: number): Promise<boolean> {
    if (this.ending) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.endingWaiters.delete(wake);
        resolve(this.ending);
      };
      const timer = setTimeout(wake, ms);
      this.endingWaiters.add(wake);
    });
  }
}

/**
 * A single-node job the allocator placed on another node of the allocation than the worker's
 * own runs there: its command becomes one srun step on that node with the job's CPUs, memory
 * and GPUs. Multi-node jobs and jobs placed here are unchanged (a multi-node job starts on the
 * worker's node and spreads itself, with srun or mpiexec, as on any Slurm allocation).
 */
export function runOnAssignedNode(job: ClaimedJobRecord, thisNode: string): ClaimedJobRecord {
  const node = job.assigned_nodes[0];
  if (job.resources.num_nodes > 1 || node === undefined || node === thisNode) return job;
  const r = job.resources;
  const step = [
    'srun',
    '--nodes=1',
    '--ntasks=1',
    `--nodelist=${node}`,
    `--cpus-per-task=${Math.max(1, Math.ceil(r.num_cpus))}`,
    `--mem=${Math.max(1, Math.ceil(r.memory_bytes / 1024 ** 2))}M`,
    ...(r.num_gpus > 0 ? [`--gres=gpu:${r.num_gpus}`] : []),
    '--exact',
    `--job-name=${shellQuote(`torc_job_${job.id}`)}`,
    'bash',
    '-c',
    shellQuote(jobShellCommand(job.command, job.invocation_script)),
  ];
  return { ...job, command: step.join(' '), invocation_script: null };
}

/**
 * A job given k > 1 whole nodes of the allocation: it starts on the worker's node and spreads
 * itself over its nodes, which it is told as Slurm would tell a k-node job of its own
 * (SLURM_JOB_NODELIST, SLURM_JOB_NUM_NODES, SLURM_NNODES) plus a host file (one node per line,
 * for mpiexec; TORC_HOSTFILE) and TORC_NODELIST. A plain `srun CMD` in the job then runs one
 * task on each of its nodes and none on the others (SLURM_HOSTFILE with arbitrary distribution:
 * srun reads no node list from the environment otherwise; seen on Slurm 22.05).
 */
export async function runAcrossNodes(job: ClaimedJobRecord, hostfileDir: string): Promise<ClaimedJobRecord> {
  const nodes = job.assigned_nodes;
  if (nodes.length < 2) return job;
  await mkdir(hostfileDir, { recursive: true });
  const hostfile = path.join(hostfileDir, `job_${job.id}.${job.attempt_id}.hosts`);
  await writeFile(hostfile, nodes.map((n) => `${n}\n`).join(''));
  const list = nodes.join(',');
  const k = String(nodes.length);
  const env: Record<string, string> = {
    TORC_NODELIST: list,
    TORC_HOSTFILE: hostfile,
    SLURM_JOB_NODELIST: list,
    SLURM_NODELIST: list,
    SLURM_JOB_NUM_NODES: k,
    SLURM_NNODES: k,
    SLURM_NTASKS: k,
    SLURM_NPROCS: k,
    SLURM_HOSTFILE: hostfile,
    SLURM_DISTRIBUTION: 'arbitrary',
  };
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${shellQuote(value)}`);
  const command = ['env', ...assignments, 'bash', '-c', shellQuote(jobShellCommand(job.command, job.invocation_script))].join(' ');
  return { ...job, command, invocation_script: null };
}

/** Reads the allocation and its end, and builds the runner (not started). */
export async function createSlurmWorker(o: SlurmWorkerOptions): Promise<SlurmWorker> {
  const env = o.env ?? process.env;
  const log = o.log ?? (() => {});
  const allocation = readAllocation(env);
  const endTime = await allocationEndTime(o.commands, allocation.jobId);
  const s = o.settings;
  const sortMethod = SORT_METHODS.has(s.jobs_sort_method) ? (s.jobs_sort_method as SortMethod) : undefined;
  log(
    `allocation ${allocation.jobId}: ${allocation.nodes.length} node(s) [${allocation.nodes.join(',')}]` +
      `${allocation.perNodeWorker ? ' (one worker per node)' : ''}, ${allocation.cpusPerNode.join('/')} CPUs, ` +
      `${Math.round(allocation.memoryBytesPerNode / 1024 ** 2)} MiB (${allocation.sources.memory}), ` +
      `${allocation.gpusPerNode} GPU(s) (${allocation.sources.gpus}), ends ${endTime ? endTime.toISOString() : 'never'}; ` +
      `buffer ${s.compute_node_expiration_buffer_seconds}s, idle exit ${s.compute_node_wait_for_new_jobs_seconds}s`,
  );
  const client = new AllocationClient(
    o.client,
    allocation.jobId,
    undefined,
    allocation.nodes.length > 1 ? allocation.thisNode : null,
    path.join(o.outputDir, 'hostfiles'),
  );
  const runner = new JobRunner({
    client: client.client,
    workflowId: o.workflowId,
    outputDir: o.outputDir,
    maxParallelJobs: o.maxParallelJobs ?? null,
    resources: allocationResources(allocation, o.schedulerConfigId),
    schedulerConfigId: o.schedulerConfigId,
    sortMethod,
    endTime,
    expirationBufferSeconds: s.compute_node_expiration_buffer_seconds,
    waitForNewJobsSeconds: s.compute_node_wait_for_new_jobs_seconds,
    ignoreWorkflowCompletion: s.compute_node_ignore_workflow_completion,
    apiUrl: o.apiUrl,
    pollIntervalSeconds: o.pollIntervalSeconds,
    graceSeconds: o.graceSeconds ?? 3,
    waitForServerSeconds: o.waitForServerSeconds ?? null,
    hostname: allocation.thisNode,
    computeNodeType: 'slurm',
    onEvent: o.onEvent,
  });
  return {
    allocation,
    endTime,
    runner,
    client,
    stop: () => {
      client.markEnding();
      return runner.stop();
    },
    run: async () => {
      const remove =
        o.handleSignals === false
          ? () => {}
          : stopOnSignals(runner, {
              onSignal: (sig) => {
                client.markEnding();
                log(`${sig}: terminating jobs; they go back to ready`);
              },
            });
      try {
        const summary = await runner.run();
        // The runner counted held-back completions as failed or terminated; they were requeued.
        const held = [...client.withheld.values()];
        const terminated = held.filter((st) => st === 'terminated').length;
        return {
          ...summary,
          failed: summary.failed - (held.length - terminated),
          terminated: summary.terminated - terminated,
          requeued: summary.requeued + held.length,
        };
      } finally {
        remove();
      }
    },
  };
}
