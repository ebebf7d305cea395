"""Which timezone names a person may choose, read case-insensitively, with suggestions.

Why a list of our own: ``zoneinfo.available_timezones()`` is every file under the zone folder,
which includes names that depend on the host (``localtime``, ``posixrules``), placeholders
(``Factory``), legacy aliases (``US/Eastern``, ``Asia/Calcutta``, ``CET``) and the fixed
``Etc/GMT+5`` zones whose sign is the opposite of what people expect (it is UTC−05:00). Storing
any of those makes a person's times depend on the server or read backwards.

The choice (documented for organizers and the lead):

- **Canonical** means a zone listed in the tz database's ``zone.tab`` / ``zone1970.tab`` (one
  real place each: ``Europe/Berlin``, ``Europe/Oslo``, ``Asia/Kolkata``, ``Europe/Kyiv``), read
  from the same data ``zoneinfo`` loads (the system's zone folder, else the ``tzdata`` package),
  and loadable by ``zoneinfo``. Plus ``UTC``.
- The universal-time aliases ``Etc/UTC``, ``Etc/UCT``, ``UCT``, ``Universal``, ``Zulu`` (and
  their ``Etc/`` forms) are accepted and stored as ``UTC``: they are the same clock forever.
- ``GMT`` and its variants are refused with "UTC or Europe/London?": a person writing "GMT"
  often means the UK's clock, which is not GMT in summer.
- Legacy links (``US/Eastern``, ``Asia/Calcutta``, ``Europe/Kiev``) are refused, and the
  refusal suggests the zone they link to (read from the database's ``tzdata.zi``).
- Where no ``zone.tab`` is found, canonical falls back to the loadable names under the
  geographic regions (``Europe/``, ``America/`` ...), which still excludes host-dependent
  names, placeholders, ``Etc/`` and the country aliases (``US/``, ``Canada/``...).

Everything is computed once per process (``functools.cache`` of immutable values): the issue
measured ``available_timezones()`` at ~10 ms, and it used to run on every command.
"""

from __future__ import annotations

import functools
import logging
import re
import zoneinfo
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.errors import UserError

log = logging.getLogger(__name__)

UTC_NAME = "UTC"
EXAMPLE_ZONES = "Europe/Berlin, America/New_York or Asia/Kolkata"
MAX_ZONE_TEXT = 60

_REGIONS = frozenset({
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
    "Indian", "Pacific",
})
_UTC_ALIASES = frozenset({
    "utc", "etc/utc", "uct", "etc/uct", "universal", "etc/universal", "zulu", "etc/zulu",
})
_GMT_ALIASES = frozenset({
    "gmt", "etc/gmt", "gmt0", "gmt+0", "gmt-0", "etc/gmt0", "etc/gmt+0", "etc/gmt-0",
    "greenwich", "etc/greenwich",
})
_HOST_DEPENDENT = frozenset({"localtime", "posixrules", "factory"})
_HOST_PREFIXES = ("posix/", "right/", "systemv/")
_ETC_OFFSET = re.compile(r"^(?:etc/)?gmt([+-])(\d{1,2})$", re.IGNORECASE)
# Abbreviations people type for a zone; suggestions only (an abbreviation names many places).
_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "pst": ("America/Los_Angeles",), "pdt": ("America/Los_Angeles",),
    "pt": ("America/Los_Angeles",),
    "mst": ("America/Denver", "America/Phoenix"), "mdt": ("America/Denver",),
    "cst": ("America/Chicago", "Asia/Shanghai"), "cdt": ("America/Chicago",),
    "est": ("America/New_York",), "edt": ("America/New_York",), "et": ("America/New_York",),
    "cet": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome"),
    "cest": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome"),
    "bst": ("Europe/London",), "wet": ("Europe/Lisbon",), "eet": ("Europe/Athens",),
    "ist": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "jst": ("Asia/Tokyo",), "kst": ("Asia/Seoul",), "hkt": ("Asia/Hong_Kong",),
    "aest": ("Australia/Sydney", "Australia/Brisbane"), "aedt": ("Australia/Sydney",),
    "nzst": ("Pacific/Auckland",), "nzdt": ("Pacific/Auckland",),
    "brt": ("America/Sao_Paulo",), "msk": ("Europe/Moscow",),
}
_SUGGEST_CUTOFF = 75.0
_SUGGEST_MARGIN = 5.0


