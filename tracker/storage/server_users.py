"""The users file of a chDB-served node (tracker/storage/server_process.py), and the narrowed
password-less `default` user of a node that serves only tracker's own processes.

chDB's engine is clickhouse-local, which runs every query of its own as `default` with no
password (it ignores a `user`/`password` connection option), and that includes the blocking
query that keeps a node's servers up. So `default` cannot be removed nor given a password; what
it may do is narrowed instead, in two layers (measured in tests/storage/test_default_user.py,
told in docs/security.md):

- **Grants**: `SYSTEM LISTEN` (the two `SYSTEM START LISTEN` statements) and `SELECT` on one
  table, `STOP_TABLE`, a `File` table over the node's stop fifo, which the blocking query reads
  instead of `file('<fifo>')`. Reading a `File` table needs no `READ ON FILE`, so `default` gets
  none: `file()`, `url()`, `remote()`, `s3()`, `executable()`, writing files, tracker's tables
  and DDL all end in ACCESS_DENIED (497). `READ ON FILE` cannot be narrowed to one path here
  (a grant `READ ON FILE('<regex>')` is not enough for `file()`, whatever the regex), and
  clickhouse-local ignores `<user_files_path>` (absolute paths anywhere are read), which is why
  the table is needed at all.
- **A quota** of `ENGINE_QUERIES` queries for all of `default`'s sessions together, over an
  interval of 68 years (the longest, ending in 2038): the three statements of the blocking query use them up, so anything
  that logs in as `default` afterwards is refused with QUOTA_EXCEEDED (201) before its grants
  are even looked at: `SYSTEM STOP LISTEN` (which the grant alone would allow: a denial of
  service), reading the stop table (which would steal the stop line), and any query reading
  rows (`numbers()`). Only SELECTs of constants read no table and are not counted.

The stop table is created before the node starts, by a short process of its own running as an
unrestricted `default` (no users file): see `server_process.prepare_stop_table`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

STOP_DATABASE = "_server_stop"
STOP_TABLE = f"{STOP_DATABASE}.fifo"
# What the engine's blocking query needs, and all that a narrowed `default` gets.
NARROW_DEFAULT_GRANTS = ("GRANT SYSTEM LISTEN ON *.*", f"GRANT SELECT ON {STOP_TABLE}")
# The statements of the blocking query (`SYSTEM START LISTEN HTTP`, `... TCP`, the SELECT of the
# stop table): each counts as one query of `default`'s quota. A node that does not come up after
# a chDB upgrade with "QUOTA_EXCEEDED" in its log counts more.
ENGINE_QUERIES = 3
QUOTA_SECONDS = 2**31 - 1  # the longest interval ClickHouse takes; aligned on the epoch, it ends in 2038


@dataclass(frozen=True)
class XmlUser:
    """A user of the XML users file: its password, settings profile and grants.

    `profile` holds the settings of a profile of its own (`readonly`, budgets); `constraints`
    bounds settings the user may change per query (`{"max_execution_time": {"max": "60"}}`)."""

    name: str
    password: str
    grants: tuple[str, ...]
    profile: Mapping[str, str] = field(default_factory=dict)
    constraints: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def _grants(grants: Sequence[str]) -> str:
    return "<grants>" + "".join(f"<query>{escape(g)}</query>" for g in grants) + "</grants>"


def users_xml(users: Sequence[XmlUser], *, default_user: bool = True, narrow_default: bool = False) -> str:
    """A ClickHouse users file: profiles, quotas and users with their grants. `default_user`:
    include a password-less `default` (what the nodes of a cluster log in to each other as, and
    what the engine's own blocking query runs as), loopback only; `narrow_default`: `default`
    may do no more than the engine's blocking query needs (see the module docstring), else all."""
    profiles = ["<default/>"] if default_user else []
    quota = "engine_only" if narrow_default else "default"
    quotas = "<default/>" + (
        f"<engine_only><interval><duration>{QUOTA_SECONDS}</duration><queries>{ENGINE_QUERIES}</queries>"
        "</interval></engine_only>" if narrow_default else ""
    )
    entries = [
        "<default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
        f"<profile>default</profile><quota>{quota}</quota>{_grants(NARROW_DEFAULT_GRANTS) if narrow_default else ''}</default>"
    ] if default_user else []
    for user in users:
        settings = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in user.profile.items())
        bounds = "".join(
            f"<{k}>" + "".join(f"<{b}>{escape(str(v))}</{b}>" for b, v in limits.items()) + f"</{k}>"
            for k, limits in user.constraints.items()
        )
        profiles.append(f"<{user.name}>{settings}" + (f"<constraints>{bounds}</constraints>" if bounds else "") + f"</{user.name}>")
        digest = hashlib.sha256(user.password.encode()).hexdigest()
        entries.append(
            f"<{user.name}><password_sha256_hex>{digest}</password_sha256_hex><networks><ip>::/0</ip></networks>"
            f"<profile>{user.name}</profile><quota>default</quota>{_grants(user.grants)}</{user.name}>"
        )
    return (
        "<clickhouse>\n  <profiles>" + "".join(profiles) + "</profiles>\n"
        + (f"  <quotas>{quotas}</quotas>\n" if default_user else "")
        + "  <users>\n    " + "\n    ".join(entries) + "\n  </users>\n</clickhouse>\n"
    )
