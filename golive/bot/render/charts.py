"""One chart per phase over its recent runs, as PNG bytes (matplotlib's Agg canvas).

The chart answers "is this phase getting better or worse?" in one picture, posted in the
run's thread under that phase's summary, where a person reading the phase looks:

- the measured latencies of its probes, each limit as a dashed line in its item's
  colour, and a red cross on every observation that failed or erred (a fast 503 must not
  read as an improvement);
- the other limited rates and lags (error rate, replication lag …) as a share of their
  limit, so values in %, bytes and requests per second share one axis with the limit at
  100 %;
- a status grid, items × runs, in the status colours used everywhere in the bot: which
  item was what, when; PENDING, STALE and WARN are as visible as FAIL.

One image per phase instead of one per panel: half the uploads, and a picture is only
posted when the phase has something to show (see :func:`phase_chart`).

Rendering is pure: history in, PNG out. It is CPU work, so callers run it off the event
loop. Figures are built on the Agg canvas directly (no pyplot, whose global figure
registry is neither thread-safe nor free), and laid out by fixed margins in inches
instead of ``tight_layout``, which measures every text on every save.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...checks.conditions import Literal as LiteralOperand
from ...checks.conditions import Placeholder
from ...checks.model import Checklist, Item, Phase
from ...checks.probe import probe_type
from ...checks.status import Status
from ...storage import ChartPoint, PhaseRun
from .chart_file import Chart
from .messages import text

BACKGROUND = "#fbfbfb"
INK = "#1d1c1d"
GRID = "#d0d0d0"
EMPTY_CELL = "#ececec"
FAILURE_MARK = "#e8000b"

#: The status colours of every chart and legend the bot draws.
STATUS_COLOURS: dict[Status, str] = {
    Status.PASS: "#2ca02c",
    Status.WARN: "#f2b701",
    Status.FAIL: "#d62728",
    Status.ERROR: "#7b2d8e",
    Status.STALE: "#8c564b",
    Status.PENDING: "#5b8fd9",
    Status.SKIPPED: "#9e9e9e",
    Status.WAIVED: "#17becf",
}
#: Item line colours: none is a status colour of failure, so a red cross stays a failure.
ITEM_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2a9d5c",
    "#e377c2",
    "#6b6b6b",
    "#a6a614",
    "#0b6e8a",
    "#b25d00",
    "#393b79",
    "#8c6d31",
)
FAILED = frozenset({Status.FAIL, Status.ERROR})
COMPARISONS = frozenset({"<", "<=", ">", ">="})

DPI = 100
WIDTH_IN = 10.0
LEFT_IN, RIGHT_IN = 2.3, 2.6  # item names of the grid; legends
TOP_IN, BOTTOM_IN, GAP_IN = 0.45, 0.5, 0.35
LATENCY_IN, SHARE_IN = 2.4, 1.6
ROW_IN = 0.2



@dataclass(frozen=True)
class Limit:
    """An item's numeric condition: ``[name] op value``."""

    item_id: str
    name: str
    operator: str
    value: float


@dataclass
class Drawing:
    """A drawn chart before it is encoded: the axes tell where each thing landed."""

    figure: Figure
    runs: list[int]
    latency: Axes | None
    shares: Axes | None
    grid: Axes
    grid_items: list[str]
    colours: dict[str, str]


def is_latency(name: str) -> bool:
    return name.endswith("_MS") or any(word in name for word in ("TIME", "LATENCY", "DURATION"))


def is_rate_or_lag(name: str) -> bool:
    return "RATE" in name or "LAG" in name or name == "RPS" or name.endswith("_PER_SECOND")


def limits(item: Item) -> list[Limit]:
    """The item's limits on a duration, rate or lag, e.g. 1000 from ``[RESPONSE_TIME] < 1000``."""
    found = []
    for condition in item.parsed_conditions:
        left, right = condition.left, condition.right
        if (
            condition.operator in COMPARISONS
            and isinstance(left, Placeholder)
            and not left.path
            and (is_latency(left.name) or is_rate_or_lag(left.name))
            and isinstance(right, LiteralOperand)
            and isinstance(right.value, int | float)
            and not isinstance(right.value, bool)
        ):
            found.append(Limit(item.id, left.name, condition.operator, float(right.value)))
    return found


