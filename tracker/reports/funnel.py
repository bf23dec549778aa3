"""`funnel?steps=[...]&window=S`: how many visitors go through the steps in order, within S
seconds of their first step?

How the query works. Each step is a condition on the deduplicated, range-limited (and, by
default, trusted) events: `type`, optionally `path` (exact, or a prefix with a trailing `*`),
`promo` (promo id) and `name` (custom event name), all bound parameters. Every event gets a
bit mask of the steps it matches; events matching none are dropped early. Per visitor the
matching events are packed into UInt64 keys (epoch ms << 14 | lowest matching step << 10 |
mask), sorted, and walked with ClickHouse `windowFunnel` semantics (default mode): a step-1
event starts a chain; an event matching step k extends the latest chain that reached step k-1
if it comes at most `window` seconds (to the millisecond, inclusive) after that chain's step-1
event. Unlike raw `windowFunnel`, one event fills at most one step of a chain (each level is
updated from the state before the event), so a funnel with a repeated step (two product pages)
needs two events, and events at the same millisecond still chain in step order. The walk is
vectorised level by level (`walk_layers`: forward-filled arrays per level, no per-event
lambda loop; measured 5x faster than `arrayFold`) and keeps each chain's step times, so the
level (steps reached) and the seconds between consecutive steps come from the same walk; a
test checks the levels against `windowFunnel` itself.
ClickHouse then counts visitors per level and takes the exact median gap per step
(`quantileExactInclusive`, the mean of the two middle values for an even count). Conversion
rates are the pure `shape`. On a cluster each shard walks its own visitors (`shard_local`)
and the initiator counts and takes the medians over their rows. With `breakdown`, the same query groups by an allow-listed
per-visitor dimension WITH ROLLUP, so the overall row (exact medians included) comes from the
same single read.

A `purchase` step counts purchases the way every money figure does (`revenue.events`): once
the site has confirmed orders, only a purchase whose order is confirmed paid (and not
refunded) matches it (`revenue.COUNTED`), in whatever currency; a forged or never confirmed
purchase reaches no purchase step. `revenue_source` in the answer says which way it counted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tracker.errors import BadRequest
from tracker.reports import _sql, revenue
from tracker.reports.figures import ratio
from tracker.reports.params import param
from tracker.reports.runner import Context
from tracker.storage.shards import shard_local
from tracker.vocabulary import EVENT_TYPES

MIN_STEPS = 2
MAX_STEPS = 10
DEFAULT_WINDOW = 86_400
MAX_WINDOW = 90 * 86_400
MAX_TEXT = 200
MAX_PATH = 2048
MAX_STEPS_PARAM = 16 * 1024
STEP_KEYS = ("type", "path", "promo", "name")
NONE = "(none)"

# Allow-listed breakdown dimensions: name -> per-visitor ClickHouse expression over the
# visitor's events in range (the only SQL that is not a bound value, and it never comes from
# the request). Country is not listed: tracker keeps no geo data for IP prefixes.
BREAKDOWNS = {
    "utm_source": "argMinIf(utm_source, ts, utm_source != '')",
    "device": "argMin(ua_device, ts)",
    "browser": "argMin(ua_browser, ts)",
    "promo_exposure": (
        "multiIf(countIf(type = 'promo_view' AND promo_variant != 'holdout' AND ({promo:String} = '' OR promo_id = {promo:String})) > 0,"
        " 'exposed',"
        " countIf(type = 'promo_view' AND promo_variant = 'holdout' AND ({promo:String} = '' OR promo_id = {promo:String})) > 0,"
        " 'holdout', 'not_seen')"
    ),
}


@dataclass(frozen=True)
class Step:
    type: str
    path: str = ""  # exact path, or a prefix when it ends with '*'
    promo: str = ""
    name: str = ""

    @property
    def label(self) -> str:
        parts = [self.type] + [p for p in (self.path, self.promo and f"promo={self.promo}", self.name and f"name={self.name}") if p]
        return " ".join(parts)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string")
    if len(value) > MAX_TEXT or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadRequest(f"{what} must be at most {MAX_TEXT} printable characters")
    return value


def parse_step(raw: object, number: int) -> Step:
    where = f"step {number}"
    if not isinstance(raw, dict):
        raise BadRequest(f'{where} must be an object like {{"type": "pageview", "path": "/cart"}}')
    unknown = sorted(set(raw) - set(STEP_KEYS))
    if unknown:
        raise BadRequest(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(STEP_KEYS)})")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise BadRequest(f"{where}: type must be one of {', '.join(sorted(EVENT_TYPES))}")
    path = raw.get("path", "")
    if not isinstance(path, str) or len(path) > MAX_PATH or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise BadRequest(f"{where}: path must be a string of at most {MAX_PATH} printable characters")
    if path:
        path = path.split("#", 1)[0].split("?", 1)[0]  # paths never carry the query string
        if not path.startswith("/"):
            raise BadRequest(f"{where}: path must start with '/' (use a trailing * for a prefix, e.g. /p/*)")
        if "*" in path[:-1]:
            raise BadRequest(f"{where}: '*' is only allowed at the end of path (a prefix match)")
    promo, name = _text(raw.get("promo", ""), f"{where}: promo"), _text(raw.get("name", ""), f"{where}: name")
    return Step(type=kind, path=path, promo=promo, name=name)


def parse_steps(raw: str | None) -> tuple[Step, ...]:
    if not raw:
        raise BadRequest('steps is required: a JSON list like [{"type": "pageview", "path": "/cart"}, {"type": "purchase"}]')
    if len(raw) > MAX_STEPS_PARAM:
        raise BadRequest(f"steps must be at most {MAX_STEPS_PARAM} characters")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"steps is not valid JSON: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    except RecursionError:
        raise BadRequest("steps is not valid JSON: nested too deeply") from None
    if not isinstance(value, list):
        raise BadRequest("steps must be a JSON list of step objects")
    if not MIN_STEPS <= len(value) <= MAX_STEPS:
        raise BadRequest(f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps, got {len(value)}")
    return tuple(parse_step(step, i) for i, step in enumerate(value, start=1))


@dataclass(frozen=True)
class Params:
    steps: tuple[Step, ...] = param(
        'the steps, a JSON list of 2-10 objects matching events: {"type": ..., "path": "/exact" or "/prefix*", "promo": id, "name": ...}',
        parse=parse_steps)
    window: int = param("seconds from a visitor's step 1 within which the other steps count", DEFAULT_WINDOW, lo=1, hi=MAX_WINDOW)
    breakdown: str = param("split the funnel by a per-visitor dimension", "", choices=BREAKDOWNS)
    promo: str = param("which promotion `breakdown=promo_exposure` looks at (default: any)", "",
                       parse=lambda raw: _text(raw or "", "promo"))


def step_condition(step: Step, i: int, confirmed: bool = False) -> str:
    """SQL condition for step i (bound parameters only); `confirmed`: a purchase step matches
    only the purchases that count (`revenue.COUNTED`, over `revenue.events`)."""
    parts = [f"type = {{s{i}_type:String}}"]
    if confirmed and step.type == "purchase":
        parts.append(revenue.COUNTED)
    if step.path.endswith("*"):
        parts.append(f"startsWith(path, {{s{i}_path:String}})")
    elif step.path:
        parts.append(f"path = {{s{i}_path:String}}")
    if step.promo:
        parts.append(f"promo_id = {{s{i}_promo:String}}")
    if step.name:
        parts.append(f"name = {{s{i}_name:String}}")
    return " AND ".join(parts)


def step_bind(steps: Sequence[Step]) -> dict:
    bind: dict = {}
    for i, step in enumerate(steps, start=1):
        bind[f"s{i}_type"] = step.type
        bind[f"s{i}_path"] = step.path[:-1] if step.path.endswith("*") else step.path
        bind[f"s{i}_promo"] = step.promo
        bind[f"s{i}_name"] = step.name
    return bind


def _fill(values: str, flags: str) -> str:
    """values where flags, carried forward to the following elements (0 before the first)."""
    return f"arrayFill((v, f) -> f, arrayMap((v, f) -> if(f, v, 0), {values}, {flags}), {flags})"


def _before(array: str) -> str:
    """The array shifted one to the right: element i is the value after event i-1."""
    return f"arrayResize(arrayPushFront({array}, 0), length({array}))"


def walk_layers(n: int) -> list[list[str]]:
    """Per-visitor columns that replay windowFunnel's walk over the sorted keys `ks`, one
    level per layer (a nested SELECT each, so ClickHouse never inlines earlier levels'
    expressions into later ones), with vectorised array functions instead of a per-event loop.

    `T{k}_{j}`: after each event, the step-j time of the chain held at level k (the latest
    chain to reach level k; epoch ms, 0 = none). Event i reaches level k (`r{k}`) when it
    matches step k and the chain held at level k-1 BEFORE event i started at most `window`
    before it; reading the previous level's state from before the event is what keeps one
    event from filling two steps of a chain. Level n keeps its first chain (windowFunnel stops
    there). The last layer yields `level` and `chain` (the step times of the kept chain)."""
    layers = [[
        "arrayMap(x -> toInt64(intDiv(x, 16384)), ks) AS t",
        *(f"arrayMap(x -> toUInt8(bitTest(x % 1024, {k - 1})), ks) AS b{k}" for k in range(1, n + 1)),
        "b1 AS r1",
        f"{_fill('t', 'r1')} AS T1_1",
    ]]
    for k in range(2, n + 1):
        layer = [f"{_before(f'T{k - 1}_{j}')} AS B{k - 1}_{j}" for j in range(1, k)]
        layer.append(f"arrayMap((f, s, x) -> toUInt8(f AND s > 0 AND x <= s + {{window_ms:Int64}}), b{k}, B{k - 1}_1, t) AS r{k}")
        if k < n:
            layer += [f"{_fill(f'B{k - 1}_{j}', f'r{k}')} AS T{k}_{j}" for j in range(1, k)]
            layer.append(f"{_fill('t', f'r{k}')} AS T{k}_{k}")
        layers.append(layer)
    levels = [f"done > 0, {n}"] + [f"arrayExists(x -> x = 1, r{k}), {k}" for k in range(n - 1, 0, -1)]
    chains = [f"level = {n}, [{', '.join([f'B{n - 1}_{j}[done]' for j in range(1, n)] + ['t[done]'])}]"]
    chains += [f"level = {k}, [{', '.join(f'T{k}_{j}[-1]' for j in range(1, k + 1))}]" for k in range(n - 1, 0, -1)]
    layers.append([
        f"arrayFirstIndex(x -> x = 1, r{n}) AS done",
        f"multiIf({', '.join(levels)}, 0) AS level",
        f"multiIf({', '.join(chains)}, CAST([], 'Array(Int64)')) AS chain",
    ])
    return layers


def counts_orders(steps: Sequence[Step]) -> bool:
    return any(step.type == "purchase" for step in steps)


def funnel_sql(steps: Sequence[Step], trusted_only: bool, breakdown: str = "", filters=(),
               counting: revenue.Money | None = None) -> str:
    """`counting`: the site's way of counting money (`revenue.money_of`); confirmed, the
    events' purchases go through `revenue.events` (every currency kept) and a purchase step
    matches only the counted ones."""
    n = len(steps)
    confirmed = bool(counting and counting.confirmed and counts_orders(steps))
    base = _sql.events(trusted_only, filters)
    if not breakdown:
        # Only events that can be a step count (`WHERE mask > 0`): read no others, and put only
        # those through the money rules (a breakdown's dimension reads every event).
        base += "\n      AND type IN (" + ", ".join(f"{{s{i}_type:String}}" for i in range(1, n + 1)) + ")"
    if confirmed:
        base = revenue.events(base, counting, every_currency=True)
    mask = " + ".join(f"bitShiftLeft(toUInt16({step_condition(s, i, confirmed)}), {i - 1})" for i, s in enumerate(steps, start=1))
    dim = BREAKDOWNS[breakdown] if breakdown else "''"
    collect = "groupArrayIf(key, mask > 0)" if breakdown else "groupArray(key)"
    where = "" if breakdown else "WHERE mask > 0"
    per_step = ",\n           ".join(
        [f"countIf(level >= {j}) AS v{j}" for j in range(1, n + 1)]
        + [f"quantileExactInclusiveIf(0.5)((chain[{j}] - chain[{j - 1}]) / 1000, level >= {j}) AS m{j}" for j in range(2, n + 1)]
    )
    visitors = f"""
        SELECT {dim} AS dim, arraySort({collect}) AS ks
        FROM (
            SELECT *, {mask} AS mask,
                   bitShiftLeft(toUInt64(toUnixTimestamp64Milli(ts)), 14)
                     + bitShiftLeft(toUInt64(bitCount(bitXor(mask, mask - 1)) - 1), 10) + mask AS key
            FROM ({base})
        )
        {where}
        GROUP BY {_sql.VISITOR}
        HAVING length(ks) > 0"""
    walked = visitors
    for layer in walk_layers(n):
        walked = f"SELECT *, {', '.join(layer)} FROM ({walked})"
    return f"""
    SELECT dim, {"grouping(dim)" if breakdown else "1"} AS is_total,
           {per_step}
    FROM ({shard_local(walked)})
    GROUP BY {"ROLLUP(dim)" if breakdown else "dim"}
    ORDER BY is_total DESC, v1 DESC, dim"""


def run(ctx: Context, params: Params) -> dict:
    counting = revenue.money_of(ctx.storage, ctx.bind())
    bind = ctx.bind(**step_bind(params.steps), window_ms=params.window * 1000, promo=params.promo, **revenue.bind(counting))
    sql = funnel_sql(params.steps, ctx.scope.trusted_only, params.breakdown, ctx.scope.filters, counting)
    rows = ctx.storage.dicts(sql, bind, what="funnel report")
    total = next((r for r in rows if r["is_total"]), {})
    result = {"window": params.window, "revenue_source": counting.source, "steps": shape(params.steps, total)}
    if params.breakdown:
        result["breakdown"] = {
            "dimension": params.breakdown,
            "rows": [{"value": r["dim"] or NONE, "steps": shape(params.steps, r)} for r in rows if not r["is_total"] and r.get("v1")],
        }
    return result


def shape(steps: Sequence[Step], row: Mapping[str, object]) -> list[dict]:
    """Per step: visitors, conversion from step 1 and from the previous step (0..1 fractions;
    step 1 converts 1.0 from itself when anyone reached it), median seconds from the previous
    step (None for step 1 and for steps nobody reached). Pure."""
    out = []
    first = int(row.get("v1") or 0)
    previous = first
    for j, step in enumerate(steps, start=1):
        visitors = int(row.get(f"v{j}") or 0)
        median = row.get(f"m{j}") if j > 1 else None
        out.append({
            "step": j,
            "label": step.label,
            "visitors": visitors,
            "conversion_from_start": ratio(visitors, first) or 0.0,  # nobody at the start: 0, not null
            "conversion_from_previous": ratio(visitors, previous) or 0.0,
            "median_seconds_from_previous": _seconds(median) if visitors else None,
        })
        previous = visitors
    return out


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if number != number else number  # NaN: no values
