/**
 * Hostile workflow files for the reliability suite, from three places:
 * - test/fixtures/bad: the spec area's malformed fixtures (their messages are asserted in
 *   test/spec/cli-validate.test.ts; here they only have to fail cleanly);
 * - test/fixtures/hostile: more of them, with the path (or line) each message must name;
 * - generated here: what is too big or too binary to keep in git (huge strings, deep nesting,
 *   huge expansions, non-UTF-8 and binary files).
 * `writeHostileSpecs(dir)` puts every one into `dir` and returns what to expect of each.
 */
import type { ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApi } from './api.js';
import { REPO_ROOT, runTorc } from './cli.js';
import { checkInvariants, databaseFingerprint } from './invariants.js';
import { makePlan } from './plans.js';

export interface HostileSpec {
  /** File name (its extension decides JSON vs YAML). */
  name: string;
  /** Where it came from: `bad`, `hostile` or `generated`. */
  origin: 'bad' | 'hostile' | 'generated';
  /** What the one-line error must contain ("path: message" form), when the suite asserts it here. */
  expect: string | null;
  /** Costly to plan (hundreds of MB, seconds): only the stress suite runs it. */
  heavy?: boolean;
}

export const BAD_DIR = join(REPO_ROOT, 'test', 'fixtures', 'bad');
export const HOSTILE_DIR = join(REPO_ROOT, 'test', 'fixtures', 'hostile');

/** test/fixtures/hostile/<name> → the text its error line must contain. */
const HOSTILE_EXPECT: Record<string, string> = {
  'action-without-jobs.yaml': 'spec.actions[0]: on_jobs_complete needs jobs or job_name_regexes',
  'cpus-fraction.yaml': 'spec.resource_requirements[0].num_cpus: expected integer',
  'cpus-nan.yaml': 'spec.resource_requirements[0].num_cpus: expected integer, got number NaN',
  'cpus-string.yaml': 'spec.resource_requirements[0].num_cpus: expected integer, got string',
  'cycle-via-parameters.yaml': 'spec.jobs[0]: dependency cycle: ',
  'empty.yaml': 'the input is empty',
  'format-precision-bomb.yaml': 'spec.jobs[0]: invalid format "{i:.500f}": precision 500 is over the limit',
  'format-width-bomb.yaml': 'spec.jobs[0]: invalid format "{i:0999999999d}": width 999999999 is over the limit',
  'job-command-number.yaml': 'spec.jobs[0].command: expected string',
  'job-name-empty.yaml': 'spec.jobs[0].name: must not be empty',
  'job-name-list.yaml': 'spec.jobs[0].name: expected string, got an array',
  'jobs-not-a-list.yaml': 'spec.jobs: expected array',
  'jobs-null.yaml': 'spec.jobs: required',
  'memory-overflow.yaml': 'spec.resource_requirements[0].memory: memory size "99999999999999999999999g" is too large',
  'nul-in-command.json': 'spec.jobs[0].command: contains a NUL character',
  'other-kind-only.yaml': 'no Workflow documents',
  'param-bad-list.yaml': 'spec.jobs[0].parameters.i: invalid parameter value',
  'param-bad-name.yaml': 'spec.parameters.bad-name: parameter name "bad-name" must be an identifier',
  'param-range-overflow.yaml': 'spec.jobs[0].parameters.i: integer 100000000000000000000 is out of range',
  'parameters-not-a-map.yaml': 'spec.parameters: expected object',
  'proto-key.yaml': 'spec.__proto__: unknown field "__proto__"',
  'regex-action-bad.yaml': 'spec.actions[0].job_name_regexes[0]: invalid regex "[z-a]"',
  'regex-backreference.yaml': 'spec.jobs[1].depends_on_regexes[0]: unsupported regex',
  'regex-catastrophic.yaml': 'spec.jobs[1].depends_on_regexes[0]: regex "^(a+)+$" matches no other job',
  'regex-lookahead.yaml': 'spec.jobs[1].depends_on_regexes[0]: unsupported regex',
  'scalar-document.yaml': 'expected a mapping',
  'syntax-bad-indent.yaml': 'YAML syntax error at line 4, column 1',
  'syntax-tab-indent.yaml': 'YAML syntax error at line 3, column 1: Tabs are not allowed',
  'syntax-trailing-comma.json': 'invalid JSON at line 3',
  'syntax-truncated.json': 'invalid JSON at line 3',
  'syntax-unclosed-flow.yaml': 'YAML syntax error at line 3',
  'syntax-unclosed-quote.yaml': 'YAML syntax error at line 1, column 9: Missing closing "quote',
  'undefined-alias.yaml': 'Unresolved alias',
};

