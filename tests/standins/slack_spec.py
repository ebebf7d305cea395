"""What Slack accepts, as checks: every request the bot sends, and every answer the stand-in gives.

The Slack stand-in (``tests/standins/slack.py``) runs these on each call; they work alone too::

    spec = SlackWebSpec.load()      # skips the test when ../shared/specs is absent (fails in CI)
    spec.check_request("chat.postMessage", {"channel": "C0GENERAL1"}, token_kind="xoxb")
    # -> [Problem(error="no_text", message="[ERROR] ...")]
    spec.check_answer("auth.test", {"ok": True, ...})    # -> [] when the body matches the spec
    check_blocks(blocks, surface="message")               # Block Kit, which the spec lacks

Sources, and why both: ``../shared/specs/slack-web-openapi-v2.json`` (Slack's own Swagger 2.0
description, 2021) gives method names, argument names, required arguments and response bodies.
It is older than some of what the bot uses and silent on Block Kit, so the rules it lacks are
encoded below from Slack's documentation (docs.slack.dev), each one marked "spec lacks".
openapi-core cannot load Swagger 2.0, hence this small reader of its ``parameters``.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

log = logging.getLogger(__name__)

SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "slack-web-openapi-v2.json"
)

Surface = Literal["message", "modal", "home"]


@dataclass(frozen=True)
class Problem:
    """One way a request breaks Slack's rules, as Slack would report it.

    ``error`` is the code Slack answers with (``invalid_arguments``, ``invalid_blocks``...);
    ``message`` reads like Slack's ``response_metadata.messages`` entries, with a JSON pointer.
    """

    error: str
    message: str


# ---------------------------------------------------------------------------------------------
# Limits from Slack's documentation (the spec describes no Block Kit at all).
# ---------------------------------------------------------------------------------------------

#: chat.postMessage: "Slack will truncate messages containing more than 40,000 characters"
#: (answered here as msg_too_long, so a test notices instead of a silent truncation).
TEXT_MAX = 40_000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
ACTION_ID_MAX = 255
BLOCK_ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
PLACEHOLDER_MAX = 150
INPUT_LABEL_MAX = 2000
VIEW_TITLE_MAX = 24
VIEW_BUTTON_MAX = 24
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255

#: Keys a view may carry (docs: reference/surfaces/views); Slack rejects others.
MODAL_KEYS = frozenset(
    {
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "clear_on_close",
        "notify_on_close",
        "external_id",
        "submit_disabled",
    }
)
HOME_KEYS = frozenset({"type", "blocks", "private_metadata", "callback_id", "external_id"})

#: Element types whose selection lives in ``options`` (each option: plain_text ≤ 75, value ≤ 150).
OPTION_ELEMENTS = frozenset(
    {"static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes"}
)


def _pointer_message(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _text_of(obj: Any) -> str | None:
    if isinstance(obj, Mapping):
        text = obj.get("text")
        return text if isinstance(text, str) else None
    return None


class _BlockRules:
    """Walks one message's or view's blocks and collects every rule they break."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.problems: list[Problem] = []

    def add(self, message: str, pointer: str) -> None:
        self.problems.append(Problem(self.error, _pointer_message(message, pointer)))

    def max_len(self, value: Any, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(f"must be less than {limit + 1} characters", pointer)

    def plain_text(self, obj: Any, limit: int, pointer: str) -> None:
        if not isinstance(obj, Mapping):
            self.add("must be a plain_text object", pointer)
            return
        if obj.get("type") != "plain_text":
            self.add("must be a plain_text object", f"{pointer}/type")
        self.max_len(obj.get("text"), limit, f"{pointer}/text")

    def blocks(self, blocks: Any, surface: Surface, pointer: str) -> None:
        if not isinstance(blocks, list):
            self.add("must be an array of blocks", pointer)
            return
        limit = MESSAGE_BLOCKS_MAX if surface == "message" else VIEW_BLOCKS_MAX
        if len(blocks) > limit:
            self.add(f"no more than {limit} items allowed", pointer)
        seen_block_ids: set[str] = set()
        for index, block in enumerate(blocks):
            where = f"{pointer}/{index}"
            if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
                self.add("a block must be an object with a type", where)
                continue
            block_id = block.get("block_id")
            if isinstance(block_id, str):
                if block_id in seen_block_ids:
                    self.add(f"duplicate block_id {block_id!r}", f"{where}/block_id")
                seen_block_ids.add(block_id)
            self.with_slack_sdk(block, where)
            self.limits(block, where)

    def with_slack_sdk(self, block: Mapping[str, Any], pointer: str) -> None:
        """slack_sdk's models know every block type and most of Block Kit's own limits; a key
        they drop is one Slack does not know either, and a string where they build an object is
        one Slack rejects (slack_sdk is lenient there, Slack is not)."""
        try:
            parsed = Block.parse(copy.deepcopy(dict(block)))
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            self.add(f"cannot be read as a {block.get('type')} block: {exc}", pointer)
            return
        if parsed is None:
            self.add(f"unknown block type {block.get('type')!r}", f"{pointer}/type")
            return
        try:
            parsed.validate_json()
            rebuilt = parsed.to_dict()  # validates nested elements too
        except SlackObjectFormationError as exc:
            self.add(str(exc), pointer)
            return
        self.same_shape(block, rebuilt, pointer)

    def same_shape(self, sent: Any, rebuilt: Any, pointer: str) -> None:
        if isinstance(sent, Mapping):
            if not isinstance(rebuilt, Mapping):
                self.add("unexpected object", pointer)
                return
            for key, value in sent.items():
                where = f"{pointer}/{key}"
                if value is None:
                    continue
                if isinstance(value, list) and not value and key != "elements":
                    self.add("must not be an empty array", where)
                elif key not in rebuilt:
                    self.add(f"unknown field {key!r}", where)
                else:
                    self.same_shape(value, rebuilt[key], where)
        elif isinstance(sent, list) and isinstance(rebuilt, list):
            for index, (a, b) in enumerate(zip(sent, rebuilt, strict=False)):
                self.same_shape(a, b, f"{pointer}/{index}")
        elif isinstance(sent, str) and isinstance(rebuilt, Mapping):
            self.add("must be a text object, not a string", pointer)

    def limits(self, node: Any, pointer: str) -> None:
        """Slack's documented limits, checked everywhere in the tree (slack_sdk misses some)."""
        if isinstance(node, list):
            for index, item in enumerate(node):
                self.limits(item, f"{pointer}/{index}")
            return
        if not isinstance(node, Mapping):
            return
        kind = node.get("type")
        self.max_len(node.get("action_id"), ACTION_ID_MAX, f"{pointer}/action_id")
        self.max_len(node.get("block_id"), BLOCK_ID_MAX, f"{pointer}/block_id")
        if kind == "button":
            self.plain_text(node.get("text"), BUTTON_TEXT_MAX, f"{pointer}/text")
            self.max_len(node.get("value"), BUTTON_VALUE_MAX, f"{pointer}/value")
            self.max_len(node.get("url"), URL_MAX, f"{pointer}/url")
        elif kind == "section":
            self.max_len(_text_of(node.get("text")), SECTION_TEXT_MAX, f"{pointer}/text/text")
            fields = node.get("fields")
            if isinstance(fields, list):
                if len(fields) > SECTION_FIELDS_MAX:
                    self.add(
                        f"no more than {SECTION_FIELDS_MAX} items allowed", f"{pointer}/fields"
                    )
                for index, field in enumerate(fields):
                    where = f"{pointer}/fields/{index}/text"
                    self.max_len(_text_of(field), SECTION_FIELD_TEXT_MAX, where)
        elif kind == "header":
            self.plain_text(node.get("text"), HEADER_TEXT_MAX, f"{pointer}/text")
        elif kind == "actions":
            self.count(node.get("elements"), ACTIONS_ELEMENTS_MAX, f"{pointer}/elements")
            self.unique_action_ids(node.get("elements"), f"{pointer}/elements")
        elif kind == "context":
            self.count(node.get("elements"), CONTEXT_ELEMENTS_MAX, f"{pointer}/elements")
        elif kind == "input":
            self.plain_text(node.get("label"), INPUT_LABEL_MAX, f"{pointer}/label")
        if kind in OPTION_ELEMENTS:
            self.options(node, pointer)
        if "placeholder" in node and kind != "input":
            self.plain_text(node["placeholder"], PLACEHOLDER_MAX, f"{pointer}/placeholder")
        for key, value in node.items():
            if isinstance(value, Mapping | list) and key not in ("options", "option_groups"):
                self.limits(value, f"{pointer}/{key}")

    def count(self, items: Any, limit: int, pointer: str) -> None:
        if isinstance(items, list) and len(items) > limit:
            self.add(f"no more than {limit} items allowed", pointer)

    def unique_action_ids(self, elements: Any, pointer: str) -> None:
        seen: set[str] = set()
        for index, element in enumerate(elements if isinstance(elements, list) else []):
            action_id = element.get("action_id") if isinstance(element, Mapping) else None
            if isinstance(action_id, str):
                if action_id in seen:
                    self.add(f"duplicate action_id {action_id!r}", f"{pointer}/{index}/action_id")
                seen.add(action_id)

    def options(self, node: Mapping[str, Any], pointer: str) -> None:
        options = node.get("options")
        if isinstance(options, list):
            self.count(options, OPTIONS_MAX, f"{pointer}/options")
            mrkdwn_allowed = node.get("type") in ("radio_buttons", "checkboxes")
            for index, option in enumerate(options):
                where = f"{pointer}/options/{index}"
                if not isinstance(option, Mapping):
                    self.add("an option must be an object", where)
                    continue
                text = option.get("text")
                if mrkdwn_allowed:
                    self.max_len(_text_of(text), OPTION_TEXT_MAX, f"{where}/text/text")
                else:
                    self.plain_text(text, OPTION_TEXT_MAX, f"{where}/text")
                self.max_len(option.get("value"), OPTION_VALUE_MAX, f"{where}/value")


def check_blocks(
    blocks: Any,
    *,
    surface: Surface = "message",
    pointer: str = "/blocks",
    error: str = "invalid_blocks",
) -> list[Problem]:
    """Every Block Kit rule ``blocks`` breaks (empty when Slack would accept them)."""
    rules = _BlockRules(error)
    rules.blocks(blocks, surface, pointer)
    return rules.problems


def check_view(
    view: Any, *, pointer: str = "/view", expected_type: str | None = None
) -> list[Problem]:
    """Every rule a modal or Home tab view breaks.

    Slack answers a bad view with ``invalid_arguments`` (not ``invalid_blocks``, which is for
    messages), so these problems carry that code.
    """
    rules = _BlockRules("invalid_arguments")
    if not isinstance(view, Mapping):
        rules.add("must be a view object", pointer)
        return rules.problems
    kind = view.get("type")
    if kind not in ("modal", "home"):
        rules.add("type must be modal or home", f"{pointer}/type")
        return rules.problems
    if expected_type is not None and kind != expected_type:
        rules.add(f"this method takes a {expected_type} view, not a {kind}", f"{pointer}/type")
    allowed = MODAL_KEYS if kind == "modal" else HOME_KEYS
    for key in view:
        if key not in allowed:
            rules.add(f"unknown field {key!r} for a {kind} view", f"{pointer}/{key}")
    if kind == "modal":
        if "title" not in view:
            rules.add("missing required field: title", f"{pointer}/title")
        else:
            rules.plain_text(view["title"], VIEW_TITLE_MAX, f"{pointer}/title")
        for key in ("submit", "close"):
            if key in view:
                rules.plain_text(view[key], VIEW_BUTTON_MAX, f"{pointer}/{key}")
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, Mapping) and b.get("type") == "input" for b in blocks
        )
        if has_input and "submit" not in view:
            rules.add("a modal with input blocks needs a submit button", f"{pointer}/submit")
    rules.max_len(view.get("private_metadata"), PRIVATE_METADATA_MAX, f"{pointer}/private_metadata")
    rules.max_len(view.get("callback_id"), CALLBACK_ID_MAX, f"{pointer}/callback_id")
    if "blocks" not in view:
        rules.add("missing required field: blocks", f"{pointer}/blocks")
    else:
        rules.blocks(view["blocks"], kind, f"{pointer}/blocks")
    if not rules.problems:
        try:  # slack_sdk's own view rules (title and button lengths, block count...)
            View(**copy.deepcopy(dict(view))).to_dict()
        except (SlackObjectFormationError, TypeError, ValueError) as exc:
            rules.add(str(exc), pointer)
    return rules.problems


