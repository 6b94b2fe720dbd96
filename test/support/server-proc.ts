/** A real `torc server` process on a random port (it prints its URL), for tests that need the API in another process. */
import { startTorc, type StartedTorc } from './cli.js';

export interface ServerProcess {
  proc: StartedTorc;
  /** http://127.0.0.1:PORT/torc-service/v1 */
  url: string;
  /** SIGTERM, then the exit; SIGKILL if it does not stop within 30 s. */
  stop(): Promise<{ code: number | null; stderr: string }>;
}

export async function startTorcServer(dbPath: string, extraArgs: string[] = [], env?: Record<string, string | undefined>): Promise<ServerProcess> {
  const proc = startTorc(['server', '--db', dbPath, '--port', '0', ...extraArgs], { timeoutMs: 1_800_000, env });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = /listening on (\S+)/.exec(proc.output().stdout);
    if (m) {
      const url = m[1]!;
      return {
        proc,
        url,
        stop: async () => {
          if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
          const timer = setTimeout(() => proc.child.kill('SIGKILL'), 30_000);
          const res = await proc.result;
          clearTimeout(timer);
          return { code: res.code, stderr: res.stderr };
        },
      };
    }
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`torc server did not start: ${proc.output().stderr}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
