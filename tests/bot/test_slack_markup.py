"""No text that people, servers, the checklist or the database wrote is ever Slack markup:
every message type rendered with hostile text in every such field, in both languages."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golive.bot.render import mrkdwn

from .every_message import (
    HOSTILE,
    LANGUAGES,
    displayed,
    every_message,
    foreign_markup,
    mrkdwn_texts,
    own_mentions,
    own_urls,
)

fragments = st.one_of(
    st.sampled_from(HOSTILE),
    # The loader reads the checklist as YAML, which carries no characters beyond U+FFFD.
    st.text(st.characters(max_codepoint=0xFFFD, exclude_categories=["Cs"]), max_size=12),
)
hostile_text = st.lists(fragments, min_size=1, max_size=4).map("".join)


def assert_no_foreign_markup(value: str, language: str) -> None:
    for rendered in every_message(value, language):
        for where, mrkdwn_text in mrkdwn_texts(rendered):
            assert foreign_markup(mrkdwn_text, (*own_urls(value), *own_mentions(value))) == [], (
                f"{where} lets markup through: {mrkdwn_text[:300]!r}"
            )
            # Text typed as an entity is shown as typed, not as the character it names.
            assert "<b>" not in displayed(mrkdwn_text), where


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile_text, language=st.sampled_from(LANGUAGES))
def test_no_user_text_survives_as_markup(value: str, language: str) -> None:
    assert_no_foreign_markup(value, language)


def test_every_hostile_string_in_every_field_is_escaped() -> None:
    for value in HOSTILE[:-1]:
        for language in LANGUAGES:
            assert_no_foreign_markup(value, language)


def test_user_text_is_shown_as_written() -> None:
    value = "<!channel> & <@U123>"
    shown = "".join(
        displayed(text) for rendered in every_message(value) for _, text in mrkdwn_texts(rendered)
    )
    assert shown.count(value) > 20


def test_evidence_links_are_one_valid_http_url() -> None:
    assert mrkdwn.link_problem("https://x.example/a?b=1&c=2") is None
    assert mrkdwn.link_problem("https://x.example/a b<!channel>|click>") == "space"
    assert mrkdwn.link_problem("https://x.example/a|click") == "bar"
    assert mrkdwn.link_problem("https://x.example/<!channel>") == "angle"
    assert mrkdwn.link_problem("https://x.example/\u200b") == "space"
    assert mrkdwn.link_problem("ftp://x.example/") == "scheme"
    assert mrkdwn.link_problem("javascript:alert(1)") == "scheme"
    assert mrkdwn.link_problem("https:///path") == "host"
    assert mrkdwn.link_problem("https://x.example/" + "a" * 3000) == "long"
    assert mrkdwn.link("https://x.example/?a=1&b=2", "<!here> proof") == (
        "<https://x.example/?a=1&amp;b=2|&lt;!here&gt; proof>"
    )
    assert "<" not in mrkdwn.link("https://x.example/a b|<!channel>", "proof")


def test_mentions_only_of_slack_ids() -> None:
    assert mrkdwn.mention("U0DEVOPS") == "<@U0DEVOPS>"
    assert mrkdwn.mention("W0GRID42") == "<@W0GRID42>"
    assert mrkdwn.mention("alice") == "alice"
    assert mrkdwn.mention("U1><!channel") == "U1&gt;&lt;!channel"
    assert mrkdwn.usergroup("S0DEVOPS") == "<!subteam^S0DEVOPS>"
    assert mrkdwn.usergroup("!channel") == "!channel"
