"""The mentorship itself: goals agreed, a meeting rhythm, progress check-ins and notes, a record
of growth, asking for feedback, giving back, pausing and ending well.

Only the mentor and the mentee of a mentorship can see or change anything in it; organizers see
counts in `report`, never text. Every message to the other side goes through the nudge table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.command import Need, ParamError, command, param
from bot.context import CommandContext
from bot.domain import (
    RHYTHMS,
    GoalState,
    Member,
    Mentorship,
    MentorshipState,
    SessionState,
)
from bot.errors import NotAllowed, UserError
from bot.intros.waitlist import freed_up
from bot.mentorships import nudges as k
from bot.mentorships.agreement import describe_agreement
from bot.mentorships.lifecycle import future_sessions, plan_rhythm_prompt, plan_stall_check, queue
from bot.mentorships.record import progress_markdown, progress_message
from bot.messages import Attachment, ChoiceStyle, Message, MessageBuilder, MomentStyle, Reply, text
from bot.sessions import ladder
from bot.sessions import nudges as sm
from bot.text import shorten

log = logging.getLogger(__name__)

GROUP = "Mentorships"
MAX_GOAL = 300
MAX_NOTE = 1000
MAX_GOALS = 3
STATUSES = ("moving", "stuck", "done")


async def _mine(ctx: CommandContext, mentorship_id: int, *, open_only: bool = True) -> Mentorship:
    m = await ctx.tx.mentorships.get(ctx.community.id, mentorship_id)
    if m is None or not m.involves(ctx.me.id):
        raise NotAllowed(f"Mentorship #{mentorship_id} isn't one of yours.",
                         "Type `mentorships` to see yours and their numbers.")
    if open_only and m.state is MentorshipState.ENDED:
        raise UserError(f"Mentorship #{m.id} has ended.", "Nothing was changed.")
    return m


async def _other(ctx: CommandContext, m: Mentorship) -> Member:
    other = await ctx.tx.members.get(ctx.community.id, m.other(ctx.me.id))
    if other is None:
        raise UserError("The other person of that mentorship is no longer here.",
                        "Nothing was changed.")
    return other


def _summary_to_other(ctx: CommandContext, m: Mentorship) -> None:
    queue(ctx, k.SUMMARY, m, m.other(ctx.me.id), by=ctx.me.id)


# -- the list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListMentorships:
    pass


@command(ListMentorships, "mentorships", group=GROUP, read_only=True,
         summary="Your mentorships: goals, rhythm, what's next.")
async def list_mentorships(cmd: ListMentorships, ctx: CommandContext) -> Reply:
    messages = await mentorships_section(ctx, include_ended=True)
    return Reply(tuple(messages) or (text("No mentorships yet: they start when a mentor "
                                          "accepts an intro."),))


async def mentorships_section(ctx: CommandContext, *, include_ended: bool = False) -> list[
        Message]:
    """The member's mentorships (the home view shows the open ones)."""
    states = None if include_ended else [MentorshipState.ACTIVE, MentorshipState.PAUSED]
    mentorships = await ctx.tx.mentorships.of(ctx.community.id, member_id=ctx.me.id,
                                              states=states)
    if not mentorships:
        return []
    people = await ctx.tx.members.by_ids(ctx.community.id,
                                         [m.other(ctx.me.id) for m in mentorships])
    msg = MessageBuilder().strong("Your mentorships")
    for m in mentorships:
        other = people.get(m.other(ctx.me.id))
        if other is None:
            continue
        role = "your mentee" if m.mentor_id == ctx.me.id else "your mentor"
        msg.line(f"  #{m.id} with ").mention(ctx.address(other)).say(f" ({role}) · “")
        msg.user_text(shorten(m.topic, 60)).say(f"” · {m.state.value}")
        if m.state is MentorshipState.PAUSED and m.paused_until:
            msg.say(" until ").moment(m.paused_until, ctx.my_zone, MomentStyle.DATE)
        goals = [g for g in await ctx.tx.mentorships.goals(m.id) if g.state is GoalState.ACTIVE]
        msg.say(f" · {len(goals)} goal(s)")
        if m.rhythm:
            msg.say(f" · every {m.rhythm}")
        if m.is_open:
            msg.choice(shorten(f"Progress #{m.id}", 40), f"progress {m.id}")
    return [msg.build()]


