/**
 * Starting job processes cheaply. Node's child_process.spawn forks the whole Node process
 * (page tables of a 100+ MB heap, then copy-on-write faults in the parent) and blocks the event
 * loop until the child has exec'd: on a busy 2-core VM that was 5–12 ms per job, far more than
 * the job `true` itself (issue 9: 1,000 `true` jobs took ~12 s against ~1.3 s for xargs -P4).
 *
 * So jobs are started by one small helper process per Node process, which starts them on
 * request, keeps each runner's queue depth itself and reports each exit: a spawn costs Node one
 * pipe write. Two helpers speak the same protocol:
 *  - native (spawner.c, built by scripts/build-spawner.mjs into dist/runners/local/torc-spawner)
 *    starts jobs with posix_spawn, which glibc does with clone(CLONE_VM|CLONE_VFORK): no page
 *    tables copied, no interpreter. A perf profile of 5,000 `true` jobs through the perl helper
 *    put it at ~30% of all machine CPU: ~15% copy-on-write faults after perl's fork() and ~13%
 *    perl interpretation in parent and child. Measured (bench/spawners.ts, 5,000 `true`
 *    jobs, queue limit 4, this 2-core VM): native 2.4 s wall / 4.0 s machine CPU, perl 5.6 s /
 *    10.6 s, Node 13.1 s / 15.9 s, `xargs -P4` 2.7 s / 4.5 s.
 *  - perl (the HELPER program below; perl is on every Linux torc targets): fork and exec.
 * Without either (or with TORC_SPAWNER=node) jobs are started by Node itself. All give the
 * same process: its own session and process group (pid = pgid), stdin /dev/null, stdio
 * appended to files, the given environment (argv[0] looked up in ITS PATH) and working
 * directory; a job that cannot start has the reason in its stderr file and ends with 127.
 *
 * Protocol with a helper (all on its stdin/stdout):
 *   → "<length>\n" then NUL-separated fields, one of
 *       J id group limit cwd stdout stderr ncg (join home)… nunset unset… nset K=V… argv…   (limit 0: no queue)
 *       C group                              withdraw the group's queued requests
 *   ← "S <id> <pid> <ms>"     started (ms: the helper's wall clock, ms since the epoch)
 *   ← "X <id> <message>"      the job could not start
 *   ← "E <id> <code> <signo> [<ms>]" ended: exit code, or -1 and the signal number; when it was reaped
 *   ← "K <id>"                withdrawn from the queue (C) before it started
 * EOF on its stdin (Node gone) makes a helper end its jobs: see `orphaned` in HELPER.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, openSync, readFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface SpawnRequest {
  argv: string[];
  cwd: string;
  /** The environment; with `envBase`, only what changes on top of it (undefined: removed). */
  env: NodeJS.ProcessEnv;
  /**
   * An environment many requests share (a runner's inherited one), never changed once used. A
   * helper works out its difference from the helper's own environment once per base object, so
   * a job's request carries only its own variables: copying and comparing the whole inherited
   * environment for every job was a measurable part of a runner's per-job work (issue 9).
   */
  envBase?: NodeJS.ProcessEnv;
  /** Absolute paths, opened for appending. */
  stdout: string;
  stderr: string;
  /**
   * The job's cgroups (resource monitoring, memory enforcement): the cgroup.procs file of each,
   * and the one of the spawner's own group in the same hierarchy. The job is in them before it
   * runs anything, so its first fork cannot escape.
   */
  cgroups?: readonly { join: string; home: string }[];
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started (then code is 127). */
  error?: string;
  /** Set when a queued request was withdrawn (cancelQueued) before it started: no process. */
  canceled?: boolean;
  /** When the exit was seen, by the spawner's clock (ms since the epoch), when it says. */
  endedAtMs?: number;
}

export interface SpawnedChild {
  /** Null when not even a process was created. */
  pid: number | null;
  /** When it started, by the spawner's clock (ms since the epoch). */
  startedAtMs?: number;
  exit: Promise<ChildExit>;
}

/**
 * Queue depth kept by the spawner itself: at most `limit` processes of `group` run at once;
 * further requests wait in the spawner and start the moment one of the group's processes ends
 * (in a helper: without a round trip to Node). spawn() then resolves when it started.
 */
