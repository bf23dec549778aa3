"""The README's tour, run as written: its shell blocks, with a non-default PORT and DATA, in
bash from the repository root, against a real `tracker serve` started as `make run` starts it
(`--data DATA --port PORT`). A tour command that stops working fails here."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import TrackerServer, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def tour_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    tour = text[text.index("## A five-minute tour"):text.index("## Commands")]
    return re.findall(r"```sh\n(.*?)```", tour, re.S)


def test_the_readme_tour_works_with_another_port_and_data_dir(tmp_path):
    if not (ROOT / ".venv" / "bin" / "tracker").exists():
        pytest.skip("the tour runs .venv/bin/tracker: make install first")
    server = TrackerServer(tmp_path / "shop-data", free_port()).start()
    try:
        printed = re.search(r"admin token.*\n  (trk_\S+)\n", server.log.read_text())
        assert printed, server.log.read_text()
        script = "\n".join(tour_blocks())
        assert "PORT=8000 DATA=./var" in script and "TOKEN=trk_..." in script
        script = script.replace("PORT=8000 DATA=./var", f"PORT={server.port} DATA={server.data}")
        script = script.replace("TOKEN=trk_...", f"TOKEN={printed.group(1)}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        assert '{"accepted":1,"rejected":[]}' in out.stdout
        assert "site shop: origins https://www.shop.example" in out.stdout and "created marketer token" in out.stdout
        assert out.stdout.count('"site":"demo"') >= 1 and "usage: tracker report funnel" in out.stdout
    finally:
        server.stop()
