"""Report parameters, declared once and parsed at the door with human messages.

Two kinds:
- the **scope** every report shares (`Scope`, parsed by `parse_scope`): `site` (required),
  `from`/`to` (ISO dates, UTC unless `tz`, both inclusive; default the last 30 days),
  `traffic` (`trusted` default, or `all`), `tz` (IANA name for day boundaries), `filter`
  (repeatable `DIM:VALUE`, all must hold: the report covers only the matching sessions);
- a report's **own** parameters: its `Params`, a frozen dataclass whose fields are declared
  with `param(...)` — help text, default, bounds, choices or a parse function. One parser
  (`parse_params`) builds any `Params` from a query, and `describe` lists the declarations, so
  the API description can be generated from the same source (`SCOPE` describes the scope).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from tracker.errors import BadRequest
from tracker.http import int_param
from tracker.vocabulary import check_site_id

TRAFFIC = ("trusted", "all")
MAX_RANGE_DAYS = 800
DEFAULT_RANGE_DAYS = 30
# Session dimensions a report can be narrowed by (`filter=DIM:VALUE`); their SQL is
# `_sql.FILTER_CONDITIONS`. Values of `source` and `utm_medium` are stored lower-cased.
FILTER_DIMS = ("source", "utm_medium", "utm_campaign", "entry", "device", "browser", "os", "page")
LOWERCASE_DIMS = ("source", "utm_medium")
MAX_FILTERS = 10
MAX_FILTER_VALUE = 2048


@dataclass(frozen=True)
class Filter:
    """One `filter=DIM:VALUE`: keep the sessions whose DIM is VALUE (`page`: that viewed VALUE)."""

    dim: str
    value: str

    def __str__(self) -> str:
        return f"{self.dim}:{self.value}"


@dataclass(frozen=True)
class Scope:
    """What every report is about: one site, a range of days, which traffic, which clock."""

    site: str
    start: date  # inclusive
    end: date  # inclusive
    traffic: str = "trusted"
    tz: str = "UTC"
    filters: tuple[Filter, ...] = ()

    @property
    def start_ts(self) -> datetime:
        """First instant of `start` in `tz`, as UTC (bind as DateTime64(3, 'UTC'))."""
        return datetime.combine(self.start, datetime.min.time(), ZoneInfo(self.tz)).astimezone(UTC).replace(tzinfo=None)

    @property
    def end_ts(self) -> datetime:
        """First instant after `end` in `tz` (exclusive bound), as UTC."""
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time(), ZoneInfo(self.tz)).astimezone(UTC).replace(tzinfo=None)

    @property
    def trusted_only(self) -> bool:
        return self.traffic == "trusted"

    def bind(self) -> dict:
        """The bound parameters of the scope: {site}, {start}, {end} (UTC), {tz}, and each
        filter's value as {f0}, {f1}, ... (`_sql.session_filter`)."""
        bound = {"site": self.site, "start": self.start_ts, "end": self.end_ts, "tz": self.tz}
        return {**bound, **{f"f{i}": f.value for i, f in enumerate(self.filters)}}


def parse_filter(raw: str) -> Filter:
    """`DIM:VALUE` -> Filter, with a message naming the dimensions for anything else."""
    dim, sep, value = raw.partition(":")
    if not sep or dim not in FILTER_DIMS:
        raise BadRequest(f"filter must be DIM:VALUE with DIM one of {', '.join(FILTER_DIMS)}, got {raw[:80]!r}")
    if len(value) > MAX_FILTER_VALUE or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadRequest(f"filter {dim}: the value must be at most {MAX_FILTER_VALUE} printable characters")
    if dim in ("page", "entry"):
        value = value.split("#", 1)[0].split("?", 1)[0]  # stored paths never carry a query string
    return Filter(dim, value.lower() if dim in LOWERCASE_DIMS else value)


def parse_filters(raw: str | Sequence[str] | None) -> tuple[Filter, ...]:
    """The `filter` parameter, given once (a string) or repeated (a list); empty values skipped."""
    values = [raw] if isinstance(raw, str) else list(raw or ())
    values = [v for v in values if v]
    if len(values) > MAX_FILTERS:
        raise BadRequest(f"at most {MAX_FILTERS} filters")
    return tuple(parse_filter(v) for v in values)


def _date(raw: str | None, name: str) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(raw[:10]) if len(raw) >= 10 else date.fromisoformat(raw)  # type: ignore[index, arg-type]
    except ValueError:
        raise BadRequest(f"{name} must be an ISO date like 2026-01-31, got {raw!r}") from None


MAX_TZ_CHARS = 64


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_tz(tz: str) -> str:
    """`tz` if it is an IANA zone name this machine knows, else 400. Only names from the
    zone list are accepted: `ZoneInfo` itself raises OSError on 256+ characters and accepts
    file names (`localtime`, `posixrules`) that ClickHouse, which gets the name bound, lacks."""
    if len(tz) > MAX_TZ_CHARS or tz not in _known_zones():
        raise BadRequest(f"tz must be an IANA time zone like Europe/Paris, got {tz[:MAX_TZ_CHARS]!r}")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadRequest(f"tz must be an IANA time zone like Europe/Paris, got {tz!r}") from None
    return tz