const job = (name: string, extra = '') => `  - {name: ${JSON.stringify(name)}, command: "true"${extra}}\n`;

/** Generated files: name → content and expectation. Deterministic (no randomness). */
function generated(): { name: string; content: string | Buffer; expect: string; heavy?: boolean }[] {
  const binary = Buffer.alloc(4096);
  let x = 12345;
  for (let i = 0; i < binary.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    binary[i] = x >> 16;
  }
  return [
    { name: 'huge-command.yaml', content: `name: x\njobs:\n${job('a').replace('"true"', JSON.stringify('x'.repeat(300_000)))}`, expect: 'spec.jobs[0].command: is 300000 bytes' },
    { name: 'huge-job-name.yaml', content: `name: x\njobs:\n${job('n'.repeat(1_000_000))}`, expect: 'spec.jobs[0].name: is 1000014 bytes' },
    { name: 'huge-env-value.yaml', content: `name: x\njobs:\n${job('a', `, env: {BIG: ${JSON.stringify('v'.repeat(200_000))}}`)}`, expect: 'spec.jobs[0].env.BIG: is 200004 bytes' },
    { name: 'huge-string-wrong-type.yaml', content: `name: x\nresource_requirements:\n  - {name: r, num_cpus: "${'9'.repeat(2_000_000)}", memory: 1g}\njobs:\n${job('a', ', resource_requirements: r')}`, expect: 'spec.resource_requirements[0].num_cpus: expected integer, got string' },
    { name: 'deep-flow.json', content: `{"name": "x", "jobs": ${'['.repeat(50_000)}${']'.repeat(50_000)}}`, expect: 'nesting is' },
    { name: 'deep-flow.yaml', content: `name: x\njobs: []\nuser_data: [{name: u, data: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}}]\n`, expect: 'nesting is' },
    { name: 'deep-block.yaml', content: `name: x\njobs: []\nuser_data:\n  - name: u\n    data:\n${Array.from({ length: 200 }, (_, i) => `${' '.repeat(6 + 2 * i)}k:`).join('\n')} 1\n`, expect: 'nesting is deeper than 64' },
    { name: 'deep-anchors.yaml', content: `a: &a [x, x]\n${Array.from({ length: 40 }, (_, i) => `b${i}: &b${i} [${i ? `*b${i - 1}` : '*a'}, ${i ? `*b${i - 1}` : '*a'}]`).join('\n')}\nname: x\njobs: []\n`, expect: 'too many YAML alias expansions' },
    { name: 'huge-product.yaml', content: `name: x\njobs:\n${job('j{a}_{b}_{c}_{d}', ', parameters: {a: "1:1000000", b: "1:1000000", c: "1:1000000", d: "1:1000000"}')}`, expect: 'spec.jobs[0]: the spec expands to more than' },
    { name: 'huge-zip-range.yaml', content: `name: x\njobs:\n${job('j{a}', ', parameter_mode: zip, parameters: {a: "0:9007199254740990"}')}`, expect: 'spec.jobs[0]: the spec expands to more than' },
    { name: 'many-parameters.yaml', content: `name: x\njobs:\n${job('j', `, parameters: {${Array.from({ length: 80 }, (_, k) => `p${k}: "[1,2]"`).join(', ')}}`)}`, expect: 'spec.jobs[0]: the spec expands to more than' },
    {
      name: 'dependency-explosion.yaml',
      content: `name: x\njobs:\n${job('a{i}', ', parameters: {i: "1:20000"}')}${job('b{i}', ', parameters: {i: "1:20000"}, depends_on_regexes: ["^a"]')}`,
      expect: 'spec.jobs[1]: the spec has more than 100000000 dependencies',
      heavy: true,
    },
    { name: 'many-errors.yaml', content: `name: x\njobs:\n${Array.from({ length: 3000 }, (_, i) => `  - {name: j${i}}\n`).join('')}`, expect: 'spec.jobs[0].command: required' },
    { name: 'latin1.yaml', content: Buffer.from(`name: x\nuser: caf\xe9\njobs:\n${job('a')}`, 'latin1'), expect: 'not UTF-8 text: byte 0xe9 at line 2, column 10' },
    { name: 'utf16.yaml', content: Buffer.from(`\ufeffname: x\njobs:\n${job('a')}`, 'utf16le'), expect: 'UTF-16' },
    { name: 'binary-noise.yaml', content: binary, expect: 'not UTF-8 text' },
    { name: 'binary-elf.yaml', content: Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\x00', 'latin1'), Buffer.alloc(64)]), expect: 'NUL byte at line 1, column 8' },
    { name: 'binary-png.json', content: Buffer.from('\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR', 'latin1'), expect: 'not UTF-8 text: byte 0x89 at line 1, column 1' },
    { name: 'binary-gzip.yaml', content: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48]), expect: 'not UTF-8 text: byte 0x8b at line 1, column 2' },
  ];
}

