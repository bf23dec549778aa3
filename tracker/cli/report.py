"""tracker report NAME --site S [--from DATE] [--to DATE] [--traffic all] [--json] [--KEY VALUE ...]

Generic over every report in `tracker.reports.routes.REPORTS`: each report is a subcommand
whose options are the scope's parameters (`params.SCOPE`) and its own `Params` declarations
(`params.describe`), so a new report needs no CLI change, `--help` lists what it takes and an
unknown option is an error, not silently dropped. Prints a readable table by default, the
API's JSON with `--json`.
"""

from __future__ import annotations

import argparse
import math
import sys

import orjson

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect
from tracker.reports.params import SCOPE, describe
from tracker.reports.routes import REPORTS


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="print a report (overview, pages, paths, funnel, ...)",
        description="Print a report as a table (or --json). Each report's options come from its declared parameters: "
        "`tracker report NAME --help` lists them, e.g. tracker report funnel --site shop "
        "--steps '[{\"type\":\"pageview\"},{\"type\":\"purchase\"}]' --window 3600",
    )
    reports = p.add_subparsers(dest="name", metavar="NAME", title="reports")
    reports.required = True
    for name, report in REPORTS.items():
        cmd = reports.add_parser(name, help=report.summary, description=report.summary)
        for spec in (*SCOPE, *describe(report.params)):
            _add_option(cmd, spec)
        cmd.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
        add_data_args(cmd)
        cmd.set_defaults(func=run, params=[s["name"] for s in (*SCOPE, *describe(report.params))])


def _add_option(cmd: argparse.ArgumentParser, spec: dict) -> None:
    """One `--name` option of a declared parameter (the value goes to the API as it is: the
    server parses and checks it, with the same messages for the CLI and HTTP callers)."""
    name = spec["name"]
    flags = [f"--{name.replace('_', '-')}"] + ([f"--{name}"] if "_" in name else [])
    extra: dict = {"dest": f"param_{name}", "help": _help(spec)}
    if spec.get("choices"):
        extra["choices"] = spec["choices"]
    elif spec["type"] == "bool":
        extra["choices"] = ("true", "false")
    else:
        extra["metavar"] = METAVARS.get(name) or {"int": "N"}.get(spec["type"], "VALUE")
    if spec.get("repeatable"):
        extra["action"] = "append"
    cmd.add_argument(*flags, required=bool(spec.get("required")), **extra)


METAVARS = {"from": "DATE", "to": "DATE", "site": "SITE", "tz": "ZONE", "filter": "DIM:VALUE", "steps": "JSON", "start": "PATH"}


def _help(spec: dict) -> str:
    text = spec.get("help", "")
    if "default" in spec and str(spec["default"]) not in text:
        text += f" (default {spec['default']})"
    if "lo" in spec and "hi" in spec:
        text += f" [{_number(spec['lo'])}..{_number(spec['hi'])}]"
    return text.replace("%", "%%")


def _number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,}"


def query_of(args: argparse.Namespace) -> dict:
    """The API query of a parsed `tracker report NAME ...` (options not given are left out)."""
    return {name: getattr(args, f"param_{name}") for name in args.params if getattr(args, f"param_{name}") is not None}


def run(args) -> int:
    with connect(settings_from(args)) as api:
        body = api.request("GET", f"/api/reports/{args.name}", params=query_of(args))
    if args.json:
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
