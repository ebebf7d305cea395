"""The stand-in Slack works with the real slack-sdk and slack-bolt, and catches bad traffic.

Real libraries only: ``AsyncWebClient`` over HTTP, ``AsyncApp`` with
``AsyncSocketModeHandler`` over a websocket, and ``AsyncApp`` in HTTP mode behind
``AsyncSlackAppServer``'s aiohttp app. Nothing here sleeps: tests await acks and recorded calls.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.metadata import Metadata
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.clock import ManualClock
from tests.standins.slack import (
    ALICE,
    BOB,
    BOT_USER,
    CAROL,
    DAVE,
    GENERAL,
    HELPER_BOT,
    ORGANIZERS,
    RANDOM,
    TEAM_ID,
    SlackStandin,
    SlackUser,
    running_slack,
)

log = logging.getLogger(__name__)


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandin]:
    async with running_slack() as standin:
        yield standin


@pytest.fixture
def client(slack: SlackStandin) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


def nudge_metadata(nudge_id: int) -> Metadata:
    return Metadata(event_type="mentorbot_nudge", event_payload={"nudge_id": nudge_id})


# --- Web API: realistic answers ------------------------------------------------------------


async def test_auth_test_names_the_bot_and_team(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    answer = await client.auth_test()
    assert (answer["user_id"], answer["team_id"], answer["bot_id"]) == (
        BOT_USER,
        TEAM_ID,
        slack.bot_id,
    )
    call = slack.calls("auth.test")[0]
    assert call.token_kind == "xoxb"
    assert "xoxb-" not in call.headers["Authorization"].replace("xoxb-<redacted>", "")


async def test_a_revoked_token_answers_token_revoked(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    slack.revoke_bot_token()
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    assert raised.value.response["error"] == "token_revoked"


async def test_post_update_delete_and_history_with_metadata(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    blocks = [
        SectionBlock(
            text="Ada can mentor you in *Rust*",
            accessory=ButtonElement(text="Ask for an intro", action_id="intro", value="ada"),
        )
    ]
    first = await client.chat_postMessage(
        channel=GENERAL, text="Ada can mentor you", blocks=blocks, metadata=nudge_metadata(7)
    )
    second = await client.chat_postMessage(channel=GENERAL, text="second")
    assert first["channel"] == GENERAL and first["ts"] < second["ts"]
    assert first["message"]["metadata"]["event_payload"] == {"nudge_id": 7}
    assert slack.calls("chat.postMessage")[0].encoding == "json"

    await client.chat_update(channel=GENERAL, ts=first["ts"], text="Ada (updated)")
    plain = await client.conversations_history(channel=GENERAL)
    assert [m["text"] for m in plain["messages"]] == ["second", "Ada (updated)"]  # newest first
    assert "metadata" not in plain["messages"][1]
    full = await client.conversations_history(
        channel=GENERAL, include_all_metadata=True, oldest=first["ts"], inclusive=True, limit=1
    )
    assert full["has_more"] is True and full["messages"][0]["text"] == "second"
    older = await client.conversations_history(
        channel=GENERAL, include_all_metadata=True, latest=second["ts"]
    )
    assert older["messages"][0]["metadata"]["event_type"] == "mentorbot_nudge"

    await client.chat_delete(channel=GENERAL, ts=second["ts"])
    assert [m.text for m in slack.messages_in(GENERAL)] == ["Ada (updated)"]
    kept = slack.messages_in(GENERAL)[0]
    assert kept.blocks is not None and kept.blocks[0]["accessory"]["action_id"] == "intro"


async def test_posting_where_the_bot_is_not_a_member_answers_not_in_channel(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=RANDOM, text="hello")
    assert raised.value.response["error"] == "not_in_channel"
    assert slack.violations == []  # a refusal Slack gives, not a malformed request


async def test_conversations_open_gives_stable_dm_and_group_dm_ids(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    dm = (await client.conversations_open(users=ALICE))["channel"]["id"]
    again = await client.conversations_open(users=ALICE, return_im=True)
    assert dm.startswith("D") and again["channel"]["id"] == dm and again["already_open"]
    assert again["channel"]["user"] == ALICE and slack.dm_channel_of(ALICE) == dm
    group = (await client.conversations_open(users=f"{ALICE},{BOB}"))["channel"]["id"]
    same = (await client.conversations_open(users=f"{BOB},{ALICE}"))["channel"]["id"]
    assert group.startswith("G") and same == group == slack.group_dm_of([ALICE, BOB])
    assert slack.calls("conversations.open")[0].encoding == "query"

    for users, error in [
        (HELPER_BOT, "cannot_dm_bot"),
        (DAVE, "user_disabled"),
        ("U0NOBODY01", "user_not_found"),
    ]:
        with pytest.raises(SlackApiError) as raised:
            await client.conversations_open(users=users)
        assert raised.value.response["error"] == error

    await client.chat_postMessage(channel=dm, text="Your session with Bob is tomorrow")
    await client.chat_postEphemeral(channel=GENERAL, user=BOB, text="only Bob sees this")
    assert [m.text for m in slack.dm_messages_to(ALICE)] == ["Your session with Bob is tomorrow"]
    assert [(e.user, e.text) for e in slack.ephemerals] == [(BOB, "only Bob sees this")]
    info = await client.conversations_info(channel=dm)
    assert info["channel"]["is_im"] and info["channel"]["user"] == ALICE


async def test_users_usergroups_and_file_uploads(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    alice = (await client.users_info(user=ALICE))["user"]
    assert (alice["tz"], alice["is_admin"], alice["profile"]["display_name"]) == (
        "Europe/Berlin",
        False,
        "Alice",
    )
    assert alice["tz_offset"] in (3600, 7200)
    carol = (await client.users_info(user=CAROL))["user"]
    assert carol["is_admin"] and carol["is_owner"]
    assert (await client.users_info(user=DAVE))["user"]["deleted"] is True
    assert (await client.usergroups_users_list(usergroup=ORGANIZERS))["users"] == [CAROL]

    ics = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    done = await client.files_upload_v2(
        channel=GENERAL,
        content=ics,
        filename="session.ics",
        title="Mentoring session",
        initial_comment="Your invite",
    )
    upload = slack.uploads[0]
    assert (upload.filename, upload.title, upload.data) == ("session.ics", "Mentoring session", ics)
    assert (upload.channel_id, upload.initial_comment) == (GENERAL, "Your invite")
    assert done["file"]["id"] == upload.file_id
    shared = slack.messages_in(GENERAL)[-1]
    assert shared.files is not None and shared.files[0]["id"] == upload.file_id


async def test_modals_and_home_tab(slack: SlackStandin, client: AsyncWebClient) -> None:
    trigger = slack.payloads.slash_command("/mentor", "book", user=ALICE).body["trigger_id"]
    modal = View(
        type="modal",
        title="Book a session",
        submit="Book",
        callback_id="book",
        blocks=[
            InputBlock(
                block_id="when", label="When?", element=PlainTextInputElement(action_id="when_text")
            )
        ],
    )
    opened = await client.views_open(trigger_id=trigger, view=modal)
    assert slack.views_opened[0].user == ALICE
    with pytest.raises(SlackApiError) as raised:  # a trigger works once
        await client.views_open(trigger_id=trigger, view=modal)
    assert raised.value.response["error"] == "exchanged_trigger_id"
    updated = await client.views_update(
        view_id=opened["view"]["id"],
        hash=opened["view"]["hash"],
        view=View(type="modal", title="Booked", blocks=[SectionBlock(text="Done")]),
    )
    assert slack.view(updated["view"]["id"])["title"]["text"] == "Booked"

    home = View(type="home", blocks=[SectionBlock(text="Your mentors")])
    await client.views_publish(user_id=ALICE, view=home)
    assert slack.homes_published[ALICE]["blocks"][0]["text"]["text"] == "Your mentors"


async def test_form_encoded_json_arguments_are_decoded_and_checked(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
    form = {"channel": GENERAL, "text": "hi", "blocks": json.dumps([section])}
    await client.api_call("chat.postMessage", data=form)
    call = slack.calls("chat.postMessage")[0]
    assert call.encoding == "form" and call.args["blocks"][0]["text"]["text"] == "hi"

    slack.expect_violation("chat.postMessage", "invalid_blocks")
    lenient = {"type": "section", "text": "hi"}  # slack_sdk would accept it, Slack does not
    with pytest.raises(SlackApiError):
        await client.api_call("chat.postMessage", data={**form, "blocks": json.dumps([lenient])})


async def test_history_pages_with_a_cursor(slack: SlackStandin, client: AsyncWebClient) -> None:
    for text in ("one", "two", "three"):
        await client.chat_postMessage(channel=GENERAL, text=text)
    first = await client.conversations_history(channel=GENERAL, limit=2)
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_history(channel=GENERAL, limit=2, cursor=cursor)
    assert [m["text"] for m in first["messages"] + rest["messages"]] == ["three", "two", "one"]
    assert rest["has_more"] is False


async def test_timestamps_and_trigger_expiry_follow_the_injected_clock() -> None:
    clock = ManualClock(datetime(2025, 12, 1, 12, 0, tzinfo=UTC))
    async with running_slack(clock=clock) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        posted = await client.chat_postMessage(channel=GENERAL, text="hi")
        assert posted["ts"] == f"{int(clock.now().timestamp())}.000100"
        assert (await client.users_info(user=ALICE))["user"]["tz_offset"] == 3600  # CET
        trigger = slack.payloads.slash_command("/mentor", user=ALICE).body["trigger_id"]
        clock.advance(timedelta(seconds=3.5))  # Slack's trigger ids live 3 seconds
        modal = View(type="modal", title="Too late", blocks=[SectionBlock(text="x")])
        with pytest.raises(SlackApiError) as raised:
            await client.views_open(trigger_id=trigger, view=modal)
        assert raised.value.response["error"] == "expired_trigger_id"


async def test_latency_delays_every_answer() -> None:
    async with running_slack(latency=0.05) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        started = time.monotonic()
        await client.auth_test()
        assert time.monotonic() - started >= 0.05


async def test_a_response_url_works_five_times(slack: SlackStandin) -> None:
    url = slack.payloads.slash_command("/mentor", user=ALICE).body["response_url"]
    webhook = AsyncWebhookClient(url)
    statuses = [(await webhook.send(text=f"update {n}")).status_code for n in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 404]
    assert [p.body["text"] for p in slack.response_posts][:2] == ["update 0", "update 1"]


# --- Web API: what Slack refuses is refused and reported --------------------------------------


async def test_bad_calls_answer_ok_false_and_are_reported(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    long_button = {
        "type": "actions",
        "elements": [
            {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "x" * 80}}
        ],
    }
    bad_calls: list[tuple[str, dict[str, Any], str]] = [
        ("chat.postMessage", {"text": "no channel"}, "invalid_arguments"),
        ("chat.sendCarrierPigeon", {"channel": GENERAL}, "unknown_method"),
        (
            "chat.postMessage",
            {"channel": GENERAL, "text": "hi", "blocks": [long_button]},
            "invalid_blocks",
        ),
    ]
    for method, body, error in bad_calls:
        with pytest.raises(SlackApiError) as raised:
            await client.api_call(method, json=body)
        assert raised.value.response["error"] == error
    answer = slack.calls("chat.postMessage")[-1].answer
    assert "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]" in str(
        answer["response_metadata"]["messages"]
    )

    taken = slack.take_violations()
    assert [(v.source, v.error) for v in taken] == [(m, e) for m, _, e in bad_calls]
    assert slack.unexpected_violations() == []  # taken means handled


async def test_teardown_fails_on_a_violation_unless_the_test_expected_it() -> None:
    async def post_unknown_argument(slack: SlackStandin) -> None:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel=GENERAL, text="hi", link_names_please=True)

    with pytest.raises(AssertionError, match="unknown argument 'link_names_please'"):
        async with running_slack() as slack:
            await post_unknown_argument(slack)

    async with running_slack() as slack:
        slack.expect_violation("chat.postMessage", "invalid_arguments")
        await post_unknown_argument(slack)

    with pytest.raises(AssertionError, match="expected 1 more violation"):
        async with running_slack() as slack:
            slack.expect_violation("chat.postMessage", "invalid_blocks")


async def test_a_stand_in_answer_outside_slacks_schema_is_a_violation() -> None:
    with pytest.raises(AssertionError, match=r"users.info \[answer\]"):
        async with running_slack() as slack:
            slack.add_user(SlackUser("u-bad", "bad", "Bad Id"))  # Slack ids look like U0ALICE001
            client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
            await client.users_info(user="u-bad")


# --- Fault injection ---------------------------------------------------------------------------


async def test_injected_faults_surface_as_slack_api_errors(
    slack: SlackStandin, client: AsyncWebClient
) -> None:
    limit = slack.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=GENERAL, text="first try")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    await client.chat_postMessage(channel=GENERAL, text="second try")
    assert limit.hits == 1 and [m.text for m in slack.messages_in(GENERAL)] == ["second try"]

    slack.fail_next("chat.postMessage", "account_inactive", when=lambda a: a["channel"] == BOB)
    await client.chat_postMessage(channel=ALICE, text="reaches Alice")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=BOB, text="Bob is gone")
    assert raised.value.response["error"] == "account_inactive"

    slack.server_error_next("users.info", status=503)
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user=ALICE)
    assert raised.value.response.status_code == 503
    assert [c.fault for c in slack.calls() if c.fault] == [
        "429 Retry-After 7",
        "ok:false account_inactive",
        "HTTP 503",
    ]


# --- Socket Mode with the real Bolt app ----------------------------------------------------------


@pytest.fixture
async def socket_app(slack: SlackStandin, client: AsyncWebClient) -> AsyncIterator[AsyncApp]:
    app = AsyncApp(client=client, signing_secret=slack.signing_secret)

    @app.command("/mentor")
    async def mentor(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if command["text"] == "book":
            await client.views_open(
                trigger_id=command["trigger_id"],
                view=View(
                    type="modal",
                    title="Book a session",
                    submit="Book",
                    callback_id="book",
                    blocks=[
                        InputBlock(
                            block_id="when",
                            label="When?",
                            element=PlainTextInputElement(action_id="when_text"),
                        )
                    ],
                ),
            )
        else:
            await client.chat_postMessage(
                channel=command["channel_id"],
                text="Mentors: Ada",
                blocks=[
                    ActionsBlock(
                        elements=[ButtonElement(text="Ask Ada", action_id="ask", value="ada")]
                    )
                ],
            )

    @app.action("ask")
    async def ask(ack: Any, respond: Any, action: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"Asked {action['value']}", replace_original=False)

    @app.view("book")
    async def book(ack: Any, view: dict[str, Any]) -> None:
        when = view["state"]["values"]["when"]["when_text"]["value"]
        if when == "yesterday":
            await ack(response_action="errors", errors={"when": "That is in the past"})
        elif when == "":
            await ack(response_action="errors", errors={"date": "Required"})  # not a block_id
        else:
            await ack()

    @app.event("message")
    async def dm(event: dict[str, Any], say: Any) -> None:
        await say(f"You said {event['text']}")

    handler = AsyncSocketModeHandler(app, slack.app_token)
    await handler.connect_async()
    await slack.socket.wait_connected()
    yield app
    await handler.close_async()


async def test_slash_command_over_socket_mode_is_acked_then_posts(
    slack: SlackStandin, socket_app: AsyncApp
) -> None:
    ack = await slack.socket.deliver(slack.payloads.slash_command("/mentor", "find", user=ALICE))
    assert ack.payload is None and ack.elapsed < 3
    posted = await slack.wait_for_call("chat.postMessage")
    assert posted.args["channel"] == GENERAL and posted.args["team_id"] == TEAM_ID
    assert [m.text for m in slack.messages_in(GENERAL)] == ["Mentors: Ada"]

    click = slack.payloads.block_action("ask", user=BOB, message=slack.messages_in(GENERAL)[0])
    await slack.socket.deliver(click)
    reply = await slack.wait_for_response_post()
    assert reply.body["text"] == "Asked ada" and reply.url == click.body["response_url"]


async def test_modal_errors_come_back_in_the_ack(slack: SlackStandin, socket_app: AsyncApp) -> None:
    await slack.socket.deliver(slack.payloads.slash_command("/mentor", "book", user=ALICE))
    await slack.wait_for_call("views.open")
    view_id = slack.views_opened[0].view_id
    refused = await slack.socket.deliver(
        slack.payloads.view_submission(view_id, inputs={"when_text": "yesterday"})
    )
    assert refused.payload == {
        "response_action": "errors",
        "errors": {"when": "That is in the past"},
    }
    accepted = await slack.socket.deliver(
        slack.payloads.view_submission(view_id, inputs={"when_text": "tomorrow 10:00"})
    )
    assert accepted.payload is None


async def test_a_reply_naming_a_block_the_view_lacks_is_a_violation(
    slack: SlackStandin, socket_app: AsyncApp
) -> None:
    await slack.socket.deliver(slack.payloads.slash_command("/mentor", "book", user=ALICE))
    await slack.wait_for_call("views.open")
    submit = slack.payloads.view_submission(slack.views_opened[0].view_id, inputs={"when_text": ""})
    await slack.socket.deliver(submit)
    [violation] = slack.take_violations()
    assert violation.source == "Socket Mode reply to view_submission"
    assert "['date'], which are not input block_ids" in violation.messages[0]


async def test_event_retries_and_refresh_reconnect(
    slack: SlackStandin, socket_app: AsyncApp
) -> None:
    event = slack.payloads.message_im(ALICE, "hello")
    await slack.socket.deliver(event)
    retry = await slack.socket.deliver(event, retry_attempt=1, retry_reason="timeout")
    assert retry.envelope["retry_attempt"] == 1
    assert retry.envelope["payload"]["event_id"] == event.body["event_id"]
    await slack.wait_for_call("chat.postMessage", count=2)  # Bolt itself does not deduplicate

    assert await slack.socket.refresh() == 2
    assert len(slack.calls("apps.connections.open")) == 2
    assert all(c.token_kind == "xapp" for c in slack.calls("apps.connections.open"))
    await slack.socket.deliver(slack.payloads.slash_command("/mentor", "find", user=BOB))
    await slack.wait_for_call("chat.postMessage", count=3)


# --- HTTP mode with the real Bolt app ------------------------------------------------------------


@pytest.fixture
async def http_app_url(slack: SlackStandin, client: AsyncWebClient) -> AsyncIterator[str]:
    app = AsyncApp(client=client, signing_secret=slack.signing_secret)

    @app.command("/mentor")
    async def mentor(ack: Any) -> None:
        await ack("Looking for mentors…")

    @app.action("ask")
    async def ask(ack: Any, respond: Any) -> None:
        await ack()
        await respond(text="Asked")

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(
            user_id=event["user"], view=View(type="home", blocks=[SectionBlock(text="Hi")])
        )

    server = AsyncSlackAppServer(port=0, path="/slack/events", app=app)
    runner = web.AppRunner(server.web_app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    await runner.cleanup()


async def test_http_mode_accepts_signed_requests_and_rejects_bad_signatures(
    slack: SlackStandin, http_app_url: str
) -> None:
    command = slack.payloads.slash_command("/mentor", "find", user=ALICE)
    reply = await slack.http.deliver(http_app_url, command)
    assert (reply.status, reply.text) == (200, "Looking for mentors…")
    for flaw in ("wrong_secret", "stale", "future", "missing", "tampered"):
        rejected = await slack.http.deliver(http_app_url, command, signing=flaw)
        assert rejected.status == 401, flaw
    challenge = slack.payloads.url_verification()
    answered = await slack.http.post(
        http_app_url, json.dumps(challenge).encode(), "application/json"
    )
    assert answered.json == {"challenge": challenge["challenge"]}


async def test_http_mode_interactions_and_event_retries(
    slack: SlackStandin, client: AsyncWebClient, http_app_url: str
) -> None:
    await client.chat_postMessage(
        channel=GENERAL,
        text="Ada",
        blocks=[ActionsBlock(elements=[ButtonElement(text="Ask", action_id="ask")])],
    )
    click = slack.payloads.block_action("ask", user=BOB, message=slack.messages_in(GENERAL)[0])
    assert (await slack.http.deliver(http_app_url, click)).status == 200
    assert (await slack.wait_for_response_post()).body["text"] == "Asked"

    opened = slack.payloads.app_home_opened(ALICE)
    assert (await slack.http.deliver(http_app_url, opened)).status == 200
    retry = await slack.http.deliver(http_app_url, opened, retry_num=1, retry_reason="http_timeout")
    assert retry.status == 200
    await slack.wait_for_call("views.publish", count=2)
    assert slack.homes_published[ALICE]["blocks"][0]["text"]["text"] == "Hi"
