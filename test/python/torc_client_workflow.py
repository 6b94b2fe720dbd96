"""Drives a whole workflow through torc v0.10.0's own generated Python client against a torc-ts
server, built piece by piece as a torc user would: the workflow, resource requirements, files,
user data, a failure handler and jobs (bulk_jobs), initialize, both claims, start, complete (one
job through manage_status_change), runtime user data, a retry, events and results. Every call
goes through one counter: a call that raises, or an answer the client cannot read, is a failure.
Checks of the answers' values are listed by name. Prints one JSON summary on stdout.

usage: torc_client_workflow.py URL SHARED_TORC_DIR WORK_DIR
"""

import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(__file__))
import torc_import  # noqa: E402

URL, SHARED, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
torc_import.install(SHARED)

import pydantic  # noqa: E402
from torc.openapi_client import (  # noqa: E402
    ApiClient,
    ComputeNodeModel,
    ComputeNodesResources,
    Configuration,
    DefaultApi,
    EventModel,
    FailureHandlerModel,
    FileModel,
    JobModel,
    JobsModel,
    JobStatus,
    LocalSchedulerModel,
    ResourceRequirementsModel,
    ResultModel,
    SlurmSchedulerModel,
    UserDataModel,
    WorkflowActionModel,
    WorkflowModel,
)
from torc.openapi_client.rest import ApiException  # noqa: E402

summary = {"calls": 0, "failed_calls": [], "deserialization_errors": [], "expected_errors": [], "checks": [], "failed_checks": []}


class Counted:
    """Every DefaultApi call is counted; exceptions are recorded as failures (or expected errors)."""

    def __init__(self, api):
        self._api = api

    def __getattr__(self, name):
        fn = getattr(self._api, name)

        def call(*args, expect_status=None, **kwargs):
            summary["calls"] += 1
            try:
                result = fn(*args, **kwargs)
            except ApiException as e:
                if expect_status is not None and e.status == expect_status:
                    summary["expected_errors"].append(f"{name}: {e.status}")
                    return e
                summary["failed_calls"].append(f"{name}: HTTP {e.status}: {(e.body or '')[:300]}")
                raise
            except (pydantic.ValidationError, ValueError, TypeError) as e:
                summary["deserialization_errors"].append(f"{name}: {type(e).__name__}: {str(e)[:400]}")
                raise
            if expect_status is not None:
                summary["failed_calls"].append(f"{name}: succeeded, expected HTTP {expect_status}")
            return result

        return call


def check(name, ok, detail=""):
    summary["checks"].append(name)
    if not ok:
        summary["failed_checks"].append(f"{name}: {detail}")


def now_ms():
    return int(time.time() * 1000)


def result_for(job, workflow_id, run_id, node_id, status, return_code):
    return ResultModel(
        job_id=job.id,
        workflow_id=workflow_id,
        run_id=run_id,
        attempt_id=job.attempt_id,
        compute_node_id=node_id,
        return_code=return_code,
        exec_time_minutes=0.01,
        completion_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        status=status,
    )


