/** Facts about the machine and how busy it is: every RESULTS.md section says under what load it ran. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface MachineFacts {
  date: string;
  hostname: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  sqlite: string;
  os: string;
  peers: Record<string, string>;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).split('\n')[0]!.trim();
  } catch {
    return 'not installed';
  }
}

export function machineFacts(sqliteVersion: string): MachineFacts {
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    sqlite: sqliteVersion,
    os: `${os.type()} ${os.release()}`,
    peers: {
      xargs: firstLine('xargs', ['--version']),
      parallel: firstLine('parallel', ['--version']),
      snakemake: firstLine('snakemake', ['--version']),
    },
  };
}

/** 1-minute load average now. */
export function load1(): number {
  return os.loadavg()[0]!;
}

/** Tracks the 1-minute load average over a benchmark: sampled every few seconds. */
export class LoadMeter {
  private readonly samples: number[] = [load1()];
  private readonly timer: NodeJS.Timeout;
  constructor(periodMs = 5000) {
    this.timer = setInterval(() => this.samples.push(load1()), periodMs);
    this.timer.unref();
  }
  stop(): { min: number; max: number; mean: number } {
    clearInterval(this.timer);
    this.samples.push(load1());
    const s = this.samples;
    return { min: Math.min(...s), max: Math.max(...s), mean: s.reduce((a, b) => a + b, 0) / s.length };
  }
}

export function describeLoad(l: { min: number; max: number; mean: number }, nproc: number): string {
  return `load average ${l.mean.toFixed(1)} (${l.min.toFixed(1)}–${l.max.toFixed(1)}) on ${nproc} cores`;
}