export interface SpawnQueue {
  group: string;
  limit: number;
}

export interface Spawner {
  readonly kind: 'native' | 'perl' | 'node';
  spawn(req: SpawnRequest, queue?: SpawnQueue): Promise<SpawnedChild>;
  /** Withdraws the group's requests that have not started (their spawn() resolves with pid null, exit canceled). */
  cancelQueued(group: string): void;
}

const CANCELED: SpawnedChild = { pid: null, exit: Promise.resolve({ code: null, signal: null, canceled: true }) };

/** The whole environment a request asks for. */
function requestedEnv(req: SpawnRequest): NodeJS.ProcessEnv {
  return req.envBase ? { ...req.envBase, ...req.env } : req.env;
}

/** `K=V` as an environment can hold it (NULs dropped from the value); null for a name it cannot. */
function envEntry(k: string, v: string): string | null {
  if (k.includes('=') || k.includes('\0')) return null;
  return `${k}=${v.includes('\0') ? v.replace(/\0/g, '') : v}`;
}

function envList(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    const entry = v === undefined ? null : envEntry(k, String(v));
    if (entry !== null) out.push(entry);
  }
  return out;
}

function signalName(signo: number): NodeJS.Signals | null {
  for (const [name, n] of Object.entries(os.constants.signals)) if (n === signo) return name as NodeJS.Signals;
  return null;
}

/** Node's own spawn: always available; what a helper spawner falls back to. */
export class NodeSpawner implements Spawner {
  readonly kind = 'node' as const;
  private readonly groups = new Map<string, { running: number; waiting: { go(): void; cancel(): void }[] }>();

  async spawn(req: SpawnRequest, queue?: SpawnQueue): Promise<SpawnedChild> {
    if (!queue) return this.start(req);
    let g = this.groups.get(queue.group);
    if (!g) this.groups.set(queue.group, (g = { running: 0, waiting: [] }));
    const group = g;
    if (group.running >= queue.limit || group.waiting.length > 0) {
      // Waits for a slot; release() hands its slot over (running stays counted).
      const go = await new Promise<boolean>((resolve) => group.waiting.push({ go: () => resolve(true), cancel: () => resolve(false) }));
      if (!go) return CANCELED;
    } else {
      group.running++;
    }
    const release = () => {
      const next = group.waiting.shift();
      if (next) next.go();
      else group.running--;
    };
    try {
      const child = await this.start(req);
      void child.exit.then(release);
      return child;
    } catch (e) {
      release();
      throw e;
    }
  }

  cancelQueued(group: string): void {
    const g = this.groups.get(group);
    if (!g) return;
    for (const w of g.waiting.splice(0)) w.cancel();
  }

  private async start(req: SpawnRequest): Promise<SpawnedChild> {
    const out = openSync(req.stdout, 'a');
    let err: number | undefined;
    let child: ChildProcess;
    const startedAtMs = Date.now();
    try {
      err = openSync(req.stderr, 'a');
      const argv = inCgroups(req);
      child = spawn(argv[0]!, argv.slice(1), {
        cwd: req.cwd,
        env: requestedEnv(req),
        stdio: ['ignore', out, err],
        // setsid(): the job leads a new process group, which termination signals as a whole.
        detached: true,
      });
    } catch (e) {
      if (err !== undefined) closeSync(err);
      closeSync(out);
      throw e;
    }
    // The child holds its own copies of the descriptors.
    closeSync(out);
    const errFd = err;
    const exit = new Promise<ChildExit>((resolve) => {
      let settled = false;
      child.on('error', (e) => {
        // Failed to start (no such program, bad cwd): say so in the job's stderr, exit 127.
        if (settled || child.pid !== undefined) return;
        settled = true;
        const message = `torc: could not start job: ${e.message}\n`;
        try {
          writeSync(errFd, message);
        } catch {
          /* the file is the job's; nothing else to tell */
        }
        closeSync(errFd);
        resolve({ code: 127, signal: null, error: e.message });
      });
      child.once('exit', (code, signal) => {
        if (settled) return;
        settled = true;
        closeSync(errFd);
        resolve({ code, signal, endedAtMs: Date.now() });
      });
    });
    return { pid: child.pid ?? null, exit, startedAtMs };
  }
}

