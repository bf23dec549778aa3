"""tracker report NAME --site S [--from DATE] [--to DATE] [--traffic all] [--json] [--KEY VALUE ...]

Generic over every report in `tracker.reports.routes.REPORTS`: each report is a subcommand
whose options are the scope's parameters (`params.SCOPE`) and its own `Params` declarations
(`params.describe`), so a new report needs no CLI change, `--help` lists what it takes and an
unknown option is an error, not silently dropped. Prints a readable table by default, the
API's JSON with `--json`.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect
from tracker.cli._table import cell, print_table, render_table
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
        show(body)
    return 0


# --- readable output -------------------------------------------------------------------------
# A body is shown as sections: its scalars as a key/value table, each list of objects as a
# table of its own (nested lists of objects under their row's label), nested objects as their
# own sections. `render` gives the plain text (pipes, files), `show` prints them in the one
# table style of the CLI (tracker.cli._table).


def _is_table(value: object) -> bool:
    """A list of objects: shown as a table of its own."""
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def sections(body: dict, title: str = "") -> list[tuple[str, list[str], list[list], bool]]:
    """(title, columns, rows, with header) of each table of a body."""
    out = []
    scalars = {k: v for k, v in body.items() if not isinstance(v, (dict, list)) or (isinstance(v, list) and not _is_table(v))}
    if scalars:
        out.append((title, ["field", "value"], [[k, v] for k, v in scalars.items()], False))
    for key, value in body.items():
        if _is_table(value):
            columns = list(dict.fromkeys(k for row in value for k in row if not _is_table(row[k])))
            out.append((f"{key}:", columns, [[row.get(c) for c in columns] for row in value], True))
            for row in value:
                for sub_key, sub in row.items():
                    if _is_table(sub):
                        label = ", ".join(f"{k}={cell(v)}" for k, v in row.items() if not isinstance(v, (list, dict)))
                        sub_columns = list(dict.fromkeys(k for r in sub for k in r))
                        out.append((f"{key} [{label}] {sub_key}:", sub_columns, [[r.get(c) for c in sub_columns] for r in sub], True))
        elif isinstance(value, dict):
            out += sections(value, f"{key}:")
    return out


def render(body: dict) -> str:
    """A report body as plain text."""
    parts = []
    for title, columns, rows, header in sections(body):
        parts.append((f"{title}\n" if title else "") + render_table(columns, rows, header=header))
    return "\n".join(parts)


def show(body: dict) -> None:
    """A report body on stdout, in the CLI's table style (plain when stdout is not a terminal)."""
    if not sys.stdout.isatty():
        sys.stdout.write(render(body))
        return
    for i, (title, columns, rows, header) in enumerate(sections(body)):
        print(("\n" if i else "") + title if title else "", end="\n" if title else "")
        print_table(columns, rows, header=header)
