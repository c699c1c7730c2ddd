"""gdc_idc_mapping: the imaging studies of IDC collections from GDC programs, linked to their
patients' cases in the Genomic Data Commons (GDC).

The studies come from `queries/gdc_idc_studies.sql`, run by the index engine like any index query.
The cases come from the GDC cases API (`POST <api>/cases`), asked for the studies' PatientIDs as
submitter_ids within the GDC projects of each collection (`data/gdc_projects.json`): a PatientID is
unique only within a project. Offline (no API URL, the default) the same lookups are answered from
the cases snapshot that the sample generator writes beside the source snapshot.

The client is polite and persistent: submitter ids go in batches, results are paged, requests keep a
minimum interval, and 429/5xx answers or dropped connections are retried with exponential backoff
(honouring Retry-After) before giving up with an error that names the URL, the status and the batch.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import requests
from dagster import ConfigurableResource
from pydantic import Field

from idc_index_assets.indices.queries import ColumnDoc

STUDIES_QUERY = "gdc_idc_studies"
PROJECTS_FILE = "gdc_projects.json"
# Where the offline cases live, relative to the source snapshot's root.
CASES_SNAPSHOT = Path("gdc") / "cases.json"
CASE_FIELDS = "case_id,submitter_id,project.project_id"
# The one output column the studies query does not produce.
GDC_CASE_ID_DOC = ColumnDoc(
    "gdc_case_id", "UUID of the patient's case in the Genomic Data Commons (the GDC case_id)"
)
# A Retry-After beyond this is not waited for in full: the next attempt decides.
MAX_RETRY_AFTER_SECONDS = 300.0


class GDCError(RuntimeError):
    """gdc_idc_mapping could not be built; `transient` marks failures worth another run."""

    transient = False


class GDCRequestError(GDCError):
    """The GDC cases API refused a request, kept failing, or answered nonsense."""


class GDCMappingError(GDCError):
    """The studies and the cases do not fit the collection → project map."""


@dataclass(frozen=True)
class GDCCase:
    case_id: str
    submitter_id: str
    project_id: str


class CasesSource(Protocol):
    def find_cases(
        self, project_ids: Sequence[str], submitter_ids: Sequence[str]
    ) -> list[GDCCase]: ...

    def close(self) -> None: ...


# --- the collection → project map ---------------------------------------------------------------


@dataclass(frozen=True)
class ProjectMap:
    """GDC project(s) of each IDC collection, and the collections known to have no GDC case."""

    projects: dict[str, tuple[str, ...]]
    known_absent: frozenset[str] = frozenset()


def project_map_text() -> str:
    return resources.files("idc_index_assets").joinpath("data", PROJECTS_FILE).read_text()


def load_project_map() -> ProjectMap:
    data = json.loads(project_map_text())
    return ProjectMap(
        projects={name: tuple(ids) for name, ids in data["projects"].items()},
        known_absent=frozenset(data["known_absent"]),
    )


# --- where cases come from ----------------------------------------------------------------------


def cases_filter(project_ids: Sequence[str], submitter_ids: Sequence[str]) -> dict[str, Any]:
    """The cases API filter: cases of these projects with these submitter ids."""
    return {
        "op": "and",
        "content": [
            {"op": "in", "content": {"field": "project.project_id", "value": list(project_ids)}},
            {"op": "in", "content": {"field": "submitter_id", "value": list(submitter_ids)}},
        ],
    }


def case_from_hit(hit: dict[str, Any]) -> GDCCase:
    if not isinstance(hit, dict):
        raise TypeError(f"a case hit must be a JSON object, got {hit!r}")
    return GDCCase(
        case_id=hit.get("case_id") or hit["id"],
        submitter_id=hit["submitter_id"],
        project_id=hit["project"]["project_id"],
    )


def write_cases_snapshot(root: Path, hits: list[dict[str, Any]]) -> int:
    """Write the offline cases (a JSON list of cases API hits) under a source snapshot's root;
    returns how many."""
    path = root / CASES_SNAPSHOT
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(hits, indent=1, sort_keys=True) + "\n")
    temporary.replace(path)
    return len(hits)


@dataclass
class SnapshotCases:
    """Cases from a JSON list of cases API hits (the sample generator writes one)."""

    path: Path

    @cached_property
    def cases(self) -> list[GDCCase]:
        if not self.path.is_file():
            raise GDCError(
                f"no GDC cases snapshot at {self.path}: set IDC_GDC_API_URL to ask the GDC API, "
                "or regenerate the sample source (`idc-index-assets sample`)"
            )
        try:
            return [case_from_hit(hit) for hit in json.loads(self.path.read_text())]
        except (ValueError, KeyError, TypeError) as error:
            raise GDCError(f"{self.path}: not a list of GDC case hits ({error!r})") from error

    def close(self) -> None:
        pass

    def find_cases(self, project_ids: Sequence[str], submitter_ids: Sequence[str]) -> list[GDCCase]:
        projects, submitters = set(project_ids), set(submitter_ids)
        return [
            case
            for case in self.cases
            if case.project_id in projects and case.submitter_id in submitters
        ]


@dataclass
class GDCCasesClient:
    """The GDC cases API at `base_url` (e.g. https://api.gdc.cancer.gov)."""

    base_url: str
    batch_size: int = 250
    page_size: int = 500
    min_interval_seconds: float = 0.2
    max_attempts: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    session: requests.Session = field(default_factory=requests.Session)
    _last_request: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.page_size < 1 or self.max_attempts < 1:
            raise ValueError("batch_size, page_size and max_attempts must be at least 1")

    def close(self) -> None:
        self.session.close()

    @property
    def cases_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/cases"

    def find_cases(self, project_ids: Sequence[str], submitter_ids: Sequence[str]) -> list[GDCCase]:
        ids = sorted(set(submitter_ids))
        batches = [ids[i : i + self.batch_size] for i in range(0, len(ids), self.batch_size)]
        cases = []
        for number, batch in enumerate(batches, start=1):
            offset = 0
            while True:
                where = (
                    f"batch {number}/{len(batches)}: {len(batch)} submitter ids "
                    f"({batch[0]} .. {batch[-1]}) in {', '.join(project_ids)}, from {offset}"
                )
                body = {
                    "filters": cases_filter(project_ids, batch),
                    "fields": CASE_FIELDS,
                    "format": "JSON",
                    "size": self.page_size,
                    "from": offset,
                }
                data = self._post(body, where)
                hits, total = data["hits"], int(data["pagination"]["total"])
                try:
                    cases += [case_from_hit(hit) for hit in hits]
                except (KeyError, TypeError) as error:
                    raise GDCRequestError(
                        f"GDC cases API: POST {self.cases_url} sent a case without "
                        f"{error} ({where})"
                    ) from error
                offset += len(hits)
                if offset >= total:
                    break
                if not hits:
                    raise GDCRequestError(
                        f"GDC cases API: POST {self.cases_url} reported {total} cases but sent "
                        f"none from {offset} ({where})"
                    )
        return cases

    def _post(self, body: dict[str, Any], where: str) -> dict[str, Any]:
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            self._wait_turn()
            try:
                response = self.session.post(
                    self.cases_url,
                    json=body,
                    headers={"Accept": "application/json"},
                    timeout=self.timeout_seconds,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                last, delay = f"{type(error).__name__}: {error}", self._backoff(attempt)
            else:
                if response.status_code == 200:
                    return self._data(response, where)
                last = f"HTTP {response.status_code} {_excerpt(response.text)}".rstrip()
                if response.status_code != 429 and response.status_code < 500:
                    raise GDCRequestError(
                        f"GDC cases API refused POST {self.cases_url}: {last} ({where})"
                    )
                delay = _retry_after(response)
                if delay is None:
                    delay = self._backoff(attempt)
            if attempt < self.max_attempts:
                self.sleep(delay)
        error = GDCRequestError(
            f"GDC cases API: POST {self.cases_url} failed {self.max_attempts} times, last with "
            f"{last} ({where})"
        )
        error.transient = True
        raise error

    def _data(self, response: requests.Response, where: str) -> dict[str, Any]:
        try:
            data = response.json()["data"]
            if isinstance(data["hits"], list) and int(data["pagination"]["total"]) >= 0:
                return data
        except (ValueError, KeyError, TypeError):
            pass
        raise GDCRequestError(
            f"GDC cases API: POST {self.cases_url} answered without data.hits and "
            f"data.pagination.total: {_excerpt(response.text)} ({where})"
        )

    def _wait_turn(self) -> None:
        """Keep at least min_interval_seconds between the starts of two requests."""
        if self._last_request is not None:
            wait = self._last_request + self.min_interval_seconds - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
            seconds = (moment - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):  # unparseable, or a date without a timezone
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class GDCCases(ConfigurableResource):
    """GDC cases: the GDC API at `api_url`, or (empty URL, the default) the offline snapshot
    `<source_dir>/gdc/cases.json` written by the sample generator."""

    api_url: str = Field(
        default="", description="GDC API base URL, e.g. https://api.gdc.cancer.gov (empty: offline)"
    )
    source_dir: str = Field(
        default="data/source", description="Root of the local source snapshot (offline cases)"
    )
    batch_size: int = Field(default=250, description="Submitter ids per cases request")
    page_size: int = Field(default=500, description="Cases per response page")
    min_interval_seconds: float = Field(
        default=0.2, description="Minimum time between the starts of two requests"
    )
    max_attempts: int = Field(default=6, description="Attempts per request before giving up")
    backoff_seconds: float = Field(
        default=1.0, description="First retry delay; doubles on each retry (Retry-After wins)"
    )
    timeout_seconds: float = Field(default=60.0, description="Timeout of one request")

    def source(self) -> CasesSource:
        if not self.api_url:
            return SnapshotCases(Path(self.source_dir) / CASES_SNAPSHOT)
        return GDCCasesClient(
            self.api_url,
            batch_size=self.batch_size,
            page_size=self.page_size,
            min_interval_seconds=self.min_interval_seconds,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            timeout_seconds=self.timeout_seconds,
        )