# -- kick-off: goals and rhythm ------------------------------------------------------------------


@dataclass(frozen=True)
class SetGoals:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    goal1: str | None = param.text("Goal 1: what, by when, how you'll know", need=Need.FORM,
                                   long=True, max_length=MAX_GOAL, what="goal")
    goal2: str | None = param.text("Goal 2 (optional)", long=True, max_length=MAX_GOAL,
                                   what="goal")
    goal3: str | None = param.text("Goal 3 (optional)", long=True, max_length=MAX_GOAL,
                                   what="goal")
    feedback: str | None = param.text("How you like feedback (optional)", max_length=200,
                                      what="feedback style",
                                      placeholder="direct and written, after each session")


@command(SetGoals, "goals", group=GROUP, form_title="Goals", submit_label="Save",
         summary="Set or change the goals of a mentorship (1 to 3) and how you like feedback.",
         explain="Each goal in a line of its own: what, by when, how you'll know. Goals left "
                 "out are closed; both of you see the agreed summary.",
         examples=("goals 3 goal1: ship my first open-source PR by March, merged upstream",))
async def set_goals(cmd: SetGoals, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id)
    current = [g for g in await ctx.tx.mentorships.goals(m.id) if g.state is GoalState.ACTIVE]
    if cmd.goal1 is None:
        initial = {f"goal{i}": g.text for i, g in enumerate(current[:MAX_GOALS], start=1)}
        if m.feedback_style:
            initial["feedback"] = m.feedback_style
        return Reply.of(MessageBuilder().say(f"Goals for mentorship #{m.id}:")
                        .build(form=ctx.form(cmd, initial=initial)))
    wanted = [g for g in (cmd.goal1, cmd.goal2, cmd.goal3) if g]
    for i, new_text in enumerate(wanted):
        if i < len(current):
            if current[i].text != new_text:
                await ctx.tx.mentorships.update_goal(current[i].id, ctx.now, text=new_text)
                await ctx.tx.mentorships.add_entry(m, ctx.me.id, "goal", new_text, ctx.now,
                                                   goal_id=current[i].id, status="changed")
        else:
            goal = await ctx.tx.mentorships.add_goal(m, new_text, ctx.now)
            await ctx.tx.mentorships.add_entry(m, ctx.me.id, "goal", new_text, ctx.now,
                                               goal_id=goal.id, status="set")
    for dropped in current[len(wanted):]:
        await ctx.tx.mentorships.update_goal(dropped.id, ctx.now, state=GoalState.CLOSED)
        await ctx.tx.mentorships.add_entry(m, ctx.me.id, "goal", dropped.text, ctx.now,
                                           goal_id=dropped.id, status="closed")
    if cmd.feedback is not None and cmd.feedback != m.feedback_style:
        m = await ctx.tx.mentorships.update(m.id, ctx.now, feedback_style=cmd.feedback)
        await ctx.tx.mentorships.add_entry(m, ctx.me.id, "agreement",
                                           f"Feedback: {cmd.feedback}", ctx.now)
    _summary_to_other(ctx, m)
    return Reply.of(await _summary(ctx, m, "Saved. What you agreed:"))


async def _summary(ctx: CommandContext, m: Mentorship, heading: str) -> Message:
    other = await _other(ctx, m)
    msg = MessageBuilder().say(heading).line("")
    return describe_agreement(msg, m, await ctx.tx.mentorships.goals(m.id), ctx.address(other),
                              suggest_rhythm=True).build()


@dataclass(frozen=True)
class SetRhythm:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    every: str | None = param.choice("How often", (*RHYTHMS, "paused"), need=Need.FORM,
                                     what="rhythm")
    length: int | None = param.integer("Minutes per session", low=15, high=180,
                                       what="length in minutes")
    where: str | None = param.text("Where (a video link, in person…)", max_length=200,
                                   what="place")


