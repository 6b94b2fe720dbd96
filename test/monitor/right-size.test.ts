/**
 * Right-sizing (beyond torc): `check-resource-utilization --suggest` proposes requirements per
 * class from measured peaks, `--apply FILE` writes them into the spec — YAML keeps its comments
 * and layout, JSON its indentation, KDL/JSON5 are refused naming the values.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTorc } from '../support/cli.js';
import { tempDir } from '../support/procs.js';

const HOG = fileURLToPath(new URL('../fixtures/monitor/hog.mjs', import.meta.url));

const SPEC = `# The pipeline of the night shift.
name: sizing
resource_requirements:
  # Far too generous: nobody measured.
  - name: big
    num_cpus: 2      # cores
    memory: 4g       # a guess
    runtime: PT2H
  - {name: other, num_cpus: 1, memory: 1g, runtime: PT1H}  # not used by any job
jobs:
  - name: "work_{i}"
    command: node ${HOG} --mb {i}0
    resource_requirements: big
    parameters: {i: "4:6"}
`;

async function ranWorkflow(spec: string, file = 'wf.yaml') {
  const dir = await tempDir('torc-sizing-');
  writeFileSync(path.join(dir, file), spec);
  const run = await runTorc(['reconcile', file, '--no-server'], { cwd: dir });
  if (run.code !== 0) throw new Error(run.stderr);
  return { dir, db: ['--db', path.join(dir, '.torc', `${path.basename(file, path.extname(file))}.db`)] };
}

test('--suggest: under-used classes and new requirements from the measured peaks; --apply writes them into the YAML keeping its comments', async (t) => {
  const { dir, db } = await ranWorkflow(SPEC);
  const out = await runTorc(['reports', 'check-resource-utilization', '1', ...db, '--suggest', '--format', 'json'], { cwd: dir });
  t.is(out.code, 0, out.stderr);
  const report = JSON.parse(out.stdout) as {
    under_utilization: { resource_class: string; resource_type: string; utilization: string }[];
    suggestions: { resource_class: string; jobs: number; current: { memory: string }; suggested: { num_cpus: number; memory: string; runtime: string }; changed: string[]; basis: { peak_cpu_percent: number | null } }[];
  };
  t.deepEqual(report.under_utilization.filter((u) => u.resource_class === 'big').map((u) => u.resource_type), ['Memory', 'CPU', 'Runtime']);
  const big = report.suggestions.find((s) => s.resource_class === 'big')!;
  t.is(big.jobs, 3);
  t.is(big.current.memory, '4g');
  // The hog (a node process) may briefly use more than one core (GC and compiler threads) on a
  // busy machine: the CPU suggestion is held to the measured peak it names, not to a fixed 1.
  t.is(big.suggested.num_cpus, Math.max(1, Math.ceil((big.basis.peak_cpu_percent! / 100) * 1.1 - 1e-9)));
  t.regex(big.suggested.memory, /^\d+m$/);
  t.true(Number(big.suggested.memory.slice(0, -1)) <= 192, `the 60 MB job's peak with headroom: ${big.suggested.memory}`);
  t.is(big.suggested.runtime, 'PT1M');
  t.false(report.suggestions.some((s) => s.resource_class === 'other'), 'nothing measured, nothing proposed');

  const bad = await runTorc(['reports', 'check-resource-utilization', '1', ...db, '--apply', 'wf.yaml'], { cwd: dir });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--apply: needs --suggest/);

  const apply = await runTorc(['reports', 'check-resource-utilization', '1', ...db, '--suggest', '--apply', 'wf.yaml'], { cwd: dir });
  t.is(apply.code, 0, apply.stderr);
  t.regex(apply.stdout, /Wrote the suggested requirements of big into .*wf\.yaml/);
  const text = readFileSync(path.join(dir, 'wf.yaml'), 'utf8');
  for (const kept of ['# The pipeline of the night shift.', '# Far too generous: nobody measured.', '# cores', '# not used by any job', "parameters: {i: \"4:6\"}"]) {
    t.true(text.includes(kept), `kept: ${kept}\n${text}`);
  }
  t.regex(text, new RegExp(`memory: ${big.suggested.memory}\\s+# a guess`));
  t.regex(text, /runtime: PT1M/);
  t.regex(text, /- \{name: other, num_cpus: 1, memory: 1g, runtime: PT1H\}/, 'the other entry is untouched');
  const valid = await runTorc(['validate', 'wf.yaml'], { cwd: dir });
  t.is(valid.code, 0, valid.stderr);
});

test('--apply: JSON keeps its indentation; KDL is refused naming the values to change by hand', async (t) => {
  const spec = {
    name: 'sizing_json',
    resource_requirements: [{ name: 'big', num_cpus: 2, memory: '4g', runtime: 'PT2H' }],
    jobs: [{ name: 'work', command: `node ${HOG} --mb 40`, resource_requirements: 'big' }],
  };
  const { dir, db } = await ranWorkflow(`${JSON.stringify(spec, null, 4)}\n`, 'wf.json');
  const apply = await runTorc(['reports', 'check-resource-utilization', '1', ...db, '--suggest', '--apply', 'wf.json'], { cwd: dir });
  t.is(apply.code, 0, apply.stderr);
  const text = readFileSync(path.join(dir, 'wf.json'), 'utf8');
  t.regex(text, /^\{\n {4}"name": "sizing_json",/);
  const written = JSON.parse(text) as typeof spec;
  t.is(written.resource_requirements[0]!.runtime, 'PT1M');
  const suggested = await runTorc(['reports', 'check-resource-utilization', '1', ...db, '--suggest', '--format', 'json'], { cwd: dir });
  const cls = (JSON.parse(suggested.stdout) as { suggestions: { suggested: { num_cpus: number } }[] }).suggestions[0]!;
  t.is(written.resource_requirements[0]!.num_cpus, cls.suggested.num_cpus, 'the suggested CPUs written');

  writeFileSync(path.join(dir, 'wf.kdl'), 'name "sizing_json"\n');
  const kdl = await runTorc(['reports', 'check-resource-utilization', '1', ...db, '--suggest', '--apply', 'wf.kdl'], { cwd: dir });
  t.is(kdl.code, 2);
  t.regex(kdl.stderr, /--apply: wf\.kdl: KDL files cannot be rewritten keeping their formatting; change by hand: big: num_cpus 1, memory \d+m, runtime PT1M/);
});
