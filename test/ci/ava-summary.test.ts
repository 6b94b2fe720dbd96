/**
 * `.ci/run`'s last line, "N passed, N failed, N skipped", counted by scripts/ava-summary.ts from
 * recorded ava 7 output (test/fixtures/ava-output, see its README). The expected numbers come
 * from the test sources of each scenario (or, for the real suite, from ava's own lines), never
 * from the counting under test. Once, a red run with ~440 passing tests was summed up as
 * "0 passed, 2 failed": ava prints "N tests passed" only when nothing failed.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { countsLine, problems, summarize } from '../../scripts/ava-summary.js';
import { REPO_ROOT } from '../support/cli.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'ava-output');
const log = (name: string) => readFileSync(join(FIXTURES, `${name}.log`), 'utf8');
const status = (name: string) => Number(readFileSync(join(FIXTURES, `${name}.status`), 'utf8').trim());

const cases: { name: string; line: string; problems: RegExp | null; exit: number }[] = [
  // 4 tests pass; a t.log line that looks like a pass is not counted.
  { name: 'green', line: '4 passed, 0 failed, 0 skipped', problems: null, exit: 0 },
  // 3 pass; a failed assertion, a throw and a t.timeout overrun fail.
  { name: 'failures', line: '3 passed, 3 failed, 0 skipped', problems: null, exit: 1 },
  // 2 pass, 2 skipped, 1 todo, a test.failing that fails (known failure) and one that passes (a failure).
  { name: 'skips-todo-known', line: '2 passed, 1 failed, 2 skipped', problems: /^ava also reported: 1 known failure, 1 todo$/, exit: 1 },
  // 3 pass, and the run still fails: an uncaught exception and an unhandled rejection.
  { name: 'crash', line: '3 passed, 0 failed, 0 skipped', problems: /^ava also reported: 1 uncaught exception, 1 unhandled rejection$/, exit: 1 },
  // 2 pass; one hangs until ava's inactivity timeout: it did not pass, it counts as failed.
  { name: 'timeout', line: '2 passed, 1 failed, 0 skipped', problems: /1 test still running when ava timed out/, exit: 1 },
  // 2 pass in one file; the other file's before hook fails, so its test never runs.
  { name: 'hook', line: '2 passed, 0 failed, 0 skipped', problems: /^ava also reported: 1 hook failed$/, exit: 1 },
  // The build failed before ava ran.
  { name: 'build-error', line: '0 passed, 0 failed, 0 skipped', problems: /no ava summary: npm test exited 2 before ava finished/, exit: 2 },
  // The whole suite under load: 468 "✔" lines and ava's own "3 tests failed".
  { name: 'real-suite-red', line: '468 passed, 3 failed, 0 skipped', problems: null, exit: 1 },
];

for (const c of cases) {
  test(`${c.name}: ${c.line}`, (t) => {
    t.is(status(c.name), c.exit, 'the recorded exit status');
    const counts = summarize(log(c.name));
    t.is(countsLine(counts), c.line);
    const note = problems(counts, status(c.name));
    if (c.problems) t.regex(note ?? '', c.problems);
    else t.is(note, null);
  });
}

test('the real suite: the passed count from the per-test lines matches ava\'s own total of a green run', (t) => {
  const green = log('real-suite-green');
  const counts = summarize(green);
  const own = /^\s*(\d+) tests passed$/m.exec(green);
  t.truthy(own, 'ava printed its total');
  t.is(counts.passed, Number(own![1]));
  t.is(counts.failed, 0);
  // Without the summary block (ava killed mid-run), the same per-test lines give the same count.
  const cut = green.slice(0, green.lastIndexOf('─'));
  t.is(summarize(cut).passed, Number(own![1]));
  t.false(summarize(cut).sawSummary);
});

test('colours (FORCE_COLOR in CI) do not change the counts', (t) => {
  const colored = log('failures').replace(/✔/g, '\x1b[32m✔\x1b[39m').replace(/^(\s*)(\d+ tests? failed)$/m, '$1\x1b[31m$2\x1b[39m');
  t.is(countsLine(summarize(colored)), '3 passed, 3 failed, 0 skipped');
});

test('the command line: notes first, the counts last; no exit status given, no guess about it', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'ava-summary.ts'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  const crash = run(join(FIXTURES, 'crash.log'), '1');
  t.is(crash.status, 0, crash.stderr);
  t.deepEqual(crash.stdout.trim().split('\n'), ['ava also reported: 1 uncaught exception, 1 unhandled rejection', '3 passed, 0 failed, 0 skipped']);
  t.is(run(join(FIXTURES, 'build-error.log')).stdout, '0 passed, 0 failed, 0 skipped\n');
  const usage = run();
  t.is(usage.status, 2);
  t.regex(usage.stderr, /usage:/);
});
