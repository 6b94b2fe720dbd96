/**
 * Starts `torc tui`: opens the source (a server or a database file), checks the workflow asked
 * for, then loads ink and React — only now, so no other command pays for them — and draws the
 * app on the terminal's alternate screen, which is given back as it was on exit (q, Ctrl-C,
 * SIGTERM, SIGHUP when an SSH session drops).
 */
import { InputError } from '../../errors.js';
import type { BackendFlags } from '../backend.js';
import { openSource } from './source.js';

/** no-color.org: NO_COLOR present and not empty turns colour off. */
export function colorWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.NO_COLOR;
}

/**
 * ink (is-in-ci) and its colour library (chalk's supports-color) decide once, when loaded,
 * whether they run in CI — CI or CONTINUOUS_INTEGRATION set — and then draw only the last frame
 * (for logs) without colour. `torc tui` on a terminal must draw every frame, in colour unless
 * NO_COLOR, wherever it is started (a CI job's interactive shell, a test in tmux), so they are
 * loaded without those two variables, which are put back right after.
 */
async function loadInk(): Promise<{ ink: typeof import('ink'); react: typeof import('react') }> {
  // React's production build: smaller and quicker to load than the development one.
  process.env.NODE_ENV ??= 'production';
  const saved = { CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION };
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  try {
    const [ink, react] = await Promise.all([import('ink'), import('react')]);
    return { ink, react };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export async function runTui(flags: BackendFlags, workflowId: number | undefined): Promise<number> {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new InputError('torc tui needs a terminal (stdin and stdout); in scripts use torc workflows status / torc jobs list', 'stdout');
  }
  const source = await openSource(flags);
  try {
    if (workflowId !== undefined) await source.workflow(workflowId); // a clear "workflow N not found" before the screen changes
    const { ink, react } = await loadInk();
    const { App } = await import('./app.js');
    const out = process.stdout;
    // The alternate screen, cursor home: the shell's screen comes back untouched on exit.
    out.write('\x1b[?1049h\x1b[H');
    try {
      const instance = ink.render(react.createElement(App, { source, color: colorWanted(), initialWorkflow: workflowId }), {
        exitOnCtrlC: true,
        patchConsole: true,
        maxFps: 30,
      });
      const stop = () => instance.unmount();
      process.once('SIGTERM', stop);
      process.once('SIGHUP', stop);
      try {
        await instance.waitUntilExit();
      } finally {
        process.off('SIGTERM', stop);
        process.off('SIGHUP', stop);
      }
    } finally {
      out.write('\x1b[?25h\x1b[?1049l');
    }
    return 0;
  } finally {
    await source.close();
  }
}
