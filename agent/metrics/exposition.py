"""The one renderer of vigia's /metrics text, and the collector shapes that use it.

Every family of the exposition is rendered here: `LineFamily` (per-service and per-check
series that keep their line rendered, so a scrape joins strings instead of formatting tens of
thousands of samples; `generate_latest` spends ~10 us per sample) and `Family` (a computed
family's samples, the store-derived metrics). Both also yield prometheus_client families, so
`generate_latest(registry)` sees the same samples, only slower.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def sample_prefix(name: str, labelnames: Sequence[str], labelvalues: Sequence[str]) -> str:
    """`name{a="x",b="y"} ` : a sample line up to its value."""
    if not labelnames:
        return f"{name} "
    pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(labelnames, labelvalues, strict=True))
    return f"{name}{{{pairs}}} "


def family_header(name: str, documentation: str, kind: str) -> str:
    doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


MetricKind = Literal["gauge", "counter"]


def metric_family(
    name: str, documentation: str, kind: MetricKind, labelnames: Sequence[str]
) -> GaugeMetricFamily | CounterMetricFamily:
    """An empty prometheus_client family (`name` of a counter ends in `_total`)."""
    if kind == "counter":
        return CounterMetricFamily(name.removesuffix("_total"), documentation, labels=labelnames)
    return GaugeMetricFamily(name, documentation, labels=labelnames)


class FastPath(threading.local):
    """Set while `AgentMetrics.render` runs `generate_latest` for the ordinary metrics, so
    the fast collectors (rendered apart) yield nothing to it. Per thread: a concurrent
    `generate_latest` elsewhere still sees every sample."""

    active = False


class FastCollector(Collector):
    """A collector that can also render its own exposition text, cheaply."""

    def __init__(self, fast: FastPath) -> None:
        self.fast = fast

    def render(self) -> str:
        raise NotImplementedError

    def families(self) -> Iterable[Metric]:
        raise NotImplementedError

    def collect(self) -> Iterable[Metric]:
        return () if self.fast.active else self.families()


class Series:
    """One series of a `LineFamily`; `set` re-renders its line. The line is its only string:
    its prefix (name and labels) is cut from it when the value changes, where keeping the
    prefix too cost ~150 bytes a series, ~25 MB of the ~170,000 series of 10,000 services."""

    __slots__ = ("_cut", "labelvalues", "line", "value")

    def __init__(self, prefix: str, labelvalues: tuple[str, ...]) -> None:
        self._cut = len(prefix)
        self.labelvalues = labelvalues
        self.value = 0.0
        self.line = f"{prefix}0.0\n"

    def set(self, value: float) -> None:
        if value != self.value:
            self.value = value
            self.line = f"{self.line[: self._cut]}{format_value(value)}\n"

    def inc(self, amount: float = 1.0) -> None:
        self.set(self.value + amount)


class LineFamily(FastCollector):
    """A gauge or counter family whose series keep their exposition line rendered.

    Written from the event loop, read by a scrape in another thread: the series dict is
    copied (atomic under the GIL) and each line is one immutable string.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        fast: FastPath,
        kind: MetricKind = "gauge",
    ) -> None:
        super().__init__(fast)
        self.name, self.documentation, self.kind = name, documentation, kind
        self.labelnames = tuple(labelnames)
        self._header = family_header(name, documentation, kind)
        self._series: dict[tuple[str, ...], Series] = {}

    def series(self, *labelvalues: str) -> Series:
        found = self._series.get(labelvalues)
        if found is None:
            prefix = sample_prefix(self.name, self.labelnames, labelvalues)
            found = self._series[labelvalues] = Series(prefix, labelvalues)
        return found

    def remove(self, *labelvalues: str) -> None:
        self._series.pop(labelvalues, None)

    def render(self) -> str:
        return self._header + "".join([s.line for s in tuple(self._series.values())])

    def families(self) -> Iterable[Metric]:
        family = metric_family(self.name, self.documentation, self.kind, self.labelnames)
        for series in tuple(self._series.values()):
            family.add_metric(list(series.labelvalues), series.value)
        return [family]

    def describe(self) -> Iterable[Metric]:
        return [metric_family(self.name, self.documentation, self.kind, self.labelnames)]


# ---- a computed family ---------------------------------------------------------------------

Row = tuple[tuple[str, ...], float]


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family's samples, computed by a refresh."""

    name: str
    documentation: str
    labelnames: tuple[str, ...]
    rows: tuple[Row, ...]
    kind: MetricKind = "gauge"

    def text(self) -> str:
        lines = [
            f"{sample_prefix(self.name, self.labelnames, values)}{format_value(value)}\n"
            for values, value in self.rows
        ]
        return family_header(self.name, self.documentation, self.kind) + "".join(lines)

    def metric(self) -> Metric:
        family = metric_family(self.name, self.documentation, self.kind, self.labelnames)
        for values, value in self.rows:
            family.add_metric(list(values), value)
        return family


def _text(families: Iterable[Family]) -> str:
    return "".join(f.text() for f in families)


def families_text(families: Iterable[Family]) -> str:
    return "".join(f.text() for f in families)
