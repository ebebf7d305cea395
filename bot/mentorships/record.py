"""A mentorship's record of growth, in time order: goals and their history, sessions with their
agendas, check-ins, notes and next steps, feedback asked and given.

For the mentor and the mentee only (the caller is checked before this is called). A closing
reflection is shown to its author alone. The same record reads as a chat message and exports
as a Markdown file.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.context import CommandContext
from bot.domain import GoalState, Member, Mentorship, ProgressEntry, Session
from bot.messages import Message, MessageBuilder, MomentStyle

log = logging.getLogger(__name__)

LABELS = {
    "checkin": "check-in",
    "note": "note",
    "next_step": "next step",
    "feedback_wish": "feedback wanted on",
    "feedback_ask": "asked for feedback",
    "feedback_answer": "feedback",
    "goal": "goal",
    "offer": "offered to help with",
    "reflection": "reflection (only you see it)",
    "agreement": "agreed",
    "reassessment": "looked at a goal again",
}


async def _record(ctx: CommandContext, m: Mentorship) -> tuple[
        list[ProgressEntry], list[Session], dict[int, Member]]:
    entries = [e for e in await ctx.tx.mentorships.entries(m.id)
               if e.kind != "reflection" or e.author_id == ctx.me.id]
    sessions = [s for s in await ctx.tx.sessions.of(ctx.community.id, m.mentee_id, limit=500)
                if s.intro_id == m.intro_id and s.start_at is not None]
    people = await ctx.tx.members.by_ids(ctx.community.id, (m.mentor_id, m.mentee_id))
    return entries, sessions, people


def _timeline(entries: list[ProgressEntry], sessions: list[Session]) -> list[
        tuple[datetime, ProgressEntry | Session]]:
    items: list[tuple[datetime, ProgressEntry | Session]] = [(e.created_at, e) for e in entries]
    items += [(s.start_at, s) for s in sessions if s.start_at is not None]
    return sorted(items, key=lambda item: item[0])


async def progress_message(ctx: CommandContext, m: Mentorship) -> Message:
    entries, sessions, people = await _record(ctx, m)
    other = people.get(m.other(ctx.me.id))
    msg = MessageBuilder().strong(f"Mentorship #{m.id}")
    if other is not None:
        msg.say(" with ").mention(ctx.address(other))
    msg.say(" · “").user_text(m.topic).say(f"” · {m.state.value} · since ")
    msg.moment(m.started_at, ctx.my_zone, MomentStyle.DATE)
    goals = await ctx.tx.mentorships.goals(m.id)
    if goals:
        msg.line("Goals:")
    else:
        msg.line("Goals: none yet (").hint(f"goals {m.id}").say(")")
    for g in goals:
        msg.line(f"  {g.id}. [{g.state.value}] ").user_text(g.text)
    for at, item in _timeline(entries, sessions):
        msg.line("  ").moment(at, ctx.my_zone, MomentStyle.DATE).say(" · ")
        if isinstance(item, Session):
            msg.say(f"session #{item.id} ({item.state.value}) “").user_text(item.topic).say("”")
            if item.agenda:
                msg.say(" · agenda: ").user_text(item.agenda)
            continue
        author = people.get(item.author_id)
        if author is not None:
            msg.mention(ctx.address(author)).say(" ")
        msg.say(LABELS.get(item.kind, item.kind))
        if item.status:
            msg.say(f" ({item.status})")
        msg.say(": ").user_text(item.text)
    msg.choice("Export as Markdown", f"progress {m.id} export")
    return msg.build()


async def progress_markdown(ctx: CommandContext, m: Mentorship) -> str:
    entries, sessions, people = await _record(ctx, m)
    zone = ZoneInfo(ctx.my_zone)
    mentor = people.get(m.mentor_id)
    mentee = people.get(m.mentee_id)

    def day(at: datetime) -> str:
        return f"{at.astimezone(zone):%Y-%m-%d}"

    lines = [
        f"# Mentorship #{m.id}: {_md(m.topic)}",
        "",
        f"- Mentor: {_md(mentor.display_name) if mentor else '?'}",
        f"- Mentee: {_md(mentee.display_name) if mentee else '?'}",
        f"- Started: {day(m.started_at)} · {m.state.value}",
        "",
        "## Goals",
        "",
    ]
    goals = await ctx.tx.mentorships.goals(m.id)
    lines += [f"- [{'x' if g.state is GoalState.DONE else ' '}] {_md(g.text)} ({g.state.value})"
              for g in goals] or ["- none yet"]
    lines += ["", "## Record", ""]
    for at, item in _timeline(entries, sessions):
        if isinstance(item, Session):
            agenda = f" — agenda: {_md(item.agenda)}" if item.agenda else ""
            lines.append(f"- {day(at)} · session #{item.id} ({item.state.value}): "
                         f"{_md(item.topic)}{agenda}")
            continue
        author = people.get(item.author_id)
        who = _md(author.display_name) if author else "?"
        status = f" ({item.status})" if item.status else ""
        lines.append(f"- {day(at)} · {who} · {LABELS.get(item.kind, item.kind)}{status}: "
                     f"{_md(item.text)}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """User text as Markdown text: no markup, no links, one line."""
    escaped = "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>" else c for c in text)
    return " ".join(escaped.split())
