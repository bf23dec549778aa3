"""The one exception family, and the one table from exception to HTTP status.

Everything tracker raises on purpose derives from `TrackerError`. Driver errors
(clickhouse-connect, chDB) are translated into `StorageError`/`QueryTimeout` in exactly one
place, `tracker.storage.client`. The HTTP layer turns any `TrackerError` into
`{"error": message}` with `status`; anything else becomes a 500 with no detail.
"""

from __future__ import annotations


class TrackerError(Exception):
    status = 500
    headers: dict[str, str] = {}

    def __init__(self, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if headers is not None:
            self.headers = headers


class ConfigError(TrackerError):
    """A setting or flag cannot be used."""


class BadRequest(TrackerError):
    status = 400


class Unauthorized(TrackerError):
    status = 401
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(TrackerError):
    status = 403


class NotFound(TrackerError):
    status = 404


class Conflict(TrackerError):
    status = 409


class PayloadTooLarge(TrackerError):
    status = 413


class UnsupportedMediaType(TrackerError):
    status = 415


class RateLimited(TrackerError):
    status = 429


class Unavailable(TrackerError):
    """Buffer full or storage down: the client should retry after `Retry-After`."""

    status = 503


class StorageError(TrackerError):
    """ClickHouse failed or is unreachable (message carries no SQL). `code`: ClickHouse's error
    code when it gave one."""

    status = 503
    code: int | None = None


class QueryTimeout(TrackerError):
    status = 504


class DataDirBusy(TrackerError):
    """The embedded data dir is held by another process."""

    status = 409
