"""The stand-in Discord works with the real discord.py 2.7 client, unchanged.

Each test runs a real ``discord.Client`` (or ``AutoShardedClient``) with a real
``app_commands.CommandTree`` against ``tests/standins/discord.py`` over real HTTP and a real
gateway websocket, and asserts on what the stand-in recorded: that is what proves the stand-in
is faithful enough to test the Discord adapter with. No sleeps: futures, events and
``standin.wait_until``; ``asyncio.wait_for`` only as a safety net.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.standins.discord import (
    ALICE_ID,
    APPLICATION_ID,
    BOB_ID,
    GENERAL_ID,
    GUILD_ID,
    INTROS_ID,
    OLIVIA_ID,
    DiscordStandIn,
    Fault,
    running_discord,
)

log = logging.getLogger(__name__)

GUILD = discord.Object(int(GUILD_ID))
SAFETY = 5.0  # seconds: a safety net for awaits, never a wait


class QuickClient(discord.Client):
    """A plain discord.Client; only the documented hook that waits 5 s before a non-initial
    IDENTIFY (a rate-limit courtesy towards the real Discord) is skipped."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


class QuickShardedClient(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def make_client(**options: Any) -> QuickClient:
    options.setdefault("intents", discord.Intents.default())
    return QuickClient(guild_ready_timeout=0.01, **options)


@asynccontextmanager
async def connected(
    client: discord.Client, standin: DiscordStandIn
) -> AsyncIterator[discord.Client]:
    """Log in, connect, wait for READY and the guilds; close cleanly afterwards."""
    await client.login(standin.token)
    task = asyncio.create_task(client.connect())
    try:
        await asyncio.wait_for(client.wait_until_ready(), SAFETY)
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, SAFETY)


def future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


# ------------------------------------------------------------------------------------------
# Connecting
# ------------------------------------------------------------------------------------------


async def test_client_logs_in_connects_and_sees_the_guild() -> None:
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            guild = client.get_guild(int(GUILD_ID))
            assert guild is not None and guild.name == "Mentor Circle"
            assert {c.name for c in guild.text_channels} == {"general", "intros", "mentors"}
            assert guild.owner_id == int(OLIVIA_ID)
            assert client.user is not None and client.user.id == int(APPLICATION_ID)
            assert client.application_id == int(APPLICATION_ID)

        assert [r.route for r in standin.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]
        assert all(r.headers.get("Authorization") == "<redacted>" for r in standin.requests)
        assert standin.token not in repr(standin.requests) + repr(standin.gateway.frames)
        (identify,) = standin.gateway.received(op=2)
        assert identify.d["intents"] == discord.Intents.default().value
        assert identify.d["token"] == "<redacted>"
        assert standin.gateway.received(op=1), "discord.py heartbeats at once after HELLO"
        assert standin.gateway.sent(op=11), "and each heartbeat is acknowledged"
        assert [f.t for f in standin.gateway.sent(op=0)][:2] == ["READY", "GUILD_CREATE"]
        assert standin.gateway.connections[0].compress == "zlib-stream"


async def test_auto_sharded_client_needs_only_the_api_base(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_discord(shards=2, point_discord_py=False) as standin:
        monkeypatch.setattr(discord.http.Route, "BASE", standin.api_base)
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"
        client = QuickShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.01)
        async with connected(client, standin):
            assert client.shard_count == 2
            assert client.get_guild(int(GUILD_ID)) is not None
        assert standin.requests_to("/gateway/bot")
        shards = sorted(tuple(f.d["shard"]) for f in standin.gateway.received(op=2))
        assert shards == [(0, 2), (1, 2)]


# ------------------------------------------------------------------------------------------
# Commands and interactions
# ------------------------------------------------------------------------------------------