def _items(phase: Phase) -> list[Item]:
    return [item for section in phase.sections for item in section.items]


def _automated(phase: Phase) -> list[Item]:
    return [item for item in _items(phase) if probe_type(item.probe_type).kind == "auto"]


def _y(point: ChartPoint | None, name: str | None) -> float:
    if point is None:
        return float("nan")
    if name is None:
        return point.duration_ms
    return point.values.get(name, float("nan"))


def draw(checklist: Checklist, phase: Phase, history: Sequence[PhaseRun]) -> Drawing | None:
    """The phase's chart, or None when no run observed any of its items."""
    language = checklist.release.language
    items = [item for item in _items(phase) if any(item.id in run.points for run in history)]
    if not items:
        return None
    automated = [item for item in _automated(phase) if item in items]
    colours = {item.id: ITEM_COLOURS[index % len(ITEM_COLOURS)] for index, item in enumerate(automated)}
    item_limits = {item.id: limits(item) for item in automated}
    shares = [
        limit
        for found in item_limits.values()
        for limit in found
        if not is_latency(limit.name)
        and limit.value != 0
        and any(limit.name in (run.points.get(limit.item_id) or _NONE).values for run in history)
    ]

    statuses = {point.status for run in history for point in run.points.values()}
    # Tall enough for its rows and for the legend of the statuses it shows.
    grid_in = max(len(items) * ROW_IN, 0.15 * len(statuses) + 0.1)
    height = TOP_IN + BOTTOM_IN + grid_in
    height += (LATENCY_IN + GAP_IN) if automated else 0
    height += (SHARE_IN + GAP_IN) if shares else 0
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    runs = [run.run_id for run in history]
    x = np.arange(len(runs), dtype=float)
    top = height - TOP_IN

    def panel(inches: float) -> Axes:
        nonlocal top
        axes = figure.add_axes(
            (
                LEFT_IN / WIDTH_IN,
                (top - inches) / height,
                (WIDTH_IN - LEFT_IN - RIGHT_IN) / WIDTH_IN,
                inches / height,
            )
        )
        top -= inches + GAP_IN
        _style(axes)
        # Half a run of room either side: a single run's marker is not clipped by the frame.
        axes.set_xlim(-0.5, len(runs) - 0.5)
        return axes

    latency = panel(LATENCY_IN) if automated else None
    if latency is not None:
        _latency(latency, language, automated, item_limits, colours, history, x)
    share_axes = panel(SHARE_IN) if shares else None
    if share_axes is not None:
        _shares(share_axes, language, shares, colours, history, x)
    grid = panel(grid_in)
    _grid(grid, items, history, colours)
    for axes in (latency, share_axes):
        if axes is not None:
            # One faint line per run in a single collection: ticks are a line pair and a
            # text object each, and most of a chart's drawing time.
            axes.set_xticks([])
            axes.vlines(x, 0, 1, transform=axes.get_xaxis_transform(), color=GRID, linewidth=0.5, zorder=0)
    # Every run number up to twelve runs, then every second one (newest always): twenty
    # numbers side by side would have to be turned on their side to fit.
    step = 1 if len(runs) <= 12 else 2
    labelled = list(range(len(runs) - 1, -1, -step))[::-1]
    grid.set_xticks(labelled, [str(runs[index]) for index in labelled], fontsize=7)
    grid.set_xlabel(text(language, "chart_axis_run"), color=INK, fontsize=8)
    figure.suptitle(_title(language, phase, len(runs)), color=INK, fontsize=11, x=0.5, y=1 - 0.12 / height)
    return Drawing(figure, runs, latency, share_axes, grid, [item.id for item in items], colours)


_NONE = ChartPoint(Status.PENDING, 0.0, {})


