"""Charts per phase over recent runs, as PNG bytes (matplotlib, Agg backend).

Rendering is pure: history in, PNG out. It is CPU work, so callers run it off the event
loop (``asyncio.to_thread``). The figure has its own opaque light background and dark
text, so it reads the same in Slack's light and dark themes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ...checks.conditions import Literal as LiteralOperand
from ...checks.conditions import Placeholder
from ...checks.model import Checklist, Item, Phase
from ...checks.probe import probe_type
from ...checks.results import ItemResult
from ...checks.status import Status
from .messages import text

BACKGROUND = "#fbfbfb"
INK = "#1d1c1d"
FAIL_COLOUR = "#d62728"
ERROR_COLOUR = "#9467bd"
LIMIT_COLOUR = "#e07b00"


@dataclass(frozen=True)
class Chart:
    filename: str
    title: str
    alt_text: str
    png: bytes


#: (run id, results of that run for the phase's items), oldest first.
History = Sequence[tuple[int, dict[str, ItemResult]]]


def _automated(phase: Phase) -> list[Item]:
    return [
        item
        for section in phase.sections
        for item in section.items
        if probe_type(item.probe_type).kind == "auto"
    ]


def _limit(item: Item, name: str) -> float | None:
    """The number an item's condition holds ``[name]`` under, e.g. 500 from ``[P95_MS] < 500``."""
    for condition in item.parsed_conditions:
        if (
            isinstance(condition.left, Placeholder)
            and condition.left.name == name
            and not condition.left.path
            and isinstance(condition.right, LiteralOperand)
            and isinstance(condition.right.value, int | float)
        ):
            return float(condition.right.value)
    return None


def _figure() -> tuple[Figure, Axes]:
    figure, axes = plt.subplots(figsize=(8, 3.6), dpi=110)
    figure.patch.set_facecolor(BACKGROUND)
    axes.set_facecolor(BACKGROUND)
    for spine in axes.spines.values():
        spine.set_color(INK)
    axes.tick_params(colors=INK)
    axes.grid(True, color="#d0d0d0", linewidth=0.6)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", facecolor=BACKGROUND)
    plt.close(figure)
    return buffer.getvalue()


def _series(items: list[Item], history: History, name: str) -> dict[str, list[float | None]]:
    """One line per evidence source of ``name``: several items reading the same k6 summary
    observe the same P95, and one line says it."""
    series: dict[str, list[float | None]] = {}
    for item in items:
        values = [_number(results.get(item.id), name) for _, results in history]
        if all(v is None for v in values):
            continue
        sources = [r.evidence.source for _, rs in history if (r := rs.get(item.id)) and r.evidence]
        label = Path(sources[-1]).name if sources else item.id
        if label not in series:
            series[label] = values
        else:  # fill the gaps of a run where this item was skipped but another read it
            series[label] = [a if a is not None else b for a, b in zip(series[label], values, strict=True)]
    return series


def _limits(items: list[Item], name: str) -> list[float]:
    return sorted({limit for item in items if (limit := _limit(item, name)) is not None})


def _nan(values: list[float | None]) -> list[float]:
    return [v if v is not None else float("nan") for v in values]


