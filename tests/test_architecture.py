"""The house rules of docs/architecture.md, checked on the source: who may import whom, and no
module over MAX_LINES. Reads the code with `ast` (nothing is imported), so a rule broken in a
module no test happens to load still fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "tracker"
MAX_LINES = 400

# The shared kit: every room may import it, and it imports nothing but itself.
KIT = frozenset({"errors", "config", "vocabulary", "http", "storage", "sites", "ratelimit", "security", "scrub"})
# Room -> the other rooms it may import (besides the kit and itself). The two wings, ingest
# and reports, import neither each other nor any room but auth (reports authorize callers).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "ingest": frozenset(),
    "orders": frozenset({"auth"}),
    "reports": frozenset({"auth"}),
    "auth": frozenset(),
    "promos": frozenset({"auth"}),
    "web": frozenset(),
    "seed": frozenset({"ingest"}),
    "privacy": frozenset({"auth", "ingest"}),
    "admin": frozenset({"auth", "ingest", "seed"}),
    "dashboard": frozenset({"auth", "reports"}),
}
# The wiring builds or runs the whole house, so it may import any room; the API description
# (openapi) reads the whole route table and every room's declarations, so it is wiring too.
WIRING = frozenset({"app", "routing", "runtime", "cli", "__main__", "__init__", "openapi"})


def room_of(module: str) -> str:
    """`tracker.ingest.spool` -> "ingest"; `tracker.http` -> "http"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts)
        found.append((name.removesuffix(".__init__"), path))
    return found


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> set[str]:
    """The tracker modules a file imports at run time (imports for type checkers only are not
    dependencies: they never execute)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking_only(node) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tracker") and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tracker")}
    return found


def test_every_room_is_known():
    rooms = {room_of(name) for name, _ in modules()}
    assert rooms <= KIT | set(MAY_IMPORT) | WIRING, rooms - (KIT | set(MAY_IMPORT) | WIRING)


@pytest.mark.parametrize("name, path", modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_follow_the_room_rules(name, path):
    room = room_of(name)
    if room in WIRING:
        return
    allowed = KIT | {room} | (frozenset() if room in KIT else MAY_IMPORT[room])
    wrong = sorted(m for m in imports(path) if m != "tracker" and room_of(m) not in allowed)
    assert not wrong, f"{name} ({room}) imports {wrong}; {room} may import {sorted(allowed)} (docs/architecture.md)"


def test_the_wings_never_import_each_other():
    for name, path in modules():
        other = {"ingest": "reports", "reports": "ingest"}.get(room_of(name))
        if other:
            assert not [m for m in imports(path) if room_of(m) == other], f"{name} imports the {other} wing"


def test_orders_share_the_scrub_and_not_the_ingest_wing():
    """`/api/orders` stores free text the shop sends through the same PII scrub as `/api/collect`,
    and reaches it in the kit, not through the ingest wing (a second copy of the rules would
    drift, and an import of ingest would tie the backend's path to the browser's)."""
    orders = [(name, path) for name, path in modules() if room_of(name) == "orders"]
    assert orders
    assert not [(name, m) for name, path in orders for m in imports(path) if room_of(m) == "ingest"]
    assert any("tracker.scrub" in imports(path) for _, path in orders)
    assert "tracker.scrub" in imports(ROOT / "ingest" / "rows.py")
    assert not (ROOT / "ingest" / "scrub.py").exists()


def test_no_module_passes_the_line_limit():
    long = {name: n for name, path in modules() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by business noun): {long}"


def test_the_checks_see_a_violation(tmp_path):
    """The import reader finds run-time imports and skips type-checking ones (a check that could
    never fail would prove nothing)."""
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nfrom tracker.reports import runner\n"
                     "if TYPE_CHECKING:\n    from tracker.runtime import Runtime\ndef f():\n    import tracker.ingest.spool\n")
    assert imports(probe) == {"tracker.reports", "tracker.ingest.spool"}