@command(SetRhythm, "rhythm", group=GROUP, form_title="How to meet", submit_label="Save",
         summary="Agree how often, how long and where you meet (or pause the rhythm).",
         explain="When the next session isn't booked a rhythm period after the last one, the "
                 "mentee gets one gentle prompt to book it. `every: paused` stops the prompts.",
         examples=("rhythm 3 every: two weeks length: 45 where: video call",))
async def set_rhythm(cmd: SetRhythm, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id)
    if cmd.every is None:
        initial = {"every": m.rhythm or "two weeks"}
        if m.session_minutes:
            initial["length"] = str(m.session_minutes)
        if m.meeting:
            initial["where"] = m.meeting
        return Reply.of(MessageBuilder().say(f"How would you like to meet (mentorship #{m.id})?")
                        .build(form=ctx.form(cmd, initial=initial)))
    paused = cmd.every == "paused"
    values: dict[str, object] = {"rhythm_paused": paused}
    if not paused:
        values["rhythm"] = cmd.every
    if cmd.length is not None:
        values["session_minutes"] = cmd.length
    if cmd.where is not None:
        values["meeting"] = cmd.where
    m = await ctx.tx.mentorships.update(m.id, ctx.now, **values)
    said = "paused the meeting rhythm" if paused else f"meeting every {m.rhythm}"
    await ctx.tx.mentorships.add_entry(m, ctx.me.id, "agreement", said.capitalize(), ctx.now)
    held = [s for s in await ctx.tx.sessions.of(ctx.community.id, m.mentee_id,
                                                 states=[SessionState.HELD])
            if s.intro_id == m.intro_id and s.end_at is not None]
    last = max((s.end_at for s in held if s.end_at is not None), default=m.started_at)
    await plan_rhythm_prompt(ctx, m, last)
    _summary_to_other(ctx, m)
    return Reply.of(await _summary(ctx, m, "Saved. What you agreed:"))


# -- progress: check-ins, notes, goals -----------------------------------------------------------


@dataclass(frozen=True)
class CheckIn:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    goal: int | None = param.number("Goal #", what="goal", need=Need.OPTIONAL, positional=False,
                                    in_form=False)
    status: str | None = param.choice("How is it going?", STATUSES, need=Need.FORM,
                                      what="status")
    changed: str | None = param.text("One line on what changed", need=Need.FORM,
                                     max_length=300, what="update")
    wish: str | None = param.text("Feedback wanted next time (optional)",
                                  max_length=300, what="wish", aliases=("feedback",))
    session: int | None = param.number("Session #", what="session", need=Need.OPTIONAL,
                                       positional=False, in_form=False)


@command(CheckIn, "checkin", group=GROUP, form_title="Check in on a goal",
         summary="Say how a goal is going (moving, stuck, done); your mentor sees it.",
         examples=("checkin 3 goal: 7 status: moving changed: wrote the first draft",))
async def check_in(cmd: CheckIn, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id)
    if ctx.me.id != m.mentee_id:
        raise NotAllowed("Check-ins are the mentee's.", "As the mentor, leave a `note` instead.")
    goals = {g.id: g for g in await ctx.tx.mentorships.goals(m.id)
             if g.state is GoalState.ACTIVE}
    if cmd.goal is None and len(goals) == 1:
        goal_id = next(iter(goals))
    elif cmd.goal in goals:
        goal_id = cmd.goal
    else:
        raise ParamError("goal", "Which goal? Give its number.",
                         f"Goals of mentorship #{m.id}: " + (", ".join(
                             f"{g.id} ({shorten(g.text, 30)})" for g in goals.values())
                             or "none yet: set them with `goals`") + ".")
    goal = goals[goal_id]
    if cmd.status is None or cmd.changed is None:
        return Reply.of(MessageBuilder().say("How is “").user_text(shorten(goal.text, 100))
                        .say("” going?").build(form=ctx.form(cmd)))
    entry = await ctx.tx.mentorships.add_entry(m, ctx.me.id, "checkin", cmd.changed, ctx.now,
                                               goal_id=goal.id, status=cmd.status,
                                               session_id=cmd.session)
    if cmd.wish:
        await ctx.tx.mentorships.add_entry(m, ctx.me.id, "feedback_wish", cmd.wish, ctx.now,
                                           goal_id=goal.id, session_id=cmd.session)
    queue(ctx, k.CHECKIN_RELAY, m, m.mentor_id, entry=entry.id, goal=goal.id,
          status=cmd.status, wish=cmd.wish or "")
    msg = MessageBuilder().say("Thanks, noted and passed on to your mentor.")
    if cmd.status == "done":
        await _goal_done(ctx, m, goal.id, cmd.session)
        msg.say(" Congratulations on reaching that goal!")
    plan_stall_check(ctx, m, ctx.now)
    return Reply.of(msg.build())


