/** The pure monitoring policies of the allocator: diagnosis, recovery, right-sizing. */
import test from 'ava';
import { diagnoseFailure } from '../../src/allocator/diagnosis.js';
import { planRecovery, recoveryOptionIssues, DEFAULT_RECOVERY } from '../../src/allocator/recovery.js';
import { percentile, roundMemoryUp, suggestRequirements, underUse } from '../../src/allocator/right-size.js';

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

test('diagnosis: an OOM kill the cgroup counted wins; a runtime kill is a timeout; 137 with the peak at the limit is OOM', (t) => {
  t.is(diagnoseFailure({ return_code: 0 }), null, 'success is no failure');
  t.deepEqual(diagnoseFailure({ return_code: 137, oom_kills: 1, termination_reason: 'runtime_limit' }), { failure_diagnosis: 'likely_oom', diagnosis_reason: 'oom_kill' });
  t.deepEqual(diagnoseFailure({ return_code: 143, termination_reason: 'runtime_limit' }), { failure_diagnosis: 'likely_timeout', diagnosis_reason: 'runtime_limit' });
  t.deepEqual(diagnoseFailure({ return_code: 137, peak_memory_bytes: 100 * MIB, memory_limit_bytes: 100 * MIB }), { failure_diagnosis: 'likely_oom', diagnosis_reason: 'sigkill_peak_at_limit' });
  t.deepEqual(diagnoseFailure({ return_code: 137, peak_memory_bytes: 10 * MIB, memory_limit_bytes: 100 * MIB }), { failure_diagnosis: 'unknown', diagnosis_reason: 'exit_code' }, 'a kill well under the limit');
  t.deepEqual(diagnoseFailure({ return_code: 152 }), { failure_diagnosis: 'likely_timeout', diagnosis_reason: 'sigxcpu' });
  t.deepEqual(diagnoseFailure({ return_code: 143, exec_time_seconds: 95, runtime_seconds: 100 }), { failure_diagnosis: 'likely_timeout', diagnosis_reason: 'near_runtime' });
  t.deepEqual(diagnoseFailure({ return_code: 1, peak_memory_bytes: 2 * GIB, memory_limit_bytes: GIB }), { failure_diagnosis: 'likely_oom', diagnosis_reason: 'memory_exceeded' });
  t.deepEqual(diagnoseFailure({ return_code: 143, termination_reason: 'canceled' }), { failure_diagnosis: 'unknown', diagnosis_reason: 'canceled' });
  t.deepEqual(diagnoseFailure({ return_code: 3 }), { failure_diagnosis: 'unknown', diagnosis_reason: 'exit_code' });
});

test('recovery: OOM gets memory × m, timeout runtime × r, unknown only with retry_unknown; a job at what runners offer is left alone', (t) => {
  const jobs = [
    { job_id: 1, name: 'a', diagnosis: 'likely_oom' as const, need: { memory_bytes: 100 * MIB, runtime_seconds: 60 } },
    { job_id: 2, name: 'b', diagnosis: 'likely_timeout' as const, need: { memory_bytes: 100 * MIB, runtime_seconds: 60 } },
    { job_id: 3, name: 'c', diagnosis: 'unknown' as const, need: { memory_bytes: 100 * MIB, runtime_seconds: 60 } },
    { job_id: 4, name: 'd', diagnosis: null, need: { memory_bytes: 100 * MIB, runtime_seconds: 60 } },
    { job_id: 5, name: 'e', diagnosis: 'likely_oom' as const, need: { memory_bytes: GIB, runtime_seconds: 60 } },
  ];
  const steps = planRecovery(jobs, DEFAULT_RECOVERY, { memory_bytes: GIB, runtime_seconds: null });
  t.like(steps[0], { action: 'raise', to: { memory_bytes: 150 * MIB, runtime_seconds: 60 } });
  t.like(steps[1], { action: 'raise', to: { memory_bytes: 100 * MIB, runtime_seconds: 90 } });
  t.like(steps[2], { action: 'skip', reason: 'unknown_cause' });
  t.like(steps[3], { action: 'skip', diagnosis: 'unknown', reason: 'unknown_cause' }, 'no diagnosis recorded: unknown');
  t.like(steps[4], { action: 'skip', reason: 'at_limit' });
  const retry = planRecovery(jobs.slice(2, 3), { ...DEFAULT_RECOVERY, retry_unknown: true }, { memory_bytes: null, runtime_seconds: null });
  t.like(retry[0], { action: 'retry' });
  const capped = planRecovery(jobs.slice(0, 1), { ...DEFAULT_RECOVERY, memory_multiplier: 4 }, { memory_bytes: 300 * MIB, runtime_seconds: null });
  t.like(capped[0], { action: 'raise', to: { memory_bytes: 300 * MIB, capped: ['memory_bytes'] } });
  t.deepEqual(recoveryOptionIssues({ memory_multiplier: 1 }).map((i) => i.field), ['memory_multiplier']);
  t.deepEqual(recoveryOptionIssues({ runtime_multiplier: Number.NaN }).map((i) => i.field), ['runtime_multiplier']);
  t.deepEqual(recoveryOptionIssues(DEFAULT_RECOVERY), []);
});

test('right-sizing: p95 of the peaks with headroom, rounded as a person writes them; under-use below half the request', (t) => {
  t.is(percentile([], 0.95), null);
  t.is(percentile([5, 1, 3, 2, 4], 0.95), 5);
  t.is(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 0.95), 95, 'one outlier above p95 does not size the class');
  t.is(roundMemoryUp(1), 64 * MIB);
  t.is(roundMemoryUp(100 * MIB), 128 * MIB);
  t.is(roundMemoryUp(5 * GIB + 1), 5 * GIB + 256 * MIB);
  const usage = {
    name: 'big',
    requested: { num_cpus: 8, memory_bytes: 16 * GIB, runtime_seconds: 4 * 3600 },
    peak_memory_bytes: [900 * MIB, 1000 * MIB, 950 * MIB],
    peak_cpu_percent: [180, 150, 160],
    exec_seconds: [600, 900, 700],
  };
  const s = suggestRequirements(usage)!;
  t.is(s.memory_bytes, 1216 * MIB, '1000 MiB × 1.2 → 1200 → up to 64 MiB steps');
  t.is(s.num_cpus, 2, '180% × 1.1 → 2 cores');
  t.is(s.runtime_seconds, 1200, '900 s × 1.3 → 1170 → whole minutes');
  t.deepEqual(s.changed, ['num_cpus', 'memory', 'runtime']);
  t.deepEqual(underUse(usage).map((u) => u.resource_type), ['Memory', 'CPU', 'Runtime']);
  t.deepEqual(underUse({ ...usage, requested: { num_cpus: 2, memory_bytes: GIB, runtime_seconds: 1200 } }), []);
  t.is(suggestRequirements({ ...usage, peak_memory_bytes: [], peak_cpu_percent: [], exec_seconds: [] }), null);
});