/**
 * Node's spawn runs no code in the child before exec: a job with cgroups starts as a small shell
 * that writes its own pid into each cgroup.procs, then execs the job's argv.
 */
function inCgroups(req: SpawnRequest): string[] {
  if (!req.cgroups || req.cgroups.length === 0) return req.argv;
  const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || { echo "torc: could not start job: cgroup $1" >&2; exit 127; }; shift; done; shift; exec "$@"';
  return ['/bin/sh', '-c', script, 'torc-cgroup', ...req.cgroups.map((c) => c.join), '--', ...req.argv];
}

const HELPER = String.raw`
use strict; use warnings;
use POSIX qw(:sys_wait_h setsid _exit);
use Time::HiRes ();
use Fcntl;
use Errno qw(EINTR);
binmode STDIN; binmode STDOUT;
pipe(my $wake_r, my $wake_w) or die "pipe: $!";
for my $fh ($wake_r, $wake_w) { my $fl = fcntl($fh, F_GETFL, 0); fcntl($fh, F_SETFL, $fl | O_NONBLOCK); }
$SIG{CHLD} = sub { syswrite($wake_w, 'x') };
my %job; my $buf = '';
# Queue depth inside the helper: a group (one runner) runs at most its limit of jobs at once;
# the next queued one starts the moment one of its jobs is reaped, with no round trip to Node.
my (%group_of, %running, %queue);
# A reply is written whole: when Node reads slowly the write blocks, and a SIGCHLD then cuts it
# short (EINTR, or a partial write), which once lost one exit in 5,000 and hung its runner.
sub say_line { my $s = shift; while (length $s) { my $w = syswrite(STDOUT, $s); if (!defined $w) { next if $! == EINTR; return; } substr($s, 0, $w) = ''; } }
sub reap {
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $st = $?; my $id = delete $job{$pid}; next unless defined $id;
    my $ms = int(Time::HiRes::time() * 1000);
    say_line(($st & 127) ? "E $id -1 " . ($st & 127) . " $ms\n" : "E $id " . ($st >> 8) . " 0 $ms\n");
    my $g = delete $group_of{$pid};
    if (defined $g) { $running{$g}--; drain($g); }
  }
}
sub drain {
  my $g = shift; my $q = $queue{$g} or return;
  while (@$q && $running{$g} < $q->[0][0]) { my $item = shift @$q; launch($g, @{$item}[1 .. $#$item]); }
  delete $queue{$g} unless @$q;
}
sub child {
  my ($id, $cwd, $o, $e, $env, $argv, $cgroups) = @_;
  $SIG{CHLD} = 'DEFAULT';
  setsid();
  open(my $report, '>&', \*STDOUT) or _exit(127);
  open(STDIN, '<', '/dev/null') or _exit(127);
  open(STDOUT, '>&', $o) or _exit(127);
  open(STDERR, '>&', $e) or _exit(127);
  close $o; close $e;
  my $fail = sub { my $m = shift; $m =~ s/[\r\n]+/ /g; print STDERR "torc: could not start job: $m\n"; syswrite($report, "X $id $m\n"); _exit(127) };
  # Into the job's cgroups before anything of the job runs.
  for my $procs (@$cgroups) { my $fh; (open($fh, '>', $procs) && print($fh "$$") && close($fh)) or $fail->("cgroup $procs: $!"); }
  chdir($cwd) or $fail->("chdir $cwd: $!");
  # The job's environment as a change of the helper's own: unset these, set those.
  delete $ENV{$_} for @{$env->[0]};
  for (@{$env->[1]}) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v; }
  { no warnings 'exec'; exec { $argv->[0] } @$argv; }
  $fail->("$argv->[0]: $!");
}
sub start {
  my @f = split /\0/, shift, -1;
  my $type = shift @f;
  if ($type eq 'C') {
    my $g = shift @f; my $q = delete $queue{$g} or return;
    say_line("K $_->[1]\n") for @$q;
    return;
  }
  my ($id, $g, $limit) = splice(@f, 0, 3);
  if ($limit > 0) {
    $running{$g} //= 0;
    if ($running{$g} >= $limit || $queue{$g}) { push @{$queue{$g}}, [$limit, $id, @f]; return; }
  }
  launch($limit > 0 ? $g : undef, $id, @f);
}
sub launch {
  my ($g, $id, $cwd, $out, $err, $ncg, @f) = @_;
  my @cg = splice(@f, 0, 2 * $ncg);
  my @join = @cg[grep { $_ % 2 == 0 } 0 .. $#cg];
  my $nunset = shift @f;
  my @unset = splice(@f, 0, $nunset);
  my $nset = shift @f;
  my @set = splice(@f, 0, $nset);
  # The stdio files exist before the job is reported started (readers may look at once).
  my ($o, $e);
  if (!open($o, '>>', $out) || !open($e, '>>', $err)) { my $m = "$!"; say_line("X $id cannot open job output: $m\n"); say_line("E $id 127 0\n"); return; }
  my $pid = fork;
  if (!defined $pid) { say_line("X $id fork: $!\n"); say_line("E $id 127 0\n"); return; }
  child($id, $cwd, $o, $e, [\@unset, \@set], \@f, \@join) if $pid == 0;
  close $o; close $e;
  $job{$pid} = $id;
  if (defined $g) { $group_of{$pid} = $g; $running{$g}++; }
  say_line("S $id $pid " . int(Time::HiRes::time() * 1000) . "\n");
}
# Node is gone (a clean runner ends its jobs first, so this is a kill -9 or a crash): nobody will
# report these jobs, and the server gives them to another runner once this one's lease runs out.
# They must not run on beside their next attempt: TERM their groups, KILL what is left after 10 s.
sub orphaned {
  %queue = ();
  $SIG{PIPE} = 'IGNORE';
  open(STDOUT, '>', '/dev/null');
  my @groups = keys %job;
  if (@groups) {
    kill 'TERM', map { -$_ } @groups;
    for (1 .. 100) { reap(); last unless %job; select(undef, undef, undef, 0.1); }
    kill 'KILL', map { -$_ } @groups;
  }
  exit 0;
}
while (1) {
  reap();
  my $rin = ''; vec($rin, fileno(STDIN), 1) = 1; vec($rin, fileno($wake_r), 1) = 1;
  my $n = select(my $rout = $rin, undef, undef, undef);
  next if $n <= 0;
  if (vec($rout, fileno($wake_r), 1)) { my $junk; sysread($wake_r, $junk, 4096); }
  if (vec($rout, fileno(STDIN), 1)) {
    my $r = sysread(STDIN, $buf, 1 << 16, length $buf);
    if (!$r) { next if !defined $r && $! == EINTR; orphaned(); }
    while ($buf =~ /^(\d+)\n/) {
      my $head = length($1) + 1; my $len = $1;
      last if length($buf) < $head + $len;
      my $rec = substr($buf, $head, $len); substr($buf, 0, $head + $len) = '';
      start($rec);
    }
  }
}
`;

