"""What a release must be able to say about itself, read from its own release notes
(`release_notes.json`, `notes.compute_notes`) before anything is published:

- its notes compare with a complete previous release: an index without files there was compared
  as absent, so its changes are unknown (`allow_incomplete_previous` lets it through);
- a breaking change (`notes.breaking_changes`) comes with a new major version: not under a version
  whose major number equals the previous release's (`allow_breaking_change` lets it through);
- no column the `idc-index` client reads (`client_contract`) is removed or renamed: never, since
  the client in users' hands would fail; the contract changes with a client that no longer reads
  the column (data/client_contract.json).
"""

import json
from pathlib import Path

from idc_index_assets.releases.notes import NOTES_JSON, describe_breaking

INCOMPLETE_FLAG = "allow_incomplete_previous"
BREAKING_FLAG = "allow_breaking_change"
_REMOVING = ("column_removed", "column_renamed")


def major(version: str | None) -> int | None:
    head = (version or "").split(".", 1)[0]
    return int(head) if head.isdigit() else None


def read_notes(directory: Path) -> dict | None:
    """The release notes in an artifacts directory, or None when there are none."""
    path = Path(directory) / NOTES_JSON
    return json.loads(path.read_text()) if path.is_file() else None


def release_rule_problems(
    notes: dict,
    release_version: str,
    *,
    allow_incomplete_previous: bool = False,
    allow_breaking_change: bool = False,
) -> list[str]:
    """Why `notes` (of the release `release_version`) may not be published, one line each
    (empty: it may). Each line names the index, the column and the flag that would let it
    through, if any."""
    previous = notes.get("previous")
    if not previous:
        return []
    problems = []
    absent = previous.get("absent_indices") or []
    label = f"IDC v{previous.get('idc_version')}"
    if previous.get("release_version"):
        label += f" (release {previous['release_version']})"
    if absent and not allow_incomplete_previous:
        problems.append(
            f"the release notes compare with {label}, which has no files for {len(absent)} "
            f"indices ({', '.join(absent)}): build them there and materialize release_notes "
            f"again, or publish anyway with {INCOMPLETE_FLAG} (--allow-incomplete-previous)"
        )
    breaking = notes.get("breaking_changes") or []
    for change in breaking:
        if change["change"] in _REMOVING and change.get("client"):
            problems.append(
                f"{change['index']}.{change['column']} is read by the idc-index client "
                f"({', '.join(change['client'])}) and this release "
                f"{'removes' if change['change'] == 'column_removed' else 'renames'} it: "
                "keep the column (data/client_contract.json lists what the client reads)"
            )
    before = major(previous.get("release_version"))
    same_major = before is not None and major(release_version) == before
    if breaking and same_major and not allow_breaking_change:
        problems.append(
            f"release {release_version} has breaking changes but the same major version as "
            f"{label}: publish it as {before + 1}.0.0 or later, or with {BREAKING_FLAG} "
            "(--allow-breaking-change); the changes: "
            + "; ".join(describe_breaking(change) for change in breaking)
        )
    return problems
