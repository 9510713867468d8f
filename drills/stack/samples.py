"""Locust's per-request samples as columns (numpy arrays), not one Python object per request.

A million requests as ``Sample`` objects cost about a kilobyte each and a Python loop per question;
as columns they cost 32 bytes each and every question (a step's window, a status, a percentile) is
one vectorized pass. The locustfile writes fixed-size binary records (``RECORD``) with its three
text fields as small integer codes into a per-process label table; ``read_records`` maps them here.

``Sample`` stays as the row type: for building small inputs in tests and for naming one answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

#: One request as the locustfile appends it (``struct`` format ``<dddhhhh``, 32 bytes, little-endian):
#: start (epoch s), latency (ms), the handler's Server-Timing (ms, NaN: none), HTTP status (0: no
#: response), and the codes of X-Timeout-Layer, X-Drills-Error and the exception's class name.
RECORD = np.dtype([("start_s", "<f8"), ("latency_ms", "<f8"), ("server_ms", "<f8"), ("status", "<i2"),
                   ("layer", "<i2"), ("error", "<i2"), ("failure", "<i2")])
#: The columns whose values are codes into ``Samples.labels``.
LABELLED = ("layer", "error", "failure")

Floats = NDArray[np.float64]
Codes = NDArray[np.int16]
Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class Sample:
    """One request as Locust's user saw it."""

    start_s: float  # epoch seconds
    latency_ms: float
    status: int  # 0: no response (connection error, timeout)
    layer: str  # the service's X-Timeout-Layer header ("pool", "database", "app"), if any
    error: str  # the service's X-Drills-Error header ("pool_timeout", "pool_queue_full", …), if any
    failure: str  # exception class name when no response arrived
    #: The service's own time in its handler (Server-Timing), without the proxy, the event loop's
    #: backlog or the client; None when the answer carried none (an error, another service).
    server_ms: float | None = None

    @property
    def end_s(self) -> float:
        return self.start_s + self.latency_ms / 1000.0


