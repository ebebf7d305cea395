"""Is this request one Discord would accept? Checks against Discord's own OpenAPI spec + limits.

Two layers, because the spec alone lets real mistakes through:

1. ``/work/shared/specs/discord-openapi.json`` (Discord's published OpenAPI 3.1) through
   openapi-core: right path, method, field names and types. The spec is loaded once per process
   with openapi-core's self-validation switched off (about 0.4 s instead of about 12 s).
2. Discord's documented limits that the spec does not enforce or enforces differently: message
   content <= 2000 characters for bots (the spec says 4000), at most 5 action rows of at most
   5 buttons, custom ids <= 100, labels <= 80, modals with <= 5 inputs whose labels are <= 45,
   thread names <= 100, nonces <= 25 characters, <= 25 options/choices, command and option
   names, descriptions <= 100, the shape of ``allowed_mentions``.

Known mismatches between the spec and what works against real Discord are handled here, each
with a comment: discord.py sends snowflakes as JSON integers in ``recipient_id``,
``attachments[].id``, ``allowed_mentions.users/roles`` and ``message_reference`` (Discord
accepts them, the spec says string); the spec allows 4000 characters of content (bots get
2000); Discord's field errors carry string codes like "BASE_TYPE_MAX_LENGTH" where the spec
says integer; the spec documents no 5xx answers.

Every check returns :class:`Problem` values; :func:`form_body_errors` turns them into the
``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`` body Discord answers with.
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The repository is /work/main; the shared folder sits beside it (see shared/README.md).
SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "specs" / "discord-openapi.json"

#: The spec's server is https://discord.com/api/v10: requests are checked as if sent there.
SPEC_HOST = "https://discord.com"
API_PREFIX = "/api/v10"

Where = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One reason Discord would refuse a request (or a stand-in answer is not realistic).

    ``where`` is the path to the field inside the body (``("components", 0, "components", 1,
    "custom_id")``); ``code`` is Discord's error code for the whole answer (50035 "Invalid Form
    Body" for field errors, 50006 for an empty message...); ``source`` says which layer found it.
    """

    where: Where
    message: str
    source: str = "limits"  # "openapi" | "limits" | "protocol" | "answer"
    field_code: str = "BASE_TYPE_INVALID"
    code: int = 50035

    def __str__(self) -> str:
        place = ".".join(str(part) for part in self.where) or "<body>"
        return f"{place}: {self.message} [{self.source}]"


class SpecMissing(RuntimeError):
    """The shared specs folder is not next to the repository (a checkout without ../shared)."""


# --------------------------------------------------------------------------------------------
# OpenAPI layer
# --------------------------------------------------------------------------------------------


@functools.cache
def _openapi() -> Any:
    """The spec as an openapi-core object, built once per process."""
    if not SPEC_PATH.is_file():
        raise SpecMissing(f"Discord's OpenAPI spec is not at {SPEC_PATH}")
    from openapi_core import Config, OpenAPI

    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec = json.load(handle)
    # spec_validator_cls=None: the spec's own self-validation costs ~12 s per load and checks
    # Discord's file, not our traffic.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def spec_available() -> bool:
    return SPEC_PATH.is_file()


@dataclass(frozen=True)
class _SpecRequest:
    """What openapi-core needs to know about a request (its ``Request`` protocol)."""

    method: str
    path: str
    body: bytes | None
    content_type: str
    parameters: Any
    host_url: str = SPEC_HOST


@dataclass(frozen=True)
class _SpecResponse:
    status_code: int
    content_type: str
    data: bytes | None
    headers: Mapping[str, str] = field(default_factory=dict)


def _spec_request(
    method: str, api_path: str, query: Mapping[str, str], headers: Mapping[str, str], body: Any
) -> _SpecRequest:
    from openapi_core.datatypes import RequestParameters
    from werkzeug.datastructures import Headers, ImmutableMultiDict

    raw = None if body is None else json.dumps(body).encode()
    content_type = "application/json" if body is not None else ""
    header = Headers(dict(headers))
    if body is not None:
        header["Content-Type"] = content_type
    return _SpecRequest(
        method=method.lower(),
        path=API_PREFIX + api_path,
        body=raw,
        content_type=content_type,
        parameters=RequestParameters(query=ImmutableMultiDict(dict(query)), header=header),
    )


def _leaf_error(error: Any) -> Any:
    """The most telling error under a oneOf/anyOf failure.

    jsonschema reports "X is not valid under any of the given schemas" for a union; the useful
    part is inside: skip the branches whose discriminator (``type``) does not match, take the
    branch with the fewest errors, and descend."""
    from jsonschema.exceptions import relevance

    if not error.context:
        return error
    branches: dict[Any, list[Any]] = {}
    for inner in error.context:
        branches.setdefault(inner.relative_schema_path[0], []).append(inner)

    def wrong_kind(errors: list[Any]) -> bool:
        return any(
            e.validator in ("enum", "const") and list(e.relative_path) == ["type"] for e in errors
        )

    candidates: list[list[Any]] = [
        errors for errors in branches.values() if not wrong_kind(errors)
    ] or list(branches.values())
    # Not best_match: it descends by its own heuristics and lands in a wrong branch.
    fewest: list[Any] = min(candidates, key=len)
    return _leaf_error(max(fewest, key=relevance))