interface Pending {
  started: (pid: number | null) => void;
  exited: (exit: ChildExit) => void;
  pid: number | null;
  startedAtMs?: number;
  error?: string;
  /** Sent with a queue: may wait in the helper before it starts. */
  queued: boolean;
}

/**
 * A spawner that hands requests to a helper process (native or perl; one per Node process,
 * shared by every runner in it) and falls back to Node's spawn if the helper dies.
 */
export class HelperSpawner implements Spawner {
  private helper: ChildProcess | null = null;
  private dead = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = '';
  private readonly fallback = new NodeSpawner();
  /** The environment the helper was started with; requests carry only their differences. */
  private helperEnv: Record<string, string> = {};
  /** Per shared base environment (SpawnRequest.envBase): its difference from helperEnv. */
  private readonly baseDiffs = new WeakMap<NodeJS.ProcessEnv, { unset: string[]; set: string[] }>();

  constructor(
    readonly kind: 'native' | 'perl',
    private readonly command: string,
    private readonly args: readonly string[] = [],
  ) {}

  private ensureHelper(): ChildProcess | null {
    if (this.helper || this.dead) return this.helper;
    // Its own process group: a Ctrl-C meant for torc must not kill the helper while torc
    // terminates its jobs and waits for their exits.
    this.helperEnv = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !k.includes('=') && !k.includes('\0'))) as Record<string, string>;
    const helper = spawn(this.command, this.args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env: this.helperEnv });
    helper.stdout!.setEncoding('utf8');
    helper.stdout!.on('data', (chunk: string) => this.onData(chunk));
    helper.on('error', () => this.onHelperGone());
    helper.on('exit', () => this.onHelperGone());
    helper.stdin!.on('error', () => undefined);
    this.helper = helper;
    this.refresh();
    return helper;
  }

  /** Keep Node's event loop alive only while jobs are out: an idle helper never holds the process open. */
  private refresh(): void {
    const h = this.helper;
    if (!h) return;
    const busy = this.pending.size > 0;
    for (const s of [h.stdout as Socket | null, h.stdin as Socket | null]) {
      if (busy) s?.ref();
      else s?.unref();
    }
    if (busy) h.ref();
    else h.unref();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const [kind, idText, ...rest] = line.split(' ');
      const p = this.pending.get(Number(idText));
      if (!p) continue;
      if (kind === 'S') {
        p.pid = Number(rest[0]);
        p.startedAtMs = timeField(rest[1]);
        p.started(p.pid);
      } else if (kind === 'X') {
        p.error = rest.join(' ');
      } else if (kind === 'K') {
        // A queued request withdrawn before it started.
        this.pending.delete(Number(idText));
        p.started(null);
        p.exited({ code: null, signal: null, canceled: true });
        this.refresh();
      } else if (kind === 'E') {
        const code = Number(rest[0]);
        const signo = Number(rest[1]);
        this.pending.delete(Number(idText));
        p.started(p.pid);
        const endedAtMs = timeField(rest[2]);
        const at = endedAtMs === undefined ? {} : { endedAtMs };
        p.exited(p.error !== undefined ? { code: 127, signal: null, error: p.error, ...at } : code >= 0 ? { code, signal: null, ...at } : { code: null, signal: signalName(signo), ...at });
        this.refresh();
      }
    }
  }

  /**
   * The helper died (killed from outside): its children still run but their exits can no
   * longer be collected. Watch each one's process group instead (exit status unknown → 1),
   * and start new jobs with Node from now on.
   */
  private onHelperGone(): void {
    if (this.dead) return;
    this.dead = true;
    this.helper = null;
    for (const [id, p] of this.pending) {
      if (p.pid === null) {
        this.pending.delete(id);
        p.started(null);
        // A queued request simply never started; a direct one was meant to start and could not.
        p.exited(p.queued ? { code: null, signal: null, canceled: true } : { code: 127, signal: null, error: 'the job spawner exited before the job started' });
        continue;
      }
      const pid = p.pid;
      const poll = setInterval(() => {
        if (processGone(pid)) {
          clearInterval(poll);
          this.pending.delete(id);
          p.exited({ code: 1, signal: null, error: 'exit status lost: the job spawner exited' });
        }
      }, 200);
    }
  }

  async spawn(req: SpawnRequest, queue?: SpawnQueue): Promise<SpawnedChild> {
    const helper = this.ensureHelper();
    if (!helper) return this.fallback.spawn(req, queue);
    const id = this.nextId++;
    let started!: (pid: number | null) => void;
    let exited!: (exit: ChildExit) => void;
    const pidKnown = new Promise<number | null>((r) => (started = r));
    const exit = new Promise<ChildExit>((r) => (exited = r));
    const pending: Pending = { started, exited, pid: null, queued: queue !== undefined };
    this.pending.set(id, pending);
    this.refresh();
    // Only what differs from the helper's own environment travels (a job's torc variables, mostly).
    const { unset, set } = this.envChange(req);
    const cgroups = (req.cgroups ?? []).flatMap((c) => [c.join, c.home]);
    const fields = [
      'J', String(id), queue?.group ?? '', String(queue?.limit ?? 0), req.cwd, req.stdout, req.stderr,
      String(cgroups.length / 2), ...cgroups, String(unset.length), ...unset, String(set.length), ...set, ...req.argv,
    ];
    this.send(helper, fields);
    const pid = await pidKnown;
    const ended = await Promise.race([exit, Promise.resolve(null)]);
    return ended?.canceled ? CANCELED : { pid, exit, ...(pending.startedAtMs !== undefined ? { startedAtMs: pending.startedAtMs } : {}) };
  }

  /** What to unset and set in the helper's environment to get the request's. */
  private envChange(req: SpawnRequest): { unset: string[]; set: string[] } {
    if (!req.envBase) return this.diff(req.env);
    let baseDiff = this.baseDiffs.get(req.envBase);
    if (!baseDiff) this.baseDiffs.set(req.envBase, (baseDiff = this.diff(req.envBase)));
    const overrides = Object.keys(req.env);
    if (overrides.length === 0) return baseDiff;
    // The base's difference (usually none: the runner's snapshot is the helper's environment),
    // less the names the request sets or removes itself, plus those.
    let { unset, set } = baseDiff;
    if (unset.length > 0 || set.length > 0) {
      const own = new Set(overrides);
      unset = unset.filter((k) => !own.has(k));
      set = set.filter((kv) => !own.has(kv.slice(0, kv.indexOf('='))));
    } else {
      unset = [];
      set = [];
    }
    const helperEnv = this.helperEnv;
    for (const k of overrides) {
      const v = req.env[k];
      if (v === undefined) {
        if (helperEnv[k] !== undefined) unset.push(k);
      } else if (helperEnv[k] !== v) {
        const entry = envEntry(k, v);
        if (entry !== null) set.push(entry);
      }
    }
    return { unset, set };
  }

  private diff(env: NodeJS.ProcessEnv): { unset: string[]; set: string[] } {
    const base = this.helperEnv;
    return {
      unset: Object.keys(base).filter((k) => env[k] === undefined),
      set: envList(Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && base[k] !== v))),
    };
  }

  cancelQueued(group: string): void {
    if (this.helper) this.send(this.helper, ['C', group]);
    this.fallback.cancelQueued(group);
  }

  private send(helper: ChildProcess, fields: string[]): void {
    const payload = Buffer.from(fields.join('\0'), 'utf8');
    helper.stdin!.write(Buffer.concat([Buffer.from(`${payload.length}\n`), payload]));
  }
}

