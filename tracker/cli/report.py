"""tracker report NAME --site S [--from D] [--to D] [--traffic all] [--json] [--KEY VALUE ...]

Generic over every report in `tracker.reports.routes.REPORTS`: any `--key value` after the
name becomes the query parameter `key` (dashes become underscores), so a new report needs no
CLI change. Prints a readable table by default, the API's JSON with `--json`.
"""

from __future__ import annotations

import argparse
import math
import sys

import orjson

from tracker.cli import CliError, settings_from
from tracker.cli._api import connect
from tracker.reports.routes import REPORTS


def _options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tracker report NAME", add_help=False)
    p.add_argument("--site", required=True)
    p.add_argument("--from", dest="from_", help="first day, ISO date (default: 30 days ago)")
    p.add_argument("--to", help="last day, ISO date, inclusive (default: today)")
    p.add_argument("--traffic", choices=("trusted", "all"), help="trusted (default) or all")
    p.add_argument("--filter", action="append", help="DIM:VALUE, repeatable: only the matching sessions (e.g. device:mobile)")
    p.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    p.add_argument("--data", dest="data_", help=argparse.SUPPRESS)
    p.add_argument("--dsn", dest="dsn_", help=argparse.SUPPRESS)
    return p


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="print a report (overview, pages, paths, funnel, ...)",
        usage="tracker report NAME --site SITE [--from DATE] [--to DATE] [--traffic {trusted,all}] [--filter DIM:VALUE ...] [--json] [--KEY VALUE ...]",
        description="Print a report as a table (or --json). Any other --key value is passed as the report parameter "
        "`key`, e.g. tracker report funnel --site shop --steps '[{\"type\":\"pageview\"},{\"type\":\"purchase\"}]' --window 3600",
    )
    p.add_argument("name", choices=list(REPORTS), help="report name")
    p.add_argument("options", nargs=argparse.REMAINDER, help="--site SITE [--from D] [--to D] [--traffic all] [--json] [--KEY VALUE ...]")
    p.set_defaults(func=run)


def extra_params(tokens: list[str]) -> dict[str, str]:
    """`--key value` / `--key=value` pairs -> {"key": "value"} (pure)."""
    params: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            raise CliError(f"unexpected argument {token!r}: report parameters are --key value")
        key, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(tokens):
                raise CliError(f"--{key} needs a value")
            i += 1
            value = tokens[i]
        params[key.replace("-", "_")] = value
        i += 1
    return params


def run(args) -> int:
    options, unknown = _options().parse_known_args(args.options or [])
    options.data, options.dsn = args.data, args.dsn
    extra = extra_params(unknown)
    params = {"site": options.site, "from": options.from_, "to": options.to, "traffic": options.traffic, "filter": options.filter, **extra}
    with connect(settings_from(options)) as api:
        body = api.request("GET", f"/api/reports/{args.name}", params=params)
    if options.json:
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render(body))
    return 0


# --- readable output (pure) -------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    if isinstance(value, list):
        return " → ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def _is_table(value: object) -> bool:
    """A list of objects: shown as a table of its own."""
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def table(rows: list[dict]) -> str:
    """Aligned columns; numbers right-aligned."""
    if not rows:
        return "  (no rows)\n"
    columns = list(dict.fromkeys(k for row in rows for k in row if not _is_table(row[k])))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row.get(c)) or row.get(c) is None for row in rows) for c in columns]

    def line(values: list[str]) -> str:
        return "  " + "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip() + "\n"
    out = line(columns) + line(["-" * w for w in widths])
    return out + "".join(line(r) for r in cells)


def render(body: dict, title: str = "") -> str:
    """A report body as text: scalars as `key: value`, lists of objects as tables, nested
    objects as their own sections."""
    out = f"{title}\n" if title else ""
    scalars = {k: v for k, v in body.items() if not isinstance(v, (dict, list)) or (isinstance(v, list) and not _is_table(v))}
    if scalars:
        width = max(len(k) for k in scalars)
        out += "".join(f"{k.ljust(width)}  {_cell(v)}\n" for k, v in scalars.items())
    for key, value in body.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            out += f"\n{key}:\n" + table(value)
            for row in value:
                for sub_key, sub in row.items():
                    if isinstance(sub, list) and sub and isinstance(sub[0], dict):
                        label = ", ".join(f"{k}={_cell(v)}" for k, v in row.items() if not isinstance(v, (list, dict)))
                        out += f"\n{key} [{label}] {sub_key}:\n" + table(sub)
        elif isinstance(value, dict):
            out += "\n" + render(value, f"{key}:")
    return out
