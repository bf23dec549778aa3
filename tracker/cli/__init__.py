"""`tracker` command line. Each command group is a module in this package with
`register(subparsers)`; commands that touch data go through `tracker.cli._api`, which talks to
the running server's API or, when no server holds the data dir, hosts the same app in-process."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from tracker.errors import TrackerError


class CliError(Exception):
    """A message for the user; exit status 1 (2 for usage)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracker", description="Cookie analytics and promotion tracking.")
    parser.add_argument("--data", help="data directory (default ./var, env TRACKER_DATA)")
    parser.add_argument("--dsn", help="ClickHouse DSN (default chdb:///<data>/clickhouse, env TRACKER_DSN)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    package = importlib.import_module("tracker.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"tracker.cli.{info.name}").register(sub)
    return parser


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """Every command that touches the data dir accepts --data/--dsn after its name too."""
    parser.add_argument("--data", dest="data_", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", dest="dsn_", help=argparse.SUPPRESS)


def settings_from(args: argparse.Namespace, **extra):
    from tracker.config import Settings

    data = getattr(args, "data_", None) or args.data
    dsn = getattr(args, "dsn_", None) or args.dsn
    return Settings.load({"data_dir": data, "dsn": dsn, **extra})


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"tracker: {exc}", file=sys.stderr)
        return 1
    except TrackerError as exc:
        print(f"tracker: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
