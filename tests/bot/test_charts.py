"""The phase chart, looked at pixel by pixel: rendered PNGs, decoded, and the colour at the
place where a limit line, a failure cross or a status cell must be."""

from __future__ import annotations

import gc
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from golive.bot.render import charts
from golive.checks.loader import load, loads
from golive.checks.model import Checklist
from golive.checks.status import Status
from golive.storage import ChartPoint, PhaseRun

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HEALTH = "health-checks"  # [STATUS] == 200, [RESPONSE_TIME] < 1000
REPLICATION = "postgres-replication"  # [MAX_REPLAY_LAG_BYTES] < 16777216


@pytest.fixture(scope="module")
def checklist() -> Checklist:
    return load(ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml", env={})


def english(checklist: Checklist) -> Checklist:
    return checklist.model_copy(update={"release": checklist.release.model_copy(update={"language": "en"})})


def run(run_id: int, **points: ChartPoint) -> PhaseRun:
    return PhaseRun(run_id, T0 + timedelta(minutes=15 * run_id), points)


def health(status: Status, response_ms: float) -> ChartPoint:
    return ChartPoint(status, response_ms + 3, {"STATUS": 200, "RESPONSE_TIME": response_ms}, "https://x")


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def at(drawing: charts.Drawing, axes: Axes, x: float, y: float) -> tuple[int, int]:
    """(row, column) of a data point in the rendered image."""
    column, row_from_bottom = axes.transData.transform((x, y))
    height = round(drawing.figure.get_figheight() * drawing.figure.dpi)
    return height - round(row_from_bottom), round(column)


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])


def near(image: np.ndarray, where: tuple[int, int], colour: str, radius: int = 3) -> bool:
    row, column = where
    patch = image[row - radius : row + radius + 1, column - radius : column + radius + 1]
    return bool((np.abs(patch - rgb(colour)).sum(axis=2) <= 60).any())


def share_of_row(image: np.ndarray, row: int, columns: range, colour: str) -> float:
    band = image[row - 1 : row + 2, columns.start : columns.stop]
    hits = (np.abs(band - rgb(colour)).sum(axis=2) <= 60).any(axis=0)
    return float(hits.mean())


def render(
    checklist: Checklist, history: list[PhaseRun], phase: str = "p2"
) -> tuple[charts.Drawing, np.ndarray]:
    drawing = charts.draw(checklist.release.language, checklist.phase(phase), history)
    assert drawing is not None
    return drawing, pixels(charts.png(drawing))


def test_a_limit_is_a_line_in_its_items_colour_and_failures_are_crossed(checklist: Checklist) -> None:
    # An outage answers fast: 45 ms 503s must not read as an improvement.
    history = [
        run(1, **{HEALTH: health(Status.PASS, 420)}),
        run(2, **{HEALTH: health(Status.FAIL, 45)}),
        run(3, **{HEALTH: health(Status.PASS, 4000)}),
        run(4, **{HEALTH: health(Status.PASS, 380)}),
    ]
    drawing, image = render(checklist, history)
    assert drawing.latency is not None
    colour = drawing.colours[HEALTH]
    left = at(drawing, drawing.latency, -0.4, 1000)
    right = at(drawing, drawing.latency, 3.4, 1000)
    # Dashed: most, not all, of the row at 1000 ms is the item's colour; a row well away
    # from the limit and from the line is not.
    assert share_of_row(image, left[0], range(left[1], right[1]), colour) > 0.4
    clear = at(drawing, drawing.latency, 0, 2500)
    assert share_of_row(image, clear[0], range(left[1], right[1]), colour) < 0.1

    assert near(image, at(drawing, drawing.latency, 1, 45), charts.FAILURE_MARK)
    for passed in ((0, 420), (2, 4000), (3, 380)):
        assert not near(image, at(drawing, drawing.latency, *passed), charts.FAILURE_MARK)

    # Headroom: the 4,000 ms spike is drawn inside the frame, below its top edge.
    spike_row, _ = at(drawing, drawing.latency, 2, 4000)
    top_row, _ = at(drawing, drawing.latency, 2, drawing.latency.get_ylim()[1])
    assert spike_row - top_row > 10


def test_a_lag_is_drawn_against_its_limit_as_a_share(checklist: Checklist) -> None:
    lag = 16777216
    history = [
        run(n, **{REPLICATION: ChartPoint(status, 10, {"MAX_REPLAY_LAG_BYTES": value})})
        for n, status, value in (
            (1, Status.PASS, lag * 0.2),
            (2, Status.FAIL, lag * 1.5),
            (3, Status.PASS, 0),
        )
    ]
    drawing, image = render(checklist, history)
    assert drawing.shares is not None
    colour = drawing.colours[REPLICATION]
    left, right = at(drawing, drawing.shares, -0.4, 100), at(drawing, drawing.shares, 2.4, 100)
    assert share_of_row(image, left[0], range(left[1], right[1]), colour) > 0.4
    assert near(image, at(drawing, drawing.shares, 1, 150), charts.FAILURE_MARK)
    assert near(image, at(drawing, drawing.shares, 0, 20), colour)


