/**
 * `torc slurm schedule-nodes WF --scheduler-config-id ID --num-hpc-jobs K [--max-parallel-jobs M]
 * [--start-one-worker-per-node]`: renders the scheduler's sbatch script, submits it K times with
 * `sbatch --parsable` and records each allocation with the server (scheduled_compute_nodes).
 * Each allocation runs `torc worker WF --url URL --scheduler-config-id ID`.
 * `torc slurm allocations WF`: the recorded allocations.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { InputError, NotFoundError } from '../../errors.js';
import type { AllocationRecord } from '../../contract/slurm-allocations.js';
import { parseFormat, parseIntOption, printJson, printTable } from '../output.js';
import { readTokenFile } from '../server-auth.js';
import { readCaFile } from '../runner-flags.js';
import type { TorcClient } from '../../api/client.js';
import { workerUrlProblem } from '../../runners/slurm/server-address.js';
import { workingDirectory } from '../../spec/working-dir.js';
import type { HpcProfile } from '../../runners/slurm/profiles.js';
import type { SlurmAllocationView } from '../../runners/slurm/views.js';
import { stringify as stringifyYaml } from 'yaml';

interface ConnectionFlags {
  url?: string;
  tokenFile?: string;
  caFile?: string;
  format?: string;
}

interface ScheduleFlags extends ConnectionFlags {
  schedulerConfigId?: string;
  numHpcJobs: string;
  maxParallelJobs?: string;
  startOneWorkerPerNode?: boolean;
  outputDir: string;
  cwd?: string;
}

/** bin/torc.js of this installation: what compute nodes run (same shared file system). */
export function torcBin(): string {
  return fileURLToPath(new URL('../../../bin/torc.js', import.meta.url));
}

