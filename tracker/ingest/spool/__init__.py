"""The durable spool: a 202 means the event's bytes are on disk (see `core` for how).

- `records`: the checksummed record format, and `scan`, which reads past damage;
- `quarantine`: where unreadable bytes go, counted for `/readyz`;
- `core`: the `Spool` (group commit by one sync thread, sealing, recovery, the cap and the
  disk-fault state).
"""

from tracker.ingest.spool.core import Spool, SpoolFull, SpoolUnavailable
from tracker.ingest.spool.records import HEADER, MAGIC, Scan, Segment, encode_record, read_records, scan

__all__ = ["HEADER", "MAGIC", "Scan", "Segment", "Spool", "SpoolFull", "SpoolUnavailable", "encode_record", "read_records", "scan"]
