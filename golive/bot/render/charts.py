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

Rendering is pure: history in, PNG out; what a thread keeps between charts (one prepared
figure, the pixels of the texts it rendered, see :class:`Template` and
:class:`TextSprites`) only makes it faster. It is CPU work, so callers run it off the event
loop. Figures are built on the Agg canvas directly (no pyplot, whose global figure
registry is neither thread-safe nor free), and laid out by fixed margins in inches
instead of ``tight_layout``, which measures every text on every save.
"""

from __future__ import annotations

import io
import math
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import GraphicsContextBase
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from ...checks.conditions import Literal as LiteralOperand
from ...checks.conditions import Placeholder
from ...checks.model import Item, Phase
from ...checks.probe import probe_kind
from ...checks.status import Status
from ...storage import ChartPoint, PhaseRun
from .chart_file import Chart
from .messages import text
from .mrkdwn import clip
from .statuses import LOOKS

BACKGROUND = "#fbfbfb"
INK = "#1d1c1d"
GRID = "#d0d0d0"
EMPTY_CELL = "#ececec"
FAILURE_MARK = "#e8000b"

#: The status colours of every chart and legend the bot draws.
STATUS_COLOURS: dict[Status, str] = {status: look.chart for status, look in LOOKS.items()}
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
    #: The items drawn as lines, each in its colour: at most one per colour, the slowest.
    colours: dict[str, str]
    #: Automated items observed, drawn as lines or not.
    automated: int = 0


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
    return [item for item in _items(phase) if probe_kind(item.probe_type) == "auto"]


def _latency_name(item_limits: list[Limit]) -> str | None:
    """The value an item's latency line shows: the one its latency limit is on
    (``RESPONSE_TIME``, ``P95_MS``), else (None) how long its probe took."""
    own = [limit for limit in item_limits if is_latency(limit.name)]
    return own[0].name if own else None


def _slowest(
    items: list[Item], item_limits: dict[str, list[Limit]], history: Sequence[PhaseRun], most: int
) -> list[Item]:
    """The ``most`` items with the highest latency in the newest run that observed each,
    in the phase's order (all of them when there are no more)."""
    if len(items) <= most:
        return items

    def newest(item: Item) -> float:
        name = _latency_name(item_limits[item.id])
        for run in reversed(history):
            value = _y(run.points.get(item.id), name)
            if not math.isnan(value):
                return value
        return -math.inf

    chosen = {item.id for item in sorted(items, key=newest, reverse=True)[:most]}
    return [item for item in items if item.id in chosen]


def _y(point: ChartPoint | None, name: str | None) -> float:
    if point is None:
        return float("nan")
    if name is None:
        return point.duration_ms
    return point.values.get(name, float("nan"))