export function register(program: Command): void {
  const slurm = program.command('slurm').description('Slurm allocations that run workflow jobs');
  slurm
    .command('schedule-nodes')
    .description('Submit Slurm allocations that run `torc worker` for a workflow')
    .argument('<workflow>', 'workflow id')
    .requiredOption('--scheduler-config-id <id>', 'the slurm_schedulers id (torc slurm schedulers WF lists them)')
    .option('--num-hpc-jobs <k>', 'how many allocations to submit', '1')
    .option('--max-parallel-jobs <n>', 'queue depth for each worker: at most N jobs at once, resources ignored')
    .option('--start-one-worker-per-node', 'run one worker on each node of the allocation (srun), each serving its own node')
    .option('--output-dir <dir>', 'where the sbatch script, Slurm output and job output go', 'torc_output')
    .option('--cwd <dir>', "the jobs' working directory (sbatch --chdir; default: the workflow's working_dir, else the current one, as for torc reconcile)")
    .option('--url <url>', 'torc API URL, also given to the workers (default $TORC_API_URL)')
    .option('--token-file <file>', 'bearer token for the API (default $TORC_API_TOKEN); workers read the same file')
    .option('--ca-file <file>', 'PEM CA certificate of an https server (default: $TORC_CA_FILE); workers read the same file')
    .option('--format <format>', 'table or json', 'table')
    .action(async (workflow: string, flags: ScheduleFlags) => {
      process.exitCode = await scheduleCommand(workflow, flags);
    });
  slurm
    .command('generate')
    .description("Write slurm_schedulers and job bindings for FILE's unbound jobs from their resource classes and a cluster's partitions")
    .argument('<file>', 'workflow file')
    .option('--profile <name>', 'partitions of this HPC profile (torc hpc list)')
    .option('--detect', 'partitions of the running cluster (sinfo, scontrol show partition)')
    .option('--account <account>', 'Slurm account for the generated schedulers')
    .option('-o, --output <file>', 'write the workflow with the schedulers here (format from its extension) instead of stdout')
    .action(async (file: string, flags: GenerateFlags) => {
      process.exitCode = await generateCommand(file, flags);
    });
  slurm
    .command('allocations')
    .description('List the Slurm allocations recorded for a workflow')
    .argument('<workflow>', 'workflow id')
    .option('--url <url>', 'torc API URL (default $TORC_API_URL)')
    .option('--token-file <file>', 'bearer token for the API (default $TORC_API_TOKEN)')
    .option('--ca-file <file>', 'PEM CA certificate of an https server (default: $TORC_CA_FILE)')
    .option('--format <format>', 'table or json', 'table')
    .option('--no-slurm', "only what torc recorded, without asking Slurm (sacct, else scontrol)")
    .action(async (workflow: string, flags: ConnectionFlags & { slurm?: boolean }) => {
      const format = parseFormat(flags.format);
      const workflowId = parseIntOption(workflow, 'workflow', 1)!;
      const { client } = await connect(flags);
      const items = [];
      for (let offset = 0; ; ) {
        const page = await client.listScheduledComputeNodes(workflowId, { offset, limit: 1000 });
        items.push(...page.items);
        if (!page.has_more || page.items.length === 0) break;
        offset += page.items.length;
      }
      const { slurmAllocationViews, isFailedAllocationState } = await import('../../runners/slurm/views.js');
      const view = flags.slurm === false ? new Map<string, SlurmAllocationView>() : await slurmAllocationViews(items.map((a) => String(a.scheduler_id)));
      const rows = items.map((a) => ({ ...a, slurm: view.get(String(a.scheduler_id)) ?? null }));
      if (format === 'json') printJson(rows);
      else {
        printTable(
          rows.map((r) => ({
            id: r.id,
            scheduler_config_id: r.scheduler_config_id,
            slurm_job_id: r.scheduler_id,
            status: r.status,
            state: r.slurm?.state ?? r.state,
            exit: r.slurm?.exit_code ?? '',
            reason: r.slurm?.reason ?? '',
            nodes: r.slurm?.nodes ?? '',
            from: r.slurm?.source ?? 'torc',
          })),
          ['id', 'scheduler_config_id', 'slurm_job_id', 'status', 'state', 'exit', 'reason', 'nodes', 'from'],
        );
      }
      const failed = rows.filter((r) => r.slurm && isFailedAllocationState(r.slurm.state));
      if (failed.length > 0) {
        process.stderr.write(`${failed.length} allocation(s) failed: ${failed.map((r) => `${r.scheduler_id} ${r.slurm!.state}${r.slurm!.reason && r.slurm!.reason !== 'None' ? ` (${r.slurm!.reason})` : ''}`).join(', ')}\n`);
      }
    });
}

export interface AllocationRequest {
  schedulerConfigId: number;
  count: number;
  maxParallelJobs: number | null;
  startOneWorkerPerNode: boolean;
  outputDir: string;
  /** Where the jobs run (sbatch --chdir); default the workflow's working_dir, else the current directory. */
  workingDir?: string;
}

/** Files a worker reads to reach the API: the bearer token, the CA of an https server. */
export interface WorkerCredentials {
  tokenFile: string | null;
  /** --ca-file; $TORC_CA_FILE when null. */
  caFile: string | null;
}

/**
 * Submits `count` allocations of the workflow's Slurm scheduler, each running `torc worker`
 * against `url`, and records them with the server (scheduled_compute_nodes). Shared by
 * `torc slurm schedule-nodes` and `torc workflows submit`.
 */
