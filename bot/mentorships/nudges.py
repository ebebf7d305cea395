"""What a mentorship's nudges say: the kick-off questions, the agreed summary, the rhythm
prompt, check-ins and notes and their relays, re-assessments, feedback asked and answered,
giving back, ending, the "still going?" check.

Every one is private to the two people in it; each renderer checks the mentorship first (ended
or paused ones go quiet) and raises ``Stale`` with the reason. When they may arrive is each
kind's declared timing: prompts wait for quiet hours, check-ins are follow-ups (snoozes and
"follow-ups off" apply), answers to someone's action go at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain import RHYTHMS, GoalState, Member, Mentorship, MentorshipState, Nudge
from bot.mentorships.agreement import describe_agreement
from bot.messages import ChoiceStyle, MessageBuilder
from bot.nudges.kinds import Done, RenderContext, Rendered, Stale, Timing, nudge_kind
from bot.text import shorten

log = logging.getLogger(__name__)

KICKOFF_GOALS = "mentorship.kickoff_goals"
KICKOFF_RHYTHM = "mentorship.kickoff_rhythm"
SUMMARY = "mentorship.summary"
RHYTHM_PROMPT = "mentorship.rhythm_prompt"
CHECKIN = "mentorship.checkin"
NOTE_ASK = "mentorship.note_ask"
CHECKIN_RELAY = "mentorship.checkin_relay"
NOTE_RELAY = "mentorship.note_relay"
REASSESS = "mentorship.reassess"
FEEDBACK_ASKED = "mentorship.feedback_asked"
FEEDBACK_REMINDER = "mentorship.feedback_reminder"
FEEDBACK_ANSWERED = "mentorship.feedback_answered"
GIVE_BACK = "mentorship.give_back"
OFFER_RELAY = "mentorship.offer_relay"
ENDED = "mentorship.ended"
REFLECTION_ASK = "mentorship.reflection_ask"
PAUSE_OVER = "mentorship.pause_over"
STALL_CHECK = "mentorship.stall_check"
STALL_ASK = "mentorship.stall_ask"
STALL_MARK = "mentorship.stall_mark"


async def load(ctx: RenderContext, nudge: Nudge, *, open_only: bool = True,
               active_only: bool = False) -> tuple[Mentorship, Member, Member]:
    """The mentorship, its mentor and its mentee; Stale if it ended (or paused)."""
    m = await ctx.tx.mentorships.get(ctx.community.id, int(nudge.payload.get("mentorship", 0)))
    if m is None:
        raise Stale("mentorship no longer exists")
    if open_only and m.state is MentorshipState.ENDED:
        raise Stale("mentorship ended")
    if active_only and m.state is not MentorshipState.ACTIVE:
        raise Stale(f"mentorship {m.state.value}")
    return m, await ctx.member(m.mentor_id), await ctx.member(m.mentee_id)


def _with(msg: MessageBuilder, ctx: RenderContext, m: Mentorship, other: Member) -> None:
    msg.say(f" (mentorship #{m.id} with ").mention(ctx.address(other)).say(", “")
    msg.user_text(shorten(m.topic, 80)).say("”)")


@nudge_kind(KICKOFF_GOALS, timing=Timing.PROMPT, label="goals asked for")
async def kickoff_goals(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge)
    if await ctx.tx.mentorships.goals(m.id):
        raise Stale("goals already set")
    msg = MessageBuilder()
    if nudge.payload.get("again"):
        msg.say("Before your first session: what would you like to get out of it?")
    else:
        msg.say("Welcome to your mentorship! What would you like to get out of it?")
    _with(msg, ctx, m, mentor)
    msg.line("Set 1 to 3 goals (what, by when, how you'll know) and how you like feedback; "
             "your mentor sees them. You can change them any time.")
    msg.choice("Set goals", f"goals {m.id}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentee, msg.build())


@nudge_kind(KICKOFF_RHYTHM, timing=Timing.PROMPT, label="meeting rhythm asked for")
async def kickoff_rhythm(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge)
    if m.rhythm is not None:
        raise Stale("rhythm already agreed")
    msg = MessageBuilder()
    msg.say("Before your first session: how" if nudge.payload.get("again") else "How")
    msg.say(" and how often would you like to meet?")
    _with(msg, ctx, m, mentee)
    msg.line("Every week, two weeks or month, for how long, and where (a video link or in "
             "person). I'll nudge gently when the next session isn't booked.")
    msg.choice("Agree how to meet", f"rhythm {m.id}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentor, msg.build())


@nudge_kind(SUMMARY, label="agreed summary")
async def summary(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge)
    reader = await ctx.member(nudge.recipient_id)
    other = mentee if reader.id == mentor.id else mentor
    if nudge.payload.get("woke"):
        msg = MessageBuilder().say("The pause is over: your mentorship is active again.")
    else:
        changer = await ctx.member(int(nudge.payload.get("by", other.id)))
        msg = MessageBuilder().mention(ctx.address(changer)).say(" updated what you agreed:")
    msg.line("")
    describe_agreement(msg, m, await ctx.tx.mentorships.goals(m.id), ctx.address(other))
    msg.choice("Change goals", f"goals {m.id}")
    msg.choice("Change the rhythm", f"rhythm {m.id}")
    return ctx.dm(reader, msg.build())


@nudge_kind(RHYTHM_PROMPT, timing=Timing.PROMPT, label="time to book the next session")
async def rhythm_prompt(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge, active_only=True)
    if m.rhythm is None or m.rhythm_paused:
        raise Stale("rhythm paused or not agreed")
    from bot.mentorships.lifecycle import future_sessions

    if await future_sessions(ctx.tx, m, ctx.now):
        raise Stale("next session already booked")
    since = datetime.fromisoformat(str(nudge.payload.get("since", ctx.now.isoformat())))
    weeks = max(1, round((ctx.now - since).days / 7))
    msg = MessageBuilder().say(f"It's been {weeks} week{'s' if weeks != 1 else ''} since your "
                               "last session with ").mention(ctx.address(mentor))
    msg.say(f" (you meet every {m.rhythm}); book the next one?")
    length = f" length: {m.session_minutes}" if m.session_minutes else ""
    msg.choice("Book the next session", f"book <member:{mentor.platform_user_id}>{length}",
               ChoiceStyle.PRIMARY)
    msg.choice("Pause the rhythm", f"rhythm {m.id} every: paused")
    return ctx.dm(mentee, msg.build())


@nudge_kind(CHECKIN, timing=Timing.FOLLOWUP, label="progress check-in")
async def checkin(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge)
    session_id = int(nudge.payload.get("session", 0))
    done = {e.goal_id for e in await ctx.tx.mentorships.entries(m.id, kinds=["checkin"])
            if e.session_id == session_id}
    goals = [g for g in await ctx.tx.mentorships.goals(m.id)
             if g.state is GoalState.ACTIVE and g.id not in done]
    if not goals:
        raise Stale("no goal left to check in on")
    msg = MessageBuilder().say("A quick check-in after your session with ").mention(
        ctx.address(mentor)).say(": how is each goal going? One line each; your mentor sees it.")
    for g in goals:
        msg.line(f"  {g.id}. ").user_text(shorten(g.text, 120))
        msg.choice(shorten(f"Goal {g.id}: {g.text}", 75),
                   f"checkin {m.id} goal: {g.id} session: {session_id}",
                   ChoiceStyle.PRIMARY if g is goals[0] else ChoiceStyle.DEFAULT)
    return ctx.dm(mentee, msg.build())


@nudge_kind(NOTE_ASK, timing=Timing.FOLLOWUP, label="note for the mentee asked for")
async def note_ask(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge)
    session_id = int(nudge.payload.get("session", 0))
    if any(e.session_id == session_id
           for e in await ctx.tx.mentorships.entries(m.id, kinds=["note", "next_step"])):
        raise Stale("note already written")
    msg = MessageBuilder().say("Anything for ").mention(ctx.address(mentee)).say(
        " after your session? A note and a suggested next step (both optional) go to them "
        "privately and into your shared record.")
    msg.choice("Write a note", f"note {m.id} session: {session_id}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentor, msg.build())


async def _entry_and_people(ctx: RenderContext, nudge: Nudge) -> tuple[
        Mentorship, Member, Member, str]:
    m, mentor, mentee = await load(ctx, nudge, open_only=False)
    entry = await ctx.tx.mentorships.entry(ctx.community.id, int(nudge.payload.get("entry", 0)))
    if entry is None or entry.mentorship_id != m.id:
        raise Stale("entry no longer exists")
    return m, mentor, mentee, entry.text


@nudge_kind(CHECKIN_RELAY, timing=Timing.PROMPT, label="check-in passed on")
async def checkin_relay(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee, text = await _entry_and_people(ctx, nudge)
    msg = MessageBuilder().mention(ctx.address(mentee)).say(" checked in on a goal")
    goal = await ctx.tx.mentorships.goal(ctx.community.id, int(nudge.payload.get("goal", 0)))
    if goal is not None:
        msg.say(" (“").user_text(shorten(goal.text, 80)).say("”)")
    msg.say(f": {nudge.payload.get('status', '')}.").quote(text)
    wish = str(nudge.payload.get("wish", ""))
    if wish:
        msg.say("Next time they'd like feedback on:").quote(wish)
    msg.choice("See the record", f"progress {m.id}")
    return ctx.dm(mentor, msg.build())


@nudge_kind(NOTE_RELAY, timing=Timing.PROMPT, label="mentor's note passed on")
async def note_relay(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee, text = await _entry_and_people(ctx, nudge)
    msg = MessageBuilder().mention(ctx.address(mentor)).say(" left you a note:").quote(text)
    step = str(nudge.payload.get("next", ""))
    if step:
        msg.say("Suggested next step:").quote(step)
    msg.choice("See the record", f"progress {m.id}")
    return ctx.dm(mentee, msg.build())


@nudge_kind(REASSESS, timing=Timing.FOLLOWUP, label="goals re-assessment")
async def reassess(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge)
    goals = [g for g in await ctx.tx.mentorships.goals(m.id) if g.state is GoalState.ACTIVE]
    if not goals:
        raise Stale("no active goals")
    msg = MessageBuilder().say("Time to look at your goals again with ").mention(
        ctx.address(mentor)).say(": keep, change or close each one, and add new ones.")
    for g in goals:
        msg.line(f"  {g.id}. ").user_text(shorten(g.text, 120))
        msg.choice(shorten(f"Done: {g.text}", 75), f"goal {g.id} done")
        msg.choice(shorten(f"Close: {g.text}", 75), f"goal {g.id} closed")
    msg.choice("Change or add goals", f"goals {m.id}", ChoiceStyle.PRIMARY)
    msg.choice("Keep them all", f"goal {goals[0].id} kept")
    return ctx.dm(mentee, msg.build())


@nudge_kind(FEEDBACK_ASKED, label="feedback asked for")
async def feedback_asked(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee, text = await _entry_and_people(ctx, nudge)
    msg = MessageBuilder().mention(ctx.address(mentee)).say(
        f" would like your feedback (mentorship #{m.id}):").quote(text)
    msg.choice("Answer", f"feedback-answer {nudge.payload.get('entry')}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentor, msg.build())


@nudge_kind(FEEDBACK_REMINDER, timing=Timing.PROMPT, label="reminder to give feedback")
async def feedback_reminder(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee, text = await _entry_and_people(ctx, nudge)
    answered = [e for e in await ctx.tx.mentorships.entries(m.id, kinds=["feedback_answer"])
                if e.answers_id == int(nudge.payload.get("entry", 0))]
    if answered:
        raise Stale("already answered")
    msg = MessageBuilder().say("A gentle reminder: ").mention(ctx.address(mentee)).say(
        " is still hoping for your feedback:").quote(text)
    msg.choice("Answer", f"feedback-answer {nudge.payload.get('entry')}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentor, msg.build())


@nudge_kind(FEEDBACK_ANSWERED, label="feedback given")
async def feedback_answered(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee, text = await _entry_and_people(ctx, nudge)
    msg = MessageBuilder().mention(ctx.address(mentor)).say(" answered your question:").quote(
        text)
    msg.choice("See the record", f"progress {m.id}")
    return ctx.dm(mentee, msg.build())


@nudge_kind(GIVE_BACK, timing=Timing.FOLLOWUP, label="invitation to give back")
async def give_back(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge, open_only=False)
    if await ctx.tx.mentorships.entries(m.id, kinds=["offer"]):
        raise Stale("already gave back")
    why = str(nudge.payload.get("why", "goal"))
    msg = MessageBuilder()
    msg.say("Congratulations on reaching your goal! " if why == "goal" else
            "Thank you for the mentorship! ")
    msg.say("Would you like to give something back to ").mention(ctx.address(mentor)).say("?")
    msg.line("A thank-you (privately, or shared in the community channel if you choose), or "
             "“I can help you with …”: something you're good at, passed on to them.")
    session = nudge.payload.get("session")
    if session:
        msg.choice("Say thank you", f"thanks {session}", ChoiceStyle.PRIMARY)
    msg.choice("I can help you with…", f"give-back {m.id}")
    return ctx.dm(mentee, msg.build())


@nudge_kind(OFFER_RELAY, timing=Timing.PROMPT, label="offer passed on")
async def offer_relay(ctx: RenderContext, nudge: Nudge) -> Rendered:
    _m, mentor, mentee, text = await _entry_and_people(ctx, nudge)
    msg = MessageBuilder().mention(ctx.address(mentee)).say(
        " would like to give something back: they can help you with").quote(text)
    msg.say("Reply to them directly if you'd like to take them up on it.")
    return ctx.dm(mentor, msg.build())


@nudge_kind(ENDED, label="mentorship ended")
async def ended(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, _mentor, mentee = await load(ctx, nudge, open_only=False)
    reader = await ctx.member(nudge.recipient_id)
    ender = await ctx.member(int(nudge.payload.get("by", 0)))
    msg = MessageBuilder().mention(ctx.address(ender)).say(
        f" ended your mentorship #{m.id} about “").user_text(shorten(m.topic, 80)).say("”.")
    if m.end_reason:
        msg.say(" Their note:").quote(m.end_reason)
    cancelled = int(nudge.payload.get("cancelled", 0))
    if cancelled:
        msg.line(f"{cancelled} upcoming session(s) are cancelled; calendar updates are on "
                 "their way.")
    if reader.id == mentee.id:
        msg.line("Whenever you're ready, another mentor may be a great next step.")
        msg.choice("Find another mentor", f"find {m.topic}", ChoiceStyle.PRIMARY)
    return ctx.dm(reader, msg.build())


@nudge_kind(REFLECTION_ASK, timing=Timing.FOLLOWUP, label="closing reflection asked for")
async def reflection_ask(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge, open_only=False)
    reader = await ctx.member(nudge.recipient_id)
    if any(e.author_id == reader.id
           for e in await ctx.tx.mentorships.entries(m.id, kinds=["reflection"])):
        raise Stale("reflection already written")
    other = mentee if reader.id == mentor.id else mentor
    msg = MessageBuilder().say("Looking back on your mentorship with ").mention(
        ctx.address(other)).say(": what worked, what you'd do differently? A closing "
                                "reflection is for you alone (optional).")
    msg.choice("Write a reflection", f"reflect {m.id}")
    return ctx.dm(reader, msg.build())


@nudge_kind(PAUSE_OVER, label="mentorship pause over")
async def pause_over(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge)
    if m.state is not MentorshipState.PAUSED or m.paused_until is None \
            or m.paused_until > ctx.now:
        raise Stale("not paused until now any more")
    await ctx.tx.mentorships.update(m.id, ctx.now, state=MentorshipState.ACTIVE,
                                    paused_until=None)
    for person in (mentor, mentee):
        ctx.queue(SUMMARY, recipient_id=person.id, intro_id=m.intro_id, mentorship=m.id,
                  woke=True)
    # As after `mentorship resume`: the rhythm and the "still going?" clock start again now.
    if m.rhythm is not None and not m.rhythm_paused:
        ctx.queue(RHYTHM_PROMPT, due_at=ctx.now + timedelta(days=RHYTHMS[m.rhythm]),
                  recipient_id=mentee.id, intro_id=m.intro_id, mentorship=m.id,
                  since=ctx.now.isoformat())
    ctx.queue(STALL_CHECK, due_at=ctx.now + timedelta(days=ctx.settings.mentorship_stall_days),
              intro_id=m.intro_id, mentorship=m.id, since=ctx.now.isoformat())
    return Done("mentorship active again")


@nudge_kind(STALL_CHECK, label="still going?")
async def stall_check(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge, active_only=True)
    since = datetime.fromisoformat(str(nudge.payload.get("since", "")))
    activity = [e for e in await ctx.tx.mentorships.entries(m.id) if e.created_at > since]
    sessions = [s for s in await ctx.tx.sessions.of(ctx.community.id, m.mentee_id)
                if s.intro_id == m.intro_id and s.updated_at > since]
    if activity or sessions:
        raise Stale("there was activity since")
    for person, other in ((mentor, mentee), (mentee, mentor)):
        ctx.queue(STALL_ASK, recipient_id=person.id, intro_id=m.intro_id, mentorship=m.id,
                  other=other.id)
    ctx.queue(STALL_MARK, due_at=ctx.now + timedelta(days=ctx.settings.stall_answer_days),
              intro_id=m.intro_id, mentorship=m.id, asked=ctx.now.isoformat())
    return Done("both asked whether it is still going")


@nudge_kind(STALL_ASK, timing=Timing.PROMPT, label="still going? asked")
async def stall_ask(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, mentor, mentee = await load(ctx, nudge, active_only=True)
    reader = await ctx.member(nudge.recipient_id)
    other = mentee if reader.id == mentor.id else mentor
    msg = MessageBuilder().say(f"It's been {ctx.settings.mentorship_stall_days} days without "
                               "a session or a check-in with ").mention(ctx.address(other))
    msg.say(f" (mentorship #{m.id}). Still going?")
    msg.choice("Keep going", f"still-going {m.id} keep", ChoiceStyle.PRIMARY)
    msg.choice("Pause it", f"mentorship pause {m.id}")
    msg.choice("End it", f"mentorship end {m.id}", ChoiceStyle.DANGER)
    return ctx.dm(reader, msg.build())


@nudge_kind(STALL_MARK, label="stalled mentorship flagged")
async def stall_mark(ctx: RenderContext, nudge: Nudge) -> Rendered:
    m, _mentor, _mentee = await load(ctx, nudge, active_only=True)
    asked = datetime.fromisoformat(str(nudge.payload.get("asked", "")))
    if [e for e in await ctx.tx.mentorships.entries(m.id) if e.created_at > asked]:
        raise Stale("they answered")
    await ctx.tx.mentorships.update(m.id, ctx.now, stalled_at=ctx.now)
    return Done("no answer: organizers see it as stalled")


KINDS = (
    kickoff_goals, kickoff_rhythm, summary, rhythm_prompt, checkin, note_ask, checkin_relay,
    note_relay, reassess, feedback_asked, feedback_reminder, feedback_answered, give_back,
    offer_relay, ended, reflection_ask, pause_over, stall_check, stall_ask, stall_mark,
)
