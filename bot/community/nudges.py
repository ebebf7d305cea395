"""Messages to the organizers' channel: alerts about nudges that could not be delivered."""

from __future__ import annotations

import logging

from bot.domain import Nudge
from bot.messages import MessageBuilder
from bot.nudges.engine import ORGANIZER_ALERT
from bot.nudges.kinds import Outgoing, RenderContext, Rendered, Stale, nudge_kind
from bot.ports import ChannelPost

log = logging.getLogger(__name__)


@nudge_kind(ORGANIZER_ALERT, label="organizer alert")
async def organizer_alert(ctx: RenderContext, nudge: Nudge) -> Rendered:
    channel = nudge.channel or ctx.settings.organizer_channel
    if not channel:
        raise Stale("no organizer channel configured")
    msg = MessageBuilder().say("⚠️ ").say(str(nudge.payload.get("text", "")))
    return Outgoing(ChannelPost(channel), msg.build())


KINDS = (organizer_alert,)
