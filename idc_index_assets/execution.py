"""How a run executes its steps (IDC_EXECUTOR).

- empty (the default, a laptop or one VM): Dagster's `multi_or_in_process_executor`, but in its
  multiprocess mode the step processes start from a forkserver that has imported this code
  location once (`preload_modules`), one step per core at a time. Dagster's own default spawns a fresh
  Python interpreter per step, which imports dagster, duckdb, pyarrow and the definitions again:
  seconds per step, for steps that mostly take under a second on the sample. Runs launched from
  the UI, a backfill, `dg launch` or a schedule therefore take about as long as the command line
  (which runs its steps in its own process: `in_process`). The mode is still chosen per run
  (`execution: config: in_process: {}` in the launchpad).
- `k8s`: a Kubernetes pod per step (dagster-k8s's `k8s_job_executor`, the `production` extra).
"""

import os

from dagster import ExecutorDefinition, Field, Selector, multi_or_in_process_executor

from idc_index_assets import settings

DEFINITIONS_MODULE = "idc_index_assets.definitions"


def local_default() -> dict:
    """The local executor's default config: forked steps, one per core at a time (what the
    default DuckDB memory limit, a share of the machine per core, assumes)."""
    return {
        "multiprocess": {
            "max_concurrent": settings.machine_cores(),
            "start_method": {"forkserver": {"preload_modules": [DEFINITIONS_MODULE]}},
        }
    }


def local_executor() -> ExecutorDefinition:
    """Dagster's default executor (same name, same config) with `local_default()` as default."""
    modes = multi_or_in_process_executor.config_schema.as_field().config_type.fields
    return multi_or_in_process_executor.configured(
        lambda config: config,
        config_schema=Field(Selector(dict(modes)), default_value=local_default()),
        description="Steps in processes forked from a forkserver that preloaded the code "
        "location, one per core at a time (or in the run's own process: in_process).",
    )


def k8s_executor() -> ExecutorDefinition:
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as error:
        raise ImportError(
            "IDC_EXECUTOR=k8s needs dagster-k8s: pip install 'idc-index-assets[production]'"
        ) from error
    # Steps stream query results to Parquet; the ones running DuckDB locally (tcia_idc_subset, the
    # checks) stay under IDC_DUCKDB_MEMORY_LIMIT (by default 75% of the pod's memory limit), the
    # wheel build under 1 GB.
    return k8s_job_executor.configured(
        {
            "step_k8s_config": {
                "container_config": {
                    "resources": {
                        "requests": {"cpu": "1", "memory": "2Gi"},
                        "limits": {"memory": "6Gi"},
                    }
                }
            }
        },
        name="k8s_step_per_pod",
    )


def executor() -> ExecutorDefinition:
    """The executor IDC_EXECUTOR names: empty for the local one, `k8s` for a pod per step."""
    try:
        name = settings.parse_executor(os.environ.get("IDC_EXECUTOR", ""))
    except ValueError as error:
        raise ValueError(f"IDC_EXECUTOR {error}") from None
    return k8s_executor() if name else local_executor()