def check_metadata(metadata: Any, pointer: str = "/metadata") -> list[Problem]:
    """Message metadata: ``{"event_type": str, "event_payload": object}`` (spec lacks it;
    docs: messaging/message-metadata). Slack answers ``invalid_metadata_format``."""
    if not isinstance(metadata, Mapping):
        return [Problem("invalid_metadata_format", _pointer_message("must be an object", pointer))]
    problems = []
    if not isinstance(metadata.get("event_type"), str) or not metadata.get("event_type"):
        problems.append(
            Problem(
                "invalid_metadata_format",
                _pointer_message("event_type must be a non-empty string", f"{pointer}/event_type"),
            )
        )
    if not isinstance(metadata.get("event_payload"), Mapping):
        problems.append(
            Problem(
                "invalid_metadata_format",
                _pointer_message("event_payload must be an object", f"{pointer}/event_payload"),
            )
        )
    unknown = set(metadata) - {"event_type", "event_payload"}
    if unknown:
        problems.append(
            Problem(
                "invalid_metadata_format",
                _pointer_message(f"unknown fields {sorted(unknown)}", pointer),
            )
        )
    return problems


def check_message_body(
    args: Mapping[str, Any], *, needs_content: bool = True, blocks_error: str = "invalid_blocks"
) -> list[Problem]:
    """What chat.postMessage / postEphemeral / update and response_url posts share: a text or
    blocks, text within 40,000 characters, valid blocks and metadata."""
    problems: list[Problem] = []
    text = args.get("text")
    if needs_content and not text and not args.get("blocks") and not args.get("attachments"):
        problems.append(
            Problem(
                "no_text",
                _pointer_message("one of text, blocks or attachments is required", "/text"),
            )
        )
    if isinstance(text, str) and len(text) > TEXT_MAX:
        problems.append(
            Problem(
                "msg_too_long",
                _pointer_message(f"must be less than {TEXT_MAX + 1} characters", "/text"),
            )
        )
    if "blocks" in args and args["blocks"] is not None:
        problems += check_blocks(args["blocks"], surface="message", error=blocks_error)
    if "metadata" in args and args["metadata"] is not None:
        problems += check_metadata(args["metadata"])
    return problems