def main():
    config = Configuration()
    config.host = URL
    api = Counted(DefaultApi(ApiClient(config)))

    api.ping()
    api.get_version()

    # ---- the workflow, piece by piece ---------------------------------------------------------
    wf = api.create_workflow(WorkflowModel(name="python_client_workflow", user="tester", description="built by torc's Python client"))
    check("workflow has an id and the user", wf.id is not None and wf.user == "tester")
    wid = wf.id
    small = api.create_resource_requirements(ResourceRequirementsModel(workflow_id=wid, name="small", num_cpus=1, memory="1g", runtime="P0DT1H"))
    medium = api.create_resource_requirements(ResourceRequirementsModel(workflow_id=wid, name="medium", num_cpus=2, memory="2g", runtime="P0DT2H"))
    check("requirements keep torc's memory form", small.memory == "1g" and medium.num_cpus == 2, f"{small.memory} {medium.num_cpus}")
    api.create_slurm_scheduler(SlurmSchedulerModel(workflow_id=wid, name="short", account="acct", nodes=1, walltime="04:00:00"))
    api.create_local_scheduler(LocalSchedulerModel(workflow_id=wid, name="default", num_cpus=4, memory="8g"))

    inputs_path = os.path.join(WORK, "inputs.json")
    with open(inputs_path, "w") as f:
        json.dump({"val": 5}, f)
    inputs = api.create_file(FileModel(workflow_id=wid, name="inputs", path=inputs_path))
    f1 = api.create_file(FileModel(workflow_id=wid, name="f1", path=os.path.join(WORK, "f1.json")))
    f2 = api.create_file(FileModel(workflow_id=wid, name="f2", path=os.path.join(WORK, "f2.json")))
    config_ud = api.create_user_data(UserDataModel(workflow_id=wid, name="config", data={"scale": 3}))
    result_ud = api.create_user_data(UserDataModel(workflow_id=wid, name="result", data={}))
    handler = api.create_failure_handler(
        FailureHandlerModel(workflow_id=wid, name="retry_any", rules=json.dumps([{"match_all_exit_codes": True, "max_retries": 3}]))
    )

    specs = [
        JobModel(workflow_id=wid, name="preprocess", command="python preprocess.py", resource_requirements_id=small.id,
                 input_file_ids=[inputs.id], output_file_ids=[f1.id], input_user_data_ids=[config_ud.id]),
        JobModel(workflow_id=wid, name="work", command="python work.py", resource_requirements_id=medium.id,
                 input_file_ids=[f1.id], output_file_ids=[f2.id], output_user_data_ids=[result_ud.id]),
        JobModel(workflow_id=wid, name="report", command="python report.py", input_user_data_ids=[result_ud.id]),
        JobModel(workflow_id=wid, name="flaky", command="python flaky.py", resource_requirements_id=small.id, failure_handler_id=handler.id),
        JobModel(workflow_id=wid, name="after_flaky", command="echo done", depends_on_job_ids=[]),
    ]
    created = api.create_jobs(JobsModel(jobs=specs)).jobs
    jobs = {j.name: j for j in created}
    check("bulk_jobs returns every job, uninitialized", len(created) == 5 and all(j.status == JobStatus.UNINITIALIZED for j in created),
          [j.status for j in created])
    check("a job without requirements gets the workflow's default", jobs["report"].resource_requirements_id is not None)
    # One more job, alone, waiting explicitly for two others.
    single = api.create_job(JobModel(workflow_id=wid, name="summary", command="echo summary",
                                     depends_on_job_ids=[jobs["report"].id, jobs["after_flaky"].id]))
    jobs["summary"] = single
    check("create_job keeps torc's default cancel_on_blocking_job_failure", single.cancel_on_blocking_job_failure is True)
    updated = api.update_job(jobs["after_flaky"].id, JobModel(workflow_id=wid, name="after_flaky", command="echo done",
                                                              depends_on_job_ids=[jobs["flaky"].id]))
    check("update_job sets depends_on_job_ids while uninitialized", updated.depends_on_job_ids == [jobs["flaky"].id], updated.depends_on_job_ids)

    listed = api.list_jobs(wid, include_relationships=True)
    by_name = {j.name: j for j in listed.items}
    check("list_jobs pages as torc", listed.total_count == 6 and listed.count == 6 and listed.has_more is False)
    check("id lists: files and user data", by_name["preprocess"].input_file_ids == [inputs.id] and by_name["preprocess"].output_file_ids == [f1.id]
          and by_name["work"].output_user_data_ids == [result_ud.id], by_name["preprocess"])
    got = api.get_job(jobs["summary"].id)
    check("get_job lists explicit dependencies", sorted(got.depends_on_job_ids or []) == sorted([jobs["report"].id, jobs["after_flaky"].id]))

    required = api.list_required_existing_files(wid)
    check("required existing files: the input nobody writes", required.files == [str(inputs.id)], required.files)
    check("no user data missing", api.list_missing_user_data(wid).user_data == [])
    check("uninitialized before initialize", api.is_workflow_uninitialized(wid).is_uninitialized is True)
    check("job ids", sorted(api.list_job_ids(wid).job_ids) == sorted(j.id for j in jobs.values()))

    # ---- initialize: files and user data make producers run first -----------------------------
    api.initialize_jobs(wid)
    states = {j.name: j.status for j in api.list_jobs(wid).items}
    check("initialize: ready and blocked by what each reads", states == {
        "preprocess": JobStatus.READY, "work": JobStatus.BLOCKED, "report": JobStatus.BLOCKED,
        "flaky": JobStatus.READY, "after_flaky": JobStatus.BLOCKED, "summary": JobStatus.BLOCKED}, states)
    deps = api.list_job_dependencies(wid)
    check("dependencies from files and user data", {(d.job_name, d.depends_on_job_name) for d in deps.items} >= {
        ("work", "preprocess"), ("report", "work"), ("after_flaky", "flaky")}, [(d.job_name, d.depends_on_job_name) for d in deps.items])
    rels = api.list_job_file_relationships(wid)
    check("file relationships", any(r.file_name == "f1" and r.producer_job_name == "preprocess" and r.consumer_job_name == "work" for r in rels.items))
    ud_rels = api.list_job_user_data_relationships(wid)
    check("user data relationships", any(r.user_data_name == "result" and r.producer_job_name == "work" for r in ud_rels.items))
    ready_req = api.get_ready_job_requirements(wid)
    check("ready job requirements", ready_req.num_jobs == 2 and ready_req.num_cpus == 2, ready_req)

    status = api.get_workflow_status(wid)
    run_id = status.run_id
    node = api.create_compute_node(ComputeNodeModel(workflow_id=wid, hostname="pyhost", pid=os.getpid(), start_time=time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                    num_cpus=4, memory_gb=8.0, num_gpus=0, num_nodes=1, compute_node_type="local", is_active=True))

    # ---- claim by resources, start, complete --------------------------------------------------
    claim = api.claim_jobs_based_on_resources(wid, 10, ComputeNodesResources(num_cpus=4, memory_gb=8.0, num_gpus=0, num_nodes=1))
    claimed = {j.name: j for j in claim.jobs}
    check("claim by resources: the two ready jobs, now pending", set(claimed) == {"preprocess", "flaky"}
          and all(j.status == JobStatus.PENDING for j in claim.jobs), [(j.name, j.status) for j in claim.jobs])
    pre = api.start_job(claimed["preprocess"].id, run_id, node.id)
    check("start_job: running", pre.status == JobStatus.RUNNING)
    with open(f1.path, "w") as f:
        json.dump({"val": 15}, f)
    done = api.complete_job(pre.id, JobStatus.COMPLETED, run_id, result_for(pre, wid, run_id, node.id, JobStatus.COMPLETED, 0))
    check("complete_job: completed", done.status == JobStatus.COMPLETED)

    # flaky fails; torc's runner retries it with no body
    fl = api.start_job(claimed["flaky"].id, run_id, node.id)
    retried = api.retry_job(fl.id, run_id)
    check("retry_job: ready again with attempt_id 2", retried.status == JobStatus.READY and retried.attempt_id == 2, retried)

    # ---- claim_next_jobs (queue depth): work and flaky's second attempt --------------------------
    nxt = api.claim_next_jobs(wid, limit=10)
    nxt_names = sorted(j.name for j in nxt.jobs)
    check("claim_next_jobs: the job unblocked by preprocess and the retried one", nxt_names == ["flaky", "work"], nxt_names)
    nx = {j.name: j for j in nxt.jobs}
    work = api.start_job(nx["work"].id, run_id, node.id)
    # Runtime user data: the running job writes its output; the consumer runs once it completes.
    api.update_user_data(result_ud.id, UserDataModel(workflow_id=wid, name="result", data={"total": 45}))
    check("the consumer waits while the producer runs", api.get_job(jobs["report"].id).status == JobStatus.BLOCKED)
    api.complete_job(work.id, JobStatus.COMPLETED, run_id, result_for(work, wid, run_id, node.id, JobStatus.COMPLETED, 0))
    check("the consumer of the user data is ready", api.get_job(jobs["report"].id).status == JobStatus.READY)
    check("the consumer reads what the job wrote", api.get_user_data(result_ud.id).data == {"total": 45})

    fl2 = api.start_job(nx["flaky"].id, run_id, node.id)
    check("second attempt carries attempt_id 2", fl2.attempt_id == 2)
    api.complete_job(fl2.id, JobStatus.COMPLETED, run_id, result_for(fl2, wid, run_id, node.id, JobStatus.COMPLETED, 0))

    # ---- the rest: one job moved to running with manage_status_change, as torc's tests do -------
    for _ in range(3):
        batch = api.claim_next_jobs(wid, limit=10).jobs
        if not batch:
            break
        for j in batch:
            if j.name == "report":
                running = api.manage_status_change(j.id, JobStatus.RUNNING, run_id)
                check("manage_status_change: running", running.status == JobStatus.RUNNING)
            else:
                running = api.start_job(j.id, run_id, node.id)
            api.complete_job(j.id, JobStatus.COMPLETED, run_id, result_for(running, wid, run_id, node.id, JobStatus.COMPLETED, 0))

    complete = api.is_workflow_complete(wid)
    check("is_workflow_complete", complete.is_complete is True and complete.is_canceled is False, complete)
    final = {j.name: (j.status, j.attempt_id) for j in api.list_jobs(wid).items}
    check("every job completed; flaky on its second attempt", all(s == JobStatus.COMPLETED for s, _ in final.values()) and final["flaky"][1] == 2, final)

    # ---- results and events -------------------------------------------------------------------
    latest = api.list_results(wid)
    check("results: one per job (torc's default: the latest of each)", len(latest.items) == 6
          and all(r.status == JobStatus.COMPLETED for r in latest.items), [(r.job_id, r.status) for r in latest.items])
    flaky_results = api.list_results(wid, job_id=jobs["flaky"].id, all_runs=True)
    check("the retried attempt's result carries attempt_id 2", [r.attempt_id for r in flaky_results.items] == [2], [r.attempt_id for r in flaky_results.items])
    ev = api.create_event(EventModel(workflow_id=wid, timestamp=now_ms(), data={"category": "note", "message": "from python"}))
    check("create_event", ev.id is not None and isinstance(ev.timestamp, int))
    events = api.list_events(wid)
    check("events: epoch-ms timestamps, object data", events.total_count >= 2 and all(isinstance(e.timestamp, int) and isinstance(e.data, dict) for e in events.items))
    retry_events = [e.data for e in events.items if e.data.get("category") == "job_retried"]
    check("the retry is an event torc's client can read", len(retry_events) == 1 and retry_events[0].get("attempt") == 2, retry_events)
    check("get_event", api.get_event(ev.id).data["message"] == "from python")

    # ---- more of the API a torc user touches ------------------------------------------------
    action = api.create_workflow_action(wid, WorkflowActionModel(workflow_id=wid, trigger_type="on_workflow_complete", action_type="run_commands",
                                                                 action_config={"commands": ["echo finished"]}))
    check("create_workflow_action", action.id is not None and action.action_config["commands"] == ["echo finished"])
    check("get_workflow_actions", len(api.get_workflow_actions(wid)) == 1)
    api.get_pending_actions(wid, trigger_type=["on_workflow_complete", "on_workflow_start"])
    renamed = api.update_workflow(wid, WorkflowModel(name="python_client_workflow", user="tester", description="updated"))
    check("update_workflow", renamed.description == "updated" and api.get_workflow(wid).description == "updated")
    check("list_workflows", any(w.id == wid for w in api.list_workflows().items))
    check("list_files", api.list_files(wid).total_count == 3)
    check("list_user_data", api.list_user_data(wid, producer_job_id=jobs["work"].id).items[0].name == "result")
    check("list_resource_requirements", {r.name for r in api.list_resource_requirements(wid).items} >= {"small", "medium", "default"})
    check("list_failure_handlers", api.list_failure_handlers(wid).items[0].name == "retry_any")
    check("get_failure_handler keeps torc's rules string", json.loads(api.get_failure_handler(handler.id).rules)[0]["max_retries"] == 3)
    check("list_compute_nodes", api.list_compute_nodes(wid).items[0].hostname == "pyhost")
    api.update_compute_node(node.id, ComputeNodeModel(workflow_id=wid, hostname="pyhost", pid=os.getpid(), start_time=node.start_time, num_cpus=4,
                                                      memory_gb=8.0, num_gpus=0, num_nodes=1, compute_node_type="local", is_active=False, duration_seconds=1.0))
    check("update_compute_node: is_active false", api.get_compute_node(node.id).is_active is False)
    check("list_slurm_schedulers", api.list_slurm_schedulers(wid).items[0].walltime == "04:00:00")
    check("list_local_schedulers", api.list_local_schedulers(wid).items[0].num_cpus == 4)
    check("list_scheduled_compute_nodes", api.list_scheduled_compute_nodes(wid).total_count == 0)
    api.get_workflow_status(wid)

    # ---- errors are errors, not garbage -------------------------------------------------------
    missing = api.get_job(987654321, expect_status=404)
    check("a missing job is a 404 the client raises", isinstance(missing, ApiException))
    over = api.retry_job(jobs["flaky"].id, run_id, expect_status=409)
    check("retrying a completed job is refused", isinstance(over, ApiException))
    bad = api.manage_status_change(jobs["flaky"].id, JobStatus.COMPLETED, run_id, expect_status=422)
    check("manage_status_change refuses completion statuses (complete_job's)", isinstance(bad, ApiException))

    summary["workflow_id"] = wid


try:
    main()
except Exception:  # noqa: BLE001 - reported in the summary, which the test reads
    summary["aborted"] = traceback.format_exc()[-3000:]
print(json.dumps(summary))