def test_every_status_has_its_colour_in_its_cell(checklist: Checklist) -> None:
    phase = checklist.phase("p2")
    items = [item.id for section in phase.sections for item in section.items]
    statuses = list(Status)
    # Run r gives item i the status (i + r) mod 8: every status in every run and row.
    history = [
        run(
            10 + r,
            **{item: ChartPoint(statuses[(i + r) % len(statuses)], 20.0, {}) for i, item in enumerate(items)},
        )
        for r in range(3)
    ]
    drawing, image = render(checklist, history)
    assert drawing.grid_items == items
    for r in range(3):
        for i in range(len(items)):
            row, column = at(drawing, drawing.grid, r, i)
            expected = rgb(charts.STATUS_COLOURS[statuses[(i + r) % len(statuses)]])
            assert (np.abs(image[row, column] - expected) <= 3).all(), (items[i], r)


def test_a_phase_only_run_leaves_no_gap_in_another_phase(checklist: Checklist) -> None:
    # Runs 1, 5 and 9 observed P2 (runs between were phase-only runs of other phases):
    # they sit side by side and the line joins them.
    history = [run(n, **{HEALTH: health(Status.PASS, 300)}) for n in (1, 5, 9)]
    drawing, image = render(checklist, history)
    assert drawing.runs == [1, 5, 9]
    assert drawing.latency is not None
    assert near(image, at(drawing, drawing.latency, 0.5, 300), drawing.colours[HEALTH], radius=1)
    assert [label.get_text() for label in drawing.grid.get_xticklabels()] == ["1", "5", "9"]


def test_a_single_run_is_drawn_whole(checklist: Checklist) -> None:
    drawing, image = render(checklist, [run(7, **{HEALTH: health(Status.PASS, 300)})])
    assert drawing.latency is not None
    row, column = at(drawing, drawing.latency, 0, 300)
    left_edge = at(drawing, drawing.latency, drawing.latency.get_xlim()[0], 300)[1]
    assert column - left_edge > 20  # the marker is well inside the frame
    assert near(image, (row, column), drawing.colours[HEALTH], radius=1)


def test_a_phase_nobody_observed_has_no_chart(checklist: Checklist) -> None:
    assert charts.phase_chart(checklist.release.language, checklist.phase("p2"), []) is None
    only_p1 = [run(1, **{"some-p1-item": health(Status.PASS, 1)})]
    assert charts.phase_chart(checklist.release.language, checklist.phase("p2"), only_p1) is None


@pytest.mark.parametrize(
    ("language", "one", "three"),
    [
        ("en", "of the last run", "of the last 3 runs"),
        ("de", "des letzten Laufs", "der letzten 3 Läufe"),
    ],
)
def test_titles_and_alt_text_count_runs_grammatically(
    checklist: Checklist, language: str, one: str, three: str
) -> None:
    chosen = english(checklist) if language == "en" else checklist
    history = [run(n, **{HEALTH: health(Status.FAIL if n == 3 else Status.PASS, 300)}) for n in (1, 2, 3)]
    single = charts.phase_chart(chosen.release.language, chosen.phase("p2"), history[-1:])
    several = charts.phase_chart(chosen.release.language, chosen.phase("p2"), history)
    assert single is not None and several is not None
    assert one in single.title and "1 run" not in single.alt_text and "1 Läufe" not in single.alt_text
    assert three in several.title
    assert "1 FAIL" in several.alt_text
    if language == "en":  # it describes the panels drawn: no rates or lags here
        assert "red crosses and a status grid of items by run" in several.alt_text
        assert "share" not in several.alt_text
    assert several.png.startswith(b"\x89PNG") and several.filename == "p2.png"


def test_a_chart_drawn_after_another_shows_nothing_of_it(checklist: Checklist) -> None:
    # The thread's figure is drawn into chart after chart: the second chart, drawn right
    # after one with rates, failures and more statuses, is pixel for pixel the chart a
    # fresh worker draws, and the figure count does not grow with the charts drawn.
    lag = 16777216
    busy = [
        run(
            n,
            **{
                HEALTH: health(Status.FAIL if n == 2 else Status.PASS, 400 * n),
                REPLICATION: ChartPoint(Status.WARN, 10, {"MAX_REPLAY_LAG_BYTES": lag * 0.3 * n}),
            },
        )
        for n in range(1, 6)
    ]
    quiet = [run(n, **{HEALTH: health(Status.PASS, 300)}) for n in (7, 8)]

    def fresh_worker() -> np.ndarray:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(lambda: render(checklist, quiet)[1]).result()

    expected = fresh_worker()
    busy_drawing, _ = render(checklist, busy)
    assert busy_drawing.shares is not None
    drawing, image = render(checklist, quiet)
    assert drawing.figure is busy_drawing.figure  # the same figure, drawn into again
    assert drawing.shares is None and not charts.Template.of_this_thread().shares.get_visible()
    assert drawing.latency is not None and len(drawing.latency.lines) == 2  # its line and limit
    legend = drawing.grid.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["PASS"]
    assert image.shape == expected.shape
    assert (image == expected).all()

    gc.collect()
    figures = sum(isinstance(thing, Figure) for thing in gc.get_objects())
    for _ in range(5):
        render(checklist, busy)
        render(checklist, quiet)
    gc.collect()
    assert sum(isinstance(thing, Figure) for thing in gc.get_objects()) == figures


