"""The text syntax people type, derived from the command declarations (``bot.command``).

    verb [positional ...] [label: value ...]

``request Ada Lovelace topic: python context: I tried …``: the verb is one or two words, then
the positional parameters in declaration order (each one word, the last one takes the rest of
the line), then labelled fields. A label counts only once, and only if the command knows it:
inside free text (a long field such as ``context:``), a label that was given already is just
text, so ``topic: linux context: … the topic: kernel modules`` keeps "the topic: kernel
modules" in the context. In a short field (``topics: python topics: go``) a repeated label is
a mistake, and is refused.

Every platform ends up here: the console and Slack's ``/mentor`` pass a line, buttons carry a
line, and forms submit labelled values. Discord passes typed options, which skip the splitting
but go through the same conversion (``bot.command.convert``).
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.command import CommandSpec, Kind, Need, Param, ParamError, value_text
from bot.errors import UserError
from bot.messages import FieldKind, Form, FormField
from bot.text import shorten

log = logging.getLogger(__name__)

MAX_COMMAND_LENGTH = 6000


@dataclass(frozen=True)
class Parsed:
    """A command line split into its declaration and raw (still untyped) values."""

    spec: CommandSpec[Any]
    raw: Mapping[str, str] = field(default_factory=dict)


class Grammar:
    """Verb lookup over a fixed set of declarations (built once by the registry)."""

    def __init__(self, specs: Iterable[CommandSpec[Any]]) -> None:
        self._verbs: dict[str, CommandSpec[Any]] = {}
        for spec in specs:
            for verb in spec.verbs:
                if verb in self._verbs:
                    raise ValueError(f"verb {verb!r} declared twice")
                self._verbs[verb] = spec

    @property
    def verbs(self) -> tuple[str, ...]:
        return tuple(self._verbs)

    def spec(self, verb: str) -> CommandSpec[Any] | None:
        return self._verbs.get(verb.lower())

    def split_verb(self, text: str) -> tuple[CommandSpec[Any], str]:
        """The declaration ``text`` starts with, and what follows its verb."""
        if len(text) > MAX_COMMAND_LENGTH:
            raise UserError(
                f"That message is too long ({len(text):,} characters).",
                f"Commands are at most {MAX_COMMAND_LENGTH:,} characters.",
            )
        stripped = text.strip().lstrip("/").strip()
        if not stripped:
            raise UserError("I didn't get a command.", "Type `help` to see what I can do.")
        words = stripped.split(maxsplit=2)
        if len(words) >= 2:
            two = self._verbs.get(f"{words[0].lower()} {words[1].lower()}")
            if two is not None:
                return two, words[2] if len(words) > 2 else ""
        one = self._verbs.get(words[0].lower())
        if one is not None:
            return one, stripped[len(words[0]):]
        suggestion = difflib.get_close_matches(words[0].lower(), self._verbs, n=1, cutoff=0.6)
        hint = f"Did you mean `{suggestion[0]}`? " if suggestion else ""
        raise UserError(
            f"I don't know the command “{words[0][:40]}”.", hint + "Type `help` to see them all."
        )

    def parse(self, text: str, fields: Mapping[str, str] | None = None) -> Parsed:
        """Split ``text`` (plus a form's ``fields``) into raw values by parameter name."""
        spec, rest = self.split_verb(text)
        raw = split_arguments(spec, rest)
        for key, value in (fields or {}).items():
            param = _param_named(spec, key)
            if param is None:
                raise UserError(f"The form field “{key[:40]}” is not one I know.",
                                "Please try again.")
            if value is not None and value.strip():
                raw[param.name] = value
        return Parsed(spec, raw)


def _param_named(spec: CommandSpec[Any], key: str) -> Param | None:
    """The parameter a form field (its name) or a label stands for."""
    lowered = key.lower()
    for p in spec.params:
        if lowered == p.name or lowered in p.labels:
            return p
    return None


def split_arguments(spec: CommandSpec[Any], rest: str) -> dict[str, str]:
    """Positional words and ``label: value`` fields of ``rest``, by parameter name."""
    lead, labelled = _split_labelled(rest, spec)
    raw: dict[str, str] = {}
    positional = [p for p in spec.positional if p.name not in labelled]
    words = lead.split()
    for i, p in enumerate(positional):
        if not words:
            break
        if i == len(positional) - 1:
            raw[p.name] = " ".join(words)
            words = []
        else:
            raw[p.name] = words.pop(0)
    if words:
        if not positional:
            raise UserError(
                "I can't tell which field that is.",
                f"Write it as `{spec.usage()}`.",
            )
        last = positional[-1]
        raw[last.name] = raw.get(last.name, "") + " " + " ".join(words)
    raw.update(labelled)
    return raw


def _split_labelled(text: str, spec: CommandSpec[Any]) -> tuple[str, dict[str, str]]:
    labels = {label: p for p in spec.params for label in p.labels}
    if not labels:
        return text.strip(), {}
    pattern = re.compile(
        r"(?:(?<=\s)|^)(" + "|".join(re.escape(label) for label in labels) + r")\s*:",
        re.IGNORECASE,
    )
    starts: list[tuple[int, int, str]] = []  # (label start, value start, parameter)
    for match in pattern.finditer(text):
        p = labels[match.group(1).lower()]
        if any(name == p.name for _s, _e, name in starts):
            if starts and spec.param(starts[-1][2]).long:
                continue  # inside free text, a label given already is text
            raise UserError(f"“{match.group(1).lower()}:” is given twice.", "Give each field once.")
        starts.append((match.start(), match.end(), p.name))
    if not starts:
        return text.strip(), {}
    out: dict[str, str] = {}
    for i, (_start, value_start, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        out[name] = text[value_start:end].strip()
    return text[: starts[0][0]].strip(), out


def missing_required(spec: CommandSpec[Any], raw: Mapping[str, str]) -> Param | None:
    """The first ``Need.ALWAYS`` parameter without a value."""
    for p in spec.params:
        if p.need is Need.ALWAYS and not raw.get(p.name, "").strip():
            return p
    return None


def refuse_missing(spec: CommandSpec[Any], p: Param) -> ParamError:
    example = next(iter(spec.examples), spec.usage())
    if p.kind is Kind.CHOICE:
        options = ", ".join(p.choices[:-1]) + f" or {p.choices[-1]}"
        return ParamError(p.name, f"Say {options}.", f"For example: `{example}`.")
    if p.kind is Kind.NUMBER:
        return ParamError(p.name, f"Which {p.noun}? I need its number, e.g. “12”.",
                          f"For example: `{example}`.")
    return ParamError(p.name, f"Please say which {p.noun}.", f"For example: `{example}`.")


def format_command(spec: CommandSpec[Any], values: Mapping[str, str]) -> str:
    """A command line for ``values`` (by parameter name) that :meth:`Grammar.parse` reads back.

    Positional parameters go first, in order (only the last may hold spaces); the rest are
    labelled.
    """
    parts = [spec.verb]
    positional = [p for p in spec.positional if values.get(p.name)]
    for p in positional:
        parts.append(values[p.name])
    for p in spec.params:
        value = values.get(p.name, "")
        if value and not p.positional:
            parts.append(f"{p.name}: {value}")
    return " ".join(parts)


def derive_form(
    spec: CommandSpec[Any],
    cmd: Any,
    *,
    title: str = "",
    initial: Mapping[str, str] | None = None,
    placeholders: Mapping[str, str] | None = None,
) -> Form:
    """The form for ``cmd``, derived from its declaration.

    The parameters it always needs (a session number, the mentor) ride in the form's command;
    the others become fields (at most five, Discord's limit), filled with ``cmd``'s values or
    ``initial``. Submitting it runs the same command with the fields as labelled values.
    """
    fixed = {
        p.name: value_text(p, getattr(cmd, p.name))
        for p in spec.params if p.need is Need.ALWAYS
    }
    fields = [
        FormField(
            name=p.name,
            label=p.label,
            kind=_field_kind(p),
            required=p.need is Need.FORM,
            max_length=p.max_length if p.kind is not Kind.INT else len(str(p.high)),
            min_length=p.min_length,
            placeholder=(placeholders or {}).get(p.name, p.placeholder),
            initial=(initial or {}).get(p.name, value_text(p, getattr(cmd, p.name))),
            options=p.choices,
        )
        for p in spec.params
        if p.need is not Need.ALWAYS and p.in_form
    ]
    return Form(
        title=shorten(title or spec.form_title or spec.summary, 24),
        command=format_command(spec, fixed),
        fields=tuple(fields[:5]),
        submit_label=spec.submit_label,
    )


def _field_kind(p: Param) -> FieldKind:
    if p.kind in (Kind.CHOICE, Kind.BOOL) or p.choices:
        return FieldKind.CHOICE
    return FieldKind.LONG_TEXT if p.long else FieldKind.SHORT_TEXT
