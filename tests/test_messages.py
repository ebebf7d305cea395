"""Long replies split cleanly: at line breaks, within a platform's limits, nothing lost."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import (
    Choice,
    LineBreak,
    MemberAddress,
    Mention,
    Message,
    MessageBuilder,
    Notice,
    Plain,
    Segment,
    render_plain,
    split_message,
)


def measure(segments: Sequence[Segment]) -> int:
    return len(render_plain(segments))


def text_of(parts: list[Message]) -> str:
    return "\n".join(m.plain_text() for m in parts)


def test_a_short_message_stays_whole() -> None:
    msg = MessageBuilder().say("Hello").line("second line").choice("Go", "go").build()
    assert split_message(msg, max_chars=100, max_choices=5, measure=measure) == [msg]


def test_lines_are_kept_whole_and_every_part_fits() -> None:
    builder = MessageBuilder().strong("Title")
    for i in range(40):
        builder.line(f"line {i:02d} ").hint(f"accept {i}").say(" and some words after it")
    msg = builder.build()
    parts = split_message(msg, max_chars=200, max_choices=25, measure=measure)
    assert len(parts) > 3
    assert all(measure(p.segments) <= 200 for p in parts)
    assert text_of(parts) == msg.plain_text()  # nothing lost, nothing reordered
    for part in parts[1:]:  # a line is never cut in two: every part starts with a line
        assert isinstance(part.segments[0], Notice)
        assert part.segments[0].text.startswith("line ")


def test_a_line_longer_than_the_limit_is_cut_inside_text_only() -> None:
    ada = MemberAddress("U1", "Ada")
    long_text = "word " * 200
    msg = Message((Mention(ada), Notice(" wrote: "), Plain(long_text)))
    parts = split_message(msg, max_chars=150, max_choices=5, measure=measure)
    assert all(measure(p.segments) <= 150 for p in parts)
    assert "".join(p.plain_text() for p in parts) == msg.plain_text()
    mentions = [s for p in parts for s in p.segments if isinstance(s, Mention)]
    assert mentions == [Mention(ada)]  # never cut inside a mention


def test_choices_go_last_and_spill_into_more_messages() -> None:
    choices = tuple(Choice(f"Choice {i}", f"accept {i}") for i in range(30))
    msg = Message((Notice("Pick one"), LineBreak(), Notice("or another")), choices)
    parts = split_message(msg, max_chars=2000, max_choices=25, measure=measure)
    assert [len(p.choices) for p in parts] == [25, 5]
    assert parts[1].plain_text() == "More choices:"
    assert [c for p in parts for c in p.choices] == list(choices)
