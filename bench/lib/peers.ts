/**
 * The peers we compare with come from Debian: installed on first use when missing
 * (`apt-get install -y parallel snakemake`; xargs is in findutils, always there).
 */
import { execFileSync, spawnSync } from 'node:child_process';

const PACKAGES: Record<string, string> = { parallel: 'parallel', snakemake: 'snakemake', xargs: 'findutils' };

export function hasCommand(name: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

const tried = new Map<string, string | null>();

/** null when `name` is available (installing it if needed), else why not. */
export function ensurePeer(name: string, log: (line: string) => void): string | null {
  if (hasCommand(name)) return null;
  if (tried.has(name)) return tried.get(name)!;
  const pkg = PACKAGES[name] ?? name;
  let reason: string | null = null;
  const root = process.getuid?.() === 0;
  const argv = root ? ['apt-get'] : hasCommand('sudo') ? ['sudo', '-n', 'apt-get'] : null;
  if (!argv) {
    reason = `${name} is not installed and this user cannot run apt-get (install Debian package ${pkg})`;
  } else {
    log(`installing ${pkg} (for ${name}) with apt-get …`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (args: string[]) =>
      execFileSync(argv[0]!, [...argv.slice(1), '-o', 'DPkg::Lock::Timeout=300', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 900_000 });
    try {
      try {
        apt(['install', '-y', '-qq', pkg]);
      } catch {
        apt(['update', '-qq']);
        apt(['install', '-y', '-qq', pkg]);
      }
    } catch (e) {
      reason = `apt-get install ${pkg} failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n').slice(-1)[0]}`;
    }
    if (!reason && !hasCommand(name)) reason = `${pkg} installed but ${name} is still not on PATH`;
  }
  tried.set(name, reason);
  return reason;
}
