"""The core's messages as Discord markdown: what a reader sees, and what can never happen.

Rendering is checked on its own here (no network); the same rendering is what the journeys and
delivery tests see arriving at the stand-in Discord.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from adapters.discord.buttons import view_of
from adapters.discord.commands import CommandBook
from adapters.discord.render import MAX_BUTTONS, MAX_CHARS, Renderer, pack
from bot.bootstrap import build_registry
from bot.messages import (
    Choice,
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
    Strong,
)
from tests.discord_harness import shown

GUILD = "1187400000000000100"
ALICE = MemberAddress("1187400000000000402", "Alice")
RAW_MARKUP = re.compile(r"(?<!\\)(<|://|\[)")


def renderer(*, synced: bool = True) -> Renderer:
    book = CommandBook(build_registry())
    if synced:
        book.remember_ids([{"name": "mentor", "id": "111"}, {"name": "session", "id": "222"}],
                          GUILD)
    return Renderer(book)


def test_user_text_is_shown_as_typed_and_can_do_nothing() -> None:
    typed = ("@everyone @here <@&1187400000000000301> <@1187400000000000401> "
             "[free money](https://evil.example) https://evil.example/x <t:0:F> "
             "</mentor accept:111> **bold** `code` ||spoiler|| # heading \\*")
    for segment in (Plain(typed), Quote(typed), Strong(typed)):
        content = renderer().text((segment,), GUILD)
        assert "@everyone" not in content and "@here" not in content
        assert RAW_MARKUP.search(content) is None, content
        assert "||" not in content.replace("\\|", "")
        assert typed in shown(content)
    quoted = renderer().text((Quote("line one\n> line two"),), GUILD)
    assert quoted.splitlines() == ["> line one", "> \\> line two"]


def test_a_mention_pings_only_when_the_core_says_so() -> None:
    r = renderer()
    quiet = r.parts(Message((Mention(ALICE, ping=False), Notice(" wrote"))), GUILD)[0]
    assert (quiet.content, quiet.pinged) == ("@Alice wrote", ())
    loud = r.parts(Message((Mention(ALICE, ping=True), Notice(", meet"))), GUILD)[0]
    assert (loud.content, loud.pinged) == (f"<@{ALICE.platform_user_id}>, meet",
                                           (ALICE.platform_user_id,))
    named_everyone = MemberAddress("1187400000000000499", "everyone")
    assert r.text((Mention(named_everyone),), GUILD) == "@\u200beveryone"


def test_times_are_discord_timestamps_each_reader_sees_in_their_zone() -> None:
    at = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    r = renderer()
    assert r.text((Moment(at, "Europe/Berlin"),), GUILD) == "<t:1795626000:F>"
    assert r.text((Moment(at, "UTC", MomentStyle.RELATIVE),), GUILD) == "<t:1795626000:R>"
    assert r.text((Moment(at, "UTC", MomentStyle.TIME),), GUILD) == "<t:1795626000:t>"


def test_hints_are_clickable_commands_once_synced() -> None:
    assert renderer().text((Hint("confirm 12"),), GUILD) == "</session confirm:222> `12`"
    assert renderer().text((Hint("mentor edit"),), GUILD) == "</mentor edit:111>"
    assert renderer().text((Hint("confirm 12"),), None) == "</session confirm:222> `12`", \
        "in a DM: the ids of the one server the commands were synced to"
    assert renderer(synced=False).text((Hint("confirm 12"),), GUILD) == \
        "`/session confirm 12`"
    assert renderer().text((Hint("public: yes"),), GUILD) == "`public: yes`"
    said = renderer().text((Notice("Type `my` to see it, or `off`."),), GUILD)
    assert said == "Type </mentor my:111> to see it, or `off`."


async def test_long_messages_are_cut_within_discords_limits() -> None:
    # async: discord.py's views need a running loop, as they have when the bot sends them
    lines: list[Notice | Plain | LineBreak] = []
    for n in range(120):
        lines += [Plain(f"line {n:03} " + "x" * 30), LineBreak()]
    choices = tuple(Choice(f"Option {n}", f"pick 1 {n}", id=f"mb:1:pick 1 {n}")
                    for n in range(30))
    parts = renderer().parts(Message(tuple(lines), choices), GUILD)
    assert len(parts) >= 3
    assert all(len(p.content) <= MAX_CHARS and len(p.choices) <= MAX_BUTTONS for p in parts)
    text = "\n".join(shown(p.content) for p in parts)
    assert all(f"line {n:03}" in text for n in range(120))
    assert [c.label for p in parts for c in p.choices] == [c.label for c in choices]
    view = view_of(parts[-2].choices)
    assert view is not None and len(view.to_components()) == 5, "5 rows of 5 buttons"
    assert view.is_finished(), "never kept in discord.py's view store"


def test_text_only_messages_travel_together() -> None:
    first = Message((Notice("one"),))
    second = Message((Notice("two"),), (Choice("Go", "my", id="mb:1:my"),))
    third = Message((Notice("three"),))
    packed = pack([first, second, third])
    assert [m.plain_text() for m in packed] == ["one\n\ntwo", "three"]
    assert packed[0].choices == second.choices
