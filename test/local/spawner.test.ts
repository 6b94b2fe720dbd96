import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { jobArgv } from '../../src/runners/local/process.js';
import { HelperSpawner, NativeSpawner, NodeSpawner, PerlSpawner, nativeSpawnerCandidates, nativeSpawnerPath, type ChildExit, type Spawner } from '../../src/runners/local/spawner.js';
import { groupMembers, isAlive, tempDir, waitFor } from '../support/procs.js';

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

/** An exit without when it happened (which every spawner adds). */
const codeAndSignal = (e: ChildExit) => ({ code: e.code, signal: e.signal });

const hasPerl = spawnSync('perl', ['-e', '1']).status === 0;
const hasCc = spawnSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' }).status === 0;
const nativeBinary = nativeSpawnerPath();
const spawners: [string, () => Spawner][] = [['node', () => new NodeSpawner()]];
if (hasPerl) spawners.push(['perl', () => new PerlSpawner()]);
if (nativeBinary) spawners.push(['native', () => new NativeSpawner()]);
else test.skip(`native spawner: not built (no ${nativeSpawnerCandidates().join(' or ')}; npm run build makes it), its tests are skipped`, () => undefined);
/** The spawners that run a helper process (queue inside it, orphan handling). */
const helpers = spawners.filter(([kind]) => kind !== 'node') as [string, () => HelperSpawner][];

test('with a C compiler present, the build made the native spawner (no silent fallback to perl)', (t) => {
  if (!hasCc) {
    t.log('no C compiler here: the native spawner is optional');
    t.pass();
    return;
  }
  t.truthy(nativeBinary, `cc exists but no native spawner at ${nativeSpawnerCandidates().join(' or ')}: run npm run build`);
});

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
    t.deepEqual(codeAndSignal(await first.exit), { code: 4, signal: null });
    await (await spawner.spawn(req)).exit;
    t.is(await readFile(req.stdout, 'utf8'), `this|unset|${dir}\n`.repeat(2), 'appended, not truncated');
    t.is(await readFile(req.stderr, 'utf8'), 'err\nerr\n');
  });

  test(`${kind} spawner: a signal death reports the signal`, async (t) => {
    const dir = await tempDir();
    const child = await make().spawn({ argv: ['bash', '-c', 'kill -TERM $$'], cwd: dir, env: { PATH: process.env.PATH }, stdout: path.join(dir, 'o'), stderr: path.join(dir, 'e') });
    const exit = await child.exit;
    t.deepEqual(codeAndSignal(exit), { code: null, signal: 'SIGTERM' });
    t.true(child.startedAtMs! <= exit.endedAtMs! && exit.endedAtMs! <= Date.now(), 'start and end times, in order');
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

for (const [kind, make] of helpers) {
  test(`${kind} spawner: if the helper dies, running jobs are still seen to end (status lost) and new jobs start with Node`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const env = { PATH: process.env.PATH };
    // The job runs until told to end (other tests in this file may hold up the event loop).
    const running = await spawner.spawn({ argv: ['bash', '-c', 'until [ -e go ]; do sleep 0.05; done'], cwd: dir, env, stdout: path.join(dir, 'o'), stderr: path.join(dir, 'e') });
    const helper = (spawner as unknown as { helper: { pid: number; kill(s: string): void } }).helper;
    helper.kill('SIGKILL');
    await waitFor(() => !isAlive(helper.pid), 10_000, 'helper to die');
    writeFileSync(path.join(dir, 'go'), '');
    const exit = await running.exit;
    t.is(exit.code, 1);
    t.regex(exit.error ?? '', /status lost/);
    const after = await spawner.spawn({ argv: ['bash', '-c', 'exit 5'], cwd: dir, env, stdout: path.join(dir, 'o2'), stderr: path.join(dir, 'e2') });
    t.is((await after.exit).code, 5);
  });

  test(`${kind} spawner: when its Node process is SIGKILLed, the helper TERMs every job's process group and KILLs what ignores TERM`, async (t) => {
    t.timeout(120_000);
    const dir = await tempDir();
    const holder = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/support/spawner-holder.ts'), kind, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    holder.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    await waitFor(() => out.includes('\n') || holder.exitCode !== null, 60_000, 'the holder to start its jobs');
    const pgids = JSON.parse(out) as number[];
    t.is(pgids.length, 2);
    // Each job leads its own group, with a background sleep in it.
    await waitFor(() => pgids.every((g) => groupMembers(g).length >= 2), 30_000, 'the jobs and their children to run');
    holder.kill('SIGKILL');
    await waitFor(() => pgids.every((g) => groupMembers(g).length === 0), 60_000, 'every process of both job groups to end');
    t.deepEqual(pgids.map((g) => groupMembers(g)), [[], []]);
  });

  test(`${kind} spawner: the queue lives in the helper: a blocked Node event loop does not stop the next jobs from starting, and never more than the limit run`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const env = { PATH: process.env.PATH };
    // Each job marks itself running, counts the running markers, and leaves a done marker.
    const body = `touch run.$$; ls run.* | wc -l > count.$$; sleep 0.2; rm run.$$; touch done.$$`;
    const requests = Array.from({ length: 6 }, (_, i) => spawner.spawn({ argv: ['bash', '-c', body], cwd: dir, env, stdout: path.join(dir, `o${i}`), stderr: path.join(dir, `e${i}`) }, { group: 'g', limit: 2 }));
    await requests[0];
    // Block this event loop (no reply from the helper is read, no request sent) until all six
    // have run: only a queue inside the helper can start jobs 3–6 meanwhile.
    const deadline = Date.now() + 60_000;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    while (readdirSync(dir).filter((f) => f.startsWith('done.')).length < 6 && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 20);
    t.is(readdirSync(dir).filter((f) => f.startsWith('done.')).length, 6, 'all six ran while Node was blocked');
    const children = await Promise.all(requests);
    t.true(children.every((c) => c.pid !== null));
    t.true((await Promise.all(children.map((c) => c.exit))).every((e) => e.code === 0));
    const counts = await Promise.all(readdirSync(dir).filter((f) => f.startsWith('count.')).map(async (f) => Number((await readFile(path.join(dir, f), 'utf8')).trim())));
    t.is(counts.length, 6);
    t.true(counts.every((c) => c >= 1 && c <= 2), `running counts seen: ${counts.join(' ')}`);
  });
}

