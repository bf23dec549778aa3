"""The one report runner: every `/api/reports/*` and `/api/trust/*` route goes through it.

    authorize -> parse the scope and the report's Params -> resolve the untrusted set -> run -> envelope

A report is a `Report`: its `Params` (a frozen dataclass declared with `params.param`), its
`run(ctx, params) -> dict` giving the report's own fields (SQL beside it, arithmetic on the
rows in a pure `shape`), the roles that may ask for it and how it treats traffic. This module is
the one place that
- authorizes the caller for those roles and the site, and applies the per-token rate limit;
- parses the parameters: the scope first (`params.parse_scope`), then the report's own, in
  declaration order;
- reads the range's newest untrusted set (`trust.live`) when the report reads it, and hands the
  report a `Context` whose `bind()` carries the scope, the trust configuration and the set;
- runs the report off the event loop;
- starts every answer with the same envelope: `site`, `from`, `to`, `traffic`, `tz`, and
  `trust_as_of` when the answer read the untrusted set.

Where later work plugs in: a parameter every report takes (a `filter=`) is part of the scope
(`Scope`, `parse_scope`), and its SQL part of `_sql.events`; a field every trusted answer
carries (`trust_as_of`) is added in `envelope`, which knows whether the set was read; the 404
for a site that is not registered belongs in `_answer`, next to the authorization, once for every
report (it is there: after the scope, so a malformed site id stays a 400, and before the
report's own parameters); an API description is generated from the route tables (`Report`)
and `params.describe` (`tracker.openapi`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tracker.auth.roles import authorize
from tracker.errors import NotFound
from tracker.http import iso_time, json_response, runtime_of
from tracker.reports.params import Scope, parse_params, parse_scope
from tracker.reports.trust.score import TrustConfig, trust_params
from tracker.reports.trust.signals import bind_coverage
from tracker.storage.client import Storage

if TYPE_CHECKING:
    from tracker.runtime import Runtime

CHOSEN = "chosen"  # Report.traffic: the caller's `traffic` parameter decides


@dataclass(frozen=True)
class Context:
    """What a report's `run` gets besides its Params."""

    storage: Storage
    scope: Scope
    trust: TrustConfig
    untrusted_set: int = 0  # the range's untrusted set (trust.live), 0 when the report does not read it

    def bind(self, **extra: Any) -> dict:
        """Bound parameters for the report's SQL: the scope's {site} {start} {end} {tz}, every
        trust threshold and weight, {tt_set}, and the report's own `extra` (unused ones are
        ignored by ClickHouse)."""
        return {**self.scope.bind(), **trust_params(self.trust), "tt_set": self.untrusted_set, **extra}

    def bind_coverage(self, **extra: Any) -> dict:
        """`bind()` plus the range's materialised trust days, for SQL built on the day partials."""
        return bind_coverage(self.storage, self.bind(**extra))


@dataclass(frozen=True)
class Report:
    """One entry of a route table."""

    name: str
    params: type  # the report's Params dataclass
    run: Callable[[Context, Any], dict]
    roles: frozenset[str]
    summary: str = ""  # what the report answers, for people and the API description
    traffic: str = CHOSEN  # CHOSEN, or the traffic the answer always covers ("trusted" | "all")
    untrusted_set: bool | None = None  # reads the range's untrusted set; None: when the traffic is trusted

    @classmethod
    def of(cls, module: ModuleType, roles: frozenset[str], **overrides: Any) -> Report:
        """The report of a module that follows the naming scheme (`Params`, `run`)."""
        fields = {"name": module.__name__.rsplit(".", 1)[-1], "params": module.Params, "run": module.run,
                  "summary": (module.__doc__ or "").strip().split("\n", 1)[0], **overrides}
        return cls(roles=roles, **fields)

    def reads_untrusted_set(self, scope: Scope) -> bool:
        return scope.trusted_only if self.untrusted_set is None else self.untrusted_set


def scope_of(report: Report, query: Mapping[str, str]) -> Scope:
    scope = parse_scope(query)
    return replace(scope, traffic=report.traffic) if report.traffic != CHOSEN else scope


def parse(report: Report, query: Mapping[str, str]) -> tuple[Scope, Any]:
    return scope_of(report, query), parse_params(report.params, query)


def envelope(scope: Scope) -> dict:
    """The fields every answer starts with."""
    return {"site": scope.site, "from": scope.start.isoformat(), "to": scope.end.isoformat(), "traffic": scope.traffic, "tz": scope.tz,
            "filters": [str(f) for f in scope.filters]}


def run(runtime: Runtime, report: Report, scope: Scope, params: Any, *, trust: TrustConfig | None = None) -> dict:
    """The answer of a parsed report (blocking: runs the report's queries). `trust` replaces the
    runtime's configuration (tests of other settings)."""
    config = trust or runtime.trust
    with runtime.storage.tagged(f"tracker report {report.name}"):  # query_log: which report asked (on every shard)
        verdicts = runtime.trust_sets.verdicts(scope.site, scope.start_ts, scope.end_ts, config) if report.reads_untrusted_set(scope) else None
        body = report.run(Context(runtime.storage, scope, config, verdicts.set_id if verdicts else 0), params)
    head = envelope(scope)
    if verdicts is not None:  # the newest evaluation, never one made for this request (trust.live)
        head["trust_as_of"] = iso_time(verdicts.as_of)
    assert not head.keys() & body.keys(), f"{report.name} answers envelope fields itself: {head.keys() & body.keys()}"
    return {**head, **body}


def execute(runtime: Runtime, report: Report, query: Mapping[str, str], *, trust: TrustConfig | None = None) -> dict:
    """Parse and run (no authorization): the CLI-free, HTTP-free path the tests and benchmarks use."""
    scope, params = parse(report, query)
    return run(runtime, report, scope, params, trust=trust)


async def _answer(request: Request, report: Report) -> Response:
    runtime = runtime_of(request)
    query: dict[str, Any] = {**request.query_params, **request.path_params}
    if "filter" in request.query_params:  # repeatable: every value, not the last one
        query["filter"] = request.query_params.getlist("filter")
    principal = authorize(request, report.roles, query.get("site") or None)
    runtime.rate_limiter.check_token(principal.token_id)
    scope = scope_of(report, query)
    if runtime.sites.get(scope.site) is None:  # a page of zeros would look like a site without traffic
        raise NotFound(f"no site {scope.site!r} (register it with `tracker site add {scope.site} --origin URL`)")
    params = parse_params(report.params, query)
    return json_response(await run_in_threadpool(run, runtime, report, scope, params))


def handler(report: Report) -> Callable[[Request], Any]:
    """The Starlette endpoint of one report."""

    async def endpoint(request: Request) -> Response:
        return await _answer(request, report)

    endpoint.__name__ = f"report_{report.name}"
    endpoint.report = report  # type: ignore[attr-defined]  # for the API description (tracker.openapi)
    return endpoint


def dispatcher(reports: Mapping[str, Report], not_found: Callable[[str], Exception]) -> Callable[[Request], Any]:
    """One endpoint for `{name}` routes: the report named by the path."""

    async def endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        report = reports.get(name)
        if report is None:
            raise not_found(name)
        return await _answer(request, report)

    endpoint.reports = reports  # type: ignore[attr-defined]  # one documented path per report (tracker.openapi)
    return endpoint
