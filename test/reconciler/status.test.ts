import test from 'ava';
import { computeStatus, computePhase, fullCounts } from '../../src/contract/workflow-status.js';

test('phase follows the job counts', (t) => {
  t.is(computePhase(fullCounts({ ready: 3 }), false), 'Pending');
  t.is(computePhase(fullCounts({ ready: 2, completed: 1 }), false), 'Running');
  t.is(computePhase(fullCounts({ completed: 3 }), false), 'Succeeded');
  t.is(computePhase(fullCounts({ completed: 2, failed: 1 }), false), 'Failed');
  t.is(computePhase(fullCounts({ completed: 2, terminated: 1 }), false), 'Failed');
  t.is(computePhase(fullCounts({ canceled: 2 }), true), 'Canceled');
  // Still terminating its running jobs: not Canceled yet.
  t.is(computePhase(fullCounts({ canceled: 1, running: 1 }), true), 'Running');
  t.is(computeStatus({ counts: { canceled: 1, running: 1 }, canceled: true }).conditions.find((c) => c.type === 'Progressing')!.reason, 'Canceling');
});

test('conditions keep their transition time while unchanged', (t) => {
  const first = computeStatus({ counts: { running: 1, ready: 1 }, canceled: false, now: new Date('2026-01-01T00:00:00Z') });
  t.is(first.phase, 'Running');
  t.is(first.total, 2);
  t.is(first.done, 0);
  const complete1 = first.conditions.find((c) => c.type === 'Complete')!;
  t.is(complete1.status, 'False');
  const second = computeStatus({
    counts: { running: 1, completed: 1 }, canceled: false, now: new Date('2026-01-01T00:01:00Z'), previous: first.conditions,
  });
  t.is(second.conditions.find((c) => c.type === 'Complete')!.lastTransitionTime, '2026-01-01T00:00:00.000Z');
  const third = computeStatus({ counts: { completed: 2 }, canceled: false, now: new Date('2026-01-01T00:02:00Z'), previous: second.conditions });
  const complete3 = third.conditions.find((c) => c.type === 'Complete')!;
  t.is(complete3.status, 'True');
  t.is(complete3.reason, 'AllJobsFinished');
  t.is(complete3.lastTransitionTime, '2026-01-01T00:02:00.000Z');
  t.is(third.phase, 'Succeeded');
});
