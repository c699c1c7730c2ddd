"""Vectorized building blocks of the sample release, shared by the modules that fill its columns.

Every value is a pure function of integer keys (seed, series, revision, instance, salt) through a
hash, so a series that does not change between releases gets exactly the same values in each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def mix(*keys: np.ndarray | int, state: np.ndarray | None = None) -> np.ndarray:
    """A 64-bit hash of integer keys (splitmix64 finalizer), elementwise; `state` is the hash of
    keys that come first (mix(a, b) == mix(b, state=mix(a)))."""
    with np.errstate(over="ignore"):
        h = np.zeros(np.broadcast(*keys).shape, dtype=np.uint64) if state is None else state
        for key in keys:
            h = h * np.uint64(0x9E3779B97F4A7C15) + np.asarray(key, dtype=np.uint64)
            h ^= h >> np.uint64(30)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
            h *= np.uint64(0x94D049BB133111EB)
            h ^= h >> np.uint64(31)
    return h


def uniform(*keys, state: np.ndarray | None = None) -> np.ndarray:
    """Uniform [0, 1) values, a pure function of the keys (after `state`, as in `mix`)."""
    return (mix(*keys, state=state) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def uuid4(*keys, state: np.ndarray | None = None) -> pa.Array:
    """Random-looking version-4 UUID strings, a pure function of the keys (after `state`, as in
    `mix`)."""
    keyed = mix(*keys, state=state)
    high = mix(1, state=keyed) & np.uint64(0xFFFFFFFFFFFF0FFF) | np.uint64(0x4000)
    low = mix(2, state=keyed) & np.uint64(0x3FFFFFFFFFFFFFFF) | np.uint64(0x8000000000000000)
    rows = high.size
    # The 36 characters of each UUID laid out in one buffer: the hex digits of its 16 big-endian
    # bytes (two characters per byte, from a table) around the dashes, so no per-row string is
    # ever built.
    raw = np.empty((rows, 2), dtype=">u8")
    raw[:, 0], raw[:, 1] = high.ravel(), low.ravel()
    hexes = HEX_PAIRS[raw.view(np.uint8)].view(np.uint8).reshape(rows, 32)
    chars = np.full((rows, 36), ord("-"), dtype=np.uint8)
    for start, end, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        chars[:, at : at + end - start] = hexes[:, start:end]
    offsets = np.arange(0, 36 * (rows + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(chars))


# The two hex digits of each byte value, as the bytes of one uint16.
HEX_PAIRS = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint16)


def text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def join(*parts, sep: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def pick(options, index: np.ndarray) -> pa.Array:
    """options[index] elementwise, as an Arrow array (None stays NULL)."""
    return pa.array(list(options)).take(pa.array(index))


def repeated_strings(values: pa.Array, per_row: int) -> pa.Array:
    """Each row's value repeated `per_row` times as a REPEATED STRING."""
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32) * per_row)
    return pa.ListArray.from_arrays(
        offsets, pc.take(values, np.repeat(np.arange(len(values)), per_row))
    )


def weighted(u: np.ndarray, weights) -> np.ndarray:
    """The index of the option each uniform value `u` falls in, given the options' weights."""
    bounds = np.cumsum(weights)[:-1] / np.sum(weights)
    return np.searchsorted(bounds, u, side="right")


def list_offsets(lengths: np.ndarray) -> pa.Array:
    """The int32 offsets of a ListArray whose row i holds lengths[i] items."""
    return pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))


def empty_lists(list_type: pa.DataType, rows: int) -> pa.Array:
    """`rows` empty lists of `list_type`."""
    return pa.ListArray.from_arrays(
        list_offsets(np.zeros(rows, dtype=np.int64)),
        pa.array([], list_type.value_type),
        type=list_type,
    )


def scatter(rows: np.ndarray, values: pa.Array, size: int) -> pa.Array:
    """A full-length column holding values[i] at rows[i] and NULL elsewhere."""
    missing = np.ones(size, dtype=bool)
    missing[rows] = False
    if pa.types.is_list(values.type):
        # A REPEATED column keeps its items where they are: only its offsets are spread.
        lengths = np.zeros(size, dtype=np.int64)
        lengths[rows] = pc.fill_null(pc.list_value_length(values), 0).to_numpy()
        missing[rows] = values.is_null().to_numpy(zero_copy_only=False)
        return pa.ListArray.from_arrays(
            list_offsets(lengths), values.flatten(), type=values.type, mask=pa.array(missing)
        )
    index = np.zeros(size, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    return pc.take(values, pa.array(index, mask=missing))


def spread(values: pa.Array, owner: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Values of consecutive runs (series) as the values of their elements (instances): `owner`
    is each element's run, `ends` where each run ends."""
    if pa.types.is_string(values.type) and len(values):
        # Strings are copied run by run, faster than one by one.
        return pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, values))
    return pc.take(values, pa.array(owner))


@dataclass(frozen=True)
class InstanceRows:
    """A chunk of the instances of one release (whole series, in dicom_all order), one element per
    dicom_all row, for column providers.

    `series` and `revision` identify the content of a series (a revision changes crdc uuids),
    `number` is the instance's position in its series (0-based); the Arrow arrays are the
    identifiers already in dicom_all. What a provider needs from other series of the release comes
    from the whole release, so a chunk's values do not depend on where chunks begin: the image
    series a derived object refers to, and the release's slide microscopy series.
    """

    seed: int
    version: int
    key: np.ndarray  # per instance: mix(seed, series, revision, number), its values' common prefix
    modality: np.ndarray  # per instance: its modality, as an index into modality_names
    modality_names: tuple[str, ...]  # CT, SM, SEG, ...
    collection: np.ndarray  # per instance: its collection, as an index into collection_ids
    collection_ids: tuple[str, ...]
    series: np.ndarray
    revision: np.ndarray
    number: np.ndarray
    instance_count: np.ndarray  # instances in the instance's series
    pixel_spacing: np.ndarray  # in-plane mm of the series (dicom_all.PixelSpacing of CT, MR, PT)
    patient_id: pa.Array
    study_uid: pa.Array
    series_uid: pa.Array
    sop_uid: pa.Array
    # Per instance: the first image series (CT, MR or PT; lowest series number) of its study in
    # the release, NULL if none, and its instance count (0 if none).
    image_series_uid: pa.Array
    image_series_instances: np.ndarray
    # The release's SM series: universe number, SeriesInstanceUID and collection_id of each.
    slide_series: np.ndarray
    slide_series_uid: pa.Array
    slide_collection_id: np.ndarray

    def __len__(self) -> int:
        return len(self.series)

    def collection_id(self, rows: np.ndarray) -> np.ndarray:
        """The collection_id of the instances at `rows`."""
        return np.array(self.collection_ids)[self.collection[rows]]

    def where(self, *modalities: str) -> np.ndarray:
        """Per instance: whether its modality is one of `modalities`."""
        return np.isin(self.modality_names, modalities)[self.modality]

    def uniform(self, salt: int, *, per: str = "series") -> np.ndarray:
        """Uniform [0, 1) values, the same for every instance of a series (per="series") or
        per instance (per="instance")."""
        if per == "series":
            return uniform(self.seed, self.series, salt)
        return uniform(salt, state=self.key)