def draw(language: str, phase: Phase, history: Sequence[PhaseRun]) -> Drawing | None:
    """The phase's chart, in the checklist's ``language``, or None when no run observed
    any of its items.

    Drawn into this thread's figure (see :class:`Template`): the drawing is valid until the
    thread draws its next chart."""
    items = [item for item in _items(phase) if any(item.id in run.points for run in history)]
    if not items:
        return None
    # By id: items are models, and comparing them field by field, each with each, cost
    # a phase of a hundred items a tenth of a second.
    shown = {item.id for item in items}
    observed = [item for item in _automated(phase) if item.id in shown]
    all_limits = {item.id: limits(item) for item in observed}
    # One line per colour: beyond that, colours would repeat and the grid's names (each in
    # its line's colour) could not tell the lines apart. The slowest are drawn.
    automated = _slowest(observed, all_limits, history, len(ITEM_COLOURS))
    colours = {item.id: ITEM_COLOURS[index] for index, item in enumerate(automated)}
    item_limits = {item.id: all_limits[item.id] for item in automated}
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
    height = round(height * DPI) / DPI  # whole pixels: no row is cut in half
    template = Template.of_this_thread()
    figure = template.figure
    figure.set_size_inches(WIDTH_IN, height, forward=False)
    template.clear()
    runs = [run.run_id for run in history]
    x = np.arange(len(runs), dtype=float)
    top = height - TOP_IN

    def panel(axes: Axes, inches: float | None) -> Axes | None:
        nonlocal top
        axes.set_visible(inches is not None)
        if inches is None:
            return None
        axes.set_position(
            (
                LEFT_IN / WIDTH_IN,
                (top - inches) / height,
                (WIDTH_IN - LEFT_IN - RIGHT_IN) / WIDTH_IN,
                inches / height,
            )
        )
        top -= inches + GAP_IN
        # Half a run of room either side: a single run's marker is not clipped by the frame.
        axes.set_xlim(-0.5, len(runs) - 0.5)
        return axes

    latency = panel(template.latency, LATENCY_IN if automated else None)
    if latency is not None:
        left_out = (len(automated), len(observed)) if len(automated) < len(observed) else None
        _latency(latency, language, automated, item_limits, colours, history, x, left_out)
    share_axes = panel(template.shares, SHARE_IN if shares else None)
    if share_axes is not None:
        _shares(share_axes, language, shares, colours, history, x)
    grid = panel(template.grid, grid_in)
    assert grid is not None
    _grid(grid, items, history, colours)
    for axes in (latency, share_axes):
        if axes is not None:
            # One faint line per run in a single collection: ticks are a line pair and a
            # text object each, and most of a chart's drawing time.
            _rules(axes, _columns(x, 0, 1), GRID, 0.5, transform=axes.get_xaxis_transform(), zorder=0)
    # Every run number up to twelve runs, then every second one (newest always): twenty
    # numbers side by side would have to be turned on their side to fit.
    step = 1 if len(runs) <= 12 else 2
    labelled = list(range(len(runs) - 1, -1, -step))[::-1]
    grid.set_xticks(labelled, [str(runs[index]) for index in labelled], fontsize=7)
    grid.set_xlabel(text(language, "chart_axis_run"), color=INK, fontsize=8)
    figure.suptitle(_title(language, phase, len(runs)), color=INK, fontsize=11, x=0.5, y=1 - 0.12 / height)
    grid_items = [item.id for item in items]
    return Drawing(figure, runs, latency, share_axes, grid, grid_items, colours, len(observed))


@dataclass
class Template:
    """A figure and its three panels, prepared once per thread and drawn into chart after
    chart: creating a figure, its axes and their ticks took more time than drawing the
    data. Each chart clears the previous one's artists, sizes the figure for its panels
    and hides the panels it has no data for; the styling stays. One per thread, because
    a matplotlib figure is not safe to share between threads; the chart worker has one."""

    figure: Figure
    latency: Axes
    shares: Axes
    grid: Axes

    @staticmethod
    def of_this_thread() -> Template:
        template: Template | None = getattr(_templates, "template", None)
        if template is None:
            template = Template.prepare()
            _templates.template = template
        return template

    @staticmethod
    def prepare() -> Template:
        figure = Figure(figsize=(WIDTH_IN, 1.0), dpi=DPI, facecolor=BACKGROUND)
        SpriteCanvas(figure)
        # Distinct places, so add_axes makes three axes; each chart positions them.
        latency, shares, grid = (figure.add_axes((0.0, row / 3, 1.0, 1 / 3)) for row in range(3))
        for axes in (latency, shares, grid):
            _style(axes)
            # Every limit is set when drawn: no axes measures its data to find them.
            axes.set_autoscale_on(False)
        for axes in (latency, shares):
            # A faint line per run (drawn per chart) instead of tick marks and labels.
            axes.set_xticks([])
            axes.grid(True, axis="y", color=GRID, linewidth=0.6)
        return Template(figure, latency, shares, grid)

    def clear(self) -> None:
        """Remove the previous chart's data, limit lines and images; the axes, their
        ticks and their styling stay, and their legends until a chart needs another."""
        for axes in (self.latency, self.shares, self.grid):
            for artist in [*axes.lines, *axes.collections, *axes.images, *axes.patches, *axes.texts]:
                artist.remove()