@dataclass(frozen=True, eq=False)
class Samples:
    """Every request of a Locust run, one array per field, in the order of their start."""

    start_s: Floats
    latency_ms: Floats
    status: Codes
    layer: Codes
    error: Codes
    failure: Codes
    #: NaN where the answer carried no Server-Timing.
    server_ms: Floats
    #: What the codes of layer, error and failure stand for; code 0 is always "" (none).
    labels: tuple[str, ...] = ("",)

    def __len__(self) -> int:
        return len(self.start_s)

    @cached_property
    def end_s(self) -> Floats:
        """When each request completed (epoch s): the same arithmetic as ``Sample.end_s``."""
        return self.start_s + self.latency_ms / 1000.0

    def take(self, which: Mask | NDArray[np.intp]) -> Samples:
        """The samples a mask (or index array) selects, in their order."""
        return Samples(self.start_s[which], self.latency_ms[which], self.status[which], self.layer[which],
                       self.error[which], self.failure[which], self.server_ms[which], self.labels)

    def code(self, label: str) -> int:
        """The code of ``label``; -1 (matching nothing) when no request carried it."""
        return self.labels.index(label) if label in self.labels else -1

    def named(self, column: str, label: str) -> Mask:
        """Which requests carry ``label`` in ``column`` ("layer", "error" or "failure")."""
        if column not in LABELLED:
            raise ValueError(f"{column!r} is not one of {LABELLED}")
        codes: Codes = getattr(self, column)
        return codes == self.code(label)

    @property
    def timed(self) -> Mask:
        """Which answers carried the service's Server-Timing."""
        return ~np.isnan(self.server_ms)

    def row(self, index: int) -> Sample:
        server = float(self.server_ms[index])
        return Sample(float(self.start_s[index]), float(self.latency_ms[index]), int(self.status[index]),
                      self.labels[self.layer[index]], self.labels[self.error[index]],
                      self.labels[self.failure[index]], None if np.isnan(server) else server)

    def to_rows(self) -> list[Sample]:
        """One ``Sample`` per request: for tests and small inputs, never for judging a run."""
        return [self.row(i) for i in range(len(self))]

    def count_by(self, name: Callable[[Sample], str]) -> dict[str, int]:
        """How many requests each ``name`` gives, keys in the order of their first request (as
        ``dict(Counter(name(s) for s in rows))``). ``name`` may look only at status, layer, error and
        failure: it is called once per distinct combination of them, on its first request."""
        if not len(self):
            return {}
        # One integer per combination; few distinct ones occur, so a bincount finds them without a
        # sort (np.unique over rows sorted a million rows for seconds), then one pass each for its first.
        width = len(self.labels)
        key = ((self.status.astype(np.int64) * width + self.layer) * width + self.error) * width + self.failure
        if int(self.status.min()) >= 0 and int(key.max()) < 1 << 22:
            counts = np.bincount(key)
            present = np.flatnonzero(counts)
            found = zip(present.tolist(), counts[present].tolist())
        else:
            values, counts = np.unique(key, return_counts=True)
            found = zip(values.tolist(), counts.tolist())
        totals: dict[str, int] = {}
        order: dict[str, int] = {}
        for value, n in found:
            at = int(np.argmax(key == value))
            name_of = name(self.row(at))
            totals[name_of] = totals.get(name_of, 0) + n
            order[name_of] = min(order.get(name_of, at), at)
        return {k: totals[k] for k in sorted(totals, key=order.__getitem__)}

    @classmethod
    def empty(cls) -> Samples:
        return cls.of([])

    @classmethod
    def of(cls, rows: Iterable[Sample]) -> Samples:
        """Columns from rows (in their order); for tests and small inputs."""
        rows = list(rows)
        labels: dict[str, int] = {"": 0}

        def codes(column: str) -> Codes:
            return np.array([labels.setdefault(getattr(r, column), len(labels)) for r in rows], dtype=np.int16)

        layer, error, failure = (codes(c) for c in LABELLED)
        return cls(np.array([r.start_s for r in rows], dtype=np.float64),
                   np.array([r.latency_ms for r in rows], dtype=np.float64),
                   np.array([r.status for r in rows], dtype=np.int16), layer, error, failure,
                   np.array([np.nan if r.server_ms is None else r.server_ms for r in rows], dtype=np.float64),
                   tuple(labels))

    @classmethod
    def from_records(cls, records: NDArray[np.void], labels: Sequence[str]) -> Samples:
        """Columns from the locustfile's binary records and its label table."""
        return cls(records["start_s"].copy(), records["latency_ms"].copy(), records["status"].copy(),
                   records["layer"].copy(), records["error"].copy(), records["failure"].copy(),
                   records["server_ms"].copy(), tuple(labels) or ("",))

    def in_start_order(self) -> Samples:
        """Sorted by start time; a stable sort, so ties keep their order (as ``list.sort``)."""
        return self.take(np.argsort(self.start_s, kind="stable"))


def concat(parts: Sequence[Samples]) -> Samples:
    """One Samples of several (each process's), their label codes mapped onto one table."""
    if not parts:
        return Samples.empty()
    labels: dict[str, int] = {"": 0}
    remapped: dict[str, list[Codes]] = {c: [] for c in LABELLED}
    for part in parts:
        mapping = np.array([labels.setdefault(label, len(labels)) for label in part.labels], dtype=np.int16)
        for column in LABELLED:
            remapped[column].append(mapping[getattr(part, column)])
    layer, error, failure = (np.concatenate(remapped[c]) for c in LABELLED)
    return Samples(np.concatenate([p.start_s for p in parts]), np.concatenate([p.latency_ms for p in parts]),
                   np.concatenate([p.status for p in parts]), layer, error, failure,
                   np.concatenate([p.server_ms for p in parts]), tuple(labels))


def read_records(folder: Path) -> Samples:
    """Every ``samples-<pid>.bin`` in ``folder`` with its ``labels-<pid>.json``, in start order.

    A Locust killed mid-write leaves a partial last record: it is dropped, not misread.
    """
    parts = []
    for path in sorted(folder.glob("samples-*.bin")):
        raw = np.fromfile(path, dtype=np.uint8)
        whole = len(raw) - len(raw) % RECORD.itemsize
        labels_path = path.with_name(path.name.replace("samples-", "labels-").replace(".bin", ".json"))
        labels = json.loads(labels_path.read_text()) if labels_path.exists() else [""]
        parts.append(Samples.from_records(raw[:whole].view(RECORD), labels))
    return concat(parts).in_start_order()