def parse_scope(query: Mapping[str, Any], *, today: date | None = None) -> Scope:
    """The scope of a query; `query["filter"]` may be a list (a repeated parameter)."""
    site = query.get("site") or ""
    if not site:
        raise BadRequest("site is required")
    check_site_id(site)
    tz = check_tz(query.get("tz") or "UTC")
    today = today or datetime.now(ZoneInfo(tz)).date()
    end = _date(query.get("to"), "to") or today
    start = _date(query.get("from"), "from") or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise BadRequest("from must not be after to")
    if (end - start).days > MAX_RANGE_DAYS:
        raise BadRequest(f"the range may span at most {MAX_RANGE_DAYS} days")
    traffic = query.get("traffic") or "trusted"
    if traffic not in TRAFFIC:
        raise BadRequest("traffic must be trusted or all")
    return Scope(site=site, start=start, end=end, traffic=traffic, tz=tz, filters=parse_filters(query.get("filter")))


# --- a report's own parameters -----------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """How one query parameter is read: what `param(...)` records on a `Params` field."""

    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    parse: Callable[[str | None], Any] | None = None  # gets the raw value (None when absent); owns the default
    location: str = "query"  # "query" or "path"


def param(help: str, default: Any = dataclasses.MISSING, *, lo: float | None = None, hi: float | None = None,
          choices: tuple[str, ...] | Mapping[str, Any] = (), parse: Callable[[str | None], Any] | None = None,
          location: str = "query") -> Any:
    """A `Params` field: `help` for people (and the API description); absent or empty values
    take `default`; ints are checked against [lo, hi]; strings against `choices`; `parse`
    replaces all of that for parameters with rules of their own."""
    spec = Spec(help, lo, hi, tuple(choices), parse, location)
    return dataclasses.field(default=default, metadata={"param": spec})


def _kind(hint: Any) -> type:
    """int / bool / str of a field's annotation (`X | None` counts as X); anything else must
    declare its own `parse`."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint if hint in (int, bool, str) else object


def _bool(raw: str, name: str) -> bool:
    text = raw.lower()
    if text not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false")
    return text in ("true", "1")


def _value(name: str, kind: type, spec: Spec, raw: str, default: Any) -> Any:
    if kind is int:
        assert spec.lo is not None and spec.hi is not None, f"{name}: a whole-number parameter needs lo and hi"
        return int_param({name: raw}, name, default, int(spec.lo), int(spec.hi))
    if kind is bool:
        return _bool(raw, name)
    assert kind is str, f"{name}: only int, bool and str parameters parse without a parse function"
    if spec.choices and raw not in spec.choices:
        raise BadRequest(f"{name} must be one of {', '.join(spec.choices)}")
    return raw


P = TypeVar("P")


def parse_params(cls: type[P], query: Mapping[str, str]) -> P:
    """An instance of a report's `Params` from the query (path parameters merged in), fields
    parsed in declaration order, so the first invalid one is the one reported."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec: Spec = f.metadata["param"]
        raw = query.get(f.name)
        if spec.parse is not None:
            values[f.name] = spec.parse(raw)
        elif raw in (None, ""):
            if f.default is dataclasses.MISSING:
                raise BadRequest(f"{f.name} is required")
            values[f.name] = f.default
        else:
            values[f.name] = _value(f.name, _kind(hints[f.name]), spec, raw, f.default)  # type: ignore[arg-type]
    return cls(**values)


def describe(cls: type) -> list[dict[str, Any]]:
    """The declared parameters of a `Params` class, for documentation and the API description."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec: Spec = f.metadata["param"]
        kind = "str" if spec.parse is not None else _kind(hints[f.name]).__name__  # a parse function reads the raw string
        entry: dict[str, Any] = {"name": f.name, "in": spec.location, "help": spec.help, "type": kind}
        if f.default is not dataclasses.MISSING and spec.parse is None:
            entry["default"] = f.default
        elif f.default is dataclasses.MISSING and spec.parse is None:
            entry["required"] = True
        for key in ("lo", "hi"):
            if getattr(spec, key) is not None:
                entry[key] = getattr(spec, key)
        if spec.choices:
            entry["choices"] = list(spec.choices)
        out.append(entry)
    return out


# The scope's parameters, described like a report's own (parse_scope reads them).
SCOPE = (
    {"name": "site", "in": "query", "type": "str", "required": True, "help": "site id"},
    {"name": "from", "in": "query", "type": "str", "help": f"first day, ISO date (default: {DEFAULT_RANGE_DAYS} days before `to`)"},
    {"name": "to", "in": "query", "type": "str", "help": "last day, ISO date, inclusive (default: today in `tz`)"},
    {"name": "traffic", "in": "query", "type": "str", "default": "trusted", "choices": list(TRAFFIC),
     "help": "trusted: visitors judged automated or fraudulent are left out; all: everyone"},
    {"name": "tz", "in": "query", "type": "str", "default": "UTC", "help": "IANA time zone of the day boundaries"},
    {"name": "filter", "in": "query", "type": "str", "repeatable": True,
     "help": f"DIM:VALUE, repeatable, all must hold: only the sessions that match (DIM: {', '.join(FILTER_DIMS)})"},
)


@dataclass(frozen=True)
class NoParams:
    """The `Params` of a report that asks nothing beyond the scope."""


@dataclass(frozen=True)
class Listing:
    """The `Params` of a ranked listing: how many rows."""

    limit: int = param("most rows to return", 100, lo=1, hi=10_000)
