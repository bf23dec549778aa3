"""The one table style of the command line (rich): every listing prints through `print_table`.

Columns are named by the API's JSON fields (what `--json` shows). On a terminal: a rich table, a bold header over a rule, numbers right-aligned. Anywhere
else (a pipe, a file, a test): the same columns as plain aligned text without colour or
box characters, never wrapped or cut, so `grep`/`awk` see one row a line.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table

PLAIN_WIDTH = 100_000  # plain output is never wrapped to a terminal's width


def cell(value: Any) -> str:
    """A JSON value as a table shows it."""
    if value is None or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    if isinstance(value, list):
        return ", ".join(cell(v) if not isinstance(v, dict) else ":".join(cell(x) for x in v.values()) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items())
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, styled: bool, header: bool) -> Table:
    numeric = [all(is_number(r[i]) or r[i] is None for r in rows) and bool(rows) for i in range(len(columns))]
    table = Table(box=box.SIMPLE_HEAD if styled else None, show_header=header, show_edge=False, pad_edge=False,
                  header_style="bold" if styled else "", highlight=False)
    for name, num in zip(columns, numeric):
        table.add_column(name, justify="right" if num else "left", no_wrap=not styled, overflow="fold")
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    return table


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, header: bool = True) -> str:
    """The plain text of a table (what a pipe gets), lines without trailing spaces."""
    out = io.StringIO()
    console = Console(file=out, width=PLAIN_WIDTH, no_color=True, force_terminal=False, highlight=False, emoji=False)
    console.print(_table(columns, rows, styled=False, header=header))
    return "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, header: bool = True, file: TextIO | None = None) -> None:
    """A table on stdout: styled on a terminal, plain otherwise."""
    file = file or sys.stdout
    if file.isatty():
        Console(file=file, highlight=False, emoji=False).print(_table(columns, rows, styled=True, header=header))
    else:
        file.write(render_table(columns, rows, header=header))


def print_rows(rows: Sequence[dict], columns: Sequence[str] | None = None, *, empty: str = "(no rows)", file: TextIO | None = None) -> None:
    """JSON objects as a table, one column per key (or `columns`)."""
    file = file or sys.stdout
    if not rows:
        file.write(empty + "\n")
        return
    keys = list(columns or dict.fromkeys(k for r in rows for k in r))
    print_table(keys, [[r.get(k) for k in keys] for r in rows], file=file)
