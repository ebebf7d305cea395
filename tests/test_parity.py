"""Parity: the same journey on the console, Slack and Discord ends the same way.

The journey (``tests/parity.py``: a mentor profile, find, intro, accept, kick-off goals and
rhythm, book, confirm, reminders, "met", thank-you, check-in and note, follow-up, outcome) is
written once in platform-neutral terms; ``tests/parity_drivers.py`` performs each step the
platform's own way, through the real adapters against the stand-ins. What each person
received is compared by meaning (kind, hinted commands, button commands, mentioned roles,
moments, files, forms) and the end state by role. Each platform must also reach the end of
the journey on its own: agreeing on nothing would prove nothing.

Each platform's run happens once per test session (the first test that needs it) and is
shared: a run is plain data once it is over.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.parity import (
    CONTEXT,
    JOURNEY,
    MENTEE,
    MENTOR,
    SESSION_AT,
    SPACE,
    Click,
    Outcome,
    Received,
    differences,
    messages_at,
)
from tests.parity_drivers import PLATFORMS, run_journey

log = logging.getLogger(__name__)

_runs: dict[str, Outcome] = {}

ASK = JOURNEY.index(Click(MENTEE, "request"))


async def outcome(platform: str, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    if platform not in _runs:
        _runs[platform] = await run_journey(platform, tmp_path_factory.mktemp(platform))
        log.info("%s ran the journey in %.2fs", platform, _runs[platform].seconds)
    return _runs[platform]


def kinds(run: Outcome, to: str) -> list[str]:
    return [r.kind for r in run.trace.get(to, ()) if r.kind != "reply"]


def first(run: Outcome, to: str, kind: str) -> Received:
    found = [r for r in run.trace.get(to, ()) if r.kind == kind]
    assert found, f"{to} never received {kind} on {run.platform}"
    return found[0]


def assert_reached(run: Outcome) -> None:
    """The journey got where it should: every person received what each step promises, in
    order, and the rows say so."""
    assert kinds(run, MENTOR) == [
        "intro.request", "mentorship.kickoff_rhythm", "mentorship.summary", "session.proposed",
        "session.confirmed", "ladder.mentor_reminder", "ladder.both_reminder",
        "ladder.did_it_happen", "mentorship.note_ask", "followup.thanks_relay",
        "mentorship.checkin_relay", "followup.reply_relay",
    ]
    assert kinds(run, MENTEE) == [
        "intro.accepted", "mentorship.kickoff_goals", "mentorship.summary", "ladder.agenda_ask",
        "session.confirmed", "ladder.agenda_reminder", "ladder.both_reminder",
        "ladder.did_it_happen", "mentorship.checkin", "followup.thanks_prompt",
        "mentorship.note_relay", "followup.check_in", "mentorship.rhythm_prompt",
        "followup.outcome",
    ]
    assert kinds(run, SPACE) == ["intro.space"]
    assert first(run, SPACE, "intro.space").mentioned == (MENTOR, MENTEE)

    # What the buttons and hints lead to, as each person saw them.
    found = messages_at(run, MENTEE, JOURNEY.index(next(s for s in JOURNEY
                                                         if getattr(s, "verb", "") == "find")))
    assert found[0].choices == ("request <member:mentor>",)
    assert first(run, MENTOR, "intro.request").choices == (
        "accept 1", "decline 1", "ask 1", "decline-pause 1")
    assert first(run, MENTEE, "mentorship.kickoff_goals").choices == ("goals 1",)
    assert first(run, MENTOR, "session.proposed").moments == (
        f"at {SESSION_AT:%Y-%m-%d %H:%M}Z",)
    for person in (MENTOR, MENTEE):
        assert first(run, person, "session.confirmed").files == ("session-1.ics",)
        assert first(run, person, "ladder.did_it_happen").choices == ("met 1", "missed 1",
                                                                       "moved 1")
    assert first(run, MENTEE, "followup.check_in").choices[0] == "followup 1"
    assert first(run, MENTEE, "followup.outcome").choices == ("book <member:mentor>",
                                                              "followup 1")
    forms = [f for r in run.trace[MENTEE] for f in r.forms]
    assert forms == ["Ask <mentor>", "Goals", "Thank your mentor", "Check in on a goal",
                     "Follow up"]

    # The rows.
    state = run.state
    assert state["profiles"][MENTOR]["topics"] == ["python", "rust"]
    assert [(i["member_id"], i["mentor_id"], i["state"], i["context"], i["space_opened"])
            for i in state["intros"]] == [(MENTEE, MENTOR, "accepted", CONTEXT, True)]
    [mentorship] = state["mentorships"]
    assert (mentorship["mentor_id"], mentorship["mentee_id"], mentorship["state"],
            mentorship["rhythm"], mentorship["session_minutes"], mentorship["meeting"]) == (
        MENTOR, MENTEE, "active", "two weeks", 45, "video call")
    assert [g["state"] for g in state["goals"]] == ["active"]
    assert [(e["author_id"], e["kind"]) for e in state["progress"]] == [
        (MENTEE, "goal"), (MENTEE, "agreement"), (MENTOR, "agreement"), (MENTEE, "checkin"),
        (MENTOR, "note"), (MENTOR, "next_step")]
    [session] = state["sessions"]
    assert (session["state"], session["start_at"], session["proposed_by"]) == (
        "held", SESSION_AT.isoformat(), MENTEE)
    assert sorted((a["member_id"], a["answer"]) for a in state["attendance"]) == [
        (MENTEE, "met"), (MENTOR, "met")]
    assert [(f["author_id"], f["kind"]) for f in state["feedback"]] == [
        (MENTEE, "thanks"), (MENTEE, "followup")]
    assert {n["state"] for n in state["nudges"]} <= {"sent", "stale", "pending"}
    assert not [n for n in state["nudges"] if n["state"] == "pending"
                and n["kind"] != "mentorship.stall_check"]


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_the_journey_reaches_its_end(
    platform: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert_reached(await outcome(platform, tmp_path_factory))


async def test_console_slack_and_discord_agree(tmp_path_factory: pytest.TempPathFactory) -> None:
    console, slack, discord = [await outcome(p, tmp_path_factory) for p in PLATFORMS]
    assert_reached(console)
    for other in (slack, discord):
        assert differences(console, other) == []


async def test_discord_shows_the_words_that_came_with_a_form_above_its_fields(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    console = await outcome("console", tmp_path_factory)
    discord = await outcome("discord", tmp_path_factory)
    assert messages_at(discord, MENTEE, ASK) == messages_at(console, MENTEE, ASK)


def test_runs_that_agree_on_nothing_are_not_a_journey() -> None:
    empty = Outcome("nothing", {}, {})
    assert differences(empty, replace(empty, platform="void")) == []
    with pytest.raises(AssertionError):
        assert_reached(empty)


async def test_a_difference_is_named_by_recipient_and_step(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    console = await outcome("console", tmp_path_factory)
    confirmed = first(console, MENTOR, "session.confirmed")
    altered = tuple(replace(r, files=()) if r == confirmed else r for r in console.trace[MENTOR])
    other = replace(console, platform="other", trace={**console.trace, MENTOR: altered})
    [found] = differences(console, other)
    assert found.startswith(f"mentor, message {console.trace[MENTOR].index(confirmed) + 1}: ")
    assert f"step {confirmed.step} session.confirmed" in found and "session-1.ics" in found
    moved = replace(console, platform="moved", state={
        **console.state, "sessions": [{**console.state["sessions"][0],
                                       "start_at": (SESSION_AT + timedelta(hours=1)).isoformat()}]
    })
    assert [d.split(":")[0] for d in differences(console, moved)] == ["end state 'sessions'"]
