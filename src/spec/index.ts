/**
 * The spec pipeline's entry points: load (parse + schema + static checks) → plan (expand +
 * resolve + dependency checks). Everything else in src/spec is an implementation detail.
 */
import type { Plan } from './plan.js';
import { loadWorkflowFile, type LoadOptions, type WorkflowDocument } from './load.js';
import { planWorkflow, type PlanOptions } from './planner.js';
import { planWorkflowStreamed, type StreamedPlan } from './stream-plan.js';
import { InputError } from '../errors.js';
import { withPositions } from './positions.js';
import { isAbsolute, resolve } from 'node:path';

export type { Plan } from './plan.js';
export type * from './plan.js';
export type { Workflow, WorkflowSpec, JobSpec } from './generated/workflow.js';
export { loadWorkflowDocuments, loadWorkflowFile, loadWorkflowText, toResourceName } from './load.js';
export type { LoadOptions, WorkflowDocument, WorkflowMetadata } from './load.js';
export { formatOfPath, formatOfMediaType, formatName, SPEC_FORMATS, SPEC_MEDIA_TYPES, FORMAT_EXTENSION } from './formats.js';
export type { SpecFormat, FormatChoice } from './formats.js';
export { planWorkflow, DEFAULT_MAX_JOBS, DEFAULT_MAX_DEPENDENCIES } from './planner.js';
export { DEFAULT_NEED } from './plan.js';
export type { PlanOptions } from './planner.js';
export { planWorkflowStreamed } from './stream-plan.js';
export type { StreamedPlan } from './stream-plan.js';
export { summarizePlan } from './summary.js';
export type { PlanSummary } from './summary.js';
export { API_VERSION, KIND, CRD_PATH } from './schema.js';
export { resolveResourceMonitor, DEFAULT_RESOURCE_MONITOR } from './resource-monitor.js';
export { workingDirectory } from './working-dir.js';
export type { ResourceMonitorConfig, MonitorGranularity } from './resource-monitor.js';
export { parseMemory, formatMemory, parseDuration, formatDuration, parseSlurmWalltime, formatSlurmWalltime } from './units.js';

/**
 * Plans one document; issue paths carry the document's prefix in multi-document files, and
 * the line and column in the source where the document can locate them.
 */
export function planDocument(doc: WorkflowDocument, options: PlanOptions = {}): Plan {
  try {
    const plan = planWorkflow(doc.spec, { pathPrefix: doc.pathPrefix, ...options });
    // A relative working_dir is a directory beside the spec file (text: left for the runner to resolve).
    const wd = plan.settings.working_dir;
    if (wd && doc.dir && !isAbsolute(wd)) plan.settings.working_dir = resolve(doc.dir, wd);
    return plan;
  } catch (err) {
    if (err instanceof InputError && doc.locate) throw new InputError(withPositions(err.issues, doc.locate, doc.form, doc.pathPrefix));
    throw err;
  }
}

/**
 * Loads a file that holds exactly one Workflow and plans it. For files with several documents
 * use loadWorkflowDocuments + planDocument.
 */
export function loadPlanFromFile(path: string, options: LoadOptions & PlanOptions = {}): Plan {
  const docs = loadWorkflowFile(path, options);
  if (docs.length !== 1) {
    throw new InputError(`expected one Workflow in ${path}, found ${docs.length}; plan the documents one by one`, path);
  }
  return planDocument(docs[0]!, options);
}

/**
 * planDocument for very large workflows: the streamed plan (jobs generated when stored, see
 * stream-plan.ts) when the spec is of the shape it covers and error-free, else null.
 */
export function planDocumentStreamed(doc: WorkflowDocument, options: PlanOptions = {}): StreamedPlan | null {
  return planWorkflowStreamed(doc.spec, { pathPrefix: doc.pathPrefix, ...options });
}