/** A helper's millisecond timestamp field, if it sent a sane one. */
function timeField(text: string | undefined): number | undefined {
  const v = Number(text);
  return text !== undefined && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/** Whether the job's main process has ended (a zombie nobody reaps counts as ended). */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }
}

/** The perl helper: fork and exec in a few MB of perl. */
export class PerlSpawner extends HelperSpawner {
  constructor() {
    super('perl', 'perl', ['-e', HELPER]);
  }
}

/** The native helper (spawner.c): posix_spawn, no fork of a page table, no interpreter. */
export class NativeSpawner extends HelperSpawner {
  constructor(binary: string = nativeSpawnerPath() ?? nativeSpawnerCandidates()[0]!) {
    super('native', binary);
  }
}

/**
 * Where the built helper may be: beside this module (dist/runners/local/ when running compiled
 * code), and, when this module runs from its TypeScript source (tsx: tests, bench), in the dist/
 * twin of src/runners/local/, where `npm run build` puts it.
 */
export function nativeSpawnerCandidates(): string[] {
  const here = fileURLToPath(new URL('./torc-spawner', import.meta.url));
  const twin = here.replace(/([/\\])src([/\\]runners[/\\]local[/\\]torc-spawner)$/, '$1dist$2');
  return twin === here ? [here] : [here, twin];
}

/** The built native helper, if there is an executable one. */
export function nativeSpawnerPath(): string | undefined {
  return nativeSpawnerCandidates().find((p) => {
    try {
      accessSync(p, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

let shared: Spawner | undefined;

/**
 * The process-wide spawner: native if built, else perl if present, else Node.
 * TORC_SPAWNER=native|perl|node forces one (native when not built is an error, not a quiet fallback).
 */
export function defaultSpawner(): Spawner {
  if (shared) return shared;
  const forced = process.env.TORC_SPAWNER;
  if (forced === 'native' || (forced !== 'perl' && forced !== 'node')) {
    const binary = nativeSpawnerPath();
    if (binary) return (shared = new NativeSpawner(binary));
    if (forced === 'native') throw new Error(`TORC_SPAWNER=native, but the native job spawner is not built (looked for ${nativeSpawnerCandidates().join(', ')}): run npm run build`);
  }
  const perl = forced === 'perl' || (forced !== 'node' && spawnSync('perl', ['-e', 'use POSIX; use Fcntl; use Errno; exit 0'], { stdio: 'ignore' }).status === 0);
  shared = perl ? new PerlSpawner() : new NodeSpawner();
  return shared;
}
