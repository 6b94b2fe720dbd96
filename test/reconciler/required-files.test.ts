/**
 * torc refuses to start a workflow whose required input files are missing ("Missing required
 * files"); so does `torc reconcile`: it names every missing file, exits 2 and runs nothing, until
 * the file is there (or --force).
 */
import test from 'ava';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTorc } from '../support/cli.js';
import { scratchDir } from '../support/scratch.js';
import { query } from '../support/sqlite.js';

const SPEC = `name: needs-input
files:
  - {name: raw, path: data/raw.csv}
  - {name: also, path: also.txt}
  - {name: clean, path: clean.csv}
jobs:
  - {name: prep, command: 'cat \${files.input.raw} \${files.input.also} > \${files.output.clean}'}
  - {name: report, command: 'wc -l \${files.input.clean} > report.txt'}
`;

test('a missing required input file refuses the start: every missing file named, exit 2, nothing run; once it exists the workflow runs', async (t) => {
  const dir = scratchDir(t, 'torc-required-');
  writeFileSync(join(dir, 'wf.yaml'), SPEC);
  const refused = await runTorc(['reconcile', 'wf.yaml', '--no-server', '-q'], { cwd: dir });
  t.is(refused.code, 2, refused.stderr);
  t.regex(refused.stderr, /Missing required files: "data\/raw.csv"/);
  t.regex(refused.stderr, /Missing required files: "also.txt"/);
  t.notRegex(refused.stderr, /clean\.csv/, 'a file a job writes is not required');
  const statuses = await query<{ status: number }>(join(dir, '.torc', 'wf.db'), 'SELECT status FROM jobs');
  t.deepEqual(statuses.map((s) => s.status), [0, 0], 'every job still uninitialized');
  t.false(existsSync(join(dir, 'report.txt')));

  writeFileSync(join(dir, 'also.txt'), 'b\n');
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'raw.csv'), 'a\n');
  const ran = await runTorc(['reconcile', 'wf.yaml', '--no-server', '-q'], { cwd: dir });
  t.is(ran.code, 0, ran.stderr);
  t.true(existsSync(join(dir, 'report.txt')));
});

test('--force starts anyway: the job that reads the missing file fails, as without the check', async (t) => {
  const dir = scratchDir(t, 'torc-required-force-');
  writeFileSync(join(dir, 'wf.yaml'), SPEC);
  const forced = await runTorc(['reconcile', 'wf.yaml', '--no-server', '-q', '--force', '--format', 'json'], { cwd: dir });
  t.is(forced.code, 1, forced.stderr);
  const [summary] = JSON.parse(forced.stdout) as { counts: Record<string, number> }[];
  t.like(summary!.counts, { failed: 1, canceled: 1 }, "prep fails; report, which waits for it, is canceled (torc's default)");
});