_templates = threading.local()

#: Room around a text's measured box for what its glyphs draw outside it (bearings,
#: antialiasing), in pixels.
SPRITE_PAD = 4
#: Texts kept per thread: a chart has about 40; a worker drawing every phase of a few
#: checklists stays well below, and a full cache starts over.
SPRITES_KEPT = 2048

Sprite = tuple[np.ndarray, int, int]


class TextSprites(RendererAgg):
    """The Agg renderer, drawing each text once and copying its pixels after that.

    matplotlib renders text glyph by glyph, and text was half of a chart's drawing time.
    The charts of a phase repeat nearly all their texts run after run (the title, item
    names, legends, axis labels, most tick numbers), at the same places: each text is
    rendered once into a small transparent image, kept under everything that decides
    its pixels (string, font, colour, hinting and its position's fraction of a pixel),
    and blended in at its whole-pixel place, where the same glyphs would have landed.
    Rotated and mathematical text is drawn as usual. (matplotlib's Agg backend has no
    type annotations: calls into it are marked as untyped.)"""

    def __init__(self, width: float, height: float, dpi: float, sprites: dict[tuple[object, ...], Sprite]):
        super().__init__(width, height, dpi)  # type: ignore[no-untyped-call]
        self.sprites = sprites

    def draw_text(
        self,
        gc: GraphicsContextBase,
        x: float,
        y: float,
        s: str,
        prop: FontProperties,
        angle: float,
        ismath: bool | str = False,
        mtext: Text | None = None,
    ) -> None:
        features = getattr(mtext, "get_fontfeatures", lambda: None)()
        language = getattr(mtext, "get_language", lambda: None)()
        if ismath or angle != 0 or features or language:
            super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)  # type: ignore[no-untyped-call]
            return
        column, row = math.floor(x), math.floor(y)
        key = (
            s,
            prop,
            tuple(gc.get_rgb()),
            gc.get_alpha(),
            gc.get_antialiased(),
            x - column,
            y - row,
            self.height % 1,
            matplotlib.rcParams["text.hinting"],
            self.dpi,
        )
        sprite = self.sprites.get(key)
        if sprite is None:
            if len(self.sprites) >= SPRITES_KEPT:
                self.sprites.clear()
            sprite = self._render(gc, x - column, y - row, s, prop)
            # A text's font properties change in place (set_fontsize): kept as they are now.
            self.sprites[(s, prop.copy(), *key[2:])] = sprite
        image, left, baseline = sprite
        blend = self.new_gc()
        blend.copy_properties(gc)
        blend.set_alpha(1.0)  # the text's own alpha is in the image already
        # draw_image takes the image bottom row first, placed by its lower left corner.
        self.draw_image(blend, column - left, int(self.height) - (row - baseline + image.shape[0]), image)
        blend.restore()

    def _render(self, gc: GraphicsContextBase, dx: float, dy: float, s: str, prop: FontProperties) -> Sprite:
        width, height, descent = self.get_text_width_height_descent(s, prop, ismath=False)  # type: ignore[no-untyped-call]
        baseline = math.ceil(height - descent) + SPRITE_PAD
        rows = baseline + math.ceil(descent) + SPRITE_PAD
        # The same fraction of a pixel in its height as the figure's: FreeType places
        # glyphs from the bottom edge, the bitmap rows from the top.
        scratch = RendererAgg(math.ceil(width) + 2 * SPRITE_PAD, rows + self.height % 1, self.dpi)  # type: ignore[no-untyped-call]
        text_gc = scratch.new_gc()
        text_gc.copy_properties(gc)
        text_gc.set_clip_rectangle(None)
        text_gc.set_clip_path(None)
        scratch.draw_text(text_gc, SPRITE_PAD + dx, baseline + dy, s, prop, 0)  # type: ignore[no-untyped-call]
        text_gc.restore()
        image = np.asarray(scratch.buffer_rgba())[::-1].copy()  # type: ignore[no-untyped-call]
        return image, SPRITE_PAD, baseline


