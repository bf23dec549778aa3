"""Least privilege: the ClickHouse users tracker can run as besides the DSN's own.

- **ingest** inserts into the tables ingest writes (`events`, `dead_letters`) and nothing else:
  the spool's flusher and `tracker import` log in as it (`ingest_user`). A leaked ingest
  password cannot read a single event or drop a table.
- **reports** only reads, under a settings profile of its own: `readonly = 2` (it may send
  per-query settings, not write), and time, result-size and memory budgets it cannot raise
  beyond tracker's own. Report, listing and export queries log in as it (`reports_user`).
- The DSN's user keeps the rest: migrations, the registries (sites, tokens, promotions), the
  trust caches (their `INSERT ... SELECT`), erasure.

`tracker storage grants` prints the statements for an operator (`statements`); a server whose
users live in its XML users file gets the same grants and profile as XML (`xml_users`, which
is also how the test harness's chDB-served servers create them: clickhouse-local has no SQL
user management). Both are rendered from the one `roles` definition.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tracker.config import Settings
from tracker.storage.server_process import XmlUser

# The tables ingest writes: the only ones the ingest user may insert into.
INGEST_TABLES = ("events", "dead_letters")
DEFAULT_INGEST_USER = "tracker_ingest"
DEFAULT_REPORTS_USER = "tracker_reports"
# The reports profile's memory cap per query; an operator with larger data raises it.
REPORTS_MAX_MEMORY = 8 * 1024**3


@dataclass(frozen=True)
class Role:
    name: str  # ingest | reports
    user: str
    grants: tuple[str, ...]  # "INSERT ON `db`.`events`": GRANT <this> TO <user>
    profile: tuple[tuple[str, str], ...] = ()  # settings of the user's own profile
    bounded: tuple[str, ...] = ()  # profile settings the user may lower but never raise

    @property
    def profile_name(self) -> str:
        return self.user


def _q(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def roles(settings: Settings, *, ingest_user: str = "", reports_user: str = "") -> list[Role]:
    db = _q(settings.database)
    tables = [t for name in INGEST_TABLES for t in ((name, f"{name}_local") if settings.cluster else (name,))]
    ingest = Role(
        "ingest",
        ingest_user or settings.ingest_user or DEFAULT_INGEST_USER,
        tuple(f"INSERT ON {db}.{_q(t)}" for t in tables),
    )
    reports = Role(
        "reports",
        reports_user or settings.reports_user or DEFAULT_REPORTS_USER,
        (f"SELECT ON {db}.*",),
        profile=(
            ("readonly", "2"),
            ("max_execution_time", str(int(settings.query_timeout))),
            ("max_result_rows", str(int(settings.max_result_rows))),
            ("max_memory_usage", str(REPORTS_MAX_MEMORY)),
        ),
        bounded=("max_execution_time", "max_result_rows", "max_memory_usage"),
    )
    return [ingest, reports]


def statements(settings: Settings, passwords: dict[str, str], **users: str) -> list[str]:
    """SQL for an operator: a settings profile, the users and their grants. `passwords` maps a
    role name to its user's password."""
    on_cluster = f" ON CLUSTER {_q(settings.cluster)}" if settings.cluster and not settings.cluster_nodes else ""
    out = []
    for role in roles(settings, **users):
        profile = "default"
        if role.profile:
            values = ", ".join(f"{k} = {v}" + (f" MAX {v}" if k in role.bounded else "") for k, v in role.profile)
            out.append(f"CREATE SETTINGS PROFILE IF NOT EXISTS {_q(role.profile_name)}{on_cluster} SETTINGS {values}")
            profile = role.profile_name
        password = passwords[role.name].replace("\\", "\\\\").replace("'", "\\'")
        out.append(f"CREATE USER IF NOT EXISTS {_q(role.user)}{on_cluster} IDENTIFIED WITH sha256_password BY '{password}'"
                   f" SETTINGS PROFILE '{profile}'")
        out.extend(f"GRANT{on_cluster} {grant} TO {_q(role.user)}" for grant in role.grants)
    return out


def xml_users(settings: Settings, passwords: dict[str, str], **users: str) -> list[XmlUser]:
    """The same users for a server's XML users file (see `server_process.XmlUser`)."""
    return [
        XmlUser(
            name=role.user,
            password=passwords[role.name],
            grants=tuple(f"GRANT {grant}" for grant in role.grants),
            profile=dict(role.profile),
            constraints={k: {"max": v} for k, v in role.profile if k in role.bounded},
        )
        for role in roles(settings, **users)
    ]


def new_passwords() -> dict[str, str]:
    return {"ingest": secrets.token_urlsafe(24), "reports": secrets.token_urlsafe(24)}
