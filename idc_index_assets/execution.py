"""How a run executes its steps (IDC_EXECUTOR).

- empty (the default, a laptop or one VM): Dagster's `multi_or_in_process_executor` with
  `in_process` as its default: every step in the run's own process, as the command line runs
  them. Dagster's own default spawns a fresh Python interpreter per step, which imports dagster,
  duckdb, pyarrow and the definitions again (seconds of CPU per step, for steps that mostly take
  about a second on the sample); so a run launched from the UI, a backfill, `dg launch` or a
  schedule took many times the command line's time. The multiprocess mode stays available per
  run (launchpad: `execution: config: multiprocess: {start_method: {forkserver:
  {preload_modules: [idc_index_assets.definitions]}}}` forks steps from a preloaded forkserver,
  one per core at a time): measured on a loaded 2-core machine, it was slower than in_process.
- `k8s`: a Kubernetes pod per step (dagster-k8s's `k8s_job_executor`, the `production` extra).
"""

import os

from dagster import ExecutorDefinition, Field, Selector, multi_or_in_process_executor

from idc_index_assets import settings

LOCAL_DEFAULT = {"in_process": {}}


def local_executor() -> ExecutorDefinition:
    """Dagster's default executor (same name, same config) with LOCAL_DEFAULT as its default."""
    modes = multi_or_in_process_executor.config_schema.as_field().config_type.fields
    return multi_or_in_process_executor.configured(
        lambda config: config,
        config_schema=Field(Selector(dict(modes)), default_value=LOCAL_DEFAULT),
        description="Steps in the run's own process by default (in_process), or in processes "
        "of their own (multiprocess; a forkserver start method avoids importing per step).",
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
