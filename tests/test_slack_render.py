"""What people see on Slack: mrkdwn and blocks from the core's messages, and Slack's escaped
text back into the core's syntax. Every block list is checked with the stand-in's Block Kit
rules (the ones Slack applies), so a rendering Slack would refuse fails here already."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.slack.modals import ModalMeta, field_errors, modal, options_form, submitted
from adapters.slack.render import SECTION_MAX, escape, mrkdwn, posts
from adapters.slack.text_in import from_slack
from bot.bootstrap import build_registry
from bot.messages import (
    Choice,
    ChoiceStyle,
    FieldKind,
    Form,
    FormField,
    Hint,
    LineBreak,
    MemberAddress,
    Mention,
    Message,
    Moment,
    MomentStyle,
    Notice,
    Plain,
    Quote,
    Refusal,
    Reply,
    Strong,
)
from tests.standins.slack_spec import check_blocks, check_view
from tests.test_bad_input import INJECTIONS

ADA = MemberAddress("U0ALICE001", "Ada", "Europe/Berlin")
MASKED_LINKS = ("<https://evil.example|your calendar>", "<mailto:a@evil.example|support>",
                "<https://evil.example>")
#: Markup Slack would act on: a ping, a group ping, a mention, a channel link, a link.
ACTIVE = re.compile(r"<(?:!(?!date\^)|@|#|https?:|mailto:)")


def mrkdwn_texts(node: Any) -> list[str]:
    """Every mrkdwn text object's text in ``node`` (blocks, a view)."""
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    if not isinstance(node, dict):
        return []
    found = [node["text"]] if node.get("type") == "mrkdwn" else []
    return found + [t for value in node.values() for t in mrkdwn_texts(value)]


def test_escaping_turns_slacks_control_characters_into_entities() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"


@pytest.mark.parametrize("typed", [*INJECTIONS, *MASKED_LINKS, "<!subteam^S0ORGANIZE>",
                                   "<!everyone>", "<#C0GENERAL1|general>", "&lt;!here&gt;"])
def test_user_text_and_names_never_become_markup(typed: str) -> None:
    evil = MemberAddress("U0EVE00001", typed, "UTC")
    message = Message(
        (Plain(typed), LineBreak(), Quote(typed), LineBreak(), Notice(typed), Strong(typed),
         Mention(evil, ping=False)),
        (Choice(typed, "find x", id="mb:1:find x"),),
    )
    rendered = mrkdwn(message.segments)
    assert not ACTIVE.search(rendered), rendered
    for post in posts([message]):
        assert not ACTIVE.search(post.text)
        assert check_blocks(post.blocks) == []
        for text in mrkdwn_texts(post.blocks):  # plain_text (buttons) Slack never parses
            assert not ACTIVE.search(text), text


def test_a_mention_pings_only_when_the_core_asks() -> None:
    assert mrkdwn((Mention(ADA, ping=True),)) == "<@U0ALICE001>"
    assert mrkdwn((Mention(ADA, ping=False),)) == "*@Ada*"


def test_times_are_local_to_each_reader_with_a_fallback() -> None:
    at = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    assert mrkdwn((Moment(at, "Europe/Berlin"),)) == (
        "<!date^1772557200^{date_short_pretty} {time}|Tue 3 Mar 2026 18:00 CET>")
    assert mrkdwn((Moment(at, "UTC", MomentStyle.TIME),)).startswith("<!date^1772557200^{time}|")


def test_hints_read_as_slash_commands_and_quotes_as_quotes() -> None:
    segments = (Notice("Type "), Hint("accept 12"), Notice("."), LineBreak(),
                Quote("line one\n<b>two</b>"), LineBreak(), Strong(" Settings "))
    assert mrkdwn(segments) == (
        "Type `/mentor accept 12`.\n> line one\n> &lt;b&gt;two&lt;/b&gt;\n *Settings* ")


def test_long_replies_are_split_within_slacks_limits() -> None:
    long = Message(
        tuple(seg for i in range(1200) for seg in (Notice(f"line {i} " + "x" * 40), LineBreak())),
        tuple(Choice(f"Choice {i}", f"accept {i}", ChoiceStyle.PRIMARY, f"mb:1:accept {i}")
              for i in range(30)),
    )
    many = [long, long, long]
    rendered = posts(many)
    assert len(rendered) >= 2
    for post in rendered:
        assert len(post.blocks) <= 50 and check_blocks(post.blocks) == []
        for block in post.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= SECTION_MAX
            if block["type"] == "actions":
                assert len(block["elements"]) <= 25
    shown = "\n".join(b["text"]["text"] for p in rendered for b in p.blocks
                      if b["type"] == "section")
    assert shown.count("line 1199 ") == 3  # nothing lost
    values = [e["value"] for p in rendered for b in p.blocks if b["type"] == "actions"
              for e in b["elements"]]
    assert values.count("mb:1:accept 29") == 3