def _problems_from_openapi_error(error: Exception, source: str) -> list[Problem]:
    from jsonschema.exceptions import relevance

    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if schema_errors:
        leaf = _leaf_error(max(schema_errors, key=relevance))
        wording = {
            "maxLength": (
                f"Must be {leaf.validator_value} or fewer in length.",
                "BASE_TYPE_MAX_LENGTH",
            ),
            "minLength": (
                f"Must be {leaf.validator_value} or more in length.",
                "BASE_TYPE_MIN_LENGTH",
            ),
            "maxItems": (
                f"Must be {leaf.validator_value} or fewer in length.",
                "BASE_TYPE_MAX_LENGTH",
            ),
            "required": (leaf.message, "BASE_TYPE_REQUIRED"),
        }
        message, field_code = wording.get(leaf.validator, (leaf.message[:300], "BASE_TYPE_INVALID"))
        return [Problem(tuple(leaf.absolute_path), message, source=source, field_code=field_code)]
    return [Problem(where=(), message=str(error)[:300], source=source)]


def _as_string_ids(node: Any, key: str | None = None, parent: str | None = None) -> Any:
    """Integers where the spec wants string snowflakes, as strings (see :func:`_for_spec`)."""
    if isinstance(node, dict):
        # Items of a list are named after the list: attachments[0].id has parent "attachments".
        return {
            k: _as_string_ids(v, k, key if key is not None else parent) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_as_string_ids(item, None, key) for item in node]
    if isinstance(node, int) and not isinstance(node, bool):
        snowflake_here = (
            key in ("recipient_id", "message_id", "channel_id", "guild_id")
            or (key == "id" and parent == "attachments")
            or (key is None and parent in ("users", "roles", "sticker_ids"))
        )
        if snowflake_here:
            return str(node)
    return node


def _for_spec(method: str, route: str | None, body: Any) -> Any:
    """Adjust a body for the known spec mismatches before the spec sees it.

    Known mismatch 1: discord.py 2.7 sends snowflakes as JSON integers in ``recipient_id``
    (``POST /users/@me/channels``), ``attachments[].id`` (the upload index),
    ``allowed_mentions.users/roles`` and ``message_reference``; Discord accepts both, the spec
    declares strings. They are checked as strings.
    Known mismatch 2: the spec allows 4000 characters of ``content``; bots get 2000. The limit
    layer reports that with Discord's wording, so the spec layer must not report it again.
    """
    body = _as_string_ids(body)
    if isinstance(body, dict) and isinstance(body.get("content"), str):
        content = body["content"]
        if 2000 < len(content) <= 4000:
            body = {**body, "content": content[:2000]}
    return body


def check_request_against_spec(
    method: str,
    api_path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: Any,
    *,
    route: str | None = None,
) -> list[Problem]:
    """Problems the OpenAPI spec finds (path under ``/api/v10``; ``body`` parsed JSON or None)."""
    request = _spec_request(method, api_path, query, headers, _for_spec(method, route, body))
    with warnings.catch_warnings():
        # The spec's OAuth2 scheme is one openapi-core cannot check; the stand-in checks the bot
        # token itself.
        warnings.simplefilter("ignore")
        errors = list(_openapi().iter_request_errors(request))
    problems: list[Problem] = []
    for error in errors:
        problems.extend(_problems_from_openapi_error(error, "openapi"))
    return problems


