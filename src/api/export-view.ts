/**
 * A stored workflow → torc's export document (`torc workflows export`, format 1.0): the
 * workflow and all its records in torc's model shapes, ids included, job relations as id lists,
 * optionally results and events. Served by GET /workflows/{id}/export and built from the store
 * directly by `--db`; `torc workflows import` (and torc's own) reads it back.
 */
import { formatDuration, formatMemory } from '../spec/units.js';
import { waitForHealthyDatabaseMinutes } from '../spec/plan.js';
import type { TorcExport } from '../spec/torc-export.js';
import { TORC_EXPORT_VERSION } from '../spec/torc-export.js';
import type { Store } from '../store/index.js';
import { readJobRelations } from '../store/export.js';
import { eventView, omitNulls, resultView } from './views.js';

export interface ExportOptions {
  results?: boolean;
  events?: boolean;
}

/** Drops null fields: torc's models leave absent what is not set. */
const compact = omitNulls;

export async function buildTorcExport(store: Store, workflowId: number, options: ExportOptions = {}, now = new Date()): Promise<TorcExport> {
  const w = await store.getWorkflow(workflowId);
  const [files, userData, rr, schedulers, handlers, actions, relations] = await Promise.all([
    store.listFiles(workflowId),
    store.listUserData(workflowId),
    store.listResourceRequirements(workflowId),
    store.listSlurmSchedulers(workflowId),
    store.listFailureHandlers(workflowId),
    store.listActions(workflowId),
    readJobRelations(store.db, workflowId),
  ]);
  const jobs = await allOf((offset, limit) => store.listJobs(workflowId, { offset, limit }));
  const s = w.settings;
  const doc: TorcExport = {
    export_version: TORC_EXPORT_VERSION,
    exported_at: now.toISOString(),
    workflow: compact({
      id: w.id,
      name: w.name,
      user: w.user ?? '',
      description: w.description,
      timestamp: w.created_at,
      compute_node_expiration_buffer_seconds: s.compute_node_expiration_buffer_seconds,
      compute_node_wait_for_new_jobs_seconds: s.compute_node_wait_for_new_jobs_seconds,
      compute_node_ignore_workflow_completion: s.compute_node_ignore_workflow_completion,
      compute_node_wait_for_healthy_database_minutes: waitForHealthyDatabaseMinutes(s),
      jobs_sort_method: s.jobs_sort_method,
      resource_monitor_config: s.resource_monitor === null || s.resource_monitor === undefined ? null : JSON.stringify(s.resource_monitor),
      use_pending_failed: s.use_pending_failed,
      // torc-ts additions: a cron schedule and the Kubernetes default image.
      schedule: s.schedule,
      default_image: s.default_image,
    }),
    files: files.map((f) => compact({ ...f })),
    user_data: userData.map((u) => ({ id: u.id, workflow_id: u.workflow_id, name: u.name, data: u.data, is_ephemeral: u.is_ephemeral })),
    resource_requirements: rr.map((r) =>
      ({ id: r.id, workflow_id: r.workflow_id, name: r.name, num_cpus: r.num_cpus, num_gpus: r.num_gpus, num_nodes: r.num_nodes, memory: formatMemory(r.memory_bytes), runtime: formatDuration(r.runtime_seconds) }),
    ),
    slurm_schedulers: schedulers.map((x) => compact({ ...x })),
    local_schedulers: [],
    failure_handlers: handlers.map((h) => ({ id: h.id, workflow_id: h.workflow_id, name: h.name, rules: JSON.stringify(h.rules) })),
    jobs: jobs.map((j) =>
      compact({
        id: j.id,
        workflow_id: j.workflow_id,
        name: j.name,
        command: j.command,
        invocation_script: j.invocation_script,
        status: j.status,
        cancel_on_blocking_job_failure: j.cancel_on_blocking_job_failure,
        supports_termination: j.supports_termination,
        depends_on_job_ids: relations.depends_on.get(j.id) ?? [],
        input_file_ids: relations.input_files.get(j.id) ?? [],
        output_file_ids: relations.output_files.get(j.id) ?? [],
        input_user_data_ids: relations.input_user_data.get(j.id) ?? [],
        output_user_data_ids: relations.output_user_data.get(j.id) ?? [],
        resource_requirements_id: j.resource_requirements_id,
        scheduler_id: j.scheduler_id,
        failure_handler_id: j.failure_handler_id,
        attempt_id: j.attempt_id,
        image: j.image,
        env: j.env,
      }),
    ),
    workflow_actions: actions.map((a) => ({
      id: a.id,
      workflow_id: a.workflow_id,
      trigger_type: a.trigger_type,
      action_type: a.action_type,
      action_config: compact({
        commands: a.action_type === 'run_commands' ? a.commands : null,
        scheduler_id: a.scheduler_id,
        scheduler_type: a.scheduler_type,
        num_allocations: a.action_type === 'schedule_nodes' ? a.num_allocations : null,
        start_one_worker_per_node: a.action_type === 'schedule_nodes' ? a.start_one_worker_per_node : null,
        max_parallel_jobs: a.max_parallel_jobs,
      }),
      job_ids: a.job_ids,
      executed: a.executed,
      persistent: a.persistent,
    })),
  };
  if (options.results) {
    const results = await allOf((offset, limit) => store.listResults(workflowId, { offset, limit }));
    doc.results = results.map(resultView);
  }
  if (options.events) {
    const events = await allOf((offset, limit) => store.listEvents(workflowId, { offset, limit }));
    // torc's events carry everything in data (eventView puts the category there too).
    doc.events = events.map((e) => {
      const { category: _category, ...view } = eventView(e);
      return view;
    });
  }
  return doc;
}

async function allOf<T>(page: (offset: number, limit: number) => Promise<{ items: T[]; total: number }>): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; ) {
    const p = await page(offset, 10_000);
    out.push(...p.items);
    offset += p.items.length;
    if (p.items.length === 0 || offset >= p.total) return out;
  }
}
