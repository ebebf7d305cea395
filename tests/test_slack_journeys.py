"""Journeys through the real Bolt app, as people do them in Slack.

Alice (Europe/Berlin) mentors Python; Bob (America/New_York) finds her, asks for an intro in
a modal, and they book a session. Everything goes over Socket Mode into the real ``AsyncApp``,
through the real core on a SQLite file, and out to the stand-in Slack, which checks every
call against Slack's spec and Block Kit limits (a bad call fails the test at teardown).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.slack_harness import SlackWorld, buttons, shown, slack_world, texts
from tests.standins.slack import ALICE, BOB, GENERAL, Ack

CONTEXT = "I'm learning asyncio and got stuck on task groups; I tried the docs already."


async def become_mentor(world: SlackWorld) -> None:
    """Alice opens the mentor form with ``/mentor mentor`` and fills it in."""
    await world.command("mentor", user=ALICE)
    view = await world.modal()
    assert view["title"]["text"] == "Become a mentor"
    assert [b["block_id"] for b in view["blocks"]] == [
        "topics", "bio", "availability", "lengths", "mentees"]
    ack = await world.submit(view["id"], topics="python, rust", bio="Backend engineer",
                             availability="Tue 18:00-20:00", lengths="30, 60", mentees="2")
    assert isinstance(ack, Ack) and ack.payload is None  # accepted: the modal closes


async def ask_for_intro(world: SlackWorld) -> str:
    """Bob finds Alice and sends a request through the modal; the request DM Alice gets."""
    find = await world.command("find python", user=BOB)
    [found] = await world.replies(find)
    assert "Mentors for “python”" in shown(found.body)
    assert "*@Alice*" in shown(found.body)  # named, not pinged
    await world.click("Ask Alice", user=BOB, on=found)
    view = await world.modal(count=2)
    assert view["title"]["text"] == "Ask Alice"
    await world.submit(view["id"], topic="python", context=CONTEXT)
    await world.deliver_due()
    request = await world.dm(ALICE, "asks you for an intro")
    return shown({"blocks": request.blocks})


async def test_become_a_mentor_find_and_request_through_modals(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        await become_mentor(world)
        opened, saved = await world.slack.wait_until(
            lambda: world.slack.response_posts[:2] if len(world.slack.response_posts) > 1
            else None, 5.0, "two replies")
        assert "Tell me what you're happy to talk about" in shown(opened.body)
        assert "You're now a mentor" in shown(saved.body)
        assert saved.url == opened.url  # the modal answers where /mentor was typed
        assert saved.body["response_type"] == "ephemeral"

        request = await ask_for_intro(world)
        assert "*@bob.b* asks you for an intro (request #1)" in request
        assert "> I'm learning asyncio" in request
        assert list(buttons(await world.dm(ALICE, "asks you"))) == [
            "Accept", "Decline", "Ask for more info", "Decline and pause me"]
        sent = [p for p in world.slack.response_posts if "Request #1 sent to" in shown(p.body)]
        assert len(sent) == 1


async def test_a_refused_submission_shows_the_error_under_its_field(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        await become_mentor(world)
        await world.command("request <@U0ALICE001|alice>", user=BOB)
        view = await world.modal(count=2)
        # 25 characters as Slack counts them, but only spaces and "help" once trimmed.
        ack = await world.submit(view["id"], topic="python", context=" " * 21 + "help")
        assert isinstance(ack, Ack) and ack.payload is not None
        assert ack.payload["response_action"] == "errors"
        assert list(ack.payload["errors"]) == ["context"]
        assert "too short" in ack.payload["errors"]["context"]
        assert not world.dms(ALICE)  # nothing was sent

        # The modal stays open with what was typed; a corrected submission goes through.
        ack = await world.submit(view["id"], topic="python", context=CONTEXT)
        assert isinstance(ack, Ack) and ack.payload is None
        await world.deliver_due()
        await world.dm(ALICE, "asks you for an intro (request #1)")


async def test_accept_by_button_then_the_buttons_no_longer_act(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        await become_mentor(world)
        await ask_for_intro(world)
        request = await world.dm(ALICE, "asks you for an intro")
        click = await world.click("Accept", user=ALICE, on=request)
        await world.slack.wait_for_call("chat.update")
        updated = next(m for m in world.dms(ALICE) if m.ts == request.ts)
        assert buttons(updated) == {}
        assert "✅ You chose *Accept*." in shown({"blocks": updated.blocks})
        assert "asks you for an intro" in shown({"blocks": updated.blocks})  # text kept
        # The reply to the click is a message in the DM where she clicked.
        accepted = await world.dm(ALICE, "Accepted!")
        assert accepted.ts > request.ts and click.body["container"]["channel_id"].startswith("D")

        await world.deliver_due()
        space = world.slack.group_dm_of([ALICE, BOB])
        assert space is not None
        [intro] = texts(world.slack.messages_in(space))
        assert "<@U0ALICE001>, meet <@U0BOB00001>!" in intro  # the core pings both here
        await world.dm(BOB, "accepted your request #1")


async def test_a_refused_click_leaves_the_buttons(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        await become_mentor(world)
        await ask_for_intro(world)
        request = await world.dm(ALICE, "asks you for an intro")
        withdrawn = await world.say("withdraw 1", user=BOB)
        assert "withdrawn" in withdrawn.lower() or "withdrew" in withdrawn.lower(), withdrawn
        before = len(world.dms(ALICE))
        await world.click("Accept", user=ALICE, on=request)
        [refusal] = await world.slack.wait_until(
            lambda: world.dms(ALICE)[before:] or None, 5.0, "the refusal")
        assert "withdrawn" in texts([refusal])[0]
        assert world.slack.calls("chat.update") == []
        assert list(buttons(next(m for m in world.dms(ALICE) if m.ts == request.ts)))


async def test_book_confirm_invite_reminders_and_follow_ups(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        await become_mentor(world)
        await ask_for_intro(world)
        await world.click("Accept", user=ALICE, on=await world.dm(ALICE, "asks you"))
        await world.dm(ALICE, "Accepted!")
        await world.deliver_due()

        # Bob books: the form asks when; a time in the past is refused under "when".
        await world.command("book <@U0ALICE001>", user=BOB)
        view = await world.modal(count=3)
        assert view["title"]["text"] == "Book with Alice"
        ack = await world.submit(view["id"], when="yesterday", length="30")
        assert isinstance(ack, Ack) and ack.payload is not None
        assert list(ack.payload["errors"]) == ["when"]
        ack = await world.submit(view["id"], when="Tue 12:00", length="30")
        assert isinstance(ack, Ack) and ack.payload is None
        await world.deliver_due()

        # Alice confirms from her DM: both get the invite as a file, then the message.
        proposal = await world.dm(ALICE, "proposes")
        assert "<!date^" in shown({"blocks": proposal.blocks})  # each reader's local time
        await world.click("Confirm", user=ALICE, on=proposal)
        await world.dm(ALICE, "Confirmed: session #1")
        await world.deliver_due()
        invites = world.slack.uploads
        assert sorted(u.channel_id or "" for u in invites) == sorted(
            [world.slack.dm_channel_of(ALICE) or "", world.slack.dm_channel_of(BOB) or ""])
        assert all(u.title.endswith(".ics") and b"BEGIN:VCALENDAR" in u.data for u in invites)
        for user in (ALICE, BOB):
            dm = world.dms(user)
            file_at = next(i for i, m in enumerate(dm) if m.files)
            tagged = next(i for i, m in enumerate(dm) if "is confirmed" in m.text)
            assert file_at < tagged  # the file first, the tagged message last
            assert dm[tagged].metadata is not None
            assert dm[tagged].metadata["event_type"] == "mentorbot_nudge"

        # A reply that carries a file goes to the person's DM (ephemeral messages carry none).
        uploads = len(world.slack.uploads)
        moved = await world.command("reschedule 1 when: Tue 12:30 reason: a clash", user=BOB)
        [note] = await world.replies(moved)
        assert "I sent this to our direct messages" in shown(note.body)
        await world.slack.wait_for_call("chat.postMessage", where=lambda c: "12:30" in str(
            c.args.get("text")) and c.args.get("channel") == world.slack.dm_channel_of(BOB))
        dm = world.dms(BOB)
        assert dm[-2].files and "12:30" in dm[-1].text  # the file, then its message
        assert world.slack.uploads[uploads].channel_id == world.slack.dm_channel_of(BOB)
        await world.deliver_due()

        # Reminders arrive as the clock moves; after the session, "Did it happen?".
        before = {u: len(world.dms(u)) for u in (ALICE, BOB)}
        await world.advance(timedelta(days=1, hours=12))
        assert len(world.dms(ALICE)) > before[ALICE] and len(world.dms(BOB)) > before[BOB]
        assert any("starts at" in t for t in texts(world.dms(ALICE)[before[ALICE]:]))
        asked = await world.dm(BOB, "happen?")
        assert {"Met", "Didn't happen"} <= set(buttons(asked))
        updates = len(world.slack.calls("chat.update"))
        await world.click("Met", user=BOB, on=asked)
        await world.slack.wait_for_call("chat.update", count=updates + 1)  # only on success
        answered = next(m for m in world.dms(BOB) if m.ts == asked.ts)
        assert "✅ You chose *Met*." in shown({"blocks": answered.blocks})


async def test_the_home_tab_is_published_when_opened_and_after_commands(
    tmp_path: Path,
) -> None:
    async with slack_world(tmp_path) as world:
        await world.deliver(world.slack.payloads.app_home_opened(ALICE))
        await world.slack.wait_for_call("views.publish")
        home = world.slack.homes_published[ALICE]
        assert home["blocks"][0]["text"]["text"] == "Your mentorship"
        assert "Find a mentor" in str(home["blocks"])

        await become_mentor(world)
        await world.slack.wait_for_call(
            "views.publish", where=lambda c: "python" in str(c.args.get("view")))
        assert "python, rust" in shown(world.slack.homes_published[ALICE])


async def test_mentor_alone_shows_a_menu_and_its_buttons_work(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        menu = await world.command("", user=BOB)
        [shown_menu] = await world.replies(menu)
        assert list(buttons(shown_menu.body)) == [
            "Find a mentor", "My requests and sessions", "Offer to mentor",
            "Upcoming sessions", "Set my timezone", "Help"]
        # "Help" runs at once; "Find a mentor" asks for the topic in a modal first.
        help_click = await world.click("Help", user=BOB, on=shown_menu)
        [help_reply] = await world.replies(help_click)
        assert "Here's what I can do" in shown(help_reply.body)
        find_click = await world.click("Find a mentor", user=BOB, on=shown_menu)
        view = await world.modal()
        assert [b["block_id"] for b in view["blocks"]] == ["topic"]
        ack = await world.submit(view["id"], topic="python")
        assert isinstance(ack, Ack) and ack.payload is None
        [answer] = await world.replies(find_click)  # answered where the menu was clicked
        assert "python" in shown(answer.body)


async def test_plain_text_commands_in_the_bots_dm(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        await world.deliver(world.slack.payloads.message_im(BOB, "help find"))
        answer = await world.dm(BOB, "find")
        assert "/mentor find" in shown({"blocks": answer.blocks})
        await world.deliver(world.slack.payloads.message_im(BOB, "/mentor tz Europe/Paris"))
        await world.dm(BOB, "Europe/Paris")
        assert world.slack.calls("chat.postEphemeral") == []


async def test_a_missed_trigger_offers_a_button_that_opens_the_form(tmp_path: Path) -> None:
    async with slack_world(tmp_path, trigger_lifetime=-1.0) as world:
        inbound = await world.command("mentor", user=ALICE)
        [offer] = await world.replies(inbound)
        assert world.slack.views_opened == []
        assert list(buttons(offer.body)) == ["Open “Become a mentor”"]
        world.slack.trigger_lifetime = 3.0
        await world.click("Open “Become a mentor”", user=ALICE, on=offer, channel=GENERAL)
        view = await world.modal()
        assert view["title"]["text"] == "Become a mentor"

