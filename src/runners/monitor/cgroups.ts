/**
 * A cgroup per job, where the machine lets this process make one: cgroup v2 (memory.peak,
 * memory.events, cpu.stat, memory.max) when its memory controller can be given to child groups,
 * else the v1 memory and cpuacct controllers (memory.max_usage_in_bytes, memory.oom_control,
 * cpuacct.usage, memory.limit_in_bytes) when their hierarchies are writable (as root, or
 * delegated). Otherwise there is none and the sampler walks /proc instead (proc-tree.ts).
 *
 * Job groups live under a base group of this runner process, `torc-<pid>-<n>`, made inside the
 * process's own group (v1) or inside `TORC_CGROUP_PARENT` / the process's own v2 group. A job is
 * put into its groups by the spawner before it runs anything (SpawnRequest.cgroups): the spawner
 * steps into them, starts the job, and steps back home, so even the job's first fork is inside.
 *
 * Every path is taken relative to `fsRoot` so that tests can run the code over a fake tree.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keptFile, type KeptFile } from './kept-file.js';
import { pidAlive } from '../../pid.js';

export { keptFile, type KeptFile } from './kept-file.js';

/**
 * The file operations on cgroupfs, so that tests can run this code over a fake tree whose
 * kernel side (interface files of a new group, controllers switched on by a write) they emulate.
 */
export interface CgroupFs {
  read(file: string): string | null;
  /** A file kept open and read again from its start each time (one pread instead of open, read, close). */
  openReader(file: string): KeptFile;
  write(file: string, data: string): void;
  mkdir(dir: string): void;
  /** false while the group still holds processes (EBUSY), or it is gone. */
  rmdir(dir: string): boolean;
  subdirs(dir: string): string[];
}

export const realCgroupFs: CgroupFs = {
  read: (file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return null;
    }
  },
  openReader: keptFile,
  write: (file, data) => writeFileSync(file, data),
  mkdir: (dir) => mkdirSync(dir),
  rmdir: (dir) => {
    try {
      rmdirSync(dir);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
  },
  subdirs: (dir) => {
    try {
      return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return [];
    }
  },
};

export type CgroupKind = 'v2' | 'v1';

export interface CgroupReading {
  /** Working set: charged memory less inactive file cache (what kubelet reports too). */
  memory_bytes: number;
  /** The kernel's high-water mark of charged memory (page cache included), or null when it keeps none. */
  memory_peak_bytes: number | null;
  /** File cache charged to the group now. */
  file_bytes: number;
  /** CPU time of every process the group ever held, nanoseconds. */
  cpu_ns: number;
  num_processes: number;
  /** Processes the kernel OOM-killed in the group. */
  oom_kills: number;
}

/** What a sample needs, read cheaply (kept-open files): no peak, no OOM count. */
export interface CgroupSample {
  memory_bytes: number;
  cpu_ns: number;
  num_processes: number;
}

export interface JobCgroup {
  readonly kind: CgroupKind;
  /** The group's directories: one for v2, memory then cpuacct for v1. */
  readonly dirs: readonly string[];
  /** For the spawner: the cgroup.procs file to step into, and the one to step back to (per hierarchy). */
  readonly placement: readonly { join: string; home: string }[];
  /** The memory limit set on it, or null. */
  readonly memoryLimitBytes: number | null;
  /** Everything (at the end of the job). */
  read(): CgroupReading;
  /** What a periodic sample needs, from files kept open between samples. */
  sample(): CgroupSample;
  /** Removes the group; false while processes remain in it (try again later). */
  remove(): boolean;
}

export interface CgroupHost {
  readonly kind: CgroupKind;
  /** Makes a job group, with a memory limit when given (swap counted in it, so the job cannot page out around it). */
  create(name: string, memoryLimitBytes: number | null): JobCgroup;
  /** Removes the base group(s) once empty (job groups still busy are left). */
  close(): void;
}

export type CgroupDetection = { ok: true; host: CgroupHost } | { ok: false; why: string };

