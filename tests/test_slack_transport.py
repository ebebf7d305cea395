"""How Slack reaches the bot: Socket Mode and signed HTTP, fast acks, retries, secrets.

Acks are measured by the stand-in (``Ack.elapsed``: envelope sent → ack received). To show
that an ack does not wait for the core, the stand-in answers every Web API call 0.3 s late: a
command's reply needs at least one call (the person's ``users.info``), its ack none.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.logs import REDACTED, Redactor, install_redaction
from adapters.slack.main import BOT_TOKEN, serve, token_problem
from bot.clock import ManualClock
from tests.slack_harness import START, settings_for, shared_slack, shown, slack_world
from tests.standins.slack import ALICE, BOB, CAROL, DAVE, Ack, HttpReply, SlackUser, running_slack

LATENCY = 0.3


async def test_socket_mode_acks_before_the_core_answers(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        acked_at: dict[str, float] = {}
        receive = world.slack.socket._on_text

        def on_text(data: str) -> None:  # when each ack reaches the stand-in
            acked_at[json.loads(data)["envelope_id"]] = time.monotonic()
            receive(data)

        world.slack.socket._on_text = on_text  # type: ignore[method-assign]
        await world.say("help", user=BOB)  # Bob is known now: his replies need no lookup
        for text, user in (("find python", ALICE), ("", CAROL), ("my", BOB), ("tz UTC", BOB)):
            inbound = world.slack.payloads.slash_command("/mentor", text, user=user)
            ack = await world.deliver(inbound)
            assert isinstance(ack, Ack) and ack.payload is None  # empty: the reply comes later
            assert ack.elapsed < 3
            [reply] = await world.replies(inbound)
            assert acked_at[ack.envelope_id] < reply.at, text
            assert shown(reply.body)

        # An ack never waits for the core: with every Web API answer 0.3 s late, a new
        # person's command (whose reply needs users.info) is still acknowledged at once.
        world.slack.latency = LATENCY
        inbound = world.slack.payloads.slash_command("/mentor", "my", user=DAVE)
        ack = await world.deliver(inbound)
        assert isinstance(ack, Ack) and ack.elapsed < LATENCY
        [reply] = await world.replies(inbound)
        assert reply.at - acked_at[ack.envelope_id] >= LATENCY * 0.9


async def test_http_mode_serves_signed_requests_and_refuses_the_rest(tmp_path: Path) -> None:
    async with slack_world(tmp_path, mode="http") as world:
        assert world.adapter.url is not None
        assert "Here's what I can do" in await world.say("help", user=ALICE)
        inbound = world.slack.payloads.slash_command("/mentor", "my", user=BOB)
        for flaw in ("wrong_secret", "stale", "future", "missing", "tampered"):
            refused = await world.slack.http.deliver(world.adapter.url, inbound, signing=flaw)
            assert refused.status == 401, flaw
        assert not [p for p in world.slack.response_posts
                    if p.url == inbound.body["response_url"]]
        async with world.app.store.reading() as tx:
            community = await tx.communities.get("slack", world.slack.team_id)
            assert community is not None
            assert await tx.members.by_platform_id(community.id, BOB) is None

        ok = await world.slack.http.deliver(world.adapter.url, inbound)
        assert isinstance(ok, HttpReply) and ok.status == 200 and ok.elapsed < 3
        [reply] = await world.replies(inbound)
        assert shown(reply.body)

        # Interactions and modals over HTTP too: the menu, then its "Find a mentor" modal.
        menu = await world.command("", user=BOB)
        [shown_menu] = await world.replies(menu)
        await world.click("Find a mentor", user=BOB, on=shown_menu)
        view = await world.modal()
        answer = await world.submit(view["id"], topic="")
        assert isinstance(answer, HttpReply) and answer.json["response_action"] == "errors"


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_a_retried_event_is_processed_once(tmp_path: Path, mode: str) -> None:
    async with slack_world(tmp_path, mode=mode) as world:  # type: ignore[arg-type]
        typed = world.slack.payloads.message_im(BOB, "tz Europe/Paris")
        await world.deliver(typed)
        await world.dm(BOB, "Europe/Paris")
        await world.deliver(typed, retry_attempt=1, retry_reason="timeout")
        await world.deliver(typed, retry_attempt=2, retry_reason="timeout")
        other = world.slack.payloads.message_im(BOB, "help tz")
        await world.deliver(other)
        await world.dm(BOB, "/mentor tz")
        assert sum("Europe/Paris" in shown({"blocks": m.blocks}) for m in world.dms(BOB)) == 1


async def test_two_instances_agree_on_seen_events(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with shared_slack(clock) as slack:
        async with slack_world(tmp_path, standin=slack, clock=clock) as first:
            typed = slack.payloads.message_im(BOB, "tz Europe/Paris")
            await first.deliver(typed)
            await first.dm(BOB, "Europe/Paris")
            # Slack retries while a second instance runs on the same database.
            async with slack_world(tmp_path, standin=slack, clock=clock) as second:
                await second.deliver(typed, retry_attempt=1, retry_reason="timeout")
                await second.deliver(slack.payloads.message_im(BOB, "help tz"))
                await second.dm(BOB, "/mentor tz")
        assert sum("Europe/Paris" in shown({"blocks": m.blocks})
                   for m in slack.dm_messages_to(BOB)) == 1


async def test_a_retry_runs_a_command_whose_first_delivery_never_committed(
    tmp_path: Path,
) -> None:
    """The first delivery dies mid-way: the database locks up just after Bob is looked up,
    so the command cannot commit. Slack's retry then runs it, once, and later retries are
    skipped: the event counts as handled only together with the command's changes."""
    async with slack_world(tmp_path, busy_timeout_seconds=0.2) as world:
        held: list[sqlite3.Connection] = []

        def lock_the_database(args: Mapping[str, Any]) -> bool:
            if args.get("user") == BOB and not held:  # a writer takes the lock first
                locker = sqlite3.connect(tmp_path / "slack.db", isolation_level=None)
                locker.execute("BEGIN IMMEDIATE")
                held.append(locker)
            return False  # a hook, not a fault: users.info answers as usual

        world.slack.fail_next("users.info", "never", when=lock_the_database)
        typed = world.slack.payloads.message_im(BOB, "tz Europe/Paris")
        await world.deliver(typed)
        await world.dm(BOB, "can't get to my records")  # busy: nothing was done
        assert held
        held[0].rollback()
        held[0].close()
        await world.deliver(typed, retry_attempt=1, retry_reason="http_timeout")
        await world.dm(BOB, "Europe/Paris")
        await world.deliver(typed, retry_attempt=2, retry_reason="http_timeout")
        await world.deliver(world.slack.payloads.message_im(BOB, "help tz"))
        await world.dm(BOB, "/mentor tz")
        assert sum("Europe/Paris" in shown({"blocks": m.blocks}) for m in world.dms(BOB)) == 1


