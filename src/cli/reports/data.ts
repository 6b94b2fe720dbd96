/** What the reports, plots and recovery summaries read of a workflow, and how they format it (torc's units). */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { ComputeNodeModel, ResourceRequirementsModel, ResultModel, WorkflowModel } from '../../api/client.js';
import type { JobRecord } from '../../contract/client.js';
import type { ResourceSample } from '../../contract/resources.js';
import type { SampleFilter } from '../../store/index.js';
import { allPages, type WorkflowBackend } from '../backend.js';

export interface WorkflowRecords {
  workflow: WorkflowModel;
  jobs: JobRecord[];
  results: ResultModel[];
  requirements: ResourceRequirementsModel[];
}

export async function readRecords(backend: WorkflowBackend, workflowId: number): Promise<WorkflowRecords> {
  const workflow = await backend.getWorkflow(workflowId);
  const [jobs, results, requirements] = await Promise.all([
    allPages((offset, limit) => backend.listJobs(workflowId, { offset, limit })),
    allPages((offset, limit) => backend.listResults(workflowId, { offset, limit })),
    allPages((offset, limit) => backend.listResourceRequirements(workflowId, { offset, limit })),
  ]);
  return { workflow, jobs, results, requirements };
}

export function readComputeNodes(backend: WorkflowBackend, workflowId: number): Promise<ComputeNodeModel[]> {
  return allPages((offset, limit) => backend.listComputeNodes(workflowId, { offset, limit }));
}

export function readSamples(backend: WorkflowBackend, workflowId: number, filter: SampleFilter = {}): Promise<ResourceSample[]> {
  return allPages((offset, limit) => backend.listResourceSamples(workflowId, { ...filter, offset, limit }));
}

/** Each job's latest result (of `runId` when given), in job order. */
export function latestResults(results: readonly ResultModel[], runId: number | null = null): ResultModel[] {
  const latest = new Map<number, ResultModel>();
  for (const r of results) {
    if (runId !== null && r.run_id !== runId) continue;
    const seen = latest.get(r.job_id);
    if (!seen || r.id > seen.id) latest.set(r.job_id, r);
  }
  return [...latest.values()].sort((a, b) => a.job_id - b.job_id);
}

/** The declared resource class a requirements row belongs to (a job's own raised copy is `<name>@job<id>`). */
export function declaredClass(rr: Pick<ResourceRequirementsModel, 'name'> & { job_id?: number | null }): string {
  return rr.job_id != null ? rr.name.replace(/@job\d+$/, '') : rr.name;
}

/** torc's memory format: "512.0 MB", "1.50 GB" (1024-based). */
export function formatMemoryBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb < 1024 ? `${mb.toFixed(1)} MB` : `${(mb / 1024).toFixed(2)} GB`;
}

/** torc's duration format: "2h 5m 0s", "5m 3s", "12.5s". */
export function formatSeconds(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${seconds.toFixed(1)}s`;
}

/** The last `lines` lines of a text file (reading at most its last 64 KiB); [] when it cannot be read. */
export function tailLines(file: string, lines: number): string[] {
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    const text = buf.toString('utf8').replace(/\n$/, '');
    if (text === '') return [];
    return text.split('\n').slice(-lines);
  } catch {
    return [];
  }
}