export async function submitAllocations(client: TorcClient, url: string, credentials: WorkerCredentials, workflowId: number, req: AllocationRequest) {
  const { tokenFile } = credentials;
  // The worker gets the CA by path (not by environment), so sbatch --export settings do not matter.
  const caFile = credentials.caFile ?? (process.env.TORC_CA_FILE || null);
  const [{ SlurmCommands }, { scheduleNodes }] = await Promise.all([import('../../runners/slurm/commands.js'), import('../../runners/slurm/scheduler.js')]);
  const schedulers = (await client.listSlurmSchedulers(workflowId, { limit: 10_000 })).items;
  const record = schedulers.find((s) => s.id === req.schedulerConfigId);
  if (!record) {
    const known = schedulers.map((s) => `${s.id} (${s.name})`).join(', ') || 'none';
    throw new NotFoundError(`slurm scheduler ${req.schedulerConfigId} of workflow ${workflowId} (its schedulers: ${known})`);
  }
  const recorder = {
    recordAllocation: async (a: { workflow_id: number; scheduler_config_id: number; slurm_job_id: string; state: string }): Promise<AllocationRecord> => {
      const m = await client.createScheduledComputeNode({ workflow_id: a.workflow_id, scheduler_config_id: a.scheduler_config_id, scheduler_id: a.slurm_job_id, state: a.state });
      return { ...m, slurm_job_id: String(m.scheduler_id), ended: m.status === 'complete' };
    },
  };
  const unreachable = workerUrlProblem(url);
  if (unreachable) throw new InputError(unreachable, '--url');
  if (/^https?:\/\/(127\.|localhost[:/]|\[::1\])/.test(url)) {
    process.stderr.write(`warning: workers will call ${url}; only allocations on this very host can reach a loopback address\n`);
  }
  const result = await scheduleNodes(recorder, new SlurmCommands(), {
    workflowId,
    scheduler: { id: record.id, scheduler: record },
    count: req.count,
    launch: {
      url,
      outputDir: req.outputDir,
      workingDir: req.workingDir ?? workingDirectory(await client.getWorkflow(workflowId), process.cwd()),
      torcCommand: [process.execPath, torcBin()],
      maxParallelJobs: req.maxParallelJobs,
      startOneWorkerPerNode: req.startOneWorkerPerNode,
      tokenFile: tokenFile !== null ? resolve(tokenFile) : null,
      caFile: caFile !== null ? resolve(caFile) : null,
    },
  });
  return { result, record };
}

interface GenerateFlags {
  profile?: string;
  detect?: boolean;
  account?: string;
  output?: string;
}

/**
 * The partitions to generate for: --profile NAME, --detect (the running cluster), else the one
 * profile that matches this machine, else the running cluster when Slurm answers.
 */
export async function partitionSource(flags: { profile?: string; detect?: boolean }): Promise<HpcProfile> {
  if (flags.profile && flags.detect) throw new InputError('give either --profile or --detect, not both', '--profile');
  const profiles = await import('../../runners/slurm/profiles.js');
  const { SlurmCommands } = await import('../../runners/slurm/commands.js');
  if (flags.profile) return profiles.findProfile(flags.profile);
  if (flags.detect) return profiles.detectClusterPartitions(new SlurmCommands());
  const matching = profiles.detectProfiles();
  if (matching.length === 1) return matching[0]!;
  if (await new SlurmCommands({ timeoutSeconds: 20 }).isResponsive()) return profiles.detectClusterPartitions(new SlurmCommands());
  throw new InputError(
    matching.length > 1
      ? `several HPC profiles match this machine (${matching.map((p) => p.name).join(', ')}): choose one with --profile`
      : 'no HPC profile matches this machine and no Slurm answers: give --profile NAME (torc hpc list)',
    '--profile',
  );
}