def _zone_folders() -> Iterator[Path]:
    """The folders ``zoneinfo`` reads zones from, in its own order, then the tzdata package."""
    for folder in zoneinfo.TZPATH:
        yield Path(folder)
    try:
        yield Path(str(resources.files("tzdata").joinpath("zoneinfo")))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - no tzdata package
        return


def _first_data_folder() -> Path | None:
    for folder in _zone_folders():
        if (folder / "zone.tab").is_file() or (folder / "zone1970.tab").is_file():
            return folder
    return None


def _tab_zones(folder: Path) -> set[str]:
    names: set[str] = set()
    for file_name in ("zone.tab", "zone1970.tab"):
        path = folder / file_name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            columns = line.split("\t")
            if line.startswith("#") or len(columns) < 3:
                continue
            names.add(columns[2].strip())
    return names


@functools.cache
def zone_info(name: str) -> zoneinfo.ZoneInfo:
    """The zone called ``name``, kept for the life of the process.

    ``ZoneInfo`` keeps only the last few zones it made alive; a search that meets mentors in a
    dozen zones read their files from disk again each time (a ``stat`` and a parse, on the
    event loop). An invalid name raises as ``ZoneInfo`` does and is not kept.
    """
    return zoneinfo.ZoneInfo(name)


@functools.cache
def _loadable() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def all_zones() -> tuple[str, ...]:
    """Every zone a person may choose, sorted, ``UTC`` first (for autocomplete and checks)."""
    loadable = _loadable()
    folder = _first_data_folder()
    listed = _tab_zones(folder) & loadable if folder is not None else set()
    if not listed:
        log.warning("No zone.tab found; falling back to the geographic zone names")
        listed = {
            name for name in loadable
            if "/" in name and name.split("/", 1)[0] in _REGIONS
        }
    return (UTC_NAME, *sorted(listed - {UTC_NAME}))


@functools.cache
def _canonical_set() -> frozenset[str]:
    return frozenset(all_zones())


@functools.cache
def _by_lower() -> dict[str, str]:
    return {name.lower(): name for name in all_zones()}


