"""Core forms as Slack modals, and a submitted modal back as the core's values.

Why generated: every form the core can ask for (``bot.messages.Form``) becomes a modal by the
same rules: one input block per field, whose ``block_id`` is the field's name, so a refusal
that names a parameter lands as ``response_action: errors`` under that very field and nothing
the person typed is lost. No modal is written by hand for a command.

What rides in ``private_metadata`` (≤ 3,000 characters): the form's id (``mb:<community
key>:<command>``, so a submission after a restart still knows its command and community) or,
for the menu's own modals, the verb to run with typed options; and where to answer (the
channel and the ``response_url`` of the command that opened it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.command import CommandSpec, Kind, Need
from bot.messages import FieldKind, Form, FormField, Reply
from bot.text import shorten

log = logging.getLogger(__name__)

CALLBACK_ID = "mentorbot.form"
VALUE_ACTION = "value"
TITLE_MAX = 24
PLACEHOLDER_MAX = 150
OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
ERROR_MAX = 300
INPUT_MAX = 3000


@dataclass(frozen=True)
class ModalMeta:
    """What a modal must remember until it is submitted."""

    form_id: str = ""
    """A core form's id: submitted with ``Mentorbot.handle_form``."""
    verb: str = ""
    """Or a command run with typed options (``Mentorbot.handle_options``)."""
    channel: str = ""
    response_url: str = ""

    def encode(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v}, separators=(",", ":"))

    @staticmethod
    def decode(text: str | None) -> ModalMeta | None:
        try:
            raw = json.loads(text or "")
        except json.JSONDecodeError:
            return None
        if not isinstance(raw, dict):
            return None
        values = {k: str(raw.get(k) or "") for k in ("form_id", "verb", "channel", "response_url")}
        meta = ModalMeta(**values)
        return meta if meta.form_id or meta.verb else None


def _element(f: FormField) -> PlainTextInputElement | StaticSelectElement:
    placeholder = shorten(f.placeholder, PLACEHOLDER_MAX) if f.placeholder else None
    if f.kind is FieldKind.CHOICE and f.options:
        options = [
            Option(text=PlainTextObject(text=shorten(o, OPTION_TEXT_MAX)), value=o[:150])
            for o in f.options[:OPTIONS_MAX]
        ]
        initial = next((o for o in options if o.value == f.initial), None)
        return StaticSelectElement(
            action_id=VALUE_ACTION, options=options, initial_option=initial,
            placeholder=placeholder,
        )
    max_length = max(1, min(f.max_length, INPUT_MAX))
    return PlainTextInputElement(
        action_id=VALUE_ACTION,
        multiline=f.kind is FieldKind.LONG_TEXT or None,
        max_length=max_length,
        min_length=min(f.min_length, max_length) or None,
        initial_value=f.initial[:max_length] or None,
        placeholder=placeholder,
    )


def modal(form: Form, meta: ModalMeta) -> dict[str, Any]:
    """The modal for ``form`` (checked against Slack's limits by ``to_dict``)."""
    blocks = [
        InputBlock(
            block_id=f.name, label=f.label, element=_element(f), optional=not f.required,
        )
        for f in form.fields
    ]
    return View(
        type="modal",
        callback_id=CALLBACK_ID,
        title=PlainTextObject(text=shorten(form.title, TITLE_MAX)),
        submit=PlainTextObject(text=shorten(form.submit_label or "Submit", TITLE_MAX)),
        close=PlainTextObject(text="Cancel"),
        private_metadata=meta.encode(),
        blocks=blocks,
    ).to_dict()


def options_form(spec: CommandSpec[Any]) -> Form:
    """A form asking for a command's parameters (the menu's "Find a mentor"), derived from its
    declaration; submitted as typed options, so nothing is ever joined into a line."""
    fields = [
        FormField(
            name=p.name,
            label=p.label,
            kind=(FieldKind.CHOICE if p.choices else
                  FieldKind.LONG_TEXT if p.long else FieldKind.SHORT_TEXT),
            required=p.need is not Need.OPTIONAL,
            max_length=p.max_length if p.kind is not Kind.INT else len(str(p.high or 0)) or 9,
            min_length=p.min_length,
            placeholder=p.placeholder,
            options=p.choices,
        )
        for p in spec.params
        if p.in_form
    ]
    return Form(
        title=shorten(spec.form_title or spec.summary, TITLE_MAX),
        command=spec.verb,
        fields=tuple(fields[:5]),
        submit_label=spec.submit_label,
    )


def submitted(view: Mapping[str, Any]) -> dict[str, str | None]:
    """The values of a submitted modal, by field name (None for a field left empty)."""
    values: dict[str, str | None] = {}
    state = view.get("state") or {}
    for block_id, actions in (state.get("values") or {}).items():
        entry = (actions or {}).get(VALUE_ACTION)
        if not isinstance(entry, dict):
            continue
        if "selected_option" in entry:
            option = entry.get("selected_option") or {}
            values[block_id] = option.get("value")
        else:
            values[block_id] = entry.get("value")
    return values


def field_errors(reply: Reply, view: Mapping[str, Any]) -> dict[str, str]:
    """A refusal as ``response_action: errors``: under the field it names, else the first."""
    refusal = reply.refusal
    if refusal is None:
        return {}
    inputs = [
        str(b.get("block_id")) for b in view.get("blocks") or []
        if isinstance(b, dict) and b.get("type") == "input"
    ]
    if not inputs:
        return {}
    where = refusal.param if refusal.param in inputs else inputs[0]
    text = " ".join(part for part in (refusal.message, refusal.hint) if part)
    return {where: shorten(text, ERROR_MAX)}
