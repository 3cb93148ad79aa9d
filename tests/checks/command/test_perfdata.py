"""Parsing monitoring-plugin output and perfdata (pure functions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from golive.checks.families.command import PerfDatum, parse_output, parse_perfdata


def test_full_item_with_quoted_label() -> None:
    data, malformed = parse_perfdata("'free space'=42%;80;90;0;100")
    assert data == [PerfDatum("free space", 42, "%", "80", "90", 0, 100)]
    assert malformed == []


def test_doubled_quote_is_a_literal_quote_and_labels_may_hold_equals() -> None:
    data, _ = parse_perfdata("'it''s ''quoted'''=1 'a=b'=2c")
    assert [(d.label, d.value, d.uom) for d in data] == [("it's 'quoted'", 1, ""), ("a=b", 2, "c")]


def test_empty_fields_trailing_semicolons_and_unknown() -> None:
    data, malformed = parse_perfdata("time=0.5s;;;; load=U;5;10 rta=U")
    assert malformed == []
    assert data == [
        PerfDatum("time", 0.5, "s"),
        PerfDatum("load", None, "", "5", "10"),
        PerfDatum("rta", None, ""),
    ]


def test_threshold_ranges_are_kept_as_written() -> None:
    (datum,), _ = parse_perfdata("users=3;~:10;@10:20;0")
    assert (datum.warn, datum.crit, datum.min, datum.max) == ("~:10", "@10:20", 0, None)


def test_units_negative_exponent_and_decimal_comma() -> None:
    data, _ = parse_perfdata("/=2643MB;5948;5958;0MB;5968MB temp=-4.5 big=1e3B ratio=0,25")
    assert [(d.label, d.value, d.uom) for d in data] == [
        ("/", 2643, "MB"),
        ("temp", -4.5, ""),
        ("big", 1000.0, "B"),
        ("ratio", 0.25, ""),
    ]
    assert (data[0].min, data[0].max) == (0, 5968)


def test_malformed_items_are_reported_and_skipped() -> None:
    data, malformed = parse_perfdata("ok=1 nonsense x=abc =5 good=2 'unclosed=3 more=4")
    assert [d.label for d in data] == ["ok", "good"]
    assert malformed == ["nonsense", "x=abc", "=5", "'unclosed=3 more=4"]


def test_output_with_long_text_and_perfdata_on_several_lines() -> None:
    parsed = parse_output(
        "PING OK - rta 0.1ms | rta=0.1ms;100;500;0\n"
        "line two\n"
        "line three | pl=0%;20;60;0;100\n"
        "'jitter ms'=0.02ms\r\n"
    )
    assert parsed.text == "PING OK - rta 0.1ms"
    assert parsed.long_text == "line two\nline three"
    assert [d.label for d in parsed.perfdata] == ["rta", "pl", "jitter ms"]
    assert parsed.malformed == ()


def test_output_without_perfdata_or_at_all() -> None:
    assert parse_output("HTTP OK\nsecond line\n") == parse_output("HTTP OK \nsecond line")
    assert parse_output("HTTP OK\nsecond line\n").long_text == "second line"
    empty = parse_output("")
    assert (empty.text, empty.long_text, empty.perfdata) == ("", "", ())


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1))
def test_any_quoted_label_round_trips(label: str) -> None:
    quoted = "'" + label.replace("'", "''") + "'"
    data, malformed = parse_perfdata(f"{quoted}=1;2;3 next=4")
    assert malformed == []
    assert [(d.label, d.value) for d in data] == [(label, 1), ("next", 4)]