def _answer_for_spec(answer: Any) -> Any:
    """Known mismatch: Discord's field errors carry string codes ("BASE_TYPE_MAX_LENGTH");
    the spec's ``Error`` schema, reused for them, says integer. Check the rest as the spec says."""
    if not isinstance(answer, dict) or not isinstance(answer.get("errors"), dict):
        return answer

    def integer_codes(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        result = {key: integer_codes(value) for key, value in node.items() if key != "_errors"}
        if "_errors" in node:
            result["_errors"] = [{**item, "code": 0} for item in node["_errors"]]
        return result

    return {**answer, "errors": integer_codes(answer["errors"])}


def check_answer_against_spec(
    method: str,
    api_path: str,
    query: Mapping[str, str],
    request_body: Any,
    status: int,
    answer: Any,
    *,
    route: str | None = None,
) -> list[Problem]:
    """Problems in the stand-in's own answer: keeps its canned payloads realistic."""
    request = _spec_request(
        method, api_path, query, {"Authorization": "Bot x"}, _for_spec(method, route, request_body)
    )
    data = None if answer is None else json.dumps(_answer_for_spec(answer)).encode()
    response = _SpecResponse(
        status_code=status,
        content_type="application/json" if answer is not None else "",
        data=data,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors = list(_openapi().iter_response_errors(request, response))
    problems: list[Problem] = []
    for error in errors:
        problems.extend(_problems_from_openapi_error(error, "answer"))
    return problems


# --------------------------------------------------------------------------------------------
# Documented limits the spec does not enforce
# --------------------------------------------------------------------------------------------

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TOTAL_LIMIT = 6000
ACTION_ROWS_LIMIT = 5
ROW_WIDTH_LIMIT = 5
COMPONENTS_V2_LIMIT = 40
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
MODAL_TITLE_LIMIT = 45
MODAL_INPUTS_LIMIT = 5
TEXT_INPUT_LABEL_LIMIT = 45
LABEL_DESCRIPTION_LIMIT = 100
THREAD_NAME_LIMIT = 100
NONCE_LIMIT = 25
CHOICES_LIMIT = 25
OPTIONS_LIMIT = 25
COMMAND_NAME_LIMIT = 32
DESCRIPTION_LIMIT = 100
COMMAND_TOTAL_CHARS = 4000
CHAT_INPUT_COMMANDS_LIMIT = 100
CONTEXT_MENU_COMMANDS_LIMIT = 15
ALLOWED_MENTION_TYPES = frozenset({"roles", "users", "everyone"})

IS_COMPONENTS_V2 = 1 << 15
EPHEMERAL = 1 << 6

BUTTON = 2
SELECTS = frozenset({3, 5, 6, 7, 8})
TEXT_INPUT = 4
ACTION_ROW = 1
LABEL = 18
TEXT_DISPLAY = 10


def _too_long(where: Where, value: Any, limit: int, what: str) -> list[Problem]:
    if isinstance(value, str) and len(value) > limit:
        return [
            Problem(
                where,
                f"Must be {limit} or fewer in length ({what} has {len(value)}).",
                field_code="BASE_TYPE_MAX_LENGTH",
            )
        ]
    return []


def _required_text(where: Where, value: Any, limit: int, what: str) -> list[Problem]:
    if not isinstance(value, str) or not value:
        return [Problem(where, f"{what} is required.", field_code="BASE_TYPE_REQUIRED")]
    return _too_long(where, value, limit, what)


def check_message_body(
    body: Any, where: Where = (), *, require_something: bool = True
) -> list[Problem]:
    """Limits of a message body (create, edit, webhook, interaction response data)."""
    if not isinstance(body, dict):
        return []
    problems: list[Problem] = []
    problems += _too_long((*where, "content"), body.get("content"), CONTENT_LIMIT, "content")
    embeds = body.get("embeds") or []
    if isinstance(embeds, list):
        if len(embeds) > EMBEDS_LIMIT:
            problems.append(Problem((*where, "embeds"), f"At most {EMBEDS_LIMIT} embeds."))
        problems += _check_embeds(embeds, (*where, "embeds"))
    flags = body.get("flags") or 0
    components = body.get("components")
    if isinstance(components, list):
        problems += check_components(
            components,
            (*where, "components"),
            v2=bool(isinstance(flags, int) and flags & IS_COMPONENTS_V2),
        )
    problems += check_nonce(body.get("nonce"), (*where, "nonce"))
    if "allowed_mentions" in body:
        problems += check_allowed_mentions(
            body.get("allowed_mentions"), (*where, "allowed_mentions")
        )
    return problems


def message_is_empty(body: Any, files: int) -> bool:
    """Discord refuses (50006) a new message with no content, embed, component, file or poll."""
    if not isinstance(body, dict):
        return files == 0
    keys = ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    return files == 0 and not any(body.get(key) for key in keys)


def _check_embeds(embeds: Sequence[Any], where: Where) -> list[Problem]:
    problems: list[Problem] = []
    total = 0
    for index, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            continue
        here = (*where, index)
        for key, limit in (("title", 256), ("description", 4096)):
            problems += _too_long((*here, key), embed.get(key), limit, key)
            total += len(embed.get(key) or "")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append(Problem((*here, "fields"), "At most 25 fields."))
        for number, item in enumerate(fields):
            if isinstance(item, dict):
                problems += _too_long(
                    (*here, "fields", number, "name"), item.get("name"), 256, "field name"
                )
                problems += _too_long(
                    (*here, "fields", number, "value"), item.get("value"), 1024, "field value"
                )
                total += len(item.get("name") or "") + len(item.get("value") or "")
        footer = embed.get("footer") or {}
        author = embed.get("author") or {}
        problems += _too_long((*here, "footer", "text"), footer.get("text"), 2048, "footer")
        problems += _too_long((*here, "author", "name"), author.get("name"), 256, "author name")
        total += len(footer.get("text") or "") + len(author.get("name") or "")
    if total > EMBED_TOTAL_LIMIT:
        problems.append(
            Problem(where, f"Embeds total {total} characters; at most {EMBED_TOTAL_LIMIT}.")
        )
    return problems


def check_components(components: Sequence[Any], where: Where, *, v2: bool = False) -> list[Problem]:
    """Message components: rows, buttons, selects, custom ids (unique within the message)."""
    problems: list[Problem] = []
    if not v2 and len(components) > ACTION_ROWS_LIMIT:
        problems.append(
            Problem(where, f"At most {ACTION_ROWS_LIMIT} action rows ({len(components)}).")
        )
    seen: dict[str, Where] = {}
    count = 0
    for index, component in enumerate(components):
        if not isinstance(component, dict):
            continue
        if not v2 and component.get("type") != ACTION_ROW:
            problems.append(
                Problem(
                    (*where, index, "type"),
                    "Top-level message components must be action rows "
                    "unless the message has the IS_COMPONENTS_V2 flag.",
                )
            )
        count += _walk_component(component, (*where, index), problems, seen)
    if v2 and count > COMPONENTS_V2_LIMIT:
        problems.append(Problem(where, f"At most {COMPONENTS_V2_LIMIT} components ({count})."))
    return problems


def _walk_component(
    component: dict[str, Any], where: Where, problems: list[Problem], seen: dict[str, Where]
) -> int:
    kind = component.get("type")
    count = 1
    if kind == ACTION_ROW:
        children = component.get("components") or []
        if not 1 <= len(children) <= ROW_WIDTH_LIMIT:
            problems.append(
                Problem(
                    (*where, "components"),
                    f"An action row holds 1 to {ROW_WIDTH_LIMIT} components ({len(children)}).",
                )
            )
        if (
            any(isinstance(c, dict) and c.get("type") in SELECTS for c in children)
            and len(children) != 1
        ):
            problems.append(
                Problem(
                    (*where, "components"), "An action row with a select menu holds only that menu."
                )
            )
        for number, child in enumerate(children):
            if isinstance(child, dict):
                if child.get("type") == TEXT_INPUT:
                    problems.append(
                        Problem((*where, "components", number), "Text inputs belong in modals.")
                    )
                count += _walk_component(child, (*where, "components", number), problems, seen)
        return count
    if kind == BUTTON:
        _check_button(component, where, problems)
    elif kind in SELECTS:
        _check_select(component, where, problems)
    custom_id = component.get("custom_id")
    if isinstance(custom_id, str):
        if custom_id in seen:
            problems.append(
                Problem(
                    (*where, "custom_id"), f"Custom id {custom_id!r} is used twice in one message."
                )
            )
        seen[custom_id] = where
    for key in ("components", "accessory", "component"):
        nested = component.get(key)
        if isinstance(nested, dict):
            count += _walk_component(nested, (*where, key), problems, seen)
        elif isinstance(nested, list):
            for number, child in enumerate(nested):
                if isinstance(child, dict):
                    count += _walk_component(child, (*where, key, number), problems, seen)
    return count


def _check_button(button: dict[str, Any], where: Where, problems: list[Problem]) -> None:
    style = button.get("style")
    problems += _too_long(
        (*where, "label"), button.get("label"), BUTTON_LABEL_LIMIT, "button label"
    )
    if style == 5:
        if not button.get("url"):
            problems.append(
                Problem(
                    (*where, "url"), "A link button needs a url.", field_code="BASE_TYPE_REQUIRED"
                )
            )
        if button.get("custom_id"):
            problems.append(Problem((*where, "custom_id"), "A link button has no custom_id."))
    elif style == 6:
        if not button.get("sku_id"):
            problems.append(Problem((*where, "sku_id"), "A premium button needs a sku_id."))
    else:
        problems += _required_text(
            (*where, "custom_id"), button.get("custom_id"), CUSTOM_ID_LIMIT, "custom_id"
        )
        if button.get("url"):
            problems.append(Problem((*where, "url"), "Only link buttons have a url."))
    if style != 6 and not button.get("label") and not button.get("emoji"):
        problems.append(Problem(where, "A button needs a label or an emoji."))


def _check_select(select: dict[str, Any], where: Where, problems: list[Problem]) -> None:
    problems += _required_text(
        (*where, "custom_id"), select.get("custom_id"), CUSTOM_ID_LIMIT, "custom_id"
    )
    problems += _too_long((*where, "placeholder"), select.get("placeholder"), 150, "placeholder")
    low, high = select.get("min_values", 1), select.get("max_values", 1)
    if isinstance(low, int) and not 0 <= low <= 25:
        problems.append(Problem((*where, "min_values"), "min_values must be 0 to 25."))
    if isinstance(high, int) and not 1 <= high <= 25:
        problems.append(Problem((*where, "max_values"), "max_values must be 1 to 25."))
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.append(Problem((*where, "min_values"), "min_values is above max_values."))
    if select.get("type") == 3:
        options = select.get("options") or []
        if not 1 <= len(options) <= CHOICES_LIMIT:
            problems.append(
                Problem(
                    (*where, "options"),
                    f"A select menu has 1 to {CHOICES_LIMIT} options ({len(options)}).",
                )
            )
        for number, option in enumerate(options):
            if isinstance(option, dict):
                here = (*where, "options", number)
                problems += _required_text(
                    (*here, "label"), option.get("label"), 100, "option label"
                )
                problems += _required_text(
                    (*here, "value"), option.get("value"), 100, "option value"
                )
                problems += _too_long(
                    (*here, "description"), option.get("description"), 100, "option description"
                )


def check_nonce(nonce: Any, where: Where) -> list[Problem]:
    if isinstance(nonce, str) and len(nonce) > NONCE_LIMIT:
        return [
            Problem(
                where,
                f"Nonces are at most {NONCE_LIMIT} characters ({len(nonce)}).",
                field_code="BASE_TYPE_MAX_LENGTH",
            )
        ]
    if nonce is not None and not isinstance(nonce, str | int):
        return [Problem(where, "A nonce is a string or an integer.")]
    return []


def check_allowed_mentions(value: Any, where: Where) -> list[Problem]:
    """``{"parse": [...], "users": [...], "roles": [...], "replied_user": bool}`` as documented."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return [Problem(where, "allowed_mentions must be an object.")]
    problems: list[Problem] = []
    unknown = set(value) - {"parse", "users", "roles", "replied_user"}
    if unknown:
        problems.append(Problem(where, f"Unknown allowed_mentions keys: {sorted(unknown)}."))
    parse = value.get("parse") or []
    if not isinstance(parse, list) or not set(parse) <= ALLOWED_MENTION_TYPES:
        problems.append(
            Problem((*where, "parse"), f"parse takes only {sorted(ALLOWED_MENTION_TYPES)}.")
        )
        parse = []
    elif len(set(parse)) != len(parse):
        problems.append(Problem((*where, "parse"), "parse lists a type twice."))
    for kind in ("users", "roles"):
        ids = value.get(kind)
        if ids is None:
            continue
        if not isinstance(ids, list):
            problems.append(Problem((*where, kind), f"{kind} must be a list of ids."))
            continue
        if ids and kind in parse:
            # Discord: "parse: [users]" and "users: [...]" together are mutually exclusive.
            problems.append(
                Problem((*where, kind), f"{kind!r} is both in parse and listed explicitly.")
            )
        if len(ids) > 100:
            problems.append(Problem((*where, kind), f"At most 100 {kind}."))
        if not all(isinstance(item, str | int) and str(item).isdigit() for item in ids):
            problems.append(Problem((*where, kind), f"{kind} must be snowflake ids."))
    replied = value.get("replied_user")
    if replied is not None and not isinstance(replied, bool):
        problems.append(Problem((*where, "replied_user"), "replied_user must be a boolean."))
    return problems


def check_modal(data: Any, where: Where) -> list[Problem]:
    """Modal callback data: title, custom id, 1..5 inputs, labels <= 45 (ActionRow or Label)."""
    if not isinstance(data, dict):
        return [Problem(where, "A modal needs data.", field_code="BASE_TYPE_REQUIRED")]
    problems = _required_text(
        (*where, "title"), data.get("title"), MODAL_TITLE_LIMIT, "modal title"
    )
    problems += _required_text(
        (*where, "custom_id"), data.get("custom_id"), CUSTOM_ID_LIMIT, "custom_id"
    )
    components = data.get("components") or []
    inputs = [c for c in components if isinstance(c, dict) and c.get("type") != TEXT_DISPLAY]
    if not 1 <= len(inputs) <= MODAL_INPUTS_LIMIT:
        problems.append(
            Problem(
                (*where, "components"),
                f"A modal has 1 to {MODAL_INPUTS_LIMIT} inputs ({len(inputs)}).",
            )
        )
    for index, component in enumerate(components):
        if not isinstance(component, dict):
            continue
        here = (*where, "components", index)
        if component.get("type") == ACTION_ROW:
            children = component.get("components") or []
            if len(children) != 1:
                problems.append(
                    Problem((*here, "components"), "A modal action row holds exactly one input.")
                )
            for number, child in enumerate(children):
                if isinstance(child, dict):
                    problems += _check_modal_input(
                        child, (*here, "components", number), in_label=False
                    )
        elif component.get("type") == LABEL:
            problems += _required_text(
                (*here, "label"), component.get("label"), TEXT_INPUT_LABEL_LIMIT, "label"
            )
            problems += _too_long(
                (*here, "description"),
                component.get("description"),
                LABEL_DESCRIPTION_LIMIT,
                "label description",
            )
            inner = component.get("component")
            if not isinstance(inner, dict):
                problems.append(Problem((*here, "component"), "A label wraps one component."))
            else:
                problems += _check_modal_input(inner, (*here, "component"), in_label=True)
    return problems


def _check_modal_input(component: dict[str, Any], where: Where, *, in_label: bool) -> list[Problem]:
    problems: list[Problem] = []
    if component.get("type") == TEXT_INPUT:
        problems += _required_text(
            (*where, "custom_id"), component.get("custom_id"), CUSTOM_ID_LIMIT, "custom_id"
        )
        if in_label:
            problems += _too_long(
                (*where, "label"), component.get("label"), TEXT_INPUT_LABEL_LIMIT, "label"
            )
        else:
            problems += _required_text(
                (*where, "label"), component.get("label"), TEXT_INPUT_LABEL_LIMIT, "label"
            )
        if component.get("style") not in (1, 2):
            problems.append(
                Problem((*where, "style"), "A text input's style is 1 (short) or 2 (paragraph).")
            )
        problems += _too_long(
            (*where, "placeholder"), component.get("placeholder"), 100, "placeholder"
        )
        problems += _too_long((*where, "value"), component.get("value"), 4000, "value")
        low, high = component.get("min_length"), component.get("max_length")
        if isinstance(low, int) and not 0 <= low <= 4000:
            problems.append(Problem((*where, "min_length"), "min_length must be 0 to 4000."))
        if isinstance(high, int) and not 1 <= high <= 4000:
            problems.append(Problem((*where, "max_length"), "max_length must be 1 to 4000."))
    elif component.get("type") in SELECTS:
        _check_select(component, where, problems)
    return problems


def check_autocomplete_choices(data: Any, where: Where) -> list[Problem]:
    choices = (data or {}).get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        return [
            Problem(
                (*where, "choices"),
                "Autocomplete answers carry a list of choices.",
                field_code="BASE_TYPE_REQUIRED",
            )
        ]
    return _check_choices(choices, (*where, "choices"))


def _check_choices(choices: Sequence[Any], where: Where) -> list[Problem]:
    problems: list[Problem] = []
    if len(choices) > CHOICES_LIMIT:
        problems.append(
            Problem(
                where,
                f"At most {CHOICES_LIMIT} choices ({len(choices)}).",
                field_code="BASE_TYPE_MAX_LENGTH",
            )
        )
    for index, choice in enumerate(choices):
        if not isinstance(choice, dict):
            continue
        problems += _required_text((*where, index, "name"), choice.get("name"), 100, "choice name")
        problems += _too_long((*where, index, "value"), choice.get("value"), 100, "choice value")
    return problems


def check_thread(body: Any, where: Where = ()) -> list[Problem]:
    if not isinstance(body, dict):
        return []
    problems = _required_text((*where, "name"), body.get("name"), THREAD_NAME_LIMIT, "thread name")
    if body.get("type") not in (None, 10, 11, 12):
        problems.append(Problem((*where, "type"), "A thread is type 10, 11 or 12."))
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in (60, 1440, 4320, 10080):
        problems.append(Problem((*where, "auto_archive_duration"), "Use 60, 1440, 4320 or 10080."))
    return problems


def _name_is_valid(name: str, *, chat_input: bool) -> bool:
    if not 1 <= len(name) <= COMMAND_NAME_LIMIT:
        return False
    if not chat_input:
        return True
    # Discord: ^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$, lowercase where a lowercase exists.
    return all(char in "-_'" or char.isalnum() for char in name) and name == name.lower()


def check_commands(commands: Any, where: Where = ()) -> list[Problem]:
    """A bulk overwrite of application commands (``PUT .../commands``)."""
    if not isinstance(commands, list):
        return []
    problems: list[Problem] = []
    per_type: dict[int, list[str]] = {}
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            continue
        kind = command.get("type") or 1
        name = command.get("name")
        per_type.setdefault(kind, []).append(str(name))
        problems += _check_command(command, (*where, index), chat_input=kind == 1)
    for kind, names in per_type.items():
        limit = CHAT_INPUT_COMMANDS_LIMIT if kind == 1 else CONTEXT_MENU_COMMANDS_LIMIT
        if len(names) > limit:
            problems.append(
                Problem(where, f"At most {limit} commands of type {kind} ({len(names)}).")
            )
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            problems.append(Problem(where, f"Command names used twice: {duplicates}."))
    return problems


def _check_command(command: dict[str, Any], where: Where, *, chat_input: bool) -> list[Problem]:
    problems: list[Problem] = []
    name = command.get("name")
    if not isinstance(name, str) or not _name_is_valid(name, chat_input=chat_input):
        problems.append(
            Problem(
                (*where, "name"),
                f"Invalid command name {name!r} (1-32 lowercase letters, digits, - _ ').",
            )
        )
    description = command.get("description")
    if chat_input:
        problems += _required_text(
            (*where, "description"), description, DESCRIPTION_LIMIT, "description"
        )
    elif description:
        problems.append(
            Problem((*where, "description"), "Context menu commands have no description.")
        )
    options = command.get("options") or []
    if options and not chat_input:
        problems.append(Problem((*where, "options"), "Context menu commands have no options."))
    problems += _check_options(options, (*where, "options"), depth=0)
    if _command_chars(command) > COMMAND_TOTAL_CHARS:
        problems.append(
            Problem(
                where,
                f"A command's names, descriptions and choices total at most "
                f"{COMMAND_TOTAL_CHARS} characters.",
            )
        )
    return problems


def _check_options(options: Sequence[Any], where: Where, *, depth: int) -> list[Problem]:
    problems: list[Problem] = []
    if len(options) > OPTIONS_LIMIT:
        problems.append(Problem(where, f"At most {OPTIONS_LIMIT} options ({len(options)})."))
    names = [o.get("name") for o in options if isinstance(o, dict)]
    if len(set(names)) != len(names):
        problems.append(Problem(where, "Option names must be unique."))
    kinds = [o.get("type") for o in options if isinstance(o, dict)]
    nested = [k for k in kinds if k in (1, 2)]
    if nested and len(nested) != len(kinds):
        problems.append(
            Problem(where, "Subcommands and plain options cannot be mixed at one level.")
        )
    seen_optional = False
    for index, option in enumerate(options):
        if not isinstance(option, dict):
            continue
        here = (*where, index)
        kind = option.get("type")
        name = option.get("name")
        if not isinstance(name, str) or not _name_is_valid(name, chat_input=True):
            problems.append(Problem((*here, "name"), f"Invalid option name {name!r}."))
        problems += _required_text(
            (*here, "description"), option.get("description"), DESCRIPTION_LIMIT, "description"
        )
        if kind == 2 and depth > 0:
            problems.append(Problem((*here, "type"), "Subcommand groups cannot be nested."))
        if kind == 1 and depth > 1:
            problems.append(Problem((*here, "type"), "Subcommands nest at most inside one group."))
        if kind == 2 and any(
            isinstance(o, dict) and o.get("type") != 1 for o in option.get("options") or []
        ):
            problems.append(
                Problem((*here, "options"), "A subcommand group holds only subcommands.")
            )
        if kind in (1, 2):
            problems += _check_options(
                option.get("options") or [], (*here, "options"), depth=depth + 1
            )
            continue
        required = bool(option.get("required"))
        if required and seen_optional:
            problems.append(
                Problem((*here, "required"), "Required options must come before optional ones.")
            )
        seen_optional = seen_optional or not required
        choices = option.get("choices") or []
        if choices and option.get("autocomplete"):
            problems.append(
                Problem((*here, "autocomplete"), "An option has choices or autocomplete, not both.")
            )
        problems += _check_choices(choices, (*here, "choices"))
    return problems


def _command_chars(command: dict[str, Any]) -> int:
    total = len(command.get("name") or "") + len(command.get("description") or "")
    for option in command.get("options") or []:
        if isinstance(option, dict):
            total += _command_chars(option)
            for choice in option.get("choices") or []:
                if isinstance(choice, dict):
                    total += len(str(choice.get("name") or "")) + len(
                        str(choice.get("value") or "")
                    )
    return total


def check_interaction_callback(body: Any, interaction_type: int | None) -> list[Problem]:
    """Limits of ``POST /interactions/{id}/{token}/callback`` and which type fits which interaction.

    ``interaction_type`` is that of the interaction being answered (2 command, 3 component,
    4 autocomplete, 5 modal submit), or None when it is unknown.
    """
    if not isinstance(body, dict):
        return []
    kind = body.get("type")
    data = body.get("data")
    problems: list[Problem] = []
    if kind in (4, 7):
        problems += check_message_body(data, ("data",))
    elif kind == 8:
        problems += check_autocomplete_choices(data, ("data",))
    elif kind == 9:
        problems += check_modal(data, ("data",))
    if interaction_type is not None:
        allowed = {
            2: {4, 5, 9},
            3: {4, 5, 6, 7, 9},
            4: {8},
            5: {4, 5, 6, 7},
        }.get(interaction_type, {1, 4, 5, 6, 7, 8, 9})
        if kind not in allowed:
            problems.append(
                Problem(
                    ("type",),
                    f"Callback type {kind} is not allowed for an interaction of type "
                    f"{interaction_type} (allowed: {sorted(allowed)}).",
                )
            )
    return problems


def check_limits(method: str, route: str | None, body: Any) -> list[Problem]:
    """The documented limits for the routes a bot uses (``route`` is the spec's path template)."""
    if body is None or route is None:
        return []
    if route in (
        "/channels/{channel_id}/messages",
        "/channels/{channel_id}/messages/{message_id}",
        "/webhooks/{webhook_id}/{webhook_token}",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    ) and method in ("POST", "PATCH"):
        return check_message_body(body)
    if route == "/channels/{channel_id}/threads" and method == "POST":
        return check_thread(body)
    if (
        route
        in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        )
        and method == "PUT"
    ):
        return check_commands(body)
    return []


# --------------------------------------------------------------------------------------------
# Gateway frames (not in the OpenAPI spec: built from the gateway documentation)
# --------------------------------------------------------------------------------------------

GATEWAY_VERSION = 10
VALID_STATUSES = frozenset({"online", "dnd", "idle", "invisible", "offline"})


def check_gateway_frame(frame: Any) -> list[Problem]:
    """Problems in a frame the client sent (opcodes 1, 2, 3, 6, 8)."""
    if not isinstance(frame, dict) or "op" not in frame:
        return [Problem((), "A gateway frame is an object with an 'op'.", source="protocol")]
    op, data = frame.get("op"), frame.get("d")
    problems: list[Problem] = []

    def need(key: str, kinds: type | tuple[type, ...], what: str) -> None:
        if not isinstance(data, dict) or not isinstance(data.get(key), kinds):
            problems.append(Problem(("d", key), f"{what} is required.", source="protocol"))

    if op == 1:
        if data is not None and not isinstance(data, int):
            problems.append(
                Problem(
                    ("d",),
                    "A heartbeat carries the last sequence number or null.",
                    source="protocol",
                )
            )
    elif op == 2:
        need("token", str, "token")
        need("properties", dict, "properties {os, browser, device}")
        need("intents", int, "intents (required on gateway v10)")
        if isinstance(data, dict):
            properties = data.get("properties") or {}
            for key in ("os", "browser", "device"):
                if not isinstance(properties.get(key), str):
                    problems.append(
                        Problem(("d", "properties", key), f"{key} is required.", source="protocol")
                    )
            shard = data.get("shard")
            if shard is not None and not (
                isinstance(shard, list)
                and len(shard) == 2
                and all(isinstance(x, int) for x in shard)
                and 0 <= shard[0] < shard[1]
            ):
                problems.append(
                    Problem(("d", "shard"), "shard is [shard_id, num_shards].", source="protocol")
                )
            threshold = data.get("large_threshold")
            if threshold is not None and not (
                isinstance(threshold, int) and 50 <= threshold <= 250
            ):
                problems.append(
                    Problem(
                        ("d", "large_threshold"), "large_threshold is 50 to 250.", source="protocol"
                    )
                )
    elif op == 3:
        need("status", str, "status")
        if isinstance(data, dict) and data.get("status") not in VALID_STATUSES:
            problems.append(
                Problem(
                    ("d", "status"),
                    f"status is one of {sorted(VALID_STATUSES)}.",
                    source="protocol",
                )
            )
    elif op == 6:
        need("token", str, "token")
        need("session_id", str, "session_id")
        if not isinstance(data, dict) or not (
            data.get("seq") is None or isinstance(data.get("seq"), int)
        ):
            problems.append(
                Problem(
                    ("d", "seq"), "seq is the last sequence number received.", source="protocol"
                )
            )
    elif op == 8:
        need("guild_id", (str, int), "guild_id")
        if isinstance(data, dict) and "query" not in data and "user_ids" not in data:
            problems.append(
                Problem(("d",), "Request members with a query or user_ids.", source="protocol")
            )
    elif op in (4, 14, 31):
        pass  # voice state, lazy guilds, soundboard: not used by this bot, accepted as is
    else:
        problems.append(
            Problem(("op",), f"Opcode {op} is not one a client may send.", source="protocol")
        )
    return problems


# --------------------------------------------------------------------------------------------
# Error bodies
# --------------------------------------------------------------------------------------------


def form_body_errors(problems: Iterable[Problem]) -> dict[str, Any]:
    """Discord's nested ``errors`` object: ``{"content": {"_errors": [{"code", "message"}]}}``."""
    errors: dict[str, Any] = {}
    for problem in problems:
        node = errors
        for part in problem.where:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append(
            {"code": problem.field_code, "message": problem.message}
        )
    return errors


def invalid_form_body(problems: Sequence[Problem]) -> dict[str, Any]:
    """The 400 answer for a request that breaks the spec or a documented limit."""
    first = problems[0]
    if first.code != 50035:
        return {"code": first.code, "message": first.message}
    return {"code": 50035, "message": "Invalid Form Body", "errors": form_body_errors(problems)}
