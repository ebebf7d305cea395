"""Finding mentors and double opt-in intros, driven as people type them in the console.

Private messages the bot sends are printed by the console as "→ DM to <name>: ...", posts in the
private intro space as "→ in private space (...)", channel posts as "→ #channel: ...".
"""

from __future__ import annotations

import re

import pytest

from adapters.console.session import ConsoleSession
from bot.ports import DirectMessage, SpacePost
from tests.console_driver import click, run

TUE_EVENING = "Tue 18:00-20:00"
MON_MORNING = "Mon 07:00-09:00"
CONTEXT = "I wrote a small CLI and got stuck on packaging it for PyPI."


def mentor_line(topics: str, *, windows: str = "Tue 18:00-20:00", mentees: int = 3) -> str:
    return (
        f"mentor set topics: {topics} bio: Happy to help people get unstuck. "
        f"availability: {windows} mentees: {mentees} sessions: 4"
    )


def ranked(output: str) -> list[str]:
    """Mentor names in the order `find` listed them."""
    return re.findall(r"^\d+\. @(\S+) ·", output, re.MULTILINE)


def line_of(output: str, name: str) -> str:
    found = [line for line in output.splitlines() if line.startswith(tuple("123456789"))
             and f"@{name} ·" in line]
    assert found, f"{name} not listed in:\n{output}"
    return found[0]


async def mentor(console: ConsoleSession, name: str, zone: str, profile: str) -> None:
    out = await run(console, f"/as {name}", f"tz {zone}", profile)
    assert "now a mentor" in out, out


# -- find: topic fit -------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["Python", "PYTHON", "pythons", "pyhton", "py", "js",
                                   "JavaScript", "api", "APIs"])
