/**
 * A fake cgroup file system: a real directory tree (so paths, reads and the code's own fs calls
 * are real) whose kernel side is emulated by the CgroupFs operations the code uses:
 *  - mkdir of a group creates its interface files (cgroup.procs, cgroup.controllers with what
 *    the parent hands down, cgroup.subtree_control, and the v2 memory/cpu files or v1 ones);
 *  - "+ctrl" written to cgroup.subtree_control enables a controller the group has, and fails
 *    with EBUSY while the group (not the root) holds processes, as the kernel's
 *    no-internal-process rule says;
 *  - a pid written to cgroup.procs moves it there; rmdir fails while a group holds processes.
 * Tests play the kernel's counters by writing memory.current, memory.peak, cpu.stat, … themselves.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keptFile, realCgroupFs, type CgroupFs } from '../../src/runners/monitor/cgroups.js';

export interface FakeTree {
  root: string;
  fs: CgroupFs;
  /** Writes a file under the fake root (creating directories). */
  put(rel: string, text: string): void;
  get(rel: string): string;
  abs(rel: string): string;
}

const V2_FILES: Record<string, string> = {
  'memory.current': '0\n',
  'memory.peak': '0\n',
  'memory.max': 'max\n',
  'memory.swap.max': 'max\n',
  'memory.stat': 'anon 0\nfile 0\ninactive_file 0\n',
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
};

const V1_MEMORY_FILES: Record<string, string> = {
  'memory.usage_in_bytes': '0\n',
  'memory.max_usage_in_bytes': '0\n',
  'memory.limit_in_bytes': '9223372036854771712\n',
  'memory.memsw.limit_in_bytes': '9223372036854771712\n',
  'memory.stat': 'cache 0\nrss 0\ntotal_cache 0\ntotal_rss 0\ntotal_inactive_file 0\n',
  'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
};

export function fakeCgroupTree(root: string, kind: 'v2' | 'v1'): FakeTree {
  const abs = (rel: string) => path.join(root, rel);
  const put = (rel: string, text: string) => {
    mkdirSync(path.dirname(abs(rel)), { recursive: true });
    writeFileSync(abs(rel), text);
  };
  const procsOf = (dir: string) => (realCgroupFs.read(path.join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean);
  const isRootGroup = (dir: string) => !existsSync(path.join(path.dirname(dir), 'cgroup.procs'));
  const fs: CgroupFs = {
    read: realCgroupFs.read,
    openReader: keptFile,
    subdirs: realCgroupFs.subdirs,
    mkdir: (dir) => {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'cgroup.procs'), '');
      if (kind === 'v2') {
        const handed = (realCgroupFs.read(path.join(path.dirname(dir), 'cgroup.subtree_control')) ?? '').trim();
        writeFileSync(path.join(dir, 'cgroup.controllers'), `${handed}\n`);
        writeFileSync(path.join(dir, 'cgroup.subtree_control'), '');
        for (const [f, text] of Object.entries(V2_FILES)) {
          if (f.startsWith('memory.') && !handed.split(/\s+/).includes('memory')) continue;
          writeFileSync(path.join(dir, f), text);
        }
      } else if (dir.includes(`${path.sep}memory${path.sep}`)) {
        for (const [f, text] of Object.entries(V1_MEMORY_FILES)) writeFileSync(path.join(dir, f), text);
      } else {
        writeFileSync(path.join(dir, 'cpuacct.usage'), '0\n');
      }
    },
    write: (file, data) => {
      const dir = path.dirname(file);
      const name = path.basename(file);
      if (name === 'cgroup.subtree_control') {
        const m = /^\+(\w+)$/.exec(data.trim());
        if (!m) throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
        const has = (realCgroupFs.read(path.join(dir, 'cgroup.controllers')) ?? '').split(/\s+/);
        if (!has.includes(m[1]!)) throw Object.assign(new Error(`ENOENT: no ${m[1]} controller`), { code: 'ENOENT' });
        if (!isRootGroup(dir) && procsOf(dir).length > 0) throw Object.assign(new Error('EBUSY: the group holds processes'), { code: 'EBUSY' });
        const on = new Set((realCgroupFs.read(file) ?? '').split(/\s+/).filter(Boolean));
        on.add(m[1]!);
        writeFileSync(file, `${[...on].join(' ')}\n`);
        return;
      }
      if (name === 'cgroup.procs') {
        writeFileSync(file, `${procsOf(dir).concat(data.trim()).join('\n')}\n`);
        return;
      }
      if (!existsSync(file)) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      writeFileSync(file, data);
    },
    rmdir: (dir) => {
      if (!existsSync(dir)) return true;
      if (procsOf(dir).length > 0) return false;
      if (realCgroupFs.subdirs(dir).length > 0) return false;
      rmSync(dir, { recursive: true, force: true });
      return true;
    },
  };
  return { root, fs, put, get: (rel) => readFileSync(abs(rel), 'utf8'), abs };
}