def test_help_fits_and_keeps_every_command() -> None:
    registry = build_registry()
    text = "\n".join(f"`{s.usage()}`: {s.summary}" for s in registry.commands)
    assert len(text) > SECTION_MAX
    [post] = posts([Message((Notice(text),))])
    assert check_blocks(post.blocks) == []
    assert "".join(b["text"]["text"] for b in post.blocks).count("`") == text.count("`")


@pytest.mark.parametrize(
    ("sent", "core"),
    [
        ("request <@U0ALICE001|alice> topic: python", "request <member:U0ALICE001> topic: python"),
        ("book <@U0ALICE001> when: Tue 18:00", "book <member:U0ALICE001> when: Tue 18:00"),
        ("settings set intros_channel <#C0INTROS01|intros>",
         "settings set intros_channel C0INTROS01"),
        ("settings set organizer_group <!subteam^S0ORGANIZE|@organizers>",
         "settings set organizer_group S0ORGANIZE"),
        ("find <!here> &amp; <!channel>", "find @here & @channel"),
        ("find &lt;@U0ALICE001&gt;", "find <@U0ALICE001>"),
        ("see <https://example.org|the docs> or <https://example.org>",
         "see the docs (https://example.org) or https://example.org"),
        ("a &amp;lt; b", "a &lt; b"),
        ("at <!date^1772557200^{time}|18:00>", "at 18:00"),
    ],
)
def test_slacks_escaped_text_becomes_the_cores_syntax(sent: str, core: str) -> None:
    assert from_slack(sent) == core


FORM = Form(
    "Ask Ada", "request <member:U0ALICE001>",
    (FormField("topic", "Topic", placeholder="e.g. python"),
     FormField("context", "Context", FieldKind.LONG_TEXT, max_length=1500, min_length=20),
     FormField("length", "Length", FieldKind.CHOICE, required=False, initial="30",
               options=("30", "60"))),
    submit_label="Send request", id="mb:1:request <member:U0ALICE001>",
)


def test_a_form_becomes_a_modal_with_one_input_per_field() -> None:
    meta = ModalMeta(form_id=FORM.id, channel="C0GENERAL1", response_url="https://x/y")
    view = modal(FORM, meta)
    assert check_view(view, expected_type="modal") == []
    assert [b["block_id"] for b in view["blocks"]] == ["topic", "context", "length"]
    assert view["blocks"][1]["element"]["multiline"] is True
    assert view["blocks"][1]["element"]["min_length"] == 20
    assert view["blocks"][2]["optional"] is True
    assert view["blocks"][2]["element"]["initial_option"]["value"] == "30"
    assert ModalMeta.decode(view["private_metadata"]) == meta
    assert ModalMeta.decode("not json") is None and ModalMeta.decode('{"channel": "C"}') is None


def test_submitted_values_and_refusals_under_their_field() -> None:
    view = modal(FORM, ModalMeta(form_id=FORM.id))
    view["state"] = {"values": {
        "topic": {"value": {"type": "plain_text_input", "value": "python"}},
        "context": {"value": {"type": "plain_text_input", "value": None}},
        "length": {"value": {"type": "static_select", "selected_option": {"value": "60"}}},
    }}
    assert submitted(view) == {"topic": "python", "context": None, "length": "60"}
    refused = Reply((), Refusal("The context is too short.", "Write 20 characters.", "context"))
    assert field_errors(refused, view) == {"context": "The context is too short. Write 20 "
                                                      "characters."}
    elsewhere = Reply((), Refusal("You have 3 open requests already."))
    assert field_errors(elsewhere, view) == {"topic": "You have 3 open requests already."}


def test_every_command_with_required_values_has_a_valid_options_modal() -> None:
    for spec in build_registry().commands:
        if not any(p.in_form for p in spec.params):
            continue
        view = modal(options_form(spec), ModalMeta(verb=spec.verb))
        assert check_view(view, expected_type="modal") == [], spec.verb