class SpriteCanvas(FigureCanvasAgg):
    """The Agg canvas with :class:`TextSprites` as its renderer."""

    def __init__(self, figure: Figure):
        super().__init__(figure)
        self.sprites: dict[tuple[object, ...], Sprite] = {}
        self.sized: tuple[TextSprites, tuple[int, int, float]] | None = None

    def get_renderer(self) -> RendererAgg:
        # Whole pixels: 4.1 in at 100 dpi is 409.99999999999994 pixels, and Agg cuts the
        # fraction off, a row short of the picture drawn for 410.
        width, height = (round(float(length)) for length in self.figure.bbox.size)
        size = (width, height, self.figure.dpi)
        if self.sized is None or self.sized[1] != size:  # a renderer is a pixel buffer of one size
            self.sized = (TextSprites(width, height, self.figure.dpi, self.sprites), size)
        self.renderer = self.sized[0]
        return self.sized[0]


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
    left_out: tuple[int, int] | None = None,
) -> None:
    """Per item its latency: the value its limit is on (``RESPONSE_TIME``, ``P95_MS``) if
    it has one, else how long its probe took, and the limit as a dashed line.
    ``left_out``: (drawn, observed) when only the slowest items are drawn; the legend says so."""
    highest = 0.0
    failed_x: list[float] = []
    failed_y: list[float] = []
    for item in items:
        own = [limit for limit in item_limits[item.id] if is_latency(limit.name)]
        name = _latency_name(item_limits[item.id])
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
    axes.set_ylabel(text(language, "chart_axis_ms"), color=INK, fontsize=8)
    handles: list[Artist] = [
        Line2D([], [], color=INK, linestyle="--", linewidth=1.3),
        Line2D([], [], color=FAILURE_MARK, marker="x", linestyle="", markersize=7, markeredgewidth=2),
    ]
    labels = [text(language, "chart_limit"), text(language, "chart_failed_mark")]
    if left_out is not None:
        handles.append(Line2D([], [], linestyle=""))
        labels.append(text(language, "chart_slowest", shown=left_out[0], total=left_out[1]))
    _legend(axes, handles, labels)


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
    axes.set_ylabel(text(language, "chart_axis_share"), color=INK, fontsize=8)
    handles, labels = axes.get_legend_handles_labels()
    _legend(axes, handles, labels, tuple(colours[limit.item_id] for limit in shares))


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
    axes.set_ylim(len(items) - 0.5, -0.5)  # the first item on top
    # Gaps between cells, so neighbouring runs of one status still read as runs; two
    # line collections, not a minor tick per cell boundary.
    between_runs = np.arange(1, len(history)) - 0.5
    between_items = np.arange(1, len(items)) - 0.5
    _rules(axes, _columns(between_runs, -0.5, len(items) - 0.5), BACKGROUND, 1.0)
    # Rows: the columns' segments with x and y swapped.
    _rules(axes, _columns(between_items, -0.5, len(history) - 0.5)[:, :, ::-1], BACKGROUND, 1.0)
    axes.set_yticks(range(len(items)), [_short(item.id) for item in items], fontsize=7)
    # The item names are the legend of the lines above: each in its line's colour.
    for label, item in zip(axes.get_yticklabels(), items, strict=True):
        label.set_color(line_colours.get(item.id, INK))
    legend = [Patch(color=STATUS_COLOURS[status], label=str(status)) for status in Status if status in seen]
    _legend(axes, legend, [str(patch.get_label()) for patch in legend])


def _columns(x: np.ndarray, bottom: float, top: float) -> np.ndarray:
    """Vertical segments at ``x`` from ``bottom`` to ``top``: shape (len(x), 2, 2)."""
    segments = np.empty((len(x), 2, 2))
    segments[:, :, 0] = np.asarray(x, dtype=float)[:, None]
    segments[:, 0, 1], segments[:, 1, 1] = bottom, top
    return segments


