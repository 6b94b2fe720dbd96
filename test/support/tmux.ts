/**
 * A program in a real terminal: a tmux server of its own (its own socket, no user config), one
 * window of a given size running the command, keys sent with send-keys and the screen read with
 * capture-pane. `waitFor` polls the screen until a predicate holds (generous deadline; never a
 * fixed sleep). `kill` ends the tmux server and with it the program; call it in teardown always.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function tmuxAvailable(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface TmuxOptions {
  /** Scratch directory for the config file. */
  dir: string;
  cols: number;
  rows: number;
  /** argv of the program. */
  command: string[];
  cwd?: string;
  /** The whole environment of the program (nothing else is passed). */
  env: Record<string, string>;
}

let sockets = 0;

/**
 * Runs the program, writes its exit status to a file, then keeps the pane open (showing what the
 * program left on the terminal) until the tmux server is killed: a pane whose process exits at
 * once may lose its last output.
 */
const WRAPPER = 'status=$1; shift; "$@"; echo $? > "$status"; while :; do sleep 3600; done';

export class TmuxSession {
  private constructor(
    private readonly socket: string,
    readonly target: string,
    private readonly statusFile: string,
  ) {}

  static async start(options: TmuxOptions): Promise<TmuxSession> {
    const socket = `torc-test-${process.pid}-${++sockets}`;
    const conf = path.join(options.dir, `${socket}.conf`);
    const status = path.join(options.dir, `${socket}.status`);
    // No status line (the pane is the whole window), a terminal type every Debian has.
    writeFileSync(conf, ['set -g status off', 'set -g default-terminal tmux-256color', 'set -g history-limit 0', ''].join('\n'));
    const session = new TmuxSession(socket, 'tui', status);
    const env = Object.entries(options.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const size = ['-x', String(options.cols), '-y', String(options.rows)];
    const cwd = options.cwd ? ['-c', options.cwd] : [];
    await run('tmux', ['-u', '-L', socket, '-f', conf, 'new-session', '-d', '-s', 'tui', ...size, ...cwd, ...env, '--', 'sh', '-c', WRAPPER, 'sh', status, ...options.command], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TERM: 'xterm-256color', ...options.env },
    });
    return session;
  }

  private tmux(args: string[]): Promise<{ stdout: string }> {
    return run('tmux', ['-L', this.socket, ...args], { maxBuffer: 16 * 1024 * 1024 });
  }

  /** The screen as text (`escapes`: with the SGR sequences of colours and attributes). */
  async capture(escapes = false): Promise<string> {
    const { stdout } = await this.tmux(['capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', this.target]);
    return stdout;
  }

  /** tmux key names (`Enter`, `Escape`, `PageDown`, `BSpace`, `Tab`, `Up`, …) or single characters. */
  async keys(...keys: string[]): Promise<void> {
    await this.tmux(['send-keys', '-t', this.target, ...keys]);
  }

  /** Text typed as it is. */
  async type(text: string): Promise<void> {
    await this.tmux(['send-keys', '-t', this.target, '-l', text]);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux(['resize-window', '-t', this.target, '-x', String(cols), '-y', String(rows)]);
  }

  async size(): Promise<{ cols: number; rows: number }> {
    const { stdout } = await this.tmux(['display-message', '-p', '-t', this.target, '#{pane_width} #{pane_height}']);
    const [cols, rows] = stdout.trim().split(' ').map(Number);
    return { cols: cols!, rows: rows! };
  }

  /** The program's exit status once it has exited, else null. */
  exitStatus(): number | null {
    try {
      const text = readFileSync(this.statusFile, 'utf8').trim();
      return text === '' ? null : Number(text);
    } catch {
      return null;
    }
  }

  /** Polls the screen until `predicate` holds; the last screen is in the error when it never does. */
  async waitFor(predicate: (screen: string) => boolean, what: string, timeoutMs = 90_000, escapes = false): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    for (;;) {
      screen = await this.capture(escapes);
      if (predicate(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen was:\n${screen}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits for `text` (a string or a pattern) on the screen. */
  waitForText(text: string | RegExp, timeoutMs?: number): Promise<string> {
    const test = typeof text === 'string' ? (s: string) => s.includes(text) : (s: string) => text.test(s);
    return this.waitFor(test, `${String(text)} on the screen`, timeoutMs);
  }

  /** Ends the tmux server of this session (and the program in it). Safe to call twice. */
  async kill(): Promise<void> {
    await this.tmux(['kill-server']).catch(() => undefined);
  }
}