# ---------------------------------------------------------------------------------------------
# The Web API spec, and what it lacks.
# ---------------------------------------------------------------------------------------------

ParamType = Literal["string", "boolean", "integer", "number", "json"]

#: Arguments whose value is JSON: a JSON body carries them as objects, a form or a query string
#: as JSON text (the spec calls them strings).
JSON_VALUED = frozenset({"blocks", "attachments", "view", "metadata", "files"})

#: Spec lacks: slack_sdk/Bolt add ``team_id`` to calls (testing notes); any method takes it.
COMMON_EXTRA: Mapping[str, ParamType] = {"team_id": "string"}

#: Spec lacks (arguments documented today on docs.slack.dev/reference/methods/<method>).
EXTRA_PARAMS: Mapping[str, Mapping[str, ParamType]] = {
    "chat.postMessage": {"metadata": "json", "markdown_text": "string"},
    "chat.postEphemeral": {"markdown_text": "string"},
    "chat.update": {
        "metadata": "json",
        "reply_broadcast": "boolean",
        "file_ids": "string",
        "markdown_text": "string",
    },
    "conversations.history": {"include_all_metadata": "boolean"},
    "conversations.open": {"prevent_creation": "boolean"},
}

#: Required by the documentation although the 2021 spec marks them optional.
EXTRA_REQUIRED: Mapping[str, frozenset[str]] = {
    "chat.delete": frozenset({"channel", "ts"}),
    "conversations.history": frozenset({"channel"}),
    "conversations.info": frozenset({"channel"}),
    "users.info": frozenset({"user"}),
    "views.update": frozenset({"view"}),
}

