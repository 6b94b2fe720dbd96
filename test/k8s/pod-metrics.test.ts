/**
 * The operator's pod-metrics hook on its own (issue 22): what it samples and when it stops,
 * driven the way the operator drives it (reconcile with the workflow's active pods, finishedPod
 * when a pod's result is stored, forget), against a node proxy that answers stats summaries
 * from numbers the test sets. Time is the test's clock; nothing waits.
 */
import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import type { OperatorClient } from '../../src/contract/client.js';
import type { ResourceSample } from '../../src/contract/resources.js';
import type { WorkflowHookContext } from '../../src/runners/k8s/hooks.js';
import { PodMetricsHook } from '../../src/runners/k8s/pod-metrics.js';
import { ANNOTATION_RUN_ID, ANNOTATION_WORKFLOW_ID, LABEL_ATTEMPT, LABEL_JOB_ID, podDiagnosis } from '../../src/runners/k8s/pods.js';

const MIB = 1024 ** 2;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function runningPod(name: string, jobId: number, opts: { runId?: number; node?: string } = {}): V1Pod {
  return {
    metadata: {
      name, namespace: 'ns', uid: `uid-${name}`,
      labels: { [LABEL_JOB_ID]: String(jobId), [LABEL_ATTEMPT]: '1' },
      annotations: { [ANNOTATION_WORKFLOW_ID]: '7', [ANNOTATION_RUN_ID]: String(opts.runId ?? 1) },
    },
    spec: { nodeName: opts.node ?? 'node-1', containers: [{ name: 'job' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'job', ready: true, restartCount: 0, image: 'x', imageID: 'x', state: { running: { startedAt: new Date(T0) } } }] },
  };
}

/** A node proxy whose kubelets report what `usage` holds per pod: cumulative CPU seconds and memory. */
function harness() {
  let now = T0;
  const usage = new Map<string, { cpuSeconds: number; memory: number }>();
  const asked: string[] = [];
  const core = {
    connectGetNodeProxyWithPath: async ({ name, path }: { name: string; path: string }) => {
      asked.push(`${name}/${path}`);
      return JSON.stringify({
        node: { nodeName: name },
        pods: [...usage.entries()].map(([pod, u]) => ({
          podRef: { namespace: 'ns', name: pod },
          cpu: { usageCoreNanoSeconds: Math.round(u.cpuSeconds * 1e9) },
          memory: { workingSetBytes: u.memory },
          process_stats: { process_count: 2 },
        })),
      });
    },
  };
  const samples: ResourceSample[] = [];
  const client = {
    getResourceMonitor: async () => ({ enabled: true, granularity: 'time_series' as const, sample_interval_seconds: 1, generate_plots: false }),
    recordResourceSamples: async (_wf: number, s: ResourceSample[]) => void samples.push(...s),
  } as unknown as OperatorClient;
  const hook = new PodMetricsHook(core as never, { now: () => now });
  const ctx = (pods: V1Pod[], runId = 1): WorkflowHookContext => ({
    key: 'ns/wf', namespace: 'ns', name: 'wf', uid: 'wf-uid', workflowId: 7, runId, activePods: pods, client,
  });
  return { hook, ctx, usage, asked, samples, advance: (ms: number) => (now += ms), now: () => now };
}

test('a running pod of the current run is sampled through its node\'s stats summary; its result gets the summary', async (t) => {
  const h = harness();
  const pod = runningPod('wf-a', 1);
  h.usage.set('wf-a', { cpuSeconds: 0, memory: 100 * MIB });
  h.advance(1000);
  await h.hook.reconcile(h.ctx([pod]));
  t.is(h.hook.sampler.sampling, 1);
  await h.hook.sampler.sampleDue();
  h.advance(1000);
  h.usage.set('wf-a', { cpuSeconds: 1, memory: 300 * MIB });
  await h.hook.sampler.sampleDue();
  t.deepEqual(h.asked, ['node-1/stats/summary', 'node-1/stats/summary'], 'one summary request per round and node');
  t.is(h.samples.length, 2, 'time series reported');
  t.like(h.samples[1], { job_id: 1, run_id: 1, attempt_id: 1, memory_bytes: 300 * MIB, num_processes: 2 });
  t.true(Math.abs(h.samples[1]!.cpu_percent - 100) < 1, `one busy core: ${h.samples[1]!.cpu_percent}%`);

  const extras = h.hook.finishedPod({ key: 'ns/wf', workflowId: 7, runId: 1, pod, jobId: 1, attempt: 1, startedAtMs: T0, finishedAtMs: h.now() });
  t.is(extras.peak_memory_bytes, 300 * MIB);
  t.is(extras.avg_memory_bytes, 200 * MIB);
  t.true(extras.peak_cpu_percent! >= 99);
  t.is(h.hook.sampler.sampling, 0, 'no more sampling');
  t.deepEqual(h.hook.finishedPod({ key: 'ns/wf', workflowId: 7, runId: 1, pod, jobId: 1, attempt: 1, startedAtMs: T0, finishedAtMs: h.now() }), {}, 'asked once');
});

