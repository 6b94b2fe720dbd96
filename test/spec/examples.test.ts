import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlanFromFile, loadWorkflowFile, planDocument, summarizePlan, type Plan } from '../../src/spec/index.js';

const examples = readdirSync('examples').filter((f) => /\.ya?ml$/.test(f));

test('the examples directory holds the four documented examples', (t) => {
  for (const f of ['diamond.yaml', 'sweep.yaml', 'heterogeneous.yaml', 'queue-depth.yaml']) t.true(examples.includes(f), f);
});

for (const file of examples) {
  test(`examples/${file} loads and plans`, (t) => {
    const docs = loadWorkflowFile(join('examples', file));
    t.true(docs.length >= 1);
    for (const doc of docs) t.true(planDocument(doc).jobs.length > 0);
  });
}

/** Runs every job's command with sh in dependency order (one at a time), as a runner would. */
function runInOrder(plan: Plan, cwd: string): void {
  const done = new Set<number>();
  while (done.size < plan.jobs.length) {
    const before = done.size;
    plan.jobs.forEach((job, j) => {
      if (done.has(j)) return;
      const blockers = plan.dep_targets.subarray(plan.dep_offsets[j]!, plan.dep_offsets[j + 1]!);
      if (!blockers.every((b) => done.has(b))) return;
      execFileSync('sh', ['-c', job.command], { cwd, stdio: 'pipe', timeout: 30_000 });
      done.add(j);
    });
    if (done.size === before) throw new Error('no runnable job left');
  }
}

test('diamond: shape from files, and its commands really run to the expected output', (t) => {
  const plan = loadPlanFromFile('examples/diamond.yaml');
  const s = summarizePlan(plan);
  t.is(s.jobs, 4);
  t.is(s.depth, 3);
  t.deepEqual(s.root_names, ['preprocess']);
  t.deepEqual(s.leaf_names, ['postprocess']);
  const dir = mkdtempSync(join(tmpdir(), 'torc-diamond-'));
  runInOrder(plan, dir);
  t.is(readFileSync(join(dir, 'output/diamond/f6.txt'), 'utf8'), 'ALPHA BETA GAMMA\n2\n');
});

test('sweep: 100 parameterized jobs plus the collector, whose result is the sum of squares', (t) => {
  const plan = loadPlanFromFile('examples/sweep.yaml');
  const sims = plan.jobs.filter((j) => j.name.startsWith('sim_'));
  t.is(sims.length, 100);
  t.is(sims[0]!.name, 'sim_001');
  const collect = plan.jobs.findIndex((j) => j.name === 'collect');
  t.is(plan.dep_offsets[collect + 1]! - plan.dep_offsets[collect]!, 100);
  const dir = mkdtempSync(join(tmpdir(), 'torc-sweep-'));
  runInOrder(plan, dir);
  t.is(readFileSync(join(dir, 'output/sweep/summary.txt'), 'utf8').trim(), '338350');
});

test('heterogeneous: GPU jobs bound to gpu_cluster, high-memory jobs to highmem_cluster', (t) => {
  const plan = loadPlanFromFile('examples/heterogeneous.yaml');
  const sched = (name: string) => {
    const job = plan.jobs.find((j) => j.name === name)!;
    return job.scheduler === null ? null : plan.slurm_schedulers[job.scheduler]!.name;
  };
  const rc = (name: string) => plan.resource_classes[plan.jobs.find((j) => j.name === name)!.resource_class]!;
  t.is(sched('model_training_resnet'), 'gpu_cluster');
  t.is(rc('model_training_resnet').num_gpus, 2);
  t.is(sched('large_analysis_3'), 'highmem_cluster');
  t.is(rc('large_analysis_3').memory_bytes, 256 * 1024 ** 3);
  t.is(sched('preprocess_1'), null);
  t.is(plan.settings.jobs_sort_method, 'gpus_runtime_memory');
});

test('queue-depth: homogeneous independent jobs', (t) => {
  const plan = loadPlanFromFile('examples/queue-depth.yaml');
  t.is(plan.jobs.length, 24);
  t.is(plan.dep_targets.length, 0);
  t.is(new Set(plan.jobs.map((j) => j.resource_class)).size, 1);
});

test('k8s-pipeline: ordered by depends_on alone (no shared files), every job prints its result', (t) => {
  const plan = loadPlanFromFile('examples/k8s-pipeline.yaml');
  const s = summarizePlan(plan);
  t.deepEqual([s.jobs, s.depth, s.root_names, s.leaf_names], [4, 3, ['fetch'], ['report']]);
  t.deepEqual(plan.files, []);
  const count = plan.jobs.find((j) => j.name === 'count')!;
  t.is(execFileSync('sh', ['-c', count.command], { encoding: 'utf8' }), 'counted 3 records\n');
});