async def _goal_done(ctx: CommandContext, m: Mentorship, goal_id: int,
                     session: int | None) -> None:
    goal = await ctx.tx.mentorships.goal(ctx.community.id, goal_id)
    if goal is None or goal.state is not GoalState.ACTIVE:
        return
    await ctx.tx.mentorships.update_goal(goal_id, ctx.now, state=GoalState.DONE)
    await ctx.tx.mentorships.add_entry(m, ctx.me.id, "goal", goal.text, ctx.now,
                                       goal_id=goal_id, status="done")
    queue(ctx, k.GIVE_BACK, m, m.mentee_id, why="goal",
          session=session or await _last_held(ctx, m))


async def _last_held(ctx: CommandContext, m: Mentorship) -> int | None:
    held = [s for s in await ctx.tx.sessions.of(ctx.community.id, m.mentee_id,
                                                 states=[SessionState.HELD])
            if s.intro_id == m.intro_id]
    return max((s.id for s in held), default=None)


@dataclass(frozen=True)
class GoalChange:
    goal_id: int = param.number("Goal #", what="goal")
    state: str = param.choice("Done, closed or kept", ("done", "closed", "kept"),
                              need=Need.ALWAYS, positional=True, what="choice")


@command(GoalChange, "goal", group=GROUP,
         summary="Mark a goal done or closed (or keep it) when you look at your goals again.",
         examples=("goal 7 done",))
async def change_goal(cmd: GoalChange, ctx: CommandContext) -> Reply:
    goal = await ctx.tx.mentorships.goal(ctx.community.id, cmd.goal_id)
    m = await _mine(ctx, goal.mentorship_id) if goal is not None else None
    if goal is None or m is None:
        raise NotAllowed(f"Goal #{cmd.goal_id} isn't one of yours.",
                         "Type `mentorships` to see yours.")
    if goal.state is not GoalState.ACTIVE:
        raise UserError(f"Goal #{goal.id} is already {goal.state.value}.", "Nothing was changed.")
    await ctx.tx.mentorships.add_entry(m, ctx.me.id, "reassessment", cmd.state, ctx.now,
                                       goal_id=goal.id)
    if cmd.state == "done":
        await _goal_done(ctx, m, goal.id, None)
        _summary_to_other(ctx, m)
        return Reply.of(text(f"Goal #{goal.id} is done. Congratulations!"))
    if cmd.state == "closed":
        await ctx.tx.mentorships.update_goal(goal.id, ctx.now, state=GoalState.CLOSED)
        await ctx.tx.mentorships.add_entry(m, ctx.me.id, "goal", goal.text, ctx.now,
                                           goal_id=goal.id, status="closed")
        _summary_to_other(ctx, m)
        return Reply.of(text(f"Goal #{goal.id} is closed; it stays in your record."))
    return Reply.of(text("Kept. Good luck with it!"))


@dataclass(frozen=True)
class MentorNote:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    text: str | None = param.text("A note for your mentee", long=True, max_length=MAX_NOTE,
                                  what="note")
    next: str | None = param.text("A suggested next step (optional)", max_length=300,
                                  what="next step")
    session: int | None = param.number("Session #", what="session", need=Need.OPTIONAL,
                                       positional=False, in_form=False)


@command(MentorNote, "note", group=GROUP, form_title="A note for your mentee",
         summary="Mentors: leave a note and a suggested next step for your mentee.",
         examples=("note 3 text: great progress on the API design next: write the tests first",))