test('a pod that ends before its result is asked for keeps its summary but is no longer sampled; pods of another run or not running are not sampled', async (t) => {
  const h = harness();
  const pod = runningPod('wf-b', 2);
  h.usage.set('wf-b', { cpuSeconds: 0, memory: 50 * MIB });
  await h.hook.reconcile(h.ctx([pod, runningPod('wf-old', 3, { runId: 0 }), { ...runningPod('wf-pending', 4), status: { phase: 'Pending' } }]));
  t.is(h.hook.sampler.sampling, 1, 'only the running pod of the current run');
  await h.hook.sampler.sampleDue();
  // The next reconcile no longer lists it (it finished between the operator's look and this one).
  await h.hook.reconcile(h.ctx([]));
  t.is(h.hook.sampler.sampling, 0);
  h.asked.length = 0;
  await h.hook.sampler.sampleDue();
  t.deepEqual(h.asked, [], 'an ended pod costs no request');
  const extras = h.hook.finishedPod({ key: 'ns/wf', workflowId: 7, runId: 1, pod, jobId: 2, attempt: 1, startedAtMs: T0, finishedAtMs: h.now() });
  t.is(extras.peak_memory_bytes, 50 * MIB, 'the summary survived');
});

test('a deleted workflow is forgotten: its pods are dropped; a workflow on a new run drops the old run\'s pods', async (t) => {
  const h = harness();
  h.usage.set('wf-c', { cpuSeconds: 0, memory: MIB });
  await h.hook.reconcile(h.ctx([runningPod('wf-c', 5)]));
  t.is(h.hook.sampler.sampling, 1);
  await h.hook.reconcile(h.ctx([runningPod('wf-d', 6, { runId: 2 })], 2));
  t.is(h.hook.sampler.sampling, 1, 'run 1\'s pod dropped, run 2\'s sampled');
  h.hook.forget('ns/wf');
  t.is(h.hook.sampler.sampling, 0);
});

test('pod diagnosis: OOMKilled is likely_oom, DeadlineExceeded likely_timeout, a deleted pod unknown, exit 137 at the memory peak likely_oom, success none', (t) => {
  const need = { memory_bytes: 100 * MIB, runtime_seconds: 60 };
  const finished = (reason: string, returnCode: number) => ({ state: 'finished' as const, status: 'failed' as const, returnCode, reason, message: '', startedAt: null, finishedAt: null });
  t.like(podDiagnosis(finished('OOMKilled', 137), need, 5, null), { failure_diagnosis: 'likely_oom', diagnosis_reason: 'oom_kill' });
  t.like(podDiagnosis(finished('DeadlineExceeded', 143), need, 60, null), { failure_diagnosis: 'likely_timeout', diagnosis_reason: 'runtime_limit' });
  t.like(podDiagnosis(finished('Deleted', 143), need, 59, null), { failure_diagnosis: 'unknown', diagnosis_reason: 'stopped' });
  t.like(podDiagnosis(finished('Error', 137), need, 5, 120 * MIB), { failure_diagnosis: 'likely_oom', diagnosis_reason: 'sigkill_peak_at_limit' });
  t.like(podDiagnosis(finished('Error', 3), need, 5, 10 * MIB), { failure_diagnosis: 'unknown', diagnosis_reason: 'exit_code' });
  t.is(podDiagnosis({ ...finished('Completed', 0), status: 'completed' as const }, need, 5, null), null);
});
