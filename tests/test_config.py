"""Settings: one documented source of truth, typed parsing, clear errors."""

from pathlib import Path

import pytest

from tracker.config import Settings, documented_fields
from tracker.errors import ConfigError

DOC = (Path(__file__).resolve().parent.parent / "docs" / "settings.md").read_text()


@pytest.mark.parametrize(("name", "env", "help_text", "default"), documented_fields())
def test_every_setting_has_help_an_env_var_and_a_row_in_the_docs(name, env, help_text, default):
    assert help_text and env.startswith("TRACKER_")
    assert f"| `{name}` | `{env}` |" in DOC, f"{name} is not in docs/settings.md: run scripts/settings_doc.py"


def test_flags_beat_env_beat_defaults():
    s = Settings.load({"port": 9000}, env={"TRACKER_PORT": "8001", "TRACKER_HOST": "0.0.0.0", "TRACKER_SPOOL_FSYNC": "off", "TRACKER_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    assert s.port == 9000 and s.host == "0.0.0.0" and s.spool_fsync is False
    assert s.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert Settings.load(env={}).effective_dsn.startswith("chdb:///") and Settings.load(env={}).embedded


def test_bad_values_are_a_clear_config_error():
    with pytest.raises(ConfigError, match="TRACKER_PORT"):
        Settings.load(env={"TRACKER_PORT": "eighty"})
    with pytest.raises(ConfigError, match="TRACKER_RESPECT_DNT"):
        Settings.load(env={"TRACKER_RESPECT_DNT": "maybe"})


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]
