"""Request records: buffered JSONL output, the copies a run keeps, and the batches shipped to the master.

A record is encoded once (orjson when installed) into one JSONL line. The line is buffered and written
when `FLUSH_RECORDS` lines are pending or `FLUSH_S` seconds have passed since the last write (checked
on every record and every 0.25 s by `maascheck.load.run.listeners`' housekeeping greenlet), and on test stop
and quit (SIGINT and SIGTERM end in Locust's quit). A killed run therefore loses at most the last
second of records; a torn last line is skipped by `read_jsonl`. Kept and shipped copies are the
encoded lines, not dicts: bytes are not tracked by the cyclic garbage collector, so a long run does
not make collections slower.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from maascheck.core.inert import json_bytes
from maascheck.core.secrets import Redactor

try:  # optional speed-up; the stdlib codec reads and writes the same JSON
    import orjson

    _loads: Any = orjson.loads

    def encode(record: dict[str, Any]) -> bytes:
        """One JSONL line (with its newline)."""
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)

except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

    def encode(record: dict[str, Any]) -> bytes:
        """One JSONL line (with its newline)."""
        return (json.dumps(record, separators=(",", ":")) + "\n").encode()


FLUSH_RECORDS = 64
FLUSH_S = 1.0


class JsonlWriter:
    """Appends JSONL lines through a buffer flushed every `FLUSH_RECORDS` lines or `FLUSH_S` seconds."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: IO[bytes] | None = path.open("wb")
        self._pending: list[bytes] = []
        self._last = time.monotonic()

    def write_line(self, line: bytes) -> None:
        """Buffer one encoded line; write out when the buffer is full or a second has passed."""
        self._pending.append(line)
        if len(self._pending) >= FLUSH_RECORDS or time.monotonic() - self._last >= FLUSH_S:
            self.flush()

    def write(self, record: dict[str, Any]) -> None:
        """Buffer one record."""
        self.write_line(encode(record))

    def flush(self) -> None:
        """Write every buffered line to the file now."""
        self._last = time.monotonic()
        if self._fh is not None and self._pending:
            self._fh.write(b"".join(self._pending))
            self._fh.flush()
        self._pending.clear()

    def flush_if_due(self) -> None:
        """Flush when the oldest buffered line may be `FLUSH_S` old."""
        if self._pending and time.monotonic() - self._last >= FLUSH_S:
            self.flush()

    def close(self) -> None:
        """Flush and close the file (later writes are dropped)."""
        if self._fh is not None:
            self.flush()
            self._fh.close()
            self._fh = None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete record of a JSONL file (a torn last line from a killed writer is skipped)."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    return decode_lines(data.splitlines())


def decode_lines(lines: list[bytes]) -> list[dict[str, Any]]:
    """The records of encoded JSONL lines (undecodable lines skipped)."""
    out: list[dict[str, Any]] = []
    for line in lines:
        try:
            obj = _loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


class RecordSink:
    """Collects one process's records: written to its JSONL, kept for results, queued for the master."""

    def __init__(
        self, writer: JsonlWriter | None, *, keep: bool, ship: bool, redactor: Redactor | None = None
    ) -> None:
        self.writer = writer
        self.redactor = redactor
        self.keep = keep
        self.ship = ship
        self.lines: list[bytes] = []  # kept records, encoded
        self.outbox: list[bytes] = []  # encoded records not yet shipped
        self.count = 0
        self.chunks = 0

    def add(self, record: dict[str, Any]) -> None:
        """Accept one finished request, its text redacted in place first.

        Server messages can echo the key; redacting the record itself means the file, the master and the
        Locust event fired after it never see the key.
        """
        if self.redactor:
            for name, value in record.items():
                if isinstance(value, str):
                    record[name] = self.redactor.text(value)
        try:
            line = encode(record)
        except (TypeError, ValueError):  # e.g. a lone surrogate orjson refuses: the stdlib escapes it
            line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        self.add_line(json_bytes(line), record.get("events") or 0)  # no raw C1 or bidi control in the file

    def add_line(self, line: bytes, events: int = 0) -> None:
        """Accept one already encoded record."""
        if self.writer is not None:
            self.writer.write_line(line)
        if self.keep:
            self.lines.append(line)
        if self.ship:
            self.outbox.append(line)
        self.count += 1
        self.chunks += events

    @property
    def records(self) -> list[dict[str, Any]]:
        """The kept records, decoded."""
        return decode_lines(self.lines)

    def take_outbox(self) -> bytes:
        """Records not yet shipped to the master, as JSONL bytes (the outbox is emptied)."""
        out, self.outbox = self.outbox, []
        return b"".join(out)

    def flush(self) -> None:
        """Write buffered lines to the file."""
        if self.writer is not None:
            self.writer.flush()