async def test_find_tolerates_case_plurals_typos_and_synonyms(
    console: ConsoleSession, query: str
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python, javascript, apis"))
    out = await run(console, "/as Ada", f"find {query}")
    assert ranked(out) == ["Grace"], out


async def test_find_with_no_fitting_topic_offers_to_wait(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    out = await run(console, "/as Ada", "find pottery")
    assert "No mentor is free for “pottery” right now." in out
    assert "(notify pottery)" in out


async def test_an_organizer_adds_a_synonym_and_find_uses_it_keeping_the_defaults(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("go, javascript"))
    assert ranked(await run(console, "/as Ada", "find golang")) == []

    await console.add_person("Olga", organizer=True)
    out = await run(console, "/as Olga", "settings set synonyms golang=go")
    assert '"golang": "go"' in out
    assert '"js": "javascript"' in out

    assert ranked(await run(console, "/as Ada", "find golang")) == ["Grace"]
    assert ranked(await console.feed("find js")) == ["Grace"]  # the built-in ones still work


# -- find: ranking and its reasons -----------------------------------------------------------


async def test_find_ranks_by_overlap_with_the_members_waking_hours_and_says_so(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python", windows=TUE_EVENING))
    await mentor(console, "Linus", "Europe/Berlin", mentor_line("python", windows=MON_MORNING))
    await mentor(console, "Yuki", "Asia/Tokyo", mentor_line("python", windows="Wed 09:00-11:00"))
    out = await run(console, "/as Ada", "tz Europe/Berlin", "find python")
    assert ranked(out) == ["Grace", "Linus", "Yuki"]
    assert "evenings overlap" in line_of(out, "Grace")
    assert "mornings overlap" in line_of(out, "Linus")
    # 09:00-11:00 in Tokyo is 01:00-03:00 in Berlin: Ada is asleep.
    assert "no overlap with your waking hours" in line_of(out, "Yuki")
    assert "4 sessions free this month" in line_of(out, "Grace")


async def test_the_same_mentors_rank_differently_for_a_member_elsewhere(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python", windows=TUE_EVENING))
    await mentor(console, "Yuki", "Asia/Tokyo", mentor_line("python", windows="Wed 09:00-11:00"))
    out = await run(console, "/as Kenji", "tz Asia/Tokyo", "find python")
    assert ranked(out) == ["Yuki", "Grace"]
    assert "mornings overlap" in line_of(out, "Yuki")


async def test_mentors_with_fewer_recent_intros_come_first(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await mentor(console, "Linus", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Bob", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Grace", "decline 1")
    out = await run(console, "/as Ada", "tz Europe/Berlin", "find python")
    assert ranked(out) == ["Linus", "Grace"]
    assert "no recent intros" in line_of(out, "Linus")
    assert "no recent intros" not in line_of(out, "Grace")


async def test_mentors_with_more_room_left_come_first(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python", mentees=2))
    await mentor(console, "Linus", "Europe/Berlin", mentor_line("python", mentees=2))
    await run(console, "/as Bob", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Grace", "accept 1")
    out = await run(console, "/as Ada", "tz Europe/Berlin", "find python")
    assert ranked(out) == ["Linus", "Grace"]


async def test_an_exact_topic_ranks_above_a_partial_one(console: ConsoleSession) -> None:
    await mentor(console, "Linus", "Europe/Berlin", mentor_line("python packaging"))
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    out = await run(console, "/as Ada", "tz Europe/Berlin", "find python")
    assert ranked(out) == ["Grace", "Linus"]
    assert line_of(out, "Linus").startswith("2. @Linus · python packaging ·")


# -- find: full or paused mentors, and "tell me when one frees up" ---------------------------


async def test_full_mentors_are_not_suggested_and_the_member_can_wait(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python", mentees=1))
    await run(console, "/as Bob", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Grace", "accept 1")

    out = await run(console, "/as Ada", "find python")
    assert ranked(out) == []
    assert "1 mentor(s) cover it but are full or paused at the moment." in out
    out = await console.feed(click(out, "notify python"))
    assert "Got it: I'll message you when a mentor for “python” is free." in out
    assert "Grace is fully booked" in await console.feed(
        f"request Grace topic: python context: {CONTEXT}"
    )
    assert "Waiting for a mentor on" in await console.feed("my")

    out = await run(console, "/as Linus", "tz Europe/Helsinki", mentor_line("python"))
    assert "→ DM to Ada: Good news: @Linus can take a mentee for “python” now." in out
    assert "(request Linus topic: python)" in out and "(find python)" in out
    assert "Waiting for a mentor on" not in await run(console, "/as Ada", "my")


async def test_a_waiting_member_is_told_when_a_paused_mentor_resumes(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await console.feed("mentor pause 2026-12-24")
    out = await run(console, "/as Ada", "find pythons")
    assert ranked(out) == []
    await console.feed(click(out, "notify pythons"))
    out = await run(console, "/as Grace", "mentor resume")
    assert "→ DM to Ada: Good news: @Grace can take a mentee for “pythons” now." in out
    # Told once: resuming again later sends nothing new.
    await run(console, "/as Grace", "mentor pause 2026-12-24")
    assert "→ DM to Ada" not in await console.feed("mentor resume")


async def test_a_waiting_member_is_not_told_when_the_resumed_mentor_is_still_full(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python", mentees=1))
    await run(console, "/as Bob", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Grace", "accept 1", "mentor pause 2026-12-24")
    await run(console, "/as Ada", "notify python")
    out = await run(console, "/as Grace", "mentor resume")
    assert "→ DM to Ada" not in out
    out = await run(console, "/as Linus", mentor_line("python"))
    assert "→ DM to Ada: Good news: @Linus can take a mentee for “python” now." in out


async def test_waiting_twice_for_one_topic_is_harmless(console: ConsoleSession) -> None:
    await run(console, "/as Ada", "notify python")
    assert "already on the list" in await console.feed("notify Python")


# -- the request and the mentor's answers ----------------------------------------------------


async def test_a_request_reaches_the_mentor_privately_with_four_answers(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    out = await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    assert "Request #1 sent to @Grace. I'll tell you as soon as they answer." in out
    assert "(withdraw 1)" in out
    dm = out[out.index("→ DM to Grace"):]
    assert "@Ada asks you for an intro (request #1) about “python”" in dm
    assert f"> {CONTEXT}" in dm
    for label, command in (("Accept", "accept 1"), ("Decline", "decline 1"),
                           ("Ask for more info", "ask 1"),
                           ("Decline and pause me", "decline-pause 1")):
        assert re.search(rf"\[\d+\] {re.escape(label)}  \({re.escape(command)}\)", dm), label
    grace_dms = console.messenger.dms_to("console-grace")
    assert len(grace_dms) == 1
    assert [c.command for c in grace_dms[0].message.choices] == [
        "accept 1", "decline 1", "ask 1", "decline-pause 1"
    ]


async def test_a_request_needs_a_sentence_of_context(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await console.feed("/as Ada")
    out = await console.feed("request Grace topic: python context: help")
    assert "The context is too short" in out
    out = await console.feed("request Grace topic: python context: xxxxxxxxxxxxxxxxxxxxxxxxx")
    assert "The context needs a sentence or two." in out
    assert "#1" not in await console.feed("my")
    assert console.messenger.dms_to("console-grace") == []


async def test_a_request_without_context_opens_the_form(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    out = await run(console, "/as Ada", "request Grace")
    assert "Tell @Grace what you'd like to talk about" in out
    assert console.in_form
    out = await run(console, "python", CONTEXT)
    assert "Request #1 sent to @Grace" in out
    assert "→ DM to Grace" in out


async def test_the_ask_button_from_find_opens_the_request_form(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    out = await run(console, "/as Ada", "find python")
    out = await console.feed(click(out, "request Grace"))
    assert console.in_form
    out = await run(console, "python", CONTEXT)
    assert "Request #1 sent to @Grace" in out


async def test_accepting_introduces_both_privately_with_the_context_quoted(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    out = await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    accept = click(out, "accept 1")
    out = await run(console, "/as Grace", accept)
    assert "Accepted! I'm introducing you and @Ada in a private space now." in out
    assert "→ private space opened for Grace & Ada" in out
    assert "@Grace, meet @Ada! You're connected about “python”. In their words:" in out
    assert f"> {CONTEXT}" in out
    assert "→ DM to Ada: Good news! @Grace accepted your request #1." in out

    spaces = console.messenger.spaces_of("console-ada")
    assert len(spaces) == 1
    assert {m.platform_user_id for m in spaces[0].members} == {"console-ada", "console-grace"}
    posts = console.messenger.in_space(spaces[0].ref)
    assert len(posts) == 1 and isinstance(posts[0].destination, SpacePost)
    assert "#1 to @Grace about “python”: accepted" in await run(console, "/as Ada", "my")


async def test_no_reminder_or_release_after_an_answer(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Grace", "accept 1")
    out = await console.feed("/time +4d")
    assert "reminder" not in out and "released" not in out


async def test_an_unanswered_request_is_nudged_then_released(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await mentor(console, "Linus", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await console.feed("/time +48h")
    assert "→ DM to Grace: A gentle reminder: @Ada is still waiting" in out
    out = await console.feed("/time +24h")
    assert "→ DM to Ada: @Grace hasn't answered request #1" in out
    assert "Next best fit: @Linus" in out
    assert "released to another mentor" in await console.feed("my")


@pytest.mark.parametrize("line", ["decline 1 I only do career talks this month.",
                                  "decline 1 reason: I only do career talks this month."])
async def test_declining_with_a_reason_tells_the_member_and_offers_another_mentor(
    console: ConsoleSession, line: str
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await run(console, "/as Grace", line)
    assert "Declined request #1. @Ada was told kindly." in out
    dm = out[out.index("→ DM to Ada"):]
    assert "@Grace can't take request #1 about “python” right now." in dm
    assert "> I only do career talks this month." in dm
    assert "(find python)" in dm
    assert "#1 to @Grace about “python”: declined" in await run(console, "/as Ada", "my")


async def test_asking_for_more_info_and_the_members_answer_reach_the_other_side(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await run(console, "/as Grace", "ask 1 Which packaging tool did you try?")
    assert "Your question was sent to @Ada." in out
    assert "→ DM to Ada: @Grace would like to know more before answering request #1" in out
    assert "> Which packaging tool did you try?" in out

    out = await run(console, "/as Ada", click(out, "answer 1"))
    assert "The mentor asked: Which packaging tool did you try?" in out
    out = await console.feed("hatch, then setuptools; both failed on the entry point.")
    assert "Sent. Request #1 is back with the mentor." in out
    assert "→ DM to Grace: @Ada answered your question on request #1" in out
    assert "> hatch, then setuptools; both failed on the entry point." in out
    assert "(accept 1)" in out

    out = await run(console, "/as Grace", "accept 1")
    assert "@Grace wrote:" in out and "@Ada wrote:" in out  # the Q&A follows them to the space


async def test_answering_when_no_question_was_asked_is_refused(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    assert "has no open question from the mentor" in await console.feed("answer 1 more info here")


async def test_decline_and_pause_declines_and_pauses_the_mentor(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await run(console, "/as Grace", "decline-pause 1")
    assert "Declined request #1 and paused you until Mon 21 Dec 2026." in out  # four weeks
    assert "→ DM to Ada: @Grace can't take request #1" in out
    assert "Paused until Mon 21 Dec 2026" in await console.feed("my")
    assert ranked(await run(console, "/as Bob", "find python")) == []


async def test_decline_and_pause_until_a_given_date(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await run(console, "/as Grace", "decline-pause 1 2027-01-10")
    assert "paused you until Sun 10 Jan 2027" in out


async def test_decline_and_pause_with_a_labelled_date(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await run(console, "/as Grace", "decline-pause 1 until: 2027-01-10")
    assert "paused you until Sun 10 Jan 2027" in out


async def test_withdrawing_a_pending_request_tells_the_mentor(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    out = await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await console.feed(click(out, "withdraw 1"))
    assert "Request #1 is withdrawn; the mentor was told." in out
    assert "→ DM to Grace: @Ada withdrew request #1." in out
    out = await run(console, "/as Grace", "accept 1")
    assert "Request #1 is already withdrawn. Nothing was changed." in out
    assert "private space" not in out
    assert "already withdrawn" in await run(console, "/as Ada", "withdraw 1")


async def test_only_the_member_can_withdraw_their_request(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    assert "Request #1 isn't yours." in await run(console, "/as Bob", "withdraw 1")
    assert "waiting for the mentor" in await run(console, "/as Ada", "my")


async def test_open_requests_are_limited_to_three_by_default(console: ConsoleSession) -> None:
    for name in ("Grace", "Linus", "Yuki", "Margaret"):
        await mentor(console, name, "Europe/Berlin", mentor_line("python"))
    await console.feed("/as Ada")
    for name in ("Grace", "Linus", "Yuki"):
        assert "sent to" in await console.feed(
            f"request {name} topic: python context: {CONTEXT}"
        )
    out = await console.feed(f"request Margaret topic: python context: {CONTEXT}")
    assert "You have 3 open requests, the most at once here." in out
    assert console.messenger.dms_to("console-margaret") == []

    await run(console, "/as Grace", "accept 1")  # an answered request no longer counts
    assert "sent to" in await run(
        console, "/as Ada", f"request Margaret topic: python context: {CONTEXT}"
    )


async def test_organizers_can_change_the_request_limit(console: ConsoleSession) -> None:
    for name in ("Grace", "Linus"):
        await mentor(console, name, "Europe/Berlin", mentor_line("python"))
    await console.add_person("Olga", organizer=True)
    out = await run(console, "/as Olga", "settings set request_limit 1")
    assert "request_limit is now 1." in out
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await console.feed(f"request Linus topic: python context: {CONTEXT}")
    assert "You have 1 open request, the most at once here." in out


async def test_a_second_request_to_the_same_mentor_while_one_is_open_is_refused(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    out = await console.feed(f"request Grace topic: career context: {CONTEXT}")
    assert "You already have an open request to Grace (#1)." in out
    assert len(console.messenger.dms_to("console-grace")) == 1


async def test_a_mentor_cannot_answer_twice_or_answer_someone_elses_request(
    console: ConsoleSession,
) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    await mentor(console, "Linus", "Europe/Berlin", mentor_line("python"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    assert "Request #1 isn't one addressed to you." in await run(console, "/as Linus", "accept 1")
    await run(console, "/as Grace", "accept 1")
    out = await console.feed("decline 1")
    assert "Request #1 is already accepted. Nothing was changed." in out
    ada_dms = [r for r in console.messenger.sent
               if isinstance(r.destination, DirectMessage)
               and r.destination.member.platform_user_id == "console-ada"]
    assert [r.message.plain_text()[:40] for r in ada_dms] == [
        "Good news! @Grace accepted your request ",  # and the mentorship's first question:
        "Welcome to your mentorship! What would y",
    ]


async def test_asking_yourself_or_a_non_mentor_is_refused(console: ConsoleSession) -> None:
    await mentor(console, "Grace", "Europe/Berlin", mentor_line("python"))
    assert "can't ask yourself" in await console.feed(
        f"request Grace topic: python context: {CONTEXT}"
    )
    await console.feed("/as Bob")
    assert "Ada isn't a mentor here" in await run(
        console, "/as Ada", "/as Bob", f"request Ada topic: python context: {CONTEXT}"
    )
