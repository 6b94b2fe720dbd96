/**
 * The counts of an ava 7 run, read from what its default reporter printed (`npm test 2>&1 |
 * tee LOG`), for `.ci/run`'s last line: "N passed, N failed, N skipped".
 *
 *   node --import tsx scripts/ava-summary.ts LOG [EXIT_STATUS]
 *
 * Why not just the summary block: ava prints "N tests passed" only when nothing failed, so a
 * red run's passed count has to come from the per-test lines ("✔ title"), one per passed test.
 * The summary's own lines (always printed when not zero) give the rest. "failed" is ava's
 * failed tests plus the tests still pending when ava's timeout hit (ava's TAP reporter counts
 * those as failed too); every other problem ava reports (failed hooks, uncaught exceptions,
 * unhandled rejections, known failures, todo) is listed on the line before, so that a red exit
 * status never comes with a line that looks green and says nothing.
 */
import { readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import { pathToFileURL } from 'node:url';

export interface AvaCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Tests ava still had running when its inactivity timeout ended the run (part of `failed`). */
  pendingAfterTimeout: number;
  knownFailures: number;
  todo: number;
  failedHooks: number;
  uncaughtExceptions: number;
  unhandledRejections: number;
  /** Whether the log holds ava's closing summary (false: ava never ran, or was killed). */
  sawSummary: boolean;
}

// ava 7's figures: ✔/✘ on terminals that do Unicode, √/× otherwise.
const PASSED_TEST = /^\s*[✔√] (?!\[expected fail\])/;
const SUMMARY: [keyof AvaCounts, RegExp][] = [
  ['passed', /^(\d+) tests? passed$/],
  ['failed', /^(\d+) tests? failed$/],
  ['skipped', /^(\d+) tests? skipped$/],
  ['todo', /^(\d+) tests? todo$/],
  ['knownFailures', /^(\d+) known failures?$/],
  ['failedHooks', /^(\d+) hooks? failed$/],
  ['uncaughtExceptions', /^(\d+) uncaught exceptions?$/],
  ['unhandledRejections', /^(\d+) unhandled rejections?$/],
  ['pendingAfterTimeout', /^(\d+) tests? remained pending after a timeout$/],
];
/** The rule ava draws before its failure details and before its summary. */
const RULE = /^─$/;

export function summarize(log: string): AvaCounts {
  const lines = stripVTControlCharacters(log).split(/\r?\n/);
  const counts: AvaCounts = {
    passed: 0, failed: 0, skipped: 0, pendingAfterTimeout: 0, knownFailures: 0, todo: 0,
    failedHooks: 0, uncaughtExceptions: 0, unhandledRejections: 0, sawSummary: false,
  };
  let passedLines = 0;
  let lastRule = -1;
  lines.forEach((line, i) => {
    if (PASSED_TEST.test(line)) passedLines++;
    if (RULE.test(line.trim())) lastRule = i;
  });
  // The summary: the lines after ava's last rule (the watch-mode timestamp suffix dropped).
  let summaryPassed: number | null = null;
  if (lastRule >= 0) {
    for (const raw of lines.slice(lastRule + 1)) {
      const line = raw.trim().replace(/ \[\d{1,2}:\d{2}:\d{2}\]$/, '');
      for (const [key, pattern] of SUMMARY) {
        const m = pattern.exec(line);
        if (!m) continue;
        counts.sawSummary = true;
        if (key === 'passed') summaryPassed = Number(m[1]);
        else (counts[key] as number) = Number(m[1]);
      }
    }
  }
  counts.passed = summaryPassed ?? passedLines;
  counts.failed += counts.pendingAfterTimeout;
  return counts;
}

/** The other problems ava reported, for the line before the counts; null when none. */
export function problems(c: AvaCounts, exitStatus: number | null = null): string | null {
  const parts: string[] = [];
  const add = (n: number, one: string, many: string) => n > 0 && parts.push(`${n} ${n === 1 ? one : many}`);
  add(c.pendingAfterTimeout, 'test still running when ava timed out (counted failed)', 'tests still running when ava timed out (counted failed)');
  add(c.failedHooks, 'hook failed', 'hooks failed');
  add(c.uncaughtExceptions, 'uncaught exception', 'uncaught exceptions');
  add(c.unhandledRejections, 'unhandled rejection', 'unhandled rejections');
  add(c.knownFailures, 'known failure', 'known failures');
  add(c.todo, 'todo', 'todo');
  if (exitStatus !== null && exitStatus !== 0 && !c.sawSummary) parts.push(`no ava summary: npm test exited ${exitStatus} before ava finished (build error, or ava crashed or was killed)`);
  return parts.length > 0 ? `ava also reported: ${parts.join(', ')}` : null;
}

export function countsLine(c: AvaCounts): string {
  return `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, status] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx scripts/ava-summary.ts LOG [EXIT_STATUS]\n');
    process.exit(2);
  }
  const counts = summarize(readFileSync(file, 'utf8'));
  const note = problems(counts, status === undefined ? null : Number(status));
  if (note) process.stdout.write(`${note}\n`);
  process.stdout.write(`${countsLine(counts)}\n`);
}