async def mentor_note(cmd: MentorNote, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id)
    if ctx.me.id != m.mentor_id:
        raise NotAllowed("Notes are the mentor's.", "As the mentee, `checkin` on a goal.")
    if cmd.text is None and cmd.next is None:
        return Reply.of(MessageBuilder().say("Anything for your mentee?")
                        .build(form=ctx.form(cmd)))
    entry = await ctx.tx.mentorships.add_entry(
        m, ctx.me.id, "note" if cmd.text else "next_step", cmd.text or cmd.next or "",
        ctx.now, session_id=cmd.session)
    if cmd.text and cmd.next:
        await ctx.tx.mentorships.add_entry(m, ctx.me.id, "next_step", cmd.next, ctx.now,
                                           session_id=cmd.session)
    queue(ctx, k.NOTE_RELAY, m, m.mentee_id, entry=entry.id,
          next=(cmd.next if cmd.text else "") or "")
    plan_stall_check(ctx, m, ctx.now)
    return Reply.of(text("Sent to your mentee privately, and kept in your shared record."))


# -- the record -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowProgress:
    mentorship_id: int | None = param.number("Mentorship #", what="mentorship",
                                             need=Need.OPTIONAL)
    export: str | None = param.choice("Export", ("export",), positional=True, what="export")


@command(ShowProgress, "progress", group=GROUP, read_only=True,
         summary="The record of a mentorship: goals, sessions, check-ins, notes (`export` for "
                 "a Markdown file).",
         explain="Only the mentor and the mentee see it. Closing reflections are shown to "
                 "their author only.",
         examples=("progress 3", "progress 3 export"))
async def show_progress(cmd: ShowProgress, ctx: CommandContext) -> Reply:
    if cmd.mentorship_id is None:
        mine = await ctx.tx.mentorships.of(ctx.community.id, member_id=ctx.me.id)
        if len(mine) != 1:
            raise ParamError("mentorship_id", "Which mentorship? Give its number.",
                             "Type `mentorships` to see yours.")
        m = mine[0]
    else:
        m = await _mine(ctx, cmd.mentorship_id, open_only=False)
    if cmd.export:
        markdown = await progress_markdown(ctx, m)
        return Reply.of(MessageBuilder().say(f"The record of mentorship #{m.id} is attached.")
                        .build(attachments=(Attachment(f"mentorship-{m.id}.md",
                                                       "text/markdown",
                                                       markdown.encode("utf-8")),)))
    return Reply.of(await progress_message(ctx, m))


# -- feedback between sessions -------------------------------------------------------------------


@dataclass(frozen=True)
class AskFeedback:
    about: int = param.number("Mentorship or session #", what="mentorship or session")
    question: str | None = param.text("Your question", need=Need.FORM, positional=True,
                                      long=True, max_length=MAX_NOTE, what="question")


@command(AskFeedback, "feedback-ask", group=GROUP, form_title="Ask for feedback",
         summary="Ask your mentor for feedback between sessions.",
         explain="Give your mentorship's number (or a session's). Your mentor is reminded "
                 "once if they haven't answered after a few days.",
         examples=("feedback-ask 3 Could you look at my draft README before Friday?",))
async def ask_feedback(cmd: AskFeedback, ctx: CommandContext) -> Reply:
    m = await _mentorship_or_session(ctx, cmd.about)
    if ctx.me.id != m.mentee_id:
        raise NotAllowed("Feedback requests are the mentee's.",
                         "As the mentor, leave a `note` instead.")
    if cmd.question is None:
        return Reply.of(MessageBuilder().say("What would you like feedback on?")
                        .build(form=ctx.form(cmd)))
    entry = await ctx.tx.mentorships.add_entry(m, ctx.me.id, "feedback_ask", cmd.question,
                                               ctx.now)
    queue(ctx, k.FEEDBACK_ASKED, m, m.mentor_id, entry=entry.id)
    queue(ctx, k.FEEDBACK_REMINDER, m, m.mentor_id,
          ctx.now + timedelta(days=ctx.settings.feedback_reminder_days), entry=entry.id)
    return Reply.of(text(f"Asked. I'll bring you the answer (request #{entry.id})."))


