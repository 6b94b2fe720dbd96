#!/usr/bin/env node
/**
 * `npm run test:loaded [-- --hogs N] [-- ava arguments…]`: the whole `npm test` suite on a
 * machine made busy on purpose, the way CI machines are (shared, other builds running). Beside
 * the suite run CPU hogs (busy loops; default one per core) and a disk writer (writes, fsyncs
 * and deletes 32 MiB files in a loop). A test that only passes on an idle machine fails here.
 *
 *   --hogs N        CPU hogs (0: none)
 *   --no-writer     no disk writer
 *   anything else   passed to `npm test --` (so to ava: test files, --match, …)
 *
 * Exit status: the suite's (128 + signal number when it was killed by one). The hogs and the
 * writer end with this script in every case: on the suite's end, on Ctrl-C / SIGTERM (passed on
 * to the suite first), and, should this script itself be SIGKILLed, by themselves: each checks
 * that its parent is still this process and exits when it is not.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const options = { hogs: os.availableParallelism(), writer: true, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--hogs' || a.startsWith('--hogs=')) {
      const value = a === '--hogs' ? argv[++i] : a.slice('--hogs='.length);
      if (value === undefined || !/^\d+$/.test(value)) {
        process.stderr.write(`test-loaded: --hogs needs a whole number of CPU hogs (got ${value === undefined ? 'nothing' : JSON.stringify(value)})\n`);
        process.exit(2);
      }
      options.hogs = Number(value);
    } else if (a === '--no-writer') {
      options.writer = false;
    } else if (a === '--') {
      options.rest.push(...argv.slice(i + 1));
      break;
    } else {
      options.rest.push(a);
    }
  }
  return options;
}

// Both loops look up their parent every ~100 ms: reparented (this script gone) means stop.
const HOG = `
const parent = Number(process.argv[1]);
for (;;) {
  const until = Date.now() + 100;
  while (Date.now() < until);
  if (process.ppid !== parent) process.exit(0);
}`;

const WRITER = `
const fs = require('node:fs');
const path = require('node:path');
const [parentText, dir] = process.argv.slice(1);
const parent = Number(parentText);
const chunk = Buffer.alloc(1 << 20, 7);
const file = path.join(dir, 'load');
for (let round = 0; ; round++) {
  const fd = fs.openSync(file + (round % 2), 'w');
  for (let mb = 0; mb < 32; mb++) {
    fs.writeSync(fd, chunk);
    if (mb % 8 === 7) fs.fsyncSync(fd);
    if (process.ppid !== parent) { fs.closeSync(fd); fs.rmSync(dir, { recursive: true, force: true }); process.exit(0); }
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.rmSync(file + ((round + 1) % 2), { force: true });
}`;

const options = parseArgs(process.argv.slice(2));
const load = [];
let writerDir;

function startLoad() {
  for (let i = 0; i < options.hogs; i++) {
    load.push(spawn(process.execPath, ['-e', HOG, String(process.pid)], { stdio: 'ignore' }));
  }
  if (options.writer) {
    writerDir = mkdtempSync(path.join(os.tmpdir(), 'torc-test-loaded-'));
    load.push(spawn(process.execPath, ['-e', WRITER, String(process.pid), writerDir], { stdio: 'ignore' }));
  }
  for (const p of load) p.on('error', (e) => process.stderr.write(`test-loaded: a load process failed: ${e.message}\n`));
}

let stopped = false;
function stopLoad() {
  if (stopped) return;
  stopped = true;
  for (const p of load) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  if (writerDir) rmSync(writerDir, { recursive: true, force: true });
}

startLoad();
process.stderr.write(`test-loaded: npm test with ${options.hogs} CPU hog(s)${options.writer ? ' and a disk writer' : ''} beside it (${os.availableParallelism()} cores)\n`);
const started = Date.now();
// The suite leads a process group of its own (npm, sh, tsc, ava and its workers), so that a
// signal reaches all of it: npm alone passes SIGTERM on to nobody, and a tsc or ava it started
// would run on, orphaned.
const suite = spawn('npm', ['test', ...(options.rest.length ? ['--', ...options.rest] : [])], { cwd: root, stdio: 'inherit', detached: true });

// Ctrl-C, SIGTERM, SIGHUP: the load stops at once, the suite gets the signal (ava reports what
// was running), and this script waits for it to end.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    stopLoad();
    try {
      process.kill(-suite.pid, signal);
    } catch {
      // Already gone.
    }
  });
}
process.on('exit', stopLoad);

suite.on('error', (e) => {
  process.stderr.write(`test-loaded: could not run npm test: ${e.message}\n`);
  stopLoad();
  process.exit(1);
});
suite.on('exit', (code, signal) => {
  stopLoad();
  const seconds = Math.round((Date.now() - started) / 1000);
  process.stderr.write(`test-loaded: npm test ${signal ? `killed by ${signal}` : `exited ${code}`} after ${seconds} s under load\n`);
  process.exit(code ?? 128 + (os.constants.signals[signal] ?? 0));
});
