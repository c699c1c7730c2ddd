"""Every channel's configuration, checked before a release does any work (the wheel, the notes,
the copy of the artifacts): the bucket (its URL, its credentials, the transfer concurrency) and,
when `IDC_GITHUB_REPOSITORY` is set, the GitHub release channel (repository and token)."""

import os
from pathlib import Path

from idc_index_assets import settings
from idc_index_assets.failures import describe


def bucket_problems(bucket: str, concurrency: str) -> list[str]:
    """What is wrong with IDC_RELEASE_BUCKET and IDC_RELEASE_CONCURRENCY, without a request: a
    gs:// URL without a bucket, no Google credentials (Application Default Credentials; not
    needed with STORAGE_EMULATOR_HOST), a local target that is a file. Each line starts with
    `channel bucket (<bucket>)`, as the release's channel failures do."""
    channel = f"channel bucket ({bucket})"
    problems = []
    try:
        settings.parse_concurrency(concurrency)
    except ValueError as error:
        problems.append(f"IDC_RELEASE_CONCURRENCY {error}")
    if bucket.startswith(settings.GCS_SCHEME):
        try:
            settings.split_gcs_url(bucket)
        except ValueError as error:
            problems.append(f"{channel}: IDC_RELEASE_BUCKET: {error}")
        if not os.environ.get("STORAGE_EMULATOR_HOST"):
            import google.auth
            from google.auth.exceptions import DefaultCredentialsError

            try:
                google.auth.default()
            except DefaultCredentialsError as error:
                problems.append(f"{channel}: {describe(error)}")
    elif Path(bucket).exists() and not Path(bucket).is_dir():
        problems.append(f"{channel}: IDC_RELEASE_BUCKET is a file, not a directory")
    return problems


def channel_problems(release_target, github_release) -> list[str]:
    """Every channel's configuration problems, one line each naming the setting (empty: all
    channels are ready)."""
    problems = bucket_problems(release_target.bucket, release_target.concurrency)
    if github_release.enabled:
        channel = f"channel github ({github_release.repository.strip()})"
        problems += [f"{channel}: {problem}" for problem in github_release.problems()]
    return problems