export interface DetectOptions {
  /** '/' normally; a fake tree in tests. */
  fsRoot?: string;
  fs?: CgroupFs;
  env?: NodeJS.ProcessEnv;
  /** Whether a runner process still lives (its left-over groups are removed otherwise). */
  isAlive?: (pid: number) => boolean;
  /** Names the base group (default: this process's pid). */
  pid?: number;
}

interface MountInfo {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function at(fsRoot: string, p: string): string {
  return fsRoot === '/' ? p : path.join(fsRoot, p);
}


/** /proc/self/mountinfo's cgroup mounts. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    const fsType = right[0] ?? '';
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    out.push({ root: unescapeMount(left[3] ?? '/'), mountPoint: unescapeMount(left[4] ?? ''), fsType, superOptions: (right[2] ?? '').split(',') });
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** /proc/self/cgroup: hierarchy controllers ('' for v2) → path. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (m) out.set(m[2]!, m[3]!);
  }
  return out;
}

/** Directory of `cgPath` (as /proc/self/cgroup names it) under a mount of its hierarchy. */
function dirUnder(mount: MountInfo, cgPath: string): string | null {
  const root = mount.root === '/' ? '' : mount.root;
  if (root && cgPath !== root && !cgPath.startsWith(`${root}/`)) return null;
  return path.join(mount.mountPoint, cgPath.slice(root.length));
}

let baseCounter = 0;

/** Finds the cgroup support this process can use: v2, else v1, else why not. */
export function detectCgroups(options: DetectOptions = {}): CgroupDetection {
  const fsRoot = options.fsRoot ?? '/';
  const fs = options.fs ?? realCgroupFs;
  const readText = fs.read;
  const env = options.env ?? process.env;
  const pid = options.pid ?? process.pid;
  const mounts = parseMountInfo(readText(at(fsRoot, '/proc/self/mountinfo')) ?? '');
  const own = parseProcCgroup(readText(at(fsRoot, '/proc/self/cgroup')) ?? '');
  if (mounts.length === 0) return { ok: false, why: 'no cgroup file system is mounted' };
  const baseName = `torc-${pid}-${++baseCounter}`;
  const reasons: string[] = [];
  const alive = options.isAlive ?? pidAlive;

  const v2mount = mounts.find((m) => m.fsType === 'cgroup2');
  if (v2mount) {
    const v2 = tryV2(fs, fsRoot, v2mount, own.get(''), env.TORC_CGROUP_PARENT, baseName, alive);
    if (v2.ok) return v2;
    reasons.push(v2.why);
  }
  const memMount = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes('memory'));
  const cpuMount = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes('cpuacct'));
  if (memMount && cpuMount) {
    const v1 = tryV1(fs, fsRoot, memMount, cpuMount, own, baseName, alive);
    if (v1.ok) return v1;
    reasons.push(v1.why);
  } else if (!v2mount || memMount || cpuMount) {
    reasons.push('cgroup v1: the memory and cpuacct controllers are not both mounted');
  }
  return { ok: false, why: reasons.join('; ') };
}

