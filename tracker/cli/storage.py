"""tracker storage grants: the least-privilege ClickHouse users, for an operator to create.

Prints, for the settings in effect (database, cluster), a settings profile and two users with
their grants (`tracker.storage.access`): an insert-only user for ingest and a read-only one for
reports. SQL for a server with SQL-managed users (run it as an admin), or `--format xml` for a
server whose users live in a users file (put it in `users.d/`). Passwords are the ones set in
`TRACKER_INGEST_PASSWORD` / `TRACKER_REPORTS_PASSWORD`, or new random ones, printed once with
the settings tracker then needs. Nothing is connected to: this only prints.
"""

from __future__ import annotations

from tracker.cli import add_data_args, settings_from
from tracker.storage import access
from tracker.storage.server_process import users_xml


def register(sub) -> None:
    p = sub.add_parser("storage", help="ClickHouse storage administration")
    s = p.add_subparsers(dest="storage_command", metavar="ACTION")
    s.required = True
    grants = s.add_parser("grants", help="print the least-privilege ClickHouse users (ingest, reports) and their grants")
    grants.add_argument("--format", choices=("sql", "xml"), default="sql", help="SQL statements (default) or a users.d XML file")
    grants.add_argument("--ingest-user", default="", help=f"ingest user name (default TRACKER_INGEST_USER or {access.DEFAULT_INGEST_USER})")
    grants.add_argument("--reports-user", default="", help=f"reports user name (default TRACKER_REPORTS_USER or {access.DEFAULT_REPORTS_USER})")
    add_data_args(grants)
    grants.set_defaults(func=run_grants)


def run_grants(args) -> int:
    settings = settings_from(args)
    generated = access.new_passwords()
    passwords = {"ingest": settings.ingest_password or generated["ingest"], "reports": settings.reports_password or generated["reports"]}
    users = {"ingest_user": args.ingest_user, "reports_user": args.reports_user}
    ingest, reports = access.roles(settings, **users)
    then = [f"TRACKER_INGEST_USER={ingest.user}", f"TRACKER_REPORTS_USER={reports.user}"]
    then += [f"TRACKER_{role.upper()}_PASSWORD={passwords[role]}" for role in ("ingest", "reports")
             if passwords[role] == generated[role]]
    if args.format == "xml":
        print(f"<!-- tracker's least-privilege users for database {settings.database}: put this file in users.d/ -->")
        print(users_xml(access.xml_users(settings, passwords, **users), default_user=False), end="")
        print(f"<!-- then run tracker with {' '.join(then)} -->")
        return 0
    where = f" on every node of cluster {settings.cluster}" if settings.cluster else ""
    print(f"-- tracker's least-privilege users for database {settings.database}{where}; run as a ClickHouse admin.")
    if settings.cluster_nodes:
        print("-- Without Keeper: run these on each node.")
    for statement in access.statements(settings, passwords, **users):
        print(statement + ";")
    print(f"-- then run tracker with {' '.join(then)}")
    return 0
