#!/usr/bin/env node
/**
 * Builds the web dashboard into dist/web (served by `torc server`, `torc reconcile` and
 * `torc operator` at `/`): src/web/main.ts bundled with esbuild (preact + htm, dagre, uPlot),
 * src/web/app.css with uPlot's CSS, the Inter and JetBrains Mono fonts and the page itself.
 * Everything is local: the dashboard works on machines without Internet access.
 * `--check` also type-checks src/web (DOM types) with its own tsconfig.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src', 'web');
const out = path.join(root, 'dist', 'web');

if (process.argv.includes('--check')) {
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(src, 'tsconfig.json')], { stdio: 'inherit' });
  } catch {
    console.error('build-web: src/web does not type-check (errors above)');
    process.exit(1);
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'assets', 'fonts'), { recursive: true });

await build({
  entryPoints: { app: path.join(src, 'main.ts'), style: path.join(src, 'app.css') },
  outdir: path.join(out, 'assets'),
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  legalComments: 'eof',
  logLevel: 'warning',
  loader: { '.woff2': 'file' },
  assetNames: 'fonts/[name]',
  external: ['/assets/*'],
});

for (const [from, to] of [
  ['node_modules/@fontsource-variable/inter/files/inter-latin-wght-normal.woff2', 'assets/fonts/inter.woff2'],
  ['node_modules/@fontsource-variable/jetbrains-mono/files/jetbrains-mono-latin-wght-normal.woff2', 'assets/fonts/jetbrains-mono.woff2'],
  ['src/web/index.html', 'index.html'],
  ['src/web/favicon.svg', 'favicon.svg'],
]) {
  copyFileSync(path.join(root, from), path.join(out, to));
}
