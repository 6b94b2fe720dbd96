/**
 * A claimed job as a Pod, and a Pod's state as a job outcome.
 *
 * Pods are placed by us (nodeName = the node the allocator chose), never by the scheduler, so
 * requests = limits exactly as claimed; a pod that finishes, fails, is OOM-killed, evicted or
 * deleted maps to one completion with an exit code the failure policy can match.
 */
import type { V1Container, V1ContainerStatus, V1EnvVar, V1Pod, V1Toleration, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { diagnoseFailure, type Diagnosis } from '../../allocator/diagnosis.js';
import { posix } from 'node:path';
import { InputError } from '../../errors.js';
import type { CompletionStatusName } from '../../contract/status.js';
import type { ClaimedJobRecord } from '../../contract/client.js';
import { GPU_RESOURCE } from './capacity.js';
import { podName, toLabelValue } from './names.js';
import { formatBytes, formatCpu } from './quantity.js';

export const WORKFLOW_API_VERSION = 'torc.dev/v1alpha1';
export const WORKFLOW_KIND = 'Workflow';

export const LABEL_WORKFLOW = 'torc.dev/workflow';
export const LABEL_JOB = 'torc.dev/job';
export const LABEL_JOB_ID = 'torc.dev/job-id';
export const LABEL_ATTEMPT = 'torc.dev/attempt';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const ANNOTATION_JOB_NAME = 'torc.dev/job-name';
export const ANNOTATION_WORKFLOW_ID = 'torc.dev/workflow-id';
export const ANNOTATION_RUN_ID = 'torc.dev/run-id';
export const CONTAINER_NAME = 'job';

/** Exit code reported for an OOM-killed container (128 + SIGKILL), as the failure policy expects. */
export const OOM_EXIT_CODE = 137;
/** Exit code for a job whose pod was stopped from outside (deleted, evicted, deadline): 128 + SIGTERM. */
export const KILLED_EXIT_CODE = 143;

export interface WorkflowRef {
  name: string;
  namespace: string;
  uid: string;
}

export interface PodOptions {
  workflow: WorkflowRef;
  /** The workflow's id in the store. */
  workflowId: number;
  runId: number;
  /** Used when the job has no image (the spec's default_image is already folded into job.image). */
  defaultImage: string;
  /** TORC_API_URL for jobs that talk back to the REST API; omitted when null. */
  apiUrl?: string | null;
  serviceAccountName?: string;
  tolerations?: V1Toleration[];
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /**
   * A PersistentVolumeClaim (ReadWriteMany) mounted into every job pod as its working
   * directory, so that jobs exchange files (${files.output.X} → ${files.input.X}) as they do
   * on one machine or a shared HPC file system.
   */
  workVolume?: { claimName: string; mountPath: string } | null;
  /**
   * The spec's working_dir: the container's workingDir (a relative one under the work
   * volume's mount path; see podWorkingDir). Null: the mount path, else the image's own.
   */
  workingDir?: string | null;
  /**
   * The CA certificate of an https REST API, for jobs that talk back to it: this ConfigMap (in
   * the pod's namespace, key `ca.crt`) is mounted read-only at API_CA_DIR and TORC_CA_FILE
   * names the file, which the torc clients read as their --ca-file.
   */
  apiCaConfigMap?: string | null;
}

/**
 * The container's workingDir for a spec working_dir: an absolute path as it is; a relative
 * one under the work volume's mount path; without working_dir the mount path (or none: the
 * image's). An InputError naming spec.working_dir for a relative path without a work volume.
 */
export function podWorkingDir(workingDir: string | null | undefined, workVolume: { mountPath: string } | null | undefined): string | null {
  if (!workingDir) return workVolume?.mountPath ?? null;
  if (posix.isAbsolute(workingDir)) return posix.normalize(workingDir);
  if (!workVolume) {
    throw new InputError(`"${workingDir}" is relative: on Kubernetes give an absolute path, or run the operator with a work volume (relative paths are under its mount path)`, 'spec.working_dir');
  }
  return posix.join(workVolume.mountPath, workingDir);
}

/** Where job pods find the API's CA certificate (apiCaConfigMap). */
export const API_CA_DIR = '/etc/torc/api-ca';

export function jobPodName(workflowName: string, job: Pick<ClaimedJobRecord, 'name' | 'attempt_id'>): string {
  return podName(workflowName, job.name, job.attempt_id);
}

function resourceList(job: ClaimedJobRecord): Record<string, string> {
  const r: Record<string, string> = {
    cpu: formatCpu(job.resources.num_cpus),
    memory: formatBytes(job.resources.memory_bytes),
  };
  if (job.resources.num_gpus > 0) r[GPU_RESOURCE] = String(job.resources.num_gpus);
  return r;
}

/** The Pod that runs one claimed job attempt on the node the allocator assigned. */
export function buildJobPod(job: ClaimedJobRecord, opts: PodOptions): V1Pod {
  const path = `jobs[${job.name}]`;
  if (job.resources.num_nodes > 1) {
    throw new InputError(`a job on Kubernetes runs in one pod on one node; num_nodes ${job.resources.num_nodes} is not supported`,
      `${path}.resource_requirements.num_nodes`);
  }
  const nodeName = job.assigned_nodes[0];
  if (!nodeName) throw new InputError('the allocator assigned no node to this job', `${path}.assigned_nodes`);
  const image = job.image ?? opts.defaultImage;
  if (!image) throw new InputError('no container image: set the job image or the workflow default_image', `${path}.image`);
  const env: V1EnvVar[] = [
    { name: 'TORC_WORKFLOW_ID', value: String(opts.workflowId) },
    { name: 'TORC_JOB_ID', value: String(job.id) },
    { name: 'TORC_JOB_NAME', value: job.name },
    { name: 'TORC_ATTEMPT', value: String(job.attempt_id) },
    { name: 'TORC_RUN_ID', value: String(opts.runId) },
  ];
  if (opts.apiUrl) env.push({ name: 'TORC_API_URL', value: opts.apiUrl });
  if (opts.apiCaConfigMap) env.push({ name: 'TORC_CA_FILE', value: `${API_CA_DIR}/ca.crt` });
  for (const [name, value] of Object.entries(job.env ?? {})) {
    if (!env.some((e) => e.name === name)) env.push({ name, value });
  }
  const volumes: V1Volume[] = [];
  const volumeMounts: V1VolumeMount[] = [];
  if (opts.workVolume) {
    volumes.push({ name: 'work', persistentVolumeClaim: { claimName: opts.workVolume.claimName } });
    volumeMounts.push({ name: 'work', mountPath: opts.workVolume.mountPath });
  }
  if (opts.apiCaConfigMap) {
    volumes.push({ name: 'torc-api-ca', configMap: { name: opts.apiCaConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    volumeMounts.push({ name: 'torc-api-ca', mountPath: API_CA_DIR, readOnly: true });
  }
  const resources = resourceList(job);
  const runtime = Math.ceil(job.resources.runtime_seconds);
  const workingDir = podWorkingDir(opts.workingDir, opts.workVolume);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: jobPodName(opts.workflow.name, job),
      namespace: opts.workflow.namespace,
      labels: {
        [LABEL_WORKFLOW]: toLabelValue(opts.workflow.name),
        [LABEL_JOB]: toLabelValue(job.name),
        [LABEL_JOB_ID]: String(job.id),
        [LABEL_ATTEMPT]: String(job.attempt_id),
        [LABEL_MANAGED_BY]: 'torc',
      },
      annotations: {
        [ANNOTATION_JOB_NAME]: job.name,
        [ANNOTATION_WORKFLOW_ID]: String(opts.workflowId),
        [ANNOTATION_RUN_ID]: String(opts.runId),
      },
      ownerReferences: [{
        apiVersion: WORKFLOW_API_VERSION,
        kind: WORKFLOW_KIND,
        name: opts.workflow.name,
        uid: opts.workflow.uid,
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      restartPolicy: 'Never',
      nodeName,
      // The job's runtime is its limit, as with the local runner: the kubelet stops it after that.
      ...(runtime > 0 ? { activeDeadlineSeconds: runtime } : {}),
      ...(opts.serviceAccountName ? { serviceAccountName: opts.serviceAccountName } : {}),
      ...(opts.tolerations?.length ? { tolerations: opts.tolerations } : {}),
      ...(volumes.length ? { volumes } : {}),
      containers: [{
        name: CONTAINER_NAME,
        image,
        ...(workingDir !== null ? { workingDir } : {}),
        ...(volumeMounts.length ? { volumeMounts } : {}),
        ...(opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {}),
        command: ['/bin/sh', '-c', job.command],
        env,
        resources: { requests: { ...resources }, limits: { ...resources } },
      }],
    },
  };
}

/**
 * A pod as the operator keeps it in its cache (client-go's transform): identity, owner, labels
 * and annotations, node and resource requests, and state. The rest (env, commands, managed
 * fields, conditions) is dropped: with tens of thousands of pods cached it is most of the memory.
 */
export function slimPod(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {};
  const requestsOnly = (c: V1Container): V1Container => ({
    name: c.name, ...(c.resources ? { resources: { requests: c.resources.requests, limits: c.resources.limits } } : {}),
  });
  return {
    metadata: {
      name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, labels: m.labels, annotations: m.annotations,
      ...(m.ownerReferences ? { ownerReferences: m.ownerReferences.map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid })) } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    ...(pod.spec ? {
      spec: {
        nodeName: pod.spec.nodeName,
        containers: pod.spec.containers.map(requestsOnly),
        ...(pod.spec.initContainers ? { initContainers: pod.spec.initContainers.map(requestsOnly) } : {}),
        ...(pod.spec.overhead ? { overhead: pod.spec.overhead } : {}),
      },
    } : {}),
    ...(pod.status ? {
      status: {
        phase: pod.status.phase, reason: pod.status.reason, message: pod.status.message, startTime: pod.status.startTime,
        ...(pod.status.containerStatuses ? {
          containerStatuses: pod.status.containerStatuses.map((c) => ({ name: c.name, state: c.state }) as V1ContainerStatus),
        } : {}),
      },
    } : {}),
  };
}

/** Which job attempt a pod runs, read back from its labels; null for pods that are not ours. */
export function podJob(pod: V1Pod): { jobId: number; attempt: number } | null {
  const labels = pod.metadata?.labels ?? {};
  const jobId = Number(labels[LABEL_JOB_ID]);
  const attempt = Number(labels[LABEL_ATTEMPT]);
  if (!Number.isInteger(jobId) || !Number.isInteger(attempt) || !labels[LABEL_JOB_ID]) return null;
  return { jobId, attempt };
}

export type PodOutcome =
  | { state: 'pending'; reason: string | null }
  | { state: 'running'; startedAt: string | null; node: string | null }
  | {
    state: 'finished';
    /** torc status code: completed, failed or terminated. */
    status: CompletionStatusName;
    returnCode: number;
    reason: string;
    message: string;
    startedAt: string | null;
    finishedAt: string | null;
  };

/** Waiting reasons that never resolve by themselves: the job fails instead of hanging Pending. */
const FATAL_WAITING = new Set(['InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError']);

function iso(t: unknown): string | null {
  if (t instanceof Date) return t.toISOString();
  return typeof t === 'string' ? t : null;
}

/**
 * A pod's state as a job outcome. `deleted` = the pod is gone (a DELETED watch event) or being
 * deleted: unless it already succeeded, the job was stopped from outside → terminated.
 */
export function podOutcome(pod: V1Pod, deleted = false): PodOutcome {
  const phase = pod.status?.phase;
  const container = (pod.status?.containerStatuses ?? []).find((c) => c.name === CONTAINER_NAME)
    ?? pod.status?.containerStatuses?.[0];
  const term = container?.state?.terminated;
  const startedAt = iso(term?.startedAt) ?? iso(container?.state?.running?.startedAt) ?? iso(pod.status?.startTime);
  const finishedAt = iso(term?.finishedAt);
  const podReason = pod.status?.reason ?? '';
  const message = pod.status?.message ?? term?.message ?? '';
  const beingDeleted = deleted || !!pod.metadata?.deletionTimestamp;

  if (phase === 'Succeeded') {
    return { state: 'finished', status: 'completed', returnCode: term?.exitCode ?? 0, reason: 'Completed', message, startedAt, finishedAt };
  }
  if (term?.reason === 'OOMKilled') {
    return { state: 'finished', status: 'failed', returnCode: OOM_EXIT_CODE, reason: 'OOMKilled', message, startedAt, finishedAt };
  }
  if (phase === 'Failed') {
    // The pod was stopped by the system (deadline, eviction, rejection at admission, deletion).
    if (podReason || beingDeleted || !term) {
      return {
        state: 'finished', status: 'terminated', returnCode: term?.exitCode || KILLED_EXIT_CODE,
        reason: podReason || (beingDeleted ? 'Deleted' : 'Failed'), message, startedAt, finishedAt,
      };
    }
    return { state: 'finished', status: 'failed', returnCode: term.exitCode, reason: term.reason ?? 'Error', message, startedAt, finishedAt };
  }
  if (beingDeleted) {
    return {
      state: 'finished', status: 'terminated', returnCode: term?.exitCode || KILLED_EXIT_CODE,
      reason: 'Deleted', message: message || 'the pod was deleted before the job finished', startedAt, finishedAt,
    };
  }
  const waiting = container?.state?.waiting;
  if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) {
    return { state: 'finished', status: 'failed', returnCode: 1, reason: waiting.reason, message: waiting.message ?? '', startedAt, finishedAt };
  }
  if (phase === 'Running') return { state: 'running', startedAt, node: pod.spec?.nodeName ?? null };
  return { state: 'pending', reason: waiting?.reason ?? null };
}

/**
 * Why a finished pod's job failed (null when it succeeded): the kubelet's OOMKilled → likely_oom;
 * DeadlineExceeded (activeDeadlineSeconds = the job's runtime) → likely_timeout; a deleted pod
 * (cancel, kubectl delete) → unknown (stopped); otherwise the
 * exit code with the peak memory measured (when the pod was measured) against the requirement.
 */
export function podDiagnosis(
  outcome: Extract<PodOutcome, { state: 'finished' }>,
  need: { memory_bytes: number; runtime_seconds: number },
  execSeconds: number,
  peakMemoryBytes: number | null,
): Diagnosis | null {
  if (outcome.returnCode === 0 && outcome.reason === 'Completed') return null;
  return diagnoseFailure({
    return_code: outcome.returnCode,
    oom_kills: outcome.reason === 'OOMKilled' ? 1 : 0,
    termination_reason: outcome.reason === 'DeadlineExceeded' ? 'runtime_limit' : outcome.reason === 'Deleted' ? 'stopped' : null,
    peak_memory_bytes: peakMemoryBytes,
    memory_limit_bytes: need.memory_bytes,
    exec_time_seconds: execSeconds,
    runtime_seconds: need.runtime_seconds > 0 ? need.runtime_seconds : null,
  });
}
