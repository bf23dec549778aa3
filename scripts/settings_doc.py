"""Regenerate the settings table in docs/settings.md from tracker.config (the one source).

    .venv/bin/python scripts/settings_doc.py
"""

from pathlib import Path

from tracker.config import documented_fields

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def table() -> str:
    rows = ["| setting | environment | default | what it does |", "|---|---|---|---|"]
    for name, env, help_text, default in documented_fields():
        shown = ",".join(default) if isinstance(default, tuple) else default
        rows.append(f"| `{name}` | `{env}` | `{shown}` | {help_text} |")
    return "\n".join(rows)


def main() -> None:
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
