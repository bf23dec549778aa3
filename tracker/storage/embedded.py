"""Opening the embedded engine without its start-up noise on fd 2."""

from __future__ import annotations

from typing import Any

from tracker.errors import DataDirBusy, StorageError


def open_quietly(open_engine) -> Any:
    """chDB's engine writes its start-up errors straight to fd 2. Catch them so a locked data dir
    becomes one clear error instead of engine noise; anything else is passed through."""
    import os
    import tempfile

    noise = ("Cannot lock file", "Another server instance")
    try:
        saved = os.dup(2)
    except OSError:
        return open_engine()
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        failure: BaseException | None = None
        try:
            return open_engine()
        except (DataDirBusy, StorageError) as exc:
            failure = exc
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            if any(n in text for n in noise) and failure is not None:
                raise DataDirBusy("the embedded data dir is held by another process") from None
            if text and not any(n in text for n in noise):
                os.write(2, text.encode())
