"""The shipped snippet: rebuilt from js/snippet/src and compared (stale build = failure), kept
within its 2 KiB gzipped budget, and served with the right headers."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from tracker.web.routes import SNIPPET

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "js" / "snippet"
BUDGET = 2048


def test_shipped_snippet_is_built_from_the_current_source(tmp_path):
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm are not installed")
    if not (JS / "node_modules" / "terser").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=300)
    out = tmp_path / "snippet.js"
    built = subprocess.run(["node", "build.mjs", str(out)], cwd=JS, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert out.read_bytes() == SNIPPET.read_bytes(), "tracker/web/static/snippet.js is stale: run `npm run build` in js/snippet"


def test_snippet_fits_its_budget_and_has_no_dependencies():
    shipped = SNIPPET.read_bytes()
    assert len(gzip.compress(shipped, 9)) <= BUDGET
    source = (JS / "src" / "snippet.js").read_text()
    assert "import " not in source and "require(" not in source


def test_snippet_route_headers_etag_and_gzip(client):
    plain = client.get("/snippet.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert plain.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "content-security-policy" not in plain.headers
    assert plain.content == SNIPPET.read_bytes()
    etag = plain.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')

    packed = client.get("/snippet.js", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["content-encoding"] == "gzip" and packed.headers["vary"] == "Accept-Encoding"
    assert packed.content == SNIPPET.read_bytes()  # the client inflated it
    assert int(packed.headers["content-length"]) <= BUDGET

    again = client.get("/snippet.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/snippet.js", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.head("/snippet.js").status_code == 200
    assert client.post("/snippet.js").status_code == 405