/** Writes every hostile spec into `dir`; `heavy` ones only when asked. */
export function writeHostileSpecs(dir: string, options: { heavy?: boolean } = {}): HostileSpec[] {
  const out: HostileSpec[] = [];
  for (const name of readdirSync(BAD_DIR).sort()) {
    writeFileSync(join(dir, `bad-${name}`), readFileSync(join(BAD_DIR, name)));
    out.push({ name: `bad-${name}`, origin: 'bad', expect: null });
  }
  const hostile = readdirSync(HOSTILE_DIR).sort();
  for (const name of hostile) {
    const expect = HOSTILE_EXPECT[name];
    if (expect === undefined) throw new Error(`test/fixtures/hostile/${name} has no expectation in test/support/hostile-specs.ts`);
    writeFileSync(join(dir, name), readFileSync(join(HOSTILE_DIR, name)));
    out.push({ name, origin: 'hostile', expect });
  }
  for (const missing of Object.keys(HOSTILE_EXPECT).filter((n) => !hostile.includes(n))) {
    throw new Error(`expectation for test/fixtures/hostile/${missing}, which does not exist`);
  }
  for (const g of generated()) {
    if (g.heavy && !options.heavy) continue;
    writeFileSync(join(dir, g.name), g.content);
    out.push({ name: g.name, origin: 'generated', expect: g.expect, heavy: g.heavy });
  }
  return out;
}

// ---- the checks, shared by test/reliability (a sample through reconcile) and test/stress (all) ----

/** The path part of an expectation ("spec.jobs[0].command: …" → "spec.jobs[0].command"), or null for whole-file messages. */
export function expectedPath(expect: string | null): string | null {
  if (!expect) return null;
  const m = /^((?:documents\[\d+\]\.)?(?:spec|metadata|apiVersion|kind)[^\s:]*): /.exec(expect);
  return m ? m[1]! : null;
}

export interface ValidateResult {
  file: string;
  ok: boolean;
  errors: { path: string; message: string }[];
}

/** Problems with `torc validate --format json` over every file (one process): exit 2, every file refused as expected. */
export function validateProblems(specs: HostileSpec[], run: { code: number | null; stdout: string; stderr: string }): string[] {
  const problems: string[] = [];
  if (run.code !== 2) problems.push(`torc validate exited ${run.code}, expected 2; stderr: ${run.stderr.slice(0, 2000)}`);
  if (/^torc: /m.test(run.stderr)) problems.push(`torc validate crashed: ${run.stderr.slice(0, 2000)}`);
  let results: ValidateResult[] = [];
  try {
    results = JSON.parse(run.stdout) as ValidateResult[];
  } catch {
    problems.push(`torc validate printed no JSON: ${run.stdout.slice(0, 500)}`);
  }
  const byName = new Map(results.map((r) => [r.file.split('/').pop()!, r]));
  for (const spec of specs) {
    const r = byName.get(spec.name);
    if (!r) problems.push(`${spec.name}: no result`);
    else if (r.ok || r.errors.length === 0) problems.push(`${spec.name}: accepted`);
    else if (spec.expect && !r.errors.some((e) => `${e.path ? `${e.path}: ` : ''}${e.message}`.includes(spec.expect!))) {
      problems.push(`${spec.name}: expected "${spec.expect}" in ${JSON.stringify(r.errors.slice(0, 3)).slice(0, 600)}`);
    }
  }
  return problems;
}