#: Documented "one of these is required" rules (the spec cannot say it).
ONE_OF: Mapping[str, tuple[frozenset[str], ...]] = {
    "conversations.open": (frozenset({"channel", "users"}),),
    "views.update": (frozenset({"view_id", "external_id"}),),
}

#: Which view type each views method takes (spec lacks Block Kit).
VIEW_TYPE_OF: Mapping[str, str] = {
    "views.open": "modal",
    "views.push": "modal",
    "views.update": "modal",
    "views.publish": "home",
}

_OK_TRUE = {"$ref": "#/definitions/defs_ok_true"}

#: Spec lacks these methods entirely (it predates them); encoded from their documentation pages.
NOT_IN_SPEC: Mapping[str, tuple[Mapping[str, tuple[ParamType, bool]], dict[str, Any]]] = {
    # docs: reference/methods/apps.connections.open (app-level xapp- token, no arguments)
    "apps.connections.open": (
        {},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["ok", "url"],
            "properties": {"ok": _OK_TRUE, "url": {"type": "string", "pattern": "^wss?://"}},
        },
    ),
    # docs: reference/methods/files.getUploadURLExternal
    "files.getUploadURLExternal": (
        {
            "filename": ("string", True),
            "length": ("integer", True),
            "alt_txt": ("string", False),
            "snippet_type": ("string", False),
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["ok", "upload_url", "file_id"],
            "properties": {
                "ok": _OK_TRUE,
                "upload_url": {"type": "string", "pattern": "^https?://"},
                "file_id": {"$ref": "#/definitions/defs_file_id"},
            },
        },
    ),
    # docs: reference/methods/files.completeUploadExternal
    "files.completeUploadExternal": (
        {
            "files": ("json", True),
            "channel_id": ("string", False),
            "channels": ("string", False),
            "initial_comment": ("string", False),
            "thread_ts": ("string", False),
            "blocks": ("json", False),
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["ok", "files"],
            "properties": {
                "ok": _OK_TRUE,
                "files": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["id"],
                        "properties": {
                            "id": {"$ref": "#/definitions/defs_file_id"},
                            "title": {"type": "string"},
                        },
                    },
                },
            },
        },
    ),
}

