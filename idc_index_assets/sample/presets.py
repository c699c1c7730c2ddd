"""Release shapes for the sample generator: the size of a real IDC release and how its instances
spread over modalities and series, so that the embedded engine can be measured at that size.

`IDC_V25` is IDC v25 as the published idc-index-data 25.0.5 `idc_index.parquet` counts it: series,
studies, patients, and per modality the series, the instances and the quantiles of instances per
series. The modalities are the twelve largest by series; XC and FUSION (22 series) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class InstancesPerSeries:
    """How many instances the series of one modality have: the series count, the instance total
    and the 50th, 90th and 99th percentiles and the maximum of instances per series."""

    series: int
    instances: int
    p50: int
    p90: int
    p99: int
    max: int

    def draw(self, u: np.ndarray, scale: float) -> np.ndarray:
        """Instances of each series, from one uniform [0, 1) value per series.

        The quantile function passes through 1 (at 0), p50, p90 and p99 (flat above p99); between
        two of these it rises as t**k, with the one exponent k that makes the mean instances /
        series. The series with the largest u is the long tail: `max` instances (times `scale`
        below 1, if that is more than it drew), as IDC's largest series."""
        import numpy as np  # here, so that the command line reads the presets without numpy

        knots = np.array([1, self.p50, self.p90, self.p99, self.p99], dtype=float)
        bounds = np.array([0.0, 0.5, 0.9, 0.99, 1.0])
        widths, rises = np.diff(bounds), np.diff(knots)
        longest = round(self.max * min(scale, 1.0))
        # mean = sum(width * (knot + rise / (k + 1))) + what the longest series adds
        base = float(widths @ knots[:-1]) + max(longest - self.p99, 0) / max(len(u), 1)
        wanted = self.instances / self.series - base
        rise = float(widths @ rises)
        exponent = float(np.clip(rise / wanted - 1, 0.02, 200.0)) if wanted > 0 else 200.0
        segment = np.clip(np.searchsorted(bounds, u, side="right") - 1, 0, len(widths) - 1)
        t = (u - bounds[segment]) / widths[segment]
        counts = np.rint(knots[segment] + rises[segment] * t**exponent).astype(np.int64)
        if len(u):
            top = np.argmax(u)
            counts[top] = max(counts[top], longest)
        return np.maximum(counts, 1)


@dataclass(frozen=True)
class ReleaseShape:
    """The size of a release (series, studies, patients in its newest version) and its modalities."""

    name: str
    series: int
    studies: int
    patients: int
    modalities: dict[str, InstancesPerSeries]


IDC_V25 = ReleaseShape(
    "idc-v25",
    series=1_044_191,
    studies=168_507,
    patients=86_362,
    modalities={
        "CT": InstancesPerSeries(270_830, 40_306_450, 122, 247, 650, 91_980),
        "MR": InstancesPerSeries(128_143, 15_333_651, 63, 200, 992, 3_720),
        "PT": InstancesPerSeries(5_929, 1_917_999, 263, 429, 2_670, 4_995),
        "SM": InstancesPerSeries(76_300, 391_939, 5, 6, 7, 495),
        "SR": InstancesPerSeries(270_687, 270_687, 1, 1, 1, 1),
        "MG": InstancesPerSeries(48_128, 268_374, 1, 25, 57, 62),
        "SEG": InstancesPerSeries(193_295, 219_430, 1, 1, 5, 385),
        "RTSTRUCT": InstancesPerSeries(19_366, 19_366, 1, 1, 1, 1),
        "CR": InstancesPerSeries(12_534, 12_545, 1, 1, 1, 4),
        "ANN": InstancesPerSeries(7_448, 7_448, 1, 1, 1, 1),
        "US": InstancesPerSeries(2_249, 5_315, 1, 1, 34, 143),
        "DX": InstancesPerSeries(3_712, 4_118, 1, 1, 4, 11),
    },
)

PRESETS = {shape.name: shape for shape in (IDC_V25,)}