@functools.cache
def _links() -> dict[str, str]:
    """Legacy name (lower case) → the zone it links to, from the database's ``tzdata.zi``."""
    folder = _first_data_folder()
    links: dict[str, str] = {}
    if folder is None or not (folder / "tzdata.zi").is_file():
        return links
    for line in (folder / "tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("L "):
            parts = line.split()
            if len(parts) == 3:
                links[parts[2].lower()] = parts[1]
    return links


@functools.cache
def _search_keys() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Lower-case full names and "city" parts ("new york"), aligned with ``all_zones()``."""
    zones = all_zones()
    full = tuple(name.lower() for name in zones)
    cities = tuple(_words(name.rsplit("/", 1)[-1]) for name in zones)
    return full, cities


def _words(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def is_canonical(name: str) -> bool:
    """Whether ``name`` is exactly (case included) a zone we store, e.g. ``Europe/Berlin``."""
    return name in _canonical_set()


def canonical_zone(text: str) -> str:
    """The zone's canonical spelling for what a person typed ("europe/berlin" → "Europe/Berlin").

    Raises UserError for anything that is not a canonical zone, with close matches as the hint.
    """
    name = " ".join(text.split())
    if not name:
        raise UserError("Which timezone?", f"Use an IANA name such as {EXAMPLE_ZONES}.")
    shown = name[:MAX_ZONE_TEXT]
    lowered = name.lower()
    if lowered in _UTC_ALIASES:
        return UTC_NAME
    found = _by_lower().get(lowered) or _by_lower().get(lowered.replace(" ", "_"))
    if found is not None:
        return found
    if lowered in _GMT_ALIASES:
        raise UserError(
            f"“{shown}” could mean UTC or the UK's clock.",
            "Did you mean UTC or Europe/London?",
        )
    if lowered in _HOST_DEPENDENT or lowered.startswith(_HOST_PREFIXES):
        raise UserError(
            f"“{shown}” depends on the server's own settings, so it is not a timezone I use.",
            f"Use an IANA name such as {EXAMPLE_ZONES}.",
        )
    offset = _ETC_OFFSET.match(name)
    if offset:
        real = "-" if offset.group(1) == "+" else "+"
        raise UserError(
            f"“{shown}” means UTC{real}{int(offset.group(2)):02d}:00 (its sign is reversed), "
            "so I don't use it.",
            f"Use the zone of a place, such as {EXAMPLE_ZONES}.",
        )
    raise UserError(f"I don't know the timezone “{shown}”.", _suggestion_hint(name))


def platform_zone(name: str | None) -> str | None:
    """The canonical zone for a name a *platform* reported (Slack's ``users.info`` ``tz``).

    Lenient where :func:`canonical_zone` refuses: a legacy link (``America/Indianapolis``) is
    the zone it links to, since the person never typed it. None when it names no real place.
    """
    if not name:
        return None
    try:
        return canonical_zone(name)
    except UserError:
        target = _links().get(name.strip().lower())
        return target if target is not None and is_canonical(target) else None


def _suggestion_hint(text: str) -> str:
    close = zone_suggestions(text, limit=3)
    if not close:
        return f"Use an IANA name such as {EXAMPLE_ZONES}."
    if len(close) == 1:
        return f"Did you mean {close[0]}?"
    return f"Did you mean {', '.join(close[:-1])} or {close[-1]}?"


def zone_suggestions(text: str, limit: int = 5) -> list[str]:
    """Canonical zones close to ``text``: the zone a legacy name links to, then by spelling.

    ``berlin`` → Europe/Berlin, ``new york`` → America/New_York, ``Kolkatta`` → Asia/Kolkata,
    ``US/Eastern`` → America/New_York.
    """
    lowered = " ".join(text.split()).lower()[:MAX_ZONE_TEXT]
    if not lowered or limit <= 0:
        return []
    out: list[str] = []

    def add(name: str) -> None:
        if name in _canonical_set() and name not in out:
            out.append(name)

    target = _links().get(lowered) or _links().get(lowered.replace(" ", "_"))
    if target is not None:  # a legacy name: the zone it links to is the answer
        add(UTC_NAME if target.lower() in _UTC_ALIASES else target)
        if out:
            return out[:limit]
    for name in _ABBREVIATIONS.get(lowered, ()):
        add(name)
    zones = all_zones()
    full, cities = _search_keys()
    query_city = _words(lowered.rsplit("/", 1)[-1])
    scored: dict[int, float] = {}
    for choices, query in ((cities, query_city), (full, lowered)):
        for _, score, index in process.extract(
            query, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=_SUGGEST_CUTOFF
        ):
            scored[index] = max(score, scored.get(index, 0.0))
    best = max(scored.values(), default=0.0)
    for index, score in sorted(scored.items(), key=lambda item: (-item[1], zones[item[0]])):
        if score >= best - _SUGGEST_MARGIN:  # "berln": Berlin, not Dublin as well
            add(zones[index])
    return out[:limit]


def zone_choices(prefix: str, limit: int = 25) -> list[str]:
    """Zones for an autocomplete box: full-name prefix, then city prefix, then substring."""
    query = prefix.strip().lower()
    zones = all_zones()
    if not query:
        return list(zones[:limit])
    full, cities = _search_keys()
    city_query = _words(query)
    first: list[str] = []
    second: list[str] = []
    third: list[str] = []
    for name, low, city in zip(zones, full, cities, strict=True):
        if low.startswith(query):
            first.append(name)
        elif city.startswith(city_query):
            second.append(name)
        elif query in low or city_query in city:
            third.append(name)
    return (first + second + third)[:limit]