for (const [kind, make] of spawners) {
  test(`${kind} spawner queue: at most the group's limit run at once; cancelQueued withdraws what has not started`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const env = { PATH: process.env.PATH };
    const log = path.join(dir, 'log');
    // Each job logs its start, waits for its gate file, logs its end: none ends, and so no queued
    // job starts, until the test opens the gate (however slow the machine).
    const job = (i: number, gate: string) =>
      spawner.spawn(
        { argv: ['bash', '-c', `echo "+ $$" >> ${log}; until [ -e ${gate} ]; do sleep 0.02; done; echo "- $$" >> ${log}`], cwd: dir, env, stdout: path.join(dir, `o${i}`), stderr: path.join(dir, `e${i}`) },
        { group: 'g1', limit: 3 },
      );
    const starts = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('+')).length : 0);
    const requests = Array.from({ length: 9 }, (_, i) => job(i, 'go1'));
    await waitFor(() => starts() >= 3, 60_000, 'three jobs to start');
    t.is(starts(), 3, 'three started; the other six wait in the queue while those run');
    writeFileSync(path.join(dir, 'go1'), '');
    const children = await Promise.all(requests);
    await Promise.all(children.map((c) => c.exit));
    let alive = 0;
    let peak = 0;
    for (const line of (await readFile(log, 'utf8')).trim().split('\n')) {
      alive += line.startsWith('+') ? 1 : -1;
      peak = Math.max(peak, alive);
    }
    // A job logs its end before it exits, and a queued job starts only after an exit.
    t.is(peak, 3, 'the limit is used, never exceeded');
    t.is(starts(), 9);
    t.true(children.every((c) => c.pid !== null));

    // Two held jobs, then five more: the first of the five takes the third slot, four wait.
    const first = Array.from({ length: 2 }, (_, i) => job(100 + i, 'go2'));
    const waiting = Array.from({ length: 5 }, (_, i) => job(200 + i, 'go2'));
    await Promise.all(first.map((p) => p.then((c) => c.pid)));
    spawner.cancelQueued('g1');
    const withdrawn = await Promise.all(waiting);
    // Nothing ends before go2 exists, so no slot frees up before the cancel: exactly four never start.
    const never = withdrawn.filter((c) => c.pid === null);
    t.is(never.length, 4, `${never.length} withdrawn`);
    t.true(withdrawn[0]!.pid !== null, 'the request that found a free slot started');
    for (const c of never) t.deepEqual(await c.exit, { code: null, signal: null, canceled: true });
    writeFileSync(path.join(dir, 'go2'), '');
    const ran = await Promise.all([...first, ...waiting].map(async (p) => (await p).exit));
    t.is(ran.filter((e) => e.code === 0).length, 3);
    t.is(starts(), 12, 'the withdrawn jobs never ran');
  });
}

