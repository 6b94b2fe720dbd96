/** Which workflows need storage shared by their pods: jobs that read what other jobs write. */
import test from 'ava';
import { loadPlanFromFile } from '../../src/spec/index.js';
import { fileExchanges, sharedStorageRefusal } from '../../src/runners/k8s/shared-files.js';

test('the diamond exchanges four files between its jobs; the refusal names them and the way out', (t) => {
  const plan = loadPlanFromFile('examples/diamond.yaml');
  t.deepEqual(fileExchanges(plan).map((e) => `${e.writer}>${e.file}>${e.reader}`).sort(),
    ['preprocess>f2>work1', 'preprocess>f3>work2', 'work1>f4>postprocess', 'work2>f5>postprocess']);
  const why = sharedStorageRefusal(plan, 'team-a')!;
  t.regex(why, /^jobs exchange files but job pods share no storage: work1 reads f2 \(output\/diamond\/f2\.txt\) written by preprocess; /);
  t.regex(why, /\(and 1 more\)/);
  t.regex(why, /--work-pvc CLAIM \(a ReadWriteMany PersistentVolumeClaim in namespace team-a/);
});

test('a sweep whose collector reads every result exchanges one file per job', (t) => {
  const plan = loadPlanFromFile('examples/sweep.yaml');
  const ex = fileExchanges(plan);
  t.is(ex.length, 100);
  t.true(ex.every((e) => e.reader === 'collect'));
});

test('workflows ordered by depends_on only, or writing files nobody reads, need no shared storage', (t) => {
  for (const f of ['examples/k8s-pipeline.yaml', 'examples/queue-depth.yaml', 'examples/heterogeneous.yaml']) {
    const plan = loadPlanFromFile(f);
    t.deepEqual(fileExchanges(plan), [], f);
    t.is(sharedStorageRefusal(plan, 'default'), null, f);
  }
});