def test_texts_copied_from_earlier_charts_look_as_if_drawn_anew(checklist: Checklist) -> None:
    # Each text is rendered once per worker and its pixels copied after that: the chart
    # (its second drawing, every text copied) is the one matplotlib's own text rendering
    # draws, up to rounding in a few antialiased pixels; a text one pixel off would
    # differ in hundreds.
    history = [
        run(n, **{HEALTH: health(Status.FAIL if n == 3 else Status.PASS, 100 * n)}) for n in range(1, 5)
    ]

    def in_a_fresh_worker() -> tuple[np.ndarray, np.ndarray]:
        drawing, _ = render(checklist, history)
        copied = pixels(charts.png(drawing))
        FigureCanvasAgg(drawing.figure)  # matplotlib's own canvas for this figure
        with matplotlib.rc_context({"text.hinting": "no_hinting"}):
            drawing.figure.savefig(buffer := io.BytesIO(), format="png")
        return copied, pixels(buffer.getvalue())

    with ThreadPoolExecutor(1) as pool:
        copied, drawn = pool.submit(in_a_fresh_worker).result()
    assert copied.shape == drawn.shape
    differing = (np.abs(copied - drawn) > 0).any(axis=2)
    assert np.abs(copied - drawn).max() <= 3
    assert differing.sum() < 50


def many_items(count: int, language: str = "en") -> Checklist:
    """One phase of ``count`` http items, ``i00`` … in order."""
    items = "\n".join(
        f"          - {{id: i{n:02d}, title: Item {n}, probe: {{type: http, url: 'https://svc.example/{n}'}}}}"
        for n in range(count)
    )
    return loads(
        f"""
release: {{name: Shop, version: "2.0", language: {language}}}
phases:
  - id: big
    title: Big
    sections:
      - id: all
        title: All
        items:
{items}
"""
    )


def timed(status: Status, ms: float) -> ChartPoint:
    return ChartPoint(status, ms, {"STATUS": 200}, "https://svc.example")


@pytest.mark.parametrize(
    ("language", "note", "alt"),
    [
        ("en", "lines: the 10 slowest\nof 30 items", "of the 10 slowest of 30 items"),
        ("de", "Linien: die 10 langsamsten\nvon 30 Punkten", "der 10 langsamsten von 30 Punkten"),
    ],
)
def test_a_phase_of_many_items_draws_the_slowest_as_lines_and_names_them_all_in_the_grid(
    language: str, note: str, alt: str
) -> None:
    """One line per colour: with more items than colours, lines of one colour could not be
    told apart. The ten slowest (in the newest run that observed each) are drawn; the grid
    still has every item, the names of those not drawn in ink."""
    checklist = many_items(30, language)
    # i05 was the slowest of all, observed only in the first run; i29 … i21 are slow now.
    first = run(1, **{f"i{n:02d}": timed(Status.PASS, 5000 if n == 5 else n) for n in range(30)})
    later = [run(r, **{f"i{n:02d}": timed(Status.PASS, 10 * n) for n in range(30) if n != 5}) for r in (2, 3)]
    drawing, _ = render(checklist, [first, *later], phase="big")
    expected = ["i05", *(f"i{n:02d}" for n in range(21, 30))]
    assert list(drawing.colours) == expected
    assert drawing.latency is not None
    lines = [line for line in drawing.latency.get_lines() if line.get_marker() == "o"]
    assert len(lines) == 10
    assert len(set(drawing.colours.values())) == 10, "each line its own colour"
    assert drawing.grid_items == [f"i{n:02d}" for n in range(30)]
    names = {label.get_text(): label.get_color() for label in drawing.grid.get_yticklabels()}
    assert names["i29"] == drawing.colours["i29"] and names["i00"] == charts.INK
    legend = drawing.latency.get_legend()
    assert legend is not None and note in [entry.get_text() for entry in legend.get_texts()]
    chart = charts.phase_chart(language, checklist.phase("big"), [first, *later])
    assert chart is not None and alt in chart.alt_text


def test_a_phase_with_as_many_items_as_colours_draws_every_line() -> None:
    checklist = many_items(len(charts.ITEM_COLOURS))
    history = [run(r, **{f"i{n:02d}": timed(Status.PASS, 10 * n) for n in range(10)}) for r in (1, 2)]
    drawing, _ = render(checklist, history, phase="big")
    assert len(drawing.colours) == 10
    legend = drawing.latency.get_legend() if drawing.latency is not None else None
    assert legend is not None and not any("slowest" in t.get_text() for t in legend.get_texts())
    chart = charts.phase_chart("en", checklist.phase("big"), history)
    assert chart is not None and "slowest" not in chart.alt_text