async def _mentorship_or_session(ctx: CommandContext, number: int) -> Mentorship:
    m = await ctx.tx.mentorships.get(ctx.community.id, number)
    if m is not None and m.involves(ctx.me.id):
        return await _mine(ctx, m.id)
    session = await ctx.tx.sessions.get(ctx.community.id, number)
    if session is not None and ctx.me.id in (session.mentor_id, session.member_id):
        found = await ctx.tx.mentorships.by_intro(ctx.community.id, session.intro_id)
        if found is not None:
            return await _mine(ctx, found.id)
    raise NotAllowed(f"#{number} is none of your mentorships or sessions.",
                     "Type `mentorships` to see yours.")


@dataclass(frozen=True)
class AnswerFeedback:
    ask_id: int = param.number("Request #", what="feedback request")
    answer: str | None = param.text("Your feedback", need=Need.FORM, positional=True,
                                    long=True, max_length=MAX_NOTE, what="feedback")


@command(AnswerFeedback, "feedback-answer", group=GROUP, form_title="Give feedback",
         summary="Mentors: answer a mentee's feedback request.",
         examples=("feedback-answer 12 The README reads well; move the install step up.",))
async def answer_feedback(cmd: AnswerFeedback, ctx: CommandContext) -> Reply:
    ask = await ctx.tx.mentorships.entry(ctx.community.id, cmd.ask_id)
    m = await _mine(ctx, ask.mentorship_id) if ask is not None else None
    if ask is None or m is None or ask.kind != "feedback_ask" or ctx.me.id != m.mentor_id:
        raise NotAllowed(f"#{cmd.ask_id} isn't a feedback request to you.",
                         "Its number is in the message that asked.")
    if cmd.answer is None:
        return Reply.of(MessageBuilder().say("They asked:").quote(ask.text)
                        .build(form=ctx.form(cmd)))
    entry = await ctx.tx.mentorships.add_entry(m, ctx.me.id, "feedback_answer", cmd.answer,
                                               ctx.now, answers_id=ask.id)
    queue(ctx, k.FEEDBACK_ANSWERED, m, m.mentee_id, entry=entry.id)
    return Reply.of(text("Sent to your mentee privately. Thank you!"))


# -- giving back ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GiveBack:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    offer: str | None = param.text("I can help you with…", need=Need.FORM, positional=True,
                                   long=True, max_length=500, what="offer")


@command(GiveBack, "give-back", group=GROUP, form_title="Give something back",
         summary="Tell your mentor what you could help them with in return.",
         examples=("give-back 3 I can review your Spanish slides any time",))
async def give_back(cmd: GiveBack, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id, open_only=False)
    if ctx.me.id != m.mentee_id:
        raise NotAllowed("Giving back is the mentee's.", "Thank you for mentoring, though!")
    if cmd.offer is None:
        return Reply.of(MessageBuilder().say("What could you help your mentor with?")
                        .build(form=ctx.form(cmd)))
    entry = await ctx.tx.mentorships.add_entry(m, ctx.me.id, "offer", cmd.offer, ctx.now)
    queue(ctx, k.OFFER_RELAY, m, m.mentor_id, entry=entry.id)
    return Reply.of(text("Passed on to your mentor. That's a lovely thing to do."))


# -- pausing, ending, "still going?" --------------------------------------------------------------


@dataclass(frozen=True)
class PauseMentorship:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    until: datetime | None = param.date("Until", need=Need.FORM, what="until")


@command(PauseMentorship, "mentorship pause", group=GROUP, form_title="Pause the mentorship",
         summary="Pause a mentorship until a date (no rhythm prompts meanwhile).",
         examples=("mentorship pause 3 until: 2027-01-15",))
async def pause_mentorship(cmd: PauseMentorship, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id)
    if cmd.until is None:
        return Reply.of(MessageBuilder().say(f"Pause mentorship #{m.id} until when?")
                        .build(form=ctx.form(cmd)))
    m = await ctx.tx.mentorships.update(m.id, ctx.now, state=MentorshipState.PAUSED,
                                        paused_until=cmd.until, stalled_at=None)
    await ctx.tx.mentorships.add_entry(m, ctx.me.id, "agreement", "Paused", ctx.now)
    await plan_rhythm_prompt(ctx, m, ctx.now)  # drops a waiting prompt
    queue(ctx, k.PAUSE_OVER, m, None, cmd.until)
    _summary_to_other(ctx, m)
    return Reply.of(MessageBuilder().say(f"Mentorship #{m.id} is paused until ")
                    .moment(cmd.until, ctx.my_zone, MomentStyle.DATE)
                    .say("; the other side is told.")
                    .choice("Resume now", f"mentorship resume {m.id}").build())


