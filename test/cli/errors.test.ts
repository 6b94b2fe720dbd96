import test from 'ava';
import { InputError } from '../../src/errors.js';
import { reportError } from '../../src/cli/main.js';
import { parseStatus, statusName, JobStatus, isTerminal } from '../../src/contract/status.js';

test('InputError lists every issue with its path', (t) => {
  const err = new InputError([
    { path: 'spec.jobs[3].resource_requirements', message: 'undefined resource requirements "huge"' },
    { path: 'spec.name', message: 'required' },
  ]);
  t.is(err.field, 'spec.jobs[3].resource_requirements');
  t.regex(err.message, /spec\.jobs\[3\]\.resource_requirements: undefined/);
  t.regex(err.message, /spec\.name: required/);
});

test('bad input maps to exit code 2, other errors to 1', (t) => {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    t.is(reportError(new InputError('nope', '--num-cpus')), 2);
    t.is(reportError(new Error('boom')), 1);
  } finally {
    process.stderr.write = write;
  }
});

test('status names and torc codes round-trip', (t) => {
  t.is(parseStatus('completed'), JobStatus.completed);
  t.is(parseStatus('5'), 5);
  t.is(parseStatus(42), undefined);
  t.is(parseStatus('finished'), undefined);
  t.is(statusName(8), 'terminated');
  t.false(isTerminal(JobStatus.running));
  t.true(isTerminal(JobStatus.canceled));
});
