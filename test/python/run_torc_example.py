"""Runs one of torc's own example API scripts (../shared/torc/examples/python) unchanged against a
torc-ts server. The scripts import helpers from torc's Python package (`from torc import
make_api, create_jobs, map_function_to_jobs, setup_logging`), which the reference material does
not ship (only its generated client); this launcher provides them, written here from what torc's
documentation says they do, plus a minimal `loguru` when that package is not installed. Then the
script runs as `__main__` with TORC_API_URL set.

usage: run_torc_example.py SHARED_TORC_DIR SCRIPT
"""

import importlib
import json
import os
import runpy
import sys
import types

sys.path.insert(0, os.path.dirname(__file__))
import torc_import  # noqa: E402

SHARED, SCRIPT = sys.argv[1], sys.argv[2]
torc_import.install(SHARED)

from torc.openapi_client import ApiClient, Configuration, DefaultApi, JobModel, JobsModel, UserDataModel  # noqa: E402

try:
    import loguru  # noqa: F401
except ImportError:
    class _Logger:
        def _log(self, level, msg, *args, **kwargs):
            sys.stderr.write(f"{level} {msg.format(*args, **kwargs) if args or kwargs else msg}\n")

        def __getattr__(self, level):
            return lambda msg, *args, **kwargs: self._log(level.upper(), msg, *args, **kwargs)

    loguru_stub = types.ModuleType("loguru")
    loguru_stub.logger = _Logger()
    sys.modules["loguru"] = loguru_stub


def make_api(url):
    config = Configuration()
    config.host = url
    return DefaultApi(ApiClient(config))


def setup_logging(*_args, **_kwargs):
    return None


def create_jobs(api, *args, max_transfer_size=10_000):
    """Creates jobs through bulk_jobs in batches. Takes (api, jobs) or, as the diamond example
    calls it, (api, workflow_id, jobs)."""
    jobs = list(args[-1])
    created = []
    for i in range(0, len(jobs), max_transfer_size):
        created += api.create_jobs(JobsModel(jobs=jobs[i:i + max_transfer_size])).jobs
    return created


def map_function_to_jobs(api, workflow_id, module, func, params, postprocess_func=None, module_directory=None,
                         resource_requirements_id=None, scheduler_id=None, start_index=1, name_prefix="", depends_on_job_ids=None):
    """One job per parameter set, each reading its parameters from an input user data record
    and writing an output one; optionally a postprocess job that reads every output."""
    if module_directory:
        sys.path.insert(0, module_directory)
    mod = importlib.import_module(module)
    for name in [func] + ([postprocess_func] if postprocess_func else []):
        if not callable(getattr(mod, name, None)):
            raise ValueError(f"{module}.{name} is not a function")
    jobs, outputs = [], []
    for i, job_params in enumerate(params, start=start_index):
        job_name = f"{name_prefix}{i}"
        data = {"module": module, "func": func, "params": job_params, "job_name": job_name}
        inp = api.create_user_data(UserDataModel(workflow_id=workflow_id, name=f"input_{job_name}", data=data))
        out = api.create_user_data(UserDataModel(workflow_id=workflow_id, name=f"output_{job_name}", data={}))
        outputs.append(out.id)
        jobs.append(JobModel(workflow_id=workflow_id, name=job_name, command="pytorc run-function", input_user_data_ids=[inp.id],
                             output_user_data_ids=[out.id], resource_requirements_id=resource_requirements_id, scheduler_id=scheduler_id,
                             depends_on_job_ids=depends_on_job_ids))
    if postprocess_func:
        data = {"module": module, "func": postprocess_func}
        inp = api.create_user_data(UserDataModel(workflow_id=workflow_id, name="input_postprocess", data=data))
        out = api.create_user_data(UserDataModel(workflow_id=workflow_id, name="postprocess_result", data=data))
        jobs.append(JobModel(workflow_id=workflow_id, name="postprocess", command="pytorc run-postprocess",
                             input_user_data_ids=[inp.id] + outputs, output_user_data_ids=[out.id],
                             resource_requirements_id=resource_requirements_id, scheduler_id=scheduler_id))
    return create_jobs(api, jobs)


torc = sys.modules["torc"]
torc.make_api = make_api
torc.setup_logging = setup_logging
torc.create_jobs = create_jobs
torc.map_function_to_jobs = map_function_to_jobs

sys.path.insert(0, os.path.dirname(os.path.abspath(SCRIPT)))
sys.argv = [SCRIPT]
runpy.run_path(SCRIPT, run_name="__main__")
print(json.dumps({"ran": os.path.basename(SCRIPT)}))
