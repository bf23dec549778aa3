"""`python -m tracker.openapi` prints the OpenAPI document; `--markdown FILE` writes docs/api.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from tracker.openapi import document
from tracker.openapi.render import markdown


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker.openapi", description=__doc__)
    parser.add_argument("--markdown", metavar="FILE", help="write the Markdown description (docs/api.md) to FILE")
    args = parser.parse_args()
    spec = document()
    if args.markdown:
        Path(args.markdown).write_text(markdown(spec))
    else:
        sys.stdout.write(orjson.dumps(spec, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
