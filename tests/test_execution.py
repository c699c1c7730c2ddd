"""How local runs execute: every step in the run's own process unless a run asks otherwise, and a
build of one IDC version in one step per index, one for every references check and one that
observes the source tables."""

from dagster._core.execution.api import create_execution_plan

from idc_index_assets.definitions import defs
from idc_index_assets.indices.registry import RELEASED_INDICES


def test_local_runs_execute_in_process_by_default_and_multiprocess_on_request():
    executor = defs.resolve_job_def("build_indices").executor_def
    assert executor.name == "multi_or_in_process_executor"  # the command line relies on it
    assert executor.config_schema.as_field().default_value == {"in_process": {}}
    job = defs.resolve_job_def("build_indices")
    forked = {"multiprocess": {"start_method": {"forkserver": {}}, "max_concurrent": 2}}
    plan = create_execution_plan(job, run_config={"execution": {"config": forked}})
    assert len(plan.step_keys_to_execute) == len(RELEASED_INDICES) + 2


def test_a_build_is_one_step_per_index_and_one_for_the_references_checks():
    plan = create_execution_plan(defs.resolve_job_def("build_indices"))
    steps = set(plan.step_keys_to_execute)
    indices = {spec.name for spec in RELEASED_INDICES}
    assert steps == indices | {"references", "idc_source_tables"}