def _rules(axes: Axes, segments: np.ndarray, colour: str, width: float, **style: Any) -> None:
    """Straight lines as one collection, added without measuring its extent (``vlines``
    does, for autoscaling; these axes' limits are set by hand)."""
    axes.add_collection(
        LineCollection(list(segments), colors=colour, linewidths=width, **style), autolim=False
    )


def _legend(
    axes: Axes, handles: Sequence[Artist], labels: Sequence[str], look: tuple[object, ...] = ()
) -> None:
    """The legend right of the panel. A panel's legend mostly says the same chart after
    chart, and making one took a tenth of a chart's time: an equal one (the same labels;
    ``look`` holds what else decides the handles) is kept."""
    key = (tuple(labels), look)
    kept = axes.get_legend()
    if kept is not None and _LEGEND_KEYS.get(kept) == key:
        return
    if kept is not None:
        kept.remove()
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
    _LEGEND_KEYS[legend] = key


#: What each kept legend shows (see :func:`_legend`).
_LEGEND_KEYS: weakref.WeakKeyDictionary[Legend, tuple[object, ...]] = weakref.WeakKeyDictionary()


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10_000 and value.is_integer() else f"{value:g}"


def _short(name: str, width: int = 34) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _rgb(colour: str) -> tuple[float, float, float]:
    value = int(colour.lstrip("#"), 16)
    return ((value >> 16) / 255, ((value >> 8) & 0xFF) / 255, (value & 0xFF) / 255)


#: Characters of a phase's title a chart quotes (its title, drawn and posted, and its alt
#: text): a title runs across the image, and Slack refuses an image description over
#: 1,000 characters (``alt_txt_too_large``), which would lose the chart.
PHASE_TITLE_SHOWN = 100
ALT_TEXT_LIMIT = 1000


def _phase_name(phase: Phase) -> str:
    return clip(phase.title, PHASE_TITLE_SHOWN)


def _title(language: str, phase: Phase, runs: int) -> str:
    key = "chart_title_one" if runs == 1 else "chart_title_many"
    return text(language, key, phase=_phase_name(phase), runs=runs)


def png(drawing: Drawing) -> bytes:
    buffer = io.BytesIO()
    # Straight onto the Agg canvas: no layout pass (fixed margins were set when drawn).
    # Glyphs unhinted: matplotlib renders text glyph by glyph, and hinting each one was a
    # third of the text's time; at this size it moves strokes by a fraction of a pixel.
    # A fast zlib level: a third of the encoding time for a file a little larger.
    canvas = drawing.figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    with matplotlib.rc_context({"text.hinting": "no_hinting"}):
        canvas.print_png(buffer, pil_kwargs={"compress_level": 1})  # type: ignore[no-untyped-call]
    return buffer.getvalue()


def phase_chart(language: str, phase: Phase, history: Sequence[PhaseRun]) -> Chart | None:
    """The phase's chart; None when it would be empty, so nothing is uploaded for it."""
    drawing = draw(language, phase, history)
    if drawing is None:
        return None
    latest = history[-1].points
    counts = {status: 0 for status in Status}
    for point in latest.values():
        counts[point.status] += 1
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    lines, observed = len(drawing.colours), drawing.automated
    latency = (
        text(language, "chart_alt_latency_slowest", shown=lines, total=observed)
        if lines < observed
        else text(language, "chart_alt_latency")
    )
    panels = [
        described
        for described, drawn in (
            (latency, drawing.latency),
            (text(language, "chart_alt_shares"), drawing.shares),
            (text(language, "chart_alt_grid"), drawing.grid),
        )
        if drawn is not None
    ]
    described = (
        ", ".join(panels[:-1]) + f" {text(language, 'chart_alt_and')} {panels[-1]}"
        if len(panels) > 1
        else panels[0]
    )
    key = "chart_alt_one" if len(history) == 1 else "chart_alt_many"
    alt = text(language, key, phase=_phase_name(phase), runs=len(history), panels=described, latest=summary)
    alt = clip(alt, ALT_TEXT_LIMIT)
    return Chart(f"{phase.id}.png", _title(language, phase, len(history)), alt, png(drawing))
