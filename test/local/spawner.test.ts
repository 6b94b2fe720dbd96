import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { jobArgv } from '../../src/runners/local/process.js';
import { NodeSpawner, PerlSpawner, type Spawner } from '../../src/runners/local/spawner.js';
import { isAlive, tempDir, waitFor } from '../support/procs.js';

test('plain command lines are exec\'d directly; anything bash must interpret goes through bash -c', (t) => {
  t.deepEqual(jobArgv('true'), ['true']);
  t.deepEqual(jobArgv('python3 model.py --case 7 --out results/case_7.json'), ['python3', 'model.py', '--case', '7', '--out', 'results/case_7.json']);
  for (const cmd of [
    'echo $HOME',
    'echo "quoted"',
    "echo 'single'",
    'ls *.txt',
    'a && b',
    'a; b',
    'a | b',
    'echo > out',
    'cd /tmp',
    'exit 3',
    'FOO=1 cmd',
    'export X=1',
    ': nothing',
    'source env.sh',
    '. env.sh',
    'echo ~',
    'echo a\\ b',
    'sleep 1 &',
    'echo {a,b}',
    'echo `date`',
    'echo $(date)',
    'if true',
    'echo a\nb',
    'time sleep 1',
    '',
  ]) {
    t.deepEqual(jobArgv(cmd), ['bash', '-c', cmd], cmd);
  }
});

const hasPerl = spawnSync('perl', ['-e', '1']).status === 0;
const spawners: [string, () => Spawner][] = [['node', () => new NodeSpawner()]];
if (hasPerl) spawners.push(['perl', () => new PerlSpawner()]);

for (const [kind, make] of spawners) {
  test(`${kind} spawner: exit code, appended stdio, exact environment, working directory, own process group`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const req = {
      argv: ['bash', '-c', 'echo "$ONLY|${HOME:-unset}|$PWD"; echo err >&2; [ "$(ps -o pgid= $$ | tr -d " ")" = "$$" ] || exit 9; exit 4'],
      cwd: dir,
      env: { ONLY: 'this', PATH: process.env.PATH },
      stdout: path.join(dir, 'o'),
      stderr: path.join(dir, 'e'),
    };
    const first = await spawner.spawn(req);
    t.true(first.pid! > 0);
    t.deepEqual(await first.exit, { code: 4, signal: null });
    await (await spawner.spawn(req)).exit;
    t.is(await readFile(req.stdout, 'utf8'), `this|unset|${dir}\n`.repeat(2), 'appended, not truncated');
    t.is(await readFile(req.stderr, 'utf8'), 'err\nerr\n');
  });

  test(`${kind} spawner: a signal death reports the signal`, async (t) => {
    const dir = await tempDir();
    const child = await make().spawn({ argv: ['bash', '-c', 'kill -TERM $$'], cwd: dir, env: { PATH: process.env.PATH }, stdout: path.join(dir, 'o'), stderr: path.join(dir, 'e') });
    t.deepEqual(await child.exit, { code: null, signal: 'SIGTERM' });
  });

  test(`${kind} spawner: a missing program or working directory is exit 127 with the reason in stderr`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const noProgram = await spawner.spawn({ argv: ['no-such-program-xyz'], cwd: dir, env: { PATH: process.env.PATH }, stdout: path.join(dir, 'o1'), stderr: path.join(dir, 'e1') });
    const e1 = await noProgram.exit;
    t.is(e1.code, 127);
    t.truthy(e1.error);
    t.regex(await readFile(path.join(dir, 'e1'), 'utf8'), /could not start job.*no-such-program-xyz/);
    const noDir = await spawner.spawn({ argv: ['true'], cwd: path.join(dir, 'missing'), env: { PATH: process.env.PATH }, stdout: path.join(dir, 'o2'), stderr: path.join(dir, 'e2') });
    t.is((await noDir.exit).code, 127);
    t.regex(await readFile(path.join(dir, 'e2'), 'utf8'), /could not start job/);
  });

  test(`${kind} spawner: many jobs at once each get their own exit`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const children = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        spawner.spawn({ argv: ['bash', '-c', `exit ${i % 7}`], cwd: dir, env: { PATH: process.env.PATH }, stdout: path.join(dir, `o${i}`), stderr: path.join(dir, `e${i}`) }),
      ),
    );
    const codes = await Promise.all(children.map((c) => c.exit.then((e) => e.code)));
    t.deepEqual(codes, Array.from({ length: 40 }, (_, i) => i % 7));
  });
}

if (hasPerl) {
  test('perl spawner: if the helper dies, running jobs are still seen to end (status lost) and new jobs start with Node', async (t) => {
    const dir = await tempDir();
    const spawner = new PerlSpawner();
    const env = { PATH: process.env.PATH };
    const running = await spawner.spawn({ argv: ['sleep', '0.5'], cwd: dir, env, stdout: path.join(dir, 'o'), stderr: path.join(dir, 'e') });
    const helper = (spawner as unknown as { helper: { pid: number; kill(s: string): void } }).helper;
    helper.kill('SIGKILL');
    await waitFor(() => !isAlive(helper.pid), 10_000, 'helper to die');
    const exit = await running.exit;
    t.is(exit.code, 1);
    t.regex(exit.error ?? '', /status lost/);
    const after = await spawner.spawn({ argv: ['bash', '-c', 'exit 5'], cwd: dir, env, stdout: path.join(dir, 'o2'), stderr: path.join(dir, 'e2') });
    t.is((await after.exit).code, 5);
  });
}

for (const [kind, make] of spawners) {
  test(`${kind} spawner queue: at most the group's limit run at once; cancelQueued withdraws what has not started`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const env = { PATH: process.env.PATH };
    const log = path.join(dir, 'log');
    const job = (i: number) =>
      spawner.spawn(
        { argv: ['bash', '-c', `echo "+ $$" >> ${log}; sleep 0.2; echo "- $$" >> ${log}`], cwd: dir, env, stdout: path.join(dir, `o${i}`), stderr: path.join(dir, `e${i}`) },
        { group: 'g1', limit: 3 },
      );
    const children = await Promise.all(Array.from({ length: 9 }, (_, i) => job(i)));
    await Promise.all(children.map((c) => c.exit));
    let alive = 0;
    let peak = 0;
    for (const line of (await readFile(log, 'utf8')).trim().split('\n')) {
      alive += line.startsWith('+') ? 1 : -1;
      peak = Math.max(peak, alive);
    }
    t.is(peak, 3, 'the limit is used, never exceeded');
    t.true(children.every((c) => c.pid !== null));

    const first = Array.from({ length: 2 }, (_, i) => job(100 + i));
    const waiting = Array.from({ length: 5 }, (_, i) => job(200 + i));
    await Promise.all(first.map((p) => p.then((c) => c.pid)));
    spawner.cancelQueued('g1');
    const withdrawn = await Promise.all(waiting);
    // Up to one more fits under the limit of 3 before the cancel arrives; the rest never start.
    const never = withdrawn.filter((c) => c.pid === null);
    t.true(never.length >= 4, `${never.length} withdrawn`);
    for (const c of never) t.deepEqual(await c.exit, { code: null, signal: null, canceled: true });
    await Promise.all([...first, ...waiting].map(async (p) => (await p).exit));
  });
}