for (const [kind, make] of spawners) {
  test(`${kind} spawner: the environment is exactly the one asked for (inherited variables unset, others set or changed)`, async (t) => {
    process.env.TORC_SPAWNER_TEST_DROP = 'inherited';
    process.env.TORC_SPAWNER_TEST_CHANGE = 'old';
    const dir = await tempDir();
    const spawner = make();
    const env: NodeJS.ProcessEnv = { ...process.env, TORC_SPAWNER_TEST_CHANGE: 'new', NEW_VAR: 'a=b c', EMPTY: '', UTF: 'héllo ✓' };
    delete env.TORC_SPAWNER_TEST_DROP;
    for (const round of [1, 2]) {
      // The second request sends different changes against the same helper.
      if (round === 2) {
        delete env.NEW_VAR;
        env.TORC_SPAWNER_TEST_DROP = 'back';
      }
      const out = path.join(dir, `o${round}`);
      const child = await spawner.spawn({ argv: ['env', '-0'], cwd: dir, env, stdout: out, stderr: path.join(dir, `e${round}`) });
      t.true(existsSync(out) && existsSync(path.join(dir, `e${round}`)), 'stdio files exist once the job is started');
      t.is((await child.exit).code, 0);
      const seen = Object.fromEntries((await readFile(out, 'utf8')).split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      const expected = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
      t.deepEqual(seen, expected, `round ${round}`);
    }
  });

  test(`${kind} spawner: a shared base environment plus per-request changes gives exactly their merge`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    // A base that differs from the helper's own environment (drops HOME, adds and changes names).
    const envBase: NodeJS.ProcessEnv = { ...process.env, BASE_ONLY: 'b', SHARED: 'from base', DROPPED_BY_JOB: 'x' };
    delete envBase.HOME;
    const requests: NodeJS.ProcessEnv[] = [
      { SHARED: 'from job 1', JOB_VAR: '1', DROPPED_BY_JOB: undefined },
      {},
      { HOME: '/job/home', JOB_VAR: '3 = three ✓' },
    ];
    for (const [i, env] of requests.entries()) {
      const out = path.join(dir, `o${i}`);
      const child = await spawner.spawn({ argv: ['env', '-0'], cwd: dir, env, envBase, stdout: out, stderr: path.join(dir, `e${i}`) });
      t.is((await child.exit).code, 0);
      const seen = Object.fromEntries((await readFile(out, 'utf8')).split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      const expected = Object.fromEntries(Object.entries({ ...envBase, ...env }).filter(([, v]) => v !== undefined));
      t.deepEqual(seen, expected, `request ${i}`);
    }
  });

  test(`${kind} spawner: argv travels exactly (spaces, UTF-8, empty strings); stdin is /dev/null; no other descriptors leak`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const env = { PATH: process.env.PATH };
    const args = ['a b', '', 'ünï ✓', '  ', 'line\nbreak', '$HOME'];
    const child = await spawner.spawn({ argv: ['printf', '[%s]', ...args], cwd: dir, env, stdout: path.join(dir, 'o'), stderr: path.join(dir, 'e') });
    t.is((await child.exit).code, 0);
    t.is(await readFile(path.join(dir, 'o'), 'utf8'), args.map((a) => `[${a}]`).join(''));
    const stdin = await spawner.spawn({ argv: ['readlink', '/proc/self/fd/0'], cwd: dir, env, stdout: path.join(dir, 'o2'), stderr: path.join(dir, 'e2') });
    t.is((await stdin.exit).code, 0);
    t.is(await readFile(path.join(dir, 'o2'), 'utf8'), '/dev/null\n');
    // The job holds 0-2 and what this test process itself passes to any child (ls's own
    // directory fd included); none of the spawner's or helper's descriptors.
    const baseline = new Set(spawnSync('ls', ['-1', '/proc/self/fd'], { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' }).stdout.trim().split('\n'));
    const fds = await spawner.spawn({ argv: ['ls', '-1', '/proc/self/fd'], cwd: dir, env, stdout: path.join(dir, 'o3'), stderr: path.join(dir, 'e3') });
    t.is((await fds.exit).code, 0);
    const held = (await readFile(path.join(dir, 'o3'), 'utf8')).trim().split('\n');
    t.deepEqual(held.filter((fd) => Number(fd) > 2 && !baseline.has(fd)), [], `job holds ${held.join(' ')}`);
    t.true(['0', '1', '2'].every((fd) => held.includes(fd)));
  });

  test(`${kind} spawner: a program name without a slash is looked up in the job's PATH, not the spawner's`, async (t) => {
    const dir = await tempDir();
    const spawner = make();
    const bin = path.join(dir, 'bin');
    const other = path.join(dir, 'other');
    mkdirSync(bin);
    mkdirSync(other);
    writeFileSync(path.join(bin, 'torc-test-tool'), '#!/bin/sh\necho "tool $1"\n');
    chmodSync(path.join(bin, 'torc-test-tool'), 0o755);
    // Found first but not executable: skipped, as execvp does.
    writeFileSync(path.join(other, 'torc-test-tool'), '#!/bin/sh\necho wrong\n');
    const env = { PATH: `${other}:${bin}:${process.env.PATH}` };
    const child = await spawner.spawn({ argv: ['torc-test-tool', 'ran'], cwd: dir, env, stdout: path.join(dir, 'o'), stderr: path.join(dir, 'e') });
    t.deepEqual(codeAndSignal(await child.exit), { code: 0, signal: null });
    t.is(await readFile(path.join(dir, 'o'), 'utf8'), 'tool ran\n');
    // With the job's PATH lacking it, the same name is not found.
    const missing = await spawner.spawn({ argv: ['torc-test-tool'], cwd: dir, env: { PATH: '/usr/bin:/bin' }, stdout: path.join(dir, 'o2'), stderr: path.join(dir, 'e2') });
    t.is((await missing.exit).code, 127);
    t.regex(await readFile(path.join(dir, 'e2'), 'utf8'), /could not start job.*torc-test-tool/);
  });
}

if (nativeBinary) {
  test('native helper: malformed records get an error reply (or are skipped) and do not disturb the records around them', async (t) => {
    const dir = await tempDir();
    const helper = spawn(nativeBinary, [], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: process.env.PATH } });
    let out = '';
    helper.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    const record = (fields: string[]) => {
      const payload = Buffer.from(fields.join('\0'));
      return Buffer.concat([Buffer.from(`${payload.length}\n`), payload]);
    };
    // J id group limit cwd out err ncg (join home)… nunset … nset … argv…
    const job = (id: string, argv: string[]) => record(['J', id, '', '0', dir, path.join(dir, `o${id}`), path.join(dir, `e${id}`), '0', '0', '0', ...argv]);
    helper.stdin!.write(
      Buffer.concat([
        job('1', ['bash', '-c', 'exit 3']),
        Buffer.from('not a header\n'),
        record(['J', '2', '', 'x', dir]), // too few fields, bad limit
        record(['J', '3', '', '0', dir, path.join(dir, 'o3'), path.join(dir, 'e3'), '0', '5', 'A', '0', 'true']), // unset count past the end
        record(['J', '6', '', '0', dir, path.join(dir, 'o6'), path.join(dir, 'e6'), '9', 'a', 'b', '0', '0', 'true']), // cgroup pairs past the end
        record(['Q', 'what']), // unknown type: skipped
        record(['J', 'bad id', '', '0', dir, 'o', 'e', '0', '0', '0', 'true']), // an id that cannot be answered: skipped
        job('4', []), // no command
        record(['C', 'no-such-group']),
        job('5', ['bash', '-c', 'exit 7']),
      ]),
    );
    await waitFor(() => /^E 5 /m.test(out) && /^E 1 /m.test(out), 30_000, 'replies to both good records');
    const lines = out.trim().split('\n');
    t.true(lines.some((l) => /^E 1 3 0 \d{13}$/.test(l)), 'an exit carries when the helper saw it');
    t.true(lines.some((l) => /^E 5 7 0 \d{13}$/.test(l)));
    t.true(lines.some((l) => /^S 1 \d+ \d{13}$/.test(l)), 'a start carries when it happened');
    t.true(lines.includes('X 2 malformed request') && lines.includes('E 2 127 0'));
    t.true(lines.includes('X 3 malformed request') && lines.includes('E 3 127 0'));
    t.true(lines.includes('X 6 malformed request') && lines.includes('E 6 127 0'));
    t.true(lines.some((l) => l.startsWith('X 4 ')) && lines.includes('E 4 127 0'));
    t.false(lines.some((l) => /^\S+ bad/.test(l)), 'nothing answered for the unanswerable id');
    t.true(lines.every((l) => /^[SXEK] [0-9]+( |$)/.test(l)), out);
    helper.stdin!.end();
    await new Promise((r) => helper.once('exit', r));
    t.is(helper.exitCode, 0, 'EOF on stdin: the helper ends cleanly');
  });
}