function tryV2(
  fs: CgroupFs,
  fsRoot: string,
  mount: MountInfo,
  ownPath: string | undefined,
  parentEnv: string | undefined,
  baseName: string,
  alive: (pid: number) => boolean,
): CgroupDetection {
  let parent: string | null;
  if (parentEnv) {
    parent = path.isAbsolute(parentEnv) ? at(fsRoot, parentEnv) : null;
    if (!parent) return { ok: false, why: `TORC_CGROUP_PARENT must be an absolute path, got "${parentEnv}"` };
  } else {
    const own = ownPath === undefined ? null : dirUnder(mount, ownPath);
    if (!own) return { ok: false, why: 'cgroup v2: this process is in no v2 group' };
    parent = at(fsRoot, own);
  }
  const controllers = (fs.read(path.join(parent, 'cgroup.controllers')) ?? '').split(/\s+/);
  if (!controllers.includes('memory')) return { ok: false, why: `cgroup v2: no memory controller in ${parent}` };
  // Child groups get the memory controller only from a parent that hands it down, which a
  // non-root group can do only while it holds no process itself.
  if (!enable(fs, parent, ['memory', 'cpu'], ['memory'])) {
    return { ok: false, why: `cgroup v2: cannot give the memory controller to groups under ${parent} (it holds processes or is not writable; set TORC_CGROUP_PARENT to a delegated, empty group)` };
  }
  sweepLeftovers(fs, parent, alive);
  const base = path.join(parent, baseName);
  try {
    fs.mkdir(base);
  } catch (e) {
    return { ok: false, why: `cgroup v2: cannot create ${base}: ${(e as Error).message}` };
  }
  if (!enable(fs, base, ['memory', 'cpu'], ['memory'])) {
    fs.rmdir(base);
    return { ok: false, why: `cgroup v2: cannot enable the memory controller in ${base}` };
  }
  const ownDir = ownPath === undefined ? null : dirUnder(mount, ownPath);
  const home = path.join(ownDir === null ? parent : at(fsRoot, ownDir), 'cgroup.procs');
  return { ok: true, host: new V2Host(fs, base, home) };
}

/** Writes "+c" for each controller not yet in subtree_control; true when the `needed` ones are on. */
function enable(fs: CgroupFs, dir: string, wanted: string[], needed: string[]): boolean {
  const file = path.join(dir, 'cgroup.subtree_control');
  const on = () => new Set((fs.read(file) ?? '').split(/\s+/).filter(Boolean));
  for (const c of wanted) {
    if (on().has(c)) continue;
    try {
      fs.write(file, `+${c}`);
    } catch {
      // cpu may be missing or busy; memory is checked below.
    }
  }
  const now = on();
  return needed.every((c) => now.has(c));
}

function tryV1(
  fs: CgroupFs,
  fsRoot: string,
  memMount: MountInfo,
  cpuMount: MountInfo,
  own: Map<string, string>,
  baseName: string,
  alive: (pid: number) => boolean,
): CgroupDetection {
  const pathOf = (mount: MountInfo) => {
    const key = [...own.keys()].find((k) => k.split(',').some((c) => mount.superOptions.includes(c) && (c === 'memory' || c === 'cpuacct')));
    const dir = key === undefined ? null : dirUnder(mount, own.get(key)!);
    return dir === null ? null : at(fsRoot, dir);
  };
  const memDir = pathOf(memMount);
  const cpuDir = pathOf(cpuMount);
  if (!memDir || !cpuDir) return { ok: false, why: 'cgroup v1: this process is in no memory / cpuacct group' };
  sweepLeftovers(fs, memDir, alive);
  sweepLeftovers(fs, cpuDir, alive);
  const memBase = path.join(memDir, baseName);
  const cpuBase = path.join(cpuDir, baseName);
  try {
    fs.mkdir(memBase);
  } catch (e) {
    return { ok: false, why: `cgroup v1: cannot create ${memBase}: ${(e as Error).message}` };
  }
  try {
    fs.mkdir(cpuBase);
  } catch (e) {
    fs.rmdir(memBase);
    return { ok: false, why: `cgroup v1: cannot create ${cpuBase}: ${(e as Error).message}` };
  }
  return { ok: true, host: new V1Host(fs, memBase, cpuBase, path.join(memDir, 'cgroup.procs'), path.join(cpuDir, 'cgroup.procs')) };
}


/** The value of one "key value" line of a stat file, without splitting the whole file (0 when absent). */
export function statValue(text: string | null, key: string): number | null {
  if (!text) return null;
  const at = text.startsWith(`${key} `) ? 0 : text.indexOf(`\n${key} `) + 1;
  if (at <= 0 && !text.startsWith(`${key} `)) return null;
  const start = at + key.length + 1;
  const end = text.indexOf('\n', start);
  const v = Number(text.slice(start, end < 0 ? undefined : end));
  return Number.isFinite(v) ? v : null;
}