def latency_chart(checklist: Checklist, phase: Phase, history: History) -> Chart:
    language = checklist.release.language
    labels = [str(run_id) for run_id, _ in history]
    figure, axes = _figure()
    items = _automated(phase)
    for item in items:
        durations = [
            results[item.id].duration_ms if item.id in results else float("nan") for _, results in history
        ]
        if not all(math.isnan(d) for d in durations):
            axes.plot(labels, durations, marker="o", linewidth=1.2, markersize=3, label=item.id)
    for source, values in _series(items, history, "P95_MS").items():
        axes.plot(labels, _nan(values), marker="s", linewidth=2.4, label=f"P95 ({source})")
    for limit in _limits(items, "P95_MS"):
        axes.axhline(
            limit,
            color=LIMIT_COLOUR,
            linestyle="--",
            linewidth=1.4,
            label=f"P95 {text(language, 'chart_limit')} {limit:g} ms",
        )
    latest = history[-1][1] if history else {}
    slowest_latest = max((latest[i.id].duration_ms for i in items if i.id in latest), default=0.0)
    axes.set_ylim(bottom=0)
    title = text(language, "chart_latency_title", phase=phase.title)
    _finish(axes, title, text(language, "chart_axis_run"), text(language, "chart_axis_ms"))
    alt = text(language, "chart_latency_alt", runs=len(labels), phase=phase.title, slowest=slowest_latest)
    return Chart(f"{phase.id}-latency.png", title, alt, _png(figure))


def errors_chart(checklist: Checklist, phase: Phase, history: History) -> Chart:
    language = checklist.release.language
    ids = [item.id for section in phase.sections for item in section.items]
    labels = [str(run_id) for run_id, _ in history]
    failing = [sum(1 for i in ids if i in r and r[i].status == Status.FAIL) for _, r in history]
    erroring = [sum(1 for i in ids if i in r and r[i].status == Status.ERROR) for _, r in history]
    figure, axes = _figure()
    axes.bar(labels, failing, color=FAIL_COLOUR, label=text(language, "chart_failing"))
    axes.bar(labels, erroring, bottom=failing, color=ERROR_COLOUR, label=text(language, "chart_erroring"))
    items = _automated(phase)
    rates = _series(items, history, "ERROR_RATE")
    if rates:
        twin = axes.twinx()
        twin.tick_params(colors=INK)
        top = 0.0
        for source, values in rates.items():
            twin.plot(
                labels, _nan(values), marker="o", color=INK, linewidth=1.4, label=f"error rate ({source})"
            )
            top = max([top, *(v for v in values if v is not None)])
        for limit in _limits(items, "ERROR_RATE"):
            twin.axhline(
                limit,
                color=LIMIT_COLOUR,
                linestyle="--",
                linewidth=1.4,
                label=f"{text(language, 'chart_limit')} {limit:g} %",
            )
            top = max(top, limit)
        twin.set_ylim(0, top * 1.25 or 1)
        twin.set_ylabel(f"{text(language, 'chart_error_rate')} %", color=INK)
        handles, names = twin.get_legend_handles_labels()
        twin.legend(handles, names, loc="upper right", fontsize=7, facecolor=BACKGROUND, edgecolor="#d0d0d0")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max([*failing, *[f + e for f, e in zip(failing, erroring, strict=True)], 1]) * 1.25)
    title = text(language, "chart_errors_title", phase=phase.title)
    _finish(axes, title, text(language, "chart_axis_run"), text(language, "chart_axis_items"))
    alt = text(
        language,
        "chart_errors_alt",
        runs=len(labels),
        phase=phase.title,
        failing=failing[-1] if failing else 0,
        erroring=erroring[-1] if erroring else 0,
    )
    return Chart(f"{phase.id}-errors.png", title, alt, _png(figure))


def _number(result: ItemResult | None, name: str) -> float | None:
    if result is None:
        return None
    value = result.observed.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _finish(axes: Axes, title: str, xlabel: str, ylabel: str) -> None:
    axes.set_title(title, color=INK, fontsize=11)
    axes.set_xlabel(xlabel, color=INK)
    axes.set_ylabel(ylabel, color=INK)
    handles, _ = axes.get_legend_handles_labels()
    if handles:
        legend = axes.legend(loc="upper left", fontsize=7, ncol=2, facecolor=BACKGROUND, edgecolor="#d0d0d0")
        for entry in legend.get_texts():
            entry.set_color(INK)


def phase_charts(checklist: Checklist, phase: Phase, history: History) -> list[Chart]:
    return [latency_chart(checklist, phase, history), errors_chart(checklist, phase, history)]
