"""The core's messages as Slack mrkdwn and Block Kit.

Why it is careful: Slack turns ``<!channel>``, ``<!here>``, ``<@U…>``, ``<!subteam^…>`` and
``<https://…|text>`` into pings and links, so every piece of text is escaped (``&``, ``<``,
``>``) and sections are ``verbatim`` (Slack then links no bare URL or ``#name`` either). The
only markup that reaches Slack is the renderer's own: bold, quotes, a real mention where the
core asked for a ping, and ``<!date^…>`` so each reader sees a time in their own zone. A
mention that must not ping is bold ``@name``: a Slack mention always notifies.

Blocks are built with ``slack_sdk.models.blocks`` and turned into dicts with ``to_dict()``,
which checks Slack's limits before anything is sent. Long messages are cut with the core's
``split_message`` (3,000 characters per section, 25 buttons per actions block) and packed into
posts of at most 50 blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.messages import (
    Choice,
    ChoiceStyle,
    Hint,
    LineBreak,
    Mention,
    Message,
    Moment,
    MomentStyle,
    Notice,
    Plain,
    Quote,
    Segment,
    Strong,
    split_message,
)
from bot.text import shorten

log = logging.getLogger(__name__)

COMMAND = "/mentor"
SECTION_MAX = 3000
BUTTONS_MAX = 25
BLOCKS_MAX = 50
BUTTON_TEXT_MAX = 75
FALLBACK_MAX = 3000
CHOICE_ACTION = "mentorbot.choice"
"""Prefix of every core button's ``action_id`` (``mentorbot.choice.3``); the value is the
core's ``Choice.id``."""

_MOMENT_FORMATS = {
    MomentStyle.DATE_TIME: "{date_short_pretty} {time}",
    MomentStyle.DATE: "{date_short_pretty}",
    MomentStyle.TIME: "{time}",
    MomentStyle.RELATIVE: "{ago}",
}
_STYLES = {ChoiceStyle.PRIMARY: "primary", ChoiceStyle.DANGER: "danger"}


def escape(text: str) -> str:
    """Text Slack shows literally: its three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hint(command: str) -> str:
    """A command the reader could type, as they would type it in Slack."""
    return f"`{COMMAND} {escape(command)}`"


def _bold(text: str) -> str:
    """Bold that survives Slack's rule that ``*`` may not sit next to a space inside."""
    core = text.strip()
    if not core:
        return escape(text)
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()):]
    return f"{lead}*{escape(core)}*{trail}"


def _moment(moment: Moment) -> str:
    unix = int(moment.at.timestamp())
    fallback = escape(moment.fallback_text())
    return f"<!date^{unix}^{_MOMENT_FORMATS[moment.style]}|{fallback}>"


def _mention(mention: Mention) -> str:
    if mention.ping:
        return f"<@{mention.member.platform_user_id}>"
    return _bold("@" + mention.member.display_name)


def _quote(text: str) -> str:
    lines = text.splitlines() or [""]
    return "\n".join(f"> {escape(line)}" if line else ">" for line in lines)


def mrkdwn(segments: Iterable[Segment]) -> str:
    """Segments as Slack mrkdwn; nothing a person wrote can become markup."""
    out: list[str] = []
    for seg in segments:
        if isinstance(seg, Notice | Plain):
            out.append(escape(seg.text))
        elif isinstance(seg, Strong):
            out.append(_bold(seg.text))
        elif isinstance(seg, Quote):
            out.append(_quote(seg.text))
        elif isinstance(seg, Mention):
            out.append(_mention(seg))
        elif isinstance(seg, Moment):
            out.append(_moment(seg))
        elif isinstance(seg, LineBreak):
            out.append("\n")
        elif isinstance(seg, Hint):
            out.append(hint(seg.command))
    return "".join(out)


def measure(segments: Sequence[Segment]) -> int:
    """Length as Slack counts a section's text: the rendered mrkdwn."""
    return len(mrkdwn(segments))


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text, verbatim=True))


def button(choice: Choice, action_id: str) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=shorten(choice.label, BUTTON_TEXT_MAX), emoji=True),
        action_id=action_id,
        value=choice.id,
        style=_STYLES.get(choice.style),
    )


class Numbering:
    """Unique ids within one post (Slack wants unique action ids and block ids)."""

    def __init__(self) -> None:
        self.choices = 0
        self.blocks = 0

    def choice(self) -> str:
        self.choices += 1
        return f"{CHOICE_ACTION}.{self.choices}"

    def block(self) -> str:
        self.blocks += 1
        return f"mentorbot.actions.{self.blocks}"


def message_blocks(message: Message, numbers: Numbering | None = None) -> list[Block]:
    """One core message as blocks: its text in sections, its choices as buttons."""
    numbers = numbers or Numbering()
    blocks: list[Block] = []
    whole = mrkdwn(message.segments)
    if len(whole) <= SECTION_MAX and len(message.choices) <= BUTTONS_MAX:
        parts = [message]  # the usual case: no cutting to do
    else:
        parts = split_message(
            message, max_chars=SECTION_MAX, max_choices=BUTTONS_MAX, measure=measure
        )
    for part in parts:
        text = whole if part is message else mrkdwn(part.segments)
        if text.strip():
            blocks.append(section(text))
        if part.choices:
            blocks.append(ActionsBlock(
                block_id=numbers.block(),
                elements=[button(c, numbers.choice()) for c in part.choices],
            ))
    return blocks


@dataclass(frozen=True)
class Post:
    """One Slack message: the notification ``text`` and the ``blocks`` shown."""

    text: str
    blocks: list[dict[str, Any]]


def fallback_text(messages: Sequence[Message]) -> str:
    """The ``text`` Slack shows in notifications and to screen readers (escaped, short)."""
    text = "\n".join(mrkdwn(m.segments) for m in messages).strip()
    return shorten(text, FALLBACK_MAX) if text else "(mentorbot)"


def posts(messages: Sequence[Message]) -> list[Post]:
    """The messages as few Slack posts as the 50-block limit allows, in order."""
    out: list[Post] = []
    blocks: list[Block] = []
    shown: list[Message] = []
    numbers = Numbering()
    for message in messages:
        mine = message_blocks(message, numbers)
        if blocks and len(blocks) + len(mine) + 1 > BLOCKS_MAX:
            out.append(_post(shown, blocks))
            blocks, shown, numbers = [], [], Numbering()
            mine = message_blocks(message, numbers)
        if blocks and mine:
            blocks.append(DividerBlock())
        while len(mine) > BLOCKS_MAX:  # one enormous message: cut it into several posts
            out.append(_post([message], mine[:BLOCKS_MAX]))
            mine = mine[BLOCKS_MAX:]
        blocks.extend(mine)
        shown.append(message)
    if blocks:
        out.append(_post(shown, blocks))
    return out


def _post(messages: Sequence[Message], blocks: Sequence[Block]) -> Post:
    return Post(fallback_text(messages), [b.to_dict() for b in blocks])


def chosen(blocks: Sequence[dict[str, Any]], block_id: str, label: str) -> list[dict[str, Any]]:
    """``blocks`` with the actions block ``block_id`` replaced by a line saying what was
    chosen: those buttons no longer act."""
    note = ContextBlock(elements=[MarkdownTextObject(
        text=f"✅ You chose {_bold(label)}.", verbatim=True,
    )]).to_dict()
    out: list[dict[str, Any]] = []
    for block in blocks:
        out.append(note if block.get("block_id") == block_id else block)
    return out
