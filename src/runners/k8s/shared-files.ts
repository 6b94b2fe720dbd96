/**
 * Jobs that exchange files need storage every pod sees. On one machine or a shared HPC file
 * system a file one job writes (${files.output.X}) is there for the job that reads it
 * (${files.input.X}); pods on Kubernetes share nothing unless the operator mounts a shared
 * volume (`torc operator --work-pvc CLAIM`). Without one, such a workflow is refused up front
 * (a condition and an event say why) instead of running jobs that fail on a missing file.
 */
import type { Plan } from '../../spec/index.js';

export interface FileExchange {
  file: string;
  path: string;
  writer: string;
  reader: string;
}

/** Every (file, writer, reader) where one job reads a file another job writes. */
export function fileExchanges(plan: Plan): FileExchange[] {
  const writers = new Map<number, number[]>();
  plan.jobs.forEach((job, j) => {
    for (const f of job.output_files) writers.set(f, [...(writers.get(f) ?? []), j]);
  });
  const out: FileExchange[] = [];
  plan.jobs.forEach((job, j) => {
    for (const f of job.input_files) {
      for (const w of writers.get(f) ?? []) {
        if (w !== j) out.push({ file: plan.files[f]!.name, path: plan.files[f]!.path, writer: plan.jobs[w]!.name, reader: job.name });
      }
    }
  });
  return out;
}

/** Why a workflow cannot run without shared storage, or null when its jobs exchange no files. */
export function sharedStorageRefusal(plan: Plan, namespace: string): string | null {
  const exchanges = fileExchanges(plan);
  if (exchanges.length === 0) return null;
  const shown = exchanges.slice(0, 3).map((e) => `${e.reader} reads ${e.file} (${e.path}) written by ${e.writer}`);
  const more = exchanges.length > shown.length ? ` (and ${exchanges.length - shown.length} more)` : '';
  return `jobs exchange files but job pods share no storage: ${shown.join('; ')}${more}. `
    + `Run the operator with --work-pvc CLAIM (a ReadWriteMany PersistentVolumeClaim in namespace ${namespace}, e.g. deploy/jobs/work-pvc.yaml) `
    + 'so that every job pod works in that shared directory';
}