/**
 * Groups of runners that died without cleaning up (kill -9): their job groups, then their base,
 * once empty (a job still inside keeps its group; the next runner tries again).
 */
function sweepLeftovers(fs: CgroupFs, parent: string, alive: (pid: number) => boolean): void {
  for (const name of fs.subdirs(parent)) {
    const m = /^torc-(\d+)-\d+$/.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    const base = path.join(parent, name);
    for (const job of fs.subdirs(base)) fs.rmdir(path.join(base, job));
    fs.rmdir(base);
  }
}

/** "key value" lines (memory.stat, memory.events, cpu.stat, memory.oom_control) → map. */
export function parseKeyValues(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  if (!text) return out;
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

function readNumber(fs: CgroupFs, file: string): number | null {
  const t = fs.read(file);
  if (t === null) return null;
  const v = Number(t.trim());
  return Number.isFinite(v) ? v : null;
}

function countProcs(fs: CgroupFs, file: string): number {
  return countLines(fs.read(file));
}

function countLines(t: string | null): number {
  if (!t) return 0;
  let n = 0;
  for (let i = 0; i < t.length; i++) if (t.charCodeAt(i) === 10) n++;
  return t.endsWith('\n') ? n : n + 1;
}

/** Job group names must not leave the base directory. */
function checkName(name: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') throw new RangeError(`bad cgroup name "${name}"`);
  return name;
}

abstract class BaseHost implements CgroupHost {
  abstract readonly kind: CgroupKind;
  constructor(
    protected readonly fs: CgroupFs,
    protected readonly bases: string[],
  ) {}
  abstract create(name: string, memoryLimitBytes: number | null): JobCgroup;

  close(): void {
    for (const base of this.bases) {
      // Job groups left behind (their processes lingered) go first, then the base.
      for (const sub of this.fs.subdirs(base)) this.fs.rmdir(path.join(base, sub));
      this.fs.rmdir(base);
    }
  }
}

class V2Host extends BaseHost {
  readonly kind = 'v2' as const;
  constructor(
    fs: CgroupFs,
    private readonly base: string,
    private readonly home: string,
  ) {
    super(fs, [base]);
  }

  create(name: string, memoryLimitBytes: number | null): JobCgroup {
    const fs = this.fs;
    const dir = path.join(this.base, checkName(name));
    fs.mkdir(dir);
    if (memoryLimitBytes !== null) {
      try {
        fs.write(path.join(dir, 'memory.max'), String(memoryLimitBytes));
        // Swap would let a job go past its memory instead of being stopped at it.
        try {
          fs.write(path.join(dir, 'memory.swap.max'), '0');
        } catch {
          // No swap accounting: nothing to close.
        }
      } catch (e) {
        fs.rmdir(dir);
        throw e;
      }
    }
    const procs = path.join(dir, 'cgroup.procs');
    const kept = { current: fs.openReader(path.join(dir, 'memory.current')), stat: fs.openReader(path.join(dir, 'memory.stat')), cpu: fs.openReader(path.join(dir, 'cpu.stat')), procs: fs.openReader(procs) };
    return {
      kind: 'v2',
      dirs: [dir],
      placement: [{ join: procs, home: this.home }],
      memoryLimitBytes,
      read: () => {
        const stat = parseKeyValues(fs.read(path.join(dir, 'memory.stat')));
        const current = readNumber(fs, path.join(dir, 'memory.current')) ?? 0;
        const inactiveFile = stat.get('inactive_file') ?? 0;
        return {
          memory_bytes: Math.max(0, current - inactiveFile),
          memory_peak_bytes: readNumber(fs, path.join(dir, 'memory.peak')),
          file_bytes: stat.get('file') ?? 0,
          cpu_ns: (parseKeyValues(fs.read(path.join(dir, 'cpu.stat'))).get('usage_usec') ?? 0) * 1000,
          num_processes: countProcs(fs, procs),
          oom_kills: parseKeyValues(fs.read(path.join(dir, 'memory.events'))).get('oom_kill') ?? 0,
        };
      },
      sample: () => {
        const current = Number(kept.current.read() ?? 0) || 0;
        const inactiveFile = statValue(kept.stat.read(), 'inactive_file') ?? 0;
        return {
          memory_bytes: Math.max(0, current - inactiveFile),
          cpu_ns: (statValue(kept.cpu.read(), 'usage_usec') ?? 0) * 1000,
          num_processes: countLines(kept.procs.read()),
        };
      },
      remove: () => {
        for (const k of Object.values(kept)) k.close();
        return fs.rmdir(dir);
      },
    };
  }
}

class V1Host extends BaseHost {
  readonly kind = 'v1' as const;
  constructor(
    fs: CgroupFs,
    private readonly memBase: string,
    private readonly cpuBase: string,
    private readonly memHome: string,
    private readonly cpuHome: string,
  ) {
    super(fs, [memBase, cpuBase]);
  }

  create(name: string, memoryLimitBytes: number | null): JobCgroup {
    const fs = this.fs;
    const n = checkName(name);
    const mem = path.join(this.memBase, n);
    const cpu = path.join(this.cpuBase, n);
    fs.mkdir(mem);
    try {
      fs.mkdir(cpu);
      if (memoryLimitBytes !== null) {
        fs.write(path.join(mem, 'memory.limit_in_bytes'), String(memoryLimitBytes));
        // memory + swap at the same limit: no paging out around it (absent without swap accounting).
        try {
          fs.write(path.join(mem, 'memory.memsw.limit_in_bytes'), String(memoryLimitBytes));
        } catch {
          // No swap accounting.
        }
      }
    } catch (e) {
      fs.rmdir(cpu);
      fs.rmdir(mem);
      throw e;
    }
    const memProcs = path.join(mem, 'cgroup.procs');
    const kept = { stat: fs.openReader(path.join(mem, 'memory.stat')), cpu: fs.openReader(path.join(cpu, 'cpuacct.usage')), procs: fs.openReader(memProcs) };
    return {
      kind: 'v1',
      dirs: [mem, cpu],
      placement: [
        { join: memProcs, home: this.memHome },
        { join: path.join(cpu, 'cgroup.procs'), home: this.cpuHome },
      ],
      memoryLimitBytes,
      read: () => {
        const stat = parseKeyValues(fs.read(path.join(mem, 'memory.stat')));
        const usage = readNumber(fs, path.join(mem, 'memory.usage_in_bytes')) ?? 0;
        const inactiveFile = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
        return {
          memory_bytes: Math.max(0, usage - inactiveFile),
          memory_peak_bytes: readNumber(fs, path.join(mem, 'memory.max_usage_in_bytes')),
          file_bytes: stat.get('total_cache') ?? stat.get('cache') ?? 0,
          cpu_ns: readNumber(fs, path.join(cpu, 'cpuacct.usage')) ?? 0,
          num_processes: countProcs(fs, memProcs),
          oom_kills: parseKeyValues(fs.read(path.join(mem, 'memory.oom_control'))).get('oom_kill') ?? 0,
        };
      },
      sample: () => {
        // memory.stat alone: charged memory is its rss + cache (usage_in_bytes is only an estimate of the same).
        const stat = kept.stat.read();
        const charged = (statValue(stat, 'total_rss') ?? statValue(stat, 'rss') ?? 0) + (statValue(stat, 'total_cache') ?? statValue(stat, 'cache') ?? 0);
        const inactiveFile = statValue(stat, 'total_inactive_file') ?? statValue(stat, 'inactive_file') ?? 0;
        return {
          memory_bytes: Math.max(0, charged - inactiveFile),
          cpu_ns: Number(kept.cpu.read() ?? 0) || 0,
          num_processes: countLines(kept.procs.read()),
        };
      },
      remove: () => {
        for (const k of Object.values(kept)) k.close();
        const a = fs.rmdir(cpu);
        const b = fs.rmdir(mem);
        return a && b;
      },
    };
  }
}
