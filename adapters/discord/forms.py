"""The core's forms as Discord modals, what a submit carries, and what waits for a retry.

A modal's custom id IS the core's ``Form.id`` (it carries the community and the command), and
each input's custom id is its field's name, so a submit is answered from the interaction alone
(``Mentorbot.handle_form``) by any process, after any restart. Modals use Discord's Label
layout, which can show a line under a field: a refused submit reopens the modal with the error
under the field the core names (``Refusal.param``). Choice fields are select menus.

Discord shows nothing beside a modal and cannot answer a submit with another modal, so two
things wait in memory for a while (:class:`FormMemory`, 15 minutes, bounded): the values a
person typed into a refused form, until they click "Fix and send again"; and the messages
that came with a form (the one-time timezone question), shown after the form is submitted.
The form itself is kept too, with the title its command chose; when this process does not
have it (a restart, another instance took the first interaction) the core rebuilds it from
its id (``Mentorbot.form``), so a refused submit can always be fixed and sent again.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import discord

from bot.messages import FieldKind, Form, Message, Refusal
from bot.text import shorten

log = logging.getLogger(__name__)

MAX_INPUT = 4000
#: The longest text a modal's text display holds.
MAX_TEXT_DISPLAY = 4000
KEEP_SECONDS = 15 * 60.0
KEEP_ITEMS = 2000

K = TypeVar("K")
V = TypeVar("V")


def modal_for(
    form: Form, values: Mapping[str, str | None] | None = None, refusal: Refusal | None = None,
    *, intro: str = "",
) -> discord.ui.Modal:
    """The modal for ``form``, filled with ``values`` (else the form's initial values), with
    ``refusal`` shown under the field it is about (or under the first field), and ``intro`` (the
    words that came with the form) as text above the fields."""
    modal = discord.ui.Modal(title=shorten(form.title, 45), custom_id=form.id, timeout=None)
    if intro.strip():
        modal.add_item(discord.ui.TextDisplay(shorten(intro, MAX_TEXT_DISPLAY)))
    about = refusal.param if refusal and refusal.param in {f.name for f in form.fields} else None
    for index, field in enumerate(form.fields):
        value = (values or {}).get(field.name) or field.initial or ""
        note = None
        if refusal is not None and (field.name == about or (about is None and index == 0)):
            note = shorten("⚠ " + refusal.message, 100)
        component: discord.ui.Item[Any]
        if field.kind is FieldKind.CHOICE and 1 <= len(field.options) <= 25:
            component = discord.ui.Select(
                custom_id=field.name,
                options=[discord.SelectOption(label=shorten(o, 100), value=o[:100],
                                              default=o == value)
                         for o in field.options],
                min_values=1 if field.required else 0, max_values=1, required=field.required,
            )
        else:
            high = max(1, min(field.max_length, MAX_INPUT))
            component = discord.ui.TextInput(
                custom_id=field.name,
                style=(discord.TextStyle.paragraph if field.kind is FieldKind.LONG_TEXT
                       else discord.TextStyle.short),
                placeholder=shorten(field.placeholder, 100) or None,
                default=value[:high] or None,
                required=field.required,
                min_length=min(field.min_length, high) or None,
                max_length=high,
            )
        modal.add_item(discord.ui.Label(text=field.label, description=note, component=component))
    modal.stop()  # never kept by discord.py: the submit is answered by its custom id
    return modal


def submitted_values(data: Mapping[str, Any]) -> dict[str, str | None]:
    """The values of a MODAL_SUBMIT by input custom id, from either layout (action rows or
    labels); a select gives its one chosen value."""
    values: dict[str, str | None] = {}

    def walk(items: Sequence[Any]) -> None:
        for item in items:
            if not isinstance(item, Mapping):
                continue
            custom_id = item.get("custom_id")
            if isinstance(custom_id, str) and ("value" in item or "values" in item):
                if "value" in item:
                    values[custom_id] = item.get("value") or None
                else:
                    chosen = item.get("values") or []
                    values[custom_id] = str(chosen[0]) if chosen else None
            for key in ("components", "component"):
                nested = item.get(key)
                walk([nested] if isinstance(nested, Mapping) else nested or [])

    walk(data.get("components") or [])
    return values


@dataclass(frozen=True)
class Retry:
    """A refused form, what was typed into it, and why it was refused."""

    user_id: int
    form: Form
    values: Mapping[str, str | None]
    refusal: Refusal


class _Expiring(Generic[K, V]):
    """A small map whose entries expire and whose size is bounded (oldest out first)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def put(self, key: K, value: V) -> None:
        self._items.pop(key, None)
        self._items[key] = (self._clock() + KEEP_SECONDS, value)
        while len(self._items) > KEEP_ITEMS:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        if found[0] < self._clock():
            del self._items[key]
            return None
        return found[1]

    def pop(self, key: K) -> V | None:
        value = self.get(key)
        self._items.pop(key, None)
        return value


class FormMemory:
    """What a modal cannot carry, kept in this process for 15 minutes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._forms: _Expiring[tuple[int, str], Form] = _Expiring(clock)
        self._retries: _Expiring[str, Retry] = _Expiring(clock)
        self._notes: _Expiring[tuple[int, str], tuple[Message, ...]] = _Expiring(clock)

    def opened(self, user_id: int, form: Form, notes: Sequence[Message] = ()) -> None:
        """``form`` was opened for ``user_id``; ``notes`` are shown after it is submitted."""
        self._forms.put((user_id, form.id), form)
        if notes:
            self._notes.put((user_id, form.id), tuple(notes))

    def form(self, user_id: int, form_id: str) -> Form | None:
        return self._forms.get((user_id, form_id))

    def refused(self, retry: Retry) -> str:
        """Keep a refused submit; returns the token its retry button carries."""
        token = secrets.token_hex(8)
        self._retries.put(token, retry)
        return token

    def retry(self, token: str, user_id: int) -> Retry | None:
        found = self._retries.get(token)
        return found if found is not None and found.user_id == user_id else None

    def notes(self, user_id: int, form_id: str) -> tuple[Message, ...]:
        """The messages that waited for this form, once."""
        return self._notes.pop((user_id, form_id)) or ()