async def test_a_retry_after_the_reply_was_lost_does_not_run_the_command_again(
    tmp_path: Path,
) -> None:
    """The command commits, then posting its reply fails (the process could as well have died
    there): the retry does nothing, and the change was made once."""
    async with slack_world(tmp_path) as world:
        dm = world.slack._ensure_dm(BOB).id
        lost = world.slack.fail_next("chat.postMessage", "fatal_error",
                                     when=lambda args: args.get("channel") == dm)
        typed = world.slack.payloads.message_im(BOB, "notify rust")
        await world.deliver(typed)
        await world.slack.wait_for_call("chat.postMessage", where=lambda c: not c.ok)
        assert lost.hits == 1 and world.dms(BOB) == []
        await world.deliver(typed, retry_attempt=1, retry_reason="http_timeout")
        await world.deliver(world.slack.payloads.message_im(BOB, "my"))
        mine = await world.dm(BOB, "rust")
        assert len(world.dms(BOB)) == 1  # the retry posted nothing: only `my` answered
        assert shown({"blocks": mine.blocks}).count("rust") == 1  # waiting once, not twice


MARKER_BOT = "xoxb-1111111111-MARKERBOTTOKEN4242"
MARKER_APP = "xapp-1-A0MENTORBT-2222-MARKERAPPTOKEN4242"
MARKER_SECRET = "MARKERSIGNINGSECRET4242deadbeef"


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_no_token_reaches_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    async with slack_world(tmp_path, mode=mode, bot_token=MARKER_BOT,  # type: ignore[arg-type]
                           app_token=MARKER_APP, signing_secret=MARKER_SECRET) as world:
        await world.say("find python", user=ALICE)
        await world.deliver(world.slack.payloads.message_im(BOB, "help"))
        await world.dm(BOB, "what I can do")
        await world.deliver(world.slack.payloads.app_home_opened(BOB))
        await world.slack.wait_for_call("views.publish")
        if mode == "http":
            assert world.adapter.url is not None
            bad = world.slack.payloads.slash_command("/mentor", "my", user=BOB)
            assert (await world.slack.http.deliver(world.adapter.url, bad,
                                                   signing="wrong_secret")).status == 401
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "slack_sdk" in logged or "slack_bolt" in logged  # the libraries did log at DEBUG
    for secret in (MARKER_BOT, MARKER_APP, MARKER_SECRET, "MARKERBOTTOKEN", "MARKERAPPTOKEN"):
        assert secret not in logged


def test_the_redactor_rewrites_any_record_that_carries_a_secret() -> None:
    logger = logging.getLogger("tests.slack.redaction")
    handler = logging.Handler()
    seen: list[str] = []
    handler.emit = lambda record: seen.append(logging.Formatter().format(record))  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        install_redaction([MARKER_BOT, ""], logger)
        assert any(isinstance(f, Redactor) for f in handler.filters)
        logger.warning("posting with %s", MARKER_BOT)
        try:
            raise RuntimeError(f"bad token {MARKER_BOT}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert len(seen) == 2 and all(MARKER_BOT not in line for line in seen)
    assert seen[0] == f"posting with {REDACTED}" and REDACTED in seen[1]


async def test_a_revoked_token_is_named_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_slack(signing_clock=time.time) as slack:
        slack.revoke_bot_token()
        settings = settings_for(slack, tmp_path / "revoked.db")
        assert token_problem(settings) is None
        assert await serve(settings) == 2
    err = capsys.readouterr().err
    assert f"Slack refused {BOT_TOKEN} (token_revoked)" in err
    assert slack.bot_token not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "revoked.db").exists()  # nothing started


async def test_a_members_timezone_follows_slack(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        assert "Europe/Berlin" in await world.say("my", user=ALICE)
        world.slack.add_user(SlackUser(ALICE, "alice", "Alice Adeyemi", "Alice",
                                       "Asia/Tokyo"))
        await world.deliver(world.slack.payloads.event(
            {"type": "user_change", "user": {"id": ALICE, "tz": "Asia/Tokyo"},
             "event_ts": world.slack.next_ts()}))
        assert "Asia/Tokyo" in await world.say("my", user=ALICE)


async def test_a_429_on_an_interactive_call_is_retried_once(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        limited = world.slack.rate_limit_next("views.open", retry_after=0)
        await world.command("mentor", user=ALICE)
        view = await world.modal()
        assert limited.hits == 1 and view["title"]["text"] == "Become a mentor"
        assert [c.status for c in world.slack.calls("views.open")] == [429, 200]