def _style(axes: Axes) -> None:
    axes.set_facecolor(BACKGROUND)
    for spine in axes.spines.values():
        spine.set_color(INK)
    axes.tick_params(colors=INK, labelsize=7)


def _latency(
    axes: Axes,
    language: str,
    items: list[Item],
    item_limits: dict[str, list[Limit]],
    colours: dict[str, str],
    history: Sequence[PhaseRun],
    x: np.ndarray,
) -> None:
    """Per item its latency: the value its limit is on (``RESPONSE_TIME``, ``P95_MS``) if
    it has one, else how long its probe took, and the limit as a dashed line."""
    highest = 0.0
    failed_x: list[float] = []
    failed_y: list[float] = []
    for item in items:
        own = [limit for limit in item_limits[item.id] if is_latency(limit.name)]
        name = own[0].name if own else None
        points = [run.points.get(item.id) for run in history]
        values = np.array([_y(point, name) for point in points], dtype=float)
        if np.isnan(values).all():
            continue
        # Markers on every point: a run between missing ones is a dot, not nothing. No
        # legend entry: the grid below names each item in its colour.
        axes.plot(x, values, color=colours[item.id], linewidth=1.3, marker="o", markersize=3)
        highest = max(highest, float(np.nanmax(values)))
        for limit in own:
            axes.axhline(limit.value, color=colours[item.id], linestyle="--", linewidth=1.3)
            highest = max(highest, limit.value)
        for index, point in enumerate(points):
            if point is not None and point.status in FAILED and not np.isnan(values[index]):
                failed_x.append(float(x[index]))
                failed_y.append(float(values[index]))
    if failed_x:
        axes.scatter(failed_x, failed_y, marker="x", s=60, linewidths=2.2, color=FAILURE_MARK, zorder=5)
    # Headroom: the highest point or limit sits below the frame, not on it.
    axes.set_ylim(0, highest * 1.15 or 1.0)
    axes.grid(True, axis="y", color=GRID, linewidth=0.6)
    axes.set_ylabel(text(language, "chart_axis_ms"), color=INK, fontsize=8)
    handles: list[Artist] = [
        Line2D([], [], color=INK, linestyle="--", linewidth=1.3),
        Line2D([], [], color=FAILURE_MARK, marker="x", linestyle="", markersize=7, markeredgewidth=2),
    ]
    _legend(axes, handles, [text(language, "chart_limit"), text(language, "chart_failed_mark")])


def _shares(
    axes: Axes,
    language: str,
    shares: list[Limit],
    colours: dict[str, str],
    history: Sequence[PhaseRun],
    x: np.ndarray,
) -> None:
    """Rates and lags as a share of their limit: the limit is the line at 100 %."""
    highest = 100.0
    failed_x: list[float] = []
    failed_y: list[float] = []
    for limit in shares:
        points = [run.points.get(limit.item_id) for run in history]
        values = np.array([_y(point, limit.name) / limit.value * 100 for point in points], dtype=float)
        colour = colours[limit.item_id]
        axes.plot(
            x,
            values,
            color=colour,
            linewidth=1.3,
            marker="o",
            markersize=3,
            label=f"{limit.name} {limit.operator} {_number(limit.value)}",
        )
        axes.axhline(100, color=colour, linestyle="--", linewidth=1.3)
        if not np.isnan(values).all():
            highest = max(highest, float(np.nanmax(values)))
        for index, point in enumerate(points):
            if point is not None and point.status in FAILED and not np.isnan(values[index]):
                failed_x.append(float(x[index]))
                failed_y.append(float(values[index]))
    if failed_x:
        axes.scatter(failed_x, failed_y, marker="x", s=60, linewidths=2.2, color=FAILURE_MARK, zorder=5)
    axes.set_ylim(0, highest * 1.15)
    axes.grid(True, axis="y", color=GRID, linewidth=0.6)
    axes.set_ylabel(text(language, "chart_axis_share"), color=INK, fontsize=8)
    handles, labels = axes.get_legend_handles_labels()
    _legend(axes, handles, labels)