async function generateCommand(file: string, flags: GenerateFlags): Promise<number> {
  const { loadWorkflowFile, planDocument, formatOfPath } = await import('../../spec/index.js');
  const { serializeSpec } = await import('../../spec/serialize.js');
  const { generateSchedulers, specWithSchedulers, unboundDemands } = await import('../../runners/slurm/generate.js');
  const docs = loadWorkflowFile(file);
  const source = await partitionSource(flags);
  const chosen = flags.output ? formatOfPath(flags.output) : docs[0]!.format;
  // An unknown extension (or none): the input's format.
  const format = chosen === 'auto' ? docs[0]!.format : chosen;
  const texts: string[] = [];
  for (const doc of docs) {
    const plan = planDocument(doc);
    const generated = generateSchedulers(unboundDemands(plan), source.partitions, {
      account: flags.account ?? null,
      bufferSeconds: plan.settings.compute_node_expiration_buffer_seconds,
    });
    for (const g of generated) {
      process.stderr.write(
        `${doc.pathPrefix}${g.class_name}: ${g.jobs} job(s) → ${g.scheduler.name} (partition ${g.scheduler.partition}, ${g.jobs_per_node} per node, ${g.scheduler.nodes} node(s), ${g.scheduler.walltime})\n`,
      );
    }
    if (generated.length === 0) process.stderr.write(`${doc.pathPrefix || ''}every job is bound to a scheduler already: nothing to generate\n`);
    const spec = specWithSchedulers(doc.spec, plan, generated);
    texts.push(doc.form === 'resource' ? serializeResource({ ...doc.resource, spec }, format) : serializeSpec(spec, format));
  }
  if (texts.length > 1 && format !== 'yaml') throw new InputError(`several documents can only be written as YAML, not ${format}`, '--output');
  const text = texts.join('---\n');
  process.stderr.write(`partitions from ${source.source === 'cluster' ? 'the running cluster' : `profile ${source.name} (${source.source})`}\n`);
  if (flags.output) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(flags.output, text);
    process.stderr.write(`wrote ${flags.output}; run it with: torc reconcile ${flags.output} --runner slurm\n`);
  } else process.stdout.write(text);
  return 0;
}

/** A Workflow resource as YAML or JSON (the spec formats torc reads a resource in). */
function serializeResource(resource: unknown, format: string): string {
  if (format === 'json') return `${JSON.stringify(resource, null, 2)}\n`;
  if (format !== 'yaml') throw new InputError(`a Workflow resource is written as YAML or JSON, not ${format}`, '--output');
  return stringifyYaml(resource, { lineWidth: 0, aliasDuplicateObjects: false });
}

async function connect(flags: ConnectionFlags) {
  const url = flags.url ?? process.env.TORC_API_URL;
  if (!url) throw new InputError('the API URL is required (or set TORC_API_URL)', '--url');
  if (!/^https?:\/\//.test(url)) throw new InputError(`expected an http(s) URL, got "${url}"`, '--url');
  const token = flags.tokenFile !== undefined ? readTokenFile(flags.tokenFile) : process.env.TORC_API_TOKEN || undefined;
  const { TorcClient } = await import('../../api/client.js');
  return { url, client: new TorcClient(url, { token, ca: readCaFile(flags.caFile) }) };
}

async function scheduleCommand(workflow: string, flags: ScheduleFlags): Promise<number> {
  const format = parseFormat(flags.format);
  const workflowId = parseIntOption(workflow, 'workflow', 1)!;
  const schedulerConfigId = parseIntOption(flags.schedulerConfigId, '--scheduler-config-id', 1)!;
  const count = parseIntOption(flags.numHpcJobs, '--num-hpc-jobs', 1)!;
  const maxParallelJobs = parseIntOption(flags.maxParallelJobs, '--max-parallel-jobs', 1) ?? null;
  const { url, client } = await connect(flags);
  const { result, record } = await submitAllocations(client, url, { tokenFile: flags.tokenFile ?? null, caFile: flags.caFile ?? null }, workflowId, {
    schedulerConfigId,
    count,
    maxParallelJobs,
    startOneWorkerPerNode: flags.startOneWorkerPerNode ?? false,
    outputDir: resolve(flags.outputDir),
    ...(flags.cwd !== undefined ? { workingDir: resolve(flags.cwd) } : {}),
  });
  const rows = result.allocations.map((a) => ({ id: a.id, slurm_job_id: a.slurm_job_id, scheduler: record.name, scheduler_config_id: a.scheduler_config_id, state: a.state }));
  if (format === 'json') printJson({ script: result.scriptPath, allocations: rows });
  else {
    printTable(rows, ['id', 'slurm_job_id', 'scheduler', 'scheduler_config_id', 'state']);
    process.stdout.write(`sbatch script: ${result.scriptPath}\n`);
  }
  return 0;
}