@dataclass(frozen=True)
class ResumeMentorship:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")


@command(ResumeMentorship, "mentorship resume", group=GROUP,
         summary="Resume a paused mentorship.", examples=("mentorship resume 3",))
async def resume_mentorship(cmd: ResumeMentorship, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id)
    if m.state is not MentorshipState.PAUSED:
        return Reply.of(text(f"Mentorship #{m.id} isn't paused."))
    m = await ctx.tx.mentorships.update(m.id, ctx.now, state=MentorshipState.ACTIVE,
                                        paused_until=None)
    await ctx.tx.mentorships.add_entry(m, ctx.me.id, "agreement", "Resumed", ctx.now)
    await plan_rhythm_prompt(ctx, m, ctx.now)
    plan_stall_check(ctx, m, ctx.now)
    _summary_to_other(ctx, m)
    return Reply.of(text(f"Mentorship #{m.id} is active again; the other side is told."))


@dataclass(frozen=True)
class EndMentorship:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    reason: str | None = param.text("A note for the other side (optional)", positional=True,
                                    aliases=("reason",), long=True, max_length=500,
                                    what="reason")


@command(EndMentorship, "mentorship end", group=GROUP,
         summary="End a mentorship: upcoming sessions are cancelled, the mentor's place frees.",
         examples=("mentorship end 3 we reached what we set out to do, thank you!",))
async def end_mentorship(cmd: EndMentorship, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id)
    other = await _other(ctx, m)
    cancelled = 0
    for session in await future_sessions(ctx.tx, m, ctx.now):
        was_confirmed = session.state is SessionState.CONFIRMED
        done = await ctx.tx.sessions.update(session, ctx.now, bump_sequence=True,
                                            state=SessionState.CANCELLED,
                                            cancel_reason="the mentorship ended")
        if done is None:
            raise UserError(f"Session #{session.id} just changed.", "Please try again.")
        await ladder.cancel_nudges(ctx, done, "the mentorship ended")
        for person in (m.mentor_id, m.mentee_id):
            ctx.notify(sm.SESSION_CANCELLED, recipient_id=person, session_id=done.id,
                       sequence=done.sequence, was_confirmed=was_confirmed,
                       because="the mentorship ended")
        cancelled += 1
    await ctx.tx.nudges.skip_pending("the mentorship ended", intro_id=m.intro_id,
                                     kinds=OPEN_KINDS)
    m = await ctx.tx.mentorships.update(m.id, ctx.now, state=MentorshipState.ENDED,
                                        ended_at=ctx.now, end_reason=cmd.reason)
    queue(ctx, k.ENDED, m, other.id, by=ctx.me.id, cancelled=cancelled)
    for person in (m.mentor_id, m.mentee_id):
        queue(ctx, k.REFLECTION_ASK, m, person)
    queue(ctx, k.GIVE_BACK, m, m.mentee_id, why="ended", session=await _last_held(ctx, m))
    mentor = await ctx.tx.members.get(ctx.community.id, m.mentor_id)
    if mentor is not None:
        profile = await ctx.tx.profiles.get(ctx.community.id, mentor.id)
        ctx.outbox.extend(await freed_up(ctx.tx, ctx.community, ctx.settings, ctx.now, mentor,
                                         profile))
    msg = MessageBuilder().say(f"Mentorship #{m.id} has ended. ").mention(
        ctx.address(other)).say(" is told.")
    if cancelled:
        msg.say(f" {cancelled} upcoming session(s) are cancelled, with calendar updates.")
    if ctx.me.id == m.mentee_id:
        msg.line("Whenever you're ready, another mentor may be a great next step.")
        msg.choice("Find another mentor", f"find {m.topic}", ChoiceStyle.PRIMARY)
    msg.choice("Write a closing reflection", f"reflect {m.id}")
    return Reply.of(msg.build())


