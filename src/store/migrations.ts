/**
 * Versioned schema migrations. Each entry moves the schema from version i to i + 1 and runs in
 * its own write transaction together with the bump of schema_version, so a crash never leaves
 * a half-migrated database. Append new migrations; never edit an applied one.
 */
import type { Database } from './db.js';

export const MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE workflows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    user TEXT,
    description TEXT,
    k8s_namespace TEXT,
    k8s_name TEXT,
    k8s_uid TEXT,
    spec_hash TEXT,
    run_id INTEGER NOT NULL DEFAULT 1,
    -- 'active' or 'canceled'; completion is derived from job states.
    status TEXT NOT NULL DEFAULT 'active',
    settings TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX workflows_k8s ON workflows(k8s_namespace, k8s_name);

  CREATE TABLE resource_requirements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    num_cpus INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL,
    num_gpus INTEGER NOT NULL,
    num_nodes INTEGER NOT NULL,
    runtime_seconds INTEGER NOT NULL
  );
  CREATE INDEX resource_requirements_workflow ON resource_requirements(workflow_id);

  CREATE TABLE slurm_schedulers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    account TEXT,
    partition TEXT,
    nodes INTEGER NOT NULL,
    walltime TEXT NOT NULL,
    mem TEXT,
    gres TEXT,
    qos TEXT,
    ntasks_per_node INTEGER,
    tmp TEXT,
    extra TEXT
  );
  CREATE INDEX slurm_schedulers_workflow ON slurm_schedulers(workflow_id);

  CREATE TABLE failure_handlers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    rules TEXT NOT NULL
  );
  CREATE INDEX failure_handlers_workflow ON failure_handlers(workflow_id);

  CREATE TABLE files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    -- Seconds since the epoch, recorded when a job produced the file.
    st_mtime REAL
  );
  CREATE INDEX files_workflow ON files(workflow_id);

  CREATE TABLE user_data (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    data TEXT,
    is_ephemeral INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX user_data_workflow ON user_data(workflow_id);

  -- A claim class groups the ready jobs that look identical to the allocator: same
  -- resource requirements and same scheduler. Claims read a bounded number of rows per class.
  CREATE TABLE claim_classes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    resource_requirements_id INTEGER NOT NULL REFERENCES resource_requirements(id) ON DELETE CASCADE,
    scheduler_id INTEGER REFERENCES slurm_schedulers(id) ON DELETE CASCADE
  );
  CREATE UNIQUE INDEX claim_classes_key ON claim_classes(workflow_id, resource_requirements_id, IFNULL(scheduler_id, 0));

  CREATE TABLE compute_nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    hostname TEXT NOT NULL,
    pid INTEGER NOT NULL,
    num_cpus INTEGER NOT NULL,
    memory_gb REAL NOT NULL,
    num_gpus INTEGER NOT NULL,
    num_nodes INTEGER NOT NULL,
    scheduler_config_id INTEGER,
    compute_node_type TEXT NOT NULL,
    lease_seconds REAL NOT NULL,
    -- Milliseconds since the epoch.
    last_heartbeat_ms INTEGER NOT NULL,
    lease_expires_ms INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
  );
  CREATE INDEX compute_nodes_workflow ON compute_nodes(workflow_id, id);
  CREATE INDEX compute_nodes_lease ON compute_nodes(active, lease_expires_ms);

  CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    command TEXT NOT NULL,
    invocation_script TEXT,
    status INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 1,
    resource_requirements_id INTEGER NOT NULL REFERENCES resource_requirements(id),
    scheduler_id INTEGER REFERENCES slurm_schedulers(id),
    failure_handler_id INTEGER REFERENCES failure_handlers(id),
    claim_class_id INTEGER NOT NULL REFERENCES claim_classes(id),
    cancel_on_blocking_job_failure INTEGER NOT NULL DEFAULT 0,
    supports_termination INTEGER NOT NULL DEFAULT 0,
    image TEXT,
    env TEXT,
    hash TEXT NOT NULL,
    -- Blockers not yet in a finished state; maintained on completion so that unblocking
    -- costs O(dependents). Meaningful for blocked jobs; recomputed on initialize.
    unfinished_blockers INTEGER NOT NULL DEFAULT 0,
    compute_node_id INTEGER REFERENCES compute_nodes(id) ON DELETE SET NULL,
    return_code INTEGER,
    claimed_at TEXT,
    started_at TEXT,
    completed_at TEXT
  );
  -- Claims by class in queue order; also serves counts by status.
  CREATE INDEX jobs_claim ON jobs(workflow_id, status, claim_class_id, id);
  -- Queue-depth claims and listing by status in queue order.
  CREATE INDEX jobs_status ON jobs(workflow_id, status, id);
  CREATE INDEX jobs_name ON jobs(workflow_id, name);
  CREATE INDEX jobs_compute_node ON jobs(compute_node_id) WHERE compute_node_id IS NOT NULL;

  CREATE TABLE job_dependencies (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    blocked_by_job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, blocked_by_job_id)
  ) WITHOUT ROWID;
  CREATE INDEX job_dependencies_blocker ON job_dependencies(blocked_by_job_id, job_id);

  CREATE TABLE job_input_files (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, file_id)
  ) WITHOUT ROWID;
  CREATE INDEX job_input_files_file ON job_input_files(file_id);
  CREATE TABLE job_output_files (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, file_id)
  ) WITHOUT ROWID;
  CREATE INDEX job_output_files_file ON job_output_files(file_id);
  CREATE TABLE job_input_user_data (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    user_data_id INTEGER NOT NULL REFERENCES user_data(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, user_data_id)
  ) WITHOUT ROWID;
  CREATE INDEX job_input_user_data_ud ON job_input_user_data(user_data_id);
  CREATE TABLE job_output_user_data (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    user_data_id INTEGER NOT NULL REFERENCES user_data(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, user_data_id)
  ) WITHOUT ROWID;
  CREATE INDEX job_output_user_data_ud ON job_output_user_data(user_data_id);

  CREATE TABLE results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    compute_node_id INTEGER REFERENCES compute_nodes(id) ON DELETE SET NULL,
    return_code INTEGER NOT NULL,
    exec_time_minutes REAL NOT NULL,
    completion_time TEXT NOT NULL,
    status INTEGER NOT NULL
  );
  CREATE INDEX results_workflow ON results(workflow_id, id);
  CREATE INDEX results_job ON results(job_id);

  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    timestamp TEXT NOT NULL,
    category TEXT NOT NULL,
    data TEXT
  );
  CREATE INDEX events_workflow ON events(workflow_id, id);

  CREATE TABLE actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    trigger_type TEXT NOT NULL,
    action_type TEXT NOT NULL,
    -- JSON arrays: job ids the trigger watches, commands to run.
    job_ids TEXT NOT NULL,
    commands TEXT NOT NULL,
    scheduler_id INTEGER REFERENCES slurm_schedulers(id),
    scheduler_type TEXT,
    num_allocations INTEGER NOT NULL,
    start_one_worker_per_node INTEGER NOT NULL,
    max_parallel_jobs INTEGER,
    persistent INTEGER NOT NULL,
    executed INTEGER NOT NULL DEFAULT 0,
    claimed_by_compute_node_id INTEGER
  );
  CREATE INDEX actions_workflow ON actions(workflow_id, id);
  `,
  // 2: Slurm allocations (issue 7). Each sbatch submission of a workflow is recorded with its
  // Slurm job id and last seen state; workers say which allocation they run in, so the jobs of
  // an allocation that ended can be sent back to ready at once instead of after the lease.
  `
  CREATE TABLE slurm_allocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    scheduler_config_id INTEGER NOT NULL REFERENCES slurm_schedulers(id) ON DELETE CASCADE,
    slurm_job_id TEXT NOT NULL,
    -- Slurm's state as last seen: SUBMITTED, PENDING, RUNNING, COMPLETED, CANCELLED, TIMEOUT, ...
    state TEXT NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX slurm_allocations_open ON slurm_allocations(workflow_id, ended, id);
  CREATE UNIQUE INDEX slurm_allocations_job ON slurm_allocations(workflow_id, slurm_job_id);

  -- The batch system's job id of the allocation a runner runs in (SLURM_JOB_ID), or NULL.
  ALTER TABLE compute_nodes ADD COLUMN scheduler_job_id TEXT;
  CREATE INDEX compute_nodes_scheduler_job ON compute_nodes(workflow_id, scheduler_job_id) WHERE scheduler_job_id IS NOT NULL;
  `,
  // 3: failure policy, reinitialize and actions (issue 6).
  `
  -- A job's own requirements, raised by a failure rule's memory/runtime multiplier; NULL for
  -- the workflow's declared entries.
  ALTER TABLE resource_requirements ADD COLUMN job_id INTEGER;
  -- Hash of what a completed job read besides files (command, invocation script, env, input
  -- user data), taken when it completed; reinitialize re-runs the job when it differs.
  ALTER TABLE jobs ADD COLUMN input_hash TEXT;
  -- The run in which the action's trigger fired (NULL: not in the current run), and its claim.
  ALTER TABLE actions ADD COLUMN triggered_run_id INTEGER;
  ALTER TABLE actions ADD COLUMN triggered_at TEXT;
  ALTER TABLE actions ADD COLUMN executed_at TEXT;
  ALTER TABLE actions ADD COLUMN executed_by TEXT;
  -- Every claim of an action, per run: one per run for an action, one per claimer and run
  -- for a persistent one.
  CREATE TABLE action_claims (
    action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL,
    claimer TEXT NOT NULL,
    compute_node_id INTEGER,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (action_id, run_id, claimer)
  ) WITHOUT ROWID;
  `,
  // 4: the web dashboard (issue 16).
  `
  -- Where the runner writes its jobs' stdout/stderr (<output_dir>/job_stdio/job_<id>_<attempt>.o|e),
  -- as it registered; the dashboard serves an attempt's files only from the node that ran it.
  ALTER TABLE compute_nodes ADD COLUMN output_dir TEXT;
  -- A user asked to cancel a running job: the runner running that attempt (of that run) terminates
  -- it (it sees the request in the workflow's status) and reports it terminated.
  CREATE TABLE job_cancel_requests (
    job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    requested_at TEXT NOT NULL
  );
  CREATE INDEX job_cancel_requests_workflow ON job_cancel_requests(workflow_id);
  `,
  // 5: resource monitoring and failure diagnosis (issue 22).
  `
  -- torc's ResultModel resource summary of the attempt (NULL: not monitored).
  ALTER TABLE results ADD COLUMN peak_memory_bytes INTEGER;
  ALTER TABLE results ADD COLUMN avg_memory_bytes INTEGER;
  ALTER TABLE results ADD COLUMN peak_cpu_percent REAL;
  ALTER TABLE results ADD COLUMN avg_cpu_percent REAL;
  -- Why an unsuccessful attempt failed: likely_oom, likely_timeout or unknown, and the evidence.
  ALTER TABLE results ADD COLUMN failure_diagnosis TEXT;
  ALTER TABLE results ADD COLUMN diagnosis_reason TEXT;
  -- Where the attempt's stdout and stderr went, as its runner wrote them.
  ALTER TABLE results ADD COLUMN job_stdout TEXT;
  ALTER TABLE results ADD COLUMN job_stderr TEXT;
  -- torc's job_resource_samples (time_series granularity), per run and attempt. At most
  -- MAX_SAMPLES_PER_ATTEMPT rows per attempt (older ones are merged pairwise), samples of runs
  -- before the last KEEP_SAMPLE_RUNS are dropped when the workflow is reset (samples.ts).
  CREATE TABLE job_resource_samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL,
    attempt_id INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    cpu_percent REAL NOT NULL,
    memory_bytes INTEGER NOT NULL,
    num_processes INTEGER NOT NULL
  );
  CREATE INDEX job_resource_samples_attempt ON job_resource_samples(workflow_id, job_id, run_id, attempt_id, timestamp);
  `,
  // 6: the rest of torc's records (issue 15): local schedulers, remote workers, access groups.
  `
  CREATE TABLE local_schedulers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    memory TEXT,
    num_cpus INTEGER
  );
  CREATE INDEX local_schedulers_workflow ON local_schedulers(workflow_id);

  -- Hosts (user@host:port) that run workers of a workflow (torc's remote workers).
  CREATE TABLE remote_workers (
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    worker TEXT NOT NULL,
    PRIMARY KEY (workflow_id, worker)
  ) WITHOUT ROWID;

  -- torc's access groups: stored and listed; not enforced (see README).
  CREATE TABLE access_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at TEXT NOT NULL
  );
  CREATE TABLE user_group_memberships (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name TEXT NOT NULL,
    group_id INTEGER NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'member',
    created_at TEXT NOT NULL,
    UNIQUE (user_name, group_id)
  );
  CREATE TABLE workflow_access_groups (
    workflow_id INTEGER NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (workflow_id, group_id)
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database to SCHEMA_VERSION; refuses a database written by a newer version. */
export async function migrate(db: Database): Promise<void> {
  await db.withWriteTransaction((tx) => tx.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)'));
  for (;;) {
    const done = await db.withWriteTransaction(async (tx) => {
      const row = await tx.get<{ version: number }>('SELECT version FROM schema_version LIMIT 1');
      const version = row?.version ?? 0;
      if (version > MIGRATIONS.length) {
        throw new Error(`database schema version ${version} is newer than this program supports (${MIGRATIONS.length})`);
      }
      if (version === MIGRATIONS.length) return true;
      await tx.exec(MIGRATIONS[version]!);
      if (row) await tx.run('UPDATE schema_version SET version = ?', [version + 1]);
      else await tx.run('INSERT INTO schema_version (version) VALUES (?)', [version + 1]);
      return false;
    });
    if (done) return;
  }
}
