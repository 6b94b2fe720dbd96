/**
 * `torc hpc list | detect | show NAME`: the HPC profiles `torc slurm generate` picks partitions
 * from (built-in data files in deploy/hpc-profiles, the user's in $TORC_HPC_PROFILES or
 * ~/.config/torc/hpc-profiles). `torc hpc detect --cluster` reads the running cluster's
 * partitions instead (sinfo, scontrol show partition).
 */
import type { Command } from 'commander';
import os from 'node:os';
import { formatSlurmWalltime } from '../../spec/units.js';
import { parseFormat, printJson, printTable } from '../output.js';
import type { HpcProfile } from '../../runners/slurm/profiles.js';

export function register(program: Command): void {
  const hpc = program.command('hpc').description('HPC profiles: the partitions of known clusters, for torc slurm generate');
  hpc
    .command('list')
    .description('List the HPC profiles (built-in and your own) and whether this machine matches them')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: { format?: string }) => {
      const format = parseFormat(flags.format);
      const { loadProfiles, matches } = await import('../../runners/slurm/profiles.js');
      const rows = loadProfiles().map((p) => ({
        name: p.name,
        display_name: p.display_name,
        partitions: p.partitions.length,
        detected: matches(p, process.env, os.hostname()),
        source: p.builtin ? 'built-in' : p.source,
      }));
      if (format === 'json') printJson(rows);
      else printTable(rows, ['name', 'display_name', 'partitions', 'detected', 'source']);
    });
  hpc
    .command('detect')
    .description('Which profile matches this machine; with --cluster, the partitions of the cluster sbatch submits to')
    .option('--cluster', 'read the partitions from the running cluster (sinfo, scontrol show partition)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: { format?: string; cluster?: boolean }) => {
      const format = parseFormat(flags.format);
      const profiles = await import('../../runners/slurm/profiles.js');
      if (flags.cluster) {
        const { SlurmCommands } = await import('../../runners/slurm/commands.js');
        printProfile(await profiles.detectClusterPartitions(new SlurmCommands()), format);
        return;
      }
      const found = profiles.detectProfiles();
      if (format === 'json') printJson(found.map((p) => p.name));
      else if (found.length === 0) process.stdout.write('no known HPC profile matches this machine (torc hpc detect --cluster reads the partitions of the running cluster)\n');
      else process.stdout.write(`${found.map((p) => `${p.name} (${p.display_name})`).join('\n')}\n`);
      process.exitCode = found.length > 0 ? 0 : 1;
    });
  hpc
    .command('show')
    .description('Show a profile and its partitions')
    .argument('<profile>', 'profile name (torc hpc list)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (name: string, flags: { format?: string }) => {
      const { findProfile } = await import('../../runners/slurm/profiles.js');
      printProfile(findProfile(name), parseFormat(flags.format));
    });
}

export function printProfile(p: HpcProfile, format: 'table' | 'json'): void {
  if (format === 'json') {
    printJson(p);
    return;
  }
  process.stdout.write(`${p.name}: ${p.display_name}${p.description ? ` — ${p.description}` : ''}\n`);
  if (p.detect.env) process.stdout.write(`detected by: ${Object.entries(p.detect.env).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  if (p.detect.hostname) process.stdout.write(`detected by host name: /${p.detect.hostname}/\n`);
  printTable(
    p.partitions.map((x) => ({
      partition: x.name,
      cpus: x.cpus_per_node,
      memory: `${Math.floor(x.memory_bytes / 1024 ** 2)}M`,
      gpus: x.gpus_per_node,
      max_walltime: x.max_walltime_seconds === null ? 'unlimited' : formatSlurmWalltime(x.max_walltime_seconds),
      max_nodes: x.max_nodes ?? 'unlimited',
      explicit: x.explicit ? 'yes' : '',
    })),
    ['partition', 'cpus', 'memory', 'gpus', 'max_walltime', 'max_nodes', 'explicit'],
  );
}