def _grid(axes: Axes, items: list[Item], history: Sequence[PhaseRun], line_colours: dict[str, str]) -> None:
    """Items × runs, each cell in its status's colour; grey where the run did not observe it."""
    empty = _rgb(EMPTY_CELL)
    colours = {status: _rgb(colour) for status, colour in STATUS_COLOURS.items()}
    cells = np.empty((len(items), len(history), 3), dtype=float)
    seen: set[Status] = set()
    for row, item in enumerate(items):
        for column, run in enumerate(history):
            point = run.points.get(item.id)
            cells[row, column] = empty if point is None else colours[point.status]
            if point is not None:
                seen.add(point.status)
    axes.imshow(
        cells,
        aspect="auto",
        interpolation="nearest",
        extent=(-0.5, len(history) - 0.5, len(items) - 0.5, -0.5),
    )
    # Gaps between cells, so neighbouring runs of one status still read as runs; two
    # line collections, not a minor tick per cell boundary.
    axes.vlines(np.arange(1, len(history)) - 0.5, -0.5, len(items) - 0.5, color=BACKGROUND, linewidth=1.0)
    axes.hlines(np.arange(1, len(items)) - 0.5, -0.5, len(history) - 0.5, color=BACKGROUND, linewidth=1.0)
    axes.set_yticks(range(len(items)), [_short(item.id) for item in items], fontsize=7)
    # The item names are the legend of the lines above: each in its line's colour.
    for label, item in zip(axes.get_yticklabels(), items, strict=True):
        label.set_color(line_colours.get(item.id, INK))
    legend = [Patch(color=STATUS_COLOURS[status], label=str(status)) for status in Status if status in seen]
    _legend(axes, legend, [str(patch.get_label()) for patch in legend])


def _legend(axes: Axes, handles: Sequence[Artist], labels: Sequence[str]) -> None:
    if not handles:
        return
    legend = axes.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7,
        frameon=False,
        borderaxespad=0.0,
    )
    for entry in legend.get_texts():
        entry.set_color(INK)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10_000 and value.is_integer() else f"{value:g}"


def _short(name: str, width: int = 34) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _rgb(colour: str) -> tuple[float, float, float]:
    value = int(colour.lstrip("#"), 16)
    return ((value >> 16) / 255, ((value >> 8) & 0xFF) / 255, (value & 0xFF) / 255)


def _title(language: str, phase: Phase, runs: int) -> str:
    key = "chart_title_one" if runs == 1 else "chart_title_many"
    return text(language, key, phase=phase.title, runs=runs)


def png(drawing: Drawing) -> bytes:
    buffer = io.BytesIO()
    # No layout pass (fixed margins were set when drawn); a fast zlib level: a third of
    # the encoding time for a file a little larger.
    drawing.figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def phase_chart(checklist: Checklist, phase: Phase, history: Sequence[PhaseRun]) -> Chart | None:
    """The phase's chart; None when it would be empty, so nothing is uploaded for it."""
    drawing = draw(checklist, phase, history)
    if drawing is None:
        return None
    language = checklist.release.language
    latest = history[-1].points
    counts = {status: 0 for status in Status}
    for point in latest.values():
        counts[point.status] += 1
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    panels = [
        text(language, key)
        for key, drawn in (
            ("chart_alt_latency", drawing.latency),
            ("chart_alt_shares", drawing.shares),
            ("chart_alt_grid", drawing.grid),
        )
        if drawn is not None
    ]
    described = (
        ", ".join(panels[:-1]) + f" {text(language, 'chart_alt_and')} {panels[-1]}"
        if len(panels) > 1
        else panels[0]
    )
    key = "chart_alt_one" if len(history) == 1 else "chart_alt_many"
    alt = text(language, key, phase=phase.title, runs=len(history), panels=described, latest=summary)
    return Chart(f"{phase.id}.png", _title(language, phase, len(history)), alt, png(drawing))
