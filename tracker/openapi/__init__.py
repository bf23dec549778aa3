"""The API description (CONTRACT §8): an OpenAPI 3.1 document generated from the route table.

Nothing is listed by hand that the code already knows, so the document cannot drift:
- which operations exist: every `/api/` route of the app (`request.app.routes`, or
  `tracker.routing.all_routes()`), each method of it;
- a report's or trust listing's parameters: the scope (`params.SCOPE`) and its `Params`
  dataclass (`params.describe`), with types, bounds, choices and defaults; the report
  dispatcher `/api/reports/{name}` becomes one path per report of its table;
- who may call it: the gate's prefixes (`tracker.auth.gate.roles_for`) make an operation
  need a bearer token, and add the 401/403 answers;
- the envelope every report answer starts with: `runner.envelope` of a sample scope;
- the error shape: `{"error": message}`, for every status an operation may answer.
The other routes' parameters, bodies and answers are in `operations.OPERATIONS`; a route
without an entry is still documented from its handler's docstring.

`python -m tracker.openapi [--markdown FILE]` prints the document (or writes docs/api.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from starlette.routing import BaseRoute, Route

from tracker.auth.gate import roles_for
from tracker.openapi.operations import OBJECT, OPERATIONS, Operation
from tracker.reports import params as report_params
from tracker.reports.runner import CHOSEN, Report, envelope
from tracker.vocabulary import SITE_PATTERN

VERSION = "0.1.0"
ERROR = {"$ref": "#/components/schemas/Error"}
METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH")
_CONVERTER = re.compile(r"\{(\w+)(:\w+)?\}")
_TYPES = {"int": "integer", "bool": "boolean", "str": "string", "float": "number"}


def api_path(path: str) -> str:
    """`/api/trust/visitors/{vid:path}` -> `/api/trust/visitors/{vid}` (OpenAPI has no converters)."""
    return _CONVERTER.sub(r"{\1}", path)


def operations(routes: Iterable[BaseRoute]) -> list[tuple[str, str, Any]]:
    """(METHOD, OpenAPI path, endpoint) of every `/api/` route: what the document must cover.
    A report dispatcher counts once per report it serves."""
    out = []
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/") or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            reports = getattr(route.endpoint, "reports", None)
            if reports is not None:
                out += [(method, route.path.replace("{name}", name), report) for name, report in reports.items()]
            else:
                out.append((method, api_path(route.path), getattr(route.endpoint, "report", route.endpoint)))
    return out


def _schema(spec: dict) -> dict:
    schema: dict[str, Any] = {"type": _TYPES.get(spec["type"], "string")}
    if "lo" in spec:
        schema["minimum"] = int(spec["lo"]) if schema["type"] == "integer" else spec["lo"]
    if "hi" in spec:
        schema["maximum"] = int(spec["hi"]) if schema["type"] == "integer" else spec["hi"]
    if spec.get("choices"):
        schema["enum"] = list(spec["choices"])
    if spec.get("default") is not None:
        schema["default"] = spec["default"]
    if spec["name"] == "site":
        schema.update(pattern=SITE_PATTERN, example="demo")
    if spec.get("repeatable"):
        return {"type": "array", "items": schema}
    return schema


def _parameter(spec: dict) -> dict:
    where = spec.get("in", "query")
    return {"name": spec["name"], "in": where, "required": where == "path" or bool(spec.get("required")),
            "description": spec.get("help", ""), "schema": _schema(spec),
            **({"style": "form", "explode": True} if spec.get("repeatable") else {})}


def _envelope_schema() -> dict:
    sample = envelope(report_params.Scope(site="s", start=date(2026, 1, 1), end=date(2026, 1, 31)))
    kinds = {str: "string", list: "array", int: "integer", float: "number", bool: "boolean"}
    props = {k: {"type": kinds.get(type(v), "string")} for k, v in sample.items()}
    return {"type": "object", "required": list(sample), "properties": {**props, "trust_as_of": {"type": ["string", "null"]}}}


def _report_operation(report: Report, method: str) -> dict:
    scope = [s for s in report_params.SCOPE if not (s["name"] == "traffic" and report.traffic != CHOSEN)]
    declared = report_params.describe(report.params)
    return {
        "summary": report.summary or report.name,
        "description": ("Always covers `traffic=" + report.traffic + "`. ") * (report.traffic != CHOSEN)
        + "Answers with the envelope (`site`, `from`, `to`, `traffic`, `tz`, ...) and the report's own fields.",
        "parameters": [_parameter(s) for s in (*scope, *declared)],
        "responses": {"200": {"description": "the report", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}}}},
    }


def _declared_operation(op: Operation, path: str) -> dict:
    out: dict[str, Any] = {"summary": op.summary}
    if op.description:
        out["description"] = op.description
    params = [{"in": "query", **p} for p in op.query]
    params += [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
               for name, _ in _CONVERTER.findall(path)]
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {t: {"schema": op.body} for t in op.body_types}}
    out["responses"] = {str(op.status): {"description": "done", "content": {"application/json": {"schema": op.answer}}}}
    return out


def _fallback_operation(endpoint: Any, method: str, path: str) -> dict:
    if method == "OPTIONS":
        return {"summary": "CORS preflight for registered page origins", "responses": {"204": {"description": "no content"}}}
    doc = (getattr(endpoint, "__doc__", None) or "").strip().split("\n", 1)[0]
    out = _declared_operation(Operation(doc or f"{method} {path}", answer=OBJECT), path)
    out["responses"] = {"200": {"description": "done", "content": {"application/json": {"schema": OBJECT}}},
                        "202": {"description": "accepted", "content": {"application/json": {"schema": OBJECT}}}}
    return out


def _operation_id(method: str, path: str) -> str:
    return method.lower() + "_" + re.sub(r"[^a-z0-9]+", "_", path.removeprefix("/api/").lower()).strip("_")


def document(routes: Iterable[BaseRoute] | None = None) -> dict:
    """The OpenAPI 3.1 document of `routes` (default: every route of the service)."""
    if routes is None:
        from tracker.routing import all_routes

        routes = all_routes()
    paths: dict[str, dict] = {}
    for method, path, endpoint in operations(routes):
        if isinstance(endpoint, Report):
            op = _report_operation(endpoint, method)
            tag = "trust" if path.startswith("/api/trust/") else "reports"
        elif (method, path) in OPERATIONS:
            op = _declared_operation(OPERATIONS[method, path], path)
            tag = path.split("/")[2] if path.count("/") > 2 else "ingest"
        else:
            op = _fallback_operation(endpoint, method, path)
            tag = path.split("/")[2] if path.count("/") > 2 else "ingest"
        if method != "OPTIONS":
            op["responses"]["default"] = {"description": "an error: 400 malformed input, 404 no such site or thing, 413 too large, "
                                          "415 wrong content type, 429 rate limited, 503 storage unavailable (with Retry-After), "
                                          "504 query timeout", "content": {"application/json": {"schema": ERROR}}}
        roles = roles_for(path)
        if roles is not None and method != "OPTIONS":
            op["security"] = [{"bearer": []}]
            op["description"] = (op.get("description", "") + f" Roles: {', '.join(sorted(roles))}.").strip()
            for status, text in (("401", "no valid token"), ("403", "a role or site this token may not use")):
                op["responses"][status] = {"description": text, "content": {"application/json": {"schema": ERROR}}}
        op.update(operationId=_operation_id(method, path), tags=[tag])
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "tracker", "version": VERSION,
                 "description": "First-party cookie analytics, promotion tracking and trust signals. Every error is "
                 "`{\"error\": message}`; protected routes take `Authorization: Bearer <token>`."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Report": _envelope_schema(),
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a token from `tracker token create`"}},
        },
    }