#: Token kinds per method: bot (xoxb) and user (xoxp) tokens call the Web API; Socket Mode's
#: apps.connections.open takes only an app-level (xapp) token. Slack answers a wrong kind with
#: ``not_allowed_token_type`` (spec lacks token kinds).
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    required: bool


@dataclass(frozen=True)
class MethodRules:
    """What one Web API method takes: from the spec, plus what the spec lacks."""

    name: str
    params: Mapping[str, Param]
    in_spec: bool


def _spec_param_type(name: str, declared: str | None) -> ParamType:
    if name in JSON_VALUED:
        return "json"
    if declared in ("boolean", "integer", "number"):
        return declared  # type: ignore[return-value]
    return "string"


def _items_list_as_any_of(node: Any) -> Any:
    """The spec writes "one of A or B" as ``items: [A, B]`` on non-array schemas (a Swagger
    habit). Under JSON Schema that constrains nothing, so read it as ``anyOf``, which is what
    Slack meant; otherwise the answers' checks would pass anything."""
    if isinstance(node, list):
        return [_items_list_as_any_of(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _items_list_as_any_of(value) for key, value in node.items()}
    if isinstance(out.get("items"), list) and out.get("type") != "array":
        out["anyOf"] = out.pop("items")
    return out


def _patch_definitions(definitions: dict[str, Any]) -> None:
    """Answers Slack gives today that the 2021 spec's schemas reject."""
    message = definitions["objs_message"]["properties"]
    # Spec lacks: message metadata (docs: messaging/message-metadata) and the ``edited`` mark
    # every updated message carries.
    message["metadata"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["event_type", "event_payload"],
        "properties": {"event_type": {"type": "string"}, "event_payload": {"type": "object"}},
    }
    message["edited"] = {
        "type": "object",
        "required": ["user", "ts"],
        "properties": {"user": {"type": "string"}, "ts": {"$ref": "#/definitions/defs_ts"}},
    }


def _patch_answer_schema(method: str, schema: dict[str, Any], ok: bool) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    props = schema.setdefault("properties", {})
    # Slack adds these to any answer (paging cursors, deprecation warnings, error details).
    props.setdefault("response_metadata", {"type": "object"})
    props.setdefault("warning", {"type": "string"})
    if not ok:
        # The 2021 error enums miss codes Slack documents today (invalid_arguments,
        # ratelimited, cannot_dm_bot, token_revoked...): check only that ``error`` is a string.
        props["error"] = {"type": "string"}
        props.setdefault("needed", {"type": "string"})
        props.setdefault("provided", {"type": "string"})
        schema.setdefault("required", ["ok", "error"])
    if method == "conversations.history" and ok:
        props["messages"].pop("minItems", None)  # an empty history is ``[]``, not an error
    if method == "chat.update" and ok:
        # Spec bug: it types the updated message's blocks as an object; they are an array.
        props["message"]["properties"]["blocks"] = {"$ref": "#/definitions/blocks"}
    return schema


class SlackWebSpec:
    """Slack's Web API rules: which methods exist, what they take, what they answer."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        definitions = _items_list_as_any_of(copy.deepcopy(document["definitions"]))
        _patch_definitions(definitions)
        self._definitions = definitions
        self._rules: dict[str, MethodRules] = {}
        self._answers: dict[tuple[str, bool], dict[str, Any]] = {}
        for path, operations in document["paths"].items():
            method = path.lstrip("/")
            for operation in operations.values():
                params = {
                    p["name"]: Param(
                        p["name"],
                        _spec_param_type(p["name"], p.get("type")),
                        bool(p.get("required")),
                    )
                    for p in operation.get("parameters", [])
                    if p["name"] != "token"
                }
                self._add_extras(method, params)
                self._rules[method] = MethodRules(method, params, in_spec=True)
                responses = _items_list_as_any_of(operation.get("responses", {}))
                for status, ok in (("200", True), ("default", False)):
                    schema = responses.get(status, {}).get("schema")
                    if schema is not None:
                        self._answers[(method, ok)] = _patch_answer_schema(method, schema, ok)
        for method, (declared, answer) in NOT_IN_SPEC.items():
            params = {name: Param(name, kind, req) for name, (kind, req) in declared.items()}
            self._add_extras(method, params)
            self._rules[method] = MethodRules(method, params, in_spec=False)
            self._answers[(method, True)] = _patch_answer_schema(method, answer, True)
            self._answers[(method, False)] = _patch_answer_schema(
                method, {"type": "object", "required": ["ok"], "properties": {}}, False
            )
        self._validators: dict[tuple[str, bool], jsonschema.Draft4Validator] = {}

    @staticmethod
    def _add_extras(method: str, params: dict[str, Param]) -> None:
        for name, kind in {**COMMON_EXTRA, **EXTRA_PARAMS.get(method, {})}.items():
            params.setdefault(name, Param(name, kind, False))
        for name in EXTRA_REQUIRED.get(method, frozenset()):
            old = params.get(name)
            params[name] = Param(name, old.type if old else "string", True)

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> SlackWebSpec:
        """The spec from ``../shared/specs``; skips the calling test when the folder is absent
        (and fails it when ``CI`` is set, so CI cannot pass by skipping)."""
        if not path.exists():
            reason = f"Slack's Web API spec is not at {path} (the shared folder is absent)"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
        return _load_cached(str(path))

    def rules(self, method: str) -> MethodRules | None:
        return self._rules.get(method)

    def check_request(
        self, method: str, args: Mapping[str, Any], *, token_kind: str | None
    ) -> list[Problem]:
        """Every rule the call breaks; ``args`` as decoded by :func:`decode_args` (no token)."""
        rules = self._rules.get(method)
        if rules is None:
            return [Problem("unknown_method", f"[ERROR] unknown method {method!r}")]
        if token_kind is None:
            return [Problem("not_authed", "[ERROR] no token was sent")]
        wanted = {"xapp"} if method in APP_TOKEN_METHODS else {"xoxb", "xoxp"}
        if token_kind not in wanted:
            return [
                Problem(
                    "not_allowed_token_type",
                    f"[ERROR] {method} takes a "
                    f"{' or '.join(sorted(wanted))} token, not {token_kind}",
                )
            ]
        problems = []
        for name, value in args.items():
            param = rules.params.get(name)
            if param is None:
                where = "Slack's spec" if rules.in_spec else "Slack's documentation"
                problems.append(
                    Problem(
                        "invalid_arguments",
                        _pointer_message(
                            f"unknown argument {name!r} ({where} for {method} does not list it)",
                            f"/{name}",
                        ),
                    )
                )
            elif not _type_ok(param.type, value):
                problems.append(
                    Problem(
                        "invalid_arguments",
                        _pointer_message(f"expected {param.type}, got {value!r:.80}", f"/{name}"),
                    )
                )
        for param in rules.params.values():
            if param.required and args.get(param.name) in (None, ""):
                problems.append(
                    Problem(
                        "invalid_arguments",
                        _pointer_message(f"missing required field: {param.name}", f"/{param.name}"),
                    )
                )
        for group in ONE_OF.get(method, ()):
            if not any(args.get(name) not in (None, "") for name in group):
                problems.append(
                    Problem(
                        "invalid_arguments",
                        _pointer_message(f"one of {sorted(group)} is required", "/"),
                    )
                )
        problems += self._content_rules(method, args)
        return problems

    @staticmethod
    def _content_rules(method: str, args: Mapping[str, Any]) -> list[Problem]:
        if method in ("chat.postMessage", "chat.postEphemeral"):
            return check_message_body(args)
        if method == "chat.update":
            return check_message_body(args, needs_content=False)
        if method in VIEW_TYPE_OF and "view" in args:
            return check_view(args["view"], expected_type=VIEW_TYPE_OF[method])
        if method == "files.completeUploadExternal":
            files = args.get("files")
            if (
                not isinstance(files, list)
                or not files
                or not all(isinstance(f, Mapping) and isinstance(f.get("id"), str) for f in files)
            ):
                return [
                    Problem(
                        "invalid_arguments",
                        _pointer_message(
                            'files must be a non-empty JSON array of {"id": ..., "title": ...}',
                            "/files",
                        ),
                    )
                ]
        return []

    def check_answer(self, method: str, answer: Mapping[str, Any]) -> list[str]:
        """Where the stand-in's own answer departs from Slack's response schema (keeps the
        canned data honest). Methods the stand-in invents nothing for return ``[]``."""
        ok = answer.get("ok") is True
        key = (method, ok)
        if key not in self._answers:
            return []
        validator = self._validators.get(key)
        if validator is None:
            schema = {**self._answers[key], "definitions": self._definitions}
            validator = jsonschema.Draft4Validator(schema)
            self._validators[key] = validator
        problems = []
        for error in validator.iter_errors(dict(answer)):
            # "not valid under any of the given schemas" says little: name the closest miss.
            cause = jsonschema.exceptions.best_match(error.context) if error.context else error
            cause = cause or error
            where = "/".join(map(str, cause.absolute_path))
            problems.append(f"{method} answer at /{where}: {cause.message:.300}")
        return problems


@functools.lru_cache(maxsize=2)
def _load_cached(path: str) -> SlackWebSpec:
    with open(path, encoding="utf-8") as handle:
        return SlackWebSpec(json.load(handle))


def _type_ok(kind: ParamType, value: Any) -> bool:
    checks: Mapping[ParamType, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool) or v in ("true", "false", "1", "0", 0, 1),
        "integer": lambda v: (
            (isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(v, str) and v.lstrip("-").isdigit())
        ),
        "number": _is_number,
        "json": lambda v: isinstance(v, Mapping | list),
    }
    return checks[kind](value)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def decode_args(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Arguments as Slack reads them: JSON-valued ones (blocks, view, metadata...) decoded when
    they came as text in a form or query string. Undecodable JSON is a problem, as on Slack
    (``invalid_blocks_format`` for blocks, ``invalid_arguments`` otherwise)."""
    args: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in raw.items():
        if name in JSON_VALUED and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                error = "invalid_blocks_format" if name == "blocks" else "invalid_arguments"
                problems.append(Problem(error, _pointer_message("is not valid JSON", f"/{name}")))
        args[name] = value
    return args, problems


def messages_of(problems: Iterable[Problem]) -> list[str]:
    return [problem.message for problem in problems]
