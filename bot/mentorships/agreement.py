"""What the two people of a mentorship agreed: its goals, how they meet, how feedback is given.

Why its own module: the same summary answers the person who changed it (a command) and reaches
the other side (a nudge), and both must read alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.domain import Goal, GoalState, Mentorship
from bot.messages import MemberAddress, MessageBuilder
from bot.text import shorten

log = logging.getLogger(__name__)


def describe_agreement(
    msg: MessageBuilder, m: Mentorship, goals: Sequence[Goal], other: MemberAddress, *,
    suggest_rhythm: bool = False,
) -> MessageBuilder:
    """Append the summary to ``msg``: with whom, about what, the active goals, the rhythm and
    the feedback style (``suggest_rhythm``: hint at the command that agrees one)."""
    msg.strong(f"Mentorship #{m.id}").say(" with ").mention(other)
    msg.say(" · “").user_text(shorten(m.topic, 80)).say("”")
    active = [g for g in goals if g.state is GoalState.ACTIVE]
    msg.line("Goals:" if active else "Goals: none yet")
    for g in active:
        msg.line(f"  {g.id}. ").user_text(g.text)
    if m.rhythm:
        msg.line(f"Meeting every {m.rhythm}" + (" (paused)" if m.rhythm_paused else ""))
        if m.session_minutes:
            msg.say(f", {m.session_minutes} min")
        if m.meeting:
            msg.say(", ").user_text(m.meeting)
    elif suggest_rhythm:
        msg.line("Meeting rhythm: not agreed yet (").hint(f"rhythm {m.id}").say(")")
    else:
        msg.line("Meeting rhythm: not agreed yet")
    if m.feedback_style:
        msg.line("Feedback: ").user_text(m.feedback_style)
    return msg
