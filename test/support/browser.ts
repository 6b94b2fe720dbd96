/**
 * Debian's headless Chromium driven by playwright-core (no browser download: it cannot work
 * on these machines). `findChromium()` says where it is or why not; tests without it are
 * skipped with a loud message. Screenshots go to $TORC_TEST_ARTIFACTS or test-artifacts/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { REPO_ROOT } from './cli.js';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

export function findChromium(): string | undefined {
  const env = process.env.TORC_CHROMIUM;
  if (env) return existsSync(env) ? env : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

export function skipMessage(): string {
  return (
    '\n!!!!! chromium not found (looked for $TORC_CHROMIUM, ' +
    `${CANDIDATES.join(', ')}): the browser tests are SKIPPED. Install it with \`apt-get install -y chromium\` (.ci/run does). !!!!!\n`
  );
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** console errors and uncaught page errors seen so far (with the page URL). */
  errors: string[];
  close(): Promise<void>;
}

/** A fresh Chromium with its own user-data dir, one page, console errors collected. */
export async function launchBrowser(executablePath: string, viewport = { width: 1440, height: 960 }): Promise<Browser> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'torc-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport,
    deviceScaleFactor: 1,
    timeout: 120_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`${page.url()}: console: ${m.text()}`);
  });
  page.on('pageerror', (e: Error) => errors.push(`${page.url()}: page error: ${e.message}`));
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export function artifactsDir(name: string): string {
  const dir = path.join(process.env.TORC_TEST_ARTIFACTS ?? path.join(REPO_ROOT, 'test-artifacts'), name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
