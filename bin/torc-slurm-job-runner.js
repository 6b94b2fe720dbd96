#!/usr/bin/env node
// Alias kept for torc users: `torc-slurm-job-runner WF ...` is `torc worker WF ...`.
import { main } from '../dist/cli/main.js';
main(['worker', ...process.argv.slice(2)]).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`torc: ${err?.stack ?? err}\n`); process.exitCode = 1; },
);