/** POSTs every file's bytes to /workflow_specs; problems with the answers (4xx naming the path, never 5xx). */
async function restProblems(baseUrl: string, dir: string, specs: HostileSpec[]): Promise<{ problems: string[]; statuses: Record<number, number> }> {
  const problems: string[] = [];
  const statuses: Record<number, number> = {};
  const { isUtf8 } = await import('node:buffer');
  for (const spec of specs) {
    const bytes = readFileSync(join(dir, spec.name));
    const res = await fetch(`${baseUrl}/workflow_specs`, {
      method: 'POST',
      headers: { 'Content-Type': spec.name.endsWith('.json') ? 'application/json' : 'application/yaml' },
      body: bytes,
    });
    const text = await res.text();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    let body: { message?: unknown; field?: string; issues?: { path: string }[] } = {};
    try {
      body = JSON.parse(text);
    } catch {
      problems.push(`${spec.name}: ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
      continue;
    }
    if (![400, 413, 415, 422].includes(res.status)) problems.push(`${spec.name}: status ${res.status}: ${text.slice(0, 300)}`);
    if (typeof body.message !== 'string') problems.push(`${spec.name}: no message`);
    const path = expectedPath(spec.expect);
    if (!isUtf8(bytes)) {
      if (body.field !== 'body') problems.push(`${spec.name}: not UTF-8, yet the answer does not name the body: ${text.slice(0, 300)}`);
    } else if (path && body.field !== path && !body.issues?.some((i) => i.path === path)) {
      problems.push(`${spec.name}: expected path ${path} in ${text.slice(0, 400)}`);
    }
  }
  return { problems, statuses };
}

/**
 * Every file POSTed to a fresh API whose store already holds a workflow (so "unchanged" covers
 * existing rows too): each answer a 4xx naming the path, the server still up, the store not
 * changed and its invariants intact. Returns the statuses seen.
 */
export async function restRefusesAll(t: ExecutionContext, dir: string, specs: HostileSpec[]): Promise<Record<number, number>> {
  const api = await startTestApi(t, { logger: { info() {}, error: (l) => t.log(l) } });
  const wf = await api.store.createWorkflowFromPlan(makePlan({ jobs: [{ name: 'a' }, { name: 'b', after: ['a'] }] }));
  await api.store.initializeJobs(wf.id);
  const before = await databaseFingerprint(api.store.db);
  const { problems, statuses } = await restProblems(api.server.baseUrl, dir, specs);
  t.deepEqual(problems, []);
  t.is((await api.http('GET', '/ping')).status, 200, 'the server is still up');
  t.deepEqual(await databaseFingerprint(api.store.db), before, 'the store is unchanged');
  t.deepEqual((await checkInvariants(api.store.db)).violations, []);
  return statuses;
}

/** A database holding a finished workflow (the diamond example): the EXISTING of reconcileRefuses. */
export async function existingDatabase(t: ExecutionContext, dir: string): Promise<string> {
  const existing = join(dir, 'existing');
  mkdirSync(existing, { recursive: true });
  const db = join(existing, 'wf.db');
  const good = await runTorc(['reconcile', 'examples/diamond.yaml', '--db', db, '--no-server', '-q', '--output-dir', join(existing, 'out')], { timeoutMs: 120_000 });
  t.is(good.code, 0, good.stderr);
  return db;
}

/**
 * `torc reconcile FILE --db NEW` exits 2 naming the problem and creates no database, database
 * directory or output directory; against EXISTING, the file's bytes do not change.
 */
export async function reconcileRefuses(t: ExecutionContext, dir: string, spec: HostileSpec, existingDb: string): Promise<void> {
  const work = mkdtempSync(join(dir, 'run-'));
  const fresh = join(work, 'new', 'wf.db');
  const res = await runTorc(['reconcile', join(dir, spec.name), '--db', fresh, '--no-server'], { cwd: work, timeoutMs: 120_000 });
  t.is(res.code, 2, `${spec.name}: ${res.stderr.slice(0, 500)}`);
  t.notRegex(res.stderr, /^torc: /m, `${spec.name} crashed`);
  if (spec.expect) {
    const lines = res.stderr.split('\n').filter((l) => l.startsWith('error: '));
    t.true(lines.some((l) => l.includes(spec.expect!)), `${spec.name}: "${spec.expect}" in ${res.stderr.slice(0, 500)}`);
  }
  t.false(existsSync(fresh), `${spec.name}: database created`);
  t.false(existsSync(join(work, 'new')), `${spec.name}: database directory created`);
  t.false(existsSync(join(work, 'torc_output')), `${spec.name}: output directory created`);
  // Against an existing database: not a byte changes.
  const digest = () => ['', '-wal'].map((s) => (existsSync(existingDb + s) ? createHash('sha256').update(readFileSync(existingDb + s)).digest('hex') : '-')).join();
  const before = digest();
  const again = await runTorc(['reconcile', join(dir, spec.name), '--db', existingDb, '--no-server'], { cwd: work, timeoutMs: 120_000 });
  t.is(again.code, 2, `${spec.name} against an existing database`);
  t.is(digest(), before, `${spec.name}: existing database changed`);
}