#: What an ended mentorship no longer sends (the end message and the reflections aside).
OPEN_KINDS = (k.KICKOFF_GOALS, k.KICKOFF_RHYTHM, k.RHYTHM_PROMPT, k.CHECKIN, k.NOTE_ASK,
              k.REASSESS, k.FEEDBACK_REMINDER, k.STALL_CHECK, k.STALL_ASK, k.STALL_MARK,
              k.PAUSE_OVER)


@dataclass(frozen=True)
class Reflect:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    text: str | None = param.text("Your reflection (only you see it)", need=Need.FORM,
                                  positional=True, long=True, max_length=MAX_NOTE,
                                  what="reflection")


@command(Reflect, "reflect", group=GROUP, form_title="A closing reflection",
         summary="Write a private closing reflection on a mentorship (only you see it).",
         examples=("reflect 3 I learned to ask for help earlier",))
async def reflect(cmd: Reflect, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id, open_only=False)
    if cmd.text is None:
        return Reply.of(MessageBuilder().say("Looking back:").build(form=ctx.form(cmd)))
    await ctx.tx.mentorships.add_entry(m, ctx.me.id, "reflection", cmd.text, ctx.now)
    return Reply.of(text("Kept in your record; only you see it."))


@dataclass(frozen=True)
class StillGoing:
    mentorship_id: int = param.number("Mentorship #", what="mentorship")
    answer: str = param.choice("Keep, pause or end", ("keep", "pause", "end"),
                               need=Need.ALWAYS, positional=True, what="answer")


@command(StillGoing, "still-going", group=GROUP,
         summary="Answer \"still going?\" about a quiet mentorship: keep, pause or end.",
         examples=("still-going 3 keep",))
async def still_going(cmd: StillGoing, ctx: CommandContext) -> Reply:
    m = await _mine(ctx, cmd.mentorship_id)
    if cmd.answer == "pause":
        return await pause_mentorship(PauseMentorship(m.id), ctx)
    if cmd.answer == "end":
        return await end_mentorship(EndMentorship(m.id), ctx)
    m = await ctx.tx.mentorships.update(m.id, ctx.now, stalled_at=None)
    await ctx.tx.mentorships.add_entry(m, ctx.me.id, "agreement", "Still going", ctx.now)
    plan_stall_check(ctx, m, ctx.now)
    return Reply.of(text("Glad to hear it! Book your next session whenever suits you both."))


# -- organizers: counts only ----------------------------------------------------------------------


async def mentorships_report(ctx: CommandContext) -> list[str]:
    """Counts only: never goal text or check-in content."""
    states = await ctx.tx.mentorships.state_counts(ctx.community.id)
    quarter = _quarter_start(ctx.now)
    stats = await ctx.tx.mentorships.stats(ctx.community.id, quarter)
    firsts = await ctx.tx.sessions.first_starts(ctx.community.id)
    waits = sorted((firsts[m.intro_id] - m.started_at).total_seconds() / 86_400
                   for m in await ctx.tx.mentorships.of(ctx.community.id)
                   if m.intro_id in firsts)
    median = (f"{waits[len(waits) // 2]:.1f} days" if len(waits) % 2
              else f"{(waits[len(waits) // 2 - 1] + waits[len(waits) // 2]) / 2:.1f} days"
              ) if waits else "no sessions yet"
    return [
        f"Mentorships: active {states.get('active', 0)}, paused {states.get('paused', 0)}, "
        f"ended {states.get('ended', 0)}; {stats['with_goals']} with agreed goals; "
        f"{stats['goals_done']} goal(s) done this quarter; {stats['stalled']} stalled",
        f"Median time from intro to first session: {median}",
    ]


def _quarter_start(now: datetime) -> datetime:
    first_month = (now.month - 1) // 3 * 3 + 1
    return now.replace(month=first_month, day=1, hour=0, minute=0, second=0, microsecond=0)


async def home_section(ctx: CommandContext) -> list[Message]:
    return await mentorships_section(ctx)


COMMANDS = (
    list_mentorships, set_goals, set_rhythm, check_in, change_goal, mentor_note, show_progress,
    ask_feedback, answer_feedback, give_back, pause_mentorship, resume_mentorship,
    end_mentorship, reflect, still_going,
)