def mentor_tree(
    client: discord.Client, seen: list[discord.Interaction] | None = None
) -> app_commands.CommandTree:
    """/find topic (ephemeral answer with a button) and /mentor ask with an autocompleted topic."""
    tree = app_commands.CommandTree(client)

    @tree.command(name="find", description="Find a mentor", guild=GUILD)
    @app_commands.describe(topic="What you want to learn")
    async def find(interaction: discord.Interaction, topic: str) -> None:
        if seen is not None:
            seen.append(interaction)
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Ask for an intro", custom_id=f"intro:ask:{topic}"))
        await interaction.response.send_message(
            f"2 mentors know {topic}", ephemeral=True, view=view
        )

    mentor = app_commands.Group(
        name="mentor", description="Mentor tools", guild_ids=[int(GUILD_ID)]
    )

    @mentor.command(name="ask", description="Ask a mentor")
    async def ask(interaction: discord.Interaction, topic: str, who: discord.Member) -> None:
        await interaction.response.send_message(
            f"Asking {who.display_name} about {topic}", ephemeral=True
        )

    @ask.autocomplete("topic")
    async def topics(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        known = ["rust", "python", "public speaking", "ruby"]
        return [app_commands.Choice(name=t, value=t) for t in known if t.startswith(current)]

    tree.add_command(mentor)
    return tree


async def test_tree_sync_is_recorded_with_ids_and_defaults() -> None:
    async with running_discord() as standin:
        client = make_client()
        tree = mentor_tree(client)
        async with connected(client, standin):
            synced = await tree.sync(guild=GUILD)
        assert sorted(c.name for c in synced) == ["find", "mentor"]
        stored = {c["name"]: c for c in standin.synced_commands(GUILD_ID)}
        assert {c.id for c in synced} == {int(c["id"]) for c in stored.values()}
        assert stored["find"]["options"][0] == {
            "type": 3,
            "name": "topic",
            "description": "What you want to learn",
            "required": True,
        }
        ask = stored["mentor"]["options"][0]
        assert ask["type"] == 1 and ask["options"][0]["autocomplete"] is True
        assert stored["find"]["guild_id"] == GUILD_ID and stored["find"]["integration_types"] == [0]
        (put,) = standin.requests_to(
            "/applications/{application_id}/guilds/{guild_id}/commands", "PUT"
        )
        assert put.body[0]["contexts"] is None, (
            "discord.py leaves contexts null; the answer fills it"
        )
        assert standin.synced_commands() == []


async def test_slash_command_gets_an_ephemeral_answer_with_a_button_in_time() -> None:
    async with running_discord() as standin:
        client = make_client()
        seen: list[discord.Interaction] = []
        tree = mentor_tree(client, seen)
        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            handle = await standin.slash("find", {"topic": "rust"}, user="alice", channel="intros")
            reply = await handle.reply()

            assert reply.accepted and reply.type == 4 and reply.ephemeral
            assert reply.elapsed < 3.0
            assert reply.data["content"] == "2 mentors know rust"
            assert reply.data["components"][0]["components"][0]["custom_id"] == "intro:ask:rust"
            assert reply.with_response, "discord.py asks for the created message"
            (interaction,) = seen
            assert interaction.user.id == int(ALICE_ID) and interaction.guild_id == int(GUILD_ID)
            assert interaction.channel is not None and interaction.channel.id == int(INTROS_ID)
            # The created message id came back, so the view is bound to it and can be fetched.
            original = await interaction.original_response()
            assert handle.original is not None and original.id == int(handle.original.id)
            assert handle.original.ephemeral and not standin.messages_in("intros")
            with pytest.raises(ValueError, match="only alice can see"):
                await standin.click(handle.original.id, "intro:ask:rust", user="bob")


async def test_autocomplete_offers_the_matching_choices() -> None:
    async with running_discord() as standin:
        client = make_client()
        tree = mentor_tree(client)
        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            handle = await standin.autocomplete("mentor ask", {"topic": "ru"}, focused="topic")
            reply = await handle.reply()
        assert reply.type == 8
        assert [c["value"] for c in reply.data["choices"]] == ["rust", "ruby"]
        assert handle.choices == reply.data["choices"]


async def test_subcommand_with_a_member_option_resolves_the_member() -> None:
    async with running_discord() as standin:
        client = make_client()
        tree = mentor_tree(client)
        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            handle = await standin.slash("mentor ask", {"topic": "rust", "who": "bob"})
            reply = await handle.reply()
        assert reply.data["content"] == "Asking Bob about rust"
        assert handle.payload["data"]["resolved"]["members"][BOB_ID]["roles"] == []


class IntroAccept(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"intro:accept:(?P<intro>\d+)"
):
    """A persistent button: the intro id lives in the custom id, so it survives restarts."""

    handled: asyncio.Future[tuple[int, discord.Interaction]]

    def __init__(self, intro: int) -> None:
        super().__init__(discord.ui.Button(label="Accept", custom_id=f"intro:accept:{intro}"))
        self.intro = intro

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> IntroAccept:
        return cls(int(match["intro"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content="Accepted", view=None)
        IntroAccept.handled.set_result((self.intro, interaction))


async def test_button_click_in_a_dm_reaches_a_dynamic_item() -> None:
    async with running_discord() as standin:
        client = make_client()
        client.add_dynamic_items(IntroAccept)
        IntroAccept.handled = future()
        async with connected(client, standin):
            alice = await client.fetch_user(int(ALICE_ID))
            view = discord.ui.View(timeout=None)
            view.add_item(IntroAccept(42))
            sent = await alice.send("Bob would like an intro", view=view)

            (dm,) = standin.dms_to("alice")
            assert dm.id == str(sent.id) and dm.custom_ids == ["intro:accept:42"]
            handle = await standin.click(dm.id, "intro:accept:42", user="alice")
            intro, interaction = await asyncio.wait_for(IntroAccept.handled, SAFETY)
            reply = await handle.reply()

        assert intro == 42
        assert interaction.guild is None and interaction.user.id == int(ALICE_ID)
        assert "guild_id" not in handle.payload and handle.payload["context"] == 1
        assert reply.type == 7 and dm.content == "Accepted" and dm.components == []


def goal_modal(label_layout: bool, submitted: asyncio.Future[str]) -> discord.ui.Modal:
    class Goal(discord.ui.Modal, title="Your mentoring goal"):
        def __init__(self) -> None:
            super().__init__()
            # In the Label layout the Label carries the text; in the old one the input does.
            self.goal: discord.ui.TextInput[Goal] = discord.ui.TextInput(
                label=None if label_layout else "Your goal",
                style=discord.TextStyle.paragraph,
                max_length=500,
            )
            if label_layout:
                self.add_item(discord.ui.Label(text="Your goal", component=self.goal))
            else:
                self.add_item(self.goal)

        async def on_submit(self, interaction: discord.Interaction) -> None:
            submitted.set_result(self.goal.value)
            await interaction.response.send_message("Saved", ephemeral=True)

    return Goal()


@pytest.mark.parametrize(
    ("sent_with_label", "submit_layout"),
    [(False, None), (True, None), (False, "label")],
    ids=["action-row", "label", "action-row-answered-as-label"],
)
async def test_modal_is_sent_and_its_submit_reaches_on_submit(
    sent_with_label: bool, submit_layout: str | None
) -> None:
    async with running_discord() as standin:
        client = make_client()
        tree = app_commands.CommandTree(client)
        submitted: asyncio.Future[str] = future()

        @tree.command(name="goal", description="Set your goal", guild=GUILD)
        async def goal(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(goal_modal(sent_with_label, submitted))

        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            opened = await standin.slash("goal")
            modal_reply = await opened.reply()
            assert modal_reply.type == 9 and opened.modal is not None
            top = opened.modal["components"][0]
            assert top["type"] == (18 if sent_with_label else 1)

            submit = await standin.submit_modal(
                opened, {"Your goal": "Ship my first Rust crate"}, layout=submit_layout
            )
            assert await asyncio.wait_for(submitted, SAFETY) == "Ship my first Rust crate"
            assert (await submit.reply()).data["content"] == "Saved"


async def test_deferred_answer_then_follow_up_fills_the_thinking_message() -> None:
    async with running_discord() as standin:
        client = make_client()
        tree = app_commands.CommandTree(client)

        @tree.command(name="matches", description="Find matches", guild=GUILD)
        async def matches(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("Found 3 mentors")

        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            handle = await standin.slash("matches", channel="general")
            assert (await handle.reply()).type == 5
            await standin.wait_until(
                lambda: handle.original is not None and handle.original.content != ""
            )
        assert handle.original is not None and handle.original.content == "Found 3 mentors"
        assert handle.followups == []
        assert [m.content for m in standin.messages_in("general")] == ["Found 3 mentors"]


async def test_late_first_response_is_unknown_interaction_and_a_second_one_is_refused() -> None:
    now = [1000.0]
    async with running_discord(clock=lambda: now[0]) as standin:
        client = make_client()
        tree = app_commands.CommandTree(client)
        errors: asyncio.Queue[discord.HTTPException] = asyncio.Queue()

        @tree.command(name="slow", description="Takes its time", guild=GUILD)
        async def slow(interaction: discord.Interaction) -> None:
            now[0] += 3.5  # the bot's work took 3.5 s on the stand-in's clock
            try:
                await interaction.response.send_message("too late")
            except discord.HTTPException as error:
                errors.put_nowait(error)

        @tree.command(name="twice", description="Acknowledges, then tries again", guild=GUILD)
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.defer()

        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            late = await standin.slash("slow")
            reply = await late.reply()
            error = await asyncio.wait_for(errors.get(), SAFETY)
            assert isinstance(error, discord.NotFound) and error.code == 10062
            assert (reply.status, reply.code, reply.elapsed) == (404, 10062, 3.5)

            acked = await standin.slash("twice")
            assert (await acked.reply()).accepted
            # discord.py refuses a second response locally; the stand-in must refuse one that
            # reaches it anyway (another process, a retry after a timeout...).
            url = f"{standin.api_base}/interactions/{acked.id}/{acked.token}/callback"
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, json={"type": 4, "data": {"content": "again"}}) as answer,
            ):
                body = await answer.json()
                assert answer.status == 400 and body["code"] == 40060
            assert [(r.type, r.status) for r in acked.replies] == [(5, 200), (4, 400)]


async def test_an_interaction_marked_expired_is_refused() -> None:
    async with running_discord() as standin:
        client = make_client()
        tree = app_commands.CommandTree(client)
        proceed = asyncio.Event()
        refused: asyncio.Future[discord.NotFound] = future()

        @tree.command(name="wait", description="Waits for the test", guild=GUILD)
        async def wait(interaction: discord.Interaction) -> None:
            await proceed.wait()
            try:
                await interaction.response.send_message("hello")
            except discord.NotFound as error:
                refused.set_result(error)

        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            handle = await standin.slash("wait")
            handle.expire()
            proceed.set()
            assert (await asyncio.wait_for(refused, SAFETY)).code == 10062


# ------------------------------------------------------------------------------------------
# Messages, DMs, idempotency, threads
# ------------------------------------------------------------------------------------------


async def test_dm_sent_twice_with_the_same_nonce_is_one_message() -> None:
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            alice = await client.fetch_user(int(ALICE_ID))
            first = await alice.send("Reminder: session at 18:00", nonce="nudge-77")
            again = await alice.send("Reminder: session at 18:00", nonce="nudge-77")
            other = await alice.send("Another reminder", nonce="nudge-78")
            history = [m async for m in alice.history(limit=10)]

        assert first.id == again.id != other.id
        assert [m.content for m in standin.dms_to("alice")] == [
            "Reminder: session at 18:00",
            "Another reminder",
        ]
        posts = standin.requests_to("/channels/{channel_id}/messages", "POST")
        assert [(p.body["nonce"], p.body["enforce_nonce"]) for p in posts][:2] == [
            ("nudge-77", True)
        ] * 2
        (open_dm, *_) = standin.requests_to("/users/@me/channels")
        assert open_dm.body == {"recipient_id": int(ALICE_ID)}, "an int: the known spec mismatch"
        # History is newest first and carries no nonce, as on Discord.
        assert [m.content for m in history] == ["Another reminder", "Reminder: session at 18:00"]
        (listing,) = standin.requests_to("/channels/{channel_id}/messages", "GET")
        assert all("nonce" not in m for m in listing.answer)


async def test_closed_dms_surface_as_forbidden_50007_without_retry() -> None:
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            bob = await client.fetch_user(int(BOB_ID))
            standin.inject(
                Fault.cannot_dm(), method="POST", route="/channels/{channel_id}/messages"
            )
            with pytest.raises(discord.Forbidden) as injected:
                await bob.send("Hello")
            standin.close_dms("carol")
            carol = await client.fetch_user(int(standin.user_id("carol")))
            with pytest.raises(discord.Forbidden) as closed:
                await carol.send("Hello")
        assert injected.value.code == closed.value.code == 50007
        assert standin.invalid_requests == 2
        assert len(standin.requests_to("/channels/{channel_id}/messages", "POST")) == 2
        assert standin.dms_to("bob") == standin.dms_to("carol") == []


@pytest.mark.parametrize("global_", [False, True], ids=["route", "global"])
async def test_rate_limit_makes_discord_py_wait_and_retry(global_: bool) -> None:
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            rule = standin.inject(
                Fault.rate_limited(0.01, global_=global_),
                method="POST",
                route="/channels/{channel_id}/messages",
                channel_id=INTROS_ID,
            )
            channel = client.get_channel(int(INTROS_ID))
            assert isinstance(channel, discord.TextChannel)
            await channel.send("Welcome, mentors!")
        posts = standin.requests_to("/channels/{channel_id}/messages", "POST")
        assert [p.status for p in posts] == [429, 200]
        assert posts[0].fault is not None and rule.remaining == 0
        assert [m.content for m in standin.messages_in("intros")] == ["Welcome, mentors!"]


async def test_faults_hit_only_matching_requests_and_latency_delays_answers() -> None:
    async with running_discord(latency=0.02) as standin:
        headers = {"Authorization": f"Bot {standin.token}"}
        rule = standin.inject(
            Fault.server_error(503),
            method="GET",
            route="/channels/{channel_id}",
            times=2,
            channel_id=INTROS_ID,
        )
        statuses = []
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession(headers=headers) as session:
            for channel in (GENERAL_ID, INTROS_ID, INTROS_ID, INTROS_ID):
                started = loop.time()
                async with session.get(f"{standin.api_base}/channels/{channel}") as answer:
                    statuses.append(answer.status)
                    assert loop.time() - started >= 0.02
        assert statuses == [200, 503, 503, 200]
        assert rule.remaining == 0 and len(rule.hits) == 2


async def test_private_thread_with_members_and_a_message() -> None:
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            intros = client.get_channel(int(INTROS_ID))
            assert isinstance(intros, discord.TextChannel)
            thread = await intros.create_thread(
                name="Intro: Alice and Bob",
                type=discord.ChannelType.private_thread,
                invitable=False,
            )
            await thread.add_user(discord.Object(int(ALICE_ID)))
            await thread.add_user(discord.Object(int(BOB_ID)))
            members = await thread.fetch_members()
            await thread.send("Alice, meet Bob!")
        (stored,) = standin.threads
        assert (stored.name, stored.type, stored.invitable) == ("Intro: Alice and Bob", 12, False)
        assert set(stored.members) == {APPLICATION_ID, ALICE_ID, BOB_ID}
        assert {m.id for m in members} == {int(APPLICATION_ID), int(ALICE_ID), int(BOB_ID)}
        assert [m.content for m in standin.messages_in(stored.id)] == ["Alice, meet Bob!"]


async def test_a_file_upload_is_recorded_with_its_bytes() -> None:
    invite = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            alice = await client.fetch_user(int(ALICE_ID))
            await alice.send(
                "Your session", file=discord.File(io.BytesIO(invite), filename="session.ics")
            )
        (message,) = standin.dms_to("alice")
        (attachment,) = message.attachments
        assert (attachment.filename, attachment.data) == ("session.ics", invite)
        (post,) = standin.requests_to("/channels/{channel_id}/messages", "POST")
        assert (
            post.files[0].field == "files[0]"
            and post.body["attachments"][0]["filename"] == "session.ics"
        )


async def test_allowed_mentions_decide_who_would_be_pinged() -> None:
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            general = client.get_channel(int(GENERAL_ID))
            assert isinstance(general, discord.TextChannel)
            await general.send(f"@everyone welcome <@{ALICE_ID}>")
            await general.send(
                f"@everyone welcome <@{ALICE_ID}> and <@{BOB_ID}>",
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(int(ALICE_ID))]
                ),
            )
        unguarded, guarded = standin.messages_in("general")
        assert not unguarded.allowed_mentions_sent and unguarded.pings_everyone, "Discord's default"
        assert guarded.allowed_mentions is not None
        assert (guarded.allowed_mentions["parse"], guarded.allowed_mentions["users"]) == (
            [],
            [int(ALICE_ID)],
        )
        assert not guarded.pings_everyone and guarded.pinged_user_ids == {ALICE_ID}


async def test_history_pages_newest_first_and_edits_are_recorded() -> None:
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            general = client.get_channel(int(GENERAL_ID))
            assert isinstance(general, discord.TextChannel)
            sent = [await general.send(f"note {n}") for n in range(5)]
            await sent[1].edit(content="note 1 (edited)")
            newest = [m.content async for m in general.history(limit=2)]
            older = [m.content async for m in general.history(limit=2, before=sent[2])]
            after = [
                m.content async for m in general.history(limit=2, after=sent[2], oldest_first=True)
            ]
        assert newest == ["note 4", "note 3"]
        assert older == ["note 1 (edited)", "note 0"]
        assert after == ["note 3", "note 4"]
        edited = standin.message(str(sent[1].id))
        assert edited.edited == 1 and edited.edited_timestamp is not None


async def test_follow_ups_work_for_15_minutes_then_the_token_is_invalid() -> None:
    now = [0.0]
    async with running_discord(clock=lambda: now[0]) as standin:
        client = make_client()
        tree = app_commands.CommandTree(client)
        answered: asyncio.Future[discord.Interaction] = future()

        @tree.command(name="book", description="Book a session", guild=GUILD)
        async def book(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Booking…", ephemeral=True)
            answered.set_result(interaction)

        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            handle = await standin.slash("book")
            interaction = await asyncio.wait_for(answered, SAFETY)
            now[0] += 14 * 60
            await interaction.followup.send("Booked for Tuesday", ephemeral=True)
            await interaction.edit_original_response(content="Done")
            now[0] += 2 * 60
            with pytest.raises(discord.HTTPException) as expired:
                await interaction.followup.send("Too late")
        assert expired.value.status == 401 and expired.value.code == 50027
        assert [m.content for m in handle.followups] == ["Booked for Tuesday"]
        assert handle.original is not None and handle.original.content == "Done"


async def test_user_messages_and_new_members_reach_the_client() -> None:
    async with running_discord() as standin:
        intents = discord.Intents.default()
        intents.members = True
        client = make_client(intents=intents)
        messages: asyncio.Queue[discord.Message] = asyncio.Queue()
        joined: asyncio.Future[discord.Member] = future()

        @client.event
        async def on_message(message: discord.Message) -> None:
            if message.author != client.user:
                messages.put_nowait(message)

        @client.event
        async def on_member_join(member: discord.Member) -> None:
            joined.set_result(member)

        async with connected(client, standin):
            guild = client.get_guild(int(GUILD_ID))
            assert guild is not None and guild.chunked and len(guild.members) == 5
            await standin.user_says("dm", "alice", "hi bot, can you help?")
            await standin.user_says("general", "bob", "anyone into rust?")
            in_dm = await asyncio.wait_for(messages.get(), SAFETY)
            in_guild = await asyncio.wait_for(messages.get(), SAFETY)
            new_id = await standin.member_joins("dave", global_name="Dave")
            member = await asyncio.wait_for(joined, SAFETY)
            found = await guild.query_members("car")
        assert in_dm.guild is None and in_dm.content == "hi bot, can you help?"
        assert in_guild.content == "", "no MESSAGE_CONTENT intent: Discord blanks guild messages"
        assert member.id == int(new_id) and member.display_name == "Dave"
        assert [m.name for m in found] == ["carol"]
        assert standin.gateway.received(op=8), "query_members asks the gateway (op 8)"


async def test_privileged_intents_not_enabled_refuse_the_connection() -> None:
    async with running_discord(privileged_intents=0) as standin:
        client = make_client(intents=discord.Intents.all())
        await client.login(standin.token)
        with (
            standin.expect_violation(r"gateway op 2 -> 4014"),
            pytest.raises(discord.PrivilegedIntentsRequired),
        ):
            await asyncio.wait_for(client.connect(), SAFETY)
        await client.close()


# ------------------------------------------------------------------------------------------
# Checks: what Discord would refuse fails the test
# ------------------------------------------------------------------------------------------


async def test_requests_breaking_discords_limits_answer_400_and_are_reported() -> None:
    async with running_discord() as standin:
        client = make_client()
        async with connected(client, standin):
            intros = client.get_channel(int(INTROS_ID))
            assert isinstance(intros, discord.TextChannel)
            with (
                standin.expect_violation(r"content: Must be 2000 or fewer"),
                pytest.raises(discord.HTTPException) as too_long,
            ):
                await intros.send("x" * 2001)
            view = discord.ui.View()
            view.add_item(discord.ui.Button(label="Go", custom_id="c" * 101))
            with (
                standin.expect_violation(r"components\.0\.components\.0\.custom_id"),
                pytest.raises(discord.HTTPException) as bad_id,
            ):
                await intros.send("Pick one", view=view)
            with (
                standin.expect_violation(r"name: Must be 100 or fewer"),
                pytest.raises(discord.HTTPException),
            ):
                await intros.create_thread(name="n" * 101, type=discord.ChannelType.private_thread)
        assert too_long.value.status == 400 and too_long.value.code == 50035
        assert "content" in str(too_long.value)
        assert bad_id.value.code == 50035
        assert standin.messages_in("intros") == [] and standin.threads == []
        assert len(standin.violations) == 3 and standin.unexpected_violations == []


async def test_an_unexpected_violation_fails_the_test_at_teardown() -> None:
    with pytest.raises(AssertionError, match=r"content: Must be 2000 or fewer"):
        async with running_discord() as standin:
            headers = {"Authorization": f"Bot {standin.token}"}
            async with aiohttp.ClientSession(headers=headers) as session:
                url = f"{standin.api_base}/channels/{INTROS_ID}/messages"
                async with session.post(url, json={"content": "y" * 2001}) as answer:
                    assert answer.status == 400
                    assert (await answer.json())["errors"]["content"]["_errors"][0][
                        "code"
                    ] == "BASE_TYPE_MAX_LENGTH"


async def test_expecting_a_violation_that_does_not_happen_fails() -> None:
    async with running_discord() as standin:
        with (
            pytest.raises(AssertionError, match="expected a violation"),
            standin.expect_violation("content"),
        ):
            pass


async def test_unknown_routes_and_missing_tokens_get_json_errors() -> None:
    async with running_discord() as standin, aiohttp.ClientSession() as session:
        async with session.get(f"{standin.api_base}/users/@me") as unauthorized:
            assert unauthorized.status == 401
        headers = {"Authorization": f"Bot {standin.token}"}
        with standin.expect_violation(r"/no/such/route is not a Discord route"):
            async with session.get(f"{standin.api_base}/no/such/route", headers=headers) as missing:
                assert missing.status == 404
                assert missing.headers["Content-Type"] == "application/json"
                assert (await missing.json())["message"] == "404: Not Found"
        with standin.expect_violation(r"a Discord route the stand-in does not serve"):
            url = f"{standin.api_base}/guilds/{GUILD_ID}/bans"
            async with session.get(url, headers=headers) as unserved:
                assert unserved.status == 404
        assert standin.invalid_requests == 1


async def test_the_stand_ins_own_answers_are_checked_against_the_spec() -> None:
    async with running_discord() as standin:
        standin.inject(
            Fault(200, {"id": "not-a-snowflake"}, name="broken"), method="GET", route="/users/@me"
        )
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bot {standin.token}"}
        ) as session:
            with standin.expect_violation(r"answer to GET /users/@me.*\[answer\]"):
                async with session.get(f"{standin.api_base}/users/@me") as answer:
                    assert answer.status == 200


# ------------------------------------------------------------------------------------------
# The gateway: drops, resumes, invalid sessions
# ------------------------------------------------------------------------------------------


async def _drop_by_close(standin: DiscordStandIn) -> None:
    await standin.gateway.drop(code=4000)


async def _drop_abruptly(standin: DiscordStandIn) -> None:
    await standin.gateway.drop(abrupt=True)


async def _ask_to_reconnect(standin: DiscordStandIn) -> None:
    await standin.gateway.request_reconnect()


@pytest.mark.parametrize(
    "drop",
    [_drop_by_close, _drop_abruptly, _ask_to_reconnect],
    ids=["close-4000", "abrupt-1006", "op7-reconnect"],
)
async def test_a_dropped_gateway_resumes_and_nothing_is_dispatched_twice(
    drop: Callable[[DiscordStandIn], Any],
) -> None:
    async with running_discord() as standin:
        client = make_client()
        seen: list[discord.Interaction] = []
        tree = mentor_tree(client, seen)
        resumed = asyncio.Event()
        client.event(_set_on("on_resumed", resumed))
        async with connected(client, standin):
            await tree.sync(guild=GUILD)
            before = await standin.slash("find", {"topic": "rust"})
            await before.reply()
            last_seq_before_drop = max(
                f.s or 0 for f in standin.gateway.sent(op=0) if f.connection == 1
            )

            await drop(standin)
            after = await standin.slash("find", {"topic": "go"})  # may wait for the replay
            await after.reply()
            await asyncio.wait_for(resumed.wait(), SAFETY)

        (resume,) = standin.gateway.received(op=6)
        assert len(standin.gateway.received(op=2)) == 1, "resumed, not identified again"
        assert resume.d["seq"] == last_seq_before_drop
        assert resume.d["session_id"] == standin.gateway.sent("READY")[0].d["session_id"]
        assert standin.gateway.connections[1].path == "/resume", "uses READY's resume_gateway_url"
        assert [i.id for i in seen] == [int(before.id), int(after.id)]
        delivered = [f.d["id"] for f in standin.gateway.sent("INTERACTION_CREATE")]
        assert sorted(delivered) == sorted({before.id, after.id})


def _set_on(name: str, event: asyncio.Event) -> Callable[[], Any]:
    async def handler() -> None:
        event.set()

    handler.__name__ = name
    return handler


async def test_an_invalid_session_makes_the_client_identify_again() -> None:
    async with running_discord() as standin:
        client = make_client()
        ready_count = 0
        second_ready = asyncio.Event()

        @client.event
        async def on_ready() -> None:
            nonlocal ready_count
            ready_count += 1
            if ready_count == 2:
                second_ready.set()

        async with connected(client, standin):
            first_session = standin.gateway.session_for_shard(0).session_id
            await standin.gateway.invalidate_session(resumable=False)
            await asyncio.wait_for(second_ready.wait(), SAFETY)
            assert standin.gateway.session_for_shard(0).session_id != first_session
        assert len(standin.gateway.received(op=2)) == 2 and standin.gateway.received(op=6) == []
        assert ready_count == 2, "on_ready fires again: never start work there (reliability notes)"
