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
    parser.add_argument("--data", metavar="DIR", help="data directory (default ./var, env TRACKER_DATA)")
    parser.add_argument("--dsn", metavar="DSN", help="ClickHouse DSN (default chdb:///<data>/clickhouse, env TRACKER_DSN)")
    parser.add_argument("--server", metavar="URL", help="send commands to this running tracker serve (env TRACKER_SERVER)")
    parser.add_argument("--token", metavar="TOKEN", help="admin token for --server (env TRACKER_TOKEN)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    package = importlib.import_module("tracker.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"tracker.cli.{info.name}").register(sub)
    return parser


def add_data_args(parser: argparse.ArgumentParser, *, server: bool = True) -> None:
    """Every command that touches the data accepts --data/--dsn (and, unless it is `serve`,
    --server/--token) after its name too; listed in its --help."""
    where = parser.add_argument_group("where the data is")
    where.add_argument("--data", dest="data_", metavar="DIR", help="data directory (default ./var, env TRACKER_DATA)")
    where.add_argument("--dsn", dest="dsn_", metavar="DSN", help="ClickHouse DSN (default chdb:///<data>/clickhouse, env TRACKER_DSN)")
    if server:
        where.add_argument("--server", dest="server_", metavar="URL",
                           help="a running tracker serve to send the command to, e.g. http://127.0.0.1:8000 (env TRACKER_SERVER)")
        where.add_argument("--token", dest="token_", metavar="TOKEN", help="admin token for --server (env TRACKER_TOKEN)")


def settings_from(args: argparse.Namespace, **extra):
    from tracker.config import Settings

    chosen = {name: getattr(args, f"{name}_", None) or getattr(args, name, None) for name in ("data", "dsn", "server", "token")}
    return Settings.load({"data_dir": chosen["data"], "dsn": chosen["dsn"], "server": chosen["server"], "token": chosen["token"],
                          **extra})


def main(argv: list[str] | None = None) -> int:
    # A command's own messages are its output; the in-process app's warnings (driver retries,
    # spool notices) are not the user's business: the handler, not a logger's level, filters
    # them, since libraries set their own loggers' levels (clickhouse-connect's urllib3: WARNING).
    if not logging.getLogger().handlers:  # a host that configured logging (a test) keeps its own
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger().handlers[0].setLevel(logging.ERROR)
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
